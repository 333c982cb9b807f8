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
use parframe_core::{Expr, ScalarValue, col, lit};

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
        }
    }

    /// Adds the aggregates of the tree to `out`, without duplicates.
    pub fn collect_leaves(&self, out: &mut Vec<AggFunc>) {
        match self {
            AggExpr::Agg(f) => {
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
            AggExpr::Agg(f) => leaves
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
/// Non-null values of `column`.
pub fn count(column: &str) -> AggExpr {
    AggFunc::Count(column.into()).into()
}
/// Sum of `column`: `Int64` for integers (overflow is an error naming the
/// column), `Float64` for floats.
pub fn sum(column: &str) -> AggExpr {
    AggFunc::Sum(column.into()).into()
}
/// Mean of `column`, `Float64`.
pub fn mean(column: &str) -> AggExpr {
    AggFunc::Mean(column.into()).into()
}
/// Smallest value of `column`, of its type.
pub fn min(column: &str) -> AggExpr {
    AggFunc::Min(column.into()).into()
}
/// Largest value of `column`, of its type.
pub fn max(column: &str) -> AggExpr {
    AggFunc::Max(column.into()).into()
}
/// First non-null value of `column` in input order.
pub fn first(column: &str) -> AggExpr {
    AggFunc::First(column.into()).into()
}
/// Last non-null value of `column` in input order.
pub fn last(column: &str) -> AggExpr {
    AggFunc::Last(column.into()).into()
}
/// Median of `column` (linear interpolation), `Float64`.
pub fn median(column: &str) -> AggExpr {
    AggFunc::Median(column.into()).into()
}
/// Quantile `q` of `column` (linear interpolation, as polars), `Float64`.
pub fn quantile(column: &str, q: f64) -> AggExpr {
    AggFunc::Quantile(column.into(), q).into()
}
/// Sample variance of `column` (ddof 1), `Float64`.
pub fn var(column: &str) -> AggExpr {
    AggFunc::Var(column.into()).into()
}
/// Sample standard deviation of `column` (ddof 1), `Float64`.
pub fn std(column: &str) -> AggExpr {
    AggFunc::Std(column.into()).into()
}
/// Distinct non-null values of `column`, `Int64`.
pub fn n_unique(column: &str) -> AggExpr {
    AggFunc::NUnique(column.into()).into()
}
/// The `k` largest values of `column`, largest first, as a list column.
pub fn top_k(column: &str, k: usize) -> AggExpr {
    AggFunc::TopK(column.into(), k).into()
}
/// The `k` smallest values of `column`, smallest first, as a list column.
pub fn bottom_k(column: &str, k: usize) -> AggExpr {
    AggFunc::BottomK(column.into(), k).into()
}
/// Pearson correlation of `a` and `b` (rows with a null in either skipped).
pub fn corr(a: &str, b: &str) -> AggExpr {
    AggFunc::Corr(a.into(), b.into()).into()
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
