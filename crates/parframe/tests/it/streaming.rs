use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parframe::arrow::array::cast::AsArray;
use parframe::arrow::array::types::{Float64Type, Int64Type};
use parframe::prelude::*;

fn sample(rows: i64) -> Table {
    table!(
        "id" => (0..rows).collect::<Vec<_>>(),
        "x" => (0..rows).map(|i| (i % 97) as f64 / 7.0).collect::<Vec<_>>(),
        "name" => (0..rows).map(|i| format!("n{}", i % 13)).collect::<Vec<_>>(),
        "flag" => (0..rows).map(|i| if i % 5 == 0 { None } else { Some(i % 2 == 0) }).collect::<Vec<_>>(),
    )
    .unwrap()
}

fn ctx(chunk_rows: usize) -> Context {
    Context::builder()
        .threads(2)
        .chunk_rows(chunk_rows)
        .build()
        .unwrap()
}

/// The same plan over the three file formats, read with chunks far smaller
/// than the file, gives the same answer as over the in-memory table.
#[test]
fn plan_over_every_format_matches_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample(5000);
    let csv = dir.path().join("t.csv");
    let pq = dir.path().join("t.parquet");
    let ipc = dir.path().join("t.arrow");
    write_csv(&t, &csv, &CsvWriteOptions::default()).unwrap();
    write_parquet(&t, &pq, &ParquetWriteOptions::default().row_group_rows(700)).unwrap();
    write_ipc(&t.rechunk(333).unwrap(), &ipc).unwrap();

    let c = ctx(97);
    let plan = |lf: LazyFrame| {
        lf.filter(col("x").gt(lit(3.0)))
            .unwrap()
            .apply("score", ["id", "name"], |(id, name): (i64, &str)| {
                id * name.len() as i64
            })
            .unwrap()
            .select([col("id"), col("score")])
            .unwrap()
            .collect()
            .unwrap()
    };
    let want = plan(c.lazy(t));
    assert!(want.num_rows() > 1000);
    let csv_opts = CsvOptions::default().partition_bytes(4096);
    for got in [
        plan(c.scan_csv(&csv, csv_opts).unwrap()),
        plan(c.scan_parquet(&pq).unwrap()),
        plan(c.scan_ipc(&ipc).unwrap()),
    ] {
        // Same values; nullability may differ (CSV columns are nullable).
        assert_eq!(
            got.to_batch().unwrap().columns(),
            want.to_batch().unwrap().columns()
        );
        assert_eq!(got.column_names(), want.column_names());
        assert!(got.num_chunks() > 10, "chunks: {}", got.num_chunks());
    }
}

/// Only the columns a plan uses are decoded.
#[test]
fn explain_shows_projection_pushdown() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("t.parquet");
    write_parquet(&sample(10), &pq, &ParquetWriteOptions::default()).unwrap();
    let c = ctx(1000);
    let lf = c
        .scan_parquet(&pq)
        .unwrap()
        .filter(col("x").gt(lit(1.0)))
        .unwrap()
        .select([col("id")])
        .unwrap();
    let e = lf.explain();
    assert!(e.contains("columns=[id, x]"), "{e}");
    assert_eq!(lf.collect().unwrap().column_names(), vec!["id"]);
}

/// A file streamed through apply into a sink in small chunks never needs
/// the whole table: the sink sees every row once, in order.
#[test]
fn apply_streams_file_to_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.parquet");
    let dst = dir.path().join("out.parquet");
    write_parquet(
        &sample(20_000),
        &src,
        &ParquetWriteOptions::default().row_group_rows(1000),
    )
    .unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let seen2 = seen.clone();
    let c = Context::builder()
        .threads(2)
        .chunk_rows(256)
        .on_progress(move |p| {
            seen2.store(p.rows_read, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let rows = c
        .scan_parquet(&src)
        .unwrap()
        .apply("double", ["x"], |x: f64| x * 2.0)
        .unwrap()
        .sink_parquet(&dst, ParquetWriteOptions::default())
        .unwrap();
    assert_eq!(rows, 20_000);
    assert_eq!(seen.load(Ordering::Relaxed), 20_000);
    let back = c.read_parquet(&dst).unwrap();
    let d = back.column("double").unwrap();
    let x = back.column("x").unwrap();
    let (d, x) = (
        d.as_primitive::<Float64Type>(),
        x.as_primitive::<Float64Type>(),
    );
    assert!(
        d.values()
            .iter()
            .zip(x.values())
            .all(|(d, x)| *d == x * 2.0)
    );
    let ids = back.column("id").unwrap();
    let ids = ids.as_primitive::<Int64Type>();
    assert!(ids.values().iter().enumerate().all(|(i, v)| *v == i as i64));
}

#[test]
fn relational_basics() {
    let c = ctx(64);
    let out = c
        .lazy(sample(300))
        .with_columns([
            (col("x") * lit(2.0)).alias("x2"),
            col("name").str_len().alias("len"),
        ])
        .unwrap()
        .drop(["flag"])
        .unwrap()
        .rename([("id", "row")])
        .unwrap()
        .filter(
            col("name")
                .starts_with("n1")
                .and(col("row").lt(lit(200i64))),
        )
        .unwrap()
        .head(5)
        .collect()
        .unwrap();
    assert_eq!(out.column_names(), vec!["row", "x", "name", "x2", "len"]);
    assert_eq!(out.num_rows(), 5);
    let rows = out.column("row").unwrap();
    let rows: Vec<i64> = rows.as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(rows, vec![1, 10, 11, 12, 14]);
}
