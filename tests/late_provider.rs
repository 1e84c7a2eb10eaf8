//! Providers installed after traced functions already ran, and the no-provider path. Alone in
//! its binary: it swaps the global provider, which would disturb other tests.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::global;
use opentelemetry::trace::noop::NoopTracerProvider;
use opentelemetry::trace::{
    FutureExt, Span, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
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

/// What a traced call made under `cx` sees, when its future is polled under a context that
/// holds the baggage `polled=yes`.
fn seen_under(runtime: &tokio::runtime::Runtime, cx: Context) -> (bool, bool, bool) {
    let future = tracebound::with_context(cx, observed);
    let poller = Context::new().with_baggage([KeyValue::new("polled", "yes")]);
    runtime.block_on(future.with_context(poller))
}

/// Whether the body sees: the poller's baggage, a valid span, suppressed telemetry.
#[traced_task]
async fn observed() -> (bool, bool, bool) {
    Context::map_current(|cx| {
        (
            cx.baggage().get("polled").is_some(),
            cx.span().span_context().is_valid(),
            cx.is_telemetry_suppressed(),
        )
    })
}

fn no_provider_carries_only_what_continues_a_trace(runtime: &tokio::runtime::Runtime) {
    let noop_span = global::tracer("late-provider-tests").start("no-op");
    assert!(!noop_span.span_context().is_valid());
    let invalid = Context::new().with_span(noop_span);
    assert_eq!(seen_under(runtime, invalid), (true, false, false));
    let remote = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(1),
        SpanId::from(2),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    ));
    assert_eq!(seen_under(runtime, remote), (false, true, false));
    let suppressed = Context::new().with_telemetry_suppressed();
    assert_eq!(seen_under(runtime, suppressed), (false, false, true));
    let baggage = Context::new().with_baggage([KeyValue::new("tenant", "acme")]);
    assert_eq!(seen_under(runtime, baggage), (false, false, false));
}

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

    // A span from the no-op tracer (what an application makes with no provider) continues no
    // trace: a call made under it carries nothing, and its future runs in whatever context
    // polls it. Baggage, suppressed telemetry and a valid remote span are carried.
    no_provider_carries_only_what_continues_a_trace(&runtime);

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
