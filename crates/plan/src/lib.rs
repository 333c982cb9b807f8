//! Logical plans for parframe: what a query computes, separate from how it
//! runs. A [`LogicalPlan`] is a tree of nodes (scan, table, select, filter,
//! with_columns, apply, map_batches, limit/offset, aggregate, sort/top-k,
//! join with keys and a residual condition, cross join, union, explode),
//! each with a stable [`NodeId`] and an output schema derived and
//! type-checked when the node is built. The [`Optimizer`] rewrites plans
//! with [`OptimizerRule`]s (see [`optimizer`] for the rules and their
//! order); [`stats`] estimates row counts for them; `parframe-exec` lowers
//! the optimized plan to physical operators (its `LazyFrame` wraps these
//! builders).
//!
//! ```
//! use parframe_core::{col, lit, table};
//! use parframe_plan::{LogicalPlan, Optimizer, PlanNode, explain};
//!
//! let t = table!("a" => [1i64, 2, 3], "b" => [4i64, 5, 6], "c" => [7i64, 8, 9])?;
//! let scan = LogicalPlan::table(t);
//! let filtered = LogicalPlan::filter(&scan, col("a").gt(lit(1i64)))?;
//! let plan = LogicalPlan::select(&filtered, vec![col("b")])?;
//! // Type errors surface while building, before any data is read.
//! assert!(LogicalPlan::filter(&scan, col("a") + lit(1i64)).is_err());
//!
//! let optimized = Optimizer::default().optimize(&plan)?;
//! assert_eq!(optimized.schema(), plan.schema());
//! // Only the columns used are read from the table.
//! assert_eq!(
//!     explain(&optimized),
//!     "Select col(\"b\")\n  Filter (col(\"a\") > 1)\n    Table [3 rows, 1 chunks] columns=[a, b]\n"
//! );
//! assert!(matches!(optimized.node(), PlanNode::Select { .. }));
//! # Ok::<(), parframe_common::Error>(())
//! ```
#![deny(missing_docs)]

pub mod agg;
mod explain;
pub mod expr_util;
pub mod join;
mod logical;
pub mod optimizer;
pub mod pruning;
pub mod sequence;
pub mod sort;
pub mod stats;
pub mod udf;
pub mod window;

pub use explain::{describe, explain, explain_with};
pub use join::{BuildSide, JoinColumn, JoinOptions, JoinType, JoinValidation, OutCol};
pub use logical::{
    JoinFilter, JoinNode, LogicalPlan, NodeId, PlanNode, ScanNode, TableNode, union_schema,
};
pub use optimizer::{Optimizer, OptimizerRule};
pub use parframe_core::{ColumnStatistics, Precision, Statistics};
pub use sort::SortKey;

/// Columns given to an operator: `["a", "b"]`, `vec![...]`, `&[..]`, `"a"`.
pub trait IntoColumnNames {
    /// The names.
    fn into_column_names(self) -> Vec<String>;
}

impl<S: AsRef<str>, const N: usize> IntoColumnNames for [S; N] {
    fn into_column_names(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_string()).collect()
    }
}
impl<S: AsRef<str>> IntoColumnNames for &[S] {
    fn into_column_names(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_string()).collect()
    }
}
impl<S: AsRef<str>> IntoColumnNames for Vec<S> {
    fn into_column_names(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_string()).collect()
    }
}
impl IntoColumnNames for &str {
    fn into_column_names(self) -> Vec<String> {
        vec![self.to_string()]
    }
}
