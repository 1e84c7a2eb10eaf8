//! Paired rounds, shared by the ratio benches (ratios.rs, hooks.rs): each round times a batch of
//! calls of every variant, in an order that rotates from round to round, so that a ratio divides
//! two times of the same round and the machine's drift cancels out.

use std::time::Instant;

/// Rounds per comparison.
pub const ROUNDS: usize = 400;

/// A variant: its name, and what runs a batch of `n` calls.
pub type Variant = (&'static str, Box<dyn Fn(u64)>);

/// Runs `batch` with `calls` calls: the one function callgrind counts in
/// (`--toggle-collect='*measured*'`).
#[inline(never)]
pub fn measured(batch: &dyn Fn(u64), calls: u64) {
    batch(calls);
}

/// The first, second and third quartiles.
pub fn quartiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| values[(values.len() - 1) * q / 4];
    [at(1), at(2), at(3)]
}

/// Each variant's time per call (ns) in every round, after one round to warm up (caches,
/// lazily built statics, the per-thread tracers).
pub fn rounds(variants: &[Variant], calls: u64) -> Vec<Vec<f64>> {
    let n = variants.len();
    for (_, batch) in variants {
        batch(calls);
    }
    let mut times = vec![Vec::with_capacity(ROUNDS); n];
    for round in 0..ROUNDS {
        for k in 0..n {
            let i = (round + k) % n;
            let start = Instant::now();
            measured(&variants[i].1, calls);
            times[i].push(start.elapsed().as_nanos() as f64 / calls as f64);
        }
    }
    times
}

/// The quartiles of `times / base`, round by round.
pub fn ratios(times: &[f64], base: &[f64]) -> [f64; 3] {
    quartiles(times.iter().zip(base).map(|(a, b)| a / b).collect())
}
