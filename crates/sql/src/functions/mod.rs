//! The function registry: every scalar and aggregate function that SQL
//! knows, named once, with its aliases, arity, signature and the builder
//! that turns a call into an [`Expr`] or an [`AggExpr`]. SQL resolves
//! every function name through [`lookup`]; the list of supported
//! functions in error messages is generated from [`FUNCTIONS`].
//!
//! # How to add a function
//!
//! 1. Write its builder in the file of its family (`string.rs`,
//!    `datetime.rs`, `conditional.rs`, `aggregate.rs`, or a new file for
//!    a new family): a
//!    `fn(&ScalarArgs) -> Result<Expr>` for a scalar function, a
//!    `fn(&mut AggArgs) -> Result<AggExpr>` for an aggregate.
//! 2. Add one line to [`FUNCTIONS`] with [`scalar`] or [`aggregate`]: the
//!    name, its aliases, the arity, a signature for the docs and an
//!    example call over the test table (`s` Utf8, `i` Int64, `f` Float64;
//!    write `{}` where the name goes).
//!
//! That is all: the registry tests (`tests/it/functions.rs`) check that no
//! two entries share a name and run every name's example through
//! `ctx.sql`, so an entry that SQL cannot reach fails the build's tests.

mod aggregate;
mod conditional;
mod datetime;
mod math;
mod string;

use parframe_common::Result;
use parframe_core::{Expr, ScalarValue};
use parframe_exec::agg::AggExpr;
use sqlparser::ast;
use sqlparser::tokenizer::Span;

use crate::error::err;
use crate::expr::{number_literal, string_literal};
use sqlparser::ast::Spanned;

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exact(usize),
    /// Between the two, inclusive.
    Range(usize, usize),
    /// At least this many.
    AtLeast(usize),
}

impl Arity {
    /// Whether `n` arguments are accepted.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exact(k) => n == k,
            Arity::Range(a, b) => (a..=b).contains(&n),
            Arity::AtLeast(a) => n >= a,
        }
    }

    fn describe(self) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match self {
            Arity::Exact(k) => format!("{k} argument{}", plural(k)),
            Arity::Range(a, b) => format!("{a} to {b} arguments"),
            Arity::AtLeast(a) => format!("at least {a} argument{}", plural(a)),
        }
    }
}

/// Scalar (one value per row) or aggregate (one value per group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    /// A row-level function.
    Scalar,
    /// An aggregate, allowed where aggregates are (select list, HAVING,
    /// ORDER BY of an aggregating query).
    Aggregate,
}

/// Builds a scalar function's expression from its call.
pub(crate) type ScalarBuilder = fn(&ScalarArgs<'_>) -> Result<Expr>;
/// Builds an aggregate from its call.
pub(crate) type AggBuilder = fn(&mut AggArgs<'_>) -> Result<AggExpr>;

#[derive(Clone, Copy)]
pub(crate) enum Builder {
    Scalar(ScalarBuilder),
    Aggregate(AggBuilder),
}

/// One entry of the registry.
pub struct Function {
    /// The canonical (lower-case) name.
    pub name: &'static str,
    /// Other names for the same function.
    pub aliases: &'static [&'static str],
    /// The number of arguments.
    pub arity: Arity,
    /// Argument and result types, for the docs: `lower(string) -> string`.
    pub signature: &'static str,
    /// A call over the test table (`s` Utf8, `i` Int64, `f` Float64), with
    /// `{}` where the name goes: `{}(s)`.
    pub example: &'static str,
    pub(crate) builder: Builder,
}

impl Function {
    /// Scalar or aggregate.
    pub fn kind(&self) -> FunctionKind {
        match self.builder {
            Builder::Scalar(_) => FunctionKind::Scalar,
            Builder::Aggregate(_) => FunctionKind::Aggregate,
        }
    }

    /// The name and the aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }

    /// Checks the number of arguments of a call.
    pub(crate) fn check_arity(&self, called: &str, n: usize, span: Span) -> Result<()> {
        if self.arity.accepts(n) {
            return Ok(());
        }
        err(
            format!(
                "{called} takes {} ({}), got {n}",
                self.arity.describe(),
                self.signature
            ),
            span,
        )
    }
}

/// A registry line for a scalar function.
const fn scalar(
    name: &'static str,
    aliases: &'static [&'static str],
    arity: Arity,
    signature: &'static str,
    example: &'static str,
    build: ScalarBuilder,
) -> Function {
    Function {
        name,
        aliases,
        arity,
        signature,
        example,
        builder: Builder::Scalar(build),
    }
}

/// A registry line for an aggregate function.
const fn aggregate(
    name: &'static str,
    aliases: &'static [&'static str],
    arity: Arity,
    signature: &'static str,
    example: &'static str,
    build: AggBuilder,
) -> Function {
    Function {
        name,
        aliases,
        arity,
        signature,
        example,
        builder: Builder::Aggregate(build),
    }
}

use Arity::{AtLeast, Exact, Range};

/// Every function SQL knows, one line each (see the module docs for how to
/// add one).
pub static FUNCTIONS: &[Function] = &[
    // ---- strings (string.rs)
    scalar(
        "lower",
        &["lcase"],
        Exact(1),
        "lower(string) -> string",
        "{}(s)",
        string::lower,
    ),
    scalar(
        "upper",
        &["ucase"],
        Exact(1),
        "upper(string) -> string",
        "{}(s)",
        string::upper,
    ),
    scalar(
        "length",
        &["len", "char_length", "character_length", "strlen"],
        Exact(1),
        "length(string) -> int32 (characters)",
        "{}(s)",
        string::length,
    ),
    scalar(
        "starts_with",
        &["prefix"],
        Exact(2),
        "starts_with(string, 'literal') -> boolean",
        "{}(s, 'a')",
        string::starts_with,
    ),
    scalar(
        "ends_with",
        &["suffix"],
        Exact(2),
        "ends_with(string, 'literal') -> boolean",
        "{}(s, 'a')",
        string::ends_with,
    ),
    scalar(
        "contains",
        &[],
        Exact(2),
        "contains(string, 'literal') -> boolean",
        "{}(s, 'a')",
        string::contains,
    ),
    scalar(
        "substring",
        &["substr"],
        Range(2, 3),
        "substring(string, start[, length]) -> string (1-based)",
        "{}(s, 2, 3)",
        string::substring,
    ),
    scalar(
        "replace",
        &[],
        Exact(3),
        "replace(string, from, to) -> string (every occurrence)",
        "{}(s, 'a', 'o')",
        string::replace,
    ),
    scalar(
        "concat",
        &[],
        AtLeast(1),
        "concat(string, ...) -> string (null if any is null; also a || b)",
        "{}(s, '-', s)",
        string::concat,
    ),
    scalar(
        "concat_ws",
        &[],
        AtLeast(2),
        "concat_ws(separator, string, ...) -> string (skips nulls)",
        "{}(',', s, s)",
        string::concat_ws,
    ),
    scalar(
        "split_part",
        &[],
        Exact(3),
        "split_part(string, delimiter, n) -> string (1-based; empty when missing)",
        "{}(s, 'a', 2)",
        string::split_part,
    ),
    scalar(
        "string_split",
        &["str_split", "string_to_array"],
        Exact(2),
        "string_split(string, delimiter) -> list<string> (every field; the characters when the delimiter is empty)",
        "{}(s, 'a')",
        string::string_split,
    ),
    scalar(
        "strpos",
        &["instr"],
        Exact(2),
        "strpos(string, substring) -> int64 (1-based, 0 when absent; also POSITION(sub IN s))",
        "{}(s, 'an')",
        string::strpos,
    ),
    scalar(
        "trim",
        &["btrim"],
        Range(1, 2),
        "trim(string[, characters]) -> string (both ends; whitespace by default)",
        "{}(s, 'a')",
        string::trim,
    ),
    scalar(
        "ltrim",
        &[],
        Range(1, 2),
        "ltrim(string[, characters]) -> string",
        "{}(s, 'a')",
        string::ltrim,
    ),
    scalar(
        "rtrim",
        &[],
        Range(1, 2),
        "rtrim(string[, characters]) -> string",
        "{}(s, 'a')",
        string::rtrim,
    ),
    scalar(
        "lpad",
        &[],
        Range(2, 3),
        "lpad(string, length[, fill]) -> string (fill a space by default; truncates)",
        "{}(s, 8, '*')",
        string::lpad,
    ),
    scalar(
        "rpad",
        &[],
        Range(2, 3),
        "rpad(string, length[, fill]) -> string",
        "{}(s, 8)",
        string::rpad,
    ),
    scalar(
        "left",
        &[],
        Exact(2),
        "left(string, n) -> string (the first n characters)",
        "{}(s, 2)",
        string::left,
    ),
    scalar(
        "right",
        &[],
        Exact(2),
        "right(string, n) -> string (the last n characters)",
        "{}(s, 2)",
        string::right,
    ),
    scalar(
        "reverse",
        &[],
        Exact(1),
        "reverse(string) -> string",
        "{}(s)",
        string::reverse,
    ),
    scalar(
        "octet_length",
        &[],
        Exact(1),
        "octet_length(string) -> int64 (bytes)",
        "{}(s)",
        string::octet_length,
    ),
    scalar(
        "regexp_like",
        &["regexp_matches"],
        Exact(2),
        "regexp_like(string, 'pattern') -> boolean (matches somewhere)",
        "{}(s, '^b.n')",
        string::regexp_like,
    ),
    scalar(
        "regexp_replace",
        &[],
        Exact(3),
        "regexp_replace(string, 'pattern', 'replacement') -> string (every match; $1 = group 1)",
        "{}(s, 'a(.)', '<$1>')",
        string::regexp_replace,
    ),
    scalar(
        "regexp_extract",
        &[],
        Range(2, 3),
        "regexp_extract(string, 'pattern'[, group]) -> string (first match; null when none)",
        "{}(s, '(a)(.)', 2)",
        string::regexp_extract,
    ),
    // ---- numbers (math.rs)
    scalar(
        "abs",
        &[],
        Exact(1),
        "abs(number) -> number (same type; integers Int64)",
        "{}(f)",
        math::math,
    ),
    scalar(
        "sign",
        &[],
        Exact(1),
        "sign(number) -> -1, 0 or 1",
        "{}(f)",
        math::math,
    ),
    scalar(
        "floor",
        &[],
        Exact(1),
        "floor(number) -> number (decimals scale 0)",
        "{}(f)",
        math::math,
    ),
    scalar(
        "ceil",
        &["ceiling"],
        Exact(1),
        "ceil(number) -> number (decimals scale 0)",
        "{}(f)",
        math::math,
    ),
    scalar(
        "round",
        &[],
        Range(1, 2),
        "round(number[, digits]) -> number (half away from zero; decimals exact)",
        "{}(f, 1)",
        math::math,
    ),
    scalar(
        "sqrt",
        &[],
        Exact(1),
        "sqrt(number) -> float64 (an error below 0)",
        "{}(i)",
        math::math,
    ),
    scalar(
        "cbrt",
        &[],
        Exact(1),
        "cbrt(number) -> float64",
        "{}(f)",
        math::math,
    ),
    scalar(
        "exp",
        &[],
        Exact(1),
        "exp(number) -> float64",
        "{}(f)",
        math::math,
    ),
    scalar(
        "ln",
        &[],
        Exact(1),
        "ln(number) -> float64 (an error at or below 0)",
        "{}(i)",
        math::math,
    ),
    scalar(
        "log10",
        &["log"],
        Exact(1),
        "log10(number) -> float64 (an error at or below 0)",
        "{}(i)",
        math::math,
    ),
    scalar(
        "log2",
        &[],
        Exact(1),
        "log2(number) -> float64 (an error at or below 0)",
        "{}(i)",
        math::math,
    ),
    scalar(
        "power",
        &["pow"],
        Exact(2),
        "power(number, number) -> float64",
        "{}(f, 2)",
        math::math,
    ),
    // ---- dates and times (datetime.rs)
    scalar(
        "date_part",
        &["datepart"],
        Exact(2),
        "date_part('part', date/timestamp) -> int64 (also EXTRACT(part FROM x); parts year quarter month week day dow doy hour minute second epoch)",
        "{}('month', DATE '2024-03-05')",
        datetime::date_part,
    ),
    scalar(
        "date_trunc",
        &["datetrunc"],
        Exact(2),
        "date_trunc('part', date/timestamp) -> same type (the start of the period)",
        "{}('month', TIMESTAMP '2024-03-05 10:20:30')",
        datetime::date_trunc,
    ),
    scalar(
        "year",
        &[],
        Exact(1),
        "year(date/timestamp) -> int64",
        "{}(DATE '2024-03-05')",
        datetime::named_part,
    ),
    scalar(
        "quarter",
        &[],
        Exact(1),
        "quarter(date/timestamp) -> int64 (1 to 4)",
        "{}(DATE '2024-03-05')",
        datetime::named_part,
    ),
    scalar(
        "month",
        &[],
        Exact(1),
        "month(date/timestamp) -> int64 (1 to 12)",
        "{}(DATE '2024-03-05')",
        datetime::named_part,
    ),
    scalar(
        "week",
        &["weekofyear"],
        Exact(1),
        "week(date/timestamp) -> int64 (ISO week)",
        "{}(DATE '2024-03-05')",
        datetime::named_part,
    ),
    scalar(
        "day",
        &["dayofmonth"],
        Exact(1),
        "day(date/timestamp) -> int64 (day of the month)",
        "{}(DATE '2024-03-05')",
        datetime::named_part,
    ),
    scalar(
        "dayofweek",
        &["weekday", "dow"],
        Exact(1),
        "dayofweek(date/timestamp) -> int64 (Sunday = 0)",
        "{}(DATE '2024-03-05')",
        datetime::named_part,
    ),
    scalar(
        "dayofyear",
        &["doy"],
        Exact(1),
        "dayofyear(date/timestamp) -> int64 (1 to 366)",
        "{}(DATE '2024-03-05')",
        datetime::named_part,
    ),
    scalar(
        "hour",
        &[],
        Exact(1),
        "hour(timestamp) -> int64",
        "{}(TIMESTAMP '2024-03-05 10:20:30')",
        datetime::named_part,
    ),
    scalar(
        "minute",
        &[],
        Exact(1),
        "minute(timestamp) -> int64",
        "{}(TIMESTAMP '2024-03-05 10:20:30')",
        datetime::named_part,
    ),
    scalar(
        "second",
        &[],
        Exact(1),
        "second(timestamp) -> int64",
        "{}(TIMESTAMP '2024-03-05 10:20:30')",
        datetime::named_part,
    ),
    scalar(
        "epoch",
        &[],
        Exact(1),
        "epoch(date/timestamp) -> int64 (seconds since 1970-01-01 UTC)",
        "{}(TIMESTAMP '2024-03-05 10:20:30')",
        datetime::named_part,
    ),
    scalar(
        "make_date",
        &[],
        Exact(3),
        "make_date(year, month, day) -> date (an impossible date is an error)",
        "{}(2024, 2, i)",
        datetime::make_date,
    ),
    scalar(
        "strftime",
        &[],
        Exact(2),
        "strftime(date/timestamp, 'format') -> string (chrono % format: '%Y-%m-%d')",
        "{}(DATE '2024-03-05', '%d.%m.%Y')",
        datetime::strftime,
    ),
    scalar(
        "strptime",
        &[],
        Exact(2),
        "strptime(string, 'format') -> timestamp (chrono % format)",
        "{}('05.03.2024 10:20', '%d.%m.%Y %H:%M')",
        datetime::strptime,
    ),
    scalar(
        "timezone",
        &[],
        Exact(2),
        "timezone('zone', timestamp) -> timestamp in zone (also x AT TIME ZONE 'zone')",
        "{}('Europe/Oslo', TIMESTAMPTZ '2024-03-05 10:20:30')",
        datetime::timezone,
    ),
    // ---- null functions (conditional.rs)
    scalar(
        "coalesce",
        &[],
        AtLeast(1),
        "coalesce(x, ...) -> x (the first non-null argument)",
        "{}(NULL, i, 0)",
        conditional::coalesce,
    ),
    scalar(
        "ifnull",
        &["nvl"],
        Exact(2),
        "ifnull(x, y) -> x (y where x is null)",
        "{}(NULL, f)",
        conditional::coalesce,
    ),
    scalar(
        "nullif",
        &[],
        Exact(2),
        "nullif(x, y) -> x (null where x = y)",
        "{}(i, 2)",
        conditional::nullif,
    ),
    // ---- aggregates (aggregate.rs)
    aggregate(
        "count",
        &[],
        Range(0, 1),
        "count(*) | count(x) | count(DISTINCT x) -> int64",
        "{}(i)",
        aggregate::count,
    ),
    aggregate(
        "sum",
        &[],
        Exact(1),
        "sum(number) -> number",
        "{}(i)",
        aggregate::sum,
    ),
    aggregate(
        "avg",
        &["mean"],
        Exact(1),
        "avg(number) -> float64",
        "{}(i)",
        aggregate::avg,
    ),
    aggregate("min", &[], Exact(1), "min(x) -> x", "{}(f)", aggregate::min),
    aggregate("max", &[], Exact(1), "max(x) -> x", "{}(f)", aggregate::max),
    aggregate(
        "median",
        &[],
        Exact(1),
        "median(number) -> float64",
        "{}(f)",
        aggregate::median,
    ),
    aggregate(
        "quantile_cont",
        &["quantile"],
        Exact(2),
        "quantile_cont(number, q literal in [0, 1]) -> float64",
        "{}(f, 0.5)",
        aggregate::quantile_cont,
    ),
    aggregate(
        "stddev",
        &["stddev_samp", "std"],
        Exact(1),
        "stddev(number) -> float64 (sample)",
        "{}(f)",
        aggregate::stddev,
    ),
    aggregate(
        "var_samp",
        &["variance", "var"],
        Exact(1),
        "var_samp(number) -> float64 (sample)",
        "{}(f)",
        aggregate::var_samp,
    ),
    aggregate(
        "corr",
        &[],
        Exact(2),
        "corr(number, number) -> float64",
        "{}(f, i)",
        aggregate::corr,
    ),
    aggregate(
        "first",
        &["any_value"],
        Exact(1),
        "first(x) -> x (first in input order)",
        "{}(s)",
        aggregate::first,
    ),
    aggregate(
        "last",
        &[],
        Exact(1),
        "last(x) -> x (last in input order)",
        "{}(s)",
        aggregate::last,
    ),
];

/// The function named `name` (case-insensitive), by name or alias.
pub fn lookup(name: &str) -> Option<&'static Function> {
    let name = name.to_ascii_lowercase();
    FUNCTIONS.iter().find(|f| f.names().any(|n| n == name))
}

/// Every registered function.
pub fn functions() -> &'static [Function] {
    FUNCTIONS
}

/// "scalar functions: a, b; aggregates: c, d", generated from the registry.
pub(crate) fn supported_list() -> String {
    let names = |k: FunctionKind| {
        FUNCTIONS
            .iter()
            .filter(|f| f.kind() == k)
            .map(|f| f.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "scalar functions: {}; aggregates: {}",
        names(FunctionKind::Scalar),
        names(FunctionKind::Aggregate)
    )
}

/// The arguments of a scalar call: translated, and as written (for
/// arguments that must be literals).
pub(crate) struct ScalarArgs<'a> {
    /// The name as called (lower case).
    pub name: &'a str,
    /// The translated arguments.
    pub exprs: Vec<Expr>,
    /// The arguments as written.
    pub sql: Vec<&'a ast::Expr>,
    /// The call.
    pub span: Span,
}

impl ScalarArgs<'_> {
    /// Argument `i` (the arity was checked).
    pub fn expr(&self, i: usize) -> Expr {
        self.exprs
            .get(i)
            .cloned()
            .unwrap_or(Expr::Literal(ScalarValue::Null))
    }

    /// Where argument `i` is in the query (the call when it is missing).
    pub fn arg_span(&self, i: usize) -> Span {
        self.sql.get(i).map_or(self.span, |e| e.span())
    }

    /// Argument `i`, which must be an integer literal.
    pub fn int_literal(&self, i: usize) -> Result<i64> {
        let v = literal_arg(
            self.name,
            &self.sql,
            i,
            self.span,
            number_literal,
            "an integer literal",
        )?;
        if v.fract() != 0.0 || v.abs() > 9.0e15 {
            return err(
                format!("{}: argument {} must be an integer", self.name, i + 1),
                self.arg_span(i),
            );
        }
        Ok(v as i64)
    }

    /// Argument `i`, which must be a string literal.
    pub fn string_literal(&self, i: usize) -> Result<String> {
        literal_arg(
            self.name,
            &self.sql,
            i,
            self.span,
            string_literal,
            "a string literal",
        )
    }
}

/// The arguments of an aggregate call. [`AggArgs::column`] gives the input
/// column an argument reads (a computed column for an expression).
pub(crate) struct AggArgs<'a> {
    /// The name as called (lower case).
    pub name: &'a str,
    /// The arguments as written.
    pub sql: Vec<&'a ast::Expr>,
    /// `count(*)`.
    pub star: bool,
    /// `f(DISTINCT ...)`.
    pub distinct: bool,
    /// Under `FILTER (WHERE ...)` (the arguments are null where it fails).
    pub filtered: bool,
    /// The call.
    pub span: Span,
    pub(crate) column: &'a mut dyn FnMut(&ast::Expr) -> Result<String>,
}

impl AggArgs<'_> {
    /// The input column of argument `i`.
    pub fn column(&mut self, i: usize) -> Result<String> {
        match self.sql.get(i).copied() {
            Some(e) => (self.column)(e),
            None => err(format!("{} needs an argument", self.name), self.span),
        }
    }

    /// Argument `i`, which must be a number literal.
    pub fn number_literal(&self, i: usize) -> Result<f64> {
        literal_arg(
            self.name,
            &self.sql,
            i,
            self.span,
            number_literal,
            "a number literal",
        )
    }

    /// Refuses `DISTINCT` (for the aggregates that have no distinct form).
    pub fn no_distinct(&self) -> Result<()> {
        if self.distinct {
            return err(
                format!(
                    "{}(DISTINCT ...) is not supported; only count(DISTINCT x) is",
                    self.name
                ),
                self.span,
            );
        }
        Ok(())
    }
}

fn literal_arg<T>(
    name: &str,
    sql: &[&ast::Expr],
    i: usize,
    span: Span,
    read: fn(&ast::Expr) -> Option<T>,
    what: &str,
) -> Result<T> {
    match sql.get(i) {
        Some(e) => match read(e) {
            Some(v) => Ok(v),
            None => err(
                format!("{name}: argument {} must be {what}", i + 1),
                e.span(),
            ),
        },
        None => err(format!("{name} needs argument {}", i + 1), span),
    }
}
