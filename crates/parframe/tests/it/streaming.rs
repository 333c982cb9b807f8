use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parframe::agg;
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
    let (written, total) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (seen2, written2, total2) = (seen.clone(), written.clone(), total.clone());
    let c = Context::builder()
        .threads(2)
        .chunk_rows(256)
        .on_progress(move |p| {
            seen2.fetch_max(p.rows_read, Ordering::Relaxed);
            written2.fetch_max(p.rows_written, Ordering::Relaxed);
            if let Some(t) = p.rows_total {
                total2.store(t, Ordering::Relaxed);
            }
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
    // Progress: rows read of the footer's total, and rows the sink wrote.
    assert_eq!(seen.load(Ordering::Relaxed), 20_000);
    assert_eq!(total.load(Ordering::Relaxed), 20_000);
    assert_eq!(written.load(Ordering::Relaxed), 20_000);
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

/// A filter on a column the file is sorted by skips the row groups whose
/// statistics rule them out (only the matching ones are decoded), and the
/// answer is the same as without statistics; so does a file set.
#[test]
fn parquet_row_groups_are_pruned_by_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample(10_000);
    let pq = dir.path().join("t.parquet");
    // 20 row groups of 500 ids each, in id order.
    write_parquet(&t, &pq, &ParquetWriteOptions::default().row_group_rows(500)).unwrap();
    let c = ctx(256);
    let run = |lf: LazyFrame, f: Expr| {
        let (out, stats) = lf
            .filter(f)
            .unwrap()
            .select([col("id"), col("name")])
            .unwrap()
            .collect_with_stats()
            .unwrap();
        // The rows the scan decoded: its operator's input (an in-memory
        // table has no scan).
        let scan = stats
            .operators
            .iter()
            .find(|o| o.name.starts_with("Scan"))
            .map(|o| o.rows_in);
        (out, scan)
    };
    for (f, groups) in [
        (col("id").gt_eq(lit(9_600i64)), 1u64),
        (col("id").lt(lit(1_000i64)), 2),
        (col("id").eq(lit(4_321i64)), 1),
        (
            col("id")
                .lt(lit(400i64))
                .or(col("id").gt(lit(9_900i64)))
                .and(col("name").not_eq(lit("n3"))),
            2,
        ),
        (col("id").gt(lit(20_000i64)), 0),
    ] {
        let (want, _) = run(c.lazy(t.clone()), f.clone());
        let (got, read) = run(c.scan_parquet(&pq).unwrap(), f.clone());
        assert_eq!(
            got.to_batch().unwrap().columns(),
            want.to_batch().unwrap().columns(),
            "{f:?}"
        );
        assert_eq!(read, Some(groups * 500), "{f:?}: rows read");
    }
    // A filter statistics cannot decide reads everything.
    let (_, read) = run(
        c.scan_parquet(&pq).unwrap(),
        (col("id") % lit(7i64)).eq(lit(0i64)),
    );
    assert_eq!(read, Some(10_000));

    // Two files: the statistics of each are used.
    let sub = dir.path().join("set");
    std::fs::create_dir(&sub).unwrap();
    for (i, part) in [t.slice(0, 5_000), t.slice(5_000, 5_000)]
        .iter()
        .enumerate()
    {
        let p = sub.join(format!("part-{i}.parquet"));
        write_parquet(
            part,
            &p,
            &ParquetWriteOptions::default().row_group_rows(500),
        )
        .unwrap();
    }
    let pattern = sub.join("part-*.parquet");
    let f = col("id").gt_eq(lit(9_000i64));
    let (got, read) = run(
        c.scan(parframe::open_sources(pattern.to_str().unwrap()).unwrap()),
        f.clone(),
    );
    let (want, _) = run(c.lazy(t.clone()), f);
    assert_eq!(
        got.to_batch().unwrap().columns(),
        want.to_batch().unwrap().columns()
    );
    assert_eq!(read, Some(1_000));
}

/// Filters evaluated while the Parquet file is decoded (late
/// materialization) give what filtering after decoding gives, with or
/// without the filter columns in the output, under a limit and under an
/// aggregate; the scan reports the rows it read and the rows that passed.
#[test]
fn late_materialization_matches_filtering_after_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample(20_000);
    let pq = dir.path().join("t.parquet");
    write_parquet(
        &t,
        &pq,
        &ParquetWriteOptions::default().row_group_rows(3_000),
    )
    .unwrap();
    let late = ctx(1_000);
    let early = Context::builder()
        .threads(2)
        .chunk_rows(1_000)
        .late_materialization(false)
        .build()
        .unwrap();
    type Query = Box<dyn Fn(LazyFrame) -> LazyFrame>;
    let queries: Vec<(&str, Query)> = vec![
        (
            "filter column not produced",
            Box::new(|lf: LazyFrame| {
                lf.filter(col("x").lt(lit(2.0)))
                    .unwrap()
                    .select([col("id"), col("name")])
                    .unwrap()
            }),
        ),
        (
            "filter column produced too",
            Box::new(|lf: LazyFrame| {
                lf.filter(col("x").lt(lit(2.0)).and(col("flag").is_not_null()))
                    .unwrap()
                    .select([col("id"), col("x"), col("flag")])
                    .unwrap()
            }),
        ),
        (
            "a limit",
            Box::new(|lf: LazyFrame| {
                lf.filter(col("name").eq(lit("n3")))
                    .unwrap()
                    .select([col("id")])
                    .unwrap()
                    .limit(25)
            }),
        ),
        (
            "an aggregate",
            Box::new(|lf: LazyFrame| {
                lf.filter(col("flag").eq(lit(true)).or(col("x").gt(lit(13.0))))
                    .unwrap()
                    .group_by([col("name")])
                    .agg([agg::sum("id").alias("s"), agg::count_rows().alias("n")])
                    .unwrap()
                    .sort([SortKey::asc("name")])
                    .unwrap()
            }),
        ),
    ];
    for (what, q) in &queries {
        let (want, _) = q(early.scan_parquet(&pq).unwrap())
            .collect_with_stats()
            .unwrap();
        let (got, stats) = q(late.scan_parquet(&pq).unwrap())
            .collect_with_stats()
            .unwrap();
        assert_eq!(got.to_batch().unwrap(), want.to_batch().unwrap(), "{what}");
        let scan = stats
            .operators
            .iter()
            .find(|o| o.name.starts_with("Scan"))
            .unwrap();
        if *what != "a limit" {
            assert_eq!(scan.rows_in, 20_000, "{what}: rows read");
        }
        assert!(scan.rows_out < scan.rows_in, "{what}: {scan:?}");
    }
}
