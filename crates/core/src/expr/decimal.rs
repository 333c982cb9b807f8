//! Decimal type rules: which decimal type an operand takes when it meets a
//! decimal, and the precision and scale of `+ - * / %` and comparisons.
//! The values are computed by arrow-arith's decimal kernels; this module
//! only decides the types (see "Decimals" in the [module docs](super)).

use arrow_schema::{DECIMAL128_MAX_PRECISION, DECIMAL256_MAX_PRECISION, DataType};

use super::BinaryOp;
use super::ScalarValue;

/// Precision and scale of a decimal type, and whether it is 256 bits wide.
pub(super) fn parts(t: &DataType) -> Option<(u8, i8, bool)> {
    match t {
        DataType::Decimal128(p, s) => Some((*p, *s, false)),
        DataType::Decimal256(p, s) => Some((*p, *s, true)),
        _ => None,
    }
}

pub(super) fn is_decimal(t: &DataType) -> bool {
    parts(t).is_some()
}

/// The decimal digits an integer type needs (`Int32` → 10).
pub(super) fn int_digits(t: &DataType) -> Option<u8> {
    Some(match t {
        DataType::Int8 | DataType::UInt8 => 3,
        DataType::Int16 | DataType::UInt16 => 5,
        DataType::Int32 | DataType::UInt32 => 10,
        DataType::Int64 => 19,
        DataType::UInt64 => 20,
        _ => return None,
    })
}

/// An integer literal's own decimal type: as many digits as it has.
pub(super) fn int_literal_decimal(v: i128) -> ScalarValue {
    let digits = v.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
    ScalarValue::Decimal128(v, digits as u8, 0)
}

/// A float literal's exact decimal: the shortest text that reads back as
/// the same float (`0.05` → `Decimal128(2, 2)` holding 5), so that
/// `col("price").lt(lit(0.05))` compares decimals exactly instead of going
/// through a binary float. `None` for non-finite values and values needing
/// more than 38 digits.
pub(super) fn float_literal_decimal(v: f64) -> Option<ScalarValue> {
    if !v.is_finite() {
        return None;
    }
    // `Display` for floats prints the shortest round-tripping digits and
    // never uses an exponent.
    ScalarValue::decimal_from_str(&v.to_string()).ok()
}

fn make(p: i16, s: i16, wide: bool) -> DataType {
    let max = i16::from(if wide {
        DECIMAL256_MAX_PRECISION
    } else {
        DECIMAL128_MAX_PRECISION
    });
    let p = p.clamp(1, max) as u8;
    let s = s.min(i16::from(p)) as i8;
    if wide {
        DataType::Decimal256(p, s)
    } else {
        DataType::Decimal128(p, s)
    }
}

/// `t` as the decimal width `wide` (same precision and scale).
pub(super) fn widen(t: &DataType, wide: bool) -> DataType {
    match (parts(t), wide) {
        (Some((p, s, false)), true) => DataType::Decimal256(p, s),
        _ => t.clone(),
    }
}

/// The result of an arithmetic `op` on two decimals (already of one width),
/// with the precision before capping (values are checked against the cap
/// only when it was hit). `Err` explains an impossible scale.
pub(super) fn arith_result(
    op: BinaryOp,
    l: &DataType,
    r: &DataType,
) -> Result<(DataType, bool), String> {
    let (Some((p1, s1, w1)), Some((p2, s2, w2))) = (parts(l), parts(r)) else {
        return Err(format!("{l} and {r} are not both decimals"));
    };
    let wide = w1 || w2;
    let max = i16::from(if wide {
        DECIMAL256_MAX_PRECISION
    } else {
        DECIMAL128_MAX_PRECISION
    });
    let (p1, s1, p2, s2) = (i16::from(p1), i16::from(s1), i16::from(p2), i16::from(s2));
    let (p, s) = match op {
        BinaryOp::Add | BinaryOp::Sub => {
            let s = s1.max(s2);
            ((p1 - s1).max(p2 - s2) + s + 1, s)
        }
        BinaryOp::Mul => {
            let s = s1 + s2;
            if s > max {
                return Err(format!(
                    "the product's scale {s} exceeds the maximum {max}; cast an operand to a \
                     smaller scale or to Float64"
                ));
            }
            (p1 + p2, s)
        }
        BinaryOp::Div => {
            let s = (s1 + 4).min(max);
            (p1 - s1 + s2 + s, s)
        }
        _ => {
            let s = s1.max(s2);
            ((p1 - s1).min(p2 - s2) + s, s)
        }
    };
    Ok((make(p, s, wide), p > max))
}

/// The type two decimals compare (or meet in `CASE`) at: the larger scale
/// and the larger number of integer digits, capped at the maximum precision.
pub(super) fn common(l: &DataType, r: &DataType) -> Option<DataType> {
    let ((p1, s1, w1), (p2, s2, w2)) = (parts(l)?, parts(r)?);
    let (p1, s1, p2, s2) = (i16::from(p1), i16::from(s1), i16::from(p2), i16::from(s2));
    let s = s1.max(s2);
    Some(make((p1 - s1).max(p2 - s2) + s, s, w1 || w2))
}
