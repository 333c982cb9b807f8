//! Window top-k: a filter keeping rows whose `row_number()` is at most `k`,
//! directly over the window node computing it, sets that node's `fetch`
//! to `k`, so the executor keeps the `k` best rows of each partition in a
//! heap instead of sorting every partition (`ROW_NUMBER() OVER (PARTITION
//! BY g ORDER BY v DESC) <= 2`: db-benchmark q8). The filter stays (it is
//! then true on every row the node produces); the node keeps its id.
//!
//! Applies when the window node computes only that `row_number()` (other
//! window columns would need every row) and a conjunct of the filter is
//! `rn <= k`, `rn < k + 1`, `k >= rn`, `k + 1 > rn` or `rn = 1` with an
//! integer literal.

use std::sync::Arc;

use parframe_common::Result;
use parframe_core::Expr;
use parframe_core::expr::BinaryOp;

use crate::expr_util::{integer_value, split_conjunction};
use crate::logical::{LogicalPlan, PlanNode};
use crate::optimizer::OptimizerRule;
use crate::window::WindowFunction;

/// The rule (see the module docs).
pub struct WindowTopK;

impl OptimizerRule for WindowTopK {
    fn name(&self) -> &'static str {
        "window_topk"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        plan.transform_up(&mut |p| {
            let PlanNode::Filter { input, predicate } = p.node() else {
                return Ok(p);
            };
            let PlanNode::Window {
                input: below,
                window,
                exprs,
                fetch,
            } = input.node()
            else {
                return Ok(p);
            };
            let [e] = exprs.as_slice() else {
                return Ok(p);
            };
            if !matches!(e.func, WindowFunction::RowNumber) {
                return Ok(p);
            }
            let Some(k) = split_conjunction(predicate)
                .into_iter()
                .filter_map(|c| bound(&c, &e.name))
                .min()
            else {
                return Ok(p);
            };
            let k = fetch.map_or(k, |f| f.min(k));
            if *fetch == Some(k) {
                return Ok(p);
            }
            let node = LogicalPlan::with_id(
                input.id(),
                PlanNode::Window {
                    input: Arc::clone(below),
                    window: window.clone(),
                    exprs: exprs.clone(),
                    fetch: Some(k),
                },
            )?;
            p.with_inputs(vec![node])
        })
    }
}

/// The `k` of a conjunct `rn <= k` (and its equivalents) on column `rn`.
fn bound(c: &Expr, rn: &str) -> Option<usize> {
    let Expr::Binary { left, op, right } = c else {
        return None;
    };
    let (op, value) = match (left.as_ref(), right.as_ref()) {
        (Expr::Column(n), Expr::Literal(v)) if n == rn => (*op, v),
        (Expr::Literal(v), Expr::Column(n)) if n == rn => (flip(*op)?, v),
        _ => return None,
    };
    let v = integer_value(value)?;
    let k = match op {
        BinaryOp::LtEq => v,
        BinaryOp::Lt => v - 1,
        BinaryOp::Eq if v == 1 => 1,
        _ => return None,
    };
    usize::try_from(k.max(0)).ok()
}

fn flip(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::GtEq => BinaryOp::LtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Eq => BinaryOp::Eq,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, Int64Array};
    use parframe_core::{Table, col, lit};

    use super::*;
    use crate::sort::SortKey;
    use crate::window::{Window, rank, row_number};

    fn base() -> Arc<LogicalPlan> {
        let g: ArrayRef = Arc::new(Int64Array::from(vec![1i64, 1, 2]));
        let v: ArrayRef = Arc::new(Int64Array::from(vec![3i64, 1, 2]));
        LogicalPlan::table(Table::from_columns(vec![("g".into(), g), ("v".into(), v)]).unwrap())
    }

    fn window() -> Window {
        Window::new()
            .partition_by(["g"])
            .order_by([SortKey::desc("v")])
    }

    fn fetch_of(p: &LogicalPlan) -> Option<Option<usize>> {
        match p.node() {
            PlanNode::Filter { input, .. } => match input.node() {
                PlanNode::Window { fetch, .. } => Some(*fetch),
                _ => None,
            },
            _ => None,
        }
    }

    fn over(f: Expr, func: WindowFunction) -> Arc<LogicalPlan> {
        let w =
            LogicalPlan::window(&base(), window(), vec![func.over(window()).alias("rn")]).unwrap();
        LogicalPlan::filter(&w, f).unwrap()
    }

    #[test]
    fn row_number_bounds_set_the_fetch() {
        for (f, k) in [
            (col("rn").lt_eq(lit(2i64)), 2),
            (col("rn").lt(lit(3i32)), 2),
            (lit(2i64).gt_eq(col("rn")), 2),
            (lit(4i64).gt(col("rn")), 3),
            (col("rn").eq(lit(1i64)), 1),
            (
                col("rn").lt_eq(lit(5i64)).and(col("rn").lt_eq(lit(2i64))),
                2,
            ),
            (col("v").gt(lit(0i64)).and(col("rn").lt_eq(lit(2i64))), 2),
            (col("rn").lt(lit(0i64)), 0),
        ] {
            let p = over(f.clone(), row_number());
            let out = WindowTopK.rewrite(Arc::clone(&p)).unwrap();
            assert_eq!(fetch_of(&out), Some(Some(k)), "{f:?}");
            assert_eq!(out.schema(), p.schema());
            // The node keeps its id; a second pass changes nothing.
            let again = WindowTopK.rewrite(Arc::clone(&out)).unwrap();
            assert!(Arc::ptr_eq(&again, &out));
        }
    }

    #[test]
    fn other_filters_and_functions_are_left_alone() {
        for f in [
            col("rn").gt(lit(2i64)),
            col("rn").eq(lit(2i64)),
            col("rn").lt_eq(lit(2i64)).or(col("v").gt(lit(0i64))),
            col("v").lt_eq(lit(2i64)),
            col("rn").lt_eq(lit(2.5f64)),
        ] {
            let p = over(f.clone(), row_number());
            let out = WindowTopK.rewrite(Arc::clone(&p)).unwrap();
            assert!(Arc::ptr_eq(&out, &p), "{f:?}");
        }
        // rank() keeps ties: a top-k by row count would be wrong.
        let p = over(col("rn").lt_eq(lit(2i64)), rank());
        assert!(Arc::ptr_eq(
            &WindowTopK.rewrite(Arc::clone(&p)).unwrap(),
            &p
        ));
    }
}
