//! Build side: every join whose options leave the build side to the
//! planner ([`BuildSide::Auto`]) gets one in the plan. Inner and cross
//! joins build on the input with fewer estimated rows (see
//! [`crate::stats`]; the right one on a tie or when an estimate is
//! missing). Semi and anti joins build on their left side when its
//! estimate is at most a quarter of the right's: the right rows then mark
//! the left rows they match, and the marked (unmarked) ones are emitted at
//! the end, as DuckDB's "right semi" joins do. Right joins must
//! build on the left, left and full joins on the right. Runs last, after
//! the rules that move joins and their inputs.

use std::sync::Arc;

use parframe_common::Result;

use crate::join::{BuildSide, JoinType};
use crate::logical::{JoinNode, LogicalPlan, PlanNode};
use crate::optimizer::OptimizerRule;
use crate::stats::estimated_rows;

/// The rule (see the module docs).
pub struct ChooseBuildSide;

/// The side the planner builds a join on.
pub fn choose(j: &JoinNode) -> BuildSide {
    let (l, r) = (estimated_rows(&j.left), estimated_rows(&j.right));
    match j.how {
        JoinType::Right => BuildSide::Left,
        JoinType::Inner | JoinType::Cross => match (l, r) {
            (Some(l), Some(r)) if l < r => BuildSide::Left,
            _ => BuildSide::Right,
        },
        // The left side of a semi or anti join is the one kept, often the
        // large one, and estimates over filters and aggregates are rough
        // (TPC-H Q18's `IN` subquery keeps 57 of an estimated 2 million
        // rows): build on it only when it is clearly the smaller.
        JoinType::Semi | JoinType::Anti => match (l, r) {
            (Some(l), Some(r)) if l.saturating_mul(SEMI_LEFT_FACTOR) <= r => BuildSide::Left,
            _ => BuildSide::Right,
        },
        _ => BuildSide::Right,
    }
}

/// A semi or anti join builds on its left side only when that side's
/// estimate is at most this fraction (1 / factor) of the right's.
const SEMI_LEFT_FACTOR: u64 = 4;

impl OptimizerRule for ChooseBuildSide {
    fn name(&self) -> &'static str {
        "build_side"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        plan.transform_up(&mut |p| {
            let PlanNode::Join(j) = p.node() else {
                return Ok(p);
            };
            if j.options.build() != BuildSide::Auto {
                return Ok(p);
            }
            let side = choose(j);
            if j.planned_build == Some(side) {
                return Ok(p);
            }
            LogicalPlan::with_id(
                p.id(),
                PlanNode::Join(JoinNode {
                    planned_build: Some(side),
                    ..j.clone()
                }),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, Int64Array};
    use parframe_core::Table;

    use super::*;
    use crate::join::JoinOptions;

    fn rows(n: i64) -> Arc<LogicalPlan> {
        let a: ArrayRef = Arc::new(Int64Array::from((0..n).collect::<Vec<_>>()));
        LogicalPlan::table(Table::from_columns(vec![("k".into(), a)]).unwrap())
    }

    fn join(l: &Arc<LogicalPlan>, r: &Arc<LogicalPlan>, how: JoinType) -> Arc<LogicalPlan> {
        LogicalPlan::join(
            l,
            r,
            vec!["k".into()],
            vec!["k".into()],
            how,
            JoinOptions::default(),
            None,
        )
        .unwrap()
    }

    fn planned(p: &LogicalPlan) -> Option<BuildSide> {
        match p.node() {
            PlanNode::Join(j) => j.planned_build,
            _ => None,
        }
    }

    #[test]
    fn inner_joins_build_on_the_smaller_side() {
        let (small, big) = (rows(3), rows(10));
        let out = ChooseBuildSide
            .rewrite(join(&small, &big, JoinType::Inner))
            .unwrap();
        assert_eq!(planned(&out), Some(BuildSide::Left));
        let out = ChooseBuildSide
            .rewrite(join(&big, &small, JoinType::Inner))
            .unwrap();
        assert_eq!(planned(&out), Some(BuildSide::Right));
        // Outer joins build where their semantics say.
        let out = ChooseBuildSide
            .rewrite(join(&small, &big, JoinType::Left))
            .unwrap();
        assert_eq!(planned(&out), Some(BuildSide::Right));
        let out = ChooseBuildSide
            .rewrite(join(&small, &big, JoinType::Right))
            .unwrap();
        assert_eq!(planned(&out), Some(BuildSide::Left));
        // Semi and anti joins build on the left only when it is at most a
        // quarter of the right.
        let tiny = rows(2);
        for how in [JoinType::Semi, JoinType::Anti] {
            let out = ChooseBuildSide.rewrite(join(&tiny, &big, how)).unwrap();
            assert_eq!(planned(&out), Some(BuildSide::Left), "{how}");
            let out = ChooseBuildSide.rewrite(join(&small, &big, how)).unwrap();
            assert_eq!(planned(&out), Some(BuildSide::Right), "{how}");
            let out = ChooseBuildSide.rewrite(join(&big, &tiny, how)).unwrap();
            assert_eq!(planned(&out), Some(BuildSide::Right), "{how}");
        }
        // Fixed point.
        let again = ChooseBuildSide.rewrite(out.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &out));
    }
}
