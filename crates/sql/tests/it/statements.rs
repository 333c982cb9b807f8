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
