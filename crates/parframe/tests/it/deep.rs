//! Deep expression trees through the whole engine (#15 item 8): built in
//! Rust or parsed from SQL, they are type-checked, optimized, lowered and
//! evaluated on the context's workers (2 MiB stacks) without overflowing
//! the stack, and a tree deeper than `MAX_EXPR_DEPTH` is a clear error.

use parframe::MAX_EXPR_DEPTH;
use parframe::arrow::array::cast::AsArray;
use parframe::arrow::array::types::Int64Type;
use parframe::prelude::*;

fn ctx() -> Context {
    Context::builder()
        .threads(2)
        .chunk_rows(16)
        .build()
        .unwrap()
}

fn numbers(c: &Context) -> LazyFrame {
    c.lazy(table!("x" => (0..100i64).collect::<Vec<_>>()).unwrap())
}

fn ints(t: &Table, name: &str) -> Vec<i64> {
    let a = t.column(name).unwrap();
    a.as_primitive::<Int64Type>().values().to_vec()
}

#[test]
fn a_long_sum_and_a_long_or_chain_run_from_the_rust_api() {
    let c = ctx();
    // A 3,000-term sum (the issue's `+` chain) and a 4,000-term `or` chain.
    let sum = (1..3000).fold(col("x"), |e, _| e + col("x")).alias("s");
    let any = (0..4000).fold(col("x").eq(-1), |e, i| e.or(col("x").eq(i * 7)));
    let t = numbers(&c)
        .filter(any)
        .unwrap()
        .select([sum])
        .unwrap()
        .collect()
        .unwrap();
    let expect: Vec<i64> = (0..100).filter(|v| v % 7 == 0).map(|v| v * 3000).collect();
    assert_eq!(ints(&t, "s"), expect);
}

#[test]
fn a_long_sum_runs_from_sql() {
    let c = ctx();
    c.register_table("t", numbers(&c));
    let terms = vec!["x"; 3000].join(" + ");
    let t = c
        .sql(&format!("SELECT sum({terms}) AS s FROM t"))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(ints(&t, "s"), vec![(0..100).sum::<i64>() * 3000]);
}

#[test]
fn a_tree_deeper_than_the_limit_is_an_error_naming_its_depth() {
    let c = ctx();
    let deep = (0..MAX_EXPR_DEPTH).fold(col("x"), |e, _| e + lit(1));
    let err = numbers(&c).select([deep]).unwrap_err().to_string();
    assert!(
        err.contains(&format!("nests {} levels deep", MAX_EXPR_DEPTH + 1)),
        "{err}"
    );
}
