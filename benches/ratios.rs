//! The ratios the performance goals are stated in, measured in interleaved rounds; and one
//! variant at a time, for callgrind to count its instructions.
//!
//! `cargo bench -p tracebound-benches --bench ratios`: for every comparison, each round times a
//! batch of calls of every variant, in an order that rotates from round to round, and divides
//! each variant's time by its baseline's time *in the same round*. The median of those ratios
//! (with its quartiles) holds still on a shared machine, where the speed drifts by tens of
//! percent within a minute and consecutive criterion medians with it. Results are printed and
//! written to `target/ratios.json` (or `$RATIOS_OUT`) for `scripts/bench-report`.
//!
//! `ratios count <comparison> <variant> <calls>` runs one variant's calls inside
//! [`measured`], which `scripts/instructions` has callgrind count.

#[path = "variants.rs"]
mod variants;

use opentelemetry::Context;
use opentelemetry::trace::FutureExt;
use std::hint::black_box;
use std::rc::Rc;
use std::time::Instant;
use variants::*;

type Batch = Box<dyn Fn(u64)>;

struct Comparison {
    baseline: &'static str,
    /// Calls per batch: a batch takes about half a millisecond.
    calls: u64,
    variants: Vec<(&'static str, Batch)>,
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

/// The comparison named `name`, with its provider installed and its parent attached (the
/// returned token keeps the parent attached).
fn prepare(name: &str) -> (Comparison, Option<tracebound::ContextToken>) {
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
        "consumer" => {
            install();
            (consumer(), None)
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

const COMPARISONS: &[&str] = &[
    "inline_sampled",
    "inline_unsampled",
    "no_provider",
    "consumer",
    "spawn",
    "spawn_stateful",
    "spawn_blocking",
];

const ROUNDS: usize = 400;

/// Runs `batch` with `calls` calls: the one function callgrind counts in.
#[inline(never)]
fn measured(batch: &dyn Fn(u64), calls: u64) {
    batch(calls);
}

struct Result {
    variant: &'static str,
    ns_per_call: f64,
    ratio: [f64; 3],
}

fn quartiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| values[(values.len() - 1) * q / 4];
    [at(1), at(2), at(3)]
}

fn run(comparison: &Comparison) -> Vec<Result> {
    let n = comparison.variants.len();
    // One round to warm up (caches, lazily built statics, the per-thread tracers).
    for (_, batch) in &comparison.variants {
        batch(comparison.calls);
    }
    let mut times = vec![Vec::with_capacity(ROUNDS); n];
    for round in 0..ROUNDS {
        for k in 0..n {
            let i = (round + k) % n;
            let start = Instant::now();
            measured(&comparison.variants[i].1, comparison.calls);
            times[i].push(start.elapsed().as_nanos() as f64 / comparison.calls as f64);
        }
    }
    let base = comparison
        .variants
        .iter()
        .position(|(name, _)| *name == comparison.baseline)
        .expect("the baseline is a variant");
    (0..n)
        .map(|i| Result {
            variant: comparison.variants[i].0,
            ns_per_call: quartiles(times[i].clone())[1],
            ratio: quartiles(
                times[i]
                    .iter()
                    .zip(&times[base])
                    .map(|(a, b)| a / b)
                    .collect(),
            ),
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, comparison, variant, calls] = args.as_slice()
        && mode == "count"
    {
        let (comparison, _parent) = prepare(comparison);
        let (_, batch) = comparison
            .variants
            .iter()
            .find(|(name, _)| name == variant)
            .unwrap_or_else(|| panic!("no variant named {variant}"));
        measured(batch, calls.parse().expect("a number of calls"));
        return;
    }
    // `cargo bench` passes `--bench`, and a filter if one was given.
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let mut json = Vec::new();
    for name in COMPARISONS {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let (comparison, parent) = prepare(name);
        let results = run(&comparison);
        drop(parent);
        println!(
            "\n{name} (ratio to {}, median of {ROUNDS} rounds [quartiles])",
            comparison.baseline
        );
        for r in &results {
            println!(
                "  {:28} {:10.1} ns/call   {:.3} [{:.3}, {:.3}]",
                r.variant, r.ns_per_call, r.ratio[1], r.ratio[0], r.ratio[2]
            );
            json.push(format!(
                "{{\"group\":\"{name}\",\"variant\":\"{}\",\"baseline\":\"{}\",\"ns\":{:.3},\"ratio\":[{:.4},{:.4},{:.4}]}}",
                r.variant, comparison.baseline, r.ns_per_call, r.ratio[0], r.ratio[1], r.ratio[2]
            ));
        }
    }
    let out = std::env::var_os("RATIOS_OUT").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ratios.json"),
        std::path::PathBuf::from,
    );
    std::fs::write(&out, format!("[\n{}\n]\n", json.join(",\n"))).expect("target/ratios.json");
    println!("\nwritten to {}", out.display());
}
