use parframe::prelude::*;

fn ctx() -> Context {
    Context::builder().threads(2).chunk_rows(4).build().unwrap()
}

#[test]
fn malformed_csv_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.csv");
    let mut text = String::from("a,b\n");
    for i in 0..50 {
        text.push_str(&format!("{i},{}\n", i * 2));
    }
    text.push_str("51,oops\n");
    std::fs::write(&p, text).unwrap();
    let err = ctx()
        .read_csv(&p, CsvOptions::default().infer_rows(10).partition_bytes(64))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.csv"), "{err}");
    assert!(err.contains("line 52"), "{err}");
    assert!(err.contains("'b'"), "{err}");
}

#[test]
fn missing_file_and_missing_column() {
    let err = ctx()
        .scan_parquet("/nonexistent/x.parquet")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/x.parquet"), "{err}");
    let t = table!("a" => [1i64]).unwrap();
    let err = ctx().lazy(t).select([col("b")]).unwrap_err().to_string();
    assert_eq!(err, "column 'b' not found; available columns: [a]");
}

#[test]
fn type_errors_at_plan_time() {
    let t = table!("s" => ["x"], "n" => [1i64]).unwrap();
    let err = ctx()
        .lazy(t.clone())
        .with_column(col("s") + col("n"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("type error in"), "{err}");
    assert!(err.contains("Utf8") && err.contains("Int64"), "{err}");
    let err = ctx().lazy(t).filter(col("n")).unwrap_err().to_string();
    assert!(err.contains("not Boolean"), "{err}");
}

#[test]
fn failed_sink_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let t = table!("a" => (0..100i64).collect::<Vec<_>>()).unwrap();
    let err = ctx()
        .lazy(t)
        .apply("b", ["a"], |a: i64| {
            assert!(a < 50, "row {a} rejected");
            a
        })
        .unwrap()
        .sink_parquet(&out, ParquetWriteOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "user code failed while computing 'b' at row 50: row 50 rejected"
    );
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
