//! Projection pushdown: every node produces only the columns something
//! above it reads. Scans and tables get a projection (a scan then decodes
//! only those columns), selects, `with_columns` and aggregates drop the
//! expressions nobody reads, row closures and window nodes whose outputs nobody
//! reads are removed (unread window expressions are dropped), joins drop unread payload columns of both inputs (keys and the
//! columns of a residual condition stay), and union inputs are pruned to
//! the same columns. A node may still produce more than is read (a sort
//! keeps its key columns); operators address columns by name, so that is
//! harmless. Batch closures (`map_batches`) are opaque: their input keeps
//! every column. The plan's output columns never change.

use std::sync::Arc;

use parframe_common::Result;
use parframe_core::col;

use crate::join::JoinColumn;
use crate::logical::{JoinNode, LogicalPlan, PlanNode, ScanNode, TableNode};
use crate::optimizer::OptimizerRule;

/// The rule (see the module docs).
pub struct ProjectionPushdown;

impl OptimizerRule for ProjectionPushdown {
    fn name(&self) -> &'static str {
        "projection_pushdown"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        prune(&plan, None)
    }
}

fn add(set: &mut Vec<String>, name: &str) {
    if !set.iter().any(|s| s == name) {
        set.push(name.to_string());
    }
}

/// `plan` rewritten to produce at least the columns `needed` (`None`: all
/// its columns, exactly). Returns `plan` itself when nothing changes.
fn prune(plan: &Arc<LogicalPlan>, needed: Option<&[String]>) -> Result<Arc<LogicalPlan>> {
    let schema = plan.schema();
    let all: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    // Every node keeps at least one column so chunks keep their row counts
    // (`count()` over a scan needs no column but still the rows).
    let needed: Vec<String> = match needed {
        None => all.clone(),
        Some([]) => all.iter().take(1).cloned().collect(),
        Some(n) => all.iter().filter(|c| n.contains(c)).cloned().collect(),
    };
    let wanted = |name: &str| needed.iter().any(|n| n == name);
    let unchanged_children = |new: &[Arc<LogicalPlan>]| {
        new.iter()
            .zip(plan.inputs())
            .all(|(a, b)| Arc::ptr_eq(a, b))
    };
    match plan.node() {
        PlanNode::Scan(s) => {
            if needed.len() == all.len() {
                return Ok(Arc::clone(plan));
            }
            LogicalPlan::with_id(
                plan.id(),
                PlanNode::Scan(ScanNode {
                    projection: Some(needed),
                    ..s.clone()
                }),
            )
        }
        PlanNode::Table(t) => {
            if needed.len() == all.len() {
                return Ok(Arc::clone(plan));
            }
            LogicalPlan::with_id(
                plan.id(),
                PlanNode::Table(TableNode {
                    projection: Some(needed),
                    ..t.clone()
                }),
            )
        }
        PlanNode::Select { input, exprs } => {
            let kept: Vec<_> = exprs
                .iter()
                .filter(|e| wanted(&e.output_name()))
                .cloned()
                .collect();
            let mut from = Vec::new();
            kept.iter()
                .flat_map(|e| e.columns())
                .for_each(|c| add(&mut from, &c));
            let child = prune(input, Some(&from))?;
            if kept.len() == exprs.len() && Arc::ptr_eq(&child, input) {
                return Ok(Arc::clone(plan));
            }
            LogicalPlan::with_id(
                plan.id(),
                PlanNode::Select {
                    input: child,
                    exprs: kept,
                },
            )
        }
        PlanNode::Filter { input, predicate } => {
            let mut from = needed.clone();
            predicate.columns().iter().for_each(|c| add(&mut from, c));
            let child = prune(input, Some(&from))?;
            rebuild(plan, vec![child], unchanged_children)
        }
        PlanNode::WithColumns { input, exprs } => {
            let kept: Vec<_> = exprs
                .iter()
                .filter(|e| wanted(&e.output_name()))
                .cloned()
                .collect();
            let produced: Vec<String> = kept.iter().map(|e| e.output_name()).collect();
            let mut from: Vec<String> = needed
                .iter()
                .filter(|n| !produced.contains(n))
                .cloned()
                .collect();
            kept.iter()
                .flat_map(|e| e.columns())
                .for_each(|c| add(&mut from, &c));
            let child = prune(input, Some(&from))?;
            if kept.is_empty() {
                return Ok(child);
            }
            if kept.len() == exprs.len() && Arc::ptr_eq(&child, input) {
                return Ok(Arc::clone(plan));
            }
            LogicalPlan::with_id(
                plan.id(),
                PlanNode::WithColumns {
                    input: child,
                    exprs: kept,
                },
            )
        }
        PlanNode::Apply { input, udf } => {
            if !wanted(udf.output()) {
                // Nobody reads what the closure computes.
                return prune(input, Some(&needed));
            }
            let mut from: Vec<String> = needed
                .iter()
                .filter(|n| n.as_str() != udf.output())
                .cloned()
                .collect();
            udf.inputs().iter().for_each(|c| add(&mut from, c));
            let child = prune(input, Some(&from))?;
            rebuild(plan, vec![child], unchanged_children)
        }
        PlanNode::MapBatches { input, .. } => {
            let child = prune(input, None)?;
            rebuild(plan, vec![child], unchanged_children)
        }
        PlanNode::Limit { input, .. } => {
            let child = prune(input, Some(&needed))?;
            rebuild(plan, vec![child], unchanged_children)
        }
        PlanNode::Sort { input, keys, .. } => {
            let mut from = needed.clone();
            keys.iter().for_each(|k| add(&mut from, &k.column));
            let child = prune(input, Some(&from))?;
            rebuild(plan, vec![child], unchanged_children)
        }
        PlanNode::RowIndex { input, name, .. } => {
            let from: Vec<String> = needed.iter().filter(|n| *n != name).cloned().collect();
            let child = prune(input, Some(&from))?;
            rebuild(plan, vec![child], unchanged_children)
        }
        PlanNode::HConcat { inputs } => {
            // Each input gives the needed columns it has (at least one, so
            // its rows are still counted against the others').
            let mut new = Vec::with_capacity(inputs.len());
            for i in inputs {
                let s = i.schema();
                let mine: Vec<String> = needed
                    .iter()
                    .filter(|n| s.index_of(n).is_ok())
                    .cloned()
                    .collect();
                new.push(prune(i, Some(&mine))?);
            }
            rebuild(plan, new, unchanged_children)
        }
        PlanNode::Explode { input, column } => {
            let mut from = needed.clone();
            add(&mut from, column);
            let child = prune(input, Some(&from))?;
            rebuild(plan, vec![child], unchanged_children)
        }
        PlanNode::Window {
            input,
            window,
            exprs,
            fetch,
        } => {
            let kept: Vec<_> = exprs.iter().filter(|e| wanted(&e.name)).cloned().collect();
            if kept.is_empty() {
                // Window functions never change the rows: without a window
                // column read above, the node is not needed.
                return prune(input, Some(&needed));
            }
            let mut from: Vec<String> = needed
                .iter()
                .filter(|n| !kept.iter().any(|e| &e.name == *n))
                .cloned()
                .collect();
            kept.iter()
                .flat_map(|e| e.columns())
                .for_each(|c| add(&mut from, &c));
            let child = prune(input, Some(&from))?;
            if kept.len() == exprs.len() && Arc::ptr_eq(&child, input) {
                return Ok(Arc::clone(plan));
            }
            LogicalPlan::with_id(
                plan.id(),
                PlanNode::Window {
                    input: child,
                    window: window.clone(),
                    exprs: kept,
                    fetch: *fetch,
                },
            )
        }
        PlanNode::Aggregate {
            input,
            keys,
            aggs,
            sorted,
        } => {
            let mut kept: Vec<_> = aggs
                .iter()
                .filter(|a| wanted(&a.output_name()))
                .cloned()
                .collect();
            if keys.is_empty() && kept.is_empty() {
                kept = aggs.iter().take(1).cloned().collect();
            }
            let mut from = keys.clone();
            let mut leaves = Vec::new();
            kept.iter().for_each(|a| a.collect_leaves(&mut leaves));
            leaves
                .iter()
                .flat_map(|l| l.columns())
                .for_each(|c| add(&mut from, c));
            let child = prune(input, Some(&from))?;
            if kept.len() == aggs.len() && Arc::ptr_eq(&child, input) {
                return Ok(Arc::clone(plan));
            }
            LogicalPlan::with_id(
                plan.id(),
                PlanNode::Aggregate {
                    input: child,
                    keys: keys.clone(),
                    aggs: kept,
                    sorted: *sorted,
                },
            )
        }
        PlanNode::Join(j) => prune_join(plan, j, &needed),
        PlanNode::Union { inputs } => {
            let mut new = Vec::with_capacity(inputs.len());
            for i in inputs {
                let p = prune(i, Some(&needed))?;
                let names: Vec<String> = p
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                // Inputs line up by position: give each exactly `needed`.
                if names == needed {
                    new.push(p);
                } else {
                    new.push(LogicalPlan::select(
                        &p,
                        needed.iter().map(|n| col(n.as_str())).collect(),
                    )?);
                }
            }
            rebuild(plan, new, unchanged_children)
        }
    }
}

fn rebuild(
    plan: &Arc<LogicalPlan>,
    inputs: Vec<Arc<LogicalPlan>>,
    unchanged: impl Fn(&[Arc<LogicalPlan>]) -> bool,
) -> Result<Arc<LogicalPlan>> {
    if unchanged(&inputs) {
        Ok(Arc::clone(plan))
    } else {
        plan.with_inputs(inputs)
    }
}

fn prune_join(
    plan: &Arc<LogicalPlan>,
    j: &JoinNode,
    needed: &[String],
) -> Result<Arc<LogicalPlan>> {
    let filter_cols: Vec<&JoinColumn> = j
        .filter
        .iter()
        .flat_map(|f| f.columns.iter().map(|(c, _)| c))
        .collect();
    let columns: Vec<(JoinColumn, String)> = j
        .columns
        .iter()
        .filter(|(_, name)| needed.contains(name))
        .cloned()
        .collect();
    let mut left: Vec<String> = j.left_on.clone();
    let mut right: Vec<String> = j.right_on.clone();
    for c in columns.iter().map(|(c, _)| c).chain(filter_cols) {
        match c {
            JoinColumn::Left(n) => add(&mut left, n),
            JoinColumn::Right(n) => add(&mut right, n),
            JoinColumn::Key(a, b) => {
                add(&mut left, a);
                add(&mut right, b);
            }
        }
    }
    let new_left = prune(&j.left, Some(&left))?;
    let new_right = prune(&j.right, Some(&right))?;
    if columns.len() == j.columns.len()
        && Arc::ptr_eq(&new_left, &j.left)
        && Arc::ptr_eq(&new_right, &j.right)
    {
        return Ok(Arc::clone(plan));
    }
    LogicalPlan::with_id(
        plan.id(),
        PlanNode::Join(JoinNode {
            left: new_left,
            right: new_right,
            columns,
            ..j.clone()
        }),
    )
}

#[cfg(test)]
mod tests {
    use parframe_core::lit;

    use super::*;
    use crate::agg::sum;
    use crate::join::{JoinOptions, JoinType};

    fn t(names: &[&str]) -> Arc<LogicalPlan> {
        let cols = names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    Arc::new(arrow_array::Int64Array::from(vec![1i64, 2])) as arrow_array::ArrayRef,
                )
            })
            .collect();
        LogicalPlan::table(parframe_core::Table::from_columns(cols).unwrap())
    }

    fn projection(p: &LogicalPlan) -> Option<Vec<String>> {
        match p.node() {
            PlanNode::Table(t) => t.projection.clone(),
            _ => panic!("not a table"),
        }
    }

    #[test]
    fn filter_then_select_prunes_the_table() {
        let base = t(&["a", "b", "c"]);
        let f = LogicalPlan::filter(&base, col("b").gt(lit(1i64))).unwrap();
        let s = LogicalPlan::select(&f, vec![col("a")]).unwrap();
        let out = ProjectionPushdown.rewrite(s.clone()).unwrap();
        assert_eq!(out.id(), s.id());
        let filter = out.input().unwrap();
        assert_eq!(filter.id(), f.id());
        assert_eq!(
            projection(filter.input().unwrap()),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        // A second run changes nothing (the fixed point).
        let again = ProjectionPushdown.rewrite(out.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &out));
        assert_eq!(out.schema(), s.schema());
    }

    #[test]
    fn join_payloads_and_aggregates_are_pruned() {
        let l = t(&["k", "x", "unused_l"]);
        let r = t(&["k2", "y", "unused_r"]);
        let j = LogicalPlan::join(
            &l,
            &r,
            vec!["k".into()],
            vec!["k2".into()],
            JoinType::Inner,
            JoinOptions::default(),
            None,
        )
        .unwrap();
        let a =
            LogicalPlan::aggregate(&j, vec!["x".into()], vec![sum("y"), sum("k")], false).unwrap();
        let s = LogicalPlan::select(&a, vec![col("x"), col("y")]).unwrap();
        let out = ProjectionPushdown.rewrite(s).unwrap();
        let agg = out.input().unwrap();
        let PlanNode::Aggregate { aggs, .. } = agg.node() else {
            panic!("aggregate expected")
        };
        assert_eq!(aggs, &vec![sum("y")]);
        let join = agg.input().unwrap();
        let PlanNode::Join(jn) = join.node() else {
            panic!("join expected")
        };
        assert_eq!(
            projection(&jn.left),
            Some(vec!["k".to_string(), "x".to_string()])
        );
        assert_eq!(
            projection(&jn.right),
            Some(vec!["k2".to_string(), "y".to_string()])
        );
        let names: Vec<&str> = jn.columns.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, vec!["x", "y"]);
    }

    #[test]
    fn union_inputs_keep_the_same_columns() {
        let a = t(&["a", "b"]);
        let b = LogicalPlan::select(&t(&["b", "a"]), vec![col("a"), col("b")]).unwrap();
        let u = LogicalPlan::union(vec![a, b]).unwrap();
        let s = LogicalPlan::select(&u, vec![col("b")]).unwrap();
        let out = ProjectionPushdown.rewrite(s).unwrap();
        let u = out.input().unwrap();
        for i in u.inputs() {
            let names: Vec<String> = i
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(names, vec!["b".to_string()]);
        }
    }
}
