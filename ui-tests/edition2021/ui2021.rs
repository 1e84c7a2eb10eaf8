//! `ui-tests/pass/*.rs` again, in a Rust 2021 crate: `impl Trait` in return position captures
//! lifetimes differently there, and the expansions must compile the same in both editions.

#[test]
fn pass_cases_compile_as_rust_2021() {
    let cases = trybuild::TestCases::new();
    cases.pass("../pass/*.rs");
}
