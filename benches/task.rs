//! Per-call cost of tracing, the same work written several ways (the comparisons of
//! `comparisons.rs`, which `ratios.rs` pairs round by round) and measured in one run, plus
//! carriers and OpenTelemetry's own steps. Inline calls create the future and poll it once with
//! a no-op waker (the trivial bodies complete in that poll), so a figure is the cost of the
//! call, the span and the poll.
//!
//! `cargo bench -p tracebound-benches --bench task`; `scripts/bench-report` turns the results
//! into BENCHMARKS.md's tables and chart. On a shared machine, medians of consecutive
//! benchmarks drift; `ratios.rs` measures the ratios the goals are stated in.

#[path = "comparisons.rs"]
mod comparisons;
#[path = "variants.rs"]
mod variants;

use comparisons::{COMPARISONS, prepare};
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::global;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use std::hint::black_box;
use std::time::Instant;
use variants::*;

/// Every comparison of `comparisons.rs`, one criterion group each, variant by variant.
fn comparisons(c: &mut Criterion) {
    for name in COMPARISONS {
        let (comparison, _parent) = prepare(name);
        let mut group = c.benchmark_group(*name);
        // The baseline first, each variant warmed up by one batch as `ratios` does.
        let mut variants: Vec<_> = comparison.variants.iter().collect();
        variants.sort_by_key(|(variant, _)| *variant != comparison.baseline);
        for (variant, batch) in variants {
            batch(comparison.calls);
            group.bench_function(*variant, |b| {
                b.iter_custom(|calls| {
                    let start = Instant::now();
                    batch(calls);
                    start.elapsed()
                })
            });
        }
        group.finish();
    }
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

/// What a traced call asks of the current context when no provider is installed.
fn anything_to_carry() -> bool {
    Context::map_current(|cx| {
        cx.span().span_context().is_valid()
            || cx.is_telemetry_suppressed()
            || !cx.baggage().is_empty()
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

criterion_group!(benches, comparisons, carriers, components);
criterion_main!(benches);
