//! Window functions: a value per row computed over the rows of its
//! *partition* (the rows with the same `partition_by` keys), in the order
//! of `order_by`, optionally restricted to a *frame* around the row.
//!
//! ```
//! use parframe_core::table;
//! use parframe_exec::{Context, SortKey};
//! use parframe_exec::agg::sum;
//! use parframe_exec::window::{AggOver, FrameBound, Window, WindowFrame, lag, row_number};
//!
//! let ctx = Context::builder().threads(2).build()?;
//! let t = table!("k" => ["a", "a", "b", "a"], "t" => [1i64, 2, 1, 3], "v" => [10i64, 20, 30, 40])?;
//! let w = Window::new().partition_by(["k"]).order_by([SortKey::asc("t")]);
//! let out = ctx
//!     .lazy(t)
//!     .with_window_columns([
//!         row_number().over(w.clone()).alias("rn"),
//!         lag("v", 1, None).over(w.clone()).alias("prev"),
//!         sum("v").over(w.clone())?.alias("running"),
//!         sum("v")
//!             .over(w.frame(WindowFrame::rows(FrameBound::Preceding(1.0), FrameBound::CurrentRow)))?
//!             .alias("last2"),
//!     ])?
//!     .sort([SortKey::asc("k"), SortKey::asc("t")])?
//!     .collect()?;
//! assert_eq!(out.num_rows(), 4);
//! # Ok::<(), parframe_common::Error>(())
//! ```
//!
//! # Functions
//! Ranking: [`row_number`], [`rank`], [`dense_rank`], [`percent_rank`],
//! [`cume_dist`], [`ntile`] (frames do not apply). Offsets: [`lag`],
//! [`lead`] with a default (frames do not apply). Values in the frame:
//! [`first_value`], [`last_value`], [`nth_value`], each with
//! [`WindowFunction::ignore_nulls`]. Aggregates over the frame:
//! `count_rows`, `count`, `sum`, `mean`, `min`, `max`, `var`, `std` from
//! [`crate::agg`], turned into window functions by [`AggOver::over`].
//!
//! Shift, cumulative and rolling sugar with polars' names —
//! `col("v").shift(1)`, `diff`, `cum_sum`, `cum_min`, `cum_max`,
//! `cum_count`, `rolling_sum(3)`, `rolling_mean`, `rolling_min`,
//! `rolling_max`, each with `.over(["k"])` and `.order_by(...)` — lowers
//! onto these functions ([`SequenceExt`], [`SeqExpr`]; without `order_by`
//! rows are taken in input order, see [`parframe_plan::sequence`]).
//!
//! # Frames
//! Without `order_by` the frame is the whole partition; with it the default
//! is SQL's `RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW` (the rows up
//! to the current one and its peers, the rows with equal order keys).
//! [`WindowFrame::rows`] counts rows; [`WindowFrame::groups`] counts peer
//! groups (`GROUPS 1 PRECEDING`: from the first row of the peer group
//! before the row's); [`WindowFrame::range`] takes offsets on the value of
//! the single order key. Over a numeric key they are numbers (`RANGE 5
//! PRECEDING`: the rows whose key is within 5 below the current row's, for
//! an ascending key), compared as `f64` (exact for integers up to 2^53).
//! Over a date or timestamp key they are intervals
//! ([`FrameBound::PrecedingInterval`]: `RANGE INTERVAL '7' DAY
//! PRECEDING`), and a bound is where `key - INTERVAL '7' DAY` (or `+`)
//! lands, computed with arrow's date arithmetic as in an expression
//! (calendar months, days in the key's time zone; dates compared as
//! microsecond timestamps, so sub-day intervals keep their hours), then
//! compared exactly as integers. Rows with a null order key are peers of
//! each other: an offset bound of such a row stops at the null rows.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::cast::AsArray;
//! use arrow_array::types::{Int64Type, IntervalMonthDayNano};
//! use arrow_array::{ArrayRef, Date32Array, Int64Array};
//! use parframe_core::Table;
//! use parframe_exec::{Context, SortKey};
//! use parframe_exec::agg::sum;
//! use parframe_exec::window::{AggOver, FrameBound, Window, WindowFrame};
//!
//! // Sales on 2024-01-10, 01-20, 02-15 (twice) and 02-16 (days since 1970).
//! let day = |d: i32| 19_732 + d; // 2024-01-10
//! let t = Table::from_columns(vec![
//!     ("day".into(), Arc::new(Date32Array::from(vec![day(0), day(10), day(36), day(36), day(37)])) as ArrayRef),
//!     ("v".into(), Arc::new(Int64Array::from(vec![1i64, 2, 4, 8, 16])) as ArrayRef),
//! ])?;
//! let w = Window::new().order_by([SortKey::asc("day")]);
//! let month = IntervalMonthDayNano::new(1, 0, 0);
//! let out = Context::builder().threads(2).build()?
//!     .lazy(t)
//!     .with_window_columns([
//!         // The sales of the month up to each day (its peers included).
//!         sum("v")
//!             .over(w.clone().frame(WindowFrame::range(
//!                 FrameBound::PrecedingInterval(month),
//!                 FrameBound::CurrentRow,
//!             )))?
//!             .alias("last_month"),
//!         // This day's sales and the previous sales day's.
//!         sum("v")
//!             .over(w.frame(WindowFrame::groups(FrameBound::Preceding(1.0), FrameBound::CurrentRow)))?
//!             .alias("two_days"),
//!     ])?
//!     .sort([SortKey::asc("day"), SortKey::asc("v")])?
//!     .collect()?
//!     .to_batch()?;
//! let col = |n: &str| out.column_by_name(n).unwrap().as_primitive::<Int64Type>().values().to_vec();
//! // 02-16 minus a month is 01-16: 01-20 is in its frame, 01-10 is not.
//! assert_eq!(col("last_month"), [1, 3, 14, 14, 30]);
//! // The previous sales day of 02-16 is 02-15 (both of its rows).
//! assert_eq!(col("two_days"), [1, 3, 14, 14, 28]);
//! # Ok::<(), parframe_common::Error>(())
//! ```
//!
//! # Execution
//! See [`exec`](self) below: the input is hash-partitioned by the partition
//! keys, each hash partition is sorted by (partition keys, order keys) with
//! the external sort and evaluated in one streaming pass, hash partitions in
//! parallel. Every window expression of one [`LazyFrame::with_window_columns`]
//! call that shares the same partitioning and ordering is evaluated in the
//! same pass; expressions with different windows form one operator each.
//! Sliding aggregates are O(n) per partition: removable accumulators for
//! count/sum/mean/var/std, a monotonic deque for min/max.
//!
//! A filter `row_number() <= k` over a window computing only that row
//! number (db-benchmark q8: the two largest `v3` per `id6`) runs as a
//! top-k per partition instead (the plan rule `window_topk`, then
//! `topk.rs`): one pass with a bounded heap per partition, no sort, handing
//! over to the general operator when `k` rows per partition exceed the
//! budget.
//!
//! A partition that does not fit the memory budget is written to a spill
//! file as it arrives and evaluated from the file's memory map, in output
//! chunks, without being held in memory (frames reaching far ahead, such as
//! whole-partition aggregates, read the mapped rows twice).
//!
//! # How to add a window function
//! The logical side lives in `parframe_plan::window` (re-exported here):
//! add a [`WindowFunction`] variant, its name, column and type check in
//! [`WindowFunction::output_type`] there. Then an evaluator in `funcs.rs` (a
//! struct implementing `Evaluator`, which gets consecutive row ranges of a
//! segment of complete partitions and keeps its state between them) and
//! its construction in `funcs::evaluator`; add the function to the naive
//! reference in `tests.rs`.

pub use parframe_plan::window::*;

pub(crate) mod exec;
mod frame;
mod funcs;
mod segment;
#[cfg(test)]
mod sequence_tests;
#[cfg(test)]
mod tests;
pub(crate) mod topk;
