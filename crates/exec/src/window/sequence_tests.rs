//! Shift, cumulative and rolling expressions against a naive reference
//! computed row by row in input order (per partition with `over`), with
//! nulls in the values and in the partition keys, inputs in many chunks,
//! several windows in one call, and a budget small enough to spill.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use arrow_schema::DataType;
use parframe_core::{Table, col};
use proptest::prelude::*;

use super::*;
use crate::{Context, LazyFrame};

#[derive(Debug, Clone)]
struct Row {
    k: Option<i64>,
    o: i64,
    v: Option<i64>,
    f: Option<f64>,
    b: Option<bool>,
}

fn table(rows: &[Row], chunk: usize) -> Table {
    let cols: Vec<(String, ArrayRef)> = vec![
        (
            "id".into(),
            Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)),
        ),
        (
            "k".into(),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.k))),
        ),
        (
            "o".into(),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.o))),
        ),
        (
            "v".into(),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.v))),
        ),
        (
            "f".into(),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.f))),
        ),
        (
            "b".into(),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.b))),
        ),
    ];
    let whole = Table::from_columns(cols).unwrap();
    let Some(batch) = whole.chunks().first() else {
        return whole;
    };
    let mut chunks: Vec<RecordBatch> = Vec::new();
    let mut off = 0;
    while off < batch.num_rows() {
        let len = chunk.min(batch.num_rows() - off);
        chunks.push(batch.slice(off, len));
        off += len;
    }
    Table::try_new(whole.schema().clone(), chunks).unwrap()
}

/// One expression of the test: how to build it, and its reference over
/// the values of one partition in order.
struct Case {
    name: &'static str,
    column: &'static str,
    build: fn(Expr) -> SeqExpr,
    reference: fn(&[Option<f64>]) -> Vec<Option<f64>>,
}

use parframe_core::Expr;

fn shift(x: &[Option<f64>], n: i64) -> Vec<Option<f64>> {
    (0..x.len() as i64)
        .map(|i| {
            let j = i - n;
            if j >= 0 && j < x.len() as i64 {
                x[j as usize]
            } else {
                None
            }
        })
        .collect()
}

fn diff(x: &[Option<f64>], n: i64) -> Vec<Option<f64>> {
    let s = shift(x, n);
    x.iter()
        .zip(s)
        .map(|(a, b)| Some(a.as_ref()? - b?))
        .collect()
}

fn cum(x: &[Option<f64>], f: fn(f64, f64) -> f64) -> Vec<Option<f64>> {
    let mut acc: Option<f64> = None;
    x.iter()
        .map(|v| {
            let v = (*v)?;
            acc = Some(acc.map_or(v, |a| f(a, v)));
            acc
        })
        .collect()
}

fn rolling(x: &[Option<f64>], size: usize, min: usize, agg: fn(&[f64]) -> f64) -> Vec<Option<f64>> {
    (0..x.len())
        .map(|i| {
            let lo = (i + 1).saturating_sub(size);
            let vals: Vec<f64> = x[lo..=i].iter().flatten().copied().collect();
            (vals.len() >= min).then(|| agg(&vals))
        })
        .collect()
}

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}
fn mean(v: &[f64]) -> f64 {
    sum(v) / v.len() as f64
}
fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}
fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "shift1",
            column: "v",
            build: |e| e.shift(1),
            reference: |x| shift(x, 1),
        },
        Case {
            name: "shift_m2",
            column: "f",
            build: |e| e.shift(-2),
            reference: |x| shift(x, -2),
        },
        Case {
            name: "shift0",
            column: "v",
            build: |e| e.shift(0),
            reference: |x| x.to_vec(),
        },
        Case {
            name: "diff1",
            column: "v",
            build: |e| e.diff(1),
            reference: |x| diff(x, 1),
        },
        Case {
            name: "diff_m1",
            column: "f",
            build: |e| e.diff(-1),
            reference: |x| diff(x, -1),
        },
        Case {
            name: "cum_sum",
            column: "v",
            build: |e| e.cum_sum(),
            reference: |x| cum(x, |a, b| a + b),
        },
        Case {
            name: "cum_sum_bool",
            column: "b",
            build: |e| e.cum_sum(),
            reference: |x| cum(x, |a, b| a + b),
        },
        Case {
            name: "cum_min",
            column: "f",
            build: |e| e.cum_min(),
            reference: |x| cum(x, f64::min),
        },
        Case {
            name: "cum_max",
            column: "v",
            build: |e| e.cum_max(),
            reference: |x| cum(x, f64::max),
        },
        Case {
            name: "cum_count",
            column: "f",
            build: |e| e.cum_count(),
            reference: |x| {
                let mut n = 0.0;
                x.iter()
                    .map(|v| {
                        n += v.is_some() as u8 as f64;
                        Some(n)
                    })
                    .collect()
            },
        },
        Case {
            name: "rolling_sum3",
            column: "v",
            build: |e| e.rolling_sum(3),
            reference: |x| rolling(x, 3, 3, sum),
        },
        Case {
            name: "rolling_mean2_min1",
            column: "f",
            build: |e| e.rolling_mean(2).min_samples(1),
            reference: |x| rolling(x, 2, 1, mean),
        },
        Case {
            name: "rolling_min4_min2",
            column: "v",
            build: |e| e.rolling_min(4).min_samples(2),
            reference: |x| rolling(x, 4, 2, min),
        },
        Case {
            name: "rolling_max1",
            column: "f",
            build: |e| e.rolling_max(1),
            reference: |x| rolling(x, 1, 1, max),
        },
        Case {
            name: "rolling_sum2_expr",
            column: "v2",
            build: |_| (col("v") * 2).rolling_sum(2),
            reference: |x| rolling(x, 2, 2, sum),
        },
    ]
}

fn values(rows: &[Row], column: &str) -> Vec<Option<f64>> {
    rows.iter()
        .map(|r| match column {
            "v" => r.v.map(|v| v as f64),
            "v2" => r.v.map(|v| 2.0 * v as f64),
            "f" => r.f,
            "b" => r.b.map(|b| b as u8 as f64),
            c => panic!("column {c}"),
        })
        .collect()
}

/// The partitions (all rows when `over` is false), as row ids in the
/// order the expression takes them: input order, or by `o` (ties in
/// input order) when `ordered`.
fn partitions(rows: &[Row], over: bool, ordered: bool) -> Vec<Vec<usize>> {
    let mut keys: Vec<Option<i64>> = Vec::new();
    let mut parts: Vec<Vec<usize>> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let k = if over { r.k } else { None };
        match keys.iter().position(|x| *x == k) {
            Some(p) => parts[p].push(i),
            None => {
                keys.push(k);
                parts.push(vec![i]);
            }
        }
    }
    if ordered {
        for p in &mut parts {
            p.sort_by_key(|&i| rows[i].o);
        }
    }
    parts
}

fn floats(t: &Table, name: &str) -> Vec<Option<f64>> {
    let a = t.column(name).unwrap();
    let a = arrow_cast::cast(&a, &DataType::Float64).unwrap();
    a.as_primitive::<Float64Type>().iter().collect()
}

/// The `id` of each output row (its input position), in output order.
fn ids(out: &Table) -> Vec<usize> {
    out.column("id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .map(|&i| i as usize)
        .collect()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())),
        (a, b) => a == b,
    }
}

fn ctx(memory: Option<u64>) -> Context {
    let rows = if memory.is_some() { 64 } else { 7 };
    let mut b = Context::builder().threads(2).chunk_rows(rows);
    if let Some(m) = memory {
        b = b.memory_limit(m);
    }
    b.build().unwrap()
}

/// Runs every case (with or without `over(k)`, in input order or by `o`)
/// in one call and checks each against the reference, and the row order:
/// input order without `over`, input order within partitions with it.
fn check(rows: &[Row], chunk: usize, over: bool, ordered: bool, memory: Option<u64>) {
    let ctx = ctx(memory);
    let lf: LazyFrame = ctx.lazy(table(rows, chunk));
    let exprs: Vec<SeqExpr> = cases()
        .iter()
        .map(|c| {
            let input = if c.column == "v2" {
                col("v")
            } else {
                col(c.column)
            };
            let mut e = (c.build)(input).alias(c.name);
            if over {
                e = e.over(["k"]);
            }
            if ordered {
                e = e.order_by(["o"]);
            }
            e
        })
        .collect();
    let out = lf.with_window_columns(exprs).unwrap().collect().unwrap();
    assert_eq!(out.num_rows(), rows.len());
    let ids = ids(&out);
    if !over && !ordered {
        assert_eq!(ids, (0..rows.len()).collect::<Vec<_>>(), "input order");
    }
    if !ordered {
        // Within a partition the rows keep their input order.
        for p in partitions(rows, over, false) {
            let pos: Vec<usize> = p
                .iter()
                .map(|i| ids.iter().position(|x| x == i).unwrap())
                .collect();
            assert!(pos.windows(2).all(|w| w[0] < w[1]), "partition order");
        }
    }
    for c in cases() {
        let got = floats(&out, c.name);
        let x = values(rows, c.column);
        let mut want = vec![None; rows.len()];
        for p in partitions(rows, over, ordered) {
            let vals: Vec<Option<f64>> = p.iter().map(|&i| x[i]).collect();
            for (i, v) in p.iter().zip((c.reference)(&vals)) {
                want[*i] = v;
            }
        }
        for (pos, &id) in ids.iter().enumerate() {
            assert!(
                close(got[pos], want[id]),
                "{} (over {over}, ordered {ordered}) at row {id}: got {:?}, want {:?}",
                c.name,
                got[pos],
                want[id]
            );
        }
    }
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::weighted(0.9, 0i64..3),
        0i64..4,
        prop::option::weighted(0.75, -20i64..20),
        prop::option::weighted(0.75, -5.0f64..5.0),
        prop::option::weighted(0.75, any::<bool>()),
    )
        .prop_map(|(k, o, v, f, b)| Row { k, o, v, f, b })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sequence_expressions_match_a_naive_reference(
        rows in prop::collection::vec(row(), 0..40),
        chunk in 1usize..9,
        over in any::<bool>(),
        ordered in any::<bool>(),
    ) {
        check(&rows, chunk, over, ordered, None);
    }
}

fn fixed_rows(n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| Row {
            k: if i % 11 == 0 {
                None
            } else {
                Some((i % 3) as i64)
            },
            o: (i * 7 % 5) as i64,
            v: (i % 4 != 0).then_some(i as i64 % 13 - 6),
            f: (i % 5 != 0).then_some(i as f64 / 3.0),
            b: (i % 6 != 0).then_some(i % 2 == 0),
        })
        .collect()
}

#[test]
fn every_combination_on_fixed_rows() {
    let rows = fixed_rows(60);
    for over in [false, true] {
        for ordered in [false, true] {
            check(&rows, 5, over, ordered, None);
        }
    }
}

#[test]
fn input_order_holds_when_partitions_spill() {
    // A budget far below the input: the single partition (no `over`) and
    // the buckets (with it) spill, and the order must survive.
    let rows = fixed_rows(6000);
    let limit = table(&rows, 500).memory_size() as u64 / 4;
    check(&rows, 500, false, false, Some(limit));
    check(&rows, 500, true, false, Some(limit));
}

#[test]
fn mixed_windows_in_one_call_keep_input_order() {
    // A partitioned window and an unpartitioned one in one call: the
    // second must still see input order (a hidden row index orders it).
    let rows = fixed_rows(50);
    let ctx = ctx(None);
    let out = ctx
        .lazy(table(&rows, 4))
        .with_window_columns([
            col("v").cum_sum().over(["k"]).alias("by_k"),
            col("v").cum_sum().alias("all"),
        ])
        .unwrap()
        .sort(["id"])
        .unwrap()
        .collect()
        .unwrap();
    let x = values(&rows, "v");
    assert_eq!(floats(&out, "all"), cum(&x, |a, b| a + b));
    let mut want = vec![None; rows.len()];
    for p in partitions(&rows, true, false) {
        let vals: Vec<Option<f64>> = p.iter().map(|&i| x[i]).collect();
        for (i, v) in p.iter().zip(cum(&vals, |a, b| a + b)) {
            want[*i] = v;
        }
    }
    assert_eq!(floats(&out, "by_k"), want);
    // No hidden column is left behind.
    assert_eq!(
        out.column_names(),
        vec!["id", "k", "o", "v", "f", "b", "by_k", "all"]
    );
}

#[test]
fn names_types_and_errors() {
    let rows = fixed_rows(10);
    let ctx = ctx(None);
    let lf = ctx.lazy(table(&rows, 3));
    // Unaliased, an expression keeps the input's name and replaces it.
    let out = lf
        .with_window_columns([col("v").cum_sum(), col("f").rolling_mean(2)])
        .unwrap();
    let s = out.schema();
    assert_eq!(
        s.field_with_name("v").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        s.field_with_name("f").unwrap().data_type(),
        &DataType::Float64
    );
    assert_eq!(s.fields().len(), 6);
    // Two outputs of one name.
    let e = lf
        .with_window_columns([col("v").shift(1), col("v").diff(1)])
        .unwrap_err();
    assert!(e.to_string().contains("'v' is produced twice"), "{e}");
    // Mixed with a plain window expression (via into()).
    let out = lf
        .with_window_columns::<WindowColumn>([
            row_number().over(Window::new()).alias("rn").into(),
            col("v").cum_count().alias("n").into(),
        ])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), 10);
    // Not a number: the error names the column.
    let e = lf
        .with_columns([parframe_core::lit("x").alias("s")])
        .unwrap()
        .with_window_columns([col("s").cum_max()])
        .unwrap_err();
    assert!(e.to_string().contains("'s'"), "{e}");
    assert!(
        lf.with_window_columns([col("v").rolling_sum(0)])
            .unwrap_err()
            .to_string()
            .contains("at least 1")
    );
}

/// `rolling_*_by` against a naive reference: for each row, the rows of its
/// partition whose `t` lies in `(t_i - span, t_i]`, over a microsecond
/// timestamp, a date and an integer `by`, nulls in `t` (their own window)
/// and in the values.
fn check_rolling_by(rows: &[(Option<i64>, Option<i64>, Option<i64>)], chunk: usize, over: bool) {
    use arrow_array::{Date32Array, TimestampMicrosecondArray};
    use parframe_plan::window::SequenceExt;
    const DAY_US: i64 = 86_400_000_000;
    let n = rows.len();
    let cols: Vec<(String, ArrayRef)> = vec![
        (
            "id".into(),
            Arc::new(Int64Array::from_iter_values(0..n as i64)),
        ),
        (
            "k".into(),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.0))),
        ),
        (
            "t".into(),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
        ),
        (
            "ts".into(),
            Arc::new(
                TimestampMicrosecondArray::from_iter(rows.iter().map(|r| r.1.map(|d| d * DAY_US)))
                    .with_timezone("UTC"),
            ),
        ),
        (
            "day".into(),
            Arc::new(Date32Array::from_iter(
                rows.iter().map(|r| r.1.map(|d| d as i32 + 19_000)),
            )),
        ),
        (
            "v".into(),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.2))),
        ),
    ];
    let whole = Table::from_columns(cols).unwrap();
    let chunks: Vec<RecordBatch> = match whole.chunks().first() {
        Some(b) => (0..b.num_rows())
            .step_by(chunk)
            .map(|off| b.slice(off, chunk.min(b.num_rows() - off)))
            .collect(),
        None => Vec::new(),
    };
    let t = Table::try_new(whole.schema().clone(), chunks).unwrap();
    // Name, expression, span in `t`'s units (days or counts), aggregate,
    // min_samples.
    type Build = fn(Expr) -> SeqExpr;
    type Agg = fn(&[f64]) -> f64;
    type SpanCase = (&'static str, Build, i64, Agg, usize);
    let cases: [SpanCase; 6] = [
        ("sum_ts_3d", |e| e.rolling_sum_by("ts", "3d"), 3, sum, 1),
        (
            "mean_day_2d",
            |e| e.rolling_mean_by("day", "2d"),
            2,
            mean,
            1,
        ),
        ("min_t_4i", |e| e.rolling_min_by("t", "4i"), 4, min, 1),
        (
            "max_ts_1d12h24h",
            |e| e.rolling_max_by("ts", "1d12h12h"),
            2,
            max,
            1,
        ),
        (
            "sum_t_2i_min2",
            |e| e.rolling_sum_by("t", "2i").min_samples(2),
            2,
            sum,
            2,
        ),
        (
            "mean_day_1w",
            |e| e.rolling_mean_by("day", "1w"),
            7,
            mean,
            1,
        ),
    ];
    let exprs: Vec<SeqExpr> = cases
        .iter()
        .map(|(name, build, ..)| {
            let e = build(col("v")).alias(*name);
            if over { e.over(["k"]) } else { e }
        })
        .collect();
    let out = ctx(None)
        .lazy(t)
        .with_window_columns(exprs)
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), n);
    let ids = ids(&out);
    for (name, _, span, agg, min_samples) in cases {
        let got = floats(&out, name);
        for (pos, &i) in ids.iter().enumerate() {
            let (k, ti, _) = rows[i];
            let vals: Vec<f64> = rows
                .iter()
                .filter(|r| !over || r.0 == k)
                .filter(|r| match (ti, r.1) {
                    (Some(ti), Some(tj)) => tj > ti - span && tj <= ti,
                    (None, None) => true,
                    _ => false,
                })
                .filter_map(|r| r.2.map(|v| v as f64))
                .collect();
            let want = (vals.len() >= min_samples).then(|| agg(&vals));
            assert!(
                close(got[pos], want),
                "{name} (over {over}) at row {i}: got {:?}, want {want:?}",
                got[pos]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn rolling_by_a_span_matches_a_naive_reference(
        rows in prop::collection::vec(
            (
                prop::option::weighted(0.9, 0i64..3),
                prop::option::weighted(0.9, 0i64..12),
                prop::option::weighted(0.8, -20i64..20),
            ),
            0..40,
        ),
        chunk in 1usize..9,
        over in any::<bool>(),
    ) {
        check_rolling_by(&rows, chunk, over);
    }
}

#[test]
fn rolling_by_refuses_what_it_cannot_span() {
    use parframe_plan::window::SequenceExt;
    let rows = [(Some(1), Some(1), Some(1))];
    let t = Table::from_columns(vec![
        (
            "t".to_string(),
            Arc::new(Int64Array::from(vec![rows[0].1])) as ArrayRef,
        ),
        (
            "v".to_string(),
            Arc::new(Int64Array::from(vec![rows[0].2])) as ArrayRef,
        ),
        (
            "f".to_string(),
            Arc::new(Float64Array::from(vec![Some(1.0)])) as ArrayRef,
        ),
    ])
    .unwrap();
    let lf = ctx(None).lazy(t);
    for (e, says) in [
        (
            col("v").rolling_sum_by("t", "3d"),
            "give the span as a count",
        ),
        (col("v").rolling_sum_by("t", "1mo"), "calendar unit"),
        (col("v").rolling_sum_by("t", "0i"), "must be positive"),
        (col("v").rolling_sum_by("t", "3x"), "unknown unit"),
        (
            col("v").rolling_sum_by("f", "3i"),
            "needs a timestamp, date or integer",
        ),
        (col("v").rolling_sum_by("nope", "3i"), "nope"),
    ] {
        let err = lf
            .with_window_columns([e])
            .and_then(|f| f.collect())
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{err}");
    }
}
