//! Errors name the file, and for CSV the absolute line and the column.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;
use parframe_core::ChunkSource;
use parframe_io::{CsvOptions, CsvSource, IpcSource, ParquetSource, open_source, read_all};

use crate::common::{shown, tmp, write_text};

/// A CSV with a header and `rows` rows `i,i*2,name`, the value of column
/// `b` on data row `bad` replaced by `oops`.
fn csv_with_bad_value(rows: usize, bad: usize) -> String {
    let mut s = String::from("a,b,c\n");
    for i in 0..rows {
        if i == bad {
            s.push_str(&format!("{i},oops,n{i}\n"));
        } else {
            s.push_str(&format!("{i},{},n{i}\n", i * 2));
        }
    }
    s
}

fn int_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Int64, true),
        Field::new("c", DataType::Utf8, true),
    ]))
}

fn format_location(e: &Error) -> (String, String) {
    match e {
        Error::Format { path, location, .. } => (shown(path), location.clone().unwrap_or_default()),
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn malformed_value_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    // data row 5 sits on line 7 (line 1 is the header)
    let p = write_text(&dir, "bad.csv", &csv_with_bad_value(10, 5));
    let src = CsvSource::try_new(&p, CsvOptions::default().schema(int_schema())).unwrap();
    let e = read_all(&src, None, 3).unwrap_err();
    let (path, loc) = format_location(&e);
    assert_eq!(path, shown(&p));
    assert_eq!(loc, "line 7, column 'b'");
    assert_eq!(
        e.to_string(),
        format!(
            "cannot read '{}' at line 7, column 'b': cannot parse 'oops' as Int64",
            p.display()
        )
    );
}

#[test]
fn malformed_value_in_a_later_partition() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(&dir, "late.csv", &csv_with_bad_value(300, 250));
    for opts in [
        CsvOptions::default()
            .schema(int_schema())
            .partition_bytes(64),
        // the null-token path converts text itself
        CsvOptions::default()
            .schema(int_schema())
            .partition_bytes(64)
            .null_values(["NA"]),
        // a projection that keeps the bad column, in another order
        CsvOptions::default()
            .schema(int_schema())
            .partition_bytes(100),
    ] {
        let src = CsvSource::try_new(&p, opts).unwrap();
        assert!(src.partition_count() > 10);
        let e = read_all(&src, Some(&[1, 0]), 4).unwrap_err();
        let (_, loc) = format_location(&e);
        assert_eq!(loc, "line 252, column 'b'", "{e}");
        assert!(
            e.to_string().ends_with("cannot parse 'oops' as Int64"),
            "{e}"
        );
        // the partition itself reports the same
        let bad = (0..src.partition_count())
            .find(|&i| {
                src.read_partition(i, None, 1000)
                    .unwrap()
                    .any(|b| b.is_err())
            })
            .unwrap();
        assert!(bad > 0);
    }
}

#[test]
fn inferred_column_with_bad_value_past_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(&dir, "s.csv", &csv_with_bad_value(50, 40));
    let src = CsvSource::try_new(&p, CsvOptions::default().infer_rows(10)).unwrap();
    assert_eq!(src.schema().field(1).data_type(), &DataType::Int64);
    let e = read_all(&src, None, 8).unwrap_err();
    assert_eq!(format_location(&e).1, "line 42, column 'b'");
    // with the whole file sampled the column is text and reads fine
    let src = CsvSource::try_new(&p, CsvOptions::default().infer_rows(usize::MAX)).unwrap();
    assert_eq!(src.schema().field(1).data_type(), &DataType::Utf8);
    assert_eq!(read_all(&src, None, 8).unwrap().num_rows(), 50);
}

#[test]
fn wrong_field_count_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = csv_with_bad_value(100, usize::MAX);
    text.push_str("100,200\n");
    let p = write_text(&dir, "short.csv", &text);
    // Sampling reaches the bad line: the error comes when opening.
    let e = CsvSource::try_new(&p, CsvOptions::default()).unwrap_err();
    assert_eq!(format_location(&e).1, "line 102", "{e}");
    for parts in [64, 1 << 20] {
        let src = CsvSource::try_new(
            &p,
            CsvOptions::default().partition_bytes(parts).infer_rows(10),
        )
        .unwrap();
        let e = read_all(&src, None, 16).unwrap_err();
        let (_, loc) = format_location(&e);
        assert_eq!(loc, "line 102", "{e}");
        assert!(
            e.to_string()
                .ends_with("wrong number of fields: expected 3 fields, found 2"),
            "{e}"
        );
    }
}

#[test]
fn bad_timestamp_and_bool() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(
        &dir,
        "t.csv",
        "t,b\n2020-01-01T00:00:00,true\nnot a time,false\n2020-01-02T00:00:00,maybe\n",
    );
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "t",
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None),
            true,
        ),
        Field::new("b", DataType::Boolean, true),
    ]));
    let src = CsvSource::try_new(&p, CsvOptions::default().schema(schema)).unwrap();
    let e = read_all(&src, None, 10).unwrap_err();
    assert_eq!(format_location(&e).1, "line 3, column 't'", "{e}");
    let e = read_all(&src, Some(&[1]), 10).unwrap_err();
    assert_eq!(format_location(&e).1, "line 4, column 'b'", "{e}");
}

#[test]
fn missing_files_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["nope.csv", "nope.parquet", "nope.arrow"] {
        let p = tmp(&dir, name);
        let e = open_source(&p).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains(&shown(&p)), "{e}");
    }
    let p = tmp(&dir, "gone.csv");
    assert!(matches!(
        CsvSource::try_new(&p, CsvOptions::default()),
        Err(Error::Io { .. })
    ));
    assert!(matches!(ParquetSource::try_new(&p), Err(Error::Io { .. })));
    assert!(matches!(IpcSource::try_new(&p), Err(Error::Io { .. })));
}

#[test]
fn not_the_format_its_name_says() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(&dir, "fake.parquet", "a,b\n1,2\n");
    let e = ParquetSource::try_new(&p).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    assert!(e.to_string().contains("fake.parquet"), "{e}");
    let p = write_text(&dir, "fake.arrow", "a,b\n1,2\n");
    let e = IpcSource::try_new(&p).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    assert!(e.to_string().contains("fake.arrow"), "{e}");
}

#[test]
fn bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(&dir, "a.csv", "a\n1\n");
    assert!(CsvSource::try_new(&p, CsvOptions::default().partition_bytes(0)).is_err());
    let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
    assert!(matches!(
        src.read_partition(0, None, 0),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        src.read_partition(5, None, 10),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("u.csv");
    let mut bytes = b"a,b\n1,x\n2,".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"\n3,z\n");
    std::fs::write(&p, &bytes).unwrap();
    // Found while sampling for inference...
    let e = CsvSource::try_new(&p, CsvOptions::default()).unwrap_err();
    assert_eq!(format_location(&e).1, "line 3, column 'b'", "{e}");
    assert!(e.to_string().ends_with("invalid UTF-8"), "{e}");
    // ...or while reading, with an explicit schema.
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Utf8, true),
    ]));
    let opts = CsvOptions::default().schema(schema).has_header(true);
    let src = CsvSource::try_new(&p, opts).unwrap();
    let e = read_all(&src, None, 10).unwrap_err();
    assert_eq!(format_location(&e).1, "line 3, column 'b'", "{e}");
}
