//! Joins end to end: files in, joined and aggregated, files out, in memory
//! and under a memory limit that makes them spill.

use parframe::agg;
use parframe::arrow::array::cast::AsArray;
use parframe::arrow::array::types::{Float64Type, Int64Type};
use parframe::prelude::*;
use parframe::{ParquetWriteOptions, SortKey};

/// A small db-benchmark-like pair: `x` with `id2` over 500 keys, `medium`
/// holding 90% of them once each.
fn tables(rows: i64) -> (Table, Table) {
    let x = table!(
        "id2" => (0..rows).map(|i| (i * 7919) % 500).collect::<Vec<_>>(),
        "id5" => (0..rows).map(|i| format!("id{}", (i * 7919) % 500)).collect::<Vec<_>>(),
        "v1" => (0..rows).map(|i| (i % 100) as f64 / 4.0).collect::<Vec<_>>(),
    )
    .unwrap();
    let medium = table!(
        "id2" => (50..500i64).collect::<Vec<_>>(),
        "id5" => (50..500).map(|i| format!("id{i}")).collect::<Vec<_>>(),
        "v2" => (50..500).map(|i| i as f64).collect::<Vec<_>>(),
    )
    .unwrap();
    (x, medium)
}

fn sum_f64(t: &Table, name: &str) -> f64 {
    t.chunks()
        .iter()
        .map(|c| {
            let i = c.schema().index_of(name).unwrap();
            c.column(i)
                .as_primitive::<Float64Type>()
                .iter()
                .flatten()
                .sum::<f64>()
        })
        .sum()
}

#[test]
fn parquet_join_matches_in_memory_and_spills_under_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (x, medium) = tables(20_000);
    let xp = dir.path().join("x.parquet");
    let mp = dir.path().join("medium.parquet");
    write_parquet(&x, &xp, &ParquetWriteOptions::default()).unwrap();
    write_parquet(&medium, &mp, &ParquetWriteOptions::default()).unwrap();

    let mem = Context::builder().threads(2).build().unwrap();
    let expect = mem
        .lazy(x.clone())
        .join(&mem.lazy(medium.clone()), ["id2"], ["id2"], JoinType::Inner)
        .unwrap()
        .collect()
        .unwrap();
    // 90% of x's keys are in medium.
    assert_eq!(expect.num_rows(), 18_000);

    // Files in, a budget far below the build side, file out.
    let spill = tempfile::tempdir().unwrap();
    let small = Context::builder()
        .threads(2)
        .chunk_rows(1024)
        .memory_limit(16 << 10)
        .spill_dir(spill.path())
        .build()
        .unwrap();
    let out = dir.path().join("joined.parquet");
    let joined = small
        .scan_parquet(&mp)
        .unwrap()
        .join(
            &small.scan_parquet(&xp).unwrap(),
            ["id5"],
            ["id5"],
            JoinType::Right,
        )
        .unwrap();
    let rows = joined
        .sink_parquet(&out, ParquetWriteOptions::default())
        .unwrap();
    assert_eq!(rows, 20_000, "a right join keeps every x row");
    assert!(small.spill_stats().files > 0, "nothing spilled");
    assert_eq!(small.spill_live().files, 0, "spill files left behind");
    assert!(small.memory_pool().peak() <= 16 << 10);

    let back = mem.scan_parquet(&out).unwrap().collect().unwrap();
    assert!((sum_f64(&back, "v1") - sum_f64(&x, "v1")).abs() < 1e-6);
    assert!((sum_f64(&back, "v2") - sum_f64(&expect, "v2")).abs() < 1e-6);
}

#[test]
fn join_then_group_by_and_sort() {
    let ctx = Context::builder()
        .threads(2)
        .chunk_rows(777)
        .build()
        .unwrap();
    let (x, medium) = tables(5_000);
    let out = ctx
        .lazy(x)
        .join(&ctx.lazy(medium), ["id2"], ["id2"], JoinType::Left)
        .unwrap()
        .group_by([col("id5")])
        .agg([agg::count_rows().alias("n"), agg::sum("v2").alias("s")])
        .unwrap()
        .sort([SortKey::asc("id5")])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), 500);
    let first = out.head(1);
    let c = first.chunks()[0].clone();
    assert_eq!(c.column(0).as_string::<i32>().value(0), "id0");
    assert_eq!(c.column(1).as_primitive::<Int64Type>().value(0), 10);
    assert!(
        c.column(2).is_null(0),
        "id0 is not in medium: its sum is null"
    );
}
