//! SQL for parframe: a statement parsed by [`sqlparser`] and planned onto
//! the lazy API ([`LazyFrame`]), the same plan builder Rust code uses, so
//! SQL and Rust compose: register a frame or a file as a table, query it,
//! and keep building on the result in Rust.
//!
//! ```
//! use parframe_core::{col, lit, table};
//! use parframe_exec::Context;
//! use parframe_sql::SqlContext;
//!
//! let ctx = Context::builder().threads(2).build()?;
//! let trips = table!("city" => ["paris", "rome", "paris"], "km" => [3.5, 12.0, 7.25])?;
//! ctx.register_table("trips", ctx.lazy(trips));
//! let per_city = ctx.sql("SELECT city, sum(km) AS km FROM trips GROUP BY city")?;
//! // ... and on in Rust.
//! let long = per_city.filter(col("km").gt(lit(10.0)))?.collect()?;
//! assert_eq!(long.num_rows(), 2);
//! # Ok::<(), parframe_common::Error>(())
//! ```
//!
//! # What is supported
//!
//! `SELECT` lists with expressions, aliases and `*` / `t.*`; `FROM` a table
//! of the context's catalog ([`Context::register_table`],
//! [`Context::register_parquet`], ...), a `WITH` table, a file path in
//! single quotes (format from the extension, `*`/`?` wildcards in the file
//! name), `read_csv('f.csv', delim=';', header=true, nullstr='NA')`,
//! `read_parquet('f')`, `read_ipc('f')` (each with `union_by_name = true`:
//! files of different columns as one table), or a subquery; joins (`[INNER]`,
//! `LEFT`/`RIGHT`/`FULL [OUTER]`, `[LEFT] SEMI`/`ANTI`, `CROSS`, `FROM a,
//! b`) with `ON` equalities or `USING`; `WHERE`; `GROUP BY` names,
//! positions, aliases and expressions; `HAVING`; aggregates and scalar
//! functions from the [function registry](functions), and arithmetic over
//! them; `CAST`/`::`; `LIKE` prefix/suffix/substring patterns; `IN (list)`,
//! `BETWEEN`, `IS [NOT] NULL`, `CASE`; `DISTINCT`; `ORDER BY` with
//! `ASC`/`DESC`, `NULLS FIRST`/`LAST` (default: nulls last, as DuckDB),
//! output names or positions; `LIMIT` / `OFFSET`; window functions
//! (`f(...) OVER (PARTITION BY ... ORDER BY ... ROWS|RANGE ...)`, `WINDOW`,
//! `QUALIFY`: see `window.rs`); `UNION [ALL]`; `VALUES` lists
//! (columns `column1`, `column2`, ...); `SELECT` without `FROM`;
//! `FILTER (WHERE ...)` on aggregates; subqueries in `WHERE`, the select
//! list and `HAVING` (`[NOT] IN (SELECT ...)`, `[NOT] EXISTS`, scalar
//! subqueries, correlated ones decorrelated into joins: see
//! `subquery.rs`). Statements:
//! queries, `EXPLAIN [ANALYZE] query` (the plan as rows of a `plan`
//! column), `COPY (query) TO 'file' [(FORMAT parquet|csv|ipc)]` (run at
//! once, streamed through the file sinks; one row with the `count` of
//! rows written).
//!
//! Anything else is an [`Error::Sql`] naming the construct, with the line
//! and column of the construct in the query; never a silently different
//! answer.
//!
//! Division: `/` of two integers is true division giving `Float64` (as
//! DuckDB, MySQL and polars; PostgreSQL would truncate), `//` is integer
//! division truncating toward zero (DuckDB's operator); other types divide
//! as the expression layer does. Otherwise semantics follow the expression
//! layer: `sum` of integers is `Int64`, `avg` is `Float64`, casts are
//! strict (a value that does not convert is an error, not a null;
//! `TRY_CAST` / `SAFE_CAST` give null instead). Unquoted names match columns case-insensitively when that is
//! unambiguous. Unaliased expressions are named as written (`sum(v1)`).
//!
//! # Layout
//!
//! As datafusion-sql and polars-sql are split: [`planner`](crate) (the
//! statement), `query.rs` (`WITH`, `ORDER BY`, `LIMIT`, `OFFSET`), `window.rs` (`OVER`, `QUALIFY`), `set_expr.rs`
//! (`UNION`, `VALUES`), `select.rs` (the select list, `DISTINCT`),
//! `aggregate.rs` (`GROUP BY`, `HAVING`, aggregates), `relation.rs`
//! (`FROM`, joins, table functions), `scope.rs` (name resolution),
//! `expr.rs` (expressions), `subquery.rs` (subqueries decorrelated into
//! joins), `types.rs` (SQL types), `functions/` (the
//! registry), `statement.rs` (`COPY`, `EXPLAIN`).
#![deny(missing_docs)]

mod aggregate;
mod error;
mod expr;
mod factor;
pub mod functions;
mod planner;
mod query;
mod relation;
mod scope;
mod select;
mod set_expr;
mod statement;
mod subquery;
mod syntax;
mod types;
mod values;
mod window;

#[cfg(doc)]
use parframe_common::Error;
use parframe_common::Result;
use parframe_exec::{Context, LazyFrame};

/// `ctx.sql("SELECT ...")`: SQL on a [`Context`]. Import it (or
/// `parframe::prelude::*`) to call it.
pub trait SqlContext {
    /// Parses and plans one SQL statement over the context's tables.
    ///
    /// A query returns its plan, unrun (collect, stream or sink it, or keep
    /// building on it). `EXPLAIN` returns the plan's text as rows;
    /// `EXPLAIN ANALYZE` and `COPY ... TO` run at once and return their
    /// report (the annotated plan; the rows written).
    ///
    /// Errors are [`Error::Sql`] with the line and column of the construct,
    /// or the library's errors (a missing file) as they come.
    fn sql(&self, query: &str) -> Result<LazyFrame>;
}

impl SqlContext for Context {
    fn sql(&self, query: &str) -> Result<LazyFrame> {
        sql(self, query)
    }
}

/// [`SqlContext::sql`] as a function.
pub fn sql(ctx: &Context, query: &str) -> Result<LazyFrame> {
    // A long chain (`a OR b OR ...`, `x + y + ...`) parses into an AST as
    // deep as the chain, and sqlparser's spans, clones and drops recurse
    // through it: parse, plan and drop it on a stack that grows with the
    // query (virtual memory, touched only as deep as the recursion goes).
    // Our own recursion is guarded by `recursive` as well.
    let stack = STACK_MIN.max(query.len().saturating_mul(STACK_PER_BYTE));
    stacker::grow(stack, || {
        let parsed = planner::parse(query)?;
        planner::SqlPlanner::new(ctx.clone()).statement(&parsed)
    })
}

/// The smallest stack parsing and planning run on.
const STACK_MIN: usize = 64 << 20;
/// Stack per byte of query text: each level of nesting takes at least two
/// bytes (`a+`), and each level costs sqlparser well under 512 bytes.
const STACK_PER_BYTE: usize = 1024;
