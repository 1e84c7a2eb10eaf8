//! A child process for `tests/setup.rs`: `tracebound::init()` from its environment, `CHILD_SPANS`
//! traced calls under one root, then a normal exit that drops the guard.

use opentelemetry::trace::{FutureExt, TraceContextExt, Tracer};
use opentelemetry::{Context, global};

#[tracebound::traced_task(fields(i = i))]
async fn step(i: usize) -> usize {
    i
}

fn main() {
    let guard = tracebound::init().expect("a valid OTEL_* environment");
    let spans: usize = std::env::var("CHILD_SPANS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let root = Context::current_with_span(global::tracer("batch-child").start("batch-root"));
    runtime.block_on(
        async {
            for i in 0..spans {
                step(i).await;
            }
        }
        .with_context(root.clone()),
    );
    root.span().end();
    drop(guard);
}
