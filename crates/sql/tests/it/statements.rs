//! EXPLAIN, COPY, the catalog.

use parframe::prelude::*;

use crate::{ctx, run, strings};

#[test]
fn explain_gives_the_plan_as_rows() {
    let t = run("EXPLAIN SELECT k, sum(x) FROM t WHERE x > 1 GROUP BY k");
    assert_eq!(t.column_names(), vec!["plan"]);
    let text = strings(&t, "plan").join("\n");
    assert!(
        text.contains("Aggregate") && text.contains("Filter"),
        "{text}"
    );
    let t = run("EXPLAIN ANALYZE SELECT k FROM t WHERE x > 1");
    let text = strings(&t, "plan").join("\n");
    assert!(text.contains("rows"), "{text}");
}

#[test]
fn copy_streams_a_query_into_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx();
    for (file, option) in [
        ("out.parquet", ""),
        ("out.data", " (FORMAT parquet)"),
        ("out.csv", " (FORMAT csv, HEADER true)"),
        ("out.arrow", ""),
    ] {
        let path = dir.path().join(file);
        let q = format!(
            "COPY (SELECT k, x FROM t WHERE x > 2) TO '{}'{option}",
            path.display()
        );
        let t = ctx.sql(&q).unwrap().collect().unwrap();
        assert_eq!(strings(&t, "count"), ["3"], "{q}");
        let back = match file {
            "out.data" => ctx.scan_parquet(&path).unwrap(),
            _ => {
                ctx.register_file("back", &path.display().to_string())
                    .unwrap();
                ctx.table("back").unwrap()
            }
        };
        assert_eq!(back.collect().unwrap().num_rows(), 3, "{q}");
    }
    let e = ctx
        .sql("COPY (SELECT 1 FROM t) TO 'x.unknown'")
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("FORMAT"), "{e}");
}

/// DuckDB's `PARTITION_BY`: a hive-partitioned directory, read back as a
/// table with the key as a column; the option may stand anywhere in the
/// list, alone or with others; a bad list is an error at its position.
#[test]
fn copy_partition_by_writes_a_hive_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx();
    let want = ctx
        .sql("SELECT k, sum(x) AS s FROM t GROUP BY k ORDER BY k")
        .unwrap()
        .collect()
        .unwrap();
    for (name, option) in [
        ("a", "(PARTITION_BY (k))"),
        ("b", "(FORMAT parquet, PARTITION_BY k)"),
        ("c", "(partition_by (k), FORMAT csv, HEADER true)"),
        ("d.ndjson", "(PARTITION_BY (k))"),
    ] {
        let out = dir.path().join(name);
        let q = format!("COPY (SELECT k, x FROM t) TO '{}' {option}", out.display());
        let n = ctx.sql(&q).unwrap().collect().unwrap();
        assert_eq!(strings(&n, "count"), ["5"], "{q}");
        let ext = match name {
            "c" => "csv",
            "d.ndjson" => "ndjson",
            _ => "parquet",
        };
        let k_dirs: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(k_dirs.iter().all(|d| d.starts_with("k=")), "{k_dirs:?}");
        assert!(
            std::fs::read_dir(out.join(&k_dirs[0])).unwrap().all(|e| e
                .unwrap()
                .path()
                .extension()
                .unwrap()
                == ext),
            "{q}"
        );
        let back = ctx
            .sql(&format!(
                "SELECT k, sum(x) AS s FROM '{}' GROUP BY k ORDER BY k",
                out.display()
            ))
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(back.pretty().unwrap(), want.pretty().unwrap(), "{q}");
    }
    for bad in [
        "(PARTITION_BY ())",
        "(PARTITION_BY (k,))",
        "(FORMAT csv, PARTITION_BY)",
    ] {
        let q = format!(
            "COPY (SELECT k, x FROM t) TO '{}' {bad}",
            dir.path().join("z").display()
        );
        let e = ctx.sql(&q).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("PARTITION_BY"), "{q}: {e}");
    }
    let e = ctx
        .sql(&format!(
            "COPY (SELECT k, x FROM t) TO '{}' (PARTITION_BY (nope))",
            dir.path().join("z").display()
        ))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
    assert!(!dir.path().join("z").exists());
}

#[test]
fn sql_and_the_rust_api_compose() {
    let ctx = ctx();
    let lf = ctx.sql("SELECT k, x FROM t WHERE x >= 2").unwrap();
    ctx.register_table("big", lf.filter(col("x").lt(lit(5i64))).unwrap());
    let out = ctx
        .sql("SELECT count(*) AS n FROM big")
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(strings(&out, "n"), ["3"]);
    assert_eq!(ctx.table_names(), vec!["big", "t", "u"]);
    ctx.deregister_table("big");
    assert!(ctx.sql("SELECT * FROM big").is_err());
}

/// `read_parquet(..., union_by_name = true)` reads files of different
/// columns as one table whose schema is their union by name (a file's
/// missing column is null); without it files of different columns are an
/// error naming both and the option; an unknown option is named.
#[test]
fn read_parquet_unions_schemas_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx();
    let d = dir.path().display();
    for q in [
        format!("COPY (SELECT 1 AS k, 10 AS v) TO '{d}/a.parquet'"),
        format!("COPY (SELECT 2 AS k, 'x' AS w) TO '{d}/b.parquet'"),
    ] {
        ctx.sql(&q).unwrap().collect().unwrap();
    }
    let t = ctx
        .sql(&format!(
            "SELECT k, v, w FROM read_parquet('{d}/*.parquet', union_by_name = true) ORDER BY k"
        ))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(strings(&t, "k"), ["1", "2"]);
    assert_eq!(strings(&t, "v"), ["10", "null"]);
    assert_eq!(strings(&t, "w"), ["null", "x"]);
    let e = ctx
        .sql(&format!("SELECT * FROM read_parquet('{d}/*.parquet')"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("b.parquet") && e.contains("a.parquet"), "{e}");
    assert!(e.contains("union_by_name = true"), "{e}");
    let e = ctx
        .sql(&format!(
            "SELECT * FROM read_parquet('{d}/*.parquet', hive = true)"
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown read_parquet option 'hive'"), "{e}");
}
