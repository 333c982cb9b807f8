//! Integration tests of the `parframe` binary: every command, the output
//! formats, errors and exit codes, and SQL results checked against the
//! Rust API on a small db-benchmark table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin_cmd;
use parframe::agg::{corr, count_rows, max, mean, median, min, std, sum};
use parframe::{Context, LazyFrame, col};
use predicates::prelude::*;
use predicates::str::contains;

fn parframe() -> Command {
    let mut c = cargo_bin_cmd!("parframe");
    c.arg("--threads").arg("2");
    c
}

/// A temp dir shared by the tests of this binary, with a small G1 table
/// written by `parframe gen` (so `gen` is tested too) and a few files.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    g1: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let out = parframe()
            .args(["gen", "groupby", "--rows", "3e3", "--k", "10", "--out"])
            .arg(&root)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let g1 = PathBuf::from(String::from_utf8(out).unwrap().trim());
        assert!(g1.ends_with("G1_3e3_1e1_0_0.parquet"), "{}", g1.display());
        std::fs::write(
            root.join("small.csv"),
            "name,qty,price\napple,3,1.5\npear,,2.25\nplum,7,0.5\napple,1,1.75\n",
        )
        .unwrap();
        std::fs::write(root.join("semi.csv"), "a;b\n1;x\n2;y\n").unwrap();
        std::fs::write(root.join("bad.csv"), "a,b\n1,2\n3,4,5\n").unwrap();
        Fixture {
            _dir: dir,
            root,
            g1,
        }
    })
}

fn path(name: &str) -> String {
    fixture().root.join(name).display().to_string()
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------- commands

#[test]
fn schema_and_head_and_count() {
    let f = fixture();
    parframe()
        .arg("schema")
        .arg(&f.g1)
        .assert()
        .success()
        .stdout(contains("id1: Utf8").and(contains("v3: Float64")));
    parframe()
        .args(["head", "-n", "3"])
        .arg(&f.g1)
        .assert()
        .success()
        .stdout(contains("| id1").and(contains("3 rows")));
    parframe()
        .arg("count")
        .arg(&f.g1)
        .assert()
        .success()
        .stdout("3000\n");
    let csv =
        stdout_of(parframe().args(["head", "-n", "2", "--format", "csv", &path("small.csv")]));
    assert_eq!(csv, "name,qty,price\napple,3,1.5\npear,,2.25\n");
}

#[test]
fn gen_join_writes_the_four_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of(
        parframe()
            .args(["gen", "join", "--rows", "2e3", "--format", "csv", "--out"])
            .arg(dir.path()),
    );
    let names: Vec<String> = out
        .lines()
        .map(|l| {
            Path::new(l)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "J1_2e3_NA_0_0.csv",
            "J1_2e3_1e1_0_0.csv",
            "J1_2e3_1e2_0_0.csv",
            "J1_2e3_2e3_0_0.csv"
        ]
    );
    let x = out.lines().next().unwrap();
    assert_eq!(
        stdout_of(parframe().args(["count", x])),
        "2000
"
    );
    let header = std::fs::read_to_string(out.lines().nth(2).unwrap()).unwrap();
    assert!(header.starts_with("id1,id2,id4,id5,v2\n"), "{header:.40}");
    parframe()
        .args(["gen", "join", "--rows", "10", "--out"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(contains("at least 1000"));
}

#[test]
fn gen_tpch_writes_the_eight_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of(
        parframe()
            .args(["gen", "tpch", "--scale-factor", "0.001", "--out"])
            .arg(dir.path()),
    );
    assert_eq!(out.lines().count(), 8);
    let orders = dir.path().join("orders.parquet");
    assert_eq!(stdout_of(parframe().arg("count").arg(&orders)), "1500\n");
    let q = format!(
        "SELECT count(*) AS n FROM '{}'",
        dir.path().join("nation.parquet").display()
    );
    assert_eq!(
        stdout_of(parframe().args(["sql", "-f", "csv", &q])),
        "n\n25\n"
    );
    parframe()
        .args(["gen", "tpch", "--scale-factor", "0", "--out"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(contains("scale factor > 0"));
}

#[test]
fn gen_lays_out_parquet_row_groups_and_codec() {
    let dir = tempfile::tempdir().unwrap();
    parframe()
        .args(["gen", "groupby", "--rows", "2e3", "--k", "10"])
        .args([
            "--compression",
            "snappy",
            "--row-group-rows",
            "500",
            "--out",
        ])
        .arg(dir.path())
        .assert()
        .success();
    let path = dir.path().join("G1_2e3_1e1_0_0.parquet");
    let source = parframe::ParquetSource::try_new(&path).unwrap();
    assert_eq!(source.row_group_rows(), [500, 500, 500, 500]);
    // Snappy files are larger than the default zstd ones of the same rows.
    let zstd_dir = tempfile::tempdir().unwrap();
    parframe()
        .args(["gen", "groupby", "--rows", "2e3", "--k", "10", "--out"])
        .arg(zstd_dir.path())
        .assert()
        .success();
    let zstd = zstd_dir.path().join("G1_2e3_1e1_0_0.parquet");
    assert_eq!(
        parframe::ParquetSource::try_new(&zstd)
            .unwrap()
            .row_group_rows(),
        [2000]
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(
        size(&path) > size(&zstd),
        "{} vs {}",
        size(&path),
        size(&zstd)
    );
    parframe()
        .args(["gen", "groupby", "--rows", "2e3", "--compression", "gzip2"])
        .arg("--out")
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(contains("snappy"));
}

#[test]
fn sql_prints_a_table() {
    let q = format!(
        "SELECT name, sum(qty) AS qty FROM '{}' WHERE price > 1 GROUP BY name",
        path("small.csv")
    );
    parframe().args(["sql", &q]).assert().success().stdout(
        contains("| apple")
            .and(contains("| 4 "))
            .and(contains("2 rows")),
    );
}

#[test]
fn sql_case_when() {
    let q = format!(
        "SELECT name, CASE WHEN qty IS NULL THEN 'none' WHEN qty > 2 THEN 'many' ELSE 'few' END AS n, \
         CASE name WHEN 'apple' THEN 1 WHEN 'plum' THEN 2 END AS code FROM '{}'",
        path("small.csv")
    );
    assert_eq!(
        stdout_of(parframe().args(["sql", "-f", "csv", &q])),
        "name,n,code\napple,many,1\npear,none,\nplum,many,2\napple,few,1\n"
    );
}

#[test]
fn sql_with_registered_tables_and_read_csv() {
    let out = stdout_of(parframe().args([
        "sql",
        "--format",
        "csv",
        "--table",
        &format!("fruit={}", path("small.csv")),
        "SELECT count(*) AS n, count(qty) AS q, count(DISTINCT name) AS d FROM fruit",
    ]));
    assert_eq!(out, "n,q,d\n4,3,3\n");
    let q = format!(
        "SELECT b, a * 10 AS a10 FROM read_csv('{}', delim=';', header=true) WHERE a >= 2",
        path("semi.csv")
    );
    assert_eq!(
        stdout_of(parframe().args(["sql", "-f", "csv", &q])),
        "b,a10\ny,20\n"
    );
    // A subquery in FROM and a glob pattern.
    let q = format!(
        "SELECT max(n) AS m FROM (SELECT name, count(*) AS n FROM '{}' GROUP BY name) s",
        fixture().root.join("sm*.csv").display()
    );
    assert_eq!(
        stdout_of(parframe().args(["sql", "-f", "csv", &q])),
        "m\n2\n"
    );
}

#[test]
fn sql_reads_the_query_from_stdin() {
    let q = format!("SELECT count(*) AS n FROM '{}'", path("small.csv"));
    let out = parframe()
        .args(["sql", "-f", "csv", "-"])
        .write_stdin(q)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(out).unwrap(), "n\n4\n");
}

// ---------------------------------------------------------------- formats

#[test]
fn output_formats() {
    let dir = tempfile::tempdir().unwrap();
    let q = format!(
        "SELECT name, qty FROM '{}' WHERE qty > 2",
        path("small.csv")
    );
    // JSON lines on stdout.
    let json = stdout_of(parframe().args(["sql", "--format", "json", &q]));
    assert_eq!(
        json,
        "{\"name\":\"apple\",\"qty\":3}\n{\"name\":\"plum\",\"qty\":7}\n"
    );
    // Files, by flag and by extension; each read back through the CLI.
    for (name, format) in [
        ("o.parquet", None),
        ("o.arrow", None),
        ("o.csv", None),
        ("o.bin", Some("parquet")),
        ("o.ipc", Some("ipc")),
    ] {
        let target = dir.path().join(name);
        let mut cmd = parframe();
        cmd.args(["sql", &q, "--output"]).arg(&target);
        if let Some(f) = format {
            cmd.args(["--format", f]);
        }
        cmd.assert().success().stderr(contains("2 rows written to"));
        let back = if name == "o.bin" {
            let renamed = dir.path().join("o2.parquet");
            std::fs::rename(&target, &renamed).unwrap();
            renamed
        } else {
            target
        };
        parframe()
            .arg("count")
            .arg(&back)
            .assert()
            .success()
            .stdout("2\n");
    }
    let target = dir.path().join("o.json");
    parframe()
        .args(["-q", "sql", &q, "-o"])
        .arg(&target)
        .assert()
        .success()
        .stderr("");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), json);
    let target = dir.path().join("o.txt");
    parframe()
        .args(["sql", &q, "-o"])
        .arg(&target)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&target).unwrap().contains("| plum"));
}

#[test]
fn long_tables_show_first_and_last_rows() {
    let q = format!("SELECT id4, v1 FROM '{}'", fixture().g1.display());
    parframe()
        .args(["sql", "--max-rows", "6", &q])
        .assert()
        .success()
        .stdout(contains("… 2994 more rows …").and(contains("3000 rows")));
}

#[test]
fn verbose_prints_the_plan_and_quiet_prints_nothing() {
    let q = format!(
        "SELECT id1, sum(v1) FROM '{}' GROUP BY id1",
        fixture().g1.display()
    );
    parframe()
        .args(["-v", "sql", "-f", "csv", &q])
        .assert()
        .success()
        .stderr(
            contains("plan:")
                .and(contains("Aggregate keys=[id1]"))
                .and(contains("columns=[id1, v1]"))
                .and(contains("memory peak")),
        );
}

// ---------------------------------------------------------------- errors

#[test]
fn usage_errors_exit_2() {
    parframe().assert().code(2);
    parframe().args(["sql"]).assert().code(2);
    parframe().args(["frobnicate"]).assert().code(2);
    parframe()
        .args(["--memory-limit", "lots", "count", "x.csv"])
        .assert()
        .code(2)
        .stderr(contains("lots"));
    parframe()
        .args(["--threads", "0", "count", "x.csv"])
        .assert()
        .code(2);
    parframe()
        .args(["sql", "--table", "nonsense", "SELECT 1"])
        .assert()
        .code(2);
    let q = format!("SELECT * FROM '{}'", path("small.csv"));
    parframe()
        .args(["sql", "--format", "parquet", &q])
        .assert()
        .code(2)
        .stderr(contains("--output"));
    parframe()
        .args(["sql", &q, "--output", "x.unknown"])
        .assert()
        .code(2)
        .stderr(contains("extension"));
    parframe().arg("--help").assert().success();
}

#[test]
fn bad_sql_exits_1_with_a_position() {
    parframe()
        .args(["sql", "SELEC * FROM x"])
        .assert()
        .code(1)
        .stderr(contains("SQL syntax error").and(contains("line 1, column 1")));
    let q = format!("SELECT id1,\n  nope FROM '{}'", fixture().g1.display());
    parframe().args(["sql", &q]).assert().code(1).stderr(
        contains("column 'nope' not found")
            .and(contains("line 2, column 3"))
            .and(contains("id1, id2")),
    );
    let q = format!(
        "SELECT CASE WHEN id1 THEN 1 ELSE 0 END FROM '{}'",
        fixture().g1.display()
    );
    parframe()
        .args(["sql", &q])
        .assert()
        .code(1)
        .stderr(contains("CASE WHEN").and(contains("must be Boolean")));
    let q = format!(
        "SELECT id1 FROM '{0}' a JOIN '{0}' b ON a.id1 = b.id1",
        fixture().g1.display()
    );
    parframe()
        .args(["sql", &q])
        .assert()
        .code(1)
        .stderr(contains("'id1' is ambiguous").and(contains("a.id1 or b.id1")));
    let q = format!(
        "SELECT id6, sum(v3) OVER (ORDER BY v3 RANGE BETWEEN id4 PRECEDING AND CURRENT ROW) \
         FROM '{}'",
        fixture().g1.display()
    );
    parframe()
        .args(["sql", &q])
        .assert()
        .code(1)
        .stderr(contains("a number or an INTERVAL literal").and(contains("column 53")));
    let q = format!("SELECT id1 FROM '{}' GROUP BY id2", fixture().g1.display());
    parframe()
        .args(["sql", &q])
        .assert()
        .code(1)
        .stderr(contains("'id1' must appear in GROUP BY"));
    // A type error from the expression layer.
    let q = format!("SELECT id1 + 1 FROM '{}'", fixture().g1.display());
    parframe()
        .args(["sql", &q])
        .assert()
        .code(1)
        .stderr(contains("type error"));
}

#[test]
fn missing_and_malformed_files_exit_1() {
    parframe()
        .args(["sql", "SELECT * FROM 'no/such/file.csv'"])
        .assert()
        .code(1)
        .stderr(contains("no/such/file.csv"));
    parframe()
        .args(["head", "no_such_file.parquet"])
        .assert()
        .code(1)
        .stderr(contains("no_such_file.parquet"));
    parframe()
        .args(["schema", "file.unknown"])
        .assert()
        .code(1)
        .stderr(contains("extension"));
    let bad = path("bad.csv");
    let out = parframe()
        .args(["sql", &format!("SELECT sum(a) FROM '{bad}'")])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("bad.csv") && err.contains("line 3"), "{err}");
    assert!(
        err.lines().count() <= 2 && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn order_by_with_directions_nulls_and_limit() {
    let small = path("small.csv");
    let q = |order: &str| format!("SELECT name, qty FROM '{small}' ORDER BY {order}");
    let names = |order: &str| -> Vec<String> {
        stdout_of(parframe().args(["sql", "-f", "csv", &q(order)]))
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("qty"), ["apple", "apple", "plum", "pear"]);
    assert_eq!(names("qty NULLS FIRST"), ["pear", "apple", "apple", "plum"]);
    assert_eq!(names("qty DESC"), ["plum", "apple", "apple", "pear"]);
    assert_eq!(
        names("2 DESC NULLS FIRST"),
        ["pear", "plum", "apple", "apple"]
    );
    // By a column that is not selected, and by an expression; with LIMIT (a top-k).
    assert_eq!(names("price DESC LIMIT 2"), ["pear", "apple"]);
    assert_eq!(names("price * qty LIMIT 2"), ["apple", "plum"]);
    // An aggregation ordered by an aggregate, and DISTINCT.
    let out = stdout_of(parframe().args([
        "sql",
        "-f",
        "csv",
        &format!(
            "SELECT id4, count(*) AS n FROM '{}' GROUP BY id4 ORDER BY n DESC, id4 LIMIT 3",
            fixture().g1.display()
        ),
    ]));
    let counts: Vec<i64> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 3);
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{out}");
    let out = stdout_of(parframe().args([
        "sql",
        "-f",
        "csv",
        &format!("SELECT DISTINCT name FROM '{small}' ORDER BY name DESC"),
    ]));
    assert_eq!(out, "name\nplum\npear\napple\n");
    parframe()
        .args([
            "sql",
            &format!("SELECT DISTINCT name FROM '{small}' ORDER BY qty"),
        ])
        .assert()
        .code(1)
        .stderr(contains("DISTINCT"));
}

// ---------------------------------------------------------------- demo

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    parframe()
        .args(["demo", "--rows", "2e4", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(
            contains("q1: sum v1 by id1")
                .and(contains("q10"))
                .and(contains("apply: v3_per_v1"))
                .and(contains("top-k: ORDER BY v3 DESC LIMIT 5: 5 rows"))
                .and(contains("memory: peak")),
        );
    assert!(dir.path().join("G1_2e4_1e2_0_0.parquet").exists());
}

// --------------------------------------------- SQL against the Rust API

/// Rows of CSV text, sorted, fields split.
fn rows(csv: &str) -> (String, Vec<Vec<String>>) {
    let mut lines = csv.lines();
    let header = lines.next().unwrap_or("").to_string();
    let mut rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    rows.sort();
    (header, rows)
}

fn api_csv(lf: &LazyFrame) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("api.csv");
    parframe::write_csv(&lf.collect().unwrap(), &p, &Default::default()).unwrap();
    std::fs::read_to_string(p).unwrap()
}

fn same_values(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

fn check(sql: &str, api: LazyFrame) {
    let g1 = &fixture().g1;
    let sql = sql.replace("FROM t ", &format!("FROM '{}' ", g1.display()));
    let got = stdout_of(parframe().args(["sql", "-f", "csv", &sql]));
    let want = api_csv(&api);
    let (gh, gr) = rows(&got);
    let (wh, wr) = rows(&want);
    assert_eq!(gh, wh, "{sql}");
    assert_eq!(gr.len(), wr.len(), "{sql}");
    assert!(!gr.is_empty(), "{sql}");
    for (g, w) in gr.iter().zip(&wr) {
        assert_eq!(g.len(), w.len(), "{sql}");
        for (x, y) in g.iter().zip(w) {
            assert!(same_values(x, y), "{sql}: {x} != {y} in {g:?} vs {w:?}");
        }
    }
}

fn g1(ctx: &Context, p: &Path) -> LazyFrame {
    ctx.scan_parquet(p).unwrap()
}

#[test]
fn db_benchmark_groupby_questions_in_sql() {
    let ctx = Context::builder().threads(2).build().unwrap();
    let t = g1(&ctx, &fixture().g1);
    let by = |keys: &[&str]| t.group_by(keys.iter().map(|k| col(*k)));
    // `FROM t` in the SQL below is replaced by the file path.
    check(
        "SELECT id1, sum(v1) AS v1 FROM t GROUP BY id1",
        by(&["id1"]).agg([sum("v1")]).unwrap(),
    );
    check(
        "SELECT id1, id2, sum(v1) AS v1 FROM t GROUP BY id1, id2",
        by(&["id1", "id2"]).agg([sum("v1")]).unwrap(),
    );
    check(
        "SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM t GROUP BY id3",
        by(&["id3"]).agg([sum("v1"), mean("v3")]).unwrap(),
    );
    check(
        "SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM t GROUP BY id4",
        by(&["id4"])
            .agg([mean("v1"), mean("v2"), mean("v3")])
            .unwrap(),
    );
    check(
        "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM t GROUP BY id6",
        by(&["id6"]).agg([sum("v1"), sum("v2"), sum("v3")]).unwrap(),
    );
    check(
        "SELECT id4, id5, median(v3) AS median_v3, stddev(v3) AS sd_v3 FROM t GROUP BY id4, id5",
        by(&["id4", "id5"])
            .agg([median("v3").alias("median_v3"), std("v3").alias("sd_v3")])
            .unwrap(),
    );
    check(
        "SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM t GROUP BY id3",
        by(&["id3"])
            .agg([(max("v1") - min("v2")).alias("range_v1_v2")])
            .unwrap(),
    );
    // q8 (the two largest v3 per id6) needs window functions in SQL.
    check(
        "SELECT id2, id4, corr(v1, v2) * corr(v1, v2) AS r2 FROM t GROUP BY id2, id4",
        by(&["id2", "id4"])
            .agg([corr("v1", "v2").pow(2).alias("r2")])
            .unwrap(),
    );
    check(
        "SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count \
         FROM t GROUP BY id1, id2, id3, id4, id5, id6",
        by(&["id1", "id2", "id3", "id4", "id5", "id6"])
            .agg([sum("v3"), count_rows()])
            .unwrap(),
    );
    // GROUP BY positions and expressions, HAVING, a filter.
    check(
        "SELECT id4 % 3 AS m, sum(v1) AS s FROM t WHERE v2 > 3 GROUP BY 1 HAVING count(*) > 10",
        t.filter(col("v2").gt(parframe::lit(3i64)))
            .unwrap()
            .with_column((col("id4") % parframe::lit(3i64)).alias("m"))
            .unwrap()
            .group_by([col("m")])
            .agg([sum("v1").alias("s"), count_rows().alias("n")])
            .unwrap()
            .filter(col("n").gt(parframe::lit(10i64)))
            .unwrap()
            .select([col("m"), col("s")])
            .unwrap(),
    );
}

// ------------------------------------------------ spilling and Ctrl-C

/// A 3e5-row G1 table, big enough to spill a sort under a tiny limit.
fn big_g1() -> &'static Path {
    static F: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = parframe()
            .args(["gen", "groupby", "--rows", "3e5", "--k", "100", "--out"])
            .arg(dir.path())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let p = PathBuf::from(String::from_utf8(out).unwrap().trim());
        (dir, p)
    });
    p
}

fn sort_query() -> String {
    format!("SELECT * FROM '{}' ORDER BY v3", big_g1().display())
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).unwrap().next().is_none()
}

#[test]
fn spilling_sort_reports_spill_files_and_cleans_up() {
    let spill = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    parframe()
        .arg("--spill-dir")
        .arg(spill.path())
        .args(["--memory-limit", "24MiB", "-v", "sql", "-f", "csv", "-o"])
        .arg(out.path().join("sorted.csv"))
        .arg(sort_query())
        .assert()
        .success()
        .stderr(
            predicates::str::is_match("spilled [1-9][0-9]* files")
                .unwrap()
                .and(contains("Sort [v3 ASC")),
        );
    assert!(is_empty_dir(spill.path()), "spill files left behind");
    let csv = std::fs::read_to_string(out.path().join("sorted.csv")).unwrap();
    assert_eq!(csv.lines().count(), 300_001);
}

#[test]
fn ctrl_c_cancels_cleans_spill_files_and_exits_130() {
    let spill = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin!("parframe");
    let mut child = std::process::Command::new(bin)
        .args(["--threads", "2", "--quiet", "--spill-dir"])
        .arg(spill.path())
        .args(["--memory-limit", "24MiB", "sql", "-f", "csv", "-o"])
        .arg(out.path().join("sorted.csv"))
        .arg(sort_query())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the job spills (so the handler is installed and spill
    // files exist), then press Ctrl-C.
    let start = std::time::Instant::now();
    while is_empty_dir(spill.path()) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before spilling"
        );
        assert!(start.elapsed().as_secs() < 60, "never spilled");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(is_empty_dir(spill.path()), "spill files left behind");
}

/// Starts a spilling sort into `-o out/sorted.csv` and waits until it
/// spills (so the signal handlers are installed and spill files exist).
fn spilling_child(spill: &Path, out: &Path) -> std::process::Child {
    let bin = assert_cmd::cargo::cargo_bin!("parframe");
    let mut child = std::process::Command::new(bin)
        .args(["--threads", "2", "--quiet", "--spill-dir"])
        .arg(spill)
        .args(["--memory-limit", "24MiB", "sql", "-f", "csv", "-o"])
        .arg(out.join("sorted.csv"))
        .arg(sort_query())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while is_empty_dir(spill) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before spilling"
        );
        assert!(start.elapsed().as_secs() < 60, "never spilled");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child
}

fn signal(child: &std::process::Child, sig: &str) {
    let killed = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// SIGTERM is handled like Ctrl-C (it used to kill the process with the
/// spill directory and the temporary output left behind); then a double
/// Ctrl-C, whose second signal exits at once, leaves nothing either.
#[test]
fn sigterm_and_double_ctrl_c_clean_up() {
    for signals in [&["-TERM"][..], &["-INT", "-INT"][..]] {
        let spill = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let child = spilling_child(spill.path(), out.path());
        for s in signals {
            signal(&child, s);
        }
        let done = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(130), "{signals:?}: {stderr}");
        assert!(
            is_empty_dir(spill.path()),
            "{signals:?}: spill files left behind"
        );
        assert!(
            is_empty_dir(out.path()),
            "{signals:?}: temporary output left behind"
        );
    }
}

/// A reader that goes away (`| head -1`) ends the command quietly with
/// exit 0; a full disk (`>/dev/full`) is an error, not a panic.
#[cfg(unix)]
#[test]
fn closed_stdout_ends_quietly() {
    let bin = assert_cmd::cargo::cargo_bin!("parframe");
    let g1 = fixture().g1.display().to_string();
    let query = format!("SELECT * FROM '{g1}'");
    let cases: [&[&str]; 3] = [
        &["schema", &g1],
        &["sql", "-f", "csv", &query],
        &["sql", "-f", "json", &query],
    ];
    for args in cases {
        let mut child = std::process::Command::new(bin)
            .args(["--threads", "2", "--quiet"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the command writes.
        drop(child.stdout.take());
        let done = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.trim().is_empty(), "{args:?}: {stderr}");
    }
    if Path::new("/dev/full").exists() {
        let full = std::fs::File::create("/dev/full").unwrap();
        let done = std::process::Command::new(bin)
            .args(["--quiet", "schema", &g1])
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(1), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.contains("cannot write"), "{stderr}");
    }
}

/// An empty result as CSV on stdout has its header line, as with `-o`;
/// empty strings are `""`, nulls empty fields.
#[test]
fn csv_to_stdout_keeps_header_and_empty_strings() {
    let small = path("small.csv");
    let out = stdout_of(parframe().args([
        "sql",
        "-f",
        "csv",
        &format!("SELECT name, qty FROM '{small}' WHERE qty > 100"),
    ]));
    assert_eq!(out, "name,qty\n");
    let out = stdout_of(parframe().args([
        "sql",
        "-f",
        "csv",
        &format!("SELECT '' AS e, qty FROM '{small}' WHERE name = 'pear'"),
    ]));
    assert_eq!(out, "e,qty\n\"\",\n");
}

#[test]
fn sql_join_spills_under_a_small_limit_and_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of(
        parframe()
            .args(["gen", "join", "--rows", "2e4", "--out"])
            .arg(dir.path()),
    );
    let files: Vec<&str> = out.lines().collect();
    let (x, big) = (files[0], files[3]);
    let sql = format!(
        "SELECT count(*) AS n, CAST(sum(x.v1) AS BIGINT) AS s, count(b.v2) AS m \
         FROM '{x}' x LEFT JOIN '{big}' b ON x.id3 = b.id3"
    );
    let free = stdout_of(parframe().args(["sql", "-f", "csv"]).arg(&sql));
    let spill = tempfile::tempdir().unwrap();
    let limited = parframe()
        .arg("--spill-dir")
        .arg(spill.path())
        .args(["--memory-limit", "256KiB", "-v", "sql", "-f", "csv"])
        .arg(&sql)
        .assert()
        .success()
        .stderr(
            predicates::str::is_match("spilled [1-9][0-9]* files")
                .unwrap()
                .and(contains("Join left on [id3 = id3]")),
        )
        .get_output()
        .stdout
        .clone();
    assert_eq!(free, String::from_utf8(limited).unwrap());
    assert!(free.starts_with("n,s,m\n20000,"), "{free}");
    assert!(is_empty_dir(spill.path()), "spill files left behind");
}

/// A column that changes type after the rows sampled fails with an error
/// that names both ways out, and both work; header flags override the
/// detection (which takes an all-text first row for a header).
#[test]
fn csv_flags_infer_rows_types_and_header() {
    let dir = tempfile::tempdir().unwrap();
    let late = dir.path().join("late.csv");
    let mut text = String::from("id,v\n");
    for i in 0..1500 {
        text.push_str(&format!("{i},{i}\n"));
    }
    text.push_str("1500,abc\n");
    std::fs::write(&late, text).unwrap();
    let late = late.display().to_string();
    let sum = |extra: &[&str]| {
        let mut c = parframe();
        c.args(extra)
            .args(["head", "-n", "2000", "-f", "csv", &late]);
        c
    };
    sum(&[])
        .assert()
        .code(1)
        .stderr(contains("--infer-rows").and(contains("--csv-type v=utf8")));
    let all = stdout_of(&mut sum(&["--infer-rows", "0"]));
    assert!(all.ends_with("1500,abc\n"), "{all}");
    let typed = stdout_of(&mut sum(&["--csv-type", "v=utf8"]));
    assert_eq!(typed, all);

    let airlines = dir.path().join("airlines.csv");
    std::fs::write(
        &airlines,
        "carrier,name\n9E,Endeavor Air Inc.\nAA,American Airlines Inc.\n",
    )
    .unwrap();
    let airlines = airlines.display().to_string();
    assert_eq!(stdout_of(parframe().args(["count", &airlines])).trim(), "2");
    assert_eq!(
        stdout_of(parframe().args(["--no-header", "count", &airlines])).trim(),
        "3"
    );
    let schema = stdout_of(parframe().args(["schema", &airlines]));
    assert!(schema.starts_with("carrier: Utf8\nname: Utf8"), "{schema}");
}

// ------------------------------------------------------- object storage

/// The S3 test server (moto on loopback; see the file for which and why).
#[path = "../../../parframe/tests/it/s3_server.rs"]
mod s3_server;

/// `s3://` URLs from the command line, configured by the standard AWS
/// environment variables only (endpoint, credentials, region, plain HTTP):
/// `COPY ... TO 's3://...'`, then `schema`, `head`, `count` and `sql` over
/// the object, a glob of objects, and a partitioned write read back as a
/// dataset, each answer equal to the same command on the local file.
#[test]
fn s3_urls_from_the_command_line() {
    let Some(server) = s3_server::start("s3_urls_from_the_command_line") else {
        return;
    };
    server.create_bucket("cli");
    let f = fixture();
    let g1 = f.g1.to_str().unwrap();
    let s3 = |cmd: &mut Command| -> String {
        for (k, v) in server.env() {
            cmd.env(k, v);
        }
        stdout_of(cmd)
    };
    let q = format!("COPY (SELECT * FROM '{g1}') TO 's3://cli/g1/part-0.parquet'");
    s3(parframe().args(["sql", &q]));
    let q = format!(
        "COPY (SELECT * FROM '{g1}') TO 's3://cli/by_id4' (FORMAT parquet, PARTITION_BY (id4))"
    );
    s3(parframe().args(["sql", &q]));

    let url = "s3://cli/g1/part-0.parquet";
    assert_eq!(
        s3(parframe().args(["schema", url])),
        stdout_of(parframe().args(["schema", g1]))
    );
    assert_eq!(
        s3(parframe().args(["count", "s3://cli/g1/*.parquet"])),
        stdout_of(parframe().args(["count", g1]))
    );
    assert_eq!(
        s3(parframe().args(["head", url, "-n", "5"])),
        stdout_of(parframe().args(["head", g1, "-n", "5"]))
    );
    let q = |from: &str| {
        format!("SELECT id4, count(*) AS n, sum(v1) AS s FROM '{from}' WHERE id4 = 7 GROUP BY id4")
    };
    let want = stdout_of(parframe().args(["sql", "-f", "csv", &q(g1)]));
    assert!(want.lines().count() == 2, "{want}");
    assert_eq!(s3(parframe().args(["sql", "-f", "csv", &q(url)])), want);
    assert_eq!(
        s3(parframe().args(["sql", "-f", "csv", &q("s3://cli/by_id4")])),
        want
    );

    // A missing object: an error naming it, exit code 1.
    let mut cmd = parframe();
    for (k, v) in server.env() {
        cmd.env(k, v);
    }
    cmd.args(["count", "s3://cli/missing.parquet"])
        .assert()
        .failure()
        .stderr(contains("s3://cli/missing.parquet"));
}
