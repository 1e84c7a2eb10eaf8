//! What tokio's task hooks (`tracebound::hooks::carry`, feature `tokio-hooks`) cost, against a
//! plain runtime, against `tracebound::spawn` and against the context carried by hand
//! (`tokio::spawn(f.with_context(Context::current()))`, the goal's baseline): per task (spawn and
//! await of a trivial task under a sampled span), per poll (a task that yields 99 times), and
//! per task on two workers (100 tasks at once). In interleaved rounds, as `ratios.rs` measures:
//! each variant's time divided by its baseline's time in the same round, median and quartiles.
//!
//! `RUSTFLAGS="--cfg tokio_unstable" CARGO_TARGET_DIR=target/tokio-unstable cargo bench
//! -p tracebound-benches --bench hooks`; without the cfg tokio has no task hooks, and only the
//! rows without them run. `hooks count <comparison> <variant> <calls>` runs one variant alone,
//! for callgrind or perf.

#[path = "paired.rs"]
mod paired;
#[path = "variants.rs"]
mod variants;

use opentelemetry::Context;
use opentelemetry::trace::FutureExt;
use paired::{ROUNDS, measured, quartiles, ratios, rounds};
use std::hint::black_box;
use std::rc::Rc;
use tokio::runtime::{Builder, Runtime};
use tokio::task::{JoinHandle, yield_now};
use variants::{bare, install, parent, spawn_100};

/// Polls of the task in `poll`: it yields one less.
const POLLS: u64 = 100;

/// Runs a variant's calls, as many as it is given.
type Batch = Box<dyn Fn(u64)>;

struct Comparison {
    name: &'static str,
    /// What one call is.
    call: &'static str,
    /// Tasks or polls in a call: `ns/unit` is per task or per poll.
    per: u64,
    calls: u64,
    variants: Vec<(&'static str, Batch)>,
}

/// The goal: the hooks cost no more than this.
const BY_HAND: &str = "hand_written_spawn";
/// A plain runtime, nothing carried.
const PLAIN: &str = "tokio_spawn";

fn runtime(multi_thread: bool, hooks: bool) -> Rc<Runtime> {
    let mut builder = if multi_thread {
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    } else {
        Builder::new_current_thread()
    };
    if hooks {
        #[cfg(tokio_unstable)]
        tracebound::hooks::carry(&mut builder);
        #[cfg(not(tokio_unstable))]
        unreachable!("tokio has task hooks only with --cfg tokio_unstable");
    }
    Rc::new(builder.build().unwrap())
}

/// A task that yields `POLLS - 1` times.
async fn yielding(x: u64) -> u64 {
    for _ in 1..POLLS {
        yield_now().await;
    }
    black_box(x)
}

/// 100 tasks spawned at once with `spawn` by a task on a worker (the block_on thread is not
/// one), then awaited. That task carries the caller's context on every runtime.
fn spawn_all(
    runtime: &Runtime,
    spawn: impl Fn(u64) -> JoinHandle<u64> + Send + Sync + 'static,
) -> u64 {
    let spawn = std::sync::Arc::new(spawn);
    runtime.block_on(async {
        let spawn = spawn.clone();
        tracebound::spawn(async move {
            let tasks: Vec<_> = (0..100).map(|i| spawn(i)).collect();
            let mut sum = 0;
            for task in tasks {
                sum += task.await.unwrap();
            }
            sum
        })
        .await
        .unwrap()
    })
}

/// The variant `$name`: `$run(&runtime, |i| $spawn)` on a runtime of its own, with or without
/// the hooks, under the parent span or (`no_context`) with nothing current.
macro_rules! variant {
    (@parent $run:ident) => { $run() };
    (@no_context $run:ident) => { tracebound::with_context(Context::new(), $run) };
    ($name:expr, $run:ident, $mt:expr, $hooks:expr, $context:ident, |$i:ident| $spawn:expr) => {{
        let rt = runtime($mt, $hooks);
        let batch: Batch = Box::new(move |calls| {
            let run = || {
                for _ in 0..calls {
                    black_box($run(&rt, |$i| $spawn));
                }
            };
            variant!(@$context run)
        });
        ($name, batch)
    }};
}

/// The same comparison for tasks whose body is `$body`, spawned by `$run`.
macro_rules! spawns {
    ($run:ident, $mt:expr, $body:ident) => {{
        #[allow(unused_mut)]
        let mut variants = vec![
            variant!(PLAIN, $run, $mt, false, parent, |i| tokio::spawn($body(i))),
            variant!("tracebound_spawn", $run, $mt, false, parent, |i| {
                tracebound::spawn($body(i))
            }),
            variant!(BY_HAND, $run, $mt, false, parent, |i| tokio::spawn(
                $body(i).with_context(Context::current())
            )),
            variant!(
                "tokio_spawn_no_context",
                $run,
                $mt,
                false,
                no_context,
                |i| { tokio::spawn($body(i)) }
            ),
        ];
        #[cfg(tokio_unstable)]
        variants.extend([
            variant!("hooks_tokio_spawn", $run, $mt, true, parent, |i| {
                tokio::spawn($body(i))
            }),
            variant!("hooks_tracebound_spawn", $run, $mt, true, parent, |i| {
                tracebound::spawn($body(i))
            }),
            variant!(
                "hooks_tokio_spawn_no_context",
                $run,
                $mt,
                true,
                no_context,
                |i| { tokio::spawn($body(i)) }
            ),
        ]);
        variants
    }};
}

fn comparisons() -> Vec<Comparison> {
    vec![
        Comparison {
            name: "task",
            call: "100 × (spawn + await) of a trivial task, current-thread runtime",
            per: 100,
            calls: 5,
            variants: spawns!(spawn_100, false, bare),
        },
        Comparison {
            name: "poll",
            call: "spawn + await of a task polled 100 times, current-thread runtime",
            per: POLLS,
            calls: 20,
            variants: spawns!(spawn_100_polls, false, yielding),
        },
        Comparison {
            name: "task_two_workers",
            call: "100 trivial tasks spawned at once, then awaited, 2 workers",
            per: 100,
            calls: 5,
            variants: spawns!(spawn_all, true, bare),
        },
    ]
}

/// One spawn + await of a task (`spawn(0)`): for the task that is polled many times.
fn spawn_100_polls(runtime: &Runtime, spawn: impl Fn(u64) -> JoinHandle<u64>) -> u64 {
    runtime.block_on(async { spawn(0).await.unwrap() })
}

/// Each variant's median time per call, and its ratios to `baselines` round by round.
fn run(comparison: &Comparison, baselines: &[&str]) -> Vec<(f64, Vec<[f64; 3]>)> {
    let n = comparison.variants.len();
    let times = rounds(&comparison.variants, comparison.calls);
    let position = |name: &str| {
        comparison
            .variants
            .iter()
            .position(|(variant, _)| *variant == name)
            .expect("the baseline is a variant")
    };
    (0..n)
        .map(|i| {
            let ratios = baselines
                .iter()
                .map(|base| ratios(&times[i], &times[position(base)]))
                .collect();
            (quartiles(times[i].clone())[1], ratios)
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    install();
    let _parent = tracebound::attach(parent(true));
    // `hooks count <comparison> <variant> <calls>`: one variant's calls alone, for callgrind or
    // perf.
    if let [mode, name, variant, calls] = args.as_slice()
        && mode == "count"
    {
        let comparison = comparisons().into_iter().find(|c| c.name == name);
        let comparison = comparison.unwrap_or_else(|| panic!("no comparison named {name}"));
        let (_, batch) = comparison
            .variants
            .iter()
            .find(|(v, _)| v == variant)
            .unwrap_or_else(|| panic!("no variant named {variant}"));
        measured(batch, calls.parse().expect("a number of calls"));
        return;
    }
    let filter = args.iter().find(|a| !a.starts_with('-'));
    if cfg!(not(tokio_unstable)) {
        println!("built without --cfg tokio_unstable: no rows with the hooks");
    }
    for comparison in comparisons() {
        if filter
            .as_ref()
            .is_some_and(|f| !comparison.name.contains(f.as_str()))
        {
            continue;
        }
        let results = run(&comparison, &[BY_HAND, PLAIN]);
        println!(
            "\n{}: {} (median of {ROUNDS} rounds; ratios [quartiles])",
            comparison.name, comparison.call
        );
        println!(
            "  {:30} {:>11} {:>11}   {:22}   {:22}",
            "", "ns/call", "ns/unit", "to hand_written_spawn", "to tokio_spawn"
        );
        for ((variant, _), (ns, ratios)) in comparison.variants.iter().zip(results) {
            let [by_hand, plain] = [&ratios[0], &ratios[1]];
            println!(
                "  {variant:30} {ns:11.1} {:11.1}   {:.3} [{:.3}, {:.3}]   {:.3} [{:.3}, {:.3}]",
                ns / comparison.per as f64,
                by_hand[1],
                by_hand[0],
                by_hand[2],
                plain[1],
                plain[0],
                plain[2],
            );
        }
    }
}
