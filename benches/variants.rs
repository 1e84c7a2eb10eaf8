//! The work every benchmark measures, written each way it is compared: no tracing, tracebound,
//! OpenTelemetry by hand, `tracing::instrument` with tracing-opentelemetry, and fastrace. Shared
//! by `task.rs` (criterion) and `ratios.rs` (interleaved rounds, instruction counts), so that
//! both measure the same code.

#![allow(dead_code)] // each bench target uses its own subset

use opentelemetry::Context;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{
    FutureExt, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer, TracerProvider as _,
};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::sync::LazyLock;
use std::task::{Context as TaskContext, Poll, Waker};
use tracing_subscriber::layer::SubscriberExt;

/// Receives every span and drops it.
#[derive(Debug)]
pub struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// The SDK provider every OpenTelemetry variant reports to: simple processor, discarding
/// exporter, default sampler (parent-based, always on).
pub static PROVIDER: LazyLock<SdkTracerProvider> = LazyLock::new(|| {
    SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build()
});

/// The same provider's tracer without the global indirection.
pub static SDK_TRACER: LazyLock<SdkTracer> = LazyLock::new(|| PROVIDER.tracer("bench"));

/// Installs the provider as applications using tracebound do (`init`, `Setup`, or this).
pub fn install() {
    tracebound::set_tracer_provider(PROVIDER.clone());
}

/// Installs the provider with OpenTelemetry's own function: tracebound then builds spans with
/// the boxed global tracer, as hand-written code using `global::tracer` does.
pub fn install_with_global() {
    global::set_tracer_provider(PROVIDER.clone());
    tracebound::refresh_provider();
}

/// No provider at all: OpenTelemetry's no-op one.
pub fn uninstall() {
    global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
    tracebound::refresh_provider();
}

/// What hand-written code typically holds: a tracer from the global provider, made once.
pub fn global_tracer() -> BoxedTracer {
    global::tracer("bench")
}

/// Installs the tracing subscriber with tracing-opentelemetry's default layer, and fastrace's
/// discarding reporter. Once per process.
pub fn install_peers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(PROVIDER.tracer("bench-tracing")));
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        fastrace::set_reporter(DiscardReporter, fastrace::collector::Config::default());
    });
}

struct DiscardReporter;

impl fastrace::collector::Reporter for DiscardReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

/// The parent every call is made under: a span of the SDK (sampled), or a remote span context
/// whose sampled flag is off (the default sampler then drops the child too).
pub fn parent(sampled: bool) -> Context {
    if sampled {
        Context::current_with_span(SDK_TRACER.start("parent"))
    } else {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::default(),
            true,
            TraceState::NONE,
        ))
    }
}

/// Polls `future` once with a no-op waker; the measured bodies complete in that poll.
pub fn poll_once<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut TaskContext::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the benchmarked bodies complete in one poll"),
    }
}

pub async fn bare(x: u64) -> u64 {
    black_box(x) + 1
}

#[tracebound::traced_task]
pub async fn tracebound_task(x: u64) -> u64 {
    black_box(x) + 1
}

/// `Context::current()`, `start_with_context`, `with_context`: the span ends when the future
/// (the last clone of its context) is dropped.
pub fn hand_written<T: Tracer>(tracer: &T, x: u64) -> impl Future<Output = u64> + use<T>
where
    T::Span: Send + Sync + 'static,
{
    let cx = Context::current();
    let span = tracer.start_with_context("hand_written", &cx);
    let cx = cx.with_span(span);
    async move { black_box(x) + 1 }.with_context(cx)
}

pin_project_lite::pin_project! {
    /// Attaches its context on every poll and ends its span when the body completes.
    pub struct EndOnCompletion<F> {
        cx: Context,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for EndOnCompletion<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = this.cx.clone().attach();
        let poll = this.future.poll(task);
        if poll.is_ready() {
            this.cx.span().end();
        }
        poll
    }
}

/// The job `#[traced_task]` does, by hand: as [`hand_written`], and the span ends when the
/// body completes, even while a clone of its context lives on (a spawned child, say).
pub fn hand_written_same_job<T: Tracer>(tracer: &T, x: u64) -> impl Future<Output = u64> + use<T>
where
    T::Span: Send + Sync + 'static,
{
    let cx = Context::current();
    let span = tracer.start_with_context("hand_written", &cx);
    EndOnCompletion {
        cx: cx.with_span(span),
        future: async move { black_box(x) + 1 },
    }
}

#[tracing::instrument(skip_all)]
pub async fn tracing_instrument(x: u64) -> u64 {
    black_box(x) + 1
}

/// [`tracebound_task`] logging one event, which the tracing bridge records on its span.
#[tracebound::traced_task]
pub async fn tracebound_task_event(x: u64) -> u64 {
    tracing::info!(x, "handled");
    black_box(x) + 1
}

/// [`tracing_instrument`] logging the same event, which tracing-opentelemetry records on its
/// span.
#[tracing::instrument(skip_all)]
pub async fn tracing_instrument_event(x: u64) -> u64 {
    tracing::info!(x, "handled");
    black_box(x) + 1
}

/// A subscriber with tracing-opentelemetry's default layer on [`PROVIDER`], and with
/// `bridge`, tracebound's tracing bridge (`tracebound::tracing::otel` around that layer, and
/// `tracebound::tracing::layer()`).
pub fn tracing_dispatch(bridge: bool) -> tracing::Dispatch {
    let otel = tracing_opentelemetry::layer().with_tracer(PROVIDER.tracer("bench-tracing"));
    if bridge {
        tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(tracebound::tracing::otel(otel))
                .with(tracebound::tracing::layer()),
        )
    } else {
        tracing::Dispatch::new(tracing_subscriber::registry().with(otel))
    }
}

#[fastrace::trace]
pub async fn fastrace_trace(x: u64) -> u64 {
    black_box(x) + 1
}

/// A body with 256 bytes of state across an await, as real tasks have.
pub async fn stateful(x: u64) -> u64 {
    let state = [x as u8; 256];
    tokio::task::yield_now().await;
    u64::from(black_box(&state)[0])
}

pub type Headers = HashMap<String, String>;

/// A carrier holding a sampled `traceparent`.
pub static HEADERS: LazyLock<Headers> = LazyLock::new(|| {
    Headers::from([(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    )])
});

#[tracebound::traced_consumer(carrier = headers, system = "rabbitmq", destination = "orders")]
pub async fn tracebound_consumer(headers: &Headers, x: u64) -> u64 {
    black_box(x) + 1
}

/// The same job as tracebound's default: W3C trace context and baggage.
pub static SDK_PROPAGATOR: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
    TextMapCompositePropagator::new(vec![
        Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
        Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
    ])
});

/// Extract with the SDK's propagators, start a CONSUMER span with the messaging attributes
/// tracebound sets, poll the body in its context.
pub fn hand_written_consumer(
    tracer: &BoxedTracer,
    headers: &Headers,
    x: u64,
) -> impl Future<Output = u64> + use<> {
    let remote = SDK_PROPAGATOR.extract(headers);
    let span = tracer
        .span_builder("process orders")
        .with_kind(SpanKind::Consumer)
        .with_attributes([
            opentelemetry::KeyValue::new("messaging.system", "rabbitmq"),
            opentelemetry::KeyValue::new("messaging.destination.name", "orders"),
            opentelemetry::KeyValue::new("messaging.operation.name", "process"),
            opentelemetry::KeyValue::new("messaging.operation.type", "process"),
        ])
        .start_with_context(tracer, &remote);
    let cx = remote.with_span(span);
    async move { black_box(x) + 1 }.with_context(cx)
}

/// 100 × (spawn + await) on `runtime`; `spawn` is `|i| tokio::spawn(bare(i))` or the same
/// with `tracebound::spawn`.
pub fn spawn_100<J>(runtime: &tokio::runtime::Runtime, spawn: impl Fn(u64) -> J) -> u64
where
    J: Future<Output = Result<u64, tokio::task::JoinError>>,
{
    runtime.block_on(async {
        let mut sum = 0;
        for i in 0..100 {
            sum += spawn(i).await.unwrap();
        }
        sum
    })
}

/// 100 blocking jobs at once on the pool, then awaited.
pub fn spawn_blocking_100<J>(runtime: &tokio::runtime::Runtime, spawn: impl Fn(u64) -> J) -> u64
where
    J: Future<Output = Result<u64, tokio::task::JoinError>>,
{
    runtime.block_on(async {
        let jobs: Vec<_> = (0..100).map(&spawn).collect();
        let mut sum = 0;
        for job in jobs {
            sum += job.await.unwrap();
        }
        sum
    })
}
