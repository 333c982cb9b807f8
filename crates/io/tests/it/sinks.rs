//! Sinks write through a temporary file and never leave a partial target.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parframe_common::Error;
use parframe_core::{ChunkSink, Table, table};
use parframe_io::{
    CsvOptions, CsvSink, CsvSource, CsvWriteOptions, IpcSink, IpcWriteOptions, JsonSink,
    JsonWriteOptions, ParquetSink, ParquetWriteOptions, WriteOptions, create_sink, open_source,
    read_all, write_csv,
};

use crate::common::tmp;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
    ]))
}

fn batch() -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(vec![Some(1), None])),
            Arc::new(StringArray::from(vec![Some("x"), None])),
        ],
    )
    .unwrap()
}

/// The registry's sink for the path's extension.
fn sink_for(path: &Path) -> Box<dyn ChunkSink> {
    create_sink(path, schema(), &WriteOptions::default()).unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn dropped_sink_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["o.csv", "o.parquet", "o.arrow", "o.ndjson"] {
        let p = tmp(&dir, name);
        let mut sink = sink_for(&p);
        sink.write(&batch()).unwrap();
        // One fresh temporary: `.<name>.<random>.parframe-tmp`.
        let files = files_in(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(
            files[0].starts_with(&format!(".{name}.")) && files[0].ends_with(".parframe-tmp"),
            "{files:?}"
        );
        drop(sink);
        assert!(!p.exists(), "{name}");
        assert!(files_in(dir.path()).is_empty(), "{name}");
    }
}

#[test]
fn finished_sink_replaces_target() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["f.csv", "f.parquet", "f.arrow", "f.ndjson"] {
        let p = tmp(&dir, name);
        std::fs::write(&p, "old").unwrap();
        let mut sink = sink_for(&p);
        sink.write(&batch()).unwrap();
        sink.write(&batch()).unwrap();
        // the old file stays until finish
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        sink.finish().unwrap();
        let t = read_all(open_source(&p).unwrap().as_ref(), None, 100).unwrap();
        assert_eq!(t.num_rows(), 4, "{name}");
    }
    assert_eq!(
        files_in(dir.path()),
        vec!["f.arrow", "f.csv", "f.ndjson", "f.parquet"]
    );
}

#[test]
fn failed_write_removes_the_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["w.csv", "w.parquet", "w.arrow", "w.ndjson"] {
        let p = tmp(&dir, name);
        let mut sink = sink_for(&p);
        sink.write(&batch()).unwrap();
        let wrong = table!("z" => [1.5f64]).unwrap();
        let e = sink.write(&wrong.chunks()[0]).unwrap_err();
        assert!(matches!(e, Error::SchemaMismatch(_)), "{e}");
        assert!(e.to_string().contains(name), "{e}");
        drop(sink);
        assert!(files_in(dir.path()).is_empty(), "{name}");
    }
}

#[test]
fn missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no/such/dir/x.csv");
    let e = CsvSink::try_new(&p, schema(), CsvWriteOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(e.to_string().contains("x.csv"), "{e}");
}

#[test]
fn empty_table_writes_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "e.csv");
    write_csv(&Table::empty(schema()), &p, &CsvWriteOptions::default()).unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "a,s\n");
    let src = CsvSource::try_new(&p, CsvOptions::default().schema(schema())).unwrap();
    assert_eq!(read_all(&src, None, 10).unwrap().num_rows(), 0);
    // and empty Parquet / IPC files read back empty
    for name in ["e.parquet", "e.arrow"] {
        let p = tmp(&dir, name);
        sink_for(&p).finish().unwrap();
        let src = open_source(&p).unwrap();
        assert_eq!(src.schema().as_ref(), schema().as_ref());
        assert_eq!(read_all(src.as_ref(), None, 10).unwrap().num_rows(), 0);
    }
}

#[test]
fn csv_write_options() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "d.csv");
    let t = table!("a" => [1i64, 2], "b" => vec![Some("x;y"), None]).unwrap();
    write_csv(
        &t,
        &p,
        &CsvWriteOptions::default().delimiter(b';').header(false),
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "1;\"x;y\"\n2;\n");
    let d = CsvWriteOptions::default();
    assert_eq!((d.delimiter, d.header), (b',', true));
}

/// A full disk (`/dev/full`: every write fails with ENOSPC) is an I/O
/// error naming the file, from each format's sink, at the latest when the
/// sink finishes (the last buffered bytes are flushed by the sink itself,
/// not dropped with an ignored error).
#[cfg(target_os = "linux")]
#[test]
fn full_disk_is_an_io_error_naming_the_file() {
    let full = Path::new("/dev/full");
    let sinks: Vec<Box<dyn ChunkSink>> = vec![
        Box::new(CsvSink::try_new(full, schema(), CsvWriteOptions::default()).unwrap()),
        Box::new(ParquetSink::try_new(full, schema(), ParquetWriteOptions::default()).unwrap()),
        Box::new(IpcSink::try_new(full, schema(), IpcWriteOptions::default()).unwrap()),
        Box::new(JsonSink::try_new(full, schema(), JsonWriteOptions::default()).unwrap()),
    ];
    for mut sink in sinks {
        let r = sink.write(&batch()).and_then(|()| sink.finish());
        let e = r.unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains("/dev/full"), "{e}");
    }
}
