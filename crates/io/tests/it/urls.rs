//! URLs in sources and sinks, against object_store's in-memory store
//! (`memory:///...`, one per process): every format read and written
//! through a URL equals the local file's, globs and hive datasets over a
//! prefix, uploads that appear only when finished (one PUT, or multipart
//! past `UPLOAD_PART_BYTES`), and errors that name the URL. The same code
//! against a real S3 server is tested in the parframe crate
//! (`tests/it/s3.rs`).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;
use parframe_core::{ChunkSink, ChunkSource, Table};
use parframe_io::{
    CsvOptions, CsvSource, FileFormat, ParquetSource, ParquetWriteOptions, PartitionedSink,
    PartitionedWriteOptions, UPLOAD_PART_BYTES, WriteOptions, create_sink, expand_glob,
    open_source, open_sources, read_all,
};

use crate::common::all_types;

/// A fresh URL prefix for one test.
fn prefix(test: &str) -> String {
    format!("memory:///it-{}-{test}", std::process::id())
}

fn numbers(rows: usize, chunk: usize) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("k", DataType::Int64, false),
    ]));
    let chunks = (0..rows)
        .step_by(chunk)
        .map(|off| {
            let n = chunk.min(rows - off);
            let id: Vec<i64> = (off..off + n).map(|i| i as i64).collect();
            let name: Vec<Option<String>> = id
                .iter()
                .map(|i| (i % 7 != 3).then(|| format!("n{i},\"q\"")))
                .collect();
            let k: Vec<i64> = id.iter().map(|i| i % 4).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(id)),
                    Arc::new(StringArray::from(name)),
                    Arc::new(Int64Array::from(k)),
                ],
            )
            .unwrap()
        })
        .collect();
    Table::try_new(schema, chunks).unwrap()
}

fn write(table: &Table, target: &str) {
    let opts = WriteOptions {
        parquet: ParquetWriteOptions::default().row_group_rows(1000),
        ..WriteOptions::default()
    };
    let mut sink = create_sink(Path::new(target), table.schema().clone(), &opts).unwrap();
    for c in table.chunks() {
        sink.write(c).unwrap();
    }
    sink.finish().unwrap();
}

fn same_rows(a: &Table, b: &Table) {
    let a = a.rechunk(usize::MAX).unwrap();
    let b = b.rechunk(usize::MAX).unwrap();
    assert_eq!(a.num_rows(), b.num_rows());
    assert_eq!(a.chunks(), b.chunks());
}

#[test]
fn every_format_round_trips_through_a_url_as_through_a_file() {
    let p = prefix("formats");
    let dir = tempfile::tempdir().unwrap();
    let t = numbers(5000, 700);
    for format in FileFormat::all() {
        let ext = format.extensions()[0];
        let url = format!("{p}/t.{ext}");
        let local = dir.path().join(format!("t.{ext}"));
        write(&t, &url);
        write(&t, local.to_str().unwrap());
        let remote = open_source(Path::new(&url)).unwrap();
        let here = open_source(&local).unwrap();
        assert_eq!(remote.schema(), here.schema(), "{format}");
        assert_eq!(remote.partition_count(), here.partition_count(), "{format}");
        assert!(remote.describe().contains(&url), "{}", remote.describe());
        same_rows(
            &read_all(remote.as_ref(), None, 333).unwrap(),
            &read_all(here.as_ref(), None, 333).unwrap(),
        );
        // A projection, reordered.
        same_rows(
            &read_all(remote.as_ref(), Some(&[2, 0]), 1000).unwrap(),
            &read_all(here.as_ref(), Some(&[2, 0]), 1000).unwrap(),
        );
    }
    // Parquet: the footer's row groups are the partitions.
    let pq = ParquetSource::try_new(format!("{p}/t.parquet")).unwrap();
    assert_eq!(pq.partition_count(), 5);
    assert_eq!(pq.row_count_hint(), Some(5000));
}

#[test]
fn csv_over_a_url_splits_into_ranges_like_a_file() {
    let p = prefix("csv");
    let dir = tempfile::tempdir().unwrap();
    let t = numbers(20_000, 4096);
    let url = format!("{p}/big.csv");
    let local = dir.path().join("big.csv");
    write(&t, &url);
    write(&t, local.to_str().unwrap());
    let opts = CsvOptions::default().partition_bytes(64 << 10);
    let remote = CsvSource::try_new(&url, opts.clone()).unwrap();
    let here = CsvSource::try_new(&local, opts).unwrap();
    assert!(remote.partition_count() > 4, "{}", remote.partition_count());
    assert_eq!(remote.partition_ranges(), here.partition_ranges());
    assert_eq!(remote.schema(), here.schema());
    same_rows(
        &read_all(&remote, None, 1000).unwrap(),
        &read_all(&here, None, 1000).unwrap(),
    );
}

#[test]
fn rich_types_survive_parquet_and_ipc_urls() {
    let p = prefix("rich");
    let t = all_types(true);
    for ext in ["parquet", "arrow"] {
        let url = format!("{p}/all.{ext}");
        write(&t, &url);
        let back = read_all(open_source(Path::new(&url)).unwrap().as_ref(), None, 4).unwrap();
        same_rows(&back, &t);
    }
}

#[test]
fn globs_list_the_prefix_and_match_like_local_globs() {
    let p = prefix("glob");
    let t = numbers(10, 10);
    for name in [
        "a.csv",
        "b.csv",
        "x/c.csv",
        "x/y/d.csv",
        ".hidden/e.csv",
        "x/.f.csv",
        "g.parquet",
    ] {
        write(&t, &format!("{p}/{name}"));
    }
    let names = |pat: &str| -> Vec<String> {
        expand_glob(&format!("{p}/{pat}"))
            .unwrap()
            .iter()
            .map(|u| {
                u.to_str()
                    .unwrap()
                    .strip_prefix(&format!("{p}/"))
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(names("*.csv"), ["a.csv", "b.csv"]);
    assert_eq!(
        names("**/*.csv"),
        ["a.csv", "b.csv", "x/c.csv", "x/y/d.csv"]
    );
    assert_eq!(names("x/**/*.csv"), ["x/c.csv", "x/y/d.csv"]);
    assert_eq!(names("*/*.csv"), ["x/c.csv"]);
    assert_eq!(names("x/.*.csv"), ["x/.f.csv"]);
    let none = expand_glob(&format!("{p}/*.json")).unwrap_err();
    assert!(
        matches!(&none, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{none}"
    );
    assert!(none.to_string().contains(&p), "{none}");
    // A glob of several files is one source.
    let all = open_sources(&format!("{p}/*.csv")).unwrap();
    assert_eq!(read_all(all.as_ref(), None, 100).unwrap().num_rows(), 20);
}

#[test]
fn a_partitioned_write_to_a_prefix_reads_back_as_a_dataset() {
    let p = prefix("ds");
    let t = numbers(3000, 500);
    let url = format!("{p}/by_k");
    let mut sink = PartitionedSink::try_new(
        &url,
        t.schema().clone(),
        &["k"],
        PartitionedWriteOptions::default(),
    )
    .unwrap();
    for c in t.chunks() {
        sink.write(c).unwrap();
    }
    Box::new(sink).finish().unwrap();
    let files = expand_glob(&format!("{url}/**/*.parquet")).unwrap();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(
        files[0]
            .to_str()
            .unwrap()
            .ends_with("by_k/k=0/part-00000.parquet"),
        "{files:?}"
    );

    // The prefix is a dataset: the key comes back as a column.
    let ds = open_sources(&url).unwrap();
    assert!(ds.describe().contains("dataset"), "{}", ds.describe());
    let names: Vec<String> = ds
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["id", "name", "k"]);
    let back = read_all(ds.as_ref(), None, 1000).unwrap();
    assert_eq!(back.num_rows(), 3000);

    // A second write to the same prefix is refused, as for a directory.
    let again = PartitionedSink::try_new(
        &url,
        t.schema().clone(),
        &["k"],
        PartitionedWriteOptions::default(),
    )
    .unwrap_err();
    assert!(again.to_string().contains("not empty"), "{again}");
}

/// Overwriting a dataset on a prefix: refused without `overwrite` (the old
/// dataset untouched); with it, the new files replace the old ones of the
/// same names, the old partitions the new write has no rows for are
/// deleted when it finishes, and the dataset reads back as the new table.
#[test]
fn overwriting_a_partitioned_dataset_on_a_prefix_replaces_it() {
    let p = prefix("ds-overwrite");
    let url = format!("{p}/by_k");
    let write_all = |t: &Table, overwrite: bool| -> parframe_common::Result<()> {
        let mut sink = PartitionedSink::try_new(
            &url,
            t.schema().clone(),
            &["k"],
            PartitionedWriteOptions::default().overwrite(overwrite),
        )?;
        for c in t.chunks() {
            sink.write(c)?;
        }
        Box::new(sink).finish()
    };
    let old = numbers(2000, 500);
    write_all(&old, false).unwrap();
    assert_eq!(
        expand_glob(&format!("{url}/**/*.parquet")).unwrap().len(),
        4
    );

    // New rows for k = 0 and k = 1 only (ids 0..600, k = id % 2).
    let schema = old.schema().clone();
    let ids: Vec<i64> = (0..600).collect();
    let new_chunk = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(StringArray::from(
                ids.iter()
                    .map(|i| Some(format!("new{i}")))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                ids.iter().map(|i| i % 2).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    let new = Table::try_new(schema, vec![new_chunk]).unwrap();

    // Without `overwrite` the write is refused and the old dataset stays.
    let e = write_all(&new, false).unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
    let back = read_all(open_sources(&url).unwrap().as_ref(), None, 1000).unwrap();
    assert_eq!(back.num_rows(), 2000);

    // With it, the prefix holds the new dataset only.
    write_all(&new, true).unwrap();
    let files = expand_glob(&format!("{url}/**/*.parquet")).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.contains("/k=0/") || n.contains("/k=1/"))
    );
    let back = read_all(open_sources(&url).unwrap().as_ref(), None, 1000).unwrap();
    assert_eq!(back.num_rows(), 600);
    let name = back.column("name").unwrap();
    let name = name.as_any().downcast_ref::<StringArray>().unwrap();
    assert!(name.iter().all(|v| v.is_some_and(|v| v.starts_with("new"))));
}

#[test]
fn an_unfinished_partitioned_write_leaves_nothing() {
    let p = prefix("ds-fail");
    let t = numbers(2000, 500);
    let url = format!("{p}/by_k");
    // Nothing may wait (every piece is written at once) and one file is
    // open at a time: every partition change finishes a file.
    let mut sink = PartitionedSink::try_new(
        &url,
        t.schema().clone(),
        &["k"],
        PartitionedWriteOptions::default()
            .max_open_files(1)
            .max_buffered_bytes(1),
    )
    .unwrap();
    sink.write(&t.chunks()[0]).unwrap();
    assert!(
        !expand_glob(&format!("{url}/**/*.parquet"))
            .unwrap()
            .is_empty()
    );
    drop(sink);
    let e = expand_glob(&format!("{url}/**/*.parquet")).unwrap_err();
    assert!(e.to_string().contains("no object matches"), "{e}");
}

#[test]
fn an_upload_appears_only_when_finished_and_large_ones_go_in_parts() {
    let p = prefix("upload");
    let rows = UPLOAD_PART_BYTES / 8 * 2 + 1000;
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
    let chunk = |off: usize, n: usize| {
        RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(
                (off..off + n).map(|i| i as i64),
            ))],
        )
        .unwrap()
    };
    // Arrow IPC, uncompressed: 8 bytes a row, so over two parts.
    let url = format!("{p}/big.arrow");
    let mut sink = create_sink(Path::new(&url), schema.clone(), &WriteOptions::default()).unwrap();
    let step = 1 << 16;
    for off in (0..rows).step_by(step) {
        sink.write(&chunk(off, step.min(rows - off))).unwrap();
    }
    let missing = open_source(Path::new(&url)).unwrap_err();
    assert!(
        matches!(&missing, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{missing}"
    );
    assert!(missing.to_string().contains(&url), "{missing}");
    sink.finish().unwrap();
    let src = open_source(Path::new(&url)).unwrap();
    assert_eq!(src.row_count_hint().unwrap_or(rows as u64), rows as u64);
    let back = read_all(src.as_ref(), None, 1 << 20).unwrap();
    assert_eq!(back.num_rows(), rows);

    // Dropped unfinished past the first part: aborted, nothing appears.
    let url = format!("{p}/dropped.arrow");
    let mut sink = create_sink(Path::new(&url), schema.clone(), &WriteOptions::default()).unwrap();
    for off in (0..rows).step_by(step) {
        sink.write(&chunk(off, step.min(rows - off))).unwrap();
    }
    drop(sink);
    assert!(open_source(Path::new(&url)).is_err());
}

#[test]
fn file_urls_are_local_paths() {
    let dir = tempfile::tempdir().unwrap();
    let t = numbers(100, 100);
    let path = dir.path().join("f.parquet");
    let url = format!("file://{}", path.display());
    write(&t, &url);
    assert!(path.exists());
    let back = read_all(open_sources(&url).unwrap().as_ref(), None, 50).unwrap();
    same_rows(&back, &t);
}

#[test]
fn urls_that_cannot_be_read_say_why() {
    let e = open_source(Path::new("nosuch://bucket/x.parquet")).unwrap_err();
    assert!(matches!(e, Error::NotSupported(_)), "{e}");
    assert!(e.to_string().contains("nosuch://bucket/x.parquet"), "{e}");
    let p = prefix("errors");
    let e = open_source(Path::new(&format!("{p}/missing.csv"))).unwrap_err();
    assert!(
        matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{e}"
    );
    // Not Parquet: a format error naming the URL.
    write(&numbers(3, 3), &format!("{p}/x.csv"));
    let e = ParquetSource::try_new(format!("{p}/x.csv")).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    assert!(e.to_string().contains(&format!("{p}/x.csv")), "{e}");
}
