//! Per-call cost of tracing, the same work written several ways and measured in one run:
//! no tracing, tracebound, OpenTelemetry by hand, `tracing::instrument` with
//! tracing-opentelemetry, and fastrace. Every OpenTelemetry variant goes to the same SDK
//! provider (simple processor, an exporter that discards).
//!
//! Inline calls create the future and poll it once with a no-op waker (the trivial bodies
//! complete in that poll), so a figure is the cost of the call, the span and the poll.
//!
//! `cargo bench -p tracebound-benches --bench task`; `scripts/bench-report` turns the results
//! into BENCHMARKS.md's table and chart.

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::Context;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    FutureExt, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer, TracerProvider as _,
};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use std::collections::HashMap;
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
fn global_tracer() -> BoxedTracer {
    global::tracer("bench")
}

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

fn parent(sampled: bool) -> Context {
    if sampled {
        Context::current_with_span(SDK_TRACER.start("parent"))
    } else {
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::default(),
            true,
            TraceState::NONE,
        );
        Context::new().with_remote_span_context(sc)
    }
}

fn inline_sampled(c: &mut Criterion) {
    global::set_tracer_provider(PROVIDER.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(PROVIDER.tracer("bench-tracing")));
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    fastrace::set_reporter(DiscardReporter, fastrace::collector::Config::default());

    let _parent = tracebound::attach(parent(true));
    let tracer = global_tracer();
    let mut group = c.benchmark_group("inline_sampled");
    group.bench_function("bare", |b| b.iter(|| poll_once(bare(1))));
    group.bench_function("tracebound", |b| b.iter(|| poll_once(tracebound_task(1))));
    group.bench_function("hand_written", |b| {
        b.iter(|| poll_once(hand_written(&tracer, 1)))
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

fn inline_unsampled(c: &mut Criterion) {
    global::set_tracer_provider(PROVIDER.clone());
    let _parent = tracebound::attach(parent(false));
    let tracer = global_tracer();
    let mut group = c.benchmark_group("inline_unsampled");
    group.bench_function("bare", |b| b.iter(|| poll_once(bare(1))));
    group.bench_function("tracebound", |b| b.iter(|| poll_once(tracebound_task(1))));
    group.bench_function("hand_written", |b| {
        b.iter(|| poll_once(hand_written(&tracer, 1)))
    });
    group.finish();
}

fn no_provider(c: &mut Criterion) {
    global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
    let tracer = global_tracer();
    let mut group = c.benchmark_group("no_provider");
    group.bench_function("bare", |b| b.iter(|| poll_once(bare(1))));
    group.bench_function("tracebound", |b| b.iter(|| poll_once(tracebound_task(1))));
    group.bench_function("hand_written", |b| {
        b.iter(|| poll_once(hand_written(&tracer, 1)))
    });
    group.finish();
    global::set_tracer_provider(PROVIDER.clone());
}

type Headers = HashMap<String, String>;

#[tracebound::traced_consumer(carrier = headers, system = "rabbitmq", destination = "orders")]
async fn tracebound_consumer(headers: &Headers, x: u64) -> u64 {
    black_box(x) + 1
}

fn hand_written_consumer(
    tracer: &BoxedTracer,
    propagator: &dyn TextMapPropagator,
    headers: &Headers,
    x: u64,
) -> impl Future<Output = u64> + use<> {
    let remote = propagator.extract(headers);
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

fn consumer(c: &mut Criterion) {
    global::set_tracer_provider(PROVIDER.clone());
    let tracer = global_tracer();
    let headers = Headers::from([(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    )]);
    // The same job as tracebound's default: W3C trace context and baggage.
    let sdk = opentelemetry::propagation::TextMapCompositePropagator::new(vec![
        Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
        Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
    ]);
    let mut group = c.benchmark_group("consumer");
    group.bench_function("tracebound", |b| {
        b.iter(|| poll_once(tracebound_consumer(&headers, 1)))
    });
    group.bench_function("hand_written", |b| {
        b.iter(|| poll_once(hand_written_consumer(&tracer, &sdk, &headers, 1)))
    });
    group.finish();
}

fn carriers(c: &mut Criterion) {
    let headers = Headers::from([(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    )]);
    let ours = tracebound::propagation::TraceContextPropagator::new();
    let sdk = opentelemetry_sdk::propagation::TraceContextPropagator::new();
    let cx = parent(true);
    let mut group = c.benchmark_group("carriers");
    group.bench_function("extract_tracebound", |b| {
        b.iter(|| black_box(ours.extract(black_box(&headers))))
    });
    group.bench_function("extract_sdk", |b| {
        b.iter(|| black_box(sdk.extract(black_box(&headers))))
    });
    group.bench_function("inject_tracebound", |b| {
        b.iter(|| {
            let mut out = Headers::new();
            ours.inject_context(&cx, &mut out);
            out
        })
    });
    group.bench_function("inject_sdk", |b| {
        b.iter(|| {
            let mut out = Headers::new();
            sdk.inject_context(&cx, &mut out);
            out
        })
    });
    group.finish();
}

fn spawn(c: &mut Criterion) {
    global::set_tracer_provider(PROVIDER.clone());
    // `spawn` on one thread measures the spawn itself, not cross-thread wake-ups; the blocking
    // pool always crosses threads, so 100 jobs run at once and are then awaited.
    let local = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let pool = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let _parent = tracebound::attach(parent(true));
    let mut group = c.benchmark_group("spawn");
    group.bench_function("tokio_spawn", |b| {
        b.iter(|| {
            local.block_on(async {
                for _ in 0..100 {
                    tokio::spawn(bare(1)).await.unwrap();
                }
            })
        })
    });
    group.bench_function("tracebound_spawn", |b| {
        b.iter(|| {
            local.block_on(async {
                for _ in 0..100 {
                    tracebound::spawn(bare(1)).await.unwrap();
                }
            })
        })
    });
    group.bench_function("tokio_spawn_blocking", |b| {
        b.iter(|| {
            pool.block_on(async {
                let jobs: Vec<_> = (0..100)
                    .map(|_| tokio::task::spawn_blocking(|| black_box(1)))
                    .collect();
                for job in jobs {
                    job.await.unwrap();
                }
            })
        })
    });
    group.bench_function("tracebound_spawn_blocking", |b| {
        b.iter(|| {
            pool.block_on(async {
                let jobs: Vec<_> = (0..100)
                    .map(|_| tracebound::spawn_blocking(|| black_box(1)))
                    .collect();
                for job in jobs {
                    job.await.unwrap();
                }
            })
        })
    });
    group.finish();
}

fn components(c: &mut Criterion) {
    let mut group = c.benchmark_group("components");
    group.bench_function("global_tracer_provider", |b| {
        b.iter(|| black_box(global::tracer_provider()))
    });
    group.finish();
}

criterion_group!(
    benches,
    inline_sampled,
    inline_unsampled,
    no_provider,
    consumer,
    carriers,
    spawn,
    components
);
criterion_main!(benches);
