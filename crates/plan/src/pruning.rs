//! Partition pruning: which partitions of a source may hold a row that a
//! scan's filters keep, decided from per-partition statistics (the min,
//! max and null count of a column in each Parquet row group) without
//! reading the data.
//!
//! The rules are conservative: a partition is skipped only when its
//! statistics prove that no row in it can make the filters true; anything
//! not understood keeps every partition. For each conjunct:
//!
//! | filter | a partition may match when |
//! |---|---|
//! | `c < v` / `c <= v` | `min < v` / `min <= v` |
//! | `c > v` / `c >= v` | `max > v` / `max >= v` |
//! | `c = v` | `min <= v <= max` |
//! | `c != v` | not `min = max = v` (not for strings: their bounds may be truncated) |
//! | `c IN (v1, v2, ...)` | `c = vi` may match for some literal (a null literal never does) |
//! | `c NOT IN (v1, v2, ...)` | `c != vi` may match for every literal (none is null) |
//! | `c IS NULL` / `c IS NOT NULL` | some nulls / fewer nulls than rows |
//! | `a AND b`, `a OR b` | both / either may match |
//! | a literal `false` or null | never |
//!
//! `v` is a literal (either side of the comparison), converted to the
//! column's type only when that conversion is exact (`c < 2.5` on an
//! integer column is not pruned: `2.5` is not an integer). Unknown
//! statistics (a null min or max) keep the partition. Floating-point
//! columns are never pruned: writers differ on whether NaN and `-0.0`
//! take part in their min/max.
//!
//! ```
//! use std::sync::Arc;
//! use parframe_core::arrow::array::{ArrayRef, Int64Array};
//! use parframe_core::{PartitionColumnStatistics, col, lit};
//! use parframe_plan::pruning::prune;
//!
//! // Three partitions holding 0..=9, 10..=19 and 20..=29.
//! let stats = PartitionColumnStatistics {
//!     mins: Arc::new(Int64Array::from(vec![0, 10, 20])) as ArrayRef,
//!     maxes: Arc::new(Int64Array::from(vec![9, 19, 29])) as ArrayRef,
//!     null_counts: vec![Some(0); 3],
//!     row_counts: vec![Some(10); 3],
//! };
//! let keep = prune(&[col("x").gt_eq(lit(15i64))], 3, &|c: &str| {
//!     (c == "x").then(|| stats.clone())
//! });
//! assert_eq!(keep, vec![false, true, true]);
//! ```
//!
//! # How to add a rule
//! Add an arm to `eval` returning, per partition, whether it may hold a
//! matching row (`None` when the expression is not understood), and a case
//! to the property test below, which checks every rule against the rows
//! themselves.

use std::collections::HashMap;

use arrow_array::{Array, ArrayRef, BooleanArray, Scalar};
use arrow_cast::{CastOptions, cast_with_options};
use arrow_ord::cmp;
use arrow_schema::{ArrowError, DataType};
use parframe_core::expr::BinaryOp;
use parframe_core::{Expr, PartitionColumnStatistics, ScalarValue};

/// The longest `IN` list pruned: each literal is compared with every
/// partition's bounds, so a longer list (a rewritten subquery's keys, say)
/// would cost more planning than it is likely to save.
const MAX_IN_LIST: usize = 256;

/// Per partition: may it hold a row for which every filter is true?
/// `stats` gives a column's statistics (`None`: unknown, which keeps every
/// partition for the conjuncts that need it). The result has `partitions`
/// entries; statistics of another length are ignored.
pub fn prune(
    filters: &[Expr],
    partitions: usize,
    stats: &dyn Fn(&str) -> Option<PartitionColumnStatistics>,
) -> Vec<bool> {
    let mut pruner = Pruner {
        n: partitions,
        stats,
        cache: HashMap::new(),
    };
    let mut keep = vec![true; partitions];
    for f in filters {
        if let Some(k) = pruner.eval(f) {
            for (a, b) in keep.iter_mut().zip(k) {
                *a &= b;
            }
        }
    }
    keep
}

struct Pruner<'a> {
    n: usize,
    stats: &'a dyn Fn(&str) -> Option<PartitionColumnStatistics>,
    cache: HashMap<String, Option<PartitionColumnStatistics>>,
}

impl Pruner<'_> {
    fn column(&mut self, name: &str) -> Option<PartitionColumnStatistics> {
        if !self.cache.contains_key(name) {
            let s = (self.stats)(name).filter(|s| {
                s.mins.len() == self.n
                    && s.maxes.len() == self.n
                    && s.null_counts.len() == self.n
                    && s.row_counts.len() == self.n
                    && s.mins.data_type() == s.maxes.data_type()
            });
            self.cache.insert(name.to_string(), s);
        }
        self.cache.get(name).cloned().flatten()
    }

    /// Per partition, whether it may hold a row making `e` true; `None`
    /// when `e` is not understood (every partition may).
    #[recursive::recursive]
    fn eval(&mut self, e: &Expr) -> Option<Vec<bool>> {
        match e {
            Expr::Alias { expr, .. } => self.eval(expr),
            Expr::Literal(ScalarValue::Boolean(false) | ScalarValue::Null) => {
                Some(vec![false; self.n])
            }
            Expr::Binary {
                left,
                op: BinaryOp::And,
                right,
            } => match (self.eval(left), self.eval(right)) {
                (Some(a), Some(b)) => Some(a.iter().zip(&b).map(|(x, y)| *x && *y).collect()),
                (Some(a), None) | (None, Some(a)) => Some(a),
                (None, None) => None,
            },
            Expr::Binary {
                left,
                op: BinaryOp::Or,
                right,
            } => {
                let a = self.eval(left)?;
                let b = self.eval(right)?;
                Some(a.iter().zip(&b).map(|(x, y)| *x || *y).collect())
            }
            Expr::Binary { left, op, right } => match (left.as_ref(), right.as_ref()) {
                (Expr::Column(c), Expr::Literal(v)) => self.compare(c, *op, v),
                (Expr::Literal(v), Expr::Column(c)) => self.compare(c, flip(*op)?, v),
                _ => None,
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let Expr::Column(c) = expr.as_ref() else {
                    return None;
                };
                if list.len() > MAX_IN_LIST {
                    return None;
                }
                // `IN` is the OR of `c = vi`, `NOT IN` the AND of `c != vi`;
                // `compare` rules every partition out for a null literal,
                // which is right for both (`c = NULL` is never true, and
                // `NOT IN` with a null never is either).
                let (op, mut may) = if *negated {
                    (BinaryOp::NotEq, vec![true; self.n])
                } else {
                    (BinaryOp::Eq, vec![false; self.n])
                };
                for v in list {
                    let k = self.compare(c, op, v)?;
                    for (a, b) in may.iter_mut().zip(k) {
                        *a = if *negated { *a && b } else { *a || b };
                    }
                }
                Some(may)
            }
            Expr::IsNull(inner) => {
                let Expr::Column(c) = inner.as_ref() else {
                    return None;
                };
                let s = self.column(c)?;
                Some(s.null_counts.iter().map(|n| n != &Some(0)).collect())
            }
            Expr::IsNotNull(inner) => {
                let Expr::Column(c) = inner.as_ref() else {
                    return None;
                };
                let s = self.column(c)?;
                Some(
                    s.null_counts
                        .iter()
                        .zip(&s.row_counts)
                        .map(|(n, r)| match (n, r) {
                            (Some(n), Some(r)) => n < r,
                            _ => true,
                        })
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// `column op value`.
    fn compare(&mut self, column: &str, op: BinaryOp, value: &ScalarValue) -> Option<Vec<bool>> {
        if !matches!(
            op,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        ) {
            return None;
        }
        if value.is_null() {
            // A comparison with null is null on every row: no row passes.
            return Some(vec![false; self.n]);
        }
        let s = self.column(column)?;
        let t = s.mins.data_type().clone();
        if t.is_floating() {
            return None;
        }
        let v = exact_cast(value, &t)?;
        let v = Scalar::new(v);
        let (mins, maxes) = (&s.mins, &s.maxes);
        let may = match op {
            BinaryOp::Lt => unknown_is_true(cmp::lt(mins, &v)),
            BinaryOp::LtEq => unknown_is_true(cmp::lt_eq(mins, &v)),
            BinaryOp::Gt => unknown_is_true(cmp::gt(maxes, &v)),
            BinaryOp::GtEq => unknown_is_true(cmp::gt_eq(maxes, &v)),
            BinaryOp::Eq => {
                let lo = unknown_is_true(cmp::lt_eq(mins, &v))?;
                let hi = unknown_is_true(cmp::gt_eq(maxes, &v))?;
                Some(lo.iter().zip(&hi).map(|(a, b)| *a && *b).collect())
            }
            BinaryOp::NotEq => {
                if matches!(
                    t,
                    DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Binary
                        | DataType::LargeBinary
                        | DataType::BinaryView
                ) {
                    return None;
                }
                // Only "every value equals v" rules a partition out; an
                // unknown bound must not (so it counts as "not equal").
                let lo = unknown_is_false(cmp::eq(mins, &v))?;
                let hi = unknown_is_false(cmp::eq(maxes, &v))?;
                Some(lo.iter().zip(&hi).map(|(a, b)| !(*a && *b)).collect())
            }
            _ => None,
        }?;
        Some(may)
    }
}

/// `a op b` as `b op' a`.
fn flip(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Eq => BinaryOp::Eq,
        BinaryOp::NotEq => BinaryOp::NotEq,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        _ => return None,
    })
}

/// `value` as a one-element array of type `t`, when the conversion loses
/// nothing (it converts back to the same value).
fn exact_cast(value: &ScalarValue, t: &DataType) -> Option<ArrayRef> {
    let a = value.to_array(1);
    if a.data_type() == t {
        return Some(a);
    }
    let opts = CastOptions {
        safe: true,
        ..Default::default()
    };
    let c = cast_with_options(&a, t, &opts).ok()?;
    if c.null_count() > 0 {
        return None;
    }
    let back = cast_with_options(&c, a.data_type(), &opts).ok()?;
    let same = ScalarValue::try_from_array(back.as_ref(), 0).ok()? == *value;
    same.then_some(c)
}

fn unknown_is_true(r: Result<BooleanArray, ArrowError>) -> Option<Vec<bool>> {
    let r = r.ok()?;
    Some((0..r.len()).map(|i| r.is_null(i) || r.value(i)).collect())
}

fn unknown_is_false(r: Result<BooleanArray, ArrowError>) -> Option<Vec<bool>> {
    let r = r.ok()?;
    Some((0..r.len()).map(|i| r.is_valid(i) && r.value(i)).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, RecordBatch, StringArray};
    use arrow_schema::{Field, Schema};
    use parframe_core::{col, lit};
    use proptest::prelude::*;

    use super::*;

    /// Exact statistics of `parts`, each a list of optional values.
    fn int_stats(parts: &[Vec<Option<i64>>]) -> PartitionColumnStatistics {
        let mins: Vec<Option<i64>> = parts
            .iter()
            .map(|p| p.iter().flatten().min().copied())
            .collect();
        let maxes: Vec<Option<i64>> = parts
            .iter()
            .map(|p| p.iter().flatten().max().copied())
            .collect();
        PartitionColumnStatistics {
            mins: Arc::new(Int64Array::from(mins)),
            maxes: Arc::new(Int64Array::from(maxes)),
            null_counts: parts
                .iter()
                .map(|p| Some(p.iter().filter(|v| v.is_none()).count() as u64))
                .collect(),
            row_counts: parts.iter().map(|p| Some(p.len() as u64)).collect(),
        }
    }

    fn keep_int(parts: &[Vec<Option<i64>>], f: Expr) -> Vec<bool> {
        let s = int_stats(parts);
        prune(&[f], parts.len(), &|c: &str| (c == "x").then(|| s.clone()))
    }

    #[test]
    fn ranges_prune_partitions() {
        let parts = vec![
            vec![Some(0), Some(9)],
            vec![Some(10), Some(19), None],
            vec![Some(20), Some(29)],
        ];
        assert_eq!(
            keep_int(&parts, col("x").lt(lit(10i64))),
            [true, false, false]
        );
        assert_eq!(
            keep_int(&parts, col("x").lt_eq(lit(10i64))),
            [true, true, false]
        );
        assert_eq!(
            keep_int(&parts, col("x").gt(lit(19i64))),
            [false, false, true]
        );
        assert_eq!(
            keep_int(&parts, lit(19i64).lt(col("x"))),
            [false, false, true]
        );
        assert_eq!(
            keep_int(&parts, col("x").eq(lit(15i64))),
            [false, true, false]
        );
        assert_eq!(keep_int(&parts, col("x").is_null()), [false, true, false]);
        assert_eq!(
            keep_int(&parts, col("x").lt(lit(5i64)).or(col("x").gt(lit(25i64)))),
            [true, false, true]
        );
        assert_eq!(
            keep_int(&parts, col("x").gt(lit(5i64)).and(col("x").lt(lit(12i64)))),
            [true, true, false]
        );
        // An Int32 literal meets an Int64 column exactly.
        assert_eq!(
            keep_int(&parts, col("x").gt(lit(19i32))),
            [false, false, true]
        );
    }

    #[test]
    fn what_is_not_understood_keeps_everything() {
        let parts = vec![vec![Some(0)], vec![Some(10)]];
        // 2.5 is no Int64: no pruning rather than a wrong one.
        assert_eq!(keep_int(&parts, col("x").gt(lit(2.5f64))), [true, true]);
        // An expression of the column.
        assert_eq!(
            keep_int(&parts, (col("x") + lit(1i64)).gt(lit(100i64))),
            [true, true]
        );
        // An unknown column.
        assert_eq!(keep_int(&parts, col("y").gt(lit(100i64))), [true, true]);
        // OR with an unknown side.
        assert_eq!(
            keep_int(&parts, col("x").gt(lit(100i64)).or(col("y").gt(lit(1i64)))),
            [true, true]
        );
        // Statistics of the wrong length are ignored.
        let s = int_stats(&parts);
        assert_eq!(
            prune(&[col("x").gt(lit(100i64))], 3, &|_: &str| Some(s.clone())),
            [true, true, true]
        );
    }

    #[test]
    fn unknown_bounds_keep_the_partition() {
        let s = PartitionColumnStatistics {
            mins: Arc::new(Int64Array::from(vec![None, Some(0)])),
            maxes: Arc::new(Int64Array::from(vec![None, Some(5)])),
            null_counts: vec![None, None],
            row_counts: vec![None, None],
        };
        let keep = |f: Expr| prune(&[f], 2, &|_: &str| Some(s.clone()));
        assert_eq!(keep(col("x").gt(lit(10i64))), [true, false]);
        assert_eq!(keep(col("x").not_eq(lit(0i64))), [true, true]);
        assert_eq!(keep(col("x").is_null()), [true, true]);
    }

    #[test]
    fn strings_compare_bytewise_and_not_eq_is_not_pruned() {
        let s = PartitionColumnStatistics {
            mins: Arc::new(StringArray::from(vec!["apple", "kiwi"])),
            maxes: Arc::new(StringArray::from(vec!["fig", "kiwi"])),
            null_counts: vec![Some(0); 2],
            row_counts: vec![Some(3); 2],
        };
        let keep = |f: Expr| prune(&[f], 2, &|_: &str| Some(s.clone()));
        assert_eq!(keep(col("s").eq(lit("banana"))), [true, false]);
        assert_eq!(keep(col("s").gt_eq(lit("g"))), [false, true]);
        assert_eq!(keep(col("s").not_eq(lit("kiwi"))), [true, true]);
    }

    #[test]
    fn in_lists_prune_partitions() {
        // Hive partition values: min = max, one partition per value.
        let s = PartitionColumnStatistics {
            mins: Arc::new(StringArray::from(vec!["AIR", "MAIL", "SHIP"])),
            maxes: Arc::new(StringArray::from(vec!["AIR", "MAIL", "SHIP"])),
            null_counts: vec![Some(0); 3],
            row_counts: vec![None; 3],
        };
        let keep = |f: Expr| prune(&[f], 3, &|_: &str| Some(s.clone()));
        assert_eq!(keep(col("m").is_in(["AIR", "SHIP"])), [true, false, true]);
        assert_eq!(keep(col("m").is_in(["RAIL"])), [false, false, false]);
        // Not for strings (truncated bounds), as `!=`.
        assert_eq!(keep(col("m").is_not_in(["AIR"])), [true, true, true]);

        // (The all-null partition's bounds are unknown: it is kept but by
        // a null literal.)
        let parts = vec![vec![Some(1), Some(3)], vec![Some(5)], vec![None]];
        assert_eq!(
            keep_int(&parts, col("x").is_in([2i64, 7])),
            [true, false, true]
        );
        assert_eq!(
            keep_int(&parts, col("x").is_not_in([5i64])),
            [true, false, true]
        );
        let empty: [i64; 0] = [];
        assert_eq!(
            keep_int(&parts, col("x").is_in(empty)),
            [false, false, false]
        );
        // A null in the list: `IN` may still match the others, `NOT IN`
        // never matches.
        let with_null = [ScalarValue::Int64(5), ScalarValue::Null];
        assert_eq!(
            keep_int(&parts, col("x").is_in(with_null.clone())),
            [false, true, true]
        );
        assert_eq!(
            keep_int(&parts, col("x").is_not_in(with_null)),
            [false, false, false]
        );
    }

    #[test]
    fn false_and_null_filters_keep_nothing() {
        let parts = vec![vec![Some(1)]];
        assert_eq!(keep_int(&parts, lit(false)), [false]);
        assert_eq!(
            keep_int(&parts, col("x").eq(lit(ScalarValue::Null))),
            [false]
        );
    }

    fn pred() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            1 => (0..6usize, -3i64..25).prop_map(|(op, v)| {
                let (c, l) = (col("x"), lit(v));
                match op {
                    0 => c.lt(l),
                    1 => c.lt_eq(l),
                    2 => c.gt(l),
                    3 => c.gt_eq(l),
                    4 => c.eq(l),
                    _ => c.not_eq(l),
                }
            }),
            1 => (0..6usize, -3i64..25).prop_map(|(op, v)| {
                let (c, l) = (col("x"), lit(v));
                match op {
                    0 => l.lt(c),
                    1 => l.lt_eq(c),
                    2 => l.gt(c),
                    3 => l.gt_eq(c),
                    4 => l.eq(c),
                    _ => l.not_eq(c),
                }
            }),
            1 => Just(col("x").is_null()),
            1 => Just(col("x").is_not_null()),
            // Lists of the values the partitions hold, often enough that
            // a literal matches a row.
            3 => (
                prop::collection::vec(prop::option::weighted(0.9, 0i64..22), 0..7),
                any::<bool>(),
            )
                .prop_map(|(vs, negated)| Expr::InList {
                    expr: Box::new(col("x")),
                    list: vs
                        .into_iter()
                        .map(|v| v.map_or(ScalarValue::Null, ScalarValue::Int64))
                        .collect(),
                    negated,
                }),
        ];
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| a.and(b)),
                (inner.clone(), inner).prop_map(|(a, b)| a.or(b)),
            ]
        })
    }

    proptest! {
        /// A pruned partition never holds a row the filter keeps (checked
        /// by evaluating the filter on the rows themselves).
        #[test]
        fn pruning_never_drops_a_matching_row(
            parts in prop::collection::vec(
                prop::collection::vec(prop::option::weighted(0.85, 0i64..22), 1..6), 1..6),
            f in pred(),
        ) {
            let keep = keep_int(&parts, f.clone());
            let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
            let prepared = f.prepare(&schema).unwrap();
            for (i, p) in parts.iter().enumerate() {
                let b = RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(Int64Array::from(p.clone()))],
                ).unwrap();
                let out = prepared.evaluate(&b).unwrap();
                let out = out.as_any().downcast_ref::<BooleanArray>().unwrap();
                let any = (0..out.len()).any(|r| out.is_valid(r) && out.value(r));
                prop_assert!(keep[i] || !any, "partition {} {:?} pruned by {:?}", i, p, f);
            }
        }
    }
}
