//! One pass for a tree of decimal `+`, `-` and `*`.
//!
//! Background: evaluated node by node, `sum(l_extendedprice * (1 - l_discount))`
//! materializes every intermediate (`1 - l_discount`, then the product) as a
//! full-chunk `Decimal128` array of 16 bytes a row, and proves each node free
//! of overflow with a pass of its own over its operands
//! ([`decimal::exact_arith`](super::decimal)): four passes over arrays of a
//! chunk's length that do not fit in the cache, for two multiplications a row.
//! That was a third of the time of the decimal revenue sum over TPC-H's
//! lineitem, end to end from Parquet.
//!
//! Design: the tree's internal nodes (decimal `+ - *` whose result keeps the
//! scale arithmetic needs) are flattened in post-order; every other subtree
//! is a leaf, evaluated as usual. The rows are then taken [`BLOCK`] at a time
//! so that a block's intermediates stay in the L1 cache:
//! - a bound on each leaf's magnitudes in the block (`|v| < 2^bits`, null
//!   slots included) is propagated up the tree (a product adds the bits, a
//!   sum takes the larger operand's bits, after its rescale factor, plus one);
//! - when every node's bound is at most 126 bits, every intermediate is below
//!   `2^126 < 10^38`: it fits `i128` and every precision up to 38, so the
//!   block runs with plain wrapping `i128` arithmetic, which cannot wrap;
//! - otherwise the block runs node by node through the checked kernels
//!   (the per-node path of [`eval`](super::eval)), which report an overflow as
//!   an error naming the expression.
//!
//! The result's validity is the intersection of the leaves' (a null operand
//! makes a null result, as in arrow's kernels).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use arrow_array::{Array, Datum, Decimal128Array, RecordBatch, Scalar};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::DataType;
use parframe_common::{Error, Result};

use super::BinaryOp;
use super::decimal::magnitude_bits;
use super::eval::{self, Value};
use super::plan::{ArithFix, Node, Typed};

/// Rows per block: a block's intermediates (16 KiB each) stay in L1.
const BLOCK: usize = 1024;

/// The largest bound (in bits) any node may have for the plain path:
/// `2^126 < 10^38 - 1`, so such a value fits `i128` and 38 digits.
const MAX_BITS: u32 = 126;

/// One step of the post-order program.
enum Step<'t> {
    /// Push leaf `i`.
    Leaf(usize),
    /// Pop the right and the left operand, push `l * fl op r * fr`.
    Op {
        node: &'t Typed,
        op: BinaryOp,
        fl: i128,
        fr: i128,
    },
}

#[derive(Default)]
struct Tree<'t> {
    steps: Vec<Step<'t>>,
    leaves: Vec<&'t Typed>,
}

/// The parts of an internal node: a decimal `+ - *` on two `Decimal128`
/// operands, with the factors that bring each operand to the result's scale.
fn internal(t: &Typed) -> Option<(BinaryOp, i128, i128, &Typed, &Typed)> {
    let Node::Arith {
        left,
        op,
        right,
        fix: ArithFix::Decimal { .. },
        ..
    } = &t.node
    else {
        return None;
    };
    let (DataType::Decimal128(_, s), DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) =
        (&t.data_type, &left.data_type, &right.data_type)
    else {
        return None;
    };
    let factor = |from: i8| -> Option<i128> {
        let up = u32::try_from(i16::from(*s) - i16::from(from)).ok()?;
        10i128.checked_pow(up)
    };
    let (fl, fr) = match op {
        BinaryOp::Mul if i16::from(*s1) + i16::from(*s2) == i16::from(*s) => (1, 1),
        BinaryOp::Add | BinaryOp::Sub => (factor(*s1)?, factor(*s2)?),
        _ => return None,
    };
    Some((*op, fl, fr, left, right))
}

impl<'t> Tree<'t> {
    // Recurses once per level of the tree; the stack grows on demand.
    #[recursive::recursive]
    fn walk(&mut self, t: &'t Typed) {
        match internal(t) {
            Some((op, fl, fr, left, right)) => {
                self.walk(left);
                self.walk(right);
                self.steps.push(Step::Op {
                    node: t,
                    op,
                    fl,
                    fr,
                });
            }
            None => {
                self.steps.push(Step::Leaf(self.leaves.len()));
                self.leaves.push(t);
            }
        }
    }
}

/// A leaf's values: a column, or one value for every row.
enum Leaf<'a> {
    Array(&'a [i128]),
    Const(i128),
}

/// An operand during a block: a leaf's slice, a constant, or a computed
/// intermediate.
enum Src<'a> {
    Slice(&'a [i128]),
    Const(i128),
    Owned(Vec<i128>),
}

impl Src<'_> {
    fn slice(&self) -> Option<&[i128]> {
        match self {
            Src::Slice(v) => Some(v),
            Src::Owned(v) => Some(v),
            Src::Const(_) => None,
        }
    }

    fn constant(&self) -> i128 {
        match self {
            Src::Const(c) => *c,
            _ => 0,
        }
    }
}

/// Evaluates `t` in one pass when it is a tree of decimal `+ - *`;
/// `Ok(None)` when it is not (the caller evaluates it node by node).
pub(super) fn eval(t: &Typed, batch: &RecordBatch) -> Result<Option<Value>> {
    let DataType::Decimal128(p, s) = t.data_type else {
        return Ok(None);
    };
    if internal(t).is_none() {
        return Ok(None);
    }
    let mut tree = Tree::default();
    tree.walk(t);
    let values = tree
        .leaves
        .iter()
        .map(|l| eval::eval(l, batch))
        .collect::<Result<Vec<_>>>()?;
    let rows = batch.num_rows();
    let mut leaves = Vec::with_capacity(values.len());
    let mut nulls: Option<NullBuffer> = None;
    let mut arrays = 0;
    for v in &values {
        let one = match v {
            Value::Array(a) => a,
            Value::Scalar(c) => c.get().0,
        };
        let Some(d) = one.as_primitive_opt::<Decimal128Type>() else {
            // Not what the plan promised: the checked path says so.
            return per_node(&tree, &values, 0, rows).map(Some);
        };
        match v {
            Value::Array(_) if d.len() != rows => {
                return Err(Error::InvalidArgument(format!(
                    "internal: an operand of {} rows in a chunk of {rows}",
                    d.len()
                )));
            }
            Value::Array(_) => {
                nulls = NullBuffer::union(nulls.as_ref(), d.nulls());
                leaves.push(Leaf::Array(d.values()));
                arrays += 1;
            }
            Value::Scalar(_) if d.len() == 1 && d.is_valid(0) => {
                leaves.push(Leaf::Const(d.value(0)));
            }
            // A null constant (folded when planned): node by node.
            Value::Scalar(_) => return per_node(&tree, &values, 0, rows).map(Some),
        }
    }
    if arrays == 0 {
        // Constants only (folded when planned): nothing to gain.
        return per_node(&tree, &values, 0, rows).map(Some);
    }
    let mut out: Vec<i128> = Vec::with_capacity(rows);
    let mut stack: Vec<Src> = Vec::new();
    let mut bits: Vec<u32> = Vec::new();
    let mut free: Vec<Vec<i128>> = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = BLOCK.min(rows - start);
        let end = start + n;
        if !proven(&tree, &leaves, start, end, &mut bits) {
            let v = per_node(&tree, &values, start, n)?.into_array(n)?;
            let d = v.as_primitive_opt::<Decimal128Type>().ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "internal: a decimal tree gave {}, expected {}",
                    v.data_type(),
                    t.data_type
                ))
            })?;
            out.extend_from_slice(d.values());
            start = end;
            continue;
        }
        let last = tree.steps.len() - 1;
        for (k, step) in tree.steps.iter().enumerate() {
            match *step {
                Step::Leaf(i) => stack.push(match leaves[i] {
                    Leaf::Array(v) => Src::Slice(&v[start..end]),
                    Leaf::Const(c) => Src::Const(c),
                }),
                Step::Op { op, fl, fr, .. } => {
                    let (Some(r), Some(l)) = (stack.pop(), stack.pop()) else {
                        return Err(Error::InvalidArgument(
                            "internal: a decimal tree's program is malformed".into(),
                        ));
                    };
                    if k == last {
                        combine(op, fl, fr, &l, &r, n, &mut out);
                    } else {
                        let mut dst = free.pop().unwrap_or_default();
                        dst.clear();
                        combine(op, fl, fr, &l, &r, n, &mut dst);
                        stack.push(Src::Owned(dst));
                    }
                    for s in [l, r] {
                        if let Src::Owned(v) = s {
                            free.push(v);
                        }
                    }
                }
            }
        }
        start = end;
    }
    let a = Decimal128Array::new(ScalarBuffer::from(out), nulls).with_precision_and_scale(p, s)?;
    Ok(Some(Value::Array(Arc::new(a))))
}

/// Whether every node's bound over rows `start..end` is at most
/// [`MAX_BITS`] (see the module docs).
fn proven(tree: &Tree, leaves: &[Leaf], start: usize, end: usize, bits: &mut Vec<u32>) -> bool {
    // The bits of a rescale factor: `|v * f| < 2^(b + factor_bits(f))`.
    let factor_bits = |f: i128| {
        if f == 1 {
            0
        } else {
            128 - f.unsigned_abs().leading_zeros()
        }
    };
    bits.clear();
    for step in &tree.steps {
        match *step {
            Step::Leaf(i) => bits.push(match leaves[i] {
                Leaf::Array(v) => magnitude_bits(&v[start..end]),
                Leaf::Const(c) => magnitude_bits(&[c]),
            }),
            Step::Op { op, fl, fr, .. } => {
                let (Some(br), Some(bl)) = (bits.pop(), bits.pop()) else {
                    return false;
                };
                let b = if op == BinaryOp::Mul {
                    bl + br
                } else {
                    (bl + factor_bits(fl)).max(br + factor_bits(fr)) + 1
                };
                if b > MAX_BITS {
                    return false;
                }
                bits.push(b);
            }
        }
    }
    true
}

/// `l * fl op r * fr` over a block of `n` rows, appended to `dst`, with
/// wrapping arithmetic (the caller proved that nothing wraps).
fn combine(op: BinaryOp, fl: i128, fr: i128, l: &Src, r: &Src, n: usize, dst: &mut Vec<i128>) {
    match op {
        BinaryOp::Mul => apply(l, r, n, dst, i128::wrapping_mul),
        BinaryOp::Add if fl == 1 && fr == 1 => apply(l, r, n, dst, i128::wrapping_add),
        BinaryOp::Sub if fl == 1 && fr == 1 => apply(l, r, n, dst, i128::wrapping_sub),
        BinaryOp::Add => apply(l, r, n, dst, move |a, b| {
            a.wrapping_mul(fl).wrapping_add(b.wrapping_mul(fr))
        }),
        _ => apply(l, r, n, dst, move |a, b| {
            a.wrapping_mul(fl).wrapping_sub(b.wrapping_mul(fr))
        }),
    }
}

#[inline(always)]
fn apply(l: &Src, r: &Src, n: usize, dst: &mut Vec<i128>, f: impl Fn(i128, i128) -> i128) {
    match (l.slice(), r.slice()) {
        (Some(a), Some(b)) => dst.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y))),
        (Some(a), None) => {
            let c = r.constant();
            dst.extend(a.iter().map(|&x| f(x, c)));
        }
        (None, Some(b)) => {
            let c = l.constant();
            dst.extend(b.iter().map(|&y| f(c, y)));
        }
        (None, None) => dst.extend(std::iter::repeat_n(f(l.constant(), r.constant()), n)),
    }
}

/// Rows `start..start + n` of the tree node by node through the per-node
/// path (checked kernels), from the leaves' values.
fn per_node(tree: &Tree, values: &[Value], start: usize, n: usize) -> Result<Value> {
    let mut stack: Vec<Value> = Vec::new();
    for step in &tree.steps {
        match step {
            Step::Leaf(i) => {
                let v = values.get(*i).ok_or_else(malformed)?;
                stack.push(match v {
                    Value::Array(a) => Value::Array(a.slice(start, n)),
                    Value::Scalar(c) => Value::Scalar(Scalar::new(c.get().0.slice(0, 1))),
                });
            }
            Step::Op { node, .. } => {
                let (Some(r), Some(l)) = (stack.pop(), stack.pop()) else {
                    return Err(malformed());
                };
                stack.push(eval::arith(node, l, r)?);
            }
        }
    }
    stack.pop().ok_or_else(malformed)
}

fn malformed() -> Error {
    Error::InvalidArgument("internal: a decimal tree's program is malformed".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::expr::{Expr, ScalarValue, col, lit};
    use arrow_array::ArrayRef;
    use arrow_schema::{Field, Schema};
    use proptest::prelude::*;

    /// A tree of `+ - *` over the columns `c0..c2` and decimal literals.
    #[derive(Debug, Clone)]
    enum T {
        Col(usize),
        Lit(i128, u8, i8),
        Bin(BinaryOp, Box<T>, Box<T>),
    }

    fn tree() -> impl Strategy<Value = T> {
        let leaf = prop_oneof![
            3 => (0usize..3).prop_map(T::Col),
            1 => (-1000i128..1000, 0i8..3).prop_map(|(v, s)| T::Lit(v, 5, s)),
        ];
        leaf.prop_recursive(3, 8, 2, |inner| {
            (
                prop::sample::select(vec![BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul]),
                inner.clone(),
                inner,
            )
                .prop_map(|(op, l, r)| T::Bin(op, Box::new(l), Box::new(r)))
        })
    }

    fn expr(t: &T) -> Expr {
        match t {
            T::Col(i) => col(format!("c{i}").as_str()),
            T::Lit(v, p, s) => lit(ScalarValue::Decimal128(*v, *p, *s)),
            T::Bin(op, l, r) => {
                let (l, r) = (expr(l), expr(r));
                match op {
                    BinaryOp::Add => l + r,
                    BinaryOp::Sub => l - r,
                    _ => l * r,
                }
            }
        }
    }

    /// Row `i` of `t` with checked `i128` arithmetic at each node's scale:
    /// `None` for null, `Err` where a valid row's value overflows `i128`
    /// or 38 digits at some node.
    fn naive(t: &T, i: usize, cols: &[(Vec<Option<i128>>, i8)]) -> Result<Option<(i128, i8)>, ()> {
        const MAX: i128 = 10i128.pow(38) - 1;
        let (v, s) = match t {
            T::Col(c) => return Ok(cols[*c].0[i].map(|v| (v, cols[*c].1))),
            T::Lit(v, _, s) => return Ok(Some((*v, *s))),
            T::Bin(op, l, r) => {
                let (l, r) = (naive(l, i, cols)?, naive(r, i, cols)?);
                let (Some((a, sa)), Some((b, sb))) = (l, r) else {
                    return Ok(None);
                };
                match op {
                    BinaryOp::Mul => (a.checked_mul(b).ok_or(())?, sa + sb),
                    _ => {
                        let s = sa.max(sb);
                        let a = a.checked_mul(10i128.pow((s - sa) as u32)).ok_or(())?;
                        let b = b.checked_mul(10i128.pow((s - sb) as u32)).ok_or(())?;
                        let v = if *op == BinaryOp::Add {
                            a.checked_add(b)
                        } else {
                            a.checked_sub(b)
                        };
                        (v.ok_or(())?, s)
                    }
                }
            }
        };
        if v.abs() > MAX {
            Err(())
        } else {
            Ok(Some((v, s)))
        }
    }

    /// A column of `rows` values below `10^p`, some small and some near
    /// the limit (so blocks of both paths occur), every 8th null.
    fn column(rows: usize, p: u8, seed: u64) -> Vec<Option<i128>> {
        let mut x = seed | 1;
        let mut next = move || {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        (0..rows)
            .map(|i| {
                let r = next();
                // The same magnitude for a run of 700 rows: whole blocks
                // of small values and whole blocks of large ones.
                let digits = if (i / 700) % 3 == 2 { p } else { (p).min(6) };
                let m = 10i128.pow(u32::from(digits));
                let v = (i128::from(r) << 64 | i128::from(next())) % m;
                (r % 8 != 0).then_some(v)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The one-pass tree against checked `i128` arithmetic row by row:
        /// the same values and nulls, and an error exactly when a valid
        /// row overflows; over several blocks, with columns of up to 38
        /// digits (blocks of small values take the plain path, others the
        /// checked one).
        #[test]
        fn tree_matches_checked_i128(
            t in tree(),
            types in prop::collection::vec((1u8..=38, 0i8..3), 3),
            rows in 0usize..2600,
            seed in any::<u64>(),
        ) {
            let cols: Vec<(Vec<Option<i128>>, i8)> = types
                .iter()
                .enumerate()
                .map(|(k, &(p, s))| (column(rows, p, seed.wrapping_add(k as u64)), s.min(p as i8)))
                .collect();
            let arrays: Vec<ArrayRef> = cols
                .iter()
                .zip(&types)
                .map(|((v, s), &(p, _))| {
                    Arc::new(Decimal128Array::from(v.clone()).with_precision_and_scale(p, *s).unwrap())
                        as ArrayRef
                })
                .collect();
            let fields: Vec<Field> = arrays
                .iter()
                .enumerate()
                .map(|(k, a)| Field::new(format!("c{k}"), a.data_type().clone(), true))
                .collect();
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
            let e = expr(&t);
            let Ok(prepared) = e.prepare(batch.schema_ref()) else {
                // A scale the planner refuses: nothing to evaluate.
                return Ok(());
            };
            let DataType::Decimal128(_, scale) = *prepared.field().data_type() else {
                return Ok(());
            };
            let want: Result<Vec<Option<i128>>, ()> = (0..rows)
                .map(|i| naive(&t, i, &cols).map(|v| v.map(|(v, s)| {
                    v * 10i128.pow((scale - s) as u32)
                })))
                .collect();
            let got = prepared.evaluate(&batch);
            match want {
                Err(()) => prop_assert!(got.is_err(), "expected an overflow error"),
                Ok(want) => {
                    let got = got.unwrap();
                    let got: Vec<Option<i128>> = got.as_primitive::<Decimal128Type>().iter().collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }

    #[test]
    fn long_chains_use_the_heap_not_the_stack() {
        let n = 4000;
        let a = Arc::new(
            Decimal128Array::from(vec![Some(1i128), None, Some(3)])
                .with_precision_and_scale(10, 0)
                .unwrap(),
        ) as ArrayRef;
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "c0",
                a.data_type().clone(),
                true,
            )])),
            vec![a],
        )
        .unwrap();
        let mut e = col("c0");
        for _ in 0..n {
            e = e + col("c0");
        }
        let out = e.evaluate(&batch).unwrap();
        let out: Vec<Option<i128>> = out.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(
            out,
            vec![Some(n as i128 + 1), None, Some(3 * (n as i128 + 1))]
        );
    }
}
