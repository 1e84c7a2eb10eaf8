use opentelemetry::Context;
use tracebound::traced_task;

async fn tick() {}

#[traced_task]
async fn handler() {
    let _token = tracebound::attach(Context::current());
    tick().await;
}

fn main() {}
