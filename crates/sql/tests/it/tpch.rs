//! The 22 TPC-H queries, as the specification writes them (with its
//! validation parameters; `datasets/tpch/queries/`), through `ctx.sql` on
//! `parframe gen tpch` data at scale factor 0.01 (generated here, in
//! memory), compared with DuckDB's answers on the same data
//! (`datasets/tpch/answers/sf0.01/`, provenance in `datasets/tpch/README.md`).
//!
//! Comparison: strings, dates and integers exactly; DuckDB's `DOUBLE`
//! columns with a relative tolerance of 1e-9 (float sums in another order
//! differ in the last bits); its `DECIMAL` columns exactly when ours is a
//! decimal too, with the same 1e-9 tolerance when ours is a float; rows in
//! the order of the query's `ORDER BY`; column names as DuckDB names them.
//!
//! Queries that cannot run yet are listed in [`KNOWN_FAILING`] with the
//! reason. The test fails when a listed query starts passing (take it off
//! the list) or when a query off the list fails. A query whose plan still
//! holds a cross product is not run (it would not finish): it is listed as
//! `CROSS` and checked to still plan that way.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use parframe::arrow::cast::display::{ArrayFormatter, FormatOptions};
use parframe::arrow::schema::DataType;
use parframe::datasets::tpch::{self, TpchTable};
use parframe::prelude::*;

/// The scale factor of the checked-in answers used here.
const SF: f64 = 0.01;

/// A query planned with a cross product (not run).
const CROSS: &str = "cross product";

/// Queries that do not pass yet, and why (the first words of the error, or
/// [`CROSS`]).
const KNOWN_FAILING: &[(&str, &str)] = &[];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The eight tables at [`SF`], generated once per test binary.
fn tables() -> &'static Vec<(TpchTable, Table)> {
    static T: OnceLock<Vec<(TpchTable, Table)>> = OnceLock::new();
    T.get_or_init(|| {
        TpchTable::ALL
            .iter()
            .map(|&t| {
                let chunks = tpch::chunks(t, SF, 16 * 1024)
                    .collect::<parframe::Result<Vec<_>>>()
                    .unwrap();
                (t, Table::try_new(t.schema(), chunks).unwrap())
            })
            .collect()
    })
}

fn tpch_ctx() -> Context {
    let ctx = Context::builder().threads(2).build().unwrap();
    for (t, table) in tables() {
        ctx.register_table(t.name(), ctx.lazy(table.clone()));
    }
    ctx
}

/// RFC 4180 fields of one line (no newlines inside fields in these files).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

/// DuckDB's type of each column of each query (`schema.csv`).
fn duckdb_types() -> BTreeMap<String, Vec<String>> {
    let text =
        std::fs::read_to_string(repo().join("datasets/tpch/answers/sf0.01/schema.csv")).unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f = csv_fields(line);
        out.entry(f[0].clone()).or_default().push(f[2].clone());
    }
    out
}

/// An exact decimal text as (mantissa, scale) with trailing zeros removed.
fn decimal(s: &str) -> Option<(i128, u32)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac = frac.trim_end_matches('0');
    let digits = format!("{int}{frac}");
    Some((digits.parse().ok()?, frac.len() as u32))
}

fn close(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

/// Why `got` differs from the expected CSV, if it does.
fn compare(got: &Table, expected_csv: &str, types: &[String]) -> Option<String> {
    let mut lines = expected_csv.lines();
    let header = csv_fields(lines.next().unwrap_or(""));
    let expected: Vec<Vec<String>> = lines.map(csv_fields).collect();
    let names: Vec<String> = got.column_names().iter().map(|s| s.to_string()).collect();
    if names != header {
        return Some(format!("columns {names:?}, expected {header:?}"));
    }
    if got.num_rows() != expected.len() {
        return Some(format!(
            "{} rows, expected {}",
            got.num_rows(),
            expected.len()
        ));
    }
    let opts = FormatOptions::default().with_null("NULL");
    let mut row = 0usize;
    for chunk in got.chunks() {
        let formatters: Vec<_> = chunk
            .columns()
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &opts).unwrap())
            .collect();
        for i in 0..chunk.num_rows() {
            for (c, f) in formatters.iter().enumerate() {
                let ours = f.value(i).to_string();
                let theirs = &expected[row][c];
                let ours_float = matches!(
                    chunk.column(c).data_type(),
                    DataType::Float64 | DataType::Float32
                );
                let same = match types[c].as_str() {
                    _ if ours == *theirs => true,
                    "DOUBLE" => close(&ours, theirs),
                    t if t.starts_with("DECIMAL") && ours_float => close(&ours, theirs),
                    t if t.starts_with("DECIMAL") => {
                        decimal(&ours).is_some() && decimal(&ours) == decimal(theirs)
                    }
                    "BIGINT" | "INTEGER" | "HUGEINT" => {
                        ours.parse::<i128>().ok() == theirs.parse::<i128>().ok()
                    }
                    _ => false,
                };
                if !same {
                    return Some(format!(
                        "row {row} column '{}': {ours}, expected {theirs}",
                        header[c]
                    ));
                }
            }
            row += 1;
        }
    }
    None
}

/// What happened to one query: `Ok(())` or why it failed.
fn outcome(ctx: &Context, q: &str, types: &[String]) -> Result<(), String> {
    let sql = std::fs::read_to_string(repo().join(format!("datasets/tpch/queries/{q}.sql")))
        .map_err(|e| format!("cannot read the query: {e}"))?;
    let lf = ctx.sql(&sql).map_err(|e| format!("plan: {e}"))?;
    if lf.explain().to_lowercase().contains("cross") {
        return Err(CROSS.to_string());
    }
    let got = lf.collect().map_err(|e| format!("run: {e}"))?;
    let expected =
        std::fs::read_to_string(repo().join(format!("datasets/tpch/answers/sf0.01/{q}.csv")))
            .map_err(|e| format!("cannot read the answer: {e}"))?;
    match compare(&got, &expected, types) {
        None => Ok(()),
        Some(why) => Err(format!("wrong answer: {why}")),
    }
}

#[test]
fn tpch_queries_give_duckdbs_answers() {
    let ctx = tpch_ctx();
    let types = duckdb_types();
    let known: BTreeMap<&str, &str> = KNOWN_FAILING.iter().copied().collect();
    let mut passed = 0;
    let mut problems = Vec::new();
    let mut report = Vec::new();
    for n in 1..=22 {
        let q = format!("q{n:02}");
        let got = outcome(&ctx, &q, &types[&q]);
        report.push(format!(
            "{q}: {}",
            got.as_ref().err().map(String::as_str).unwrap_or("ok")
        ));
        match (&got, known.get(q.as_str())) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(why)) => problems.push(format!(
                "{q} passes now: take it off KNOWN_FAILING (was: {why})"
            )),
            (Err(e), None) => problems.push(format!("{q} fails: {e}")),
            (Err(e), Some(why)) if !e.starts_with(why) => problems.push(format!(
                "{q} fails differently: {e} (KNOWN_FAILING says: {why})"
            )),
            (Err(_), Some(_)) => {}
        }
    }
    eprintln!("TPC-H SF {SF}: {passed} of 22 pass\n{}", report.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
