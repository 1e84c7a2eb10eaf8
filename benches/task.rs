//! Per-call cost of tracing, the same work written several ways and measured in one run (see
//! `variants.rs`). Inline calls create the future and poll it once with a no-op waker (the
//! trivial bodies complete in that poll), so a figure is the cost of the call, the span and
//! the poll.
//!
//! `cargo bench -p tracebound-benches --bench task`; `scripts/bench-report` turns the results
//! into BENCHMARKS.md's tables and chart. On a shared machine, medians of consecutive
//! benchmarks drift; `ratios.rs` measures the ratios the goals are stated in.

#[path = "variants.rs"]
mod variants;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::global;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use std::hint::black_box;
use variants::*;

fn inline_sampled(c: &mut Criterion) {
    install();
    install_peers();
    let _parent = tracebound::attach(parent(true));
    let tracer = global_tracer();
    let mut group = c.benchmark_group("inline_sampled");
    group.bench_function("bare", |b| b.iter(|| poll_once(bare(1))));
    group.bench_function("tracebound", |b| b.iter(|| poll_once(tracebound_task(1))));
    group.bench_function("hand_written", |b| {
        b.iter(|| poll_once(hand_written(&tracer, 1)))
    });
    group.bench_function("hand_written_same_job", |b| {
        b.iter(|| poll_once(hand_written_same_job(&tracer, 1)))
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
    install_with_global();
    group.bench_function("tracebound_global_provider", |b| {
        b.iter(|| poll_once(tracebound_task(1)))
    });
    install();
    group.finish();
}

fn inline_unsampled(c: &mut Criterion) {
    install();
    let _parent = tracebound::attach(parent(false));
    let tracer = global_tracer();
    let mut group = c.benchmark_group("inline_unsampled");
    group.bench_function("bare", |b| b.iter(|| poll_once(bare(1))));
    group.bench_function("tracebound", |b| b.iter(|| poll_once(tracebound_task(1))));
    group.bench_function("hand_written", |b| {
        b.iter(|| poll_once(hand_written(&tracer, 1)))
    });
    group.bench_function("hand_written_sdk_tracer", |b| {
        b.iter(|| poll_once(hand_written(&*SDK_TRACER, 1)))
    });
    install_with_global();
    group.bench_function("tracebound_global_provider", |b| {
        b.iter(|| poll_once(tracebound_task(1)))
    });
    install();
    group.finish();
}

fn no_provider(c: &mut Criterion) {
    uninstall();
    let tracer = global_tracer();
    let mut group = c.benchmark_group("no_provider");
    group.bench_function("bare", |b| b.iter(|| poll_once(bare(1))));
    group.bench_function("tracebound", |b| b.iter(|| poll_once(tracebound_task(1))));
    group.bench_function("hand_written", |b| {
        b.iter(|| poll_once(hand_written(&tracer, 1)))
    });
    group.finish();
    install();
}

fn consumer(c: &mut Criterion) {
    install();
    let tracer = global_tracer();
    let mut group = c.benchmark_group("consumer");
    group.bench_function("tracebound", |b| {
        b.iter(|| poll_once(tracebound_consumer(&HEADERS, 1)))
    });
    group.bench_function("hand_written", |b| {
        b.iter(|| poll_once(hand_written_consumer(&tracer, &HEADERS, 1)))
    });
    group.finish();
}

fn carriers(c: &mut Criterion) {
    let ours = tracebound::propagation::TraceContextPropagator::new();
    let sdk = opentelemetry_sdk::propagation::TraceContextPropagator::new();
    let cx = parent(true);
    let mut group = c.benchmark_group("carriers");
    group.bench_function("extract_tracebound", |b| {
        b.iter(|| black_box(ours.extract(black_box(&*HEADERS))))
    });
    group.bench_function("extract_sdk", |b| {
        b.iter(|| black_box(sdk.extract(black_box(&*HEADERS))))
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
    install();
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
        b.iter(|| spawn_100(&local, |i| tokio::spawn(bare(i))))
    });
    group.bench_function("tracebound_spawn", |b| {
        b.iter(|| spawn_100(&local, |i| tracebound::spawn(bare(i))))
    });
    group.bench_function("tokio_spawn_blocking", |b| {
        b.iter(|| spawn_blocking_100(&pool, |i| tokio::task::spawn_blocking(move || black_box(i))))
    });
    group.bench_function("tracebound_spawn_blocking", |b| {
        b.iter(|| spawn_blocking_100(&pool, |i| tracebound::spawn_blocking(move || black_box(i))))
    });
    group.finish();
}

/// What a traced call asks of the current context when no provider is installed.
fn anything_to_carry() -> bool {
    Context::map_current(|cx| {
        cx.has_active_span() || cx.is_telemetry_suppressed() || !cx.baggage().is_empty()
    })
}

/// What OpenTelemetry itself costs for the steps tracebound cannot avoid: the floors under the
/// figures above.
fn components(c: &mut Criterion) {
    install();
    let _parent = tracebound::attach(parent(true));
    let mut group = c.benchmark_group("components");
    group.bench_function("global_tracer_provider", |b| {
        b.iter(|| black_box(global::tracer_provider()))
    });
    group.bench_function("context_current", |b| {
        b.iter(|| black_box(Context::current()))
    });
    group.bench_function("context_attach_detach", |b| {
        let cx = Context::current();
        b.iter(|| drop(black_box(cx.clone().attach())))
    });
    group.bench_function("context_read_empty", |b| {
        let _empty = tracebound::attach(Context::new());
        b.iter(|| black_box(anything_to_carry()))
    });
    group.bench_function("context_read_span_baggage", |b| {
        b.iter(|| black_box(anything_to_carry()))
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
