//! Hash joins: inner, left, right, full, semi, anti and cross, in parallel
//! on the context's pool, spilling to memory-mapped Arrow files when the
//! build side does not fit the memory budget.
//!
//! # How a join runs
//! 1. **Build.** One input (the *build side*: the right one for left, full,
//!    semi and anti joins, the left one for right joins, the smaller one for
//!    inner joins as the optimizer chose it from estimated sizes, else the
//!    right one: see `parframe_plan::optimizer`) is read whole
//!    under a reservation and hashed in parallel into a table split into
//!    partitions by key hash (single integer-like keys are hashed as `i64`;
//!    other keys as `arrow-row` rows). Unique integer keys spanning a range
//!    of at most a few slots a row get a direct-address table instead (one
//!    memory access a lookup). On a large build side, string and binary
//!    columns headed for the output are held as views, which gather at one
//!    memory access a row; output columns keep their input types.
//! 2. **Probe.** The other input streams through chunk by chunk, a window of
//!    chunks at a time on every thread; each chunk's matches become output
//!    chunks at once, gathered with arrow's `take`.
//! 3. **Spill (grace hash join).** When the build side does not fit its
//!    reservation, both inputs are hash-partitioned into spill files (Arrow
//!    IPC, read back zero-copy through memory maps) and joined partition by
//!    partition; a partition still too large is split again with another
//!    hash seed. A partition that cannot be split (one key holding more rows
//!    than fit: skew) is joined block by block: as many of its build rows as
//!    fit at a time, the probe partition streamed past each block, with a
//!    bitmap of matched probe rows carried across blocks.
//!
//! # Semantics
//! - Null keys never match (SQL semantics). Rows with a null key are kept
//!   by outer joins (with nulls on the other side) and by anti joins.
//! - Key columns must have equal types on both sides; cast one side first.
//! - Key columns are coalesced: the output holds each key once, named as on
//!   the left, with the value of whichever side the row came from (unless
//!   [`JoinOptions::coalesce_keys`] says otherwise). Right columns whose
//!   names clash with left ones get a suffix (`_right` by default).
//! - Semi and anti joins return the left columns only.
//! - Output order is unspecified.
//!
//! ```
//! use parframe_core::table;
//! use parframe_exec::{Context, JoinType};
//!
//! let ctx = Context::builder().threads(2).build()?;
//! let orders = ctx.lazy(table!("customer" => [1i64, 2, 2, 3], "amount" => [10.0, 20.0, 5.0, 7.5])?);
//! let customers = ctx.lazy(table!("id" => [1i64, 2], "name" => ["ann", "bob"])?);
//! let joined = orders
//!     .join(&customers, ["customer"], ["id"], JoinType::Inner)?
//!     .sort([parframe_exec::SortKey::asc("amount")])?
//!     .collect()?;
//! assert_eq!(joined.column_names(), vec!["customer", "amount", "name"]);
//! assert_eq!(joined.num_rows(), 3);
//! # Ok::<(), parframe_common::Error>(())
//! ```

mod exec;
mod output;
mod table;
#[cfg(test)]
mod tests;

use parframe_common::Result;
use parframe_core::{Expr, col, lit};
use parframe_plan::LogicalPlan;

pub use parframe_plan::join::{BuildSide, JoinOptions, JoinType, JoinValidation};

use crate::plan::{IntoColumnNames, LazyFrame};

pub(crate) use exec::run_join;
/// A join node of a plan, as the physical join runs it.
pub(crate) type JoinSpec = parframe_plan::JoinNode;
pub(crate) use parframe_plan::OutCol;

/// The name of the constant key column `join_on` joins on when its
/// condition has no equality between a left and a right column.
const CONST_KEY: &str = "__parframe_join_on_key";

impl LazyFrame {
    /// Joins `other` on `left_on` (columns of this frame) equal to
    /// `right_on` (columns of `other`), keeping rows as `how` says. See the
    /// [module docs](crate::join) for the semantics (nulls never match,
    /// keys coalesced, `_right` suffix) and how it spills.
    ///
    /// Errors at once for unknown columns, different key types (cast one
    /// side first) or a key count mismatch.
    pub fn join(
        &self,
        other: &LazyFrame,
        left_on: impl IntoColumnNames,
        right_on: impl IntoColumnNames,
        how: JoinType,
    ) -> Result<LazyFrame> {
        self.join_with(other, left_on, right_on, how, JoinOptions::default())
    }

    /// [`join`](Self::join) with options: column suffix, validation of key
    /// multiplicity, build side.
    pub fn join_with(
        &self,
        other: &LazyFrame,
        left_on: impl IntoColumnNames,
        right_on: impl IntoColumnNames,
        how: JoinType,
        options: JoinOptions,
    ) -> Result<LazyFrame> {
        let plan = LogicalPlan::join(
            &self.plan,
            &other.plan,
            left_on.into_column_names(),
            right_on.into_column_names(),
            how,
            options,
            None,
        )?;
        Ok(self.with_plan(plan))
    }

    /// Every pair of rows of this frame and `other` (a cartesian product).
    /// A filter above it relating the two sides turns it into a hash join
    /// when the plan is optimized.
    pub fn cross_join(&self, other: &LazyFrame) -> Result<LazyFrame> {
        self.join(
            other,
            Vec::<String>::new(),
            Vec::<String>::new(),
            JoinType::Cross,
        )
    }

    /// Joins `other` where the Boolean expression `on` holds (SQL's
    /// `JOIN ... ON`). `on` reads the left columns by their names and the
    /// right columns by their names, with the suffix (`_right`) appended to
    /// a right name while it clashes with a left one; the output has those
    /// columns, all left then all right (keys are not coalesced).
    ///
    /// Conjuncts `left_column = right_column` become the hash keys; the
    /// rest is a residual condition that belongs to the join: a left join
    /// keeps a left row whose matches all fail it (with nulls on the right),
    /// rather than dropping it. Without any such equality the join runs on
    /// a constant key (every pair is tested). The residual may read both
    /// sides whatever the join type: it is evaluated on the pairs with
    /// equal keys, inside the join (a semi join keeps a left row with at
    /// least one passing pair, an anti join one with none).
    ///
    /// ```
    /// use parframe_core::{col, lit, table};
    /// use parframe_exec::{Context, JoinType};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let l = ctx.lazy(table!("id" => [1i64, 2, 3], "lo" => [0i64, 5, 0])?);
    /// let r = ctx.lazy(table!("id" => [1i64, 2, 2], "v" => [3i64, 4, 9])?);
    /// let on = col("id").eq(col("id_right")).and(col("v").gt(col("lo")));
    /// let out = l.join_on(&r, JoinType::Inner, on)?.collect()?;
    /// assert_eq!(out.column_names(), vec!["id", "lo", "id_right", "v"]);
    /// // 1 matches (3 > 0), 2 matches once (9 > 5), 3 has no match.
    /// assert_eq!(out.num_rows(), 2);
    ///
    /// // A left join keeps 1 (its only match fails v > 3) and 3, with nulls.
    /// let on = col("id").eq(col("id_right")).and(col("v").gt(lit(3i64)));
    /// let out = l.join_on(&r, JoinType::Left, on)?.collect()?;
    /// assert_eq!(out.num_rows(), 4);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn join_on(&self, other: &LazyFrame, how: JoinType, on: Expr) -> Result<LazyFrame> {
        self.join_on_with(other, how, on, JoinOptions::default())
    }

    /// [`join_on`](Self::join_on) with options (the suffix, validation,
    /// build side; keys are never coalesced).
    pub fn join_on_with(
        &self,
        other: &LazyFrame,
        how: JoinType,
        on: Expr,
        options: JoinOptions,
    ) -> Result<LazyFrame> {
        let options = options.coalesce_keys(false);
        let (ls, rs) = (self.plan.schema(), other.plan.schema());
        let split =
            parframe_plan::expr_util::split_join_condition(&on, &ls, &rs, options.suffix_str())?;
        // No keys: an inner join is a cross join with its condition.
        let how = if split.left_on.is_empty() && how == JoinType::Inner {
            JoinType::Cross
        } else {
            how
        };
        if split.left_on.is_empty() && how != JoinType::Cross {
            // No equality to hash on: a constant key on both sides, every
            // pair tested by the residual, outer semantics kept.
            let key = || lit(true).alias(CONST_KEY);
            let l = self.with_column(key())?;
            let r = other.with_column(key())?;
            let right_key = format!("{CONST_KEY}{}", options.suffix_str());
            let j = l.join_on_with(&r, how, col(CONST_KEY).eq(col(right_key)).and(on), options)?;
            // The output without the two constant columns.
            let schema = j.schema();
            let keep: Vec<Expr> = schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| !n.starts_with(CONST_KEY))
                .map(col)
                .collect();
            return j.select(keep);
        }
        let filter = match split.residual {
            None => None,
            Some(e) => Some(parframe_plan::JoinFilter::over_pair(
                e,
                &ls,
                &rs,
                options.suffix_str(),
            )?),
        };
        let plan = LogicalPlan::join(
            &self.plan,
            &other.plan,
            split.left_on,
            split.right_on,
            how,
            options,
            filter,
        )?;
        Ok(self.with_plan(plan))
    }
}
