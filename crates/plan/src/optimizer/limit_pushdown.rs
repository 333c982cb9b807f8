//! Limit pushdown: a limit moves below operators that map rows one to one
//! (selects, `with_columns`), merges with a limit below it, goes into a
//! scan (which stops reading after its rows, counted after its pushed
//! filters), and gives each input of a union a limit of its own (kept
//! above too). Sorts take limits as top-k in [`super::sort_limit`].

use std::sync::Arc;

use parframe_common::Result;

use crate::logical::{LogicalPlan, PlanNode, ScanNode};
use crate::optimizer::OptimizerRule;

/// The rule (see the module docs).
pub struct LimitPushdown;

impl OptimizerRule for LimitPushdown {
    fn name(&self) -> &'static str {
        "limit_pushdown"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        let out = plan.transform_up(&mut |p| push_limit(&p).map(|o| o.unwrap_or(p)))?;
        if crate::explain(&out) == crate::explain(&plan) {
            Ok(plan)
        } else {
            Ok(out)
        }
    }
}

/// The rewrite of one `Limit` node, if one applies.
fn push_limit(p: &Arc<LogicalPlan>) -> Result<Option<Arc<LogicalPlan>>> {
    let PlanNode::Limit { input, skip, fetch } = p.node() else {
        return Ok(None);
    };
    let (skip, fetch) = (*skip, *fetch);
    match input.node() {
        PlanNode::Select { input: below, .. } | PlanNode::WithColumns { input: below, .. } => {
            // limit(select(x)) = select(limit(x)), the limit keeping its id.
            let limit = LogicalPlan::with_id(
                p.id(),
                PlanNode::Limit {
                    input: Arc::clone(below),
                    skip,
                    fetch,
                },
            )?;
            let limit = push_limit(&limit)?.unwrap_or(limit);
            Ok(Some(input.with_inputs(vec![limit])?))
        }
        PlanNode::Limit {
            input: below,
            skip: s2,
            fetch: f2,
        } => {
            // Skip s2, keep f2, then skip `skip`, keep `fetch`.
            let s = s2.saturating_add(skip);
            let left = f2.map(|f| f.saturating_sub(skip));
            let f = match (left, fetch) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            Ok(Some(LogicalPlan::with_id(
                p.id(),
                PlanNode::Limit {
                    input: Arc::clone(below),
                    skip: s,
                    fetch: f,
                },
            )?))
        }
        PlanNode::Scan(scan) => {
            let Some(n) = fetch else { return Ok(None) };
            let want = skip.saturating_add(n);
            let k = scan.fetch.map_or(want, |f| f.min(want));
            if scan.fetch == Some(k) {
                if skip == 0 {
                    return Ok(Some(Arc::clone(input)));
                }
                return Ok(None);
            }
            let new = LogicalPlan::with_id(
                input.id(),
                PlanNode::Scan(ScanNode {
                    fetch: Some(k),
                    ..scan.clone()
                }),
            )?;
            if skip == 0 {
                Ok(Some(new))
            } else {
                Ok(Some(p.with_inputs(vec![new])?))
            }
        }
        PlanNode::Union { inputs } => {
            let Some(n) = fetch else { return Ok(None) };
            let want = skip.saturating_add(n);
            let already = |i: &Arc<LogicalPlan>| matches!(i.node(), PlanNode::Limit { skip: 0, fetch: Some(f), .. } if *f <= want);
            if inputs.iter().all(already) {
                return Ok(None);
            }
            let new = inputs
                .iter()
                .map(|i| {
                    if already(i) {
                        Arc::clone(i)
                    } else {
                        LogicalPlan::limit(i, 0, Some(want))
                    }
                })
                .collect();
            Ok(Some(p.with_inputs(vec![input.with_inputs(new)?])?))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, Int64Array};
    use parframe_core::{Table, col};

    use super::*;

    fn t() -> Arc<LogicalPlan> {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![1i64, 2, 3]));
        LogicalPlan::table(Table::from_columns(vec![("a".into(), a)]).unwrap())
    }

    #[test]
    fn limits_move_below_selects_and_merge() {
        let base = t();
        let s = LogicalPlan::select(&base, vec![col("a")]).unwrap();
        let l = LogicalPlan::limit(&s, 1, Some(5));
        let l2 = LogicalPlan::limit(&l, 2, Some(10));
        let out = LimitPushdown.rewrite(l2).unwrap();
        // select(limit(skip 3, fetch 3)(table))
        assert!(matches!(out.node(), PlanNode::Select { .. }));
        let lim = out.input().unwrap();
        assert!(
            matches!(
                lim.node(),
                PlanNode::Limit {
                    skip: 3,
                    fetch: Some(3),
                    ..
                }
            ),
            "{lim:?}"
        );
        let again = LimitPushdown.rewrite(out.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &out));
    }

    #[test]
    fn union_inputs_get_limits() {
        let u = LogicalPlan::union(vec![t(), t()]).unwrap();
        let out = LimitPushdown
            .rewrite(LogicalPlan::limit(&u, 0, Some(2)))
            .unwrap();
        let u = out.input().unwrap();
        for i in u.inputs() {
            assert!(matches!(
                i.node(),
                PlanNode::Limit {
                    skip: 0,
                    fetch: Some(2),
                    ..
                }
            ));
        }
    }
}
