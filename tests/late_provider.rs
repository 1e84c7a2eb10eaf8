//! A provider installed after a traced function has already run receives its later spans.
//! Alone in its binary: it swaps the global provider, which would disturb other tests.

use opentelemetry::global;
use opentelemetry::trace::noop::NoopTracerProvider;
use tracebound::traced_task;
use tracebound_tests::traced;

#[traced_task(name = "late-provider")]
async fn late() {}

#[test]
fn a_tracer_cached_from_an_earlier_provider_is_replaced() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    global::set_tracer_provider(NoopTracerProvider::new());
    // Caches a tracer of the no-op provider for `late`'s scope on this thread.
    runtime.block_on(late());

    let recorder = tracebound::testing::install();
    assert!(recorder.spans().is_empty());
    runtime.block_on(traced("late-provider-root", async { late().await }));
    recorder
        .trace_of("late-provider-root")
        .assert_parent("late-provider", "late-provider-root");
}
