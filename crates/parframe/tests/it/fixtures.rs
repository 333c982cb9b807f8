//! The checked-in fixtures of `datasets/fixtures/`: each file still holds
//! exactly what its generator makes (so a generator change that alters the
//! data is caught and the fixtures are regenerated on purpose), and the
//! join questions of db-benchmark give on them the answers a naive
//! nested-loop reference gives.

use std::collections::HashMap;
use std::path::PathBuf;

use parframe::arrow::array::cast::AsArray;
use parframe::arrow::array::types::{Float64Type, Int64Type};
use parframe::datasets::{G1, J1, J1Table, g1_name};
use parframe::prelude::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/fixtures")
        .join(name)
}

fn ctx() -> Context {
    Context::builder()
        .threads(2)
        .chunk_rows(512)
        .build()
        .unwrap()
}

/// Reads `<stem>.parquet` and `<stem>.csv` and checks both against `want`.
fn check_files(stem: &str, want: &Table) {
    let ctx = ctx();
    let want = want.to_batch().unwrap();
    let parquet = ctx
        .read_parquet(fixture(&format!("{stem}.parquet")))
        .unwrap();
    assert_eq!(parquet.to_batch().unwrap(), want, "{stem}.parquet");
    let csv = ctx
        .read_csv(
            fixture(&format!("{stem}.csv")),
            CsvOptions::default().has_header(true).schema(want.schema()),
        )
        .unwrap();
    assert_eq!(csv.to_batch().unwrap(), want, "{stem}.csv");
}

#[test]
fn g1_fixtures_match_the_generator() {
    for nas in [0, 5] {
        let g = G1::new(2000, 10).null_fraction(f64::from(nas) / 100.0);
        check_files(&g1_name(2000, 10, nas), &g.table().unwrap());
    }
}

#[test]
fn j1_fixtures_match_the_generator() {
    let j = J1::new(2000);
    for t in J1Table::ALL {
        check_files(&t.name(2000, 0), &j.table(t).unwrap());
    }
}

fn int_col(t: &Table, name: &str) -> Vec<Option<i64>> {
    t.column(name)
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

/// (rows, sum of v1, sum of v2) of `x` joined to `right` on `key`, by a
/// naive reference: count the right rows of each key, then walk `x`.
fn reference(x: &Table, right: &Table, key: &str, left_join: bool) -> (usize, f64, f64) {
    let (xk, rk) = (int_col(x, key), int_col(right, key));
    let x_v1 = x.column("v1").unwrap();
    let x_v1 = x_v1.as_primitive::<Float64Type>();
    let r_v2 = right.column("v2").unwrap();
    let r_v2 = r_v2.as_primitive::<Float64Type>();
    let mut by_key: HashMap<i64, Vec<f64>> = HashMap::new();
    for (k, v) in rk.iter().zip(r_v2.values()) {
        by_key.entry(k.unwrap()).or_default().push(*v);
    }
    let (mut rows, mut s1, mut s2) = (0, 0.0, 0.0);
    for (i, k) in xk.iter().enumerate() {
        let matches = k.and_then(|k| by_key.get(&k));
        match matches {
            Some(vs) => {
                rows += vs.len();
                s1 += x_v1.value(i) * vs.len() as f64;
                s2 += vs.iter().sum::<f64>();
            }
            None if left_join => {
                rows += 1;
                s1 += x_v1.value(i);
            }
            None => {}
        }
    }
    (rows, s1, s2)
}

fn sum(t: &Table, name: &str) -> f64 {
    t.column(name)
        .unwrap()
        .as_primitive::<Float64Type>()
        .iter()
        .flatten()
        .sum()
}

#[test]
fn db_benchmark_join_questions_on_the_fixtures() {
    let ctx = ctx();
    let read = |t: J1Table| {
        ctx.read_parquet(fixture(&format!("{}.parquet", t.name(2000, 0))))
            .unwrap()
    };
    let (x, small, medium, big) = (
        read(J1Table::X),
        read(J1Table::Small),
        read(J1Table::Medium),
        read(J1Table::Big),
    );
    // q1..q5 of db-benchmark (q4 joins on the string copy of id2, whose
    // answer is q2's).
    let questions = [
        (&small, "id1", "id1", JoinType::Inner),
        (&medium, "id2", "id2", JoinType::Inner),
        (&medium, "id2", "id2", JoinType::Left),
        (&medium, "id5", "id2", JoinType::Inner),
        (&big, "id3", "id3", JoinType::Inner),
    ];
    for (q, (right, on, ref_key, how)) in questions.into_iter().enumerate() {
        let got = ctx
            .lazy(x.clone())
            .join(&ctx.lazy(right.clone()), [on], [on], how)
            .unwrap()
            .collect()
            .unwrap();
        let (rows, s1, s2) = reference(&x, right, ref_key, how == JoinType::Left);
        assert_eq!(got.num_rows(), rows, "q{}", q + 1);
        assert!((sum(&got, "v1") - s1).abs() < 1e-6 * s1, "q{}", q + 1);
        assert!(
            (sum(&got, "v2") - s2).abs() < 1e-6 * s2.max(1.0),
            "q{}",
            q + 1
        );
    }
    // 90% of x's id3 keys are in big, each once on both sides.
    let q5 = reference(&x, &big, "id3", false).0;
    assert_eq!(q5, 1800);
}
