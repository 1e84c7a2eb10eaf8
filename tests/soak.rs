//! The soak binary in its short form (100,000 traced calls); its long form, a million calls,
//! is `cargo run --release -p tracebound-tests --bin soak -- --calls 1000000`.

#[test]
fn a_short_soak_loses_no_span_and_misplaces_no_parent() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_soak"))
        .args(["--calls", "100000"])
        .output()
        .expect("the soak runs");
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("parent mismatches:     0"));
    assert!(report.contains("soak: ok"));
}
