//! As-of joins ([`LazyFrame::join_asof`], polars' `join_asof`): each left
//! row takes the right row with the nearest key before it (or after it, or
//! either), optionally within the same `by` groups and a tolerance.
//!
//! No operator of its own: the plan is built from existing ones.
//! 1. The left rows (numbered by `with_row_index`, all their columns) and
//!    the right rows (numbered, only their `by` and key values; rows with
//!    a null key dropped, as they never match) are stacked with `union`
//!    into one frame with a side marker.
//! 2. A window partitioned by the `by` keys and ordered by (key, side)
//!    carries the last right row number and key seen so far to every
//!    left row (`last_value(..) IGNORE NULLS` over a running frame;
//!    `forward` uses `first_value` over the rows after; `nearest` both).
//!    The side breaks ties so that an equal key matches (`<=` / `>=`).
//! 3. The left rows keep the match within the tolerance, then a left hash
//!    join on the right row number brings the right columns, and a sort on
//!    the left row number gives the left frame's order back.
//!
//! The right frame is therefore read twice (its keys, then the matched
//! rows), and its row numbers must agree between the two reads: a file, a
//! table, a sort and the row-wise verbs over them produce their rows in a
//! fixed order; `cache()` a right frame whose order is not fixed (the
//! output of a hash `group_by`) first. Everything runs under the memory
//! budget (the window and the sort spill).

use arrow_schema::DataType;
use parframe_common::{Error, Result, column_not_found};
use parframe_core::{Expr, ScalarValue, col, lit, when};

use crate::window::{FrameBound, Window, WindowFrame, first_value, last_value};
use crate::{JoinType, LazyFrame, SortKey};

/// Which right row an as-of join takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AsofStrategy {
    /// The last right row whose key is `<=` the left key (polars' default).
    #[default]
    Backward,
    /// The first right row whose key is `>=` the left key.
    Forward,
    /// The right row with the closest key (the backward one on a tie).
    Nearest,
}

/// Settings of [`LazyFrame::join_asof`].
#[derive(Debug, Clone, PartialEq)]
pub struct AsofOptions {
    strategy: AsofStrategy,
    tolerance: Option<f64>,
    left_by: Vec<String>,
    right_by: Vec<String>,
    suffix: String,
}

impl Default for AsofOptions {
    fn default() -> Self {
        AsofOptions {
            strategy: AsofStrategy::Backward,
            tolerance: None,
            left_by: Vec::new(),
            right_by: Vec::new(),
            suffix: "_right".into(),
        }
    }
}

impl AsofOptions {
    /// Backward, no tolerance, no groups, suffix `_right`.
    pub fn new() -> Self {
        Self::default()
    }
    /// The strategy.
    pub fn strategy(mut self, s: AsofStrategy) -> Self {
        self.strategy = s;
        self
    }
    /// Matches only right keys at most `t` away from the left key (in the
    /// key's units: numbers; days for dates; the timestamp's unit).
    pub fn tolerance(mut self, t: f64) -> Self {
        self.tolerance = Some(t);
        self
    }
    /// Matches only within groups of equal `columns` (on both sides).
    pub fn by(mut self, columns: impl crate::IntoColumnNames) -> Self {
        let c = columns.into_column_names();
        self.left_by = c.clone();
        self.right_by = c;
        self
    }
    /// [`by`](Self::by) with different names on each side.
    pub fn by_left_right(
        mut self,
        left: impl crate::IntoColumnNames,
        right: impl crate::IntoColumnNames,
    ) -> Self {
        self.left_by = left.into_column_names();
        self.right_by = right.into_column_names();
        self
    }
    /// The suffix of right columns whose names the left frame has.
    pub fn suffix(mut self, s: impl Into<String>) -> Self {
        self.suffix = s.into();
        self
    }
}

fn temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    )
}

/// The key as Float64, for distances.
fn as_f64(e: Expr, t: &DataType) -> Expr {
    if temporal(t) {
        e.cast(DataType::Int64).cast(DataType::Float64)
    } else {
        e.cast(DataType::Float64)
    }
}

fn null_of(t: &DataType) -> Expr {
    lit(ScalarValue::Null).cast(t.clone())
}

impl LazyFrame {
    /// An as-of join (polars' `join_asof`): every left row, with the
    /// columns of the right row whose key `right_on` is nearest to its
    /// `left_on` before it ([`AsofStrategy::Backward`], the default),
    /// after it, or either, within the same `by` groups and the
    /// tolerance; right columns are null where none matches (also for a
    /// null left key). The inputs need not be sorted. The output has the
    /// left columns in the left frame's order and row order, then the
    /// right columns but the `by` columns (and the key when it has the
    /// left key's name), suffixed when the left has the name. Keys are
    /// numbers, dates or timestamps, of one type on both sides (numbers
    /// of different types compare as Float64). See [`crate::asof`] for
    /// how it runs (the right frame is read twice).
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::{AsofOptions, Context};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let trades = ctx.lazy(table!("t" => [2i64, 5, 9], "sym" => ["a", "a", "b"])?);
    /// let quotes = ctx.lazy(table!("t" => [1i64, 4, 8], "sym" => ["a", "a", "b"], "bid" => [10.0, 11.0, 20.0])?);
    /// let out = trades
    ///     .join_asof(&quotes, "t", "t", AsofOptions::new().by(["sym"]).tolerance(3.0))?
    ///     .collect()?;
    /// assert_eq!(out.column_names(), vec!["t", "sym", "bid"]);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn join_asof(
        &self,
        other: &LazyFrame,
        left_on: &str,
        right_on: &str,
        options: AsofOptions,
    ) -> Result<LazyFrame> {
        let (ls, rs) = (self.schema(), other.schema());
        let field = |s: &arrow_schema::Schema, n: &str| -> Result<DataType> {
            s.field_with_name(n)
                .map(|f| f.data_type().clone())
                .map_err(|_| column_not_found(n, s.fields().iter().map(|f| f.name().as_str())))
        };
        let (lt, rt) = (field(&ls, left_on)?, field(&rs, right_on)?);
        let numeric = |t: &DataType| t.is_integer() || t.is_floating();
        let key_type = if lt == rt && (numeric(&lt) || temporal(&lt)) {
            lt.clone()
        } else if numeric(&lt) && numeric(&rt) {
            DataType::Float64
        } else {
            return Err(Error::type_mismatch(
                format!("join_asof on {left_on} = {right_on}"),
                format!(
                    "the keys are {lt} and {rt}; as-of keys are numbers, dates or timestamps of \
                     one type"
                ),
            ));
        };
        let AsofOptions {
            strategy,
            tolerance,
            left_by,
            right_by,
            suffix,
        } = options;
        if left_by.len() != right_by.len() {
            return Err(Error::InvalidArgument(format!(
                "join_asof: {} left `by` columns but {} right ones",
                left_by.len(),
                right_by.len()
            )));
        }
        if let Some(t) = tolerance
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(Error::InvalidArgument(format!(
                "join_asof: the tolerance must be finite and not negative, got {t}"
            )));
        }
        let mut by_types = Vec::with_capacity(left_by.len());
        for (l, r) in left_by.iter().zip(&right_by) {
            let (a, b) = (field(&ls, l)?, field(&rs, r)?);
            if a != b {
                return Err(Error::type_mismatch(
                    format!("join_asof by {l} = {r}"),
                    format!("the columns are {a} and {b}; cast one of them"),
                ));
            }
            by_types.push(a);
        }
        const LID: &str = "__pf_asof_lid";
        const RID: &str = "__pf_asof_rid";
        const SIDE: &str = "__pf_asof_side";
        const KEY: &str = "__pf_asof_key";
        const RKEY: &str = "__pf_asof_rkey";
        let by = |i: usize| format!("__pf_asof_by{i}");
        for n in ls.fields().iter().map(|f| f.name()) {
            if n.starts_with("__pf_asof_") {
                return Err(Error::InvalidArgument(format!(
                    "join_asof: the left column '{n}' has a reserved name; rename it"
                )));
            }
        }
        // 1. Left rows with all their columns, right rows with their keys.
        let mut left_cols: Vec<Expr> = ls.fields().iter().map(|f| col(f.name().as_str())).collect();
        let mut right_cols: Vec<Expr> = ls
            .fields()
            .iter()
            .map(|f| null_of(f.data_type()).alias(f.name().as_str()))
            .collect();
        left_cols.push(col(LID));
        right_cols.push(null_of(&DataType::Int64).alias(LID));
        left_cols.push(null_of(&DataType::Int64).alias(RID));
        right_cols.push(col(RID));
        left_cols.push(lit(1i64).alias(SIDE));
        right_cols.push(lit(0i64).alias(SIDE));
        left_cols.push(col(left_on).cast(key_type.clone()).alias(KEY));
        right_cols.push(col(right_on).cast(key_type.clone()).alias(KEY));
        left_cols.push(null_of(&key_type).alias(RKEY));
        right_cols.push(col(right_on).cast(key_type.clone()).alias(RKEY));
        for (i, (l, r)) in left_by.iter().zip(&right_by).enumerate() {
            left_cols.push(col(l.as_str()).alias(by(i)));
            right_cols.push(col(r.as_str()).alias(by(i)));
        }
        let indexed_right = other.with_row_index(RID, 0)?;
        let left = self.with_row_index(LID, 0)?.select(left_cols)?;
        let keys = indexed_right
            .filter(col(right_on).is_not_null())?
            .select(right_cols)?;
        let stacked = left.union(&keys)?;
        // 2. Carry the nearest right row to every left row.
        let parts: Vec<String> = (0..left_by.len()).map(by).collect();
        let base = Window::new().partition_by(parts);
        let backward = base
            .clone()
            .order_by([SortKey::asc(KEY), SortKey::asc(SIDE)])
            .frame(WindowFrame::running());
        let forward = base
            .order_by([SortKey::asc(KEY), SortKey::desc(SIDE)])
            .frame(WindowFrame::rows(
                FrameBound::CurrentRow,
                FrameBound::UnboundedFollowing,
            ));
        let mut exprs = Vec::new();
        if strategy != AsofStrategy::Forward {
            exprs.push(
                last_value(RID)
                    .ignore_nulls()
                    .over(backward.clone())
                    .alias("__pf_asof_b"),
            );
            exprs.push(
                last_value(RKEY)
                    .ignore_nulls()
                    .over(backward)
                    .alias("__pf_asof_bk"),
            );
        }
        if strategy != AsofStrategy::Backward {
            exprs.push(
                first_value(RID)
                    .ignore_nulls()
                    .over(forward.clone())
                    .alias("__pf_asof_f"),
            );
            exprs.push(
                first_value(RKEY)
                    .ignore_nulls()
                    .over(forward)
                    .alias("__pf_asof_fk"),
            );
        }
        let carried = stacked
            .with_window_columns(exprs)?
            .filter(col(SIDE).eq(lit(1i64)))?;
        // 3. The match within the tolerance, the right columns, left order.
        let lk = as_f64(col(KEY), &key_type);
        let dist_b = lk.clone() - as_f64(col("__pf_asof_bk"), &key_type);
        let dist_f = as_f64(col("__pf_asof_fk"), &key_type) - lk;
        let (matched, dist) = match strategy {
            AsofStrategy::Backward => (col("__pf_asof_b"), dist_b),
            AsofStrategy::Forward => (col("__pf_asof_f"), dist_f),
            AsofStrategy::Nearest => {
                let take_b = col("__pf_asof_f").is_null().or(col("__pf_asof_b")
                    .is_not_null()
                    .and(dist_b.clone().lt_eq(dist_f.clone())));
                (
                    when(take_b.clone(), col("__pf_asof_b")).otherwise(col("__pf_asof_f")),
                    when(take_b, dist_b).otherwise(dist_f),
                )
            }
        };
        let matched = match tolerance {
            Some(t) => when(dist.gt(lit(t)), null_of(&DataType::Int64)).otherwise(matched),
            None => matched,
        };
        let matched = when(col(KEY).is_null(), null_of(&DataType::Int64)).otherwise(matched);
        let mut keep: Vec<Expr> = ls.fields().iter().map(|f| col(f.name().as_str())).collect();
        keep.push(col(LID));
        keep.push(matched.alias("__pf_asof_m"));
        let lefts = carried.select(keep)?;
        // The right columns to bring: not the `by` columns, not the key
        // when it has the left key's name; renamed on a clash.
        let mut payload: Vec<Expr> = vec![col(RID)];
        let mut out_names: Vec<String> = ls.fields().iter().map(|f| f.name().clone()).collect();
        for f in rs.fields() {
            let n = f.name();
            if right_by.contains(n) || (n == right_on && right_on == left_on) {
                continue;
            }
            let mut name = n.clone();
            if out_names.contains(&name) {
                name = format!("{n}{suffix}");
            }
            if out_names.contains(&name) {
                return Err(Error::InvalidArgument(format!(
                    "join_asof: the right column '{n}' becomes '{name}', which the output already \
                     has; choose another suffix"
                )));
            }
            payload.push(col(n.as_str()).alias(name.as_str()));
            out_names.push(name);
        }
        let rights = indexed_right.select(payload)?;
        let joined = lefts
            .join(&rights, ["__pf_asof_m"], [RID], JoinType::Left)?
            .sort([SortKey::asc(LID)])?;
        joined.select(out_names.iter().map(|n| col(n.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
    use parframe_core::Table;
    use proptest::prelude::*;

    use super::*;
    use crate::Context;

    type Side = Vec<(Option<i64>, Option<i64>, Option<f64>)>;

    fn frame(ctx: &Context, rows: &Side, value: &str, chunk: usize) -> LazyFrame {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "g",
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.0))) as ArrayRef,
            ),
            (
                "t",
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))) as ArrayRef,
            ),
            (
                value,
                Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.2))) as ArrayRef,
            ),
            (
                "row",
                Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut chunks = Vec::new();
        let mut off = 0;
        while off < batch.num_rows() {
            let len = chunk.min(batch.num_rows() - off);
            chunks.push(batch.slice(off, len));
            off += len;
        }
        ctx.lazy(Table::try_new(batch.schema(), chunks).unwrap())
    }

    /// The right row each left row takes, by brute force.
    fn reference(
        left: &Side,
        right: &Side,
        strategy: AsofStrategy,
        tolerance: Option<f64>,
        by: bool,
    ) -> Vec<Option<usize>> {
        left.iter()
            .map(|&(g, t, _)| {
                let t = t?;
                let same = |j: &usize| !by || right[*j].0 == g;
                let cand = || {
                    (0..right.len())
                        .filter(same)
                        .filter(|j| right[*j].1.is_some())
                };
                let key = |j: usize| right[j].1.unwrap_or(0);
                // Backward: the largest key <= t, the last such row on ties;
                // forward: the smallest key >= t, the first on ties.
                let b = cand()
                    .filter(|&j| key(j) <= t)
                    .fold(None, |best: Option<usize>, j| match best {
                        Some(b) if key(b) > key(j) => Some(b),
                        _ => Some(j),
                    });
                let f = cand()
                    .filter(|&j| key(j) >= t)
                    .fold(None, |best: Option<usize>, j| match best {
                        Some(b) if key(b) <= key(j) => Some(b),
                        _ => Some(j),
                    });
                let m = match strategy {
                    AsofStrategy::Backward => b,
                    AsofStrategy::Forward => f,
                    AsofStrategy::Nearest => match (b, f) {
                        (Some(b), Some(f)) => Some(if t - key(b) <= key(f) - t { b } else { f }),
                        (b, f) => b.or(f),
                    },
                }?;
                match tolerance {
                    Some(tol) if ((t - key(m)).abs() as f64) > tol => None,
                    _ => Some(m),
                }
            })
            .collect()
    }

    fn side() -> impl Strategy<Value = Side> {
        prop::collection::vec(
            (
                prop::option::weighted(0.9, 0i64..3),
                prop::option::weighted(0.9, 0i64..30),
                prop::option::weighted(0.8, -9.0f64..9.0),
            ),
            0..25,
        )
    }

    fn strategy() -> impl Strategy<Value = AsofStrategy> {
        prop_oneof![
            Just(AsofStrategy::Backward),
            Just(AsofStrategy::Forward),
            Just(AsofStrategy::Nearest)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn join_asof_matches_a_brute_force_reference(
            left in side(),
            right in side(),
            strategy in strategy(),
            tolerance in prop::option::of(0.0f64..6.0),
            by in any::<bool>(),
            chunk in 1usize..7,
        ) {
            let ctx = Context::builder().threads(2).chunk_rows(4).build().unwrap();
            let (l, r) = (frame(&ctx, &left, "v", chunk), frame(&ctx, &right, "p", chunk + 1));
            let mut o = AsofOptions::new().strategy(strategy);
            if by {
                o = o.by(["g"]);
            }
            if let Some(t) = tolerance {
                o = o.tolerance(t);
            }
            let out = l.join_asof(&r, "t", "t", o).unwrap().collect().unwrap();
            let want_cols: Vec<&str> = if by {
                vec!["g", "t", "v", "row", "p", "row_right"]
            } else {
                vec!["g", "t", "v", "row", "g_right", "p", "row_right"]
            };
            prop_assert_eq!(out.column_names(), want_cols);
            // Left rows in left order, each with its match's columns.
            let rows: Vec<i64> = out.column("row").unwrap().as_primitive::<Int64Type>().values().to_vec();
            prop_assert_eq!(rows, (0..left.len() as i64).collect::<Vec<_>>());
            let got: Vec<Option<i64>> = out.column("row_right").unwrap().as_primitive::<Int64Type>().iter().collect();
            let want = reference(&left, &right, strategy, tolerance, by);
            let want_rows: Vec<Option<i64>> = want.iter().map(|m| m.map(|j| j as i64)).collect();
            prop_assert_eq!(got, want_rows);
            let p = out.column("p").unwrap();
            let p: Vec<Option<f64>> = p.as_primitive::<arrow_array::types::Float64Type>().iter().collect();
            let want_p: Vec<Option<f64>> = want.iter().map(|m| m.and_then(|j| right[j].2)).collect();
            prop_assert_eq!(p, want_p);
        }
    }

    #[test]
    fn bad_keys_and_options_are_errors() {
        let ctx = Context::builder().threads(2).build().unwrap();
        let l = frame(&ctx, &vec![(Some(1), Some(1), None)], "v", 1);
        let r = frame(&ctx, &vec![(Some(1), Some(1), None)], "p", 1);
        let e = l
            .join_asof(&r, "nope", "t", AsofOptions::new())
            .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let e = l
            .join_asof(&r, "t", "t", AsofOptions::new().tolerance(-1.0))
            .unwrap_err();
        assert!(e.to_string().contains("tolerance"), "{e}");
        let e = l
            .join_asof(
                &r,
                "t",
                "t",
                AsofOptions::new().by_left_right(["g"], Vec::<String>::new()),
            )
            .unwrap_err();
        assert!(e.to_string().contains("`by`"), "{e}");
        let s = ctx.lazy(parframe_core::table!("t" => ["a"]).unwrap());
        let e = l.join_asof(&s, "t", "t", AsofOptions::new()).unwrap_err();
        assert!(e.to_string().contains("as-of keys"), "{e}");
    }
}
