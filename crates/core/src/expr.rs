//! Expressions over the columns of a chunk, evaluated with arrow kernels.
//!
//! An [`Expr`] is a tree built with [`col`], [`lit`], the operators
//! `+ - * / %`, unary `-` and `!`, and builder methods (`gt`, `and`,
//! `is_null`, `cast`, `contains`, `alias`...). It is checked against a schema
//! with [`Expr::to_field`] (no data needed: this is how type errors surface
//! while a plan is built) and computed chunk by chunk with
//! [`Expr::evaluate`], or with [`Expr::prepare`] once and
//! [`PreparedExpr::evaluate`] per chunk.
//!
//! ```
//! use parframe_core::{col, lit, table};
//! use parframe_core::arrow::array::{Array, cast::AsArray, types::Int32Type};
//!
//! let t = table!("a" => [1i32, 2, 3], "name" => ["x", "yy", "zzz"]).unwrap();
//! let e = (col("a") * lit(10)).alias("a10");
//! assert_eq!(e.to_string(), "(col(\"a\") * 10).alias(\"a10\")");
//! let out = e.evaluate(&t.chunks()[0]).unwrap();
//! assert_eq!(out.as_primitive::<Int32Type>().values().to_vec(), vec![10, 20, 30]);
//!
//! // Type errors name the expression and the types, before any data is read.
//! let err = (col("name") + lit(1)).to_field(t.schema()).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "type error in (col(\"name\") + 1): cannot add Utf8 and Int32: \
//!      arithmetic needs integer, float or decimal operands (or temporal ones)"
//! );
//! ```
//!
//! # Evaluation
//!
//! Every operation runs an arrow kernel on whole arrays: `arrow-arith`
//! (`numeric::{add, sub, mul, div, rem, neg}`, `boolean::{and_kleene,
//! or_kleene, not, is_null, is_not_null}`), `arrow-ord` (`cmp::{eq, neq, lt,
//! lt_eq, gt, gt_eq}`), `arrow-cast` and `arrow-string`
//! (`like::{contains, starts_with, ends_with}`, `length::length`). Literals
//! stay one-element [`arrow_array::Scalar`]s that the kernels take as a
//! `Datum`, so `col("a") + lit(1)` never builds a column of ones; only a
//! top-level literal (`select(lit(0))`) is broadcast to the chunk length.
//! Sub-trees made only of literals are folded once, when the expression is
//! prepared.
//!
//! * Integer arithmetic is checked: overflow and `div_trunc` (or `%`) by zero
//!   are errors naming the expression ([`Error::InvalidArgument`](parframe_common::Error::InvalidArgument)).
//!   `/` is true division (see [Division](#division)). Float arithmetic
//!   follows IEEE 754 (`x / 0.0` is infinite).
//! * Comparisons of floats use the IEEE total order, like arrow: `NaN`
//!   equals `NaN` and is greater than every number, and `-0.0 < 0.0`.
//! * `and`/`or` use Kleene logic: `false & null` is `false`, `true | null`
//!   is `true`, any other combination with a null is null.
//! * A null operand gives a null result everywhere else.
//! * [`Expr::cast`] is strict: a value that cannot be converted (`"abc"` to
//!   Int64, `300` to Int8, a float out of an integer's range) is an error,
//!   not a silent null. Casting to the type the input already has does
//!   nothing.
//! * [`Expr::str_len`] counts characters (Unicode scalar values), not
//!   bytes; it gives Int32, or Int64 for LargeUtf8 input.
//! * [`Expr::lower`]/[`Expr::upper`] use Rust's full Unicode case mapping
//!   (`"ß".upper()` is `"SS"`).
//!
//! # Type coercion
//!
//! Binary operators first bring both operands to one type; [`Expr::to_field`]
//! reports the result type and [`Expr::evaluate`] inserts the same casts.
//! "Numeric" below means the integer types and Float32/Float64 (decimals,
//! Float16 and temporal types must be cast first).
//!
//! 1. **Literals are weakly typed.** A literal (or a sub-tree of literals,
//!    or a negated literal) takes the type of the other operand when its
//!    value fits that type exactly: `col("i32") + lit(1)` is Int32,
//!    `col("u8").lt(lit(200))` compares UInt8, `col("f32") * lit(2.5)` is
//!    Float32 (the float literal is rounded to f32). An integer fits a float
//!    type when it is exactly representable (|v| ≤ 2^24 for Float32, 2^53
//!    for Float64); a float literal never fits an integer type, so
//!    `col("i64") * lit(0.5)` is Float64. When the value does not fit, the
//!    literal keeps its own type and rule 2 applies (`col("i8") + lit(1000)`
//!    is Int32). A literal that went through [`Expr::cast`] is no longer
//!    weak: `lit(1).cast(DataType::Int64)` is Int64 whatever it meets.
//! 2. **Numeric pairs** go to a common type:
//!    * two integers of the same signedness: the wider one;
//!    * a signed and an unsigned integer: the narrowest signed type twice as
//!      wide as the unsigned one and at least as wide as the signed one,
//!      capped at Int64 (`i8 + u8` is Int16, `i32 + u32` is Int64,
//!      `i64 + u64` is Int64 — a UInt64 value above `i64::MAX` is then an
//!      error);
//!    * Float32 with Float64: Float64;
//!    * an integer with a float: Float32 when the float is Float32 and the
//!      integer is at most 16 bits wide (exact), otherwise Float64.
//! 3. **Comparisons** (`eq`, `not_eq`, `lt`, `lt_eq`, `gt`, `gt_eq`) use the
//!    numeric rules above for numbers. Strings compare with strings: Utf8,
//!    LargeUtf8 and Utf8View mix freely (a literal takes the column's string
//!    type; two columns of different string types meet at Utf8View if either
//!    is a view, else LargeUtf8). A string literal compared with a date,
//!    time or timestamp column is parsed to the column's type while the
//!    expression is prepared (`col("day").ge(lit("2024-01-01"))`). Other
//!    types compare only with the same type. Comparing a string with a
//!    number is a type error.
//! 4. **Boolean operators** (`and`, `or`, `not`) need Boolean operands.
//! 5. **Null**: the typeless [`ScalarValue::Null`] (and a column of type
//!    Null) adapts to any type on the other side, so `col("a") + lit(None::<i64>)`
//!    has `a`'s type and is all null; arithmetic or comparison of two nulls
//!    is null.
//!
//! # Division
//!
//! `/` is **true division**, in the Rust API and in SQL alike (polars and
//! DuckDB do the same): two integers divide as `Float64` (`lit(7) / 2` is
//! `3.5`, `col("distance") / col("air_time") * 60` keeps the fraction),
//! and so does a decimal with any number (DuckDB: `sum(a) / sum(b)` of
//! decimals is a double); floats divide as floats. Integer division is
//! explicit: [`Expr::div_trunc`] (SQL `//`) truncates toward zero and
//! keeps the operands' common integer type; `%` is the matching
//! remainder (the sign of the dividend). As the quotient is a float, `/`
//! by zero is IEEE infinity or NaN (as in polars); `div_trunc` and `%` by
//! zero are errors naming the expression.
//!
//! ```
//! use parframe_core::{col, lit, table};
//! use parframe_core::arrow::array::{cast::AsArray, types::{Float64Type, Int64Type}};
//!
//! let t = table!("a" => [7i64, -7]).unwrap();
//! let q = (col("a") / 2).evaluate(&t.chunks()[0]).unwrap();
//! assert_eq!(q.as_primitive::<Float64Type>().values().to_vec(), vec![3.5, -3.5]);
//! let q = col("a").div_trunc(2).evaluate(&t.chunks()[0]).unwrap();
//! assert_eq!(q.as_primitive::<Int64Type>().values().to_vec(), vec![3, -3]);
//! ```
//!
//! # Decimals
//!
//! `Decimal128(p, s)` (and `Decimal256` where arrow-arith has the kernel)
//! are exact numbers; arrow-arith's decimal kernels compute them and the
//! types follow the SQL rules of DuckDB/DataFusion (`P` = 38 for
//! Decimal128, 76 for Decimal256; a Decimal256 operand makes both 256-bit):
//!
//! | operation | scale | precision |
//! | --- | --- | --- |
//! | `a + b`, `a - b` | `max(s1, s2)` | `max(p1 - s1, p2 - s2) + scale + 1`, at most `P` |
//! | `a * b` | `s1 + s2` (more than `P` is a type error) | `p1 + p2`, at most `P` |
//! | `a % b` | `max(s1, s2)` | `min(p1 - s1, p2 - s2) + scale` |
//! | `-a` | `s1` | `p1` |
//!
//! `a / b` with a decimal operand is `Float64` (see [Division](#division)).
//!
//! When the precision was capped at `P`, every result is checked against
//! it: a value that does not fit is an error naming the expression
//! (`arithmetic overflow in (col("x") * col("y")): ...`), never a wrong
//! value. Division by zero is an error.
//!
//! Operands meeting a decimal: an integer column becomes `Decimal(d, 0)`
//! with `d` the digits of its type (3, 5, 10, 19 or 20); an integer literal
//! `Decimal(digits of the value, 0)` (`1 - col("disc")` with `disc`
//! `Decimal(15, 2)` is `Decimal(16, 2)`); a float **literal** the exact
//! decimal of its shortest text (`0.05` is `Decimal(2, 2)`: 5 hundredths,
//! not the binary float 0.05000000000000000277), so `col("d").between(lit(0.05),
//! lit(0.07))` compares decimals exactly; a float **column** turns the
//! operation into Float64. Comparisons (and `CASE` values, `IN` lists) of
//! decimals meet at the larger scale and the larger number of integer
//! digits. Casts to and from every integer, float and string type go
//! through arrow-cast (strict: out of range is an error). Build decimal
//! literals with [`decimal`] or [`ScalarValue::decimal_from_str`].
//!
//! # Dates, timestamps, durations, intervals
//!
//! Arithmetic is arrow-arith's, and its result type is the kernel's:
//! `Date32/Date64/Timestamp ± Interval` (months are calendar months:
//! `2024-01-31 + 1 month` is `2024-02-29`) keeps the type; `Timestamp -
//! Timestamp` is a `Duration` of the unit; `Date32 - Date32` is
//! `Duration(Second)`, `Date64 - Date64` `Duration(Millisecond)`;
//! `Timestamp ± Duration` of the same unit, `Duration ± Duration`,
//! `Interval ± Interval` as arrow defines them. A string literal meeting a
//! date or timestamp in arithmetic is read as an interval
//! (`col("d") + lit("1 month")`), and in a comparison as a value of the
//! column's type (`col("t").gt_eq(lit("2013-06-01"))`). Named time zones
//! (`Timestamp(µs, "Europe/Oslo")`) print, cast and compute through
//! arrow's `chrono-tz` feature. Functions: [`Expr::dt`] (`year`...`epoch`
//! via arrow's `date_part` kernel, all Int64; `truncate` = `date_trunc`;
//! `strftime`; `convert_time_zone`), [`make_date`], `str().strptime`.
//! `date_trunc` of a zoned timestamp truncates in its zone (local
//! midnight of `America/New_York` for `'month'`); a naive one in UTC.
//!
//! # String, null and set functions
//!
//! [`Expr::str`] holds the string functions (`substring` 1-based with SQL
//! semantics, `replace`, `split_part`, `strpos`, `trim`/`ltrim`/`rtrim`,
//! `lpad`/`rpad`, `left`/`right`, `reverse`, `octet_length`, `regexp_like`,
//! `regexp_replace`, `regexp_extract`, `strptime`), [`Expr::like`] /
//! [`Expr::ilike`] / [`Expr::like_expr`] general LIKE with escapes
//! (arrow-string's kernels), [`Expr::concat`] (`||`), [`concat`] and
//! [`concat_ws`]; they take Utf8, LargeUtf8 and Utf8View and give Utf8.
//! Regexes are compiled once, when the expression is prepared; an invalid
//! one is a plan-time error. [`coalesce`], [`ifnull`] and [`nullif`] are
//! `CASE` expressions (their arguments meet at one type by the `CASE`
//! rules); [`Expr::is_distinct_from`] uses arrow's `distinct` kernel;
//! [`Expr::is_in`] tests membership in a hash set of the literals
//! (row-format bytes), so an 8,000-item `IN` list costs one hash probe per
//! row. Every function is type-checked when the plan is built, with an
//! error naming the expression and the argument types.
//!
//! # Output names
//!
//! [`Expr::output_name`] follows polars: a column keeps its name, an alias
//! gives its name, and any other expression is named after the first column
//! (or alias) found walking the tree left to right, or `"literal"` when there
//! is none. `(col("a") + col("b")).output_name()` is `"a"`.

//!
//! # Depth
//!
//! A tree may nest up to [`MAX_EXPR_DEPTH`] levels (a left-deep chain of
//! 4,096 `+` or `or` terms). Type checking, evaluation, printing and the
//! traversals recurse on a stack that grows on demand (the `recursive`
//! crate) or walk the tree with their own stack, so a deep tree runs on any
//! thread; a deeper one is refused by [`Expr::prepare`] with an
//! [`Error::InvalidArgument`](parframe_common::Error::InvalidArgument)
//! that gives its depth, before anything recurses through it. The names
//! in runtime error messages are at most [`CONTEXT_CHARS`] characters of
//! the sub-expression, so preparing a deep chain stays linear in its size.

mod api;
mod decimal;
mod decimal_tree;
mod eval;
mod func;
mod in_list;
mod into;
mod math;
mod plan;
mod scalar;
mod strings;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_types;
mod transform;

use std::fmt;
use std::ops::{Neg, Not};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parframe_common::Result;

pub use api::{
    DtNamespace, StrNamespace, coalesce, concat, concat_ws, date, decimal, ifnull, interval,
    make_date, nullif,
};
pub use decimal::magnitude_bits;
pub use func::{Func, TimePart};
pub use into::IntoExpr;
pub use math::MathFunc;
pub use plan::PreparedExpr;

/// The deepest expression tree [`Expr::prepare`] accepts (see
/// [Depth](self#depth)). Deeper chains are better written flat:
/// [`Expr::is_in`] for a chain of `or`-ed equalities, a balanced tree for a
/// long sum.
///
/// Why this number: our own traversals (and `Clone`) are stack-safe at
/// any depth, but the compiler's drop glue and the derived `PartialEq` and
/// `Debug` recurse once per level (several hundred bytes a level in a debug
/// build), and plans drop and compare expressions on worker threads with
/// 2 MiB stacks; 4,096 levels fit there with room to spare (checked by the
/// tests on a 2 MiB thread).
pub const MAX_EXPR_DEPTH: usize = 4096;

/// How much of a sub-expression's text runtime error messages quote.
pub const CONTEXT_CHARS: usize = 200;

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarValue {
    /// A typeless null.
    Null,
    /// `bool`.
    Boolean(bool),
    /// `i8`.
    Int8(i8),
    /// `i16`.
    Int16(i16),
    /// `i32`.
    Int32(i32),
    /// `i64`.
    Int64(i64),
    /// `u8`.
    UInt8(u8),
    /// `u16`.
    UInt16(u16),
    /// `u32`.
    UInt32(u32),
    /// `u64`.
    UInt64(u64),
    /// `f32`.
    Float32(f32),
    /// `f64`.
    Float64(f64),
    /// A string.
    Utf8(String),
    /// Days since the UNIX epoch.
    Date32(i32),
    /// Milliseconds since the UNIX epoch (a date).
    Date64(i64),
    /// A decimal: the unscaled value, precision and scale
    /// (`Decimal128(1234, 5, 2)` is `12.34` as `Decimal128(5, 2)`).
    Decimal128(i128, u8, i8),
    /// A point in time: ticks of `unit` since the UNIX epoch (UTC), and the
    /// time zone it is shown in (`None`: a zone-less local timestamp).
    Timestamp(i64, TimeUnit, Option<Arc<str>>),
    /// A span of time in ticks of `unit`.
    Duration(i64, TimeUnit),
    /// A calendar interval: months, days and nanoseconds, kept apart
    /// because a month has no fixed length (`Interval(MonthDayNano)`).
    Interval {
        /// Whole months.
        months: i32,
        /// Whole days.
        days: i32,
        /// Nanoseconds.
        nanos: i64,
    },
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`: true division. Integers (and decimals) divide as `Float64`
    /// (`7 / 2` is `3.5`), as in polars, DuckDB and this crate's SQL.
    Div,
    /// `//` ([`Expr::div_trunc`]): integer division of integers,
    /// truncating toward zero (`-7 // 2` is `-3`), of their common type.
    IntDiv,
    /// `%`
    Rem,
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND` (Kleene logic)
    And,
    /// `OR` (Kleene logic)
    Or,
    /// `IS DISTINCT FROM`: `!=` with null equal to null (never null).
    IsDistinctFrom,
    /// `IS NOT DISTINCT FROM`: `==` with null equal to null (never null).
    IsNotDistinctFrom,
}

/// String functions.
#[derive(Debug, Clone, PartialEq)]
pub enum StringFunc {
    /// `contains(pattern)`
    Contains(String),
    /// `starts_with(prefix)`
    StartsWith(String),
    /// `ends_with(suffix)`
    EndsWith(String),
    /// Length in characters.
    Len,
    /// Lower case.
    Lower,
    /// Upper case.
    Upper,
}

/// An expression tree.
///
/// `Clone` is written out (not derived) so that it grows the stack on
/// demand like the other traversals (see [Depth](self#depth)).
#[derive(Debug, PartialEq)]
pub enum Expr {
    /// A column by name.
    Column(String),
    /// A literal.
    Literal(ScalarValue),
    /// `left op right`.
    Binary {
        /// Left operand.
        left: Box<Expr>,
        /// Operator.
        op: BinaryOp,
        /// Right operand.
        right: Box<Expr>,
    },
    /// Logical not.
    Not(Box<Expr>),
    /// Arithmetic negation.
    Negative(Box<Expr>),
    /// `IS NULL`.
    IsNull(Box<Expr>),
    /// `IS NOT NULL`.
    IsNotNull(Box<Expr>),
    /// Conversion to another type.
    Cast {
        /// Input.
        expr: Box<Expr>,
        /// Target type.
        to: DataType,
    },
    /// Renames the output.
    Alias {
        /// Input.
        expr: Box<Expr>,
        /// New name.
        name: String,
    },
    /// A string function.
    Str {
        /// Input.
        expr: Box<Expr>,
        /// Function.
        func: StringFunc,
    },
    /// A scalar function ([`Func`]) of argument expressions.
    Function {
        /// Which function.
        func: Func,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `expr IN (v1, v2, ...)`: a hash-set membership test against
    /// literals (null when `expr` is null, or when it is not found and the
    /// list holds a null, as in SQL).
    InList {
        /// The tested value.
        expr: Box<Expr>,
        /// The literals.
        list: Vec<ScalarValue>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `CASE WHEN cond THEN value ... ELSE otherwise END`: the value of the
    /// first branch whose condition is `true` (a null condition counts as
    /// `false`), else `otherwise` (null when absent). Build it with [`when`].
    Case {
        /// `(condition, value)` pairs, tried in order.
        branches: Vec<(Expr, Expr)>,
        /// The value when no condition holds; `None` means null.
        otherwise: Option<Box<Expr>>,
    },
}

/// Starts a `CASE WHEN` expression: `when(cond, value).when(..).otherwise(e)`
/// (or `.end()` for a null default). Conditions must be Boolean (a null
/// condition counts as `false`); the values are brought to a common type
/// with the same rules as arithmetic and comparison operands.
///
/// ```
/// use parframe_core::{col, lit, table, when};
/// use parframe_core::arrow::array::{cast::AsArray, types::Int32Type};
///
/// let t = table!("a" => [1i32, 5, 9]).unwrap();
/// let e = when(col("a").lt(lit(3)), lit(0)).when(col("a").lt(lit(7)), lit(1)).otherwise(lit(2));
/// let out = e.evaluate(&t.chunks()[0]).unwrap();
/// assert_eq!(out.as_primitive::<Int32Type>().values().to_vec(), vec![0, 1, 2]);
/// ```
pub fn when(cond: impl IntoExpr, then: impl IntoExpr) -> CaseBuilder {
    CaseBuilder {
        branches: vec![(cond.into_expr(), then.into_expr())],
    }
}

impl Clone for Expr {
    #[recursive::recursive]
    fn clone(&self) -> Expr {
        match self {
            Expr::Column(c) => Expr::Column(c.clone()),
            Expr::Literal(v) => Expr::Literal(v.clone()),
            Expr::Binary { left, op, right } => Expr::Binary {
                left: left.clone(),
                op: *op,
                right: right.clone(),
            },
            Expr::Not(e) => Expr::Not(e.clone()),
            Expr::Negative(e) => Expr::Negative(e.clone()),
            Expr::IsNull(e) => Expr::IsNull(e.clone()),
            Expr::IsNotNull(e) => Expr::IsNotNull(e.clone()),
            Expr::Cast { expr, to } => Expr::Cast {
                expr: expr.clone(),
                to: to.clone(),
            },
            Expr::Alias { expr, name } => Expr::Alias {
                expr: expr.clone(),
                name: name.clone(),
            },
            Expr::Str { expr, func } => Expr::Str {
                expr: expr.clone(),
                func: func.clone(),
            },
            Expr::Function { func, args } => Expr::Function {
                func: func.clone(),
                args: args.clone(),
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: expr.clone(),
                list: list.clone(),
                negated: *negated,
            },
            Expr::Case {
                branches,
                otherwise,
            } => Expr::Case {
                branches: branches.clone(),
                otherwise: otherwise.clone(),
            },
        }
    }
}

/// A `CASE WHEN` expression under construction; see [`when`].
#[derive(Debug, Clone, PartialEq)]
#[must_use = "finish the CASE with .otherwise(..) or .end()"]
pub struct CaseBuilder {
    branches: Vec<(Expr, Expr)>,
}

impl CaseBuilder {
    /// Adds a branch, tried after the earlier ones.
    pub fn when(mut self, cond: impl IntoExpr, then: impl IntoExpr) -> CaseBuilder {
        self.branches.push((cond.into_expr(), then.into_expr()));
        self
    }

    /// Finishes with `value` where no condition holds.
    pub fn otherwise(self, value: impl IntoExpr) -> Expr {
        Expr::Case {
            branches: self.branches,
            otherwise: Some(Box::new(value.into_expr())),
        }
    }

    /// Finishes with null where no condition holds.
    pub fn end(self) -> Expr {
        Expr::Case {
            branches: self.branches,
            otherwise: None,
        }
    }
}

/// A column reference.
pub fn col(name: impl Into<String>) -> Expr {
    Expr::Column(name.into())
}

/// A literal. Integer and float literals are weakly typed: they take the
/// type of the column they meet when their value fits (see the
/// [module docs](self#type-coercion)).
pub fn lit(value: impl Into<ScalarValue>) -> Expr {
    Expr::Literal(value.into())
}

impl Expr {
    /// The name of the output column: a column's name, an alias, else the
    /// first column or alias name found walking the tree left to right, or
    /// `"literal"` when the expression references no column.
    pub fn output_name(&self) -> String {
        self.first_name().unwrap_or("literal").to_string()
    }

    /// The first column or alias name in a left-to-right, parent-first
    /// walk (iterative: safe on trees of any depth).
    fn first_name(&self) -> Option<&str> {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            if let Expr::Column(name) | Expr::Alias { name, .. } = e {
                return Some(name);
            }
            let at = stack.len();
            e.for_each_child(|c| stack.push(c));
            stack[at..].reverse();
        }
        None
    }

    /// Type-checks the whole tree against `schema`, without data, giving the
    /// output field (name, type, nullability).
    ///
    /// Errors: [`Error::ColumnNotFound`](parframe_common::Error::ColumnNotFound) for an unknown column (listing the
    /// schema's columns), [`Error::TypeMismatch`](parframe_common::Error::TypeMismatch) naming the offending
    /// sub-expression and the types it met. A sub-tree of literals is
    /// computed here, so `lit(1) / lit(0)` fails here too.
    pub fn to_field(&self, schema: &Schema) -> Result<Field> {
        Ok(self.prepare(schema)?.field().clone())
    }

    /// Type-checks against `schema` and resolves columns, coercions and
    /// literal sub-trees once, for evaluating many chunks of that schema.
    pub fn prepare(&self, schema: &Schema) -> Result<PreparedExpr> {
        plan::prepare(self, schema)
    }

    /// Evaluates over a chunk, giving an array of `batch.num_rows()` values
    /// of the type [`Expr::to_field`] reports for `batch`'s schema.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        self.prepare(batch.schema_ref())?.evaluate(batch)
    }

    /// The distinct columns referenced, in first-seen order (left to right).
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.visit_columns(&mut |name| {
            if !out.iter().any(|c| c == name) {
                out.push(name.to_string());
            }
        });
        out
    }

    /// Calls `f` on each column reference, left to right (iterative).
    fn visit_columns(&self, f: &mut dyn FnMut(&str)) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            if let Expr::Column(name) = e {
                f(name);
            }
            let at = stack.len();
            e.for_each_child(|c| stack.push(c));
            stack[at..].reverse();
        }
    }

    /// How deep the tree nests: 1 for a column or a literal, one more for
    /// each operator above it (the longest path from the root to a leaf).
    /// Computed without recursion, so it is safe on any tree; type checking
    /// refuses a tree deeper than [`MAX_EXPR_DEPTH`].
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack: Vec<(&Expr, usize)> = vec![(self, 1)];
        while let Some((e, d)) = stack.pop() {
            deepest = deepest.max(d);
            e.for_each_child(|c| stack.push((c, d + 1)));
        }
        deepest
    }

    /// Calls `f` on each direct child, left to right.
    fn for_each_child<'a>(&'a self, mut f: impl FnMut(&'a Expr)) {
        match self {
            Expr::Column(_) | Expr::Literal(_) => {}
            Expr::Binary { left, right, .. } => {
                f(left);
                f(right);
            }
            Expr::Not(e) | Expr::Negative(e) | Expr::IsNull(e) | Expr::IsNotNull(e) => f(e),
            Expr::Cast { expr, .. }
            | Expr::Alias { expr, .. }
            | Expr::Str { expr, .. }
            | Expr::InList { expr, .. } => f(expr),
            Expr::Function { args, .. } => args.iter().for_each(f),
            Expr::Case {
                branches,
                otherwise,
            } => {
                for (c, v) in branches {
                    f(c);
                    f(v);
                }
                if let Some(e) = otherwise {
                    f(e);
                }
            }
        }
    }

    /// Whether this is a literal, possibly aliased.
    pub fn is_literal(&self) -> bool {
        match self {
            Expr::Literal(_) => true,
            Expr::Alias { expr, .. } => expr.is_literal(),
            _ => false,
        }
    }

    /// The value, or `value` where it is null (`coalesce([self, value])`).
    pub fn fill_null(self, value: impl IntoExpr) -> Expr {
        api::coalesce([self, value.into_expr()])
    }

    /// Renames the output.
    pub fn alias(self, name: impl Into<String>) -> Expr {
        Expr::Alias {
            expr: Box::new(self),
            name: name.into(),
        }
    }

    /// Converts to `to` (strictly: values that do not convert are errors).
    pub fn cast(self, to: DataType) -> Expr {
        Expr::Cast {
            expr: Box::new(self),
            to,
        }
    }

    /// `true` where the value is null (never null itself).
    pub fn is_null(self) -> Expr {
        Expr::IsNull(Box::new(self))
    }

    /// `true` where the value is not null (never null itself).
    pub fn is_not_null(self) -> Expr {
        Expr::IsNotNull(Box::new(self))
    }

    fn binary_any(self, op: BinaryOp, other: impl IntoExpr) -> Expr {
        self.binary(op, other.into_expr())
    }

    fn binary(self, op: BinaryOp, other: Expr) -> Expr {
        Expr::Binary {
            left: Box::new(self),
            op,
            right: Box::new(other),
        }
    }

    /// `==`
    pub fn eq(self, other: impl IntoExpr) -> Expr {
        self.binary_any(BinaryOp::Eq, other)
    }

    /// `!=`
    pub fn not_eq(self, other: impl IntoExpr) -> Expr {
        self.binary_any(BinaryOp::NotEq, other)
    }

    /// `<`
    pub fn lt(self, other: impl IntoExpr) -> Expr {
        self.binary_any(BinaryOp::Lt, other)
    }

    /// `<=`
    pub fn lt_eq(self, other: impl IntoExpr) -> Expr {
        self.binary_any(BinaryOp::LtEq, other)
    }

    /// `>`
    pub fn gt(self, other: impl IntoExpr) -> Expr {
        self.binary_any(BinaryOp::Gt, other)
    }

    /// `>=`
    pub fn gt_eq(self, other: impl IntoExpr) -> Expr {
        self.binary_any(BinaryOp::GtEq, other)
    }

    /// `//`: integer division of integer operands, truncating toward zero
    /// (`-7 // 2` is `-3`), of their common integer type; other operand
    /// types are a type error. `/` is true division (see the
    /// [module docs](self#division)).
    pub fn div_trunc(self, other: impl IntoExpr) -> Expr {
        self.binary_any(BinaryOp::IntDiv, other)
    }

    /// Logical `AND` (Kleene logic: `false AND null` is `false`).
    pub fn and(self, other: impl IntoExpr) -> Expr {
        self.binary_any(BinaryOp::And, other)
    }

    /// Logical `OR` (Kleene logic: `true OR null` is `true`).
    pub fn or(self, other: impl IntoExpr) -> Expr {
        self.binary_any(BinaryOp::Or, other)
    }

    /// Logical `NOT` (also `!expr`).
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }

    fn string(self, func: StringFunc) -> Expr {
        Expr::Str {
            expr: Box::new(self),
            func,
        }
    }

    /// Whether the string contains `pattern` (literally, not a regex).
    pub fn contains(self, pattern: impl Into<String>) -> Expr {
        self.string(StringFunc::Contains(pattern.into()))
    }

    /// Whether the string starts with `prefix`.
    pub fn starts_with(self, prefix: impl Into<String>) -> Expr {
        self.string(StringFunc::StartsWith(prefix.into()))
    }

    /// Whether the string ends with `suffix`.
    pub fn ends_with(self, suffix: impl Into<String>) -> Expr {
        self.string(StringFunc::EndsWith(suffix.into()))
    }

    /// The length of the string in characters (Int32; Int64 for LargeUtf8).
    pub fn str_len(self) -> Expr {
        self.string(StringFunc::Len)
    }

    /// The string in lower case (Unicode).
    pub fn lower(self) -> Expr {
        self.string(StringFunc::Lower)
    }

    /// The string in upper case (Unicode).
    pub fn upper(self) -> Expr {
        self.string(StringFunc::Upper)
    }
}

impl BinaryOp {
    /// The operator as written in [`Expr`]'s `Display`: `+`, `==`, `&`...
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::IntDiv => "//",
            BinaryOp::Rem => "%",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "&",
            BinaryOp::Or => "|",
            BinaryOp::IsDistinctFrom => "IS DISTINCT FROM",
            BinaryOp::IsNotDistinctFrom => "IS NOT DISTINCT FROM",
        }
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl StringFunc {
    /// The method name, as in `col("s").contains("x")`.
    pub fn name(&self) -> &'static str {
        match self {
            StringFunc::Contains(_) => "contains",
            StringFunc::StartsWith(_) => "starts_with",
            StringFunc::EndsWith(_) => "ends_with",
            StringFunc::Len => "str_len",
            StringFunc::Lower => "lower",
            StringFunc::Upper => "upper",
        }
    }
}

/// Expressions print close to the code that builds them:
/// `(col("a") + 1)`, `col("s").contains("x")`, `cast(col("a") AS Float64)`,
/// `((col("a") > 1) & col("b").is_null())`,
/// `CASE WHEN (col("a") > 1) THEN 1 ELSE 0 END`.
impl fmt::Display for Expr {
    #[recursive::recursive]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(name) => write!(f, "col({name:?})"),
            Expr::Literal(v) => write!(f, "{v}"),
            Expr::Binary { left, op, right } => write!(f, "({left} {op} {right})"),
            Expr::Not(e) => write!(f, "{e}.not()"),
            Expr::Negative(e) => write!(f, "-{e}"),
            Expr::IsNull(e) => write!(f, "{e}.is_null()"),
            Expr::IsNotNull(e) => write!(f, "{e}.is_not_null()"),
            Expr::Cast { expr, to } => write!(f, "cast({expr} AS {to})"),
            Expr::Alias { expr, name } => write!(f, "{expr}.alias({name:?})"),
            Expr::Str { expr, func } => match func {
                StringFunc::Contains(p) | StringFunc::StartsWith(p) | StringFunc::EndsWith(p) => {
                    write!(f, "{expr}.{}({p:?})", func.name())
                }
                StringFunc::Len | StringFunc::Lower | StringFunc::Upper => {
                    write!(f, "{expr}.{}()", func.name())
                }
            },
            Expr::Function { func, args } => {
                match func {
                    Func::DatePart(p) | Func::DateTrunc(p) => {
                        write!(f, "{}({:?}", func.name(), p.name())?
                    }
                    Func::Strftime(s) | Func::Strptime(s) | Func::ToTimeZone(s) => {
                        write!(f, "{}({s:?}", func.name())?
                    }
                    Func::Like {
                        escape: Some(c), ..
                    } => write!(f, "{}[escape {c:?}](", func.name())?,
                    _ => write!(f, "{}(", func.name())?,
                }
                let mut first = !matches!(
                    func,
                    Func::DatePart(_)
                        | Func::DateTrunc(_)
                        | Func::Strftime(_)
                        | Func::Strptime(_)
                        | Func::ToTimeZone(_)
                );
                for a in args {
                    if !first {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                    first = false;
                }
                f.write_str(")")
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                write!(
                    f,
                    "{expr}.{}([",
                    if *negated { "is_not_in" } else { "is_in" }
                )?;
                for (i, v) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if i == 8 && list.len() > 10 {
                        write!(f, "... {} more", list.len() - 8)?;
                        break;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("])")
            }
            Expr::Case {
                branches,
                otherwise,
            } => {
                f.write_str("CASE")?;
                for (c, v) in branches {
                    write!(f, " WHEN {c} THEN {v}")?;
                }
                if let Some(e) = otherwise {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END")
            }
        }
    }
}

impl Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        Expr::Negative(Box::new(self))
    }
}

impl Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}
