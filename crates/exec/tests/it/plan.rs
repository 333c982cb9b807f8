use parframe_core::table;
use parframe_exec::Context;

#[test]
fn explain_shows_operators() {
    let c = Context::builder().threads(1).build().unwrap();
    let lf = c
        .lazy(table!("a" => [1i64], "b" => [2i64]).unwrap())
        .apply("c", ["a"], |a: i64| a)
        .unwrap()
        .limit(3);
    let e = lf.explain();
    assert!(
        e.starts_with("Limit 3\n  Apply c <- closure(a)\n    Table"),
        "{e}"
    );
}
