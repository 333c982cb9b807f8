//! Hive-partitioned datasets: writes, reads, schema matching.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;
use parframe_core::{ChunkSink, ChunkSource, Table, table};
use parframe_io::{
    DatasetOptions, DatasetSource, FileFormat, PartitionedSink, PartitionedWriteOptions,
    open_sources, read_all, write_parquet,
};

/// Every file below `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn write(dir: &Path, t: &Table, by: &[&str], options: PartitionedWriteOptions) {
    let mut sink = PartitionedSink::try_new(dir, t.schema().clone(), by, options).unwrap();
    for c in t.chunks() {
        sink.write(c).unwrap();
    }
    Box::new(sink).finish().unwrap();
}

/// Rows of a table as text lines, sorted (order-insensitive comparison).
fn rows(t: &Table) -> Vec<String> {
    let mut lines: Vec<String> = t.pretty().unwrap().lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn round_trip_with_typed_keys_nulls_and_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let t = table!(
        "city" => vec![Some("Oslo"), Some("a/b=c"), None, Some("Oslo"), Some("Lima")],
        "year" => vec![Some(2023i64), Some(2024), Some(2024), None, Some(2023)],
        "v" => [1.0f64, 2.0, 3.0, 4.0, 5.0]
    )
    .unwrap();
    write(
        &out,
        &t,
        &["year", "city"],
        PartitionedWriteOptions::default(),
    );
    assert_eq!(
        tree(&out),
        [
            "year=2023/city=Lima/part-00000.parquet",
            "year=2023/city=Oslo/part-00000.parquet",
            "year=2024/city=__HIVE_DEFAULT_PARTITION__/part-00000.parquet",
            "year=2024/city=a%2Fb%3Dc/part-00000.parquet",
            "year=__HIVE_DEFAULT_PARTITION__/city=Oslo/part-00000.parquet",
        ]
    );
    // The files leave the keys out.
    let one =
        parframe_io::ParquetSource::try_new(out.join("year=2023/city=Lima/part-00000.parquet"))
            .unwrap();
    assert_eq!(one.schema().fields().len(), 1);

    let src = DatasetSource::try_new(out.to_str().unwrap(), DatasetOptions::default()).unwrap();
    assert_eq!(src.partition_columns(), ["year", "city"]);
    let s = src.schema();
    assert_eq!(s.field(1).data_type(), &DataType::Int64);
    assert_eq!(s.field(2).data_type(), &DataType::Utf8);
    // Only the first file was opened, for the schema.
    assert_eq!(src.files_opened(), 1);
    let back = read_all(&src, Some(&[1, 2, 0]), 2).unwrap();
    assert_eq!(src.files_opened(), 5);
    assert_eq!(back.num_rows(), 5);
    // Same rows, columns in the source's order.
    let reordered = {
        let b = arrow_select::concat::concat_batches(back.schema(), back.chunks()).unwrap();
        let b = RecordBatch::try_new(
            t.schema().clone(),
            vec![
                b.column(1).clone(),
                b.column(0).clone(),
                b.column(2).clone(),
            ],
        )
        .unwrap();
        Table::try_new(t.schema().clone(), vec![b]).unwrap()
    };
    assert_eq!(rows(&reordered), rows(&t));

    // The statistics are the key values, per file.
    let st = src.partition_column_statistics("year").unwrap();
    let years = st.mins.as_primitive::<arrow_array::types::Int64Type>();
    assert_eq!(years.len(), 5);
    assert_eq!(years.value(0), 2023);
    assert!(years.is_null(4));
    assert!(src.partition_column_statistics("v").is_none());

    // A glob over the tree finds the same dataset; a directory path too.
    let g = open_sources(&format!("{}/**/*.parquet", out.display())).unwrap();
    assert_eq!(g.schema().fields().len(), 3);
    assert_eq!(read_all(g.as_ref(), None, 100).unwrap().num_rows(), 5);
    let d = open_sources(out.to_str().unwrap()).unwrap();
    assert!(d.describe().contains("dataset"), "{}", d.describe());
}

/// More partitions than open files, and a row limit per file: files are
/// finished and new ones started; every row arrives once.
#[test]
fn bounded_open_files_and_rolling() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let n = 200i64;
    let keys: Vec<i64> = (0..n).map(|i| i % 5).collect();
    let vals: Vec<i64> = (0..n).collect();
    let t = table!("k" => keys, "v" => vals).unwrap();
    // Chunks of 10 rows, interleaving all five keys.
    let chunks: Vec<RecordBatch> = (0..20).map(|i| t.chunks()[0].slice(i * 10, 10)).collect();
    let t = Table::try_new(t.schema().clone(), chunks).unwrap();
    let options = PartitionedWriteOptions::default()
        .max_open_files(2)
        .max_rows_per_file(15)
        .format(FileFormat::Csv);
    write(&out, &t, &["k"], options);
    let files = tree(&out);
    assert!(files.len() > 5, "{files:?}");
    assert!(files.iter().all(|f| f.ends_with(".csv")), "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(text.lines().count() <= 16, "{f}: {text}");
    }
    let src = DatasetSource::try_new(out.to_str().unwrap(), DatasetOptions::default()).unwrap();
    let back = read_all(&src, None, 1000).unwrap();
    let b = arrow_select::concat::concat_batches(back.schema(), back.chunks()).unwrap();
    let v = b
        .column_by_name("v")
        .unwrap()
        .as_primitive::<arrow_array::types::Int64Type>();
    let k = b
        .column_by_name("k")
        .unwrap()
        .as_primitive::<arrow_array::types::Int64Type>();
    let mut seen: Vec<i64> = v.values().to_vec();
    seen.sort_unstable();
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
    for i in 0..b.num_rows() {
        assert_eq!(k.value(i), v.value(i) % 5);
    }
}

/// Files roll at about `max_bytes_per_file`: each partition's files but
/// its last reach the size, none passes it by more than one write (a row
/// group here), and the rows come back whole.
#[test]
fn files_roll_at_a_target_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let n = 20_000i64;
    let keys: Vec<i64> = (0..n).map(|i| i % 2).collect();
    let vals: Vec<i64> = (0..n).map(|i| (i * 7919) % 100_003).collect();
    let text: Vec<String> = (0..n)
        .map(|i| format!("row-{}", (i * 31) % 9_973))
        .collect();
    let t = table!("k" => keys, "v" => vals, "s" => text).unwrap();
    let chunks: Vec<RecordBatch> = (0..20)
        .map(|i| t.chunks()[0].slice(i * 1_000, 1_000))
        .collect();
    let t = Table::try_new(t.schema().clone(), chunks).unwrap();
    let target = 20_000u64;
    let mut write_options = parframe_io::WriteOptions::default();
    write_options.parquet.row_group_rows = 500;
    let options = PartitionedWriteOptions::default()
        .write_options(write_options)
        .max_bytes_per_file(target);
    write(&out, &t, &["k"], options);
    let files = tree(&out);
    for k in ["k=0", "k=1"] {
        let mine: Vec<&String> = files.iter().filter(|f| f.starts_with(k)).collect();
        assert!(mine.len() >= 3, "{files:?}");
        let sizes: Vec<u64> = mine
            .iter()
            .map(|f| std::fs::metadata(out.join(f)).unwrap().len())
            .collect();
        let (last, full) = sizes.split_last().unwrap();
        assert!(
            full.iter().all(|&b| b >= target && b < 2 * target),
            "{sizes:?}"
        );
        assert!(*last < 2 * target, "{sizes:?}");
    }
    let src = DatasetSource::try_new(out.to_str().unwrap(), DatasetOptions::default()).unwrap();
    let back = read_all(&src, None, 100_000).unwrap();
    assert_eq!(rows(&back).len(), rows(&t).len());
    assert_eq!(back.num_rows(), n as usize);
    let zero = PartitionedWriteOptions::default().max_bytes_per_file(0);
    let e = PartitionedSink::try_new(dir.path().join("z"), t.schema().clone(), &["k"], zero)
        .unwrap_err();
    assert!(e.to_string().contains("max_bytes_per_file"), "{e}");
}

#[test]
fn failed_write_leaves_nothing_and_existing_data_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let t = table!("k" => [1i64, 2], "v" => ["a", "b"]).unwrap();
    let mut sink =
        PartitionedSink::try_new(&out, t.schema().clone(), &["k"], Default::default()).unwrap();
    sink.write(&t.chunks()[0]).unwrap();
    let wrong = table!("z" => [1.5f64]).unwrap();
    let e = sink.write(&wrong.chunks()[0]).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch(_)), "{e}");
    assert!(sink.write(&t.chunks()[0]).is_err());
    drop(sink);
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // A dataset is there: not replaced unless asked.
    write(&out, &t, &["k"], Default::default());
    let e =
        PartitionedSink::try_new(&out, t.schema().clone(), &["k"], Default::default()).unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
    let t2 = table!("k" => [9i64], "v" => ["z"]).unwrap();
    write(
        &out,
        &t2,
        &["k"],
        PartitionedWriteOptions::default().overwrite(true),
    );
    assert_eq!(tree(&out), ["k=9/part-00000.parquet"]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // Bad arguments name what is wrong.
    let e = PartitionedSink::try_new(
        dir.path().join("x"),
        t.schema().clone(),
        &["nope"],
        Default::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    let e = PartitionedSink::try_new(
        dir.path().join("x"),
        t.schema().clone(),
        &["k", "v"],
        Default::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("every column"), "{e}");
}

/// Files with different columns: the first file's schema (narrower
/// types widened when read, missing columns null, an incompatible type an
/// error naming both files), or the union of all with `union_by_name`.
#[test]
fn schemas_are_matched_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    let put = |sub: &str, b: RecordBatch| {
        let d = root.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        let t = Table::try_new(b.schema(), vec![b]).unwrap();
        write_parquet(&t, d.join("f.parquet"), &Default::default()).unwrap();
    };
    let b1 = RecordBatch::try_from_iter([
        ("x", Arc::new(Int64Array::from(vec![1, 2])) as _),
        ("y", Arc::new(StringArray::from(vec!["a", "b"])) as _),
    ])
    .unwrap();
    let b2 = RecordBatch::try_from_iter([
        ("z", Arc::new(Float64Array::from(vec![0.5])) as _),
        ("x", Arc::new(Int32Array::from(vec![3])) as _),
    ])
    .unwrap();
    put("p=1", b1);
    put("p=2", b2);
    let path = root.to_str().unwrap();

    let first = DatasetSource::try_new(path, DatasetOptions::default()).unwrap();
    let names: Vec<String> = first
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["x", "y", "p"]);
    let t = read_all(&first, None, 10).unwrap();
    let b = arrow_select::concat::concat_batches(t.schema(), t.chunks()).unwrap();
    let x = b.column(0).as_primitive::<arrow_array::types::Int64Type>();
    assert_eq!(x.values().to_vec(), [1, 2, 3]);
    assert!(b.column(1).is_null(2));

    let union =
        DatasetSource::try_new(path, DatasetOptions::default().union_by_name(true)).unwrap();
    let names: Vec<String> = union
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["x", "y", "z", "p"]);
    assert_eq!(union.schema().field(2).data_type(), &DataType::Float64);
    let t = read_all(&union, None, 10).unwrap();
    let b = arrow_select::concat::concat_batches(t.schema(), t.chunks()).unwrap();
    assert!(b.column(2).is_null(0));
    assert_eq!(
        b.column(2)
            .as_primitive::<arrow_array::types::Float64Type>()
            .value(2),
        0.5
    );

    // A type that does not widen: an error naming both files.
    let b3 = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, true)])),
        vec![Arc::new(StringArray::from(vec!["no"]))],
    )
    .unwrap();
    put("p=3", b3);
    let e =
        DatasetSource::try_new(path, DatasetOptions::default().union_by_name(true)).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("p=1") && msg.contains("p=3") && msg.contains("'x'"),
        "{msg}"
    );
    let lazy = DatasetSource::try_new(path, DatasetOptions::default()).unwrap();
    let e = read_all(&lazy, None, 10).unwrap_err().to_string();
    assert!(e.contains("p=1") && e.contains("p=3"), "{e}");

    // Files under different keys cannot be one dataset.
    put(
        "other/q=1",
        table!("x" => [1i64]).unwrap().chunks()[0].clone(),
    );
    let e = DatasetSource::try_new(path, DatasetOptions::default()).unwrap_err();
    assert!(e.to_string().contains("different partition keys"), "{e}");
}

/// A dataset of `.tsv` files opened by its path reads them tab-separated.
#[test]
fn tsv_dataset_by_path() {
    let dir = tempfile::tempdir().unwrap();
    for k in [1, 2] {
        let d = dir.path().join(format!("k={k}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("f.tsv"), format!("a\tb\n{k}\tx y\n")).unwrap();
    }
    let src = open_sources(dir.path().to_str().unwrap()).unwrap();
    let names: Vec<String> = src
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["a", "b", "k"]);
    assert_eq!(read_all(src.as_ref(), None, 10).unwrap().num_rows(), 2);
}

/// Writing the pieces of each chunk on several threads, and ending row
/// groups early to hold `max_buffered_bytes`, give the same dataset as one
/// thread: the same files, the same rows in each file, in order.
#[test]
fn parallel_writes_and_early_row_groups_give_the_same_files() {
    let n = 6000i64;
    let t = table!(
        "k" => (0..n).map(|i| (i * 7) % 9).collect::<Vec<_>>(),
        "v" => (0..n).collect::<Vec<_>>(),
        "s" => (0..n).map(|i| format!("row {i}")).collect::<Vec<_>>(),
    )
    .unwrap();
    let chunks: Vec<RecordBatch> = (0..20).map(|i| t.chunks()[0].slice(i * 300, 300)).collect();
    let t = Table::try_new(t.schema().clone(), chunks).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let read = |d: &Path, f: &str| {
        let src = parframe_io::open_source(&d.join(f)).unwrap();
        read_all(src.as_ref(), None, 100_000).unwrap()
    };
    let one = dir.path().join("one");
    write(
        &one,
        &t,
        &["k"],
        PartitionedWriteOptions::default().finish_threads(1),
    );
    for (name, options) in [
        (
            "three",
            PartitionedWriteOptions::default().finish_threads(3),
        ),
        (
            "bounded",
            PartitionedWriteOptions::default()
                .finish_threads(2)
                .max_buffered_bytes(4096),
        ),
    ] {
        let out = dir.path().join(name);
        write(&out, &t, &["k"], options);
        assert_eq!(tree(&out), tree(&one), "{name}");
        for f in tree(&one) {
            let (a, b) = (read(&one, &f), read(&out, &f));
            assert_eq!(a.pretty().unwrap(), b.pretty().unwrap(), "{name}: {f}");
        }
    }
    // The bounded write ended row groups early: more of them, same rows.
    let meta = |d: &Path| {
        let f = std::fs::File::open(d.join("k=0/part-00000.parquet")).unwrap();
        parquet::file::reader::SerializedFileReader::new(f)
            .map(|r| parquet::file::reader::FileReader::metadata(&r).num_row_groups())
            .unwrap()
    };
    assert_eq!(meta(&one), 1);
    assert!(meta(&dir.path().join("bounded")) > 1);
}
