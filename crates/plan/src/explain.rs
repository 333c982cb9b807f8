//! The pretty printer: one node a line, output first, inputs indented.

use std::fmt::Write as _;

use parframe_core::Expr;

use crate::logical::{LogicalPlan, PlanNode};
use crate::sort::describe_keys;

fn join_exprs(exprs: &[Expr]) -> String {
    exprs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line describing `plan`'s node (without its inputs).
pub fn describe(plan: &LogicalPlan) -> String {
    match plan.node() {
        PlanNode::Scan(s) => {
            let mut out = format!("Scan {}", s.source.describe());
            if let Some(p) = &s.projection {
                // The columns decoded: the projection and what the filters read.
                let used: Vec<String> = s.filters.iter().flat_map(|f| f.columns()).collect();
                let decoded: Vec<String> = s
                    .source
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .filter(|n| p.contains(n) || used.contains(n))
                    .collect();
                let _ = write!(out, " columns=[{}]", decoded.join(", "));
            }
            if !s.filters.is_empty() {
                let _ = write!(out, " filters=[{}]", join_exprs(&s.filters));
            }
            if let Some(n) = s.fetch {
                let _ = write!(out, " limit={n}");
            }
            out
        }
        PlanNode::Table(t) => {
            let mut out = format!(
                "Table [{} rows, {} chunks]",
                t.table.num_rows(),
                t.table.num_chunks()
            );
            if let Some(p) = &t.projection {
                let _ = write!(out, " columns=[{}]", p.join(", "));
            }
            out
        }
        PlanNode::Select { exprs, .. } => format!("Select {}", join_exprs(exprs)),
        PlanNode::Filter { predicate, .. } => format!("Filter {predicate}"),
        PlanNode::WithColumns { exprs, .. } => format!("WithColumns {}", join_exprs(exprs)),
        PlanNode::Apply { udf, .. } => format!(
            "Apply {} <- closure({}){}",
            udf.output(),
            udf.inputs().join(", "),
            if udf.options().skip_nulls {
                " skip_nulls"
            } else {
                ""
            }
        ),
        PlanNode::MapBatches { .. } => "MapBatches <closure>".to_string(),
        PlanNode::Limit { skip, fetch, .. } => match (skip, fetch) {
            (0, Some(n)) => format!("Limit {n}"),
            (k, Some(n)) => format!("Limit {n} offset {k}"),
            (k, None) => format!("Offset {k}"),
        },
        PlanNode::Aggregate {
            keys, aggs, sorted, ..
        } => format!(
            "Aggregate keys=[{}] aggs=[{}]{}",
            keys.join(", "),
            aggs.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if *sorted { " sorted" } else { "" }
        ),
        PlanNode::Sort {
            keys, fetch: None, ..
        } => format!("Sort [{}]", describe_keys(keys)),
        PlanNode::Sort {
            keys,
            fetch: Some(k),
            ..
        } => format!("TopK {k} [{}]", describe_keys(keys)),
        PlanNode::Join(j) => {
            let mut s = format!("Join {}", j.how);
            if !j.left_on.is_empty() {
                let on: Vec<String> = j
                    .left_on
                    .iter()
                    .zip(&j.right_on)
                    .map(|(l, r)| format!("{l} = {r}"))
                    .collect();
                let _ = write!(s, " on [{}]", on.join(", "));
            }
            if let Some(f) = &j.filter {
                let _ = write!(s, " filter={}", f.expr);
            }
            if j.options.build() != crate::BuildSide::Auto || j.planned_build.is_some() {
                s.push_str(if j.builds_left() {
                    " build=left"
                } else {
                    " build=right"
                });
            }
            if j.options.validation() != crate::JoinValidation::ManyToMany {
                let _ = write!(s, " validate={:?}", j.options.validation());
            }
            s
        }
        PlanNode::Union { inputs } => format!("Union [{} inputs]", inputs.len()),
        PlanNode::Explode { column, .. } => format!("Explode {column}"),
        PlanNode::RowIndex { name, offset, .. } => format!("RowIndex {name} from {offset}"),
        PlanNode::HConcat { inputs } => format!("HConcat [{} inputs]", inputs.len()),
        PlanNode::Window {
            window,
            exprs,
            fetch,
            ..
        } => format!(
            "Window {window} [{}]{}",
            exprs
                .iter()
                .map(|e| format!("{} AS {}", e.func, e.name))
                .collect::<Vec<_>>()
                .join(", "),
            fetch.map_or(String::new(), |k| format!(" top {k} per partition"))
        ),
    }
}

/// The plan as indented text, one operator a line, output first.
pub fn explain(plan: &LogicalPlan) -> String {
    let mut out = String::new();
    explain_with(plan, &mut out, 0, &mut |_| None);
    out
}

/// [`explain`] into `out` from `depth` on, with `note(node)` appended to
/// each node's line in brackets when it gives one.
pub fn explain_with(
    plan: &LogicalPlan,
    out: &mut String,
    depth: usize,
    note: &mut dyn FnMut(&LogicalPlan) -> Option<String>,
) {
    let _ = write!(out, "{}{}", "  ".repeat(depth), describe(plan));
    if let Some(n) = note(plan) {
        let _ = write!(out, "  [{n}]");
    }
    out.push('\n');
    for i in plan.inputs() {
        explain_with(i, out, depth + 1, note);
    }
}
