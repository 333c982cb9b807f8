//! Sort + limit becomes top-k: a `Limit` directly over a `Sort` folds into
//! the sort's fetch (`skip + fetch` rows), so no full sort runs. With an
//! offset the limit stays above to skip the first rows. The top-k keeps
//! the sort's id.

use std::sync::Arc;

use parframe_common::Result;

use crate::logical::{LogicalPlan, PlanNode};
use crate::optimizer::OptimizerRule;

/// The rule (see the module docs).
pub struct SortLimit;

impl OptimizerRule for SortLimit {
    fn name(&self) -> &'static str {
        "sort_limit"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        plan.transform_up(&mut |p| {
            let PlanNode::Limit {
                input,
                skip,
                fetch: Some(n),
            } = p.node()
            else {
                return Ok(p);
            };
            let PlanNode::Sort {
                input: sorted,
                keys,
                fetch,
            } = input.node()
            else {
                return Ok(p);
            };
            let want = skip.saturating_add(*n);
            let k = fetch.map_or(want, |f| f.min(want));
            let top = if *fetch == Some(k) {
                Arc::clone(input)
            } else {
                LogicalPlan::with_id(
                    input.id(),
                    PlanNode::Sort {
                        input: Arc::clone(sorted),
                        keys: keys.clone(),
                        fetch: Some(k),
                    },
                )?
            };
            if *skip == 0 {
                Ok(top)
            } else if Arc::ptr_eq(&top, input) {
                Ok(p)
            } else {
                p.with_inputs(vec![top])
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, Int64Array};
    use parframe_core::Table;

    use super::*;
    use crate::sort::SortKey;

    fn base() -> Arc<LogicalPlan> {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![3i64, 1, 2]));
        LogicalPlan::table(Table::from_columns(vec![("a".into(), a)]).unwrap())
    }

    #[test]
    fn limit_over_sort_is_a_top_k() {
        let s = LogicalPlan::sort(&base(), vec![SortKey::asc("a")], None).unwrap();
        let l = LogicalPlan::limit(&s, 0, Some(2));
        let out = SortLimit.rewrite(l).unwrap();
        assert_eq!(out.id(), s.id());
        assert!(matches!(out.node(), PlanNode::Sort { fetch: Some(2), .. }));
        // Fixed point.
        let again = SortLimit.rewrite(out.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &out));
    }

    #[test]
    fn an_offset_keeps_the_limit_and_fetches_more() {
        let s = LogicalPlan::sort(&base(), vec![SortKey::asc("a")], Some(10)).unwrap();
        let l = LogicalPlan::limit(&s, 3, Some(2));
        let out = SortLimit.rewrite(l.clone()).unwrap();
        assert_eq!(out.id(), l.id());
        assert!(matches!(
            out.node(),
            PlanNode::Limit {
                skip: 3,
                fetch: Some(2),
                ..
            }
        ));
        assert!(matches!(
            out.input().unwrap().node(),
            PlanNode::Sort { fetch: Some(5), .. }
        ));
        let again = SortLimit.rewrite(out.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &out));
    }
}
