//! Numeric functions of [`Func::Math`](super::Func::Math): `abs`,
//! `floor`, `ceil`, `round`, `sqrt`, `cbrt`, `exp`, `ln`, `log10`, `log2`,
//! `power`, `sign`.
//!
//! Types: `abs`, `floor`, `ceil`, `round` and `sign` keep integers exact
//! (as Int64) and decimals exact (`floor`/`ceil` of `Decimal(p, s)` is
//! `Decimal(p - s + 1, 0)`; `round(x, n)` with `0 <= n < s` is
//! `Decimal(p - s + n + 1, n)`, rounding half away from zero); floats are
//! Float64; the others are Float64 of any number. Out-of-domain inputs
//! (`sqrt(-1)`, `ln(0)`) and overflow (`abs` of the smallest Int64) are
//! errors naming the expression, never NaN or a wrapped value. arrow-arith
//! has no kernels for these, so each is a `unary` map over the values.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int64Type};
use arrow_array::{ArrayRef, Decimal128Array, Float64Array, Int64Array};
use arrow_schema::DataType;
use parframe_common::{Error, Result};

/// A numeric function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathFunc {
    /// `abs(x)`.
    Abs,
    /// `sign(x)`: -1, 0 or 1 (Int64 for integers and decimals).
    Sign,
    /// `floor(x)`.
    Floor,
    /// `ceil(x)`.
    Ceil,
    /// `round(x[, digits])`: half away from zero; `digits` a constant
    /// integer (negative rounds to tens, hundreds...).
    Round,
    /// `sqrt(x)`: Float64, an error below zero.
    Sqrt,
    /// `cbrt(x)`: Float64.
    Cbrt,
    /// `exp(x)`: Float64.
    Exp,
    /// `ln(x)`: Float64, an error at or below zero.
    Ln,
    /// `log10(x)`: Float64, an error at or below zero.
    Log10,
    /// `log2(x)`: Float64, an error at or below zero.
    Log2,
    /// `power(x, y)`: Float64.
    Power,
}

impl MathFunc {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            MathFunc::Abs => "abs",
            MathFunc::Sign => "sign",
            MathFunc::Floor => "floor",
            MathFunc::Ceil => "ceil",
            MathFunc::Round => "round",
            MathFunc::Sqrt => "sqrt",
            MathFunc::Cbrt => "cbrt",
            MathFunc::Exp => "exp",
            MathFunc::Ln => "ln",
            MathFunc::Log10 => "log10",
            MathFunc::Log2 => "log2",
            MathFunc::Power => "power",
        }
    }
}

/// The planned form of a numeric function: what the input is cast to and
/// how the values are computed.
#[derive(Debug, Clone)]
pub(super) enum MathKernel {
    /// Over Int64 values.
    Int(MathFunc, i64),
    /// Over Float64 values.
    Float(MathFunc, i64),
    /// Over the unscaled values of `Decimal128(_, scale)`, giving
    /// `Decimal128(out_p, out_s)` (or Int64 for sign).
    Decimal {
        func: MathFunc,
        scale: i8,
        digits: i64,
        out: DataType,
    },
}

/// Whether `t` is a number (or a typeless null).
fn is_number(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Null)
}

/// Plans `func` over an argument of type `t` (`digits`: `round`'s second
/// argument, 0 when absent): the kernel, the result type and the type the
/// first argument is cast to. `Err` is the message of a type error.
pub(super) fn plan(
    func: MathFunc,
    t: &DataType,
    digits: i64,
) -> std::result::Result<(MathKernel, DataType, DataType), String> {
    if !is_number(t) {
        return Err(format!("{} needs a number, got {t}", func.name()));
    }
    let float = || {
        (
            MathKernel::Float(func, digits),
            DataType::Float64,
            DataType::Float64,
        )
    };
    Ok(match func {
        MathFunc::Sqrt
        | MathFunc::Cbrt
        | MathFunc::Exp
        | MathFunc::Ln
        | MathFunc::Log10
        | MathFunc::Log2
        | MathFunc::Power => float(),
        _ if t.is_floating() => float(),
        _ => match t {
            DataType::Decimal128(p, s) => {
                let (p, s) = (i16::from(*p), i16::from(*s));
                let out = match func {
                    MathFunc::Sign => DataType::Int64,
                    MathFunc::Abs => DataType::Decimal128(p as u8, s as i8),
                    MathFunc::Floor | MathFunc::Ceil => {
                        DataType::Decimal128((p - s + 1).clamp(1, 38) as u8, 0)
                    }
                    _ if digits >= i64::from(s) => DataType::Decimal128(p as u8, s as i8),
                    _ if digits < 0 => {
                        return Err(format!(
                            "round of a decimal needs 0 or more digits, got {digits}"
                        ));
                    }
                    _ => {
                        let n = digits as i16;
                        DataType::Decimal128((p - s + n + 1).clamp(1, 38) as u8, n as i8)
                    }
                };
                (
                    MathKernel::Decimal {
                        func,
                        scale: s as i8,
                        digits,
                        out: out.clone(),
                    },
                    out,
                    t.clone(),
                )
            }
            _ => (
                MathKernel::Int(func, digits),
                DataType::Int64,
                DataType::Int64,
            ),
        },
    })
}

/// `10^e` as i128 (`None` when it does not fit).
fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

/// Rounds `v / f` to an integer, half away from zero.
fn div_round(v: i128, f: i128) -> i128 {
    let q = v / f;
    let r = v % f;
    if r.abs() * 2 >= f { q + v.signum() } else { q }
}

/// Evaluates a planned numeric function over `args` (the first cast as
/// planned; `power`'s second as Float64).
pub(super) fn eval(k: &MathKernel, args: &[ArrayRef], ctx: &str) -> Result<ArrayRef> {
    let bad = |m: String| Error::InvalidArgument(format!("cannot compute {ctx}: {m}"));
    let a = args.first().ok_or_else(|| bad("missing argument".into()))?;
    Ok(match k {
        MathKernel::Int(func, digits) => {
            let v = a
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| bad("expected Int64 values".into()))?;
            let out: Int64Array = match func {
                MathFunc::Abs => v
                    .try_unary(|x| {
                        x.checked_abs().ok_or_else(|| {
                            arrow_schema::ArrowError::ComputeError(format!(
                                "abs({x}) overflows Int64"
                            ))
                        })
                    })
                    .map_err(|e| bad(e.to_string()))?,
                MathFunc::Sign => v.unary(|x| x.signum()),
                MathFunc::Round if *digits < 0 => {
                    let f = u32::try_from(-digits)
                        .ok()
                        .and_then(pow10)
                        .ok_or_else(|| bad(format!("{digits} digits")))?;
                    v.try_unary(|x| {
                        i64::try_from(div_round(i128::from(x), f) * f).map_err(|_| {
                            arrow_schema::ArrowError::ComputeError(format!(
                                "round({x}, {digits}) overflows Int64"
                            ))
                        })
                    })
                    .map_err(|e| bad(e.to_string()))?
                }
                _ => v.clone(),
            };
            Arc::new(out)
        }
        MathKernel::Float(func, digits) => {
            let v = a
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| bad("expected Float64 values".into()))?;
            let domain = |ok: fn(f64) -> bool, what: &'static str| -> Result<()> {
                match v.iter().flatten().find(|x| !ok(*x)) {
                    Some(x) => Err(bad(format!("{}({x}): {what}", func.name()))),
                    None => Ok(()),
                }
            };
            let out: Float64Array = match func {
                MathFunc::Abs => v.unary(f64::abs),
                MathFunc::Sign => v.unary(|x| if x == 0.0 { 0.0 } else { x.signum() }),
                MathFunc::Floor => v.unary(f64::floor),
                MathFunc::Ceil => v.unary(f64::ceil),
                MathFunc::Round => {
                    let f = 10f64.powi(i32::try_from(*digits).unwrap_or(0));
                    if *digits == 0 {
                        v.unary(f64::round)
                    } else {
                        v.unary(|x| (x * f).round() / f)
                    }
                }
                MathFunc::Sqrt => {
                    domain(|x| x >= 0.0, "the square root of a negative number")?;
                    v.unary(f64::sqrt)
                }
                MathFunc::Cbrt => v.unary(f64::cbrt),
                MathFunc::Exp => v.unary(f64::exp),
                MathFunc::Ln | MathFunc::Log10 | MathFunc::Log2 => {
                    domain(|x| x > 0.0, "the logarithm of zero or a negative number")?;
                    v.unary(match func {
                        MathFunc::Ln => f64::ln,
                        MathFunc::Log10 => f64::log10,
                        _ => f64::log2,
                    })
                }
                MathFunc::Power => {
                    let e = args
                        .get(1)
                        .and_then(|e| e.as_primitive_opt::<Float64Type>())
                        .ok_or_else(|| bad("expected a Float64 exponent".into()))?;
                    arrow_arith::arity::binary(v, e, f64::powf)?
                }
            };
            Arc::new(out)
        }
        MathKernel::Decimal {
            func,
            scale,
            digits,
            out,
        } => {
            let v = a
                .as_primitive_opt::<Decimal128Type>()
                .ok_or_else(|| bad("expected Decimal128 values".into()))?;
            let s = u32::try_from(*scale).unwrap_or(0);
            let f = pow10(s).ok_or_else(|| bad(format!("scale {scale}")))?;
            if *func == MathFunc::Sign {
                let r: Int64Array = v.unary(|x| x.signum() as i64);
                return Ok(Arc::new(r));
            }
            let r: Decimal128Array = match func {
                MathFunc::Abs => v.unary(i128::abs),
                MathFunc::Floor => v.unary(|x| x.div_euclid(f)),
                MathFunc::Ceil => v.unary(|x| -(-x).div_euclid(f)),
                _ if i64::from(*scale) <= *digits => v.clone(),
                _ => {
                    let down = pow10(s - u32::try_from(*digits).unwrap_or(0))
                        .ok_or_else(|| bad(format!("{digits} digits")))?;
                    v.unary(|x| div_round(x, down))
                }
            };
            let (p, s) = match out {
                DataType::Decimal128(p, s) => (*p, *s),
                _ => return Err(bad(format!("internal: decimal result {out}"))),
            };
            Arc::new(
                r.with_precision_and_scale(p, s)
                    .map_err(|e| bad(e.to_string()))?,
            )
        }
    })
}
