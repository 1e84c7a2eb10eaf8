//! Providers installed after traced functions already ran, and the no-provider path. Alone in
//! its binary: it swaps the global provider, which would disturb other tests.

use opentelemetry::global;
use opentelemetry::trace::noop::NoopTracerProvider;
use std::collections::HashMap;
use tracebound::{traced_consumer, traced_producer, traced_task};
use tracebound_tests::traced;

#[traced_task(name = "late-provider")]
async fn late() {}

#[traced_task(name = "external-provider")]
async fn external() {}

type Headers = HashMap<String, String>;

#[traced_consumer(carrier = incoming)]
async fn relay(incoming: Headers, outgoing: &mut Headers) {
    forward(outgoing).await;
}

#[traced_producer(carrier = headers)]
async fn forward(headers: &mut Headers) {}

#[test]
fn no_provider_late_installs_and_pass_through() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    // With no provider, a context that arrived from elsewhere still passes through.
    global::set_tracer_provider(NoopTracerProvider::new());
    tracebound::refresh_provider();
    let upstream = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut outgoing = Headers::new();
    runtime.block_on(relay(
        Headers::from([("traceparent".into(), upstream.into())]),
        &mut outgoing,
    ));
    assert_eq!(
        outgoing.get("traceparent").map(String::as_str),
        Some(upstream)
    );

    // A scope that cached the no-op tracer picks up tracebound's installer at once.
    runtime.block_on(late());
    let recorder = tracebound::testing::install();
    assert!(recorder.spans().is_empty());
    runtime.block_on(traced("late-provider-root", async { late().await }));
    recorder
        .trace_of("late-provider-root")
        .assert_parent("late-provider", "late-provider-root");

    // A provider installed behind tracebound's back is picked up within RECHECK_EVERY calls,
    // at once after `refresh_provider`.
    global::set_tracer_provider(NoopTracerProvider::new());
    tracebound::refresh_provider();
    runtime.block_on(external()); // caches the no-op tracer again
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(recorder.processor())
        .build();
    global::set_tracer_provider(provider);
    recorder.reset();
    let window = tracebound::inspect::RECHECK_EVERY as usize + 1;
    for _ in 0..window {
        runtime.block_on(external());
    }
    let recorded = recorder.tree().all("external-provider").len();
    assert!(
        recorded >= 1 && recorded <= window,
        "picked up within the window: {recorded}"
    );
    recorder.reset();
    tracebound::refresh_provider();
    runtime.block_on(external());
    assert_eq!(recorder.tree().all("external-provider").len(), 1);
}
