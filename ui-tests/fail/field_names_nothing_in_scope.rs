use tracebound::traced_task;

// The shorthand `fields(id)` records a parameter or variable named `id`.
#[traced_task(fields(id))]
async fn handler(user: u64) {
    let _ = user;
}

fn main() {}
