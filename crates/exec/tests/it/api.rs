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

#[test]
fn fill_null_and_drop_nulls_match_a_naive_reference() {
    let t = sample();
    let reference = rows(&t);
    // fill_null(0) fills the integer columns only (0 does not fit "k").
    let filled = ctx()
        .lazy(t.clone())
        .fill_null(0)
        .unwrap()
        .collect()
        .unwrap();
    let want: Vec<Row> = reference
        .iter()
        .map(|(k, x, y)| (k.clone(), Some(x.unwrap_or(0)), Some(y.unwrap_or(0))))
        .collect();
    assert_eq!(rows(&filled), want);
    let filled = ctx()
        .lazy(t.clone())
        .fill_null(lit("?"))
        .unwrap()
        .fill_null_in(["y"], col("x"))
        .unwrap()
        .collect()
        .unwrap();
    let want: Vec<Row> = reference
        .iter()
        .map(|(k, x, y)| (Some(k.clone().unwrap_or("?".into())), *x, y.or(*x)))
        .collect();
    assert_eq!(rows(&filled), want);
    // A value that does not fit a chosen column is an error naming it.
    let err = ctx()
        .lazy(t.clone())
        .fill_null_in(["x"], lit("?"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("x"), "{err}");

    let kept = ctx()
        .lazy(t.clone())
        .drop_nulls()
        .unwrap()
        .collect()
        .unwrap();
    let want: Vec<Row> = reference
        .iter()
        .filter(|(k, x, y)| k.is_some() && x.is_some() && y.is_some())
        .cloned()
        .collect();
    assert_eq!(rows(&kept), want);
    let kept = ctx()
        .lazy(t)
        .drop_nulls_in(["y"])
        .unwrap()
        .collect()
        .unwrap();
    let want: Vec<Row> = reference
        .iter()
        .filter(|r| r.2.is_some())
        .cloned()
        .collect();
    assert_eq!(rows(&kept), want);
}

#[test]
fn cache_runs_once_and_sample_is_seeded() {
    let t = sample();
    let cached = ctx()
        .lazy(t.clone())
        .filter(col("x").is_not_null())
        .unwrap()
        .cache()
        .unwrap();
    // The cached frame scans a table, not the filter.
    assert!(!cached.explain().contains("Filter"), "{}", cached.explain());
    let a = cached.agg([sum("x")]).unwrap().collect().unwrap();
    let b = cached.select(["x"]).unwrap().collect().unwrap();
    assert_eq!(a.num_rows(), 1);
    assert_eq!(b.num_rows(), 5);

    let all = rows(&t);
    let s1 = rows(
        &ctx()
            .lazy(t.clone())
            .sample(4, 7)
            .unwrap()
            .collect()
            .unwrap(),
    );
    let s2 = rows(
        &ctx()
            .lazy(t.clone())
            .sample(4, 7)
            .unwrap()
            .collect()
            .unwrap(),
    );
    assert_eq!(s1, s2);
    assert_eq!(s1.len(), 4);
    // Distinct input rows, in input order.
    let positions: Vec<usize> = s1
        .iter()
        .map(|r| all.iter().position(|a| a == r).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let every = ctx().lazy(t).sample(100, 1).unwrap().collect().unwrap();
    assert_eq!(rows(&every), all);
}

#[test]
fn describe_matches_a_naive_reference() {
    let t = sample();
    let d = ctx().lazy(t.clone()).describe().unwrap();
    let b = one_batch(&d);
    let stats: Vec<&str> = b.column(0).as_string::<i32>().iter().flatten().collect();
    assert_eq!(
        stats,
        vec![
            "count",
            "null_count",
            "mean",
            "std",
            "min",
            "25%",
            "50%",
            "75%",
            "max"
        ]
    );
    let x: Vec<Option<f64>> = b.column(2).as_primitive::<Float64Type>().iter().collect();
    let mut vals: Vec<f64> = rows(&t)
        .iter()
        .filter_map(|r| r.1)
        .map(|v| v as f64)
        .collect();
    vals.sort_by(f64::total_cmp);
    let n = vals.len() as f64;
    let mean = vals.iter().sum::<f64>() / n;
    let std = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let q = |p: f64| {
        let pos = p * (n - 1.0);
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        vals[lo] + (vals[hi] - vals[lo]) * (pos - lo as f64)
    };
    let want = [
        n,
        2.0,
        mean,
        std,
        vals[0],
        q(0.25),
        q(0.5),
        q(0.75),
        vals[vals.len() - 1],
    ];
    for (got, want) in x.iter().zip(want) {
        assert!(
            got.is_some_and(|g| (g - want).abs() < 1e-9),
            "{got:?} vs {want}"
        );
    }
    // A string column gets the counts only.
    let k: Vec<Option<f64>> = b.column(1).as_primitive::<Float64Type>().iter().collect();
    assert_eq!(&k[..2], &[Some(6.0), Some(1.0)]);
    assert!(k[2..].iter().all(Option::is_none));
}

#[test]
fn when_then_otherwise_takes_names_and_literals() {
    let t = sample();
    let out = ctx()
        .lazy(t.clone())
        .select([parframe_core::when(col("x").gt(10), 1)
            .when(col("x").is_null(), "y")
            .otherwise(0)
            .alias("c")])
        .unwrap()
        .collect()
        .unwrap();
    let b = one_batch(&out);
    let got: Vec<Option<i64>> = b.column(0).as_primitive::<Int64Type>().iter().collect();
    let want: Vec<Option<i64>> = rows(&t)
        .iter()
        .map(|(_, x, y)| match x {
            Some(x) if *x > 10 => Some(1),
            None => *y,
            Some(_) => Some(0),
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn window_aggregates_over_expressions_match_a_naive_reference() {
    use parframe_exec::window::{AggOver, Window};
    let t = sample();
    let w = Window::new().partition_by(["k"]);
    let out = ctx()
        .lazy(t.clone())
        .with_window_columns([
            (col("x") * col("y")).sum().over(w.clone()).unwrap(),
            col("x")
                .gt(15)
                .mean()
                .over(w.clone())
                .unwrap()
                .alias("late"),
            col("x").sum().over(w).unwrap().alias("total"),
        ])
        .unwrap()
        .sort(["k", "x", "y"])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        out.column_names(),
        vec!["k", "x", "y", "sum_x", "late", "total"]
    );
    let b = one_batch(&out);
    let xy = b.column(3).as_primitive::<Int64Type>();
    let late = b.column(4).as_primitive::<Float64Type>();
    let total = b.column(5).as_primitive::<Int64Type>();
    let all = rows(&t);
    for (i, (k, _, _)) in rows(&out).iter().enumerate() {
        let part: Vec<&Row> = all.iter().filter(|r| &r.0 == k).collect();
        let prods: Vec<i64> = part.iter().filter_map(|r| Some(r.1? * r.2?)).collect();
        let want = (!prods.is_empty()).then(|| prods.iter().sum::<i64>());
        assert_eq!(xy.is_valid(i).then(|| xy.value(i)), want);
        let xs: Vec<i64> = part.iter().filter_map(|r| r.1).collect();
        let share = (!xs.is_empty())
            .then(|| xs.iter().filter(|x| **x > 15).count() as f64 / xs.len() as f64);
        assert_eq!(late.is_valid(i).then(|| late.value(i)), share);
        let sum = (!xs.is_empty()).then(|| xs.iter().sum::<i64>());
        assert_eq!(total.is_valid(i).then(|| total.value(i)), sum);
    }
}
