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

/// A bound on the magnitudes of `values`: every `|v| < 2^magnitude_bits`.
///
/// One branch-free pass that vectorizes: the OR of `v ^ (v >> 127)`, which
/// is `|v|` for `v >= 0` and `|v| - 1` for `v < 0`, so its bit length `k`
/// gives `|v| <= 2^k`, and `k + 1` bounds it strictly (one bit of slack
/// for the speed: `unsigned_abs` in the fold did not vectorize and cost
/// more than the arithmetic it guards).
///
/// The fold runs on the two 64-bit halves of each value, the sign mask
/// taken from the high half: `i128` operations do not vectorize, and the
/// `i128` fold was a tenth of the time of `sum` over a decimal column.
pub fn magnitude_bits(values: &[i128]) -> u32 {
    let (mut hi, mut lo) = (0u64, 0u64);
    for &v in values {
        let h = (v >> 64) as i64;
        let sign = (h >> 63) as u64;
        hi |= h as u64 ^ sign;
        lo |= v as u64 ^ sign;
    }
    let or = (u128::from(hi) << 64) | u128::from(lo);
    129 - or.leading_zeros()
}

/// `l op r` (`+`, `-` or `*`) on two `Decimal128` operands (arrays, or one
/// array and one scalar) with plain wrapping `i128` arithmetic, when the
/// operands' magnitudes prove that no value can overflow; `None` when that
/// is not proven (or the case is not one of these), and the caller runs
/// arrow's checked kernel instead.
///
/// Why by hand: arrow-arith checks every product and sum for overflow
/// (`mul_checked`, a 128-bit multiply with an overflow test per value) and
/// rescales with checked multiplies too, which made TPC-H Q1's decimal
/// arithmetic a third of its time. The proof costs one pass: the bit length
/// of the largest magnitude in each operand (null slots included, so it is
/// conservative) plus that of the rescale factor. A product of magnitudes
/// below `2^a` and `2^b` with `a + b <= 126`, or a sum of two below `2^125`,
/// is below `2^126 < 10^38`: it fits `i128` and every Decimal128 precision
/// up to 38, so a result whose planned precision was capped at 38 needs no
/// per-value check either. `to` must be the planned result type (scale
/// `s1 + s2` for `*`, `max(s1, s2)` for `+ -`).
pub(super) fn exact_arith(
    op: BinaryOp,
    l: &dyn arrow_array::Datum,
    r: &dyn arrow_array::Datum,
    to: &DataType,
) -> Option<arrow_array::ArrayRef> {
    use arrow_array::Decimal128Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Decimal128Type;
    use std::sync::Arc;

    let DataType::Decimal128(p, s) = *to else {
        return None;
    };
    let ((la, l_scalar), (ra, r_scalar)) = (l.get(), r.get());
    let (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) =
        (la.data_type(), ra.data_type())
    else {
        return None;
    };
    // Two scalars were folded at plan time; a null scalar is arrow's case.
    if (l_scalar && (r_scalar || la.is_null(0))) || (r_scalar && ra.is_null(0)) {
        return None;
    }
    if !l_scalar && !r_scalar && la.len() != ra.len() {
        return None;
    }
    let (la, ra) = (
        la.as_primitive::<Decimal128Type>(),
        ra.as_primitive::<Decimal128Type>(),
    );
    // The factor each side is multiplied by to reach the result's scale.
    let factor = |from: i8| -> Option<i128> {
        let up = u32::try_from(i16::from(s) - i16::from(from)).ok()?;
        10i128.checked_pow(up)
    };
    let (fl, fr) = match op {
        BinaryOp::Mul if i16::from(*s1) + i16::from(*s2) == i16::from(s) => (1, 1),
        BinaryOp::Add | BinaryOp::Sub => (factor(*s1)?, factor(*s2)?),
        _ => return None,
    };
    let bits = |a: &Decimal128Array, f: i128| -> u32 {
        magnitude_bits(a.values()) + (128 - f.unsigned_abs().leading_zeros())
    };
    let (lb, rb) = (bits(la, fl), bits(ra, fr));
    // |v * f| < 2^(bits(v) + bits(f)); a factor of 1 counts one bit,
    // which the product's bound allows for (126 + 1 + 1).
    let proven = match op {
        BinaryOp::Mul => lb + rb <= 128,
        _ => lb.max(rb) <= 125,
    };
    if !proven {
        return None;
    }
    let out: Decimal128Array = match (op, l_scalar, r_scalar) {
        (BinaryOp::Mul, false, false) => {
            arrow_arith::arity::binary(la, ra, i128::wrapping_mul).ok()?
        }
        (BinaryOp::Mul, true, _) => {
            let c = la.value(0);
            ra.unary(|v| c.wrapping_mul(v))
        }
        (BinaryOp::Mul, _, true) => {
            let c = ra.value(0);
            la.unary(|v| v.wrapping_mul(c))
        }
        (_, _, _) => {
            let sub = op == BinaryOp::Sub;
            let f = move |a: i128, b: i128| {
                let (a, b) = (a.wrapping_mul(fl), b.wrapping_mul(fr));
                if sub {
                    a.wrapping_sub(b)
                } else {
                    a.wrapping_add(b)
                }
            };
            if l_scalar {
                let c = la.value(0);
                ra.unary(|v| f(c, v))
            } else if r_scalar {
                let c = ra.value(0);
                la.unary(|v| f(v, c))
            } else if fl == 1 && fr == 1 {
                if sub {
                    arrow_arith::arity::binary(la, ra, i128::wrapping_sub).ok()?
                } else {
                    arrow_arith::arity::binary(la, ra, i128::wrapping_add).ok()?
                }
            } else {
                arrow_arith::arity::binary(la, ra, f).ok()?
            }
        }
    };
    Some(Arc::new(out.with_precision_and_scale(p, s).ok()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Decimal128Type;
    use arrow_array::{Array, ArrayRef, Datum, Decimal128Array, Scalar};
    use proptest::prelude::*;
    use std::sync::Arc;

    fn dec(v: Vec<Option<i128>>, p: u8, s: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(p, s)
                .unwrap(),
        )
    }

    /// arrow's checked kernel, the reference.
    fn arrow_op(op: BinaryOp, l: &dyn Datum, r: &dyn Datum) -> Option<Vec<Option<i128>>> {
        let out = match op {
            BinaryOp::Add => arrow_arith::numeric::add(l, r),
            BinaryOp::Sub => arrow_arith::numeric::sub(l, r),
            _ => arrow_arith::numeric::mul(l, r),
        }
        .ok()?;
        Some(out.as_primitive::<Decimal128Type>().iter().collect())
    }

    fn planned(op: BinaryOp, l: &DataType, r: &DataType) -> DataType {
        arith_result(op, l, r).unwrap().0
    }

    fn magnitude() -> impl Strategy<Value = i128> {
        // Magnitudes of 0 to 38 digits, so that both the proven and the
        // unproven (fallback) sides of the bound are reached.
        (0u32..39, any::<i128>()).prop_map(|(d, v)| {
            let m = 10i128.pow(d.min(38)).max(1);
            if d == 38 {
                v.rem_euclid(i128::MAX / 2)
            } else {
                v % m
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Wherever the fast path answers, it answers what arrow's checked
        /// kernel does (values and nulls), for arrays and scalars of any
        /// scales; and where the fast path declines, arrow decides.
        #[test]
        fn exact_arith_matches_arrow(
            a in proptest::collection::vec(proptest::option::weighted(0.9, magnitude()), 1..12),
            b in proptest::collection::vec(proptest::option::weighted(0.9, magnitude()), 12),
            s1 in 0i8..8, s2 in 0i8..8, op in 0u8..3, shape in 0u8..3,
        ) {
            let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul][op as usize];
            let n = a.len();
            let la = dec(a, 38, s1);
            let mut b = b[..n].to_vec();
            if shape > 0 { b[0] = b[0].or(Some(3)); }
            let ra = dec(b, 38, s2);
            let (ls, rs) = (Scalar::new(la.slice(0, 1)), Scalar::new(ra.slice(0, 1)));
            let (l, r): (&dyn Datum, &dyn Datum) = match shape {
                0 => (&la, &ra),
                1 => (&ls, &ra),
                _ => (&la, &rs),
            };
            let to = planned(op, la.data_type(), ra.data_type());
            if let Some(out) = exact_arith(op, l, r, &to) {
                prop_assert_eq!(out.data_type(), &to);
                let got: Vec<Option<i128>> = out.as_primitive::<Decimal128Type>().iter().collect();
                prop_assert_eq!(Some(got.clone()), arrow_op(op, l, r));
                for v in got.into_iter().flatten() {
                    prop_assert!(v.unsigned_abs() < 10u128.pow(38));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn magnitude_bits_bounds_every_value(v in proptest::collection::vec(any::<i128>(), 0..8), d in 0u32..128) {
            let v: Vec<i128> = v.into_iter().map(|x| x >> d).collect();
            let b = magnitude_bits(&v);
            let max = v.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
            prop_assert!(b >= 128 || max < 1u128 << b, "{max} vs 2^{b}");
            // At most two bits of slack.
            prop_assert!(b <= 1 || max >= 1u128 << (b - 2) || max == 0);
        }
    }

    #[test]
    fn exact_arith_declines_what_might_overflow() {
        assert_eq!(magnitude_bits(&[]), 1);
        assert_eq!(magnitude_bits(&[i128::MIN]), 128);
        let big = dec(vec![Some(10i128.pow(20)), None], 38, 0);
        let to = planned(BinaryOp::Mul, big.data_type(), big.data_type());
        assert!(exact_arith(BinaryOp::Mul, &big, &big, &to).is_none());
        let small = dec(vec![Some(10i128.pow(17)), Some(-5)], 18, 2);
        let to = planned(BinaryOp::Mul, small.data_type(), small.data_type());
        let out = exact_arith(BinaryOp::Mul, &small, &small, &to).unwrap();
        let got: Vec<Option<i128>> = out.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(got, vec![Some(10i128.pow(34)), Some(25)]);
        // Division is left to arrow.
        assert!(exact_arith(BinaryOp::Div, &small, &small, &to).is_none());
    }
}
