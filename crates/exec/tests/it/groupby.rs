//! Group-by aggregation against a naive BTreeMap reference.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_cast::display::array_value_to_string;
use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;
use parframe_core::{Table, col, table};
use parframe_exec::Context;
use parframe_exec::agg::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn ctx(threads: usize, chunk_rows: usize) -> Context {
    Context::builder()
        .threads(threads)
        .chunk_rows(chunk_rows)
        .partition_groups(chunk_rows)
        .build()
        .unwrap()
}

fn shared_ctx() -> &'static Context {
    static C: OnceLock<Context> = OnceLock::new();
    C.get_or_init(|| ctx(2, 1 << 20))
}

/// A reference value of an input cell.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum V {
    I(i64),
    F(f64),
}

impl V {
    fn f(&self) -> f64 {
        match self {
            V::I(i) => *i as f64,
            V::F(f) => *f,
        }
    }
}

/// Reads row `i` of column `a` as a key string ("null" for nulls).
fn key_str(a: &ArrayRef, i: usize) -> String {
    if a.is_null(i) {
        "null".into()
    } else {
        array_value_to_string(a, i).unwrap()
    }
}

fn values(a: &ArrayRef) -> Vec<Option<V>> {
    match a.data_type() {
        DataType::Float64 => a
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map(V::F))
            .collect(),
        _ => {
            let a = arrow_cast::cast(a, &DataType::Int64).unwrap();
            a.as_primitive::<arrow_array::types::Int64Type>()
                .iter()
                .map(|v| v.map(V::I))
                .collect()
        }
    }
}

/// The reference result of one aggregate over a group's values (in order).
fn reference(func: &AggFunc, vals: &[Option<V>], other: &[Option<V>]) -> Option<f64> {
    let nn: Vec<f64> = vals.iter().flatten().map(|v| v.f()).collect();
    let n = nn.len() as f64;
    let var = || {
        (nn.len() > 1).then(|| {
            let m = nn.iter().sum::<f64>() / n;
            nn.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
        })
    };
    let q = |q: f64| {
        let mut s = nn.clone();
        s.sort_by(|a, b| a.total_cmp(b));
        (!s.is_empty()).then(|| {
            let idx = q * (s.len() - 1) as f64;
            let lo = idx.floor() as usize;
            let hi = idx.ceil() as usize;
            s[lo] + (s[hi] - s[lo]) * (idx - lo as f64)
        })
    };
    match func {
        AggFunc::CountRows => Some(vals.len() as f64),
        AggFunc::Count(_) => Some(n),
        AggFunc::Sum(_) => (!nn.is_empty()).then(|| nn.iter().sum()),
        AggFunc::Mean(_) => (!nn.is_empty()).then(|| nn.iter().sum::<f64>() / n),
        AggFunc::Min(_) => nn.iter().copied().reduce(f64::min),
        AggFunc::Max(_) => nn.iter().copied().reduce(f64::max),
        AggFunc::First(_) => nn.first().copied(),
        AggFunc::Last(_) => nn.last().copied(),
        AggFunc::Median(_) => q(0.5),
        AggFunc::Quantile(_, p) => q(*p),
        AggFunc::Var(_) => var(),
        AggFunc::Std(_) => var().map(f64::sqrt),
        AggFunc::NUnique(_) => {
            let s: BTreeSet<u64> = nn.iter().map(|x| x.to_bits()).collect();
            Some(s.len() as f64)
        }
        AggFunc::Corr(..) => {
            let pairs: Vec<(f64, f64)> = vals
                .iter()
                .zip(other)
                .filter_map(|(a, b)| Some((a.as_ref()?.f(), b.as_ref()?.f())))
                .collect();
            (pairs.len() > 1).then(|| {
                let n = pairs.len() as f64;
                let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
                let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
                let sxy: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
                let sxx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
                let syy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
                sxy / (sxx * syy).sqrt()
            })
        }
        _ => unreachable!(),
    }
}

fn top_ref(vals: &[Option<V>], k: usize, top: bool) -> Option<Vec<f64>> {
    let mut nn: Vec<f64> = vals.iter().flatten().map(|v| v.f()).collect();
    nn.sort_by(|a, b| if top { b.total_cmp(a) } else { a.total_cmp(b) });
    nn.truncate(k);
    (!nn.is_empty()).then_some(nn)
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => {
            (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()))
        }
        _ => false,
    }
}

/// Runs `funcs` grouped by `keys` and checks every value against the reference.
fn check(c: &Context, t: &Table, keys: &[&str], funcs: &[AggFunc]) {
    let aggs: Vec<AggExpr> = funcs
        .iter()
        .enumerate()
        .map(|(i, f)| AggExpr::from(f.clone()).alias(format!("a{i}")))
        .collect();
    let out = c
        .lazy(t.clone())
        .group_by(keys.iter().map(|k| col(*k)))
        .agg(aggs)
        .unwrap()
        .collect()
        .unwrap();
    let input = t.to_batch().unwrap();
    // Reference groups.
    let key_cols: Vec<ArrayRef> = keys.iter().map(|k| t.column(k).unwrap()).collect();
    let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for i in 0..input.num_rows() {
        let k: Vec<String> = key_cols.iter().map(|a| key_str(a, i)).collect();
        groups.entry(k).or_default().push(i);
    }
    if keys.is_empty() && groups.is_empty() {
        groups.insert(vec![], vec![]);
    }
    assert_eq!(out.num_rows(), groups.len(), "groups of {keys:?}");
    let out_b = out.to_batch().unwrap();
    let out_keys: Vec<ArrayRef> = keys.iter().map(|k| out.column(k).unwrap()).collect();
    let mut seen = BTreeSet::new();
    for r in 0..out_b.num_rows() {
        let k: Vec<String> = out_keys.iter().map(|a| key_str(a, r)).collect();
        let rows = groups
            .get(&k)
            .unwrap_or_else(|| panic!("unexpected group {k:?}"));
        assert!(seen.insert(k.clone()), "group {k:?} twice");
        for (i, f) in funcs.iter().enumerate() {
            let cols = f.columns();
            let col_vals = |name: &str| -> Vec<Option<V>> {
                let all = values(&t.column(name).unwrap());
                rows.iter().map(|&r| all[r].clone()).collect()
            };
            let vals = cols
                .first()
                .map(|c| col_vals(c))
                .unwrap_or_else(|| vec![None; rows.len()]);
            let got = out.column(&format!("a{i}")).unwrap();
            match f {
                AggFunc::TopK(_, k) | AggFunc::BottomK(_, k) => {
                    let want = top_ref(&vals, *k, matches!(f, AggFunc::TopK(..)));
                    let l = got.as_list::<i32>();
                    let g = (!l.is_null(r)).then(|| {
                        values(&l.value(r))
                            .into_iter()
                            .map(|v| v.unwrap().f())
                            .collect::<Vec<_>>()
                    });
                    assert_eq!(g, want, "{f} of group {k:?}");
                }
                _ => {
                    let other = cols.get(1).map(|c| col_vals(c)).unwrap_or_default();
                    let want = reference(f, &vals, &other);
                    let g = values(&got)[r].as_ref().map(V::f);
                    assert!(
                        close(g, want),
                        "{f} of group {k:?}: got {g:?}, want {want:?}"
                    );
                }
            }
        }
    }
}

fn all_funcs(v: &str) -> Vec<AggFunc> {
    vec![
        AggFunc::CountRows,
        AggFunc::Count(v.into()),
        AggFunc::Sum(v.into()),
        AggFunc::Mean(v.into()),
        AggFunc::Min(v.into()),
        AggFunc::Max(v.into()),
        AggFunc::First(v.into()),
        AggFunc::Last(v.into()),
        AggFunc::Median(v.into()),
        AggFunc::Quantile(v.into(), 0.3),
        AggFunc::Var(v.into()),
        AggFunc::Std(v.into()),
        AggFunc::NUnique(v.into()),
        AggFunc::TopK(v.into(), 2),
        AggFunc::BottomK(v.into(), 3),
        AggFunc::Corr(v.into(), "f".into()),
    ]
}

type Row = (Option<i64>, Option<String>, Option<i64>, Option<f64>);

fn make_table(rows: &[Row], chunk: usize) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k1", DataType::Int32, true),
        Field::new("k2", DataType::Utf8, true),
        Field::new("v", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
    ]));
    let chunks = rows
        .chunks(chunk.max(1))
        .map(|c| {
            let k1: arrow_array::Int32Array = c.iter().map(|r| r.0.map(|x| x as i32)).collect();
            let k2: StringArray = c.iter().map(|r| r.1.clone()).collect();
            let v: Int64Array = c.iter().map(|r| r.2).collect();
            let f: Float64Array = c.iter().map(|r| r.3).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(k1), Arc::new(k2), Arc::new(v), Arc::new(f)],
            )
            .unwrap()
        })
        .collect();
    Table::try_new(schema, chunks).unwrap()
}

fn row_strategy() -> impl Strategy<Value = Row> {
    (
        proptest::option::weighted(0.9, 0i64..4),
        proptest::option::weighted(
            0.9,
            prop::sample::select(vec!["a", "b", "cc"]).prop_map(String::from),
        ),
        proptest::option::weighted(0.8, -50i64..50),
        proptest::option::weighted(0.8, -10.0f64..10.0),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn every_aggregate_matches_reference(rows in prop::collection::vec(row_strategy(), 0..120), chunk in 1usize..40) {
        let t = make_table(&rows, chunk);
        let c = ctx(2, chunk.max(1));
        for keys in [vec!["k1"], vec!["k2"], vec!["k1", "k2"], vec![]] {
            check(&c, &t, &keys, &all_funcs("v"));
            check(&c, &t, &keys, &all_funcs("f"));
        }
    }
}

/// A small G1-like table (db-benchmark columns), local so the tests do not
/// depend on the bench crate.
fn g1_small(rows: usize, k: usize, seed: u64) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let nk = (rows / k).max(1);
    let mut s = |hi: usize, w: usize| -> Vec<String> {
        (0..rows)
            .map(|_| format!("id{:0w$}", rng.random_range(1..=hi), w = w))
            .collect()
    };
    let id1 = s(k, 3);
    let id2 = s(k, 3);
    let id3 = s(nk, 10);
    let mut i = |hi: i64| -> Vec<i64> { (0..rows).map(|_| rng.random_range(1..=hi)).collect() };
    let id4 = i(k as i64);
    let id5 = i(k as i64);
    let id6 = i(nk as i64);
    let v1 = i(5);
    let v2 = i(15);
    let v3: Vec<f64> = (0..rows)
        .map(|_| (rng.random_range(0.0..100.0f64) * 1e6).round() / 1e6)
        .collect();
    table!(
        "id1" => id1, "id2" => id2, "id3" => id3, "id4" => id4, "id5" => id5,
        "id6" => id6, "v1" => v1, "v2" => v2, "v3" => v3
    )
    .unwrap()
    .rechunk(97)
    .unwrap()
}

#[test]
fn db_benchmark_questions_match_reference() {
    let t = g1_small(3000, 10, 7);
    let c = ctx(2, 256);
    let s = |x: &str| x.to_string();
    // q1..q6, q8, q10 via the generic checker.
    check(&c, &t, &["id1"], &[AggFunc::Sum(s("v1"))]);
    check(&c, &t, &["id1", "id2"], &[AggFunc::Sum(s("v1"))]);
    check(
        &c,
        &t,
        &["id3"],
        &[AggFunc::Sum(s("v1")), AggFunc::Mean(s("v3"))],
    );
    check(
        &c,
        &t,
        &["id4"],
        &[
            AggFunc::Mean(s("v1")),
            AggFunc::Mean(s("v2")),
            AggFunc::Mean(s("v3")),
        ],
    );
    check(
        &c,
        &t,
        &["id6"],
        &[
            AggFunc::Sum(s("v1")),
            AggFunc::Sum(s("v2")),
            AggFunc::Sum(s("v3")),
        ],
    );
    check(
        &c,
        &t,
        &["id4", "id5"],
        &[AggFunc::Median(s("v3")), AggFunc::Std(s("v3"))],
    );
    check(&c, &t, &["id6"], &[AggFunc::TopK(s("v3"), 2)]);
    check(
        &c,
        &t,
        &["id1", "id2", "id3", "id4", "id5", "id6"],
        &[AggFunc::Sum(s("v3")), AggFunc::CountRows],
    );
    // q7: max(v1) - min(v2) by id3, and q9: corr(v1, v2)^2 by id2, id4.
    let q7 = c
        .lazy(t.clone())
        .group_by([col("id3")])
        .agg([
            (max("v1") - min("v2")).alias("range_v1_v2"),
            max("v1"),
            min("v2").alias("mn"),
        ])
        .unwrap()
        .collect()
        .unwrap();
    let r = values(&q7.column("range_v1_v2").unwrap());
    let a = values(&q7.column("v1").unwrap());
    let b = values(&q7.column("mn").unwrap());
    for i in 0..q7.num_rows() {
        assert_eq!(
            r[i].as_ref().unwrap().f(),
            a[i].as_ref().unwrap().f() - b[i].as_ref().unwrap().f()
        );
    }
    check(
        &c,
        &t,
        &["id3"],
        &[AggFunc::Max(s("v1")), AggFunc::Min(s("v2"))],
    );
    let q9 = c
        .lazy(t.clone())
        .group_by([col("id2"), col("id4")])
        .agg([
            corr("v1", "v2").pow(2).alias("r2"),
            corr("v1", "v2").alias("r"),
        ])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        q9.schema().field_with_name("r2").unwrap().data_type(),
        &DataType::Float64
    );
    let r2 = values(&q9.column("r2").unwrap());
    let r = values(&q9.column("r").unwrap());
    for i in 0..q9.num_rows() {
        assert!(close(
            r2[i].as_ref().map(V::f),
            r[i].as_ref().map(|v| v.f().powi(2))
        ));
    }
    check(&c, &t, &["id2", "id4"], &[AggFunc::Corr(s("v1"), s("v2"))]);
}

#[test]
fn one_and_many_threads_agree() {
    let t = g1_small(2000, 5, 1);
    let run = |threads| {
        ctx(threads, 100)
            .lazy(t.clone())
            .group_by([col("id1"), col("id4")])
            .sorted(true)
            .agg([
                sum("v1"),
                first("v3").alias("f"),
                last("id3").alias("l"),
                median("v3").alias("m"),
            ])
            .unwrap()
            .collect()
            .unwrap()
            .to_batch()
            .unwrap()
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn sorted_output_is_ordered_by_keys() {
    let t =
        table!("k" => vec![Some(3i64), None, Some(1), Some(2), Some(1)], "v" => [1i64, 2, 3, 4, 5])
            .unwrap();
    let out = shared_ctx()
        .lazy(t)
        .group_by([col("k")])
        .sorted(true)
        .agg([sum("v")])
        .unwrap()
        .collect()
        .unwrap();
    let k = out.column("k").unwrap();
    let keys: Vec<String> = (0..k.len()).map(|i| key_str(&k, i)).collect();
    assert_eq!(keys, vec!["null", "1", "2", "3"]);
    let v = values(&out.column("v").unwrap());
    assert_eq!(
        v,
        vec![Some(V::I(2)), Some(V::I(8)), Some(V::I(4)), Some(V::I(1))]
    );
}

#[test]
fn empty_input() {
    let t = make_table(&[], 10);
    let c = shared_ctx();
    let out = c
        .lazy(t.clone())
        .group_by([col("k1")])
        .agg([sum("v")])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), 0);
    assert_eq!(out.column_names(), vec!["k1", "v"]);
    let out = c
        .lazy(t)
        .agg([count_rows(), sum("v"), mean("f").alias("m")])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), 1);
    assert_eq!(values(&out.column("count").unwrap()), vec![Some(V::I(0))]);
    assert!(out.column("v").unwrap().is_null(0));
    assert!(out.column("m").unwrap().is_null(0));
}

#[test]
fn all_null_column_one_group_and_unique_rows() {
    let rows: Vec<Row> = (0..50).map(|_| (Some(7), None, None, None)).collect();
    let t = make_table(&rows, 7);
    check(shared_ctx(), &t, &["k1"], &all_funcs("v"));
    let rows: Vec<Row> = (0..60)
        .map(|i| {
            (
                Some(i),
                Some(format!("s{i}")),
                Some(i * 3),
                Some(i as f64 / 7.0),
            )
        })
        .collect();
    let t = make_table(&rows, 8);
    check(shared_ctx(), &t, &["k1"], &all_funcs("v"));
    check(shared_ctx(), &t, &["k2", "k1"], &all_funcs("f"));
}

#[test]
fn nan_rule() {
    let t = table!(
        "k" => [1i64, 1, 1, 2, 2],
        "f" => [f64::NAN, 1.0, 3.0, f64::NAN, f64::NAN]
    )
    .unwrap();
    let out = shared_ctx()
        .lazy(t)
        .group_by([col("k")])
        .sorted(true)
        .agg([
            min("f").alias("mn"),
            max("f").alias("mx"),
            sum("f").alias("s"),
            median("f").alias("med"),
            n_unique("f").alias("nu"),
        ])
        .unwrap()
        .collect()
        .unwrap();
    let get = |c: &str| {
        values(&out.column(c).unwrap())
            .into_iter()
            .map(|v| v.unwrap().f())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("mn")[0], 1.0);
    assert_eq!(get("mx")[0], 3.0);
    assert!(get("mn")[1].is_nan() && get("mx")[1].is_nan());
    assert!(get("s")[0].is_nan());
    assert_eq!(get("med")[0], 3.0); // NaN ranks above numbers: [1, 3, NaN]
    assert_eq!(get("nu"), vec![3.0, 1.0]);
}

#[test]
fn sum_overflow_is_an_error_naming_the_column() {
    let t = table!("k" => [1i64, 1], "big" => [i64::MAX, 1]).unwrap();
    let e = shared_ctx()
        .lazy(t)
        .group_by([col("k")])
        .agg([sum("big")])
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(e.to_string().contains("sum(big)"), "{e}");
}

#[test]
fn type_errors_at_plan_time() {
    let t = table!("s" => ["a", "b"], "v" => [1i64, 2]).unwrap();
    let lf = shared_ctx().lazy(t);
    let e = lf.group_by([col("v")]).agg([mean("s")]).unwrap_err();
    assert!(matches!(e, Error::TypeMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains("mean(s)") && e.to_string().contains("Utf8"),
        "{e}"
    );
    let e = lf.agg([sum("s") - sum("v")]).unwrap_err();
    assert!(e.to_string().contains("sum(s)"), "{e}");
    let e = lf.agg([sum("v"), max("v")]).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    assert!(matches!(
        lf.agg([sum("nope")]).unwrap_err(),
        Error::ColumnNotFound { .. }
    ));
}

#[test]
fn unique_distinct_explain_and_pushdown() {
    let t =
        table!("a" => [1i64, 1, 2, 2], "b" => ["x", "x", "y", "z"], "c" => [0.5, 0.5, 1.0, 2.0])
            .unwrap();
    let lf = shared_ctx().lazy(t);
    assert_eq!(lf.unique("a").unwrap().collect().unwrap().num_rows(), 2);
    assert_eq!(lf.distinct().unwrap().collect().unwrap().num_rows(), 3);
    let g = lf
        .group_by([col("a")])
        .agg([sum("c").alias("total"), count_rows(), n_unique("b")])
        .unwrap();
    let e = g.explain();
    assert!(
        e.starts_with("Aggregate keys=[a] aggs=[sum(c) AS total, count(), n_unique(b)]"),
        "{e}"
    );
    // Aggregate output feeds a further pipeline.
    let out = g
        .filter(col("total").gt(parframe_core::lit(1.0)))
        .unwrap()
        .select([col("a"), col("b")])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), 1);
    assert_eq!(values(&out.column("b").unwrap()), vec![Some(V::I(2))]);
    // Expression keys.
    let out = lf
        .group_by([(col("a") * parframe_core::lit(10i64)).alias("a10")])
        .sorted(true)
        .agg([count_rows()])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        values(&out.column("a10").unwrap()),
        vec![Some(V::I(10)), Some(V::I(20))]
    );
}

#[test]
fn key_types_string_flavours_dates_and_bools() {
    use arrow_array::{BooleanArray, Date32Array, LargeStringArray, StringViewArray};
    let cols: Vec<(String, ArrayRef)> = vec![
        (
            "ls".into(),
            Arc::new(LargeStringArray::from(vec![
                Some("a"),
                None,
                Some("a"),
                Some("b"),
            ])),
        ),
        (
            "sv".into(),
            Arc::new(StringViewArray::from(vec![
                Some("x"),
                None,
                Some("x"),
                Some("x"),
            ])),
        ),
        (
            "d".into(),
            Arc::new(Date32Array::from(vec![Some(1), Some(1), None, Some(1)])),
        ),
        (
            "b".into(),
            Arc::new(BooleanArray::from(vec![
                Some(true),
                None,
                Some(true),
                Some(false),
            ])),
        ),
        ("v".into(), Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
    ];
    let t = Table::from_columns(cols).unwrap();
    check(shared_ctx(), &t, &["ls"], &[AggFunc::Sum("v".into())]);
    check(shared_ctx(), &t, &["sv"], &[AggFunc::Sum("v".into())]);
    check(
        shared_ctx(),
        &t,
        &["d"],
        &[AggFunc::Sum("v".into()), AggFunc::Max("d".into())],
    );
    check(shared_ctx(), &t, &["b", "ls"], &[AggFunc::Sum("v".into())]);
    let out = shared_ctx()
        .lazy(t)
        .group_by([col("d")])
        .agg([max("ls")])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.schema().field(0).data_type(), &DataType::Date32);
    assert_eq!(out.schema().field(1).data_type(), &DataType::LargeUtf8);
}

/// One output cell, compared with a tolerance for floats (merge order
/// changes the rounding of float sums).
#[derive(Debug)]
enum Cell {
    Num(Option<f64>),
    Text(String),
}

fn cells_close(a: &[Cell], b: &[Cell]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Cell::Num(x), Cell::Num(y)) => close(*x, *y),
            (Cell::Text(x), Cell::Text(y)) => x == y,
            _ => false,
        })
}

/// Runs `funcs` grouped by `keys` as a stream (the result is not reserved,
/// so a tiny budget limits only the aggregation), keyed by group.
fn grouped(
    c: &Context,
    t: &Table,
    keys: &[&str],
    funcs: &[AggFunc],
) -> BTreeMap<Vec<String>, Vec<Cell>> {
    let aggs: Vec<AggExpr> = funcs
        .iter()
        .enumerate()
        .map(|(i, f)| AggExpr::from(f.clone()).alias(format!("a{i}")))
        .collect();
    let lf = c
        .lazy(t.clone())
        .group_by(keys.iter().map(|k| col(*k)))
        .agg(aggs)
        .unwrap();
    let mut out = BTreeMap::new();
    for b in lf.stream().unwrap() {
        let b = b.unwrap();
        let kc: Vec<ArrayRef> = keys
            .iter()
            .map(|k| b.column_by_name(k).unwrap().clone())
            .collect();
        let ac: Vec<(ArrayRef, Option<Vec<Option<V>>>)> = (0..funcs.len())
            .map(|i| {
                let a = b.column_by_name(&format!("a{i}")).unwrap().clone();
                let nums = match a.data_type() {
                    DataType::List(_) | DataType::Utf8 => None,
                    _ => Some(values(&a)),
                };
                (a, nums)
            })
            .collect();
        for r in 0..b.num_rows() {
            let k: Vec<String> = kc.iter().map(|a| key_str(a, r)).collect();
            let cells = ac
                .iter()
                .map(|(a, nums)| match nums {
                    None => Cell::Text(key_str(a, r)),
                    Some(v) => Cell::Num(v[r].as_ref().map(V::f)),
                })
                .collect();
            assert!(out.insert(k.clone(), cells).is_none(), "group {k:?} twice");
        }
    }
    out
}

fn assert_same(
    got: &BTreeMap<Vec<String>, Vec<Cell>>,
    want: &BTreeMap<Vec<String>, Vec<Cell>>,
) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} groups, want {}", got.len(), want.len()));
    }
    for (k, w) in want {
        let g = got.get(k).ok_or_else(|| format!("group {k:?} missing"))?;
        if !cells_close(g, w) {
            return Err(format!("group {k:?}: got {g:?}, want {w:?}"));
        }
    }
    Ok(())
}

/// Many keys over wide ranges: most groups hold one to a few rows.
fn wide_table(rows: usize, seed: u64, chunk: usize) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows: Vec<Row> = (0..rows)
        .map(|_| {
            (
                Some(rng.random_range(0..(rows as i64 * 3 / 4).max(1))),
                (rng.random_range(0..10) > 0).then(|| format!("s{}", rng.random_range(0..3))),
                (rng.random_range(0..5) > 0).then(|| rng.random_range(-50i64..50)),
                (rng.random_range(0..5) > 0).then(|| rng.random_range(-10.0f64..10.0)),
            )
        })
        .collect();
    make_table(&rows, chunk)
}

#[test]
fn partitioned_parallel_merge_matches_one_thread() {
    // More groups than the serial-merge threshold: the two partials are
    // merged per hash partition in parallel.
    let t = wide_table(40_000, 7, 4096);
    let funcs = [
        AggFunc::CountRows,
        AggFunc::Sum("v".into()),
        AggFunc::Mean("f".into()),
        AggFunc::Min("k2".into()),
        AggFunc::First("v".into()),
        AggFunc::Last("f".into()),
        AggFunc::Median("f".into()),
        AggFunc::Std("v".into()),
        AggFunc::NUnique("k2".into()),
        AggFunc::TopK("v".into(), 2),
        AggFunc::Corr("v".into(), "f".into()),
    ];
    for keys in [vec!["k1"], vec!["k1", "k2"]] {
        let one = grouped(&ctx(1, 4096), &t, &keys, &funcs);
        assert!(one.len() > 20_000, "{}", one.len());
        let two = grouped(&ctx(2, 4096), &t, &keys, &funcs);
        assert_same(&two, &one).unwrap();
    }
}

fn budget_ctx(limit: u64, chunk_rows: usize, dir: &std::path::Path) -> Context {
    Context::builder()
        .threads(2)
        .chunk_rows(chunk_rows)
        .partition_groups(chunk_rows)
        .memory_limit(limit)
        .spill_dir(dir)
        .build()
        .unwrap()
}

#[test]
fn every_aggregate_spills_with_a_tenth_of_its_memory() {
    let t = wide_table(6000, 11, 500);
    let spill_parent = tempfile::tempdir().unwrap();
    for keys in [vec!["k1", "k2"], vec!["k1"]] {
        for v in ["v", "f", "k2"] {
            let funcs: Vec<AggFunc> = if v == "k2" {
                vec![
                    AggFunc::Min(v.into()),
                    AggFunc::Max(v.into()),
                    AggFunc::First(v.into()),
                    AggFunc::Last(v.into()),
                    AggFunc::NUnique(v.into()),
                    AggFunc::TopK(v.into(), 2),
                    AggFunc::Count(v.into()),
                ]
            } else {
                all_funcs(v)
            };
            let big = budget_ctx(1 << 34, 500, spill_parent.path());
            let want = grouped(&big, &t, &keys, &funcs);
            assert_eq!(big.spill_stats().files, 0);
            let need = big.memory_pool().peak();
            let small = budget_ctx(need / 10, 500, spill_parent.path());
            let got = grouped(&small, &t, &keys, &funcs);
            assert_same(&got, &want).unwrap_or_else(|e| panic!("{keys:?} {v}: {e}"));
            assert!(small.spill_stats().files > 0, "{keys:?} {v}: no spill");
            assert_eq!(small.spill_live().files, 0, "spill files left behind");
            let pool = small.memory_pool();
            assert_eq!(pool.used(), 0);
            assert!(
                pool.peak() <= pool.limit(),
                "{} > {}",
                pool.peak(),
                pool.limit()
            );
        }
    }
}

#[test]
fn job_stats_report_group_by_spills() {
    let t = wide_table(3000, 5, 300);
    let spill_parent = tempfile::tempdir().unwrap();
    let c = budget_ctx(64 << 10, 300, spill_parent.path());
    let mut s = c
        .lazy(t)
        .group_by([col("k1"), col("k2")])
        .agg([sum("v"), median("f")])
        .unwrap()
        .stream()
        .unwrap();
    let rows: usize = s.by_ref().map(|b| b.unwrap().num_rows()).sum();
    assert!(rows > 1000);
    let st = s.stats();
    assert!(st.spilled.files > 0 && st.spilled.rows > 0, "{st:?}");
    assert!(
        st.peak_reserved > 0 && st.peak_reserved <= 64 << 10,
        "{st:?}"
    );
}

fn wide_row_strategy() -> impl Strategy<Value = Row> {
    (
        proptest::option::weighted(0.95, 0i64..60),
        proptest::option::weighted(
            0.9,
            prop::sample::select(vec!["a", "b", "cc"]).prop_map(String::from),
        ),
        proptest::option::weighted(0.8, -50i64..50),
        proptest::option::weighted(0.8, -10.0f64..10.0),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn spilled_aggregation_matches_in_memory(
        rows in prop::collection::vec(wide_row_strategy(), 0..200),
        chunk in 4usize..40,
        kb in 12u64..48,
    ) {
        let t = make_table(&rows, chunk);
        let spill_parent = tempfile::tempdir().unwrap();
        let big = budget_ctx(1 << 34, chunk, spill_parent.path());
        let small = budget_ctx(kb << 10, chunk, spill_parent.path());
        for keys in [vec!["k1", "k2"], vec!["k1"], vec![]] {
            for v in ["v", "f"] {
                let want = grouped(&big, &t, &keys, &all_funcs(v));
                let got = grouped(&small, &t, &keys, &all_funcs(v));
                prop_assert!(assert_same(&got, &want).is_ok(), "{:?}", assert_same(&got, &want));
            }
        }
        if rows.len() >= 150 && chunk <= 10 && kb <= 16 {
            prop_assert!(small.spill_stats().files > 0, "no spill");
        }
        prop_assert_eq!(small.spill_live().files, 0);
        prop_assert_eq!(small.memory_pool().used(), 0);
        prop_assert!(small.memory_pool().peak() <= small.memory_pool().limit());
    }
}

/// Every key twice, half the table apart: `k = i % g`, `v = i`.
fn pairs_table(g: i64, chunk: usize) -> Table {
    let rows = 2 * g;
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
    ]));
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < rows {
        let end = (at + chunk as i64).min(rows);
        let k: Int64Array = (at..end).map(|i| i % g).collect();
        let v: Int64Array = (at..end).collect();
        chunks.push(RecordBatch::try_new(schema.clone(), vec![Arc::new(k), Arc::new(v)]).unwrap());
        at = end;
    }
    Table::try_new(schema, chunks).unwrap()
}

#[test]
fn partitions_that_do_not_fit_are_split_again() {
    let g = 20_000i64;
    let t = pairs_table(g, 1000);
    let plan = |c: &Context| {
        c.lazy(t.clone())
            .group_by([col("k")])
            .agg([sum("v"), count_rows().alias("n"), median("v").alias("m")])
            .unwrap()
    };
    let spill_parent = tempfile::tempdir().unwrap();
    let big = budget_ctx(1 << 34, 1000, spill_parent.path());
    let rows: usize = plan(&big)
        .stream()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(rows, g as usize);
    // A level-0 partition holds ~1/32 of the state: far more than this.
    let small = budget_ctx(big.memory_pool().peak() / 100, 1000, spill_parent.path());
    let mut s = plan(&small).stream().unwrap();
    let mut seen = 0;
    for b in s.by_ref() {
        let b = b.unwrap();
        let k = b
            .column_by_name("k")
            .unwrap()
            .as_primitive::<arrow_array::types::Int64Type>();
        let v = b
            .column_by_name("v")
            .unwrap()
            .as_primitive::<arrow_array::types::Int64Type>();
        let n = b
            .column_by_name("n")
            .unwrap()
            .as_primitive::<arrow_array::types::Int64Type>();
        let m = b.column_by_name("m").unwrap().as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            let key = k.value(i);
            assert_eq!((v.value(i), n.value(i)), (2 * key + g, 2), "key {key}");
            assert_eq!(m.value(i), (2 * key + g) as f64 / 2.0, "key {key}");
        }
        seen += b.num_rows();
    }
    assert_eq!(seen, g as usize);
    // Without re-partitioning the spill files would hold each key twice
    // (once per partial) plus once in the result file.
    let st = s.stats();
    assert!(
        st.spilled.rows > 3 * g as u64,
        "no partition was split again: {st:?}"
    );
    assert_eq!(small.spill_live().files, 0);
    assert_eq!(small.memory_pool().used(), 0);
    assert!(small.memory_pool().peak() <= small.memory_pool().limit());
}

#[test]
fn one_group_larger_than_the_budget_is_a_clear_error() {
    let t = pairs_table(1, 1).to_batch().unwrap();
    let k: Int64Array = (0..20_000).map(|_| 7).collect();
    let v: Int64Array = (0..20_000).collect();
    let t = Table::try_new(
        t.schema(),
        vec![RecordBatch::try_new(t.schema(), vec![Arc::new(k), Arc::new(v)]).unwrap()],
    )
    .unwrap();
    let spill_parent = tempfile::tempdir().unwrap();
    let c = budget_ctx(32 << 10, 1000, spill_parent.path());
    let lf = c.lazy(t).group_by([col("k")]).agg([median("v")]).unwrap();
    // The aggregation runs when the stream starts or on its first pull.
    let err = match lf.stream() {
        Err(e) => e,
        Ok(s) => s
            .map(|b| b.map(|b| b.num_rows()))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err(),
    };
    let msg = err.to_string();
    assert!(matches!(err, Error::ResourcesExhausted(_)), "{msg}");
    assert!(
        msg.contains("group-by partition") && msg.contains("memory limit"),
        "{msg}"
    );
    assert_eq!(c.spill_live().files, 0, "spill files left behind");
    assert_eq!(c.memory_pool().used(), 0);
}
