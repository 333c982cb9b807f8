//! The format registry end to end: NDJSON round trips, every format
//! through `create_sink` / `open_source`, `**` globs.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};
use parframe_core::table;
use parframe_io::{
    FileFormat, JsonOptions, JsonSource, JsonWriteOptions, WriteOptions, create_sink, open_source,
    open_sources, read_all, write_json,
};

use crate::common::tmp;

#[test]
fn ndjson_round_trip_and_explicit_schema() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "t.ndjson");
    let t = table!(
        "i" => vec![Some(1i64), None, Some(-3)],
        "f" => vec![Some(1.5f64), Some(2.0), None],
        "s" => vec![Some("a \"q\"\nb"), None, Some("")],
        "b" => vec![Some(true), Some(false), None],
        "d" => vec!["2024-01-31", "1999-12-01", "2000-02-29"]
    )
    .unwrap();
    write_json(&t, &p, &JsonWriteOptions::default()).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    // Nulls are left out unless asked for.
    assert!(!text.contains("null"), "{text}");
    let back = read_all(open_source(&p).unwrap().as_ref(), None, 2).unwrap();
    assert_eq!(back.num_rows(), 3);
    assert_eq!(back.schema().field(0).data_type(), &DataType::Int64);
    assert_eq!(back.schema().field(3).data_type(), &DataType::Boolean);
    assert_eq!(back.pretty().unwrap(), t.pretty().unwrap());

    // With a schema: dates parsed, a projection decodes only its fields.
    let schema = Arc::new(Schema::new(vec![
        Field::new("d", DataType::Date32, true),
        Field::new("i", DataType::Int64, true),
    ]));
    let src = JsonSource::try_new(&p, JsonOptions::default().schema(schema)).unwrap();
    let only_d = read_all(&src, Some(&[0]), 10).unwrap();
    assert_eq!(only_d.schema().field(0).data_type(), &DataType::Date32);
    assert_eq!(only_d.num_rows(), 3);

    let p2 = tmp(&dir, "n.jsonl");
    write_json(&t, &p2, &JsonWriteOptions::default().explicit_nulls(true)).unwrap();
    assert!(std::fs::read_to_string(&p2).unwrap().contains("\"i\":null"));
}

#[test]
fn bad_json_line_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "bad.json");
    std::fs::write(&p, "{\"a\":1}\n{\"a\":\"x\"}\n").unwrap();
    let src = JsonSource::try_new(&p, JsonOptions::default().infer_rows(1)).unwrap();
    let e = read_all(&src, None, 10).unwrap_err();
    assert!(e.to_string().contains("bad.json"), "{e}");
}

/// Each registered format writes and reads back the same rows through
/// the registry alone.
#[test]
fn every_format_through_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let t = table!("k" => [1i64, 2, 3], "v" => ["x", "y", "z"]).unwrap();
    for f in FileFormat::all() {
        let p = tmp(&dir, &format!("all.{}", f.extensions()[0]));
        let mut sink = create_sink(&p, t.schema().clone(), &WriteOptions::default()).unwrap();
        for c in t.chunks() {
            sink.write(c).unwrap();
        }
        sink.finish().unwrap();
        let back = read_all(open_source(&p).unwrap().as_ref(), None, 100).unwrap();
        assert_eq!(back.pretty().unwrap(), t.pretty().unwrap(), "{f}");
    }
}

#[test]
fn double_star_glob_reads_nested_files() {
    let dir = tempfile::tempdir().unwrap();
    for (i, sub) in ["a", "a/b", "c/d/e"].iter().enumerate() {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        let t = table!("n" => [i as i64]).unwrap();
        parframe_io::write_parquet(&t, d.join("x.parquet"), &Default::default()).unwrap();
    }
    let src = open_sources(&format!("{}/**/*.parquet", dir.path().display())).unwrap();
    assert_eq!(src.row_count_hint(), Some(3));
    let t = read_all(src.as_ref(), None, 10).unwrap();
    assert_eq!(t.num_rows(), 3);
}

/// A file whose name has glob characters is itself when it exists.
#[test]
fn existing_file_with_brackets_is_not_a_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "data[1].csv");
    std::fs::write(&p, "a\n1\n2\n").unwrap();
    std::fs::write(tmp(&dir, "data1.csv"), "a\n9\n").unwrap();
    let src = open_sources(p.to_str().unwrap()).unwrap();
    assert_eq!(read_all(src.as_ref(), None, 10).unwrap().num_rows(), 2);
}
