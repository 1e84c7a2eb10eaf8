use tracebound::traced_task;

#[traced_task(nmae = "handler")]
async fn handler() {}

#[traced_task(skipall)]
async fn other() {}

fn main() {
    let _ = handler();
}
