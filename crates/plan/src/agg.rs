//! Aggregate expressions for `LazyFrame::group_by` and `LazyFrame::agg`
//! (in `parframe-exec`): builders such as [`sum`] and [`mean`], arithmetic
//! between their results, and their output-type rules (checked when a plan
//! is built).
//!
//! ```
//! use arrow_schema::{DataType, Field, Schema};
//! use parframe_plan::agg::{corr, max, mean, min, sum};
//!
//! let schema = Schema::new(vec![
//!     Field::new("v1", DataType::Int64, true),
//!     Field::new("v2", DataType::Int64, true),
//! ]);
//! assert_eq!(sum("v1").output_type(&schema)?, DataType::Int64);
//! assert_eq!(mean("v2").alias("m").output_name(), "m");
//! assert_eq!((max("v1") - min("v2")).output_type(&schema)?, DataType::Int64);
//! assert_eq!(corr("v1", "v2").pow(2).output_type(&schema)?, DataType::Float64);
//! # Ok::<(), parframe_common::Error>(())
//! ```
//!
//! Nulls are skipped; a group without a non-null value gives null. The NaN
//! rule is in the docs of `parframe_exec::aggregate`.

use std::fmt;
use std::ops::{Add, Div, Mul, Sub};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{ArrayRef, Float64Array, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::{Error, Result, column_not_found};
use parframe_core::expr::BinaryOp;
use parframe_core::{Expr, IntoExpr, ScalarValue, col, lit};

/// One aggregate function over named columns.
#[derive(Debug, Clone, PartialEq)]
pub enum AggFunc {
    /// Rows per group.
    CountRows,
    /// Non-null values.
    Count(String),
    /// Sum: `Int64` for integers (overflow is an error), `Float64` for floats.
    Sum(String),
    /// Arithmetic mean, `Float64`.
    Mean(String),
    /// Smallest value, of the column's type.
    Min(String),
    /// Largest value, of the column's type.
    Max(String),
    /// First non-null value in input order.
    First(String),
    /// Last non-null value in input order.
    Last(String),
    /// Median (linear interpolation), `Float64`.
    Median(String),
    /// Quantile `q` in `[0, 1]` (linear interpolation), `Float64`.
    Quantile(String, f64),
    /// Sample variance (ddof 1), `Float64`.
    Var(String),
    /// Sample standard deviation (ddof 1), `Float64`.
    Std(String),
    /// Distinct non-null values, `Int64`.
    NUnique(String),
    /// The `k` largest values, largest first, as a list.
    TopK(String, usize),
    /// The `k` smallest values, smallest first, as a list.
    BottomK(String, usize),
    /// Pearson correlation of two columns, `Float64`.
    Corr(String, String),
}

impl AggFunc {
    /// The function's name, e.g. `"sum"`.
    pub fn name(&self) -> &'static str {
        match self {
            AggFunc::CountRows | AggFunc::Count(_) => "count",
            AggFunc::Sum(_) => "sum",
            AggFunc::Mean(_) => "mean",
            AggFunc::Min(_) => "min",
            AggFunc::Max(_) => "max",
            AggFunc::First(_) => "first",
            AggFunc::Last(_) => "last",
            AggFunc::Median(_) => "median",
            AggFunc::Quantile(..) => "quantile",
            AggFunc::Var(_) => "var",
            AggFunc::Std(_) => "std",
            AggFunc::NUnique(_) => "n_unique",
            AggFunc::TopK(..) => "top_k",
            AggFunc::BottomK(..) => "bottom_k",
            AggFunc::Corr(..) => "corr",
        }
    }

    /// The input columns.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            AggFunc::CountRows => vec![],
            AggFunc::Corr(a, b) => vec![a, b],
            AggFunc::Count(c)
            | AggFunc::Sum(c)
            | AggFunc::Mean(c)
            | AggFunc::Min(c)
            | AggFunc::Max(c)
            | AggFunc::First(c)
            | AggFunc::Last(c)
            | AggFunc::Median(c)
            | AggFunc::Quantile(c, _)
            | AggFunc::Var(c)
            | AggFunc::Std(c)
            | AggFunc::NUnique(c)
            | AggFunc::TopK(c, _)
            | AggFunc::BottomK(c, _) => vec![c],
        }
    }

    /// Type-checks against `schema`, giving the result type.
    pub fn output_type(&self, schema: &Schema) -> Result<DataType> {
        let mut types = Vec::new();
        for c in self.columns() {
            let f = schema.field_with_name(c).map_err(|_| {
                column_not_found(c, schema.fields().iter().map(|f| f.name().as_str()))
            })?;
            types.push(f.data_type().clone());
        }
        let bad = |what: &str| -> Error {
            let found: Vec<String> = self
                .columns()
                .iter()
                .zip(&types)
                .map(|(c, t)| format!("'{c}' is {t}"))
                .collect();
            Error::type_mismatch(
                self.to_string(),
                format!("{} needs {what}, but {}", self.name(), found.join(" and ")),
            )
        };
        let t = types.first().cloned().unwrap_or(DataType::Null);
        Ok(match self {
            AggFunc::CountRows | AggFunc::Count(_) => DataType::Int64,
            AggFunc::NUnique(_) => {
                if kind_of(&t).is_none() && !matches!(t, DataType::Decimal128(_, _)) {
                    return Err(bad("integers, floats, booleans, dates or strings"));
                }
                DataType::Int64
            }
            AggFunc::Sum(_) => match t {
                // Exact, widened to the maximum precision (same scale).
                DataType::Decimal128(_, s) => DataType::Decimal128(38, s),
                t if t.is_integer() => DataType::Int64,
                t if t.is_floating() => DataType::Float64,
                _ => return Err(bad("a numeric column")),
            },
            AggFunc::Mean(_)
            | AggFunc::Median(_)
            | AggFunc::Quantile(..)
            | AggFunc::Var(_)
            | AggFunc::Std(_) => {
                if !is_numeric(&t) {
                    return Err(bad("a numeric column"));
                }
                if let AggFunc::Quantile(_, q) = self
                    && !(0.0..=1.0).contains(q)
                {
                    return Err(Error::InvalidArgument(format!(
                        "{self}: the quantile must be within [0, 1], got {q}"
                    )));
                }
                DataType::Float64
            }
            AggFunc::Corr(..) => {
                if !types.iter().all(is_numeric) {
                    return Err(bad("numeric columns"));
                }
                DataType::Float64
            }
            AggFunc::Min(_) | AggFunc::Max(_) | AggFunc::First(_) | AggFunc::Last(_) => {
                if kind_of(&t).is_none() && !matches!(t, DataType::Decimal128(_, _)) {
                    return Err(bad("integers, floats, booleans, dates or strings"));
                }
                t
            }
            AggFunc::TopK(..) | AggFunc::BottomK(..) => {
                if (kind_of(&t).is_none() && !matches!(t, DataType::Decimal128(_, _)))
                    || t == DataType::Boolean
                {
                    return Err(bad("integers, floats, dates or strings"));
                }
                DataType::List(Arc::new(Field::new("item", t, true)))
            }
        })
    }
}

impl fmt::Display for AggFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggFunc::CountRows => write!(f, "count()"),
            AggFunc::Quantile(c, q) => write!(f, "quantile({c}, {q})"),
            AggFunc::TopK(c, k) | AggFunc::BottomK(c, k) => write!(f, "{}({c}, {k})", self.name()),
            AggFunc::Corr(a, b) => write!(f, "corr({a}, {b})"),
            other => write!(f, "{}({})", other.name(), other.columns().join(", ")),
        }
    }
}

/// An aggregate, or arithmetic over aggregates and literals, optionally
/// renamed. Build with the functions of this module, combine with `+ - * /`
/// and [`AggExpr::pow`], rename with [`AggExpr::alias`].
#[derive(Debug, Clone, PartialEq)]
pub enum AggExpr {
    /// One aggregate.
    Agg(AggFunc),
    /// A literal operand.
    Literal(ScalarValue),
    /// `left op right`, with the coercions of [`Expr`].
    Binary {
        /// Left operand.
        left: Box<AggExpr>,
        /// Operator.
        op: BinaryOp,
        /// Right operand.
        right: Box<AggExpr>,
    },
    /// `base ^ exponent`, as `Float64`.
    Pow {
        /// Base.
        base: Box<AggExpr>,
        /// Exponent.
        exponent: Box<AggExpr>,
    },
    /// Renames the output.
    Alias {
        /// Input.
        expr: Box<AggExpr>,
        /// New name.
        name: String,
    },
    /// An aggregate over computed inputs (`(col("a") * col("b")).sum()`):
    /// `func` reads hidden columns, each computed by its expression from
    /// the aggregate's input rows. `LazyFrame`'s `agg` adds those columns
    /// before aggregating (see [`lower`]).
    Computed {
        /// The aggregate, over the hidden columns' names.
        func: AggFunc,
        /// The hidden columns: name and expression.
        inputs: Vec<(String, Expr)>,
        /// The output name (the expression's, as polars names it).
        name: String,
    },
}

impl AggExpr {
    /// Renames the output column.
    pub fn alias(self, name: impl Into<String>) -> AggExpr {
        AggExpr::Alias {
            expr: Box::new(self),
            name: name.into(),
        }
    }

    /// Raises to a power (result `Float64`): `corr("a", "b").pow(2)`.
    pub fn pow(self, exponent: impl Into<AggExpr>) -> AggExpr {
        AggExpr::Pow {
            base: Box::new(self),
            exponent: Box::new(exponent.into()),
        }
    }

    /// The output column name: the alias, else the first input column found
    /// left to right (`count` for [`count_rows`]), else `"literal"`.
    pub fn output_name(&self) -> String {
        self.first_name().unwrap_or_else(|| "literal".to_string())
    }

    fn first_name(&self) -> Option<String> {
        match self {
            AggExpr::Alias { name, .. } => Some(name.clone()),
            AggExpr::Agg(AggFunc::CountRows) => Some("count".to_string()),
            AggExpr::Agg(f) => f.columns().first().map(|c| c.to_string()),
            AggExpr::Literal(_) => None,
            AggExpr::Binary { left, right, .. } => left.first_name().or_else(|| right.first_name()),
            AggExpr::Pow { base, exponent } => base.first_name().or_else(|| exponent.first_name()),
            AggExpr::Computed { name, .. } => Some(name.clone()),
        }
    }

    /// Adds the aggregates of the tree to `out`, without duplicates.
    pub fn collect_leaves(&self, out: &mut Vec<AggFunc>) {
        match self {
            AggExpr::Agg(f) | AggExpr::Computed { func: f, .. } => {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            }
            AggExpr::Literal(_) => {}
            AggExpr::Binary { left, right, .. } => {
                left.collect_leaves(out);
                right.collect_leaves(out);
            }
            AggExpr::Pow { base, exponent } => {
                base.collect_leaves(out);
                exponent.collect_leaves(out);
            }
            AggExpr::Alias { expr, .. } => expr.collect_leaves(out),
        }
    }

    /// Type-checks against the aggregate's input schema.
    pub fn output_type(&self, schema: &Schema) -> Result<DataType> {
        match self {
            AggExpr::Agg(f) => f.output_type(schema),
            AggExpr::Computed { func, inputs, .. } => {
                func.output_type(&with_inputs(schema, inputs)?)
            }
            AggExpr::Literal(v) => Ok(v.data_type()),
            AggExpr::Alias { expr, .. } => expr.output_type(schema),
            AggExpr::Binary { left, op, right } => {
                let (le, lf) = operand_type(left, "l", schema)?;
                let (re, rf) = operand_type(right, "r", schema)?;
                let s = Schema::new(lf.into_iter().chain(rf).collect::<Vec<_>>());
                let e = binary(le, *op, re);
                e.to_field(&s)
                    .map(|f| f.data_type().clone())
                    .map_err(|err| rename_err(err, self))
            }
            AggExpr::Pow { base, exponent } => {
                for side in [base, exponent] {
                    let t = side.output_type(schema)?;
                    if !is_numeric(&t) {
                        return Err(Error::type_mismatch(
                            self.to_string(),
                            format!("pow needs numbers, but {side} is {t}"),
                        ));
                    }
                }
                Ok(DataType::Float64)
            }
        }
    }

    /// Computes the expression from the finished leaf arrays (`leaves[i]`
    /// holds `arrays[i]`), `n` groups.
    pub fn evaluate(&self, leaves: &[AggFunc], arrays: &[ArrayRef], n: usize) -> Result<ArrayRef> {
        match self {
            AggExpr::Agg(f) | AggExpr::Computed { func: f, .. } => leaves
                .iter()
                .position(|l| l == f)
                .and_then(|i| arrays.get(i).cloned())
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("internal: aggregate {f} not computed"))
                }),
            AggExpr::Literal(v) => Ok(v.to_array(n)),
            AggExpr::Alias { expr, .. } => expr.evaluate(leaves, arrays, n),
            AggExpr::Binary { left, op, right } => {
                let (le, la) = operand_array(left, "l", leaves, arrays, n)?;
                let (re, ra) = operand_array(right, "r", leaves, arrays, n)?;
                let (fields, cols): (Vec<Field>, Vec<ArrayRef>) = la.into_iter().chain(ra).unzip();
                let opts = RecordBatchOptions::new().with_row_count(Some(n));
                let batch =
                    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), cols, &opts)?;
                binary(le, *op, re)
                    .evaluate(&batch)
                    .map_err(|err| rename_err(err, self))
            }
            AggExpr::Pow { base, exponent } => {
                let b = cast_to(&base.evaluate(leaves, arrays, n)?, &DataType::Float64)?;
                let e = cast_to(&exponent.evaluate(leaves, arrays, n)?, &DataType::Float64)?;
                let (b, e) = (
                    b.as_primitive::<Float64Type>(),
                    e.as_primitive::<Float64Type>(),
                );
                let out: Float64Array = b
                    .iter()
                    .zip(e.iter())
                    .map(|(b, e)| Some(b?.powf(e?)))
                    .collect();
                Ok(Arc::new(out))
            }
        }
    }
}

fn rename_err(err: Error, e: &AggExpr) -> Error {
    match err {
        Error::TypeMismatch { message, .. } => Error::type_mismatch(e.to_string(), message),
        other => other,
    }
}

fn binary(l: Expr, op: BinaryOp, r: Expr) -> Expr {
    Expr::Binary {
        left: Box::new(l),
        op,
        right: Box::new(r),
    }
}

/// A literal stays a (weakly typed) literal; anything else becomes a column.
fn operand_type(e: &AggExpr, name: &str, schema: &Schema) -> Result<(Expr, Option<Field>)> {
    match e {
        AggExpr::Literal(v) => Ok((lit(v.clone()), None)),
        _ => Ok((
            col(name),
            Some(Field::new(name, e.output_type(schema)?, true)),
        )),
    }
}

fn operand_array(
    e: &AggExpr,
    name: &str,
    leaves: &[AggFunc],
    arrays: &[ArrayRef],
    n: usize,
) -> Result<(Expr, Option<(Field, ArrayRef)>)> {
    match e {
        AggExpr::Literal(v) => Ok((lit(v.clone()), None)),
        _ => {
            let a = e.evaluate(leaves, arrays, n)?;
            Ok((
                col(name),
                Some((Field::new(name, a.data_type().clone(), true), a)),
            ))
        }
    }
}

impl fmt::Display for AggExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggExpr::Agg(a) => write!(f, "{a}"),
            AggExpr::Literal(v) => write!(f, "{}", lit(v.clone())),
            AggExpr::Binary { left, op, right } => write!(f, "({left} {} {right})", op.symbol()),
            AggExpr::Pow { base, exponent } => write!(f, "{base}.pow({exponent})"),
            AggExpr::Alias { expr, name } => write!(f, "{expr} AS {name}"),
            AggExpr::Computed { func, inputs, .. } => {
                let mut text = func.to_string();
                for (hidden, e) in inputs {
                    text = text.replace(hidden.as_str(), &e.to_string());
                }
                f.write_str(&text)
            }
        }
    }
}

impl From<AggFunc> for AggExpr {
    fn from(f: AggFunc) -> Self {
        AggExpr::Agg(f)
    }
}

macro_rules! lit_from {
    ($($t:ty),*) => {$(
        impl From<$t> for AggExpr {
            fn from(v: $t) -> Self {
                AggExpr::Literal(ScalarValue::from(v))
            }
        }
    )*};
}
lit_from!(i32, i64, f64);

macro_rules! agg_binop {
    ($tr:ident, $m:ident, $op:ident) => {
        impl<R: Into<AggExpr>> $tr<R> for AggExpr {
            type Output = AggExpr;
            fn $m(self, rhs: R) -> AggExpr {
                AggExpr::Binary {
                    left: Box::new(self),
                    op: BinaryOp::$op,
                    right: Box::new(rhs.into()),
                }
            }
        }
    };
}
agg_binop!(Add, add, Add);
agg_binop!(Sub, sub, Sub);
agg_binop!(Mul, mul, Mul);
agg_binop!(Div, div, Div);

/// Rows per group (nulls included); output name `count`.
pub fn count_rows() -> AggExpr {
    AggFunc::CountRows.into()
}

/// The hidden column an expression argument is computed into: named after
/// the expression, so equal arguments share one column.
fn hidden_name(e: &Expr) -> String {
    format!("__pf_expr:{e}")
}

/// An aggregate of one argument: a column as it is, any other expression
/// through a hidden computed column (an alias names the output).
fn over1(e: impl IntoExpr, f: impl FnOnce(String) -> AggFunc) -> AggExpr {
    match e.into_expr() {
        Expr::Column(c) => f(c).into(),
        Expr::Alias { expr, name } => over1(*expr, f).alias(name),
        other => {
            let hidden = hidden_name(&other);
            AggExpr::Computed {
                func: f(hidden.clone()),
                name: other.output_name(),
                inputs: vec![(hidden, other)],
            }
        }
    }
}

/// Non-null values of `e` (a column name or any expression).
pub fn count(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::Count)
}
/// Sum of `e` (a column name or any expression): `Int64` for integers
/// (overflow is an error naming the column) and booleans (the number of
/// `true`), `Float64` for floats, `Decimal128(38, s)` for decimals.
pub fn sum(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::Sum)
}
/// Mean of `e`, `Float64`; of a boolean, the share of `true`
/// (`mean(col("delay").gt(15))`).
pub fn mean(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::Mean)
}
/// Smallest value of `e`, of its type.
pub fn min(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::Min)
}
/// Largest value of `e`, of its type.
pub fn max(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::Max)
}
/// First non-null value of `e` in input order.
pub fn first(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::First)
}
/// Last non-null value of `e` in input order.
pub fn last(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::Last)
}
/// Median of `e` (linear interpolation), `Float64`.
pub fn median(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::Median)
}
/// Quantile `q` of `e` (linear interpolation, as polars), `Float64`.
pub fn quantile(e: impl IntoExpr, q: f64) -> AggExpr {
    over1(e, |c| AggFunc::Quantile(c, q))
}
/// Sample variance of `e` (ddof 1), `Float64`.
pub fn var(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::Var)
}
/// Sample standard deviation of `e` (ddof 1), `Float64`.
pub fn std(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::Std)
}
/// Distinct non-null values of `e`, `Int64`.
pub fn n_unique(e: impl IntoExpr) -> AggExpr {
    over1(e, AggFunc::NUnique)
}
/// The `k` largest values of `e`, largest first, as a list column.
pub fn top_k(e: impl IntoExpr, k: usize) -> AggExpr {
    over1(e, |c| AggFunc::TopK(c, k))
}
/// The `k` smallest values of `e`, smallest first, as a list column.
pub fn bottom_k(e: impl IntoExpr, k: usize) -> AggExpr {
    over1(e, |c| AggFunc::BottomK(c, k))
}
/// Pearson correlation of `a` and `b` (rows with a null in either skipped).
pub fn corr(a: impl IntoExpr, b: impl IntoExpr) -> AggExpr {
    let (a, b) = (a.into_expr(), b.into_expr());
    match (a, b) {
        (Expr::Column(a), Expr::Column(b)) => AggFunc::Corr(a, b).into(),
        (a, b) => {
            let name = a.output_name();
            let mut inputs = Vec::new();
            let mut column = |e: Expr| match e {
                Expr::Column(c) => c,
                other => {
                    let hidden = hidden_name(&other);
                    inputs.push((hidden.clone(), other));
                    hidden
                }
            };
            let (a, b) = (column(a), column(b));
            AggExpr::Computed {
                func: AggFunc::Corr(a, b),
                inputs,
                name,
            }
        }
    }
}

/// Aggregates as methods of expressions, as in polars:
/// `col("delay").gt(lit(15)).mean()`, `(col("a") * col("b")).sum()`.
/// Each is the free function of the same name (see [`sum`]).
///
/// ```
/// use parframe_core::{col, lit};
/// use parframe_plan::agg::{AggregateExt, mean, sum};
///
/// assert_eq!(col("x").sum(), sum("x"));
/// assert_eq!(col("delay").gt(lit(15)).mean().output_name(), "delay");
/// ```
pub trait AggregateExt: IntoExpr + Sized {
    /// [`count`].
    fn count(self) -> AggExpr {
        count(self)
    }
    /// [`sum`].
    fn sum(self) -> AggExpr {
        sum(self)
    }
    /// [`mean`].
    fn mean(self) -> AggExpr {
        mean(self)
    }
    /// [`min`].
    fn min(self) -> AggExpr {
        min(self)
    }
    /// [`max`].
    fn max(self) -> AggExpr {
        max(self)
    }
    /// [`first`].
    fn first(self) -> AggExpr {
        first(self)
    }
    /// [`last`].
    fn last(self) -> AggExpr {
        last(self)
    }
    /// [`median`].
    fn median(self) -> AggExpr {
        median(self)
    }
    /// [`quantile`].
    fn quantile(self, q: f64) -> AggExpr {
        quantile(self, q)
    }
    /// [`var`].
    fn var(self) -> AggExpr {
        var(self)
    }
    /// [`std`].
    fn std(self) -> AggExpr {
        std(self)
    }
    /// [`n_unique`].
    fn n_unique(self) -> AggExpr {
        n_unique(self)
    }
    /// [`top_k`].
    fn top_k(self, k: usize) -> AggExpr {
        top_k(self, k)
    }
    /// [`bottom_k`].
    fn bottom_k(self, k: usize) -> AggExpr {
        bottom_k(self, k)
    }
    /// [`corr`].
    fn corr(self, other: impl IntoExpr) -> AggExpr {
        corr(self, other)
    }
}

impl AggregateExt for Expr {}

/// Hidden input columns of aggregates: name and expression.
pub type HiddenColumns = Vec<(String, Expr)>;

/// The input schema with the hidden columns of `inputs` appended.
fn with_inputs(schema: &Schema, inputs: &[(String, Expr)]) -> Result<Schema> {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (name, e) in inputs {
        if schema.index_of(name).is_err() {
            fields.push(e.to_field(schema)?.with_name(name.as_str()));
        }
    }
    Ok(Schema::new(fields))
}

/// Prepares aggregates for an aggregation over `schema`: returns the
/// hidden columns to compute first (name, expression; each once) and the
/// aggregates rewritten over plain columns. Numeric aggregates (sum, mean,
/// median, quantile, var, std) of a boolean read it as `Int64` (0 or 1),
/// so `mean(col("x").gt(15))` is the share of rows where it holds.
pub fn lower(aggs: &[AggExpr], schema: &Schema) -> Result<(HiddenColumns, Vec<AggExpr>)> {
    let mut hidden: Vec<(String, Expr)> = Vec::new();
    let out = aggs
        .iter()
        .map(|a| lower_one(a, schema, &mut hidden))
        .collect::<Result<Vec<_>>>()?;
    Ok((hidden, out))
}

fn lower_one(a: &AggExpr, schema: &Schema, hidden: &mut Vec<(String, Expr)>) -> Result<AggExpr> {
    Ok(match a {
        AggExpr::Agg(f) => match boolean_as_int(f, &[], schema)? {
            Some((func, inputs)) => {
                let name = AggExpr::Agg(f.clone()).output_name();
                add_hidden(hidden, inputs);
                AggExpr::Agg(func).alias(name)
            }
            None => a.clone(),
        },
        AggExpr::Computed { func, inputs, name } => {
            let (func, inputs) = boolean_as_int(func, inputs, schema)?
                .unwrap_or_else(|| (func.clone(), inputs.clone()));
            add_hidden(hidden, inputs);
            AggExpr::Agg(func).alias(name.as_str())
        }
        AggExpr::Literal(_) => a.clone(),
        AggExpr::Binary { left, op, right } => AggExpr::Binary {
            left: Box::new(lower_one(left, schema, hidden)?),
            op: *op,
            right: Box::new(lower_one(right, schema, hidden)?),
        },
        AggExpr::Pow { base, exponent } => AggExpr::Pow {
            base: Box::new(lower_one(base, schema, hidden)?),
            exponent: Box::new(lower_one(exponent, schema, hidden)?),
        },
        AggExpr::Alias { expr, name } => AggExpr::Alias {
            expr: Box::new(lower_one(expr, schema, hidden)?),
            name: name.clone(),
        },
    })
}

fn add_hidden(hidden: &mut Vec<(String, Expr)>, inputs: Vec<(String, Expr)>) {
    for (n, e) in inputs {
        if !hidden.iter().any(|(h, _)| h == &n) {
            hidden.push((n, e));
        }
    }
}

/// A numeric aggregate (sum, mean, median, quantile, var, std) over a
/// boolean input (a column of `schema`, or a hidden column of `inputs`),
/// rewritten to read it cast to `Int64` through a new hidden column
/// (returned); `None` when nothing changes.
pub fn boolean_as_int(
    f: &AggFunc,
    inputs: &[(String, Expr)],
    schema: &Schema,
) -> Result<Option<(AggFunc, HiddenColumns)>> {
    let numeric = matches!(
        f,
        AggFunc::Sum(_)
            | AggFunc::Mean(_)
            | AggFunc::Median(_)
            | AggFunc::Quantile(..)
            | AggFunc::Var(_)
            | AggFunc::Std(_)
    );
    let Some(&c) = f.columns().first() else {
        return Ok(None);
    };
    if !numeric {
        return Ok(None);
    }
    let input = match inputs.iter().find(|(n, _)| n == c) {
        Some((_, e)) => e.clone(),
        None => col(c),
    };
    if input.to_field(schema)?.data_type() != &DataType::Boolean {
        return Ok(None);
    }
    let cast = input.cast(DataType::Int64);
    let name = hidden_name(&cast);
    let func = match f {
        AggFunc::Sum(_) => AggFunc::Sum(name.clone()),
        AggFunc::Mean(_) => AggFunc::Mean(name.clone()),
        AggFunc::Median(_) => AggFunc::Median(name.clone()),
        AggFunc::Quantile(_, q) => AggFunc::Quantile(name.clone(), *q),
        AggFunc::Var(_) => AggFunc::Var(name.clone()),
        _ => AggFunc::Std(name.clone()),
    };
    Ok(Some((func, vec![(name, cast)])))
}

/// Whether a column type can be a group-by key (decimals group by their
/// arrow-row bytes, as multi-column keys do).
pub fn is_key_type(dt: &DataType) -> bool {
    kind_of(dt).is_some() || matches!(dt, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// The physical value family an aggregate works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindTag {
    /// Integers, booleans, dates and times: read as `i64`.
    Int,
    /// Floats: read as `f64`.
    Float,
    /// Strings of any offset width or view.
    Str,
}

/// The family of a column type, if aggregates (and group-by keys) support it.
pub fn kind_of(dt: &DataType) -> Option<KindTag> {
    use DataType::*;
    match dt {
        Int8
        | Int16
        | Int32
        | Int64
        | UInt8
        | UInt16
        | UInt32
        | UInt64
        | Boolean
        | Date32
        | Date64
        | Time32(_)
        | Time64(_)
        | Timestamp(_, _)
        | Duration(_) => Some(KindTag::Int),
        Float16 | Float32 | Float64 => Some(KindTag::Float),
        Utf8 | LargeUtf8 | Utf8View => Some(KindTag::Str),
        _ => None,
    }
}

/// Whether sums and means apply (numbers only: integers, floats and
/// Decimal128; means, variances and quantiles of decimals are Float64).
pub fn is_numeric(dt: &DataType) -> bool {
    dt.is_integer() || dt.is_floating() || matches!(dt, DataType::Decimal128(_, _))
}

fn cast_to(arr: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if arr.data_type() == to {
        Ok(arr.clone())
    } else {
        Ok(arrow_cast::cast(arr, to)?)
    }
}
