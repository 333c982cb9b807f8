//! Execution for parframe: the [`Context`] (a named rayon pool, the memory
//! budget, settings), lazy plans ([`LazyFrame`]) and the operators that run
//! them chunk by chunk in parallel.
//!
//! ```
//! use parframe_core::{col, lit, table};
//! use parframe_exec::Context;
//!
//! let ctx = Context::builder().threads(2).build()?;
//! let t = table!("a" => [1i64, 2, 3, 4], "b" => [10i64, 20, 30, 40])?;
//! let out = ctx
//!     .lazy(t)
//!     .filter(col("a").gt(lit(2i64)))?
//!     .with_column((col("a") + col("b")).alias("sum"))?
//!     .collect()?;
//! assert_eq!(out.num_rows(), 2);
//! # Ok::<(), parframe_common::Error>(())
//! ```
#![deny(missing_docs)]

/// Aggregate expressions (moved to `parframe-plan`, re-exported here).
pub use parframe_plan::agg;
pub mod aggregate;
pub mod asof;
mod catalog;
pub mod collect;
mod concat;
mod context;
mod io;
pub mod join;
mod metrics;
mod physical;
mod plan;
mod sort;
mod verbs;
pub mod window;

pub use asof::{AsofOptions, AsofStrategy};
pub use context::{
    Config, Context, ContextBuilder, DEFAULT_CHUNK_ROWS, DEFAULT_PARTITION_GROUPS, JobStats,
    Progress, ProgressCallback, available_memory,
};
pub use metrics::OperatorStats;
/// Logical plans and the optimizer (`parframe-plan`).
pub use parframe_plan as logical;
pub use parframe_plan::{BuildSide, JoinOptions, JoinType, JoinValidation, SortKey};
pub use parframe_spill::SpillStats;
pub use physical::BatchStream;
pub use plan::{GroupBy, IntoColumnNames, LazyFrame};
