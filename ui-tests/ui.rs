//! Each rule of tracebound's compile-time contract, pinned: `pass/` must compile, and every
//! `fail/*.rs` must fail with exactly its `.stderr`. Regenerate after an intended change with
//! `TRYBUILD=overwrite cargo test -p tracebound-ui-tests` and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("pass/*.rs");
    cases.compile_fail("fail/*.rs");
}
