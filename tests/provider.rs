//! How traced functions use the provider they find: the SDK's own tracer when the provider was
//! installed with `tracebound::set_tracer_provider`, the boxed global tracer otherwise, the same
//! trace either way; spans the sampler drops or records without sampling; a no-op provider
//! detected without being fooled by suppressed telemetry. Alone in its binary: it swaps the
//! global provider, and its tests take turns.

use opentelemetry::global;
use opentelemetry::trace::{
    FutureExt, Link, Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags,
    TraceId, TraceState, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample, SpanData, SpanProcessor,
};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracebound::testing::{self, TraceTree};
use tracebound::traced_task;
use tracebound_tests::exclusive;

/// Runs `future` to completion on this thread, whose tracer cache the tests inspect.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[derive(Debug)]
struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("declined")
    }
}

#[traced_task]
async fn checkout(fail: bool) -> Result<u32, Declined> {
    let charged = tokio::spawn(charge()).await.unwrap();
    if fail { Err(Declined) } else { Ok(charged) }
}

#[traced_task]
async fn charge() -> u32 {
    tokio::task::yield_now().await;
    7
}

#[traced_task]
async fn leaf() {}

/// `checkout(true)` under a root span named `root`, on a multi-thread runtime; the trace.
fn checkout_trace(root: &'static str) -> TraceTree {
    let runtime = tracebound_tests::runtime(2);
    let span = global::tracer("tracebound-tests").start(root);
    let cx = Context::current_with_span(span);
    let result = runtime.block_on(async { checkout(true).await }.with_context(cx.clone()));
    assert!(result.is_err());
    cx.span().end();
    testing::recorder().trace_of(root)
}

fn recording_provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_span_processor(testing::recorder().processor())
        .build()
}

/// The recording provider installed behind tracebound's back (the boxed global tracer), then
/// with tracebound (the SDK's own tracer).
fn both_installations() -> [fn(); 2] {
    [install_with_global, || {
        tracebound::set_tracer_provider(recording_provider())
    }]
}

fn install_with_global() {
    global::set_tracer_provider(recording_provider());
    tracebound::refresh_provider();
}

fn assert_checkout(tree: &TraceTree, root: &str) {
    tree.assert_single_trace();
    tree.assert_parent("checkout", root);
    tree.assert_parent("charge", "checkout");
    let checkout = tree.span("checkout");
    assert_eq!(checkout.status, Status::error("declined"));
    assert_eq!(checkout.span_kind, SpanKind::Internal);
    assert_eq!(checkout.instrumentation_scope.name(), "tracebound-tests");
}

#[test]
fn both_ways_of_installing_a_provider_record_the_same_trace() {
    let _turn = exclusive();

    // Installed behind tracebound's back: the boxed global tracer.
    install_with_global();
    assert_eq!(tracebound::inspect::tracer_kind(), "boxed");
    assert_checkout(
        &checkout_trace("installed-with-global"),
        "installed-with-global",
    );

    // Installed with tracebound: the SDK's own tracer.
    tracebound::set_tracer_provider(recording_provider());
    assert_eq!(tracebound::inspect::tracer_kind(), "sdk");
    assert_checkout(
        &checkout_trace("installed-with-tracebound"),
        "installed-with-tracebound",
    );

    // Hand-written code keeps using the global provider as usual.
    let recorder = testing::recorder();
    global::tracer("hand-written")
        .start("hand-written-span")
        .end();
    assert_eq!(recorder.tree().all("hand-written-span").len(), 1);

    // No provider.
    global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
    tracebound::refresh_provider();
    block_on(leaf());
    assert_eq!(tracebound::inspect::tracer_kind(), "noop");
}

#[test]
fn a_provider_recording_into_the_recorder_keeps_its_spans_when_shut_down() {
    let _turn = exclusive();
    let recorder = testing::recorder();
    let provider = recording_provider();
    provider
        .tracer("tracebound-tests")
        .start("before-shutdown")
        .end();
    provider.shutdown().unwrap();
    assert_eq!(recorder.tree().all("before-shutdown").len(), 1);
}

#[test]
fn a_call_with_telemetry_suppressed_does_not_turn_tracing_off() {
    let _turn = exclusive();
    let recorder = testing::recorder();
    for install in both_installations() {
        install();
        recorder.reset();
        {
            // The SDK answers a suppressed parent with an invalid span context, as a no-op
            // tracer answers an invalid one: that must not be taken for "no provider".
            let _suppressed = Context::enter_telemetry_suppressed_scope();
            block_on(leaf());
        }
        assert!(
            recorder.spans().is_empty(),
            "suppressed calls record nothing"
        );
        block_on(leaf());
        assert_eq!(recorder.tree().all("leaf").len(), 1, "tracing is still on");
        assert_ne!(tracebound::inspect::tracer_kind(), "noop");
    }
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn unsampled_remote(trace_state: TraceState) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex(TRACE).unwrap(),
        SpanId::from_hex(PARENT).unwrap(),
        TraceFlags::default(),
        true,
        trace_state,
    ))
}

type Headers = HashMap<String, String>;

/// What the body of a traced call sees of its span, and what it sends on.
#[traced_task]
async fn forward() -> (SpanContext, bool, Headers) {
    let cx = Context::current();
    let mut headers = Headers::new();
    tracebound::propagation::inject(&mut headers);
    (
        cx.span().span_context().clone(),
        cx.span().is_recording(),
        headers,
    )
}

#[test]
fn spans_the_sampler_drops_still_parent_what_the_body_does() {
    let _turn = exclusive();
    let recorder = testing::recorder();
    for install in both_installations() {
        install();
        recorder.reset();
        for trace_state in [
            TraceState::NONE,
            TraceState::from_key_value([("vendor", "x")]).unwrap(),
        ] {
            let _parent = tracebound::attach(unsampled_remote(trace_state.clone()));
            let (sc, recording, headers) = block_on(forward());
            assert!(!recording);
            assert!(sc.is_valid() && !sc.is_sampled() && !sc.is_remote());
            assert_eq!(sc.trace_id().to_string(), TRACE);
            assert_ne!(sc.span_id().to_string(), PARENT, "a span of its own");
            assert_eq!(sc.trace_state(), &trace_state);
            assert_eq!(
                headers["traceparent"],
                format!("00-{TRACE}-{}-00", sc.span_id())
            );
            assert_eq!(
                headers.get("tracestate").map(String::as_str).unwrap_or(""),
                trace_state.header()
            );
        }
        assert!(
            recorder.spans().is_empty(),
            "nothing sampled, nothing exported"
        );
    }
}

/// Records every span that ends, sampled or not.
#[derive(Debug, Clone, Default)]
struct Ended(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Ended {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Records every span without sampling it.
#[derive(Debug, Clone)]
struct RecordOnly;

impl ShouldSample for RecordOnly {
    fn should_sample(
        &self,
        _parent: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        SamplingResult {
            decision: SamplingDecision::RecordOnly,
            attributes: Vec::new(),
            trace_state: TraceState::NONE,
        }
    }
}

/// Fails, leaving behind a task that holds the call's context for a while.
#[traced_task]
async fn fail_and_leave(release: tokio::sync::oneshot::Receiver<()>) -> Result<(), Declined> {
    tracebound::spawn(async move {
        let _ = release.await;
    });
    Err(Declined)
}

#[test]
fn spans_recorded_without_sampling_are_ended_and_marked_like_sampled_ones() {
    let _turn = exclusive();
    let ended = Ended::default();
    tracebound::set_tracer_provider(
        SdkTracerProvider::builder()
            .with_sampler(RecordOnly)
            .with_span_processor(ended.clone())
            .build(),
    );
    let runtime = tracebound_tests::runtime(2);
    let (release, wait) = tokio::sync::oneshot::channel();
    assert!(runtime.block_on(fail_and_leave(wait)).is_err());
    {
        // Ended when the call completed, although the spawned task still holds its context.
        let spans = ended.0.lock().unwrap();
        let span = spans
            .iter()
            .find(|s| s.name == "fail_and_leave")
            .expect("ended at completion");
        assert!(!span.span_context.is_sampled());
        assert_eq!(span.status, Status::error("declined"));
        assert!(span.events.iter().any(|e| e.name == "exception"));
    }
    release.send(()).unwrap();
    testing::install();
}

#[traced_task]
async fn suppressed() -> bool {
    Context::is_current_telemetry_suppressed()
}

static EVALUATED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn evaluated() -> u64 {
    EVALUATED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    1
}

#[traced_task(fields(n = evaluated()))]
async fn with_fields() {}

#[test]
fn with_no_provider_calls_carry_what_arrived_and_build_nothing() {
    use opentelemetry::baggage::BaggageExt;
    let _turn = exclusive();
    global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
    tracebound::refresh_provider();
    let runtime = tracebound_tests::runtime(2);
    let sampled = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex(TRACE).unwrap(),
        SpanId::from_hex(PARENT).unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    ));
    let arrived = sampled.with_baggage([KeyValue::new("tenant", "acme")]);

    // A context that arrived (a remote span, baggage) is carried into a spawned call, which
    // passes it on unchanged.
    let call = {
        let _arrived = tracebound::attach(arrived.clone());
        forward()
    };
    let (sc, recording, headers) = runtime.block_on(async { tokio::spawn(call).await.unwrap() });
    assert_eq!(sc.span_id().to_string(), PARENT);
    assert!(!recording);
    assert_eq!(headers["traceparent"], format!("00-{TRACE}-{PARENT}-01"));
    assert_eq!(headers["baggage"], "tenant=acme");

    // So is baggage alone, and suppressed telemetry.
    let call = {
        let _baggage =
            tracebound::attach(Context::new().with_baggage([KeyValue::new("tenant", "acme")]));
        forward()
    };
    let (_, _, headers) = runtime.block_on(async { tokio::spawn(call).await.unwrap() });
    assert_eq!(headers["baggage"], "tenant=acme");
    assert!(!headers.contains_key("traceparent"));
    let call = {
        let _suppressed = Context::enter_telemetry_suppressed_scope();
        suppressed()
    };
    assert!(runtime.block_on(async { tokio::spawn(call).await.unwrap() }));

    // A call made outside any trace carries nothing and builds nothing: no span, no field
    // evaluated. Its future runs in the context of whatever polls it.
    let before = EVALUATED.load(std::sync::atomic::Ordering::SeqCst);
    block_on(with_fields());
    assert_eq!(EVALUATED.load(std::sync::atomic::Ordering::SeqCst), before);
    let call = forward();
    let (_, _, headers) = block_on(call.with_context(arrived));
    assert_eq!(headers["traceparent"], format!("00-{TRACE}-{PARENT}-01"));

    // A provider installed later switches tracing on for the next call.
    tracebound::set_tracer_provider(recording_provider());
    let recorder = testing::recorder();
    recorder.reset();
    block_on(with_fields());
    assert_eq!(recorder.tree().all("with_fields").len(), 1);
    assert_eq!(
        EVALUATED.load(std::sync::atomic::Ordering::SeqCst),
        before + 1
    );
}
