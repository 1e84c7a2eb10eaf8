use tracebound::traced_task;

#[traced_task]
fn compute(x: u32) -> u32 {
    x * 2
}

#[traced_task]
fn nothing() {}

fn main() {
    // The function is still emitted, so its callers type-check.
    let _: u32 = compute(2);
}
