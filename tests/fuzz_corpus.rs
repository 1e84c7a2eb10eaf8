//! Replays every kept fuzz input (the corpus libFuzzer grew under `fuzz/corpus/`, and the
//! inputs that once broke an invariant under `fuzz/regressions/`) through the same harness the
//! fuzz targets run, so a regression fails here without a fuzzing run.

use std::path::Path;
use tracebound_fuzz_harness::TARGETS;

fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fuzz")
        .join(dir);
    let mut inputs = 0;
    for (target, run) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            // A running fuzzer may be merging this corpus: skip what it just removed.
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} fails on {}", path.display());
            inputs += 1;
        }
    }
    inputs
}

#[test]
fn the_regressions_no_longer_break_an_invariant() {
    assert!(
        replay("regressions") >= 3,
        "the kept reproducers are replayed"
    );
}

#[test]
fn the_corpus_replays_cleanly() {
    let inputs = replay("corpus");
    assert!(inputs >= 9, "one seed per target at least, found {inputs}");
}
