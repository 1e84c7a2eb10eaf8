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
//! [`measured`], which `scripts/instructions` has callgrind count; `ratios list` names them.

#[path = "comparisons.rs"]
mod comparisons;
#[path = "paired.rs"]
mod paired;
#[path = "variants.rs"]
mod variants;

use comparisons::{COMPARISONS, Comparison, prepare};
use paired::{ROUNDS, measured, quartiles, ratios, rounds};

struct Result {
    variant: &'static str,
    ns_per_call: f64,
    ratio: [f64; 3],
}

fn run(comparison: &Comparison) -> Vec<Result> {
    let n = comparison.variants.len();
    let times = rounds(&comparison.variants, comparison.calls);
    let base = comparison
        .variants
        .iter()
        .position(|(name, _)| *name == comparison.baseline)
        .expect("the baseline is a variant");
    (0..n)
        .map(|i| Result {
            variant: comparison.variants[i].0,
            ns_per_call: quartiles(times[i].clone())[1],
            ratio: ratios(&times[i], &times[base]),
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|mode| mode == "list") {
        // `comparison variant` per line, for scripts/instructions.
        for name in COMPARISONS {
            for (variant, _) in prepare(name).0.variants {
                println!("{name} {variant}");
            }
        }
        return;
    }
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
