//! Integration tests of `parframe-sql`, one module per family of SQL (as
//! polars-sql's tests are laid out).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod case;
mod casts;
mod datetime;
mod decimals;
mod errors;
mod functions;
mod fuzz;
mod group_by;
mod joins;
mod limit_offset;
mod math;
mod null_functions;
mod select;
mod set_ops;
mod statements;
mod strings;
mod subqueries;
mod tpch;
mod windows;

use parframe::prelude::*;

/// A context with tables `t` and `u`.
pub fn ctx() -> Context {
    let ctx = Context::builder().threads(2).build().unwrap();
    let t = table!(
        "k" => ["a", "b", "a", "c", "b"],
        "x" => [1i64, 2, 3, 4, 5],
        "y" => [1.5, 2.5, 3.5, 4.5, 5.5],
    )
    .unwrap();
    let u = table!(
        "k" => ["a", "b", "d"],
        "name" => ["ann", "bob", "dan"],
        "x" => [10i64, 20, 30],
    )
    .unwrap();
    ctx.register_table("t", ctx.lazy(t));
    ctx.register_table("u", ctx.lazy(u));
    ctx
}

/// Runs `sql` on [`ctx`].
pub fn run(sql: &str) -> Table {
    ctx()
        .sql(sql)
        .and_then(|lf| lf.collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The error of `sql` on [`ctx`] (planning or running).
pub fn error(sql: &str) -> String {
    error_of(ctx().sql(sql).and_then(|lf| lf.collect()), sql)
}

pub fn error_of(r: parframe::Result<Table>, sql: &str) -> String {
    match r {
        Ok(_) => panic!("expected an error for {sql}"),
        Err(e) => e.to_string(),
    }
}

/// A column's values as text (nulls as "null").
pub fn strings(t: &Table, column: &str) -> Vec<String> {
    let opts = parframe::arrow::cast::display::FormatOptions::default().with_null("null");
    let mut out = Vec::new();
    for c in t.chunks() {
        let a = c.column(c.schema().index_of(column).unwrap());
        let f = parframe::arrow::cast::display::ArrayFormatter::try_new(a.as_ref(), &opts).unwrap();
        out.extend((0..a.len()).map(|i| f.value(i).to_string()));
    }
    out
}
