//! The polars-like surface: `IntoExpr` arguments, aggregates over
//! expressions (as functions and `Expr` methods), sort keys from names,
//! true division; each against a naive reference, nulls included.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use parframe_core::{Table, col, lit, table};
use parframe_exec::Context;
use parframe_exec::agg::{AggregateExt, count_rows, mean, sum};

fn ctx() -> Context {
    Context::builder().threads(2).chunk_rows(3).build().unwrap()
}

fn one_batch(t: &Table) -> RecordBatch {
    arrow_select::concat::concat_batches(t.schema(), t.chunks()).unwrap()
}

fn sample() -> Table {
    table!(
        "k" => [Some("a"), Some("b"), Some("a"), None, Some("b"), Some("a"), Some("b")],
        "x" => [Some(1i64), Some(20), None, Some(4), Some(16), Some(30), None],
        "y" => [Some(2i64), Some(3), Some(5), None, Some(1), Some(2), Some(7)],
    )
    .unwrap()
}

type Row = (Option<String>, Option<i64>, Option<i64>);

fn rows(t: &Table) -> Vec<Row> {
    let b = one_batch(t);
    let k = b.column(0).as_string::<i32>();
    let x = b.column(1).as_primitive::<Int64Type>();
    let y = b.column(2).as_primitive::<Int64Type>();
    (0..b.num_rows())
        .map(|i| {
            (
                k.is_valid(i).then(|| k.value(i).to_string()),
                x.is_valid(i).then(|| x.value(i)),
                y.is_valid(i).then(|| y.value(i)),
            )
        })
        .collect()
}

#[test]
fn aggregates_over_expressions_match_a_naive_reference() {
    let t = sample();
    let out = ctx()
        .lazy(t.clone())
        .group_by(["k"])
        .sorted(true)
        .agg([
            (col("x") * col("y")).sum().alias("xy"),
            col("x").gt(lit(15)).mean().alias("late"),
            sum(col("x") + 1).alias("x1"),
            (col("x") * col("y")).sum() / count_rows(),
            mean(col("y")).alias("my"),
        ])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.column_names(), vec!["k", "xy", "late", "x1", "x", "my"]);
    // Reference: per key, nulls skipped; a boolean's mean is its share of true.
    type Pairs = Vec<(Option<i64>, Option<i64>)>;
    let mut groups: BTreeMap<Option<String>, Pairs> = BTreeMap::new();
    for (k, x, y) in rows(&t) {
        groups.entry(k).or_default().push((x, y));
    }
    let b = one_batch(&out);
    let xy = b.column(1).as_primitive::<Int64Type>();
    let late = b.column(2).as_primitive::<Float64Type>();
    let x1 = b.column(3).as_primitive::<Int64Type>();
    let ratio = b.column(4).as_primitive::<Float64Type>();
    assert_eq!(b.num_rows(), groups.len());
    for (i, (_, vals)) in groups.iter().enumerate() {
        let prods: Vec<i64> = vals
            .iter()
            .filter_map(|(x, y)| Some((*x)? * (*y)?))
            .collect();
        let want_xy = (!prods.is_empty()).then(|| prods.iter().sum::<i64>());
        assert_eq!(xy.is_valid(i).then(|| xy.value(i)), want_xy);
        let flags: Vec<bool> = vals.iter().filter_map(|(x, _)| x.map(|x| x > 15)).collect();
        let want_late = (!flags.is_empty())
            .then(|| flags.iter().filter(|f| **f).count() as f64 / flags.len() as f64);
        assert_eq!(late.is_valid(i).then(|| late.value(i)), want_late);
        let plus: Vec<i64> = vals.iter().filter_map(|(x, _)| x.map(|x| x + 1)).collect();
        let want_x1 = (!plus.is_empty()).then(|| plus.iter().sum::<i64>());
        assert_eq!(x1.is_valid(i).then(|| x1.value(i)), want_x1);
        // True division: Float64 even though both aggregates are Int64.
        let want_ratio = want_xy.map(|s| s as f64 / vals.len() as f64);
        assert_eq!(ratio.is_valid(i).then(|| ratio.value(i)), want_ratio);
    }
}

#[test]
fn names_are_columns_and_numbers_literals() {
    let t = sample();
    let out = ctx()
        .lazy(t)
        .filter(col("x").gt(10))
        .unwrap()
        .with_column((col("x") / 8).alias("q"))
        .unwrap()
        .select(["x", "q"])
        .unwrap()
        .sort(["x"])
        .unwrap()
        .collect()
        .unwrap();
    let b = one_batch(&out);
    let x: Vec<i64> = b.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(x, vec![16, 20, 30]);
    let q: Vec<f64> = b.column(1).as_primitive::<Float64Type>().values().to_vec();
    assert_eq!(q, vec![2.0, 2.5, 3.75]);
}

#[test]
fn an_aggregate_over_a_missing_column_names_it() {
    let err = ctx()
        .lazy(sample())
        .group_by(["k"])
        .agg([(col("x") * col("nope")).sum()])
        .err()
        .unwrap();
    assert!(err.to_string().contains("nope"), "{err}");
}
