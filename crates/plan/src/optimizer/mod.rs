//! The optimizer: [`OptimizerRule`]s, each a rewrite of a logical plan into
//! an equivalent one, run by [`Optimizer`] in a fixed order, repeatedly,
//! until a pass changes nothing (or [`MAX_PASSES`] passes ran).
//!
//! # The rules, in the order they run
//! 0. [`simplify::Simplify`]: boolean identities folded, `true` filters
//!    dropped (first: the rules after it see simpler conditions).
//! 1. [`predicate_pushdown::PredicatePushdown`]: filters move down to the
//!    scans, `WHERE` conjuncts over two join inputs become join keys or
//!    residual conditions (first: the rules after it see the joins and the
//!    filtered inputs).
//! 2. [`join_reorder::JoinReorder`]: groups of inner and cross joins are
//!    reordered greedily by estimated cardinality (after pushdown, so the
//!    estimates see the filters and the graph sees every condition).
//! 2. (also) [`semi_join_pushdown::SemiJoinPushdown`]: a semi or anti join
//!    over an inner join moves onto the input its keys come from (after
//!    reordering, which sees the inner joins as one group first).
//! 2. (also) [`semi_join_reduction::SemiJoinReduction`]: an aggregate
//!    joined on a group key with a much smaller relation reads only the
//!    rows of that relation's keys (after reordering, which decides what
//!    each aggregate is joined with, and after the semi join moves).
//! 3. [`sort_limit::SortLimit`]: a limit over a sort becomes a top-k sort
//!    (`Sort` with a fetch).
//! 3. (also) [`window_topk::WindowTopK`]: a filter `row_number() <= k`
//!    over the window node computing it makes that node a top-k per
//!    partition (after pushdown, which brings the filter next to it).
//! 3. (also) [`limit_pushdown::LimitPushdown`]: limits move below selects,
//!    into scans and into union inputs (after top-k, which takes limits
//!    over sorts first).
//! 4. [`projection_pushdown::ProjectionPushdown`]: every node produces
//!    only the columns something above it reads; scans decode only those
//!    (after the rules that add nodes or conditions reading columns).
//! 5. [`build_side::ChooseBuildSide`]: each join gets its build side from
//!    the estimated sizes of its inputs (last: the rules before it move
//!    joins and change their inputs).
//!
//! After the passes, nodes that appear more than once (one sub-plan used
//! twice, as a self-join or a CTE referenced twice; or two nodes a rule
//! derived from one) get ids of their own: each runs as an operator of its
//! own, and `explain_analyze` keys its figures by id.
//!
//! # How to add a rule
//! 1. Add a file `optimizer/my_rule.rs` with a unit struct implementing
//!    [`OptimizerRule`]: `name()` and `rewrite()`, which returns the plan
//!    unchanged (the same `Arc`) when the rule does not apply, so the
//!    optimizer can see it reached a fixed point.
//! 2. Declare the module below and add the rule to
//!    [`Optimizer::default`] at its place in the order (and to the list
//!    above, saying why it goes there).
//! 3. Test it in the file: build plans with [`LogicalPlan`]'s builders,
//!    apply the rule alone, and compare the result with the expected plan
//!    (node kinds and fields, not `explain` text); the property test in
//!    `parframe-exec` (`tests/it/optimizer.rs`) checks that optimized and
//!    unoptimized plans give the same rows.

use std::collections::HashSet;
use std::sync::Arc;

use parframe_common::Result;

use crate::logical::{LogicalPlan, NodeId};

pub mod build_side;
pub mod join_reorder;
pub mod limit_pushdown;
pub mod predicate_pushdown;
pub mod projection_pushdown;
pub mod semi_join_pushdown;
pub mod semi_join_reduction;
pub mod simplify;
pub mod sort_limit;
pub mod window_topk;

#[cfg(test)]
pub(crate) mod test_plans;

/// Most passes over the rule list before the optimizer stops even when a
/// rule still changes the plan (a rule pair undoing each other).
pub const MAX_PASSES: usize = 8;

/// One rewrite of logical plans.
pub trait OptimizerRule: Send + Sync {
    /// A short name, for debugging output.
    fn name(&self) -> &'static str;
    /// The rewritten plan, or `plan` itself (the same `Arc`) when the rule
    /// does not apply. The output must give the same rows (as a multiset,
    /// or in the same order where the plan defines one) and schema.
    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>>;
}

/// Runs rules to a fixed point.
pub struct Optimizer {
    rules: Vec<Box<dyn OptimizerRule>>,
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer {
            rules: vec![
                Box::new(simplify::Simplify),
                Box::new(predicate_pushdown::PredicatePushdown),
                Box::new(join_reorder::JoinReorder),
                Box::new(semi_join_pushdown::SemiJoinPushdown),
                Box::new(semi_join_reduction::SemiJoinReduction),
                Box::new(sort_limit::SortLimit),
                Box::new(window_topk::WindowTopK),
                Box::new(limit_pushdown::LimitPushdown),
                Box::new(projection_pushdown::ProjectionPushdown),
                Box::new(build_side::ChooseBuildSide),
            ],
        }
    }
}

impl Optimizer {
    /// An optimizer with the given rules (in order).
    pub fn with_rules(rules: Vec<Box<dyn OptimizerRule>>) -> Self {
        Optimizer { rules }
    }

    /// The rules, in the order they run.
    pub fn rules(&self) -> impl Iterator<Item = &dyn OptimizerRule> {
        self.rules.iter().map(|r| r.as_ref())
    }

    /// The optimized plan.
    pub fn optimize(&self, plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        let mut plan = Arc::clone(plan);
        for _ in 0..MAX_PASSES {
            let before = Arc::clone(&plan);
            for r in &self.rules {
                plan = r.rewrite(plan)?;
            }
            if Arc::ptr_eq(&before, &plan) {
                break;
            }
        }
        distinct_ids(&plan)
    }
}

/// `plan` with every node's id unique in it: the first node with an id (in
/// post-order) keeps it, later ones get fresh ids. The same `Arc` when all
/// are unique already.
pub fn distinct_ids(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    let mut seen: HashSet<NodeId> = HashSet::new();
    plan.transform_up(&mut |p| {
        if seen.insert(p.id()) {
            Ok(p)
        } else {
            let fresh = LogicalPlan::with_id(NodeId::fresh(), p.node().clone())?;
            seen.insert(fresh.id());
            Ok(fresh)
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::join::JoinType;
    use crate::optimizer::test_plans::{join, table};

    fn ids(plan: &LogicalPlan) -> Vec<NodeId> {
        let mut out = Vec::new();
        plan.visit(&mut |p| out.push(p.id()));
        out
    }

    #[test]
    fn a_sub_plan_used_twice_gets_two_ids() {
        let t = table(&["a", "b"]);
        let self_join = join(&t, &t, ("a", "a"), JoinType::Inner);
        let before = ids(&self_join);
        assert_eq!(before[1], before[2]);

        let out = distinct_ids(&self_join).unwrap();
        let after = ids(&out);
        assert_eq!(after.len(), 3);
        assert_eq!(after.iter().collect::<HashSet<_>>().len(), 3, "{after:?}");
        // The first in post-order (the left input) and the root keep theirs.
        assert_eq!((after[0], after[1]), (before[0], before[1]));
        assert_eq!(out.schema(), self_join.schema());
        // Through the optimizer too.
        let opt = Optimizer::default().optimize(&self_join).unwrap();
        let o = ids(&opt);
        assert_eq!(o.iter().collect::<HashSet<_>>().len(), o.len(), "{o:?}");
    }

    #[test]
    fn unique_ids_leave_the_plan_as_it_is() {
        let p = join(&table(&["a"]), &table(&["b"]), ("a", "b"), JoinType::Left);
        assert!(Arc::ptr_eq(&distinct_ids(&p).unwrap(), &p));
    }
}
