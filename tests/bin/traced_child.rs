//! A child process for `tests/subprocess.rs`: continues the trace its parent passed in the
//! environment, runs traced work, and prints its finished spans as lines on stdout.

use tracebound::env::Environment;
use tracebound::{traced_consumer, traced_task};

#[traced_consumer(carrier = env, kind = server, name = "child worker")]
async fn worker(env: &Environment) -> bool {
    crunch().await;
    opentelemetry::baggage::BaggageExt::baggage(&opentelemetry::Context::current())
        .get("job")
        .is_some()
}

#[traced_task]
async fn crunch() {
    tokio::task::yield_now().await;
}

fn main() {
    let recorder = tracebound::testing::install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let had_baggage = runtime.block_on(worker(tracebound::env::vars()));
    println!("baggage\t{had_baggage}");
    print!("{}", recorder.tree().to_lines());
}
