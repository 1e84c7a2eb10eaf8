//! Every comparison the benchmarks make, defined once: the paired ratios (`ratios.rs`), the
//! criterion benchmarks (`task.rs`) and the instruction counts (`scripts/instructions`, through
//! `ratios list` and `ratios count`) all run these.

use crate::variants::*;
use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::trace::{FutureExt, TraceContextExt, Tracer};
use std::hint::black_box;
use std::rc::Rc;

/// Runs its variant's calls, as many as it is given.
pub type Batch = Box<dyn Fn(u64)>;

pub struct Comparison {
    pub baseline: &'static str,
    /// Calls per batch: a batch takes about half a millisecond.
    pub calls: u64,
    pub variants: Vec<(&'static str, Batch)>,
}

/// A variant that polls `call(x)` once per call.
macro_rules! inline {
    ($call:expr) => {
        Box::new(move |calls: u64| {
            for i in 0..calls {
                black_box(poll_once($call(black_box(i))));
            }
        }) as Batch
    };
}

/// `#[traced_task]` with the provider installed by `global::set_tracer_provider` for the
/// batch: the boxed global tracer.
fn tracebound_global_provider() -> Batch {
    Box::new(|calls| {
        install_with_global();
        for i in 0..calls {
            black_box(poll_once(tracebound_task(black_box(i))));
        }
        install();
    })
}

fn inline_sampled() -> Comparison {
    let tracer = global_tracer();
    let tracer_same_job = global_tracer();
    Comparison {
        baseline: "hand_written",
        calls: 1000,
        variants: vec![
            ("bare", inline!(bare)),
            ("tracebound", inline!(tracebound_task)),
            ("tracebound_global_provider", tracebound_global_provider()),
            ("hand_written", inline!(|x| hand_written(&tracer, x))),
            (
                "hand_written_same_job",
                inline!(|x| hand_written_same_job(&tracer_same_job, x)),
            ),
            (
                "hand_written_sdk_tracer",
                inline!(|x| hand_written(&*SDK_TRACER, x)),
            ),
            (
                "tracing_instrument_otel",
                Box::new(|calls| {
                    let span = tracing::info_span!("parent");
                    let _entered = span.enter();
                    for i in 0..calls {
                        black_box(poll_once(tracing_instrument(black_box(i))));
                    }
                }),
            ),
            (
                "fastrace",
                Box::new(|calls| {
                    let root =
                        fastrace::Span::root("parent", fastrace::prelude::SpanContext::random());
                    let _local = root.set_local_parent();
                    for i in 0..calls {
                        black_box(poll_once(fastrace_trace(black_box(i))));
                    }
                }),
            ),
        ],
    }
}

fn inline_unsampled() -> Comparison {
    let tracer = global_tracer();
    Comparison {
        baseline: "hand_written",
        calls: 2000,
        variants: vec![
            ("bare", inline!(bare)),
            ("tracebound", inline!(tracebound_task)),
            ("tracebound_global_provider", tracebound_global_provider()),
            ("hand_written", inline!(|x| hand_written(&tracer, x))),
            (
                "hand_written_sdk_tracer",
                inline!(|x| hand_written(&*SDK_TRACER, x)),
            ),
        ],
    }
}

fn no_provider() -> Comparison {
    let tracer = global_tracer();
    Comparison {
        baseline: "hand_written",
        calls: 5000,
        variants: vec![
            ("bare", inline!(bare)),
            ("tracebound", inline!(tracebound_task)),
            ("hand_written", inline!(|x| hand_written(&tracer, x))),
        ],
    }
}

/// With no provider, a caller whose context holds only a span of OpenTelemetry's no-op tracer
/// (an invalid span context): what an application that starts its own root span without a
/// provider has.
fn no_provider_invalid_span() -> Comparison {
    no_provider()
}

fn consumer() -> Comparison {
    let tracer = global_tracer();
    Comparison {
        baseline: "hand_written",
        calls: 500,
        variants: vec![
            ("tracebound", inline!(|x| tracebound_consumer(&HEADERS, x))),
            (
                "hand_written",
                inline!(|x| hand_written_consumer(&tracer, &HEADERS, x)),
            ),
        ],
    }
}

/// A variant that runs `round` once per call.
fn repeat(round: impl Fn() -> u64 + 'static) -> Batch {
    Box::new(move |calls| {
        for _ in 0..calls {
            black_box(round());
        }
    })
}

fn current_thread() -> Rc<tokio::runtime::Runtime> {
    Rc::new(
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
    )
}

/// Spawning `body` three ways: plain tokio (the baseline), tracebound, and tokio with the
/// context carried by hand.
fn spawns<B>(names: [&'static str; 3], calls: u64, body: fn(u64) -> B) -> Comparison
where
    B: std::future::Future<Output = u64> + Send + 'static,
{
    let (tokio, ours, by_hand) = (current_thread(), current_thread(), current_thread());
    Comparison {
        baseline: names[0],
        calls,
        variants: vec![
            (
                names[0],
                repeat(move || spawn_100(&tokio, |i| tokio::spawn(body(i)))),
            ),
            (
                names[1],
                repeat(move || spawn_100(&ours, |i| tracebound::spawn(body(i)))),
            ),
            (
                names[2],
                repeat(move || {
                    spawn_100(&by_hand, |i| {
                        tokio::spawn(body(i).with_context(Context::current()))
                    })
                }),
            ),
        ],
    }
}

fn spawn() -> Comparison {
    let names = ["tokio_spawn", "tracebound_spawn", "hand_written_spawn"];
    spawns(names, 20, bare)
}

fn spawn_stateful() -> Comparison {
    let names = [
        "tokio_spawn_stateful",
        "tracebound_spawn_stateful",
        "hand_written_spawn_stateful",
    ];
    spawns(names, 10, stateful)
}

fn spawn_blocking() -> Comparison {
    let pool = Rc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
    );
    let (tokio, ours) = (pool.clone(), pool);
    Comparison {
        baseline: "tokio_spawn_blocking",
        calls: 2,
        variants: vec![
            (
                "tokio_spawn_blocking",
                repeat(move || {
                    spawn_blocking_100(&tokio, |i| {
                        tokio::task::spawn_blocking(move || black_box(i))
                    })
                }),
            ),
            (
                "tracebound_spawn_blocking",
                repeat(move || {
                    spawn_blocking_100(&ours, |i| tracebound::spawn_blocking(move || black_box(i)))
                }),
            ),
        ],
    }
}

/// `calls` of `call` with `dispatch` as the thread's subscriber, polled once each; with
/// `tracing_parent`, inside an entered tracing span (as `#[tracing::instrument]` needs for a
/// parent).
fn under<F: std::future::Future<Output = u64>>(
    dispatch: &tracing::Dispatch,
    tracing_parent: bool,
    call: impl Fn(u64) -> F + 'static,
) -> Batch {
    let dispatch = dispatch.clone();
    Box::new(move |calls| {
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing_parent.then(|| tracing::info_span!("parent"));
            let _entered = span.as_ref().map(tracing::Span::enter);
            for i in 0..calls {
                black_box(poll_once(call(black_box(i))));
            }
        })
    })
}

/// A sampled traced call under a subscriber with and without tracebound's tracing bridge, a
/// traced call logging an event, and `#[tracing::instrument]` + tracing-opentelemetry doing
/// the same jobs.
fn tracing_bridge() -> Comparison {
    let plain = tracing_dispatch(false);
    let bridged = tracing_dispatch(true);
    Comparison {
        baseline: "tracebound",
        calls: 1000,
        variants: vec![
            ("tracebound", under(&plain, false, tracebound_task)),
            ("tracebound_bridge", under(&bridged, false, tracebound_task)),
            (
                "tracebound_bridge_event",
                under(&bridged, false, tracebound_task_event),
            ),
            ("instrument_otel", under(&plain, true, tracing_instrument)),
            (
                "instrument_otel_event",
                under(&plain, true, tracing_instrument_event),
            ),
            (
                "instrument_otel_bridge",
                under(&bridged, true, tracing_instrument),
            ),
            (
                "instrument_otel_bridge_event",
                under(&bridged, true, tracing_instrument_event),
            ),
        ],
    }
}

/// The comparison named `name`, with its provider installed and its parent attached (the
/// returned token keeps the parent attached).
pub fn prepare(name: &str) -> (Comparison, Option<tracebound::ContextToken>) {
    install_peers();
    match name {
        "inline_sampled" => {
            install();
            (inline_sampled(), Some(tracebound::attach(parent(true))))
        }
        "inline_unsampled" => {
            install();
            (inline_unsampled(), Some(tracebound::attach(parent(false))))
        }
        "no_provider" => {
            uninstall();
            (no_provider(), None)
        }
        "no_provider_invalid_span" => {
            uninstall();
            let noop = global::tracer("bench").start("no-op root");
            let parent = Context::new().with_span(noop);
            (no_provider_invalid_span(), Some(tracebound::attach(parent)))
        }
        "consumer" => {
            install();
            (consumer(), None)
        }
        "tracing_bridge" => {
            install();
            (tracing_bridge(), Some(tracebound::attach(parent(true))))
        }
        "spawn" => {
            install();
            (spawn(), Some(tracebound::attach(parent(true))))
        }
        "spawn_stateful" => {
            install();
            (spawn_stateful(), Some(tracebound::attach(parent(true))))
        }
        "spawn_blocking" => {
            install();
            (spawn_blocking(), Some(tracebound::attach(parent(true))))
        }
        other => panic!("no comparison named {other}"),
    }
}

pub const COMPARISONS: &[&str] = &[
    "inline_sampled",
    "inline_unsampled",
    "no_provider",
    "no_provider_invalid_span",
    "consumer",
    "spawn",
    "spawn_stateful",
    "spawn_blocking",
    "tracing_bridge",
];
