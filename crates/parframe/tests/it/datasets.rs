//! Hive-partitioned datasets end to end (issue #19's acceptance): a G1
//! table written partitioned by `id4` (100 partitions), read back with
//! `WHERE id4 = 7`: only that partition's files are read, and the rows
//! are the source's.

use std::sync::Arc;

use parframe::datasets::G1;
use parframe::prelude::*;
use parframe::{DatasetOptions, DatasetSource, SortKey};

/// The G1 columns in their order, sorted by every column: a canonical
/// form to compare row sets.
fn canonical(lf: LazyFrame) -> Table {
    let cols = ["id1", "id2", "id3", "id4", "id5", "id6", "v1", "v2", "v3"];
    lf.select(cols.map(col))
        .unwrap()
        .sort(cols.map(SortKey::asc))
        .unwrap()
        .collect()
        .unwrap()
        .rechunk(usize::MAX)
        .unwrap()
}

#[test]
fn partitioned_g1_round_trip_reads_only_the_filtered_partition() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g1_by_id4");
    let ctx = Context::builder().threads(2).build().unwrap();
    let n = 1_000_000;
    let g1 = G1::new(n, 100).chunk_rows(64 * 1024).table().unwrap();

    let written = ctx
        .lazy(g1.clone())
        .sink_parquet_partitioned(&out, &["id4"], ParquetWriteOptions::default())
        .unwrap();
    assert_eq!(written, n as u64);
    let dirs = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(dirs, 100);

    let src =
        Arc::new(DatasetSource::try_new(out.to_str().unwrap(), DatasetOptions::default()).unwrap());
    assert_eq!(src.partition_columns(), ["id4"]);
    let seven = ctx
        .scan(src.clone())
        .filter(col("id4").eq(lit(7i64)))
        .unwrap();
    // The scan's own statistics: it read the rows of one partition only.
    let (seven_rows, stats) = seven.clone().collect_with_stats().unwrap();
    let scan = stats
        .operators
        .iter()
        .find(|o| o.name.starts_with("Scan"))
        .unwrap();
    assert_eq!(scan.rows_in, seven_rows.num_rows() as u64, "{stats:?}");
    assert!(scan.rows_in < n as u64 / 50, "{}", scan.rows_in);
    let got = canonical(seven);
    // Only id4=7's files were read (one file was opened for the schema).
    let read = src.files_read();
    assert!(!read.is_empty());
    assert!(
        read.iter().all(|p| p.parent().unwrap().ends_with("id4=7")),
        "{read:?}"
    );
    // 100 partitions fit in the default 128 open files: one file each.
    let in_dir = std::fs::read_dir(out.join("id4=7")).unwrap().count();
    assert_eq!(in_dir, 1);
    assert_eq!(read.len(), 1);
    assert!(src.files_opened() <= 2, "{}", src.files_opened());

    let want = canonical(
        ctx.lazy(g1.clone())
            .filter(col("id4").eq(lit(7i64)))
            .unwrap(),
    );
    assert!(want.num_rows() > 500, "{}", want.num_rows());
    assert_eq!(got.num_rows(), want.num_rows());
    assert_eq!(got.chunks(), want.chunks());

    // All partitions: the whole table back.
    let all = canonical(ctx.scan(Arc::new(
        DatasetSource::try_new(out.to_str().unwrap(), DatasetOptions::default()).unwrap(),
    )));
    assert_eq!(all.chunks(), canonical(ctx.lazy(g1)).chunks());
}

/// SQL reads a dataset directory as a table and writes one with COPY.
#[test]
fn sql_reads_a_dataset_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let ctx = Context::builder().threads(2).build().unwrap();
    let t = table!("k" => [1i64, 2, 2, 3], "v" => [10i64, 20, 30, 40]).unwrap();
    ctx.lazy(t)
        .sink_parquet_partitioned(&out, &["k"], ParquetWriteOptions::default())
        .unwrap();
    let q = format!("SELECT sum(v) AS s FROM '{}' WHERE k = 2", out.display());
    let r = ctx.sql(&q).unwrap().collect().unwrap();
    assert_eq!(
        r.pretty().unwrap(),
        table!("s" => [50i64]).unwrap().pretty().unwrap()
    );
}

/// A dataset scan's pushed filters are evaluated while each file is
/// decoded (late materialization: over the files' columns, over the key,
/// and both) and give what filtering after decoding gives; the scan counts
/// every row of the files it read.
#[test]
fn dataset_scans_filter_while_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g1_by_id4");
    let ctx = Context::builder()
        .threads(2)
        .chunk_rows(1_000)
        .build()
        .unwrap();
    let early = Context::builder()
        .threads(2)
        .chunk_rows(1_000)
        .late_materialization(false)
        .build()
        .unwrap();
    let g1 = G1::new(40_000, 10).table().unwrap();
    ctx.lazy(g1)
        .sink_parquet_partitioned(
            &out,
            &["id4"],
            ParquetWriteOptions::default().row_group_rows(1_500),
        )
        .unwrap();
    let open = || -> LazyFrame {
        let src = DatasetSource::try_new(out.to_str().unwrap(), DatasetOptions::default());
        ctx.scan(Arc::new(src.unwrap()))
    };
    let sorted = |t: Table, by: &[&str]| -> Table {
        let keys: Vec<SortKey> = by.iter().map(|c| SortKey::asc(*c)).collect();
        ctx.lazy(t)
            .sort(keys)
            .unwrap()
            .collect()
            .unwrap()
            .rechunk(usize::MAX)
            .unwrap()
    };
    let filters = [
        ("file columns", col("v3").lt(lit(3.0))),
        (
            "key and file",
            col("id4").gt(lit(5i64)).and(col("v3").gt(lit(97.0))),
        ),
        (
            "both in one",
            col("id4").eq(lit(2i64)).or(col("v3").lt(lit(1.0))),
        ),
    ];
    for (what, f) in filters {
        let q = |lf: LazyFrame| {
            lf.filter(f.clone())
                .unwrap()
                .select([col("id1"), col("v1")])
                .unwrap()
        };
        let (got, stats) = q(open()).collect_with_stats().unwrap();
        let src = DatasetSource::try_new(out.to_str().unwrap(), DatasetOptions::default());
        let want = q(early.scan(Arc::new(src.unwrap()))).collect().unwrap();
        assert!(want.num_rows() > 0, "{what}");
        assert_eq!(
            sorted(got, &["id1", "v1"]).chunks(),
            sorted(want, &["id1", "v1"]).chunks(),
            "{what}"
        );
        let scan = stats
            .operators
            .iter()
            .find(|o| o.name.starts_with("Scan"))
            .unwrap();
        if what == "file columns" {
            assert_eq!(scan.rows_in, 40_000, "{what}: rows read");
        }
        assert!(scan.rows_out < scan.rows_in, "{what}: {scan:?}");
    }
}
