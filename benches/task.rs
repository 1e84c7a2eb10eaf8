//! Per-call cost of tracing a trivial async fn inside a sampled parent, the same work five ways,
//! measured in one run: no tracing, tracebound, OpenTelemetry by hand, `tracing::instrument`
//! with tracing-opentelemetry, and fastrace. Every OpenTelemetry variant goes to the same SDK
//! provider (simple processor, an exporter that discards).
//!
//! Each iteration creates the future and polls it once with a no-op waker; the trivial body
//! completes in that poll, so the figure is the cost of the call, the span and the poll.
//!
//! `cargo bench -p tracebound-benches --bench task`

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::Context;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{FutureExt, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context as TaskContext, Poll, Waker};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

static PROVIDER: LazyLock<SdkTracerProvider> = LazyLock::new(|| {
    SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build()
});

/// What hand-written code typically holds: a tracer from the global provider, made once.
static GLOBAL_TRACER: LazyLock<BoxedTracer> = LazyLock::new(|| global::tracer("bench"));

/// The same provider's tracer without the global indirection.
static SDK_TRACER: LazyLock<SdkTracer> = LazyLock::new(|| PROVIDER.tracer("bench"));

fn poll_once<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut TaskContext::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the benchmarked bodies complete in one poll"),
    }
}

async fn bare(x: u64) -> u64 {
    black_box(x) + 1
}

#[tracebound::traced_task]
async fn tracebound_task(x: u64) -> u64 {
    black_box(x) + 1
}

fn hand_written<T: Tracer>(tracer: &T, x: u64) -> impl Future<Output = u64> + use<T>
where
    T::Span: Send + Sync + 'static,
{
    let cx = Context::current();
    let span = tracer.start_with_context("hand_written", &cx);
    let cx = cx.with_span(span);
    async move { black_box(x) + 1 }.with_context(cx)
}

#[tracing::instrument(skip_all)]
async fn tracing_instrument(x: u64) -> u64 {
    black_box(x) + 1
}

#[fastrace::trace]
async fn fastrace_trace(x: u64) -> u64 {
    black_box(x) + 1
}

struct DiscardReporter;

impl fastrace::collector::Reporter for DiscardReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

fn inline_sampled(c: &mut Criterion) {
    global::set_tracer_provider(PROVIDER.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(PROVIDER.tracer("bench-tracing")));
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    fastrace::set_reporter(DiscardReporter, fastrace::collector::Config::default());

    let parent = Context::current_with_span(SDK_TRACER.start("parent"));
    let _parent = tracebound::attach(parent);

    let mut group = c.benchmark_group("inline_sampled");
    group.bench_function("bare", |b| b.iter(|| poll_once(bare(1))));
    group.bench_function("tracebound", |b| b.iter(|| poll_once(tracebound_task(1))));
    group.bench_function("hand_written_global_tracer", |b| {
        b.iter(|| poll_once(hand_written(&*GLOBAL_TRACER, 1)))
    });
    group.bench_function("hand_written_sdk_tracer", |b| {
        b.iter(|| poll_once(hand_written(&*SDK_TRACER, 1)))
    });
    group.bench_function("tracing_instrument_otel", |b| {
        let span = tracing::info_span!("parent");
        let _entered = span.enter();
        b.iter(|| poll_once(tracing_instrument(1)))
    });
    group.bench_function("fastrace", |b| {
        let root = fastrace::Span::root("parent", fastrace::prelude::SpanContext::random());
        let _local = root.set_local_parent();
        b.iter(|| poll_once(fastrace_trace(1)))
    });
    group.finish();
}

criterion_group!(benches, inline_sampled);
criterion_main!(benches, parts);

fn components(c: &mut Criterion) {
    let mut group = c.benchmark_group("components");
    group.bench_function("global_tracer_provider", |b| {
        b.iter(|| black_box(global::tracer_provider()))
    });
    let cx = Context::current_with_span(SDK_TRACER.start("x"));
    group.bench_function("span_ref_set_attribute", |b| {
        b.iter(|| {
            cx.span()
                .set_attribute(opentelemetry::KeyValue::new("k", 1))
        })
    });
    group.finish();
}

criterion_group!(parts, components);
