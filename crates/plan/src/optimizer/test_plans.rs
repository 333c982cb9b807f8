//! Small plans for the rules' unit tests.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array};
use parframe_core::Table;

use crate::join::{JoinOptions, JoinType};
use crate::logical::LogicalPlan;

/// A table of three rows with Int64 columns `names`.
pub(crate) fn table(names: &[&str]) -> Arc<LogicalPlan> {
    let cols = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                Arc::new(Int64Array::from(vec![1i64, 2, 3])) as ArrayRef,
            )
        })
        .collect();
    LogicalPlan::table(Table::from_columns(cols).unwrap())
}

/// `l` joined with `r` on `on` (`("", "")`: no keys, for a cross join).
pub(crate) fn join(
    l: &Arc<LogicalPlan>,
    r: &Arc<LogicalPlan>,
    on: (&str, &str),
    how: JoinType,
) -> Arc<LogicalPlan> {
    let keys = |s: &str| {
        if s.is_empty() {
            vec![]
        } else {
            vec![s.to_string()]
        }
    };
    LogicalPlan::join(
        l,
        r,
        keys(on.0),
        keys(on.1),
        how,
        JoinOptions::default(),
        None,
    )
    .unwrap()
}
