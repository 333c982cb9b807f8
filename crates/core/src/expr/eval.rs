//! Evaluation of a type-checked tree over one chunk with arrow kernels.

use std::sync::Arc;

use arrow_arith::{boolean, numeric};
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Decimal256Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Datum, RecordBatch, Scalar, UInt64Array, new_null_array,
};
use arrow_cast::CastOptions;
use arrow_schema::{ArrowError, DataType};
use parframe_common::{Error, Result};

use super::ScalarValue;
use super::plan::{ArithFix, Node, StrKernel, Typed, one};
use super::{BinaryOp, decimal, decimal_tree, func, strings};

/// Casts that fail on values they cannot convert instead of making them null.
pub(super) const STRICT: CastOptions<'static> = CastOptions {
    safe: false,
    format_options: arrow_cast::display::FormatOptions::new(),
};

/// An intermediate result: a full-length array, or one value standing for
/// every row (kept as a [`Scalar`] so kernels take it as a `Datum`).
pub(super) enum Value {
    Array(ArrayRef),
    Scalar(Scalar<ArrayRef>),
}

impl Value {
    pub(super) fn datum(&self) -> &dyn Datum {
        match self {
            Value::Array(a) => a,
            Value::Scalar(s) => s,
        }
    }

    pub(super) fn is_scalar(&self) -> bool {
        matches!(self, Value::Scalar(_))
    }

    /// The values as an array of `len` rows, repeating a scalar.
    pub(super) fn into_array(self, len: usize) -> Result<ArrayRef> {
        match self {
            Value::Array(a) => Ok(a),
            Value::Scalar(s) => broadcast(&s.into_inner(), len),
        }
    }

    /// Applies a kernel to the values, keeping a scalar a scalar.
    fn map(self, f: impl FnOnce(&dyn Array) -> Result<ArrayRef>) -> Result<Value> {
        match self {
            Value::Array(a) => Ok(Value::Array(f(&a)?)),
            Value::Scalar(s) => Ok(Value::Scalar(one(f(s.get().0)?)?)),
        }
    }
}

/// `array`'s single value repeated `len` times.
fn broadcast(array: &ArrayRef, len: usize) -> Result<ArrayRef> {
    if array.data_type() == &arrow_schema::DataType::Null || array.is_null(0) {
        return Ok(new_null_array(array.data_type(), len));
    }
    match ScalarValue::try_from_array(array, 0) {
        Ok(v) if &v.data_type() == array.data_type() => Ok(v.to_array(len)),
        // Types without a ScalarValue variant (LargeUtf8, timestamps...).
        _ => Ok(arrow_select::take::take(
            array,
            &UInt64Array::from_value(0, len),
            None,
        )?),
    }
}

/// Rewords a kernel error so that it names the expression that failed.
fn runtime_error(ctx: &str, e: ArrowError) -> Error {
    match e {
        ArrowError::DivideByZero => Error::InvalidArgument(format!("division by zero in {ctx}")),
        ArrowError::ArithmeticOverflow(m) => {
            Error::InvalidArgument(format!("arithmetic overflow in {ctx}: {m}"))
        }
        ArrowError::CastError(m) | ArrowError::ParseError(m) => {
            Error::InvalidArgument(format!("cannot compute {ctx}: {m}"))
        }
        other => Error::Arrow(ArrowError::ComputeError(format!("in {ctx}: {other}"))),
    }
}

fn bools(a: &dyn Array) -> Result<&BooleanArray> {
    a.as_boolean_opt().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "internal: expected a Boolean array, got {}",
            a.data_type()
        ))
    })
}

/// A kernel result, scalar when all inputs were.
fn wrap(array: ArrayRef, scalar: bool) -> Result<Value> {
    if scalar {
        Ok(Value::Scalar(one(array)?))
    } else {
        Ok(Value::Array(array))
    }
}

// Recurses once per level of the tree; the stack grows on demand.
#[recursive::recursive]
pub(super) fn eval(t: &Typed, batch: &RecordBatch) -> Result<Value> {
    match &t.node {
        Node::Column { index, name } => {
            let ok = *index < batch.num_columns()
                && batch.schema_ref().field(*index).name() == name
                && batch.column(*index).data_type() == &t.data_type;
            if !ok {
                return Err(Error::SchemaMismatch(format!(
                    "the expression was prepared for a schema with column '{name}' of type {} \
                     at position {index}, but the chunk's schema differs",
                    t.data_type
                )));
            }
            Ok(Value::Array(batch.column(*index).clone()))
        }
        Node::Literal(s) => Ok(Value::Scalar(s.clone())),
        Node::Arith {
            left, right, fix, ..
        } => {
            // A tree of decimal `+ - *` runs in one pass over its leaves.
            if matches!(fix, ArithFix::Decimal { .. })
                && let Some(v) = decimal_tree::eval(t, batch)?
            {
                return Ok(v);
            }
            let (l, r) = (eval(left, batch)?, eval(right, batch)?);
            arith(t, l, r)
        }
        Node::Compare {
            left,
            op,
            right,
            ctx,
        } => {
            let (l, r) = (eval(left, batch)?, eval(right, batch)?);
            let kernel = match op {
                BinaryOp::Eq => arrow_ord::cmp::eq,
                BinaryOp::NotEq => arrow_ord::cmp::neq,
                BinaryOp::Lt => arrow_ord::cmp::lt,
                BinaryOp::LtEq => arrow_ord::cmp::lt_eq,
                BinaryOp::Gt => arrow_ord::cmp::gt,
                BinaryOp::IsDistinctFrom => arrow_ord::cmp::distinct,
                BinaryOp::IsNotDistinctFrom => arrow_ord::cmp::not_distinct,
                _ => arrow_ord::cmp::gt_eq,
            };
            let out = kernel(l.datum(), r.datum()).map_err(|e| runtime_error(ctx, e))?;
            wrap(Arc::new(out), l.is_scalar() && r.is_scalar())
        }
        Node::Logic {
            left,
            op,
            right,
            ctx,
        } => {
            let (l, r) = (eval(left, batch)?, eval(right, batch)?);
            let scalar = l.is_scalar() && r.is_scalar();
            // The Kleene kernels take arrays only: repeat a scalar side.
            let len = match (&l, &r) {
                (Value::Array(a), _) | (_, Value::Array(a)) => a.len(),
                _ => 1,
            };
            let (l, r) = (l.into_array(len)?, r.into_array(len)?);
            let (l, r) = (bools(&l)?, bools(&r)?);
            let out = if *op == BinaryOp::And {
                boolean::and_kleene(l, r)
            } else {
                boolean::or_kleene(l, r)
            }
            .map_err(|e| runtime_error(ctx, e))?;
            wrap(Arc::new(out), scalar)
        }
        Node::Not(input) => eval(input, batch)?.map(|a| Ok(Arc::new(boolean::not(bools(a)?)?))),
        Node::Neg { input, ctx } => {
            eval(input, batch)?.map(|a| numeric::neg(a).map_err(|e| runtime_error(ctx, e)))
        }
        Node::IsNull { input, negated } => eval(input, batch)?.map(|a| {
            let out = if *negated {
                boolean::is_not_null(a)?
            } else {
                boolean::is_null(a)?
            };
            Ok(Arc::new(out))
        }),
        Node::Cast { input, ctx } => eval(input, batch)?.map(|a| {
            arrow_cast::cast_with_options(a, &t.data_type, &STRICT)
                .map_err(|e| runtime_error(ctx, e))
        }),
        Node::Str { input, func, ctx } => eval(input, batch)?
            .map(|a| {
                let out: ArrayRef = match func {
                    StrKernel::Contains(p) => Arc::new(arrow_string::like::contains(&a, p)?),
                    StrKernel::StartsWith(p) => Arc::new(arrow_string::like::starts_with(&a, p)?),
                    StrKernel::EndsWith(p) => Arc::new(arrow_string::like::ends_with(&a, p)?),
                    StrKernel::Len => strings::char_length(a)?,
                    StrKernel::Lower => strings::change_case(a, false)?,
                    StrKernel::Upper => strings::change_case(a, true)?,
                };
                Ok(out)
            })
            .map_err(|e| match e {
                Error::Arrow(e) => runtime_error(ctx, e),
                other => other,
            }),
        Node::Func { kernel, args, ctx } => {
            let values = args
                .iter()
                .map(|a| eval(a, batch))
                .collect::<Result<Vec<_>>>()?;
            let scalar = values.iter().all(Value::is_scalar);
            let len = if scalar { 1 } else { batch.num_rows() };
            let arrays = values
                .into_iter()
                .map(|v| v.into_array(len))
                .collect::<Result<Vec<_>>>()?;
            let out = func::eval(kernel, &arrays, len, ctx).map_err(|e| match e {
                Error::Arrow(e) => runtime_error(ctx, e),
                other => other,
            })?;
            // Kernels that only relabel (time zone conversion) or compute in
            // another unit are brought to the planned type here.
            let out = if out.data_type() == &t.data_type {
                out
            } else {
                arrow_cast::cast_with_options(&out, &t.data_type, &STRICT)
                    .map_err(|e| runtime_error(ctx, e))?
            };
            wrap(out, scalar)
        }
        Node::InList {
            input,
            set,
            negated,
        } => eval(input, batch)?.map(|a| set.eval(a, *negated)),
        Node::Case {
            branches,
            otherwise,
            ctx,
        } => case(branches, otherwise, batch).map_err(|e| match e {
            Error::Arrow(e) => runtime_error(ctx, e),
            other => other,
        }),
    }
}

/// `l op r` for the arithmetic node `t` (whose operands gave `l` and `r`).
pub(super) fn arith(t: &Typed, l: Value, r: Value) -> Result<Value> {
    let Node::Arith { op, ctx, fix, .. } = &t.node else {
        return Err(Error::InvalidArgument(
            "internal: arith on a node that is not arithmetic".into(),
        ));
    };
    if matches!(fix, ArithFix::Decimal { .. })
        && let Some(out) = decimal::exact_arith(*op, l.datum(), r.datum(), &t.data_type)
    {
        return wrap(out, l.is_scalar() && r.is_scalar());
    }
    let kernel = match op {
        BinaryOp::Add => numeric::add,
        BinaryOp::Sub => numeric::sub,
        BinaryOp::Mul => numeric::mul,
        // On integers arrow's div truncates toward zero (`//`).
        BinaryOp::Div | BinaryOp::IntDiv => numeric::div,
        _ => numeric::rem,
    };
    let out = kernel(l.datum(), r.datum()).map_err(|e| runtime_error(ctx, e))?;
    let out = match fix {
        ArithFix::None => out,
        ArithFix::Decimal { check } => relabel_decimal(out, &t.data_type, *check, ctx)?,
    };
    wrap(out, l.is_scalar() && r.is_scalar())
}

/// A decimal kernel result given the planned precision (same scale), each
/// value checked against it when `check` (the planned precision was capped
/// at the maximum, so a value can exceed it).
fn relabel_decimal(out: ArrayRef, to: &DataType, check: bool, ctx: &str) -> Result<ArrayRef> {
    if out.data_type() == to && !check {
        return Ok(out);
    }
    let overflow = |e: ArrowError| {
        Error::InvalidArgument(format!(
            "arithmetic overflow in {ctx}: a result does not fit {to} ({e})"
        ))
    };
    match to {
        DataType::Decimal128(p, s) => {
            let a = out
                .as_primitive_opt::<Decimal128Type>()
                .ok_or_else(|| internal_type(&out, to))?
                .clone()
                .with_precision_and_scale(*p, *s)?;
            if check {
                a.validate_decimal_precision(*p).map_err(overflow)?;
            }
            Ok(Arc::new(a))
        }
        DataType::Decimal256(p, s) => {
            let a = out
                .as_primitive_opt::<Decimal256Type>()
                .ok_or_else(|| internal_type(&out, to))?
                .clone()
                .with_precision_and_scale(*p, *s)?;
            if check {
                a.validate_decimal_precision(*p).map_err(overflow)?;
            }
            Ok(Arc::new(a))
        }
        _ => Err(internal_type(&out, to)),
    }
}

fn internal_type(out: &ArrayRef, to: &DataType) -> Error {
    Error::InvalidArgument(format!(
        "internal: a decimal kernel gave {}, expected {to}",
        out.data_type()
    ))
}

/// `CASE WHEN`: starts from the default and, from the last branch back to
/// the first, takes the branch's value where its condition is `true`, so
/// the first matching branch wins. A null condition counts as `false`.
fn case(branches: &[(Typed, Typed)], otherwise: &Typed, batch: &RecordBatch) -> Result<Value> {
    let mut evaluated = Vec::with_capacity(branches.len());
    for (c, v) in branches {
        evaluated.push((eval(c, batch)?, eval(v, batch)?));
    }
    let mut result = eval(otherwise, batch)?;
    let all_scalar = result.is_scalar()
        && evaluated
            .iter()
            .all(|(c, v)| c.is_scalar() && v.is_scalar());
    let len = if all_scalar { 1 } else { batch.num_rows() };
    for (cond, value) in evaluated.into_iter().rev() {
        match cond {
            Value::Scalar(s) if !all_scalar => {
                let mask = bools(s.get().0)?;
                if mask.is_valid(0) && mask.value(0) {
                    result = value;
                }
            }
            cond => {
                let mask = cond.into_array(len)?;
                let mask = bools(&mask)?;
                let out = if mask.null_count() > 0 {
                    let mask = arrow_select::filter::prep_null_mask_filter(mask);
                    arrow_select::zip::zip(&mask, value.datum(), result.datum())?
                } else {
                    arrow_select::zip::zip(mask, value.datum(), result.datum())?
                };
                result = wrap(out, all_scalar)?;
            }
        }
    }
    Ok(result)
}
