//! Predicate pushdown: filters move as close to the data as the semantics
//! allow, split into conjuncts that move independently.
//!
//! - **Select / with_columns**: a conjunct moves below with the columns it
//!   reads replaced by the expressions that compute them.
//! - **Sort** (without a fetch) and **explode** (conjuncts not reading the
//!   exploded column): below, unchanged.
//! - **Aggregate**: conjuncts reading only group keys go below (not for a
//!   global aggregate, which yields a row even from no input).
//! - **Union**: a copy goes into every input.
//! - **Join**: a conjunct reading one side goes into that side when the
//!   join does not preserve the other side's unmatched rows: inner, cross,
//!   semi and anti joins take conjuncts on the left (and inner/cross on the
//!   right), left joins only on the left, right joins only on the right,
//!   full joins none. A conjunct reading both sides of an inner or cross
//!   join becomes part of the join: an equality between a left and a right
//!   column of one type becomes a hash key (a cross join turns into an
//!   inner one), anything else the residual condition. Conversely, residual
//!   conjuncts of an inner join reading one side go into that side, and
//!   those of a left (right) join reading only the right (left) side go
//!   into it (they only decide matches on the side that is not preserved).
//! - **Scan**: the conjuncts are kept by the scan, which evaluates them on
//!   every chunk it reads.
//! - Limits, top-k sorts, closures (`apply`, `map_batches`), row indexes
//!   (a filter below would renumber the rows), horizontal concats and
//!   tables stop filters: what is left becomes a `Filter` above them.

use std::collections::HashMap;
use std::sync::Arc;

use parframe_common::Result;
use parframe_core::Expr;
use parframe_core::expr::BinaryOp;

use crate::expr_util::{
    conjunction, rename_columns, split_conjunction, split_disjunction, substitute,
};
use crate::join::{JoinColumn, JoinType, joinable};
use crate::logical::{JoinFilter, JoinNode, LogicalPlan, PlanNode, ScanNode};
use crate::optimizer::OptimizerRule;

/// The rule (see the module docs).
pub struct PredicatePushdown;

impl OptimizerRule for PredicatePushdown {
    fn name(&self) -> &'static str {
        "predicate_pushdown"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        let out = push(&plan, Vec::new())?;
        // Pushing rebuilds the nodes it passes: report "unchanged" when the
        // plan is the same (so the optimizer sees its fixed point).
        if crate::explain(&out) == crate::explain(&plan) {
            Ok(plan)
        } else {
            Ok(out)
        }
    }
}

/// `plan` with the conjuncts `preds` (over its output columns) applied,
/// as deep as they can go.
fn push(plan: &Arc<LogicalPlan>, mut preds: Vec<Expr>) -> Result<Arc<LogicalPlan>> {
    match plan.node() {
        PlanNode::Filter { input, predicate } => {
            preds.extend(split_conjunction(predicate));
            push(input, preds)
        }
        PlanNode::Select { input, exprs } | PlanNode::WithColumns { input, exprs } => {
            let with_columns = matches!(plan.node(), PlanNode::WithColumns { .. });
            let map: HashMap<String, Expr> =
                exprs.iter().map(|e| (e.output_name(), e.clone())).collect();
            let mut below = Vec::new();
            let mut above = Vec::new();
            for p in preds {
                let cols = p.columns();
                // A select's output columns are all computed by its exprs; a
                // with_columns passes its input's other columns through.
                if with_columns || cols.iter().all(|c| map.contains_key(c)) {
                    below.push(substitute(&p, &map)?);
                } else {
                    above.push(p);
                }
            }
            let child = push(input, below)?;
            filter_above(plan.with_inputs(vec![child])?, above)
        }
        PlanNode::Sort {
            input, fetch: None, ..
        } => {
            let child = push(input, preds)?;
            plan.with_inputs(vec![child])
        }
        PlanNode::Explode { input, column } => {
            let (below, above): (Vec<_>, Vec<_>) = preds
                .into_iter()
                .partition(|p| !p.columns().contains(column));
            let child = push(input, below)?;
            filter_above(plan.with_inputs(vec![child])?, above)
        }
        // A condition on the partition keys alone keeps or drops whole
        // partitions, which leaves every other partition's window values
        // unchanged: it may run first. Anything else sees window values
        // (or changes which rows a frame holds) and stays above.
        PlanNode::Window {
            input,
            window,
            exprs,
            ..
        } => {
            let (below, above): (Vec<_>, Vec<_>) = preds.into_iter().partition(|p| {
                let cols = p.columns();
                !window.partition_by.is_empty()
                    && cols.iter().all(|c| {
                        window.partition_by.contains(c) && !exprs.iter().any(|e| &e.name == c)
                    })
            });
            let child = push(input, below)?;
            filter_above(plan.with_inputs(vec![child])?, above)
        }
        PlanNode::Aggregate { input, keys, .. } => {
            let (below, above): (Vec<_>, Vec<_>) = preds
                .into_iter()
                .partition(|p| !keys.is_empty() && p.columns().iter().all(|c| keys.contains(c)));
            let child = push(input, below)?;
            filter_above(plan.with_inputs(vec![child])?, above)
        }
        PlanNode::Union { inputs } => {
            let new = inputs
                .iter()
                .map(|i| push(i, preds.clone()))
                .collect::<Result<Vec<_>>>()?;
            plan.with_inputs(new)
        }
        PlanNode::Scan(s) => {
            if preds.is_empty() {
                return Ok(Arc::clone(plan));
            }
            let mut filters = s.filters.clone();
            for p in preds {
                if !filters.contains(&p) {
                    filters.push(p);
                }
            }
            LogicalPlan::with_id(
                plan.id(),
                PlanNode::Scan(ScanNode {
                    filters,
                    ..s.clone()
                }),
            )
        }
        PlanNode::Join(j) => push_join(plan, j, preds),
        // Barriers: the filters stay above, the inputs get their own pass.
        PlanNode::Table(_)
        | PlanNode::Limit { .. }
        | PlanNode::Sort { .. }
        | PlanNode::Apply { .. }
        | PlanNode::RowIndex { .. }
        | PlanNode::HConcat { .. }
        | PlanNode::MapBatches { .. } => {
            let inputs: Vec<Arc<LogicalPlan>> = plan
                .inputs()
                .into_iter()
                .map(|i| push(i, Vec::new()))
                .collect::<Result<_>>()?;
            let node = if inputs.is_empty() {
                Arc::clone(plan)
            } else {
                plan.with_inputs(inputs)?
            };
            filter_above(node, preds)
        }
    }
}

fn filter_above(plan: Arc<LogicalPlan>, preds: Vec<Expr>) -> Result<Arc<LogicalPlan>> {
    match conjunction(preds) {
        None => Ok(plan),
        Some(p) => LogicalPlan::filter(&plan, p),
    }
}

/// Which input an output column of a join reads, for filtering purposes:
/// `(left input name, right input name)`, either missing when the column's
/// value does not always equal that input's column.
fn sides(j: &JoinNode) -> HashMap<String, (Option<String>, Option<String>)> {
    j.columns
        .iter()
        .map(|(c, name)| {
            let s = match c {
                JoinColumn::Left(n) => (Some(n.clone()), None),
                JoinColumn::Right(n) => (None, Some(n.clone())),
                // A coalesced key is the left value where a left row is
                // present, the right value where a right row is.
                JoinColumn::Key(a, b) => match j.how {
                    JoinType::Inner | JoinType::Cross => (Some(a.clone()), Some(b.clone())),
                    JoinType::Left | JoinType::Semi | JoinType::Anti => (Some(a.clone()), None),
                    JoinType::Right => (None, Some(b.clone())),
                    JoinType::Full => (None, None),
                },
            };
            (name.clone(), s)
        })
        .collect()
}

fn push_join(plan: &Arc<LogicalPlan>, j: &JoinNode, preds: Vec<Expr>) -> Result<Arc<LogicalPlan>> {
    let side = sides(j);
    let (to_left_ok, to_right_ok) = match j.how {
        JoinType::Inner | JoinType::Cross => (true, true),
        JoinType::Semi | JoinType::Anti | JoinType::Left => (true, false),
        JoinType::Right => (false, true),
        JoinType::Full => (false, false),
    };
    let inner_like = matches!(j.how, JoinType::Inner | JoinType::Cross);
    let mut left = Vec::new();
    let mut right = Vec::new();
    let mut above = Vec::new();
    let mut into_join = Vec::new();
    for p in preds {
        let cols = p.columns();
        let on_left: Option<HashMap<String, String>> = cols
            .iter()
            .map(|c| {
                side.get(c)
                    .and_then(|s| s.0.clone())
                    .map(|n| (c.clone(), n))
            })
            .collect();
        let on_right: Option<HashMap<String, String>> = cols
            .iter()
            .map(|c| {
                side.get(c)
                    .and_then(|s| s.1.clone())
                    .map(|n| (c.clone(), n))
            })
            .collect();
        match (on_left, on_right) {
            (Some(m), _) if to_left_ok => left.push(rename_columns(&p, &m)?),
            (_, Some(m)) if to_right_ok => right.push(rename_columns(&p, &m)?),
            _ if inner_like && cols.iter().all(|c| side.contains_key(c)) => into_join.push(p),
            _ => above.push(p),
        }
    }
    // The join's own residual: conjuncts that only decide matches on one
    // side's rows can be applied to that side first.
    let mut residual: Vec<Expr> = Vec::new();
    let mut residual_cols: Vec<(JoinColumn, String)> = Vec::new();
    if let Some(f) = &j.filter {
        residual_cols = f.columns.clone();
        let (res_left_ok, res_right_ok) = match j.how {
            JoinType::Inner | JoinType::Cross | JoinType::Semi => (true, true),
            JoinType::Left | JoinType::Anti => (false, true),
            JoinType::Right => (true, false),
            JoinType::Full => (false, false),
        };
        for c in split_conjunction(&f.expr) {
            let cols = c.columns();
            let find = |n: &str| f.columns.iter().find(|(_, m)| m == n).map(|(jc, _)| jc);
            let only = |want_left: bool| -> Option<HashMap<String, String>> {
                cols.iter()
                    .map(|n| match find(n) {
                        Some(JoinColumn::Left(x)) if want_left => Some((n.clone(), x.clone())),
                        Some(JoinColumn::Right(x)) if !want_left => Some((n.clone(), x.clone())),
                        _ => None,
                    })
                    .collect()
            };
            if cols.is_empty() {
                residual.push(c);
            } else if let (true, Some(m)) = (res_left_ok, only(true)) {
                left.push(rename_columns(&c, &m)?);
            } else if let (true, Some(m)) = (res_right_ok, only(false)) {
                right.push(rename_columns(&c, &m)?);
            } else {
                residual.push(c);
            }
        }
    }
    // Conjuncts over both sides of an inner or cross join: keys or residual.
    let mut left_on = j.left_on.clone();
    let mut right_on = j.right_on.clone();
    let (ls, rs) = (j.left.schema(), j.right.schema());
    for p in &into_join {
        // An OR over both sides implies one over each side's own terms
        // (see `implied`): those go down, the OR stays in the residual.
        // Only here, as a predicate enters the join, so that later passes
        // (which see it in the residual) do not derive it again.
        if let Some(l) = implied(p, &|c| side.get(c).and_then(|s| s.0.clone())) {
            left.push(l?);
        }
        if let Some(r) = implied(p, &|c| side.get(c).and_then(|s| s.1.clone())) {
            right.push(r?);
        }
    }
    for p in into_join {
        if let Some((a, b)) = equi_key(&p, &side)
            && let (Ok(fa), Ok(fb)) = (ls.field_with_name(&a), rs.field_with_name(&b))
            && fa.data_type() == fb.data_type()
            && joinable(fa.data_type())
        {
            left_on.push(a);
            right_on.push(b);
            continue;
        }
        // Into the residual, under names that do not clash with its own.
        let mut rename = HashMap::new();
        for c in p.columns() {
            let jc = match side.get(&c) {
                Some((Some(l), _)) => JoinColumn::Left(l.clone()),
                Some((None, Some(r))) => JoinColumn::Right(r.clone()),
                _ => continue,
            };
            let name = match residual_cols.iter().find(|(x, _)| x == &jc) {
                Some((_, n)) => n.clone(),
                None => {
                    let mut n = c.clone();
                    while residual_cols.iter().any(|(_, m)| m == &n) {
                        n.push('\'');
                    }
                    residual_cols.push((jc, n.clone()));
                    n
                }
            };
            rename.insert(c, name);
        }
        residual.push(rename_columns(&p, &rename)?);
    }
    let new_left = push(&j.left, left)?;
    let new_right = push(&j.right, right)?;
    let filter = conjunction(residual).map(|expr| {
        let used = expr.columns();
        JoinFilter {
            expr,
            columns: residual_cols
                .into_iter()
                .filter(|(_, n)| used.contains(n))
                .collect(),
        }
    });
    let how = if j.how == JoinType::Cross && !left_on.is_empty() {
        JoinType::Inner
    } else {
        j.how
    };
    let node = LogicalPlan::with_id(
        plan.id(),
        PlanNode::Join(JoinNode {
            left: new_left,
            right: new_right,
            left_on,
            right_on,
            how,
            filter,
            ..j.clone()
        }),
    )?;
    filter_above(node, above)
}

/// For `p = B1 OR B2 OR ...` (two or more branches), the predicate over one
/// input that `p` implies: `L1 OR L2 OR ...`, where `Li` is the AND of the
/// conjuncts of `Bi` whose columns are all that input's (`input_name`
/// gives a column's name there), renamed to its names. `None` when `p` is
/// no OR or some branch has no such conjunct.
///
/// Why it holds: a row pair passes `p` when some `Bi` is true, and then
/// all of `Bi`'s conjuncts, `Li` among them, are true; so rows of the
/// input failing every `Li` can be dropped before an inner join. TPC-H Q7
/// (`(n1 = 'FRANCE' AND n2 = 'GERMANY') OR (n1 = 'GERMANY' AND n2 =
/// 'FRANCE')` gives `n1 IN` both, and `n2 IN` both) and Q19 need it.
fn implied(p: &Expr, input_name: &dyn Fn(&str) -> Option<String>) -> Option<Result<Expr>> {
    let branches = split_disjunction(p);
    if branches.len() < 2 {
        return None;
    }
    let mut parts = Vec::with_capacity(branches.len());
    for b in &branches {
        let mut mine = Vec::new();
        for c in split_conjunction(b) {
            let cols = c.columns();
            let map: Option<HashMap<String, String>> = cols
                .iter()
                .map(|n| input_name(n).map(|m| (n.clone(), m)))
                .collect();
            match map {
                Some(m) if !cols.is_empty() => mine.push(rename_columns(&c, &m)),
                _ => {}
            }
        }
        let mine = match mine.into_iter().collect::<Result<Vec<_>>>() {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        };
        parts.push(conjunction(mine)?);
    }
    parts.into_iter().reduce(|a, b| a.or(b)).map(Ok)
}

/// `a = b` with `a` an output column from the left input and `b` one from
/// the right (or the other way round): their input names (left, right).
fn equi_key(
    p: &Expr,
    side: &HashMap<String, (Option<String>, Option<String>)>,
) -> Option<(String, String)> {
    let Expr::Binary {
        left,
        op: BinaryOp::Eq,
        right,
    } = p
    else {
        return None;
    };
    let (Expr::Column(a), Expr::Column(b)) = (&**left, &**right) else {
        return None;
    };
    let (sa, sb) = (side.get(a)?, side.get(b)?);
    match (sa, sb) {
        ((Some(l), None), (None, Some(r))) | ((None, Some(r)), (Some(l), None)) => {
            Some((l.clone(), r.clone()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::optimizer::test_plans::{join, table as t};
    use parframe_core::{col, lit};

    use super::*;
    use crate::agg::sum;

    fn filter_of(p: &LogicalPlan) -> Option<&Expr> {
        match p.node() {
            PlanNode::Filter { predicate, .. } => Some(predicate),
            _ => None,
        }
    }

    #[test]
    fn where_over_a_cross_join_becomes_keys_and_side_filters() {
        let j = join(&t(&["a", "x"]), &t(&["b", "y"]), ("", ""), JoinType::Cross);
        let pred = col("a")
            .eq(col("b"))
            .and(col("x").gt(lit(1i64)))
            .and(col("y").lt(lit(5i64)))
            .and(col("x").lt(col("y")));
        let f = LogicalPlan::filter(&j, pred).unwrap();
        let out = PredicatePushdown.rewrite(f).unwrap();
        let PlanNode::Join(jn) = out.node() else {
            panic!("join on top expected: {out:?}")
        };
        assert_eq!(jn.how, JoinType::Inner);
        assert_eq!(jn.left_on, vec!["a".to_string()]);
        assert_eq!(jn.right_on, vec!["b".to_string()]);
        assert_eq!(jn.filter.as_ref().unwrap().expr, col("x").lt(col("y")));
        assert_eq!(filter_of(&jn.left), Some(&col("x").gt(lit(1i64))));
        assert_eq!(filter_of(&jn.right), Some(&col("y").lt(lit(5i64))));
        assert_eq!(out.schema(), j.schema());
        // Fixed point.
        let again = PredicatePushdown.rewrite(out.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &out));
    }

    #[test]
    fn an_or_over_both_sides_sends_what_it_implies_to_each() {
        let j = join(&t(&["a", "x"]), &t(&["b", "y"]), ("", ""), JoinType::Cross);
        let either = col("x")
            .eq(lit(1i64))
            .and(col("y").eq(lit(2i64)))
            .or(col("x")
                .eq(lit(2i64))
                .and(col("y").gt(lit(0i64)))
                .and(col("x").lt(col("y"))));
        let f = LogicalPlan::filter(&j, col("a").eq(col("b")).and(either.clone())).unwrap();
        let out = PredicatePushdown.rewrite(f).unwrap();
        let PlanNode::Join(jn) = out.node() else {
            panic!("join on top expected: {out:?}")
        };
        // The OR stays as the residual; each side gets the OR of its own
        // terms of each branch.
        assert_eq!(jn.filter.as_ref().unwrap().expr, either);
        assert_eq!(
            filter_of(&jn.left),
            Some(&col("x").eq(lit(1i64)).or(col("x").eq(lit(2i64))))
        );
        assert_eq!(
            filter_of(&jn.right),
            Some(&col("y").eq(lit(2i64)).or(col("y").gt(lit(0i64))))
        );
        // Fixed point: the residual does not derive them again.
        let again = PredicatePushdown.rewrite(out.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &out));
        // A branch without a term of its own implies nothing for that side.
        let loose = col("x").eq(lit(1i64)).or(col("y").eq(lit(2i64)));
        let f = LogicalPlan::filter(&j, col("a").eq(col("b")).and(loose)).unwrap();
        let out = PredicatePushdown.rewrite(f).unwrap();
        let PlanNode::Join(jn) = out.node() else {
            panic!("join on top expected: {out:?}")
        };
        assert_eq!(filter_of(&jn.left), None);
        assert_eq!(filter_of(&jn.right), None);
    }

    #[test]
    fn outer_joins_keep_filters_on_the_null_side_above() {
        let j = join(&t(&["k", "x"]), &t(&["k", "y"]), ("k", "k"), JoinType::Left);
        let pred = col("x").gt(lit(1i64)).and(col("y").gt(lit(1i64)));
        let out = PredicatePushdown
            .rewrite(LogicalPlan::filter(&j, pred).unwrap())
            .unwrap();
        assert_eq!(filter_of(&out), Some(&col("y").gt(lit(1i64))));
        let PlanNode::Join(jn) = out.input().unwrap().node() else {
            panic!("join expected")
        };
        assert_eq!(filter_of(&jn.left), Some(&col("x").gt(lit(1i64))));
        assert!(filter_of(&jn.right).is_none());
        // A full join keeps everything above.
        let j = join(&t(&["k", "x"]), &t(&["k", "y"]), ("k", "k"), JoinType::Full);
        let out = PredicatePushdown
            .rewrite(LogicalPlan::filter(&j, col("x").gt(lit(1i64))).unwrap())
            .unwrap();
        assert!(filter_of(&out).is_some());
    }

    #[test]
    fn through_selects_and_aggregates_on_keys() {
        let base = t(&["k", "v"]);
        let s = LogicalPlan::select(&base, vec![col("k").alias("g"), col("v")]).unwrap();
        let a = LogicalPlan::aggregate(&s, vec!["g".into()], vec![sum("v")], false).unwrap();
        let pred = col("g").gt(lit(1i64)).and(col("v").gt(lit(10i64)));
        let out = PredicatePushdown
            .rewrite(LogicalPlan::filter(&a, pred).unwrap())
            .unwrap();
        // The filter on the sum stays above the aggregate.
        assert_eq!(filter_of(&out), Some(&col("v").gt(lit(10i64))));
        let agg = out.input().unwrap();
        let select = agg.input().unwrap();
        // The key filter went below the select, rewritten to its input.
        assert_eq!(
            filter_of(select.input().unwrap()),
            Some(&col("k").gt(lit(1i64)))
        );
        // A global aggregate stops every filter.
        let g = LogicalPlan::aggregate(&base, vec![], vec![sum("v")], false).unwrap();
        let out = PredicatePushdown
            .rewrite(LogicalPlan::filter(&g, lit(false)).unwrap())
            .unwrap();
        assert!(filter_of(&out).is_some());
    }
}
