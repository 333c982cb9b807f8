//! Compile-fail tests (trybuild): the messages a user sees for row
//! closures of unsupported types and for non-expressions. The `.stderr`
//! files in `tests/ui` are the expected compiler output
//! (`TRYBUILD=overwrite` rewrites them after a deliberate change).
//!
//! Ignored by default: trybuild builds parframe-core again in its own
//! target directory (`target/tests/trybuild`), about two minutes on two
//! cores after each change to this crate (1.5 s when nothing changed).
//! `.ci/run` runs it: `cargo test --workspace compile_fail -- --ignored`.

#[test]
#[ignore = "trybuild rebuilds parframe-core; CI runs it with --ignored"]
fn closure_and_expression_errors_say_what_is_accepted() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
