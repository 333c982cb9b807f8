//! Join planning: a tree of inner and cross joins (what `FROM a, b, c
//! WHERE ...` becomes once predicate pushdown has turned the `WHERE`
//! conjuncts into keys and residuals) is flattened into a join graph of
//! its inputs (the relations) and its conditions (key equalities between
//! two relations, residual conjuncts over several), and rebuilt
//! left-deep, greedily: first the connected pair with the smallest
//! estimated result, then at each step the relation connected to what is
//! joined so far that gives the smallest estimated result (see
//! [`crate::stats`] for the estimates). A relation no condition connects
//! joins last, as a cross join. Each condition is applied at the first
//! join where both its sides are present. A projection on top restores
//! the original output columns and names.
//!
//! Groups are left alone when a join in them has options of its own (a
//! validation, a build side asked for) or when column names repeat across
//! relations (the rebuilt joins could not tell the columns apart).

use std::collections::HashMap;
use std::sync::Arc;

use parframe_common::Result;
use parframe_core::{Expr, col};

use crate::expr_util::{conjunction, rename_columns, split_conjunction};
use crate::join::{BuildSide, JoinColumn, JoinOptions, JoinType, JoinValidation};
use crate::logical::{JoinFilter, LogicalPlan, PlanNode};
use crate::optimizer::OptimizerRule;
use crate::stats::estimated_rows;

/// The rule (see the module docs).
pub struct JoinReorder;

impl OptimizerRule for JoinReorder {
    fn name(&self) -> &'static str {
        "join_reorder"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        let out = reorder(&plan)?;
        if crate::explain(&out) == crate::explain(&plan) {
            Ok(plan)
        } else {
            Ok(out)
        }
    }
}

fn in_group(p: &LogicalPlan) -> bool {
    match p.node() {
        PlanNode::Join(j) => {
            matches!(j.how, JoinType::Inner | JoinType::Cross)
                && j.options.validation() == JoinValidation::ManyToMany
                && j.options.build() == BuildSide::Auto
        }
        _ => false,
    }
}

fn reorder(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    if in_group(plan)
        && let Some(p) = plan_group(plan)?
    {
        return Ok(p);
    }
    let inputs = plan.inputs();
    if inputs.is_empty() {
        return Ok(Arc::clone(plan));
    }
    let new = inputs
        .iter()
        .map(|i| reorder(i))
        .collect::<Result<Vec<_>>>()?;
    if new.iter().zip(&inputs).all(|(a, b)| Arc::ptr_eq(a, b)) {
        Ok(Arc::clone(plan))
    } else {
        plan.with_inputs(new)
    }
}

/// A join graph: relations, key edges and residual conjuncts, every
/// condition over the relations' own (unique) column names.
struct Graph {
    leaves: Vec<Arc<LogicalPlan>>,
    /// (left column, right column) equalities.
    edges: Vec<(String, String)>,
    residuals: Vec<Expr>,
}

/// Resolves output column `name` of group node `p` to a leaf column name.
fn resolve(p: &LogicalPlan, name: &str) -> Option<String> {
    if !in_group(p) {
        return p.schema().index_of(name).ok().map(|_| name.to_string());
    }
    let PlanNode::Join(j) = p.node() else {
        return None;
    };
    let (c, _) = j.columns.iter().find(|(_, n)| n == name)?;
    match c {
        JoinColumn::Left(n) | JoinColumn::Key(n, _) => resolve(&j.left, n),
        JoinColumn::Right(n) => resolve(&j.right, n),
    }
}

fn collect(p: &Arc<LogicalPlan>, g: &mut Graph) -> Result<bool> {
    if !in_group(p) {
        g.leaves.push(reorder(p)?);
        return Ok(true);
    }
    let PlanNode::Join(j) = p.node() else {
        return Ok(false);
    };
    if !collect(&j.left, g)? || !collect(&j.right, g)? {
        return Ok(false);
    }
    for (a, b) in j.left_on.iter().zip(&j.right_on) {
        match (resolve(&j.left, a), resolve(&j.right, b)) {
            (Some(a), Some(b)) => g.edges.push((a, b)),
            _ => return Ok(false),
        }
    }
    if let Some(f) = &j.filter {
        let mut map = HashMap::new();
        for (c, name) in &f.columns {
            let r = match c {
                JoinColumn::Left(n) | JoinColumn::Key(n, _) => resolve(&j.left, n),
                JoinColumn::Right(n) => resolve(&j.right, n),
            };
            match r {
                Some(r) => {
                    map.insert(name.clone(), r);
                }
                None => return Ok(false),
            }
        }
        for c in split_conjunction(&f.expr) {
            g.residuals.push(rename_columns(&c, &map)?);
        }
    }
    Ok(true)
}

/// A candidate next join: its estimate, the relation, the joined plan,
/// and which conditions it used.
type Candidate = (u64, usize, Arc<LogicalPlan>, Vec<bool>, Vec<bool>);

/// The join order of a group: its relations and conditions, bottom-up.
fn signature(p: &LogicalPlan) -> String {
    match p.node() {
        PlanNode::Join(j) if in_group(p) => format!(
            "({} J {:?}={:?} {:?} {})",
            signature(&j.left),
            j.left_on,
            j.right_on,
            j.filter.as_ref().map(|f| f.expr.to_string()),
            signature(&j.right)
        ),
        _ => crate::explain(p),
    }
}

/// The relation (leaf index) holding column `name`.
fn owner(leaves: &[Arc<LogicalPlan>], name: &str) -> Option<usize> {
    leaves
        .iter()
        .position(|l| l.schema().index_of(name).is_ok())
}

fn plan_group(root: &Arc<LogicalPlan>) -> Result<Option<Arc<LogicalPlan>>> {
    let mut g = Graph {
        leaves: Vec::new(),
        edges: Vec::new(),
        residuals: Vec::new(),
    };
    if !collect(root, &mut g)? || g.leaves.len() < 3 {
        return Ok(None);
    }
    // Column names must be unique across relations.
    let mut seen = std::collections::HashSet::new();
    for l in &g.leaves {
        for f in l.schema().fields() {
            if !seen.insert(f.name().clone()) {
                return Ok(None);
            }
        }
    }
    // The original output columns, as leaf columns.
    let mut outputs = Vec::new();
    for f in root.schema().fields() {
        match resolve(root, f.name()) {
            Some(src) => outputs.push((src, f.name().clone())),
            None => return Ok(None),
        }
    }
    let n = g.leaves.len();
    let edge_leaves: Vec<(usize, usize)> = g
        .edges
        .iter()
        .map(|(a, b)| Some((owner(&g.leaves, a)?, owner(&g.leaves, b)?)))
        .collect::<Option<_>>()
        .unwrap_or_default();
    if edge_leaves.len() != g.edges.len() {
        return Ok(None);
    }
    let residual_leaves: Vec<Vec<usize>> = g
        .residuals
        .iter()
        .map(|r| {
            let mut v: Vec<usize> = r
                .columns()
                .iter()
                .filter_map(|c| owner(&g.leaves, c))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let mut used_edge = vec![false; g.edges.len()];
    let mut used_res = vec![false; g.residuals.len()];
    let mut joined = vec![false; n];

    // Joins `current` (the relations marked in `joined`) with leaf `k`,
    // applying every condition that becomes applicable.
    let join_with = |current: &Arc<LogicalPlan>,
                     joined: &[bool],
                     k: usize,
                     used_edge: &mut [bool],
                     used_res: &mut [bool]|
     -> Result<Arc<LogicalPlan>> {
        let leaf = &g.leaves[k];
        let mut left_on = Vec::new();
        let mut right_on = Vec::new();
        for (e, &(a, b)) in edge_leaves.iter().enumerate() {
            if used_edge[e] {
                continue;
            }
            let (l, r) = (&g.edges[e].0, &g.edges[e].1);
            if joined[a] && b == k {
                left_on.push(l.clone());
                right_on.push(r.clone());
                used_edge[e] = true;
            } else if joined[b] && a == k {
                left_on.push(r.clone());
                right_on.push(l.clone());
                used_edge[e] = true;
            }
        }
        let mut res = Vec::new();
        for (i, ls) in residual_leaves.iter().enumerate() {
            if !used_res[i] && ls.iter().all(|&x| joined[x] || x == k) {
                res.push(g.residuals[i].clone());
                used_res[i] = true;
            }
        }
        let options = JoinOptions::default().coalesce_keys(false);
        let filter = match conjunction(res) {
            None => None,
            Some(e) => Some(JoinFilter::over_pair(
                e,
                &current.schema(),
                &leaf.schema(),
                options.suffix_str(),
            )?),
        };
        let how = if left_on.is_empty() {
            JoinType::Cross
        } else {
            JoinType::Inner
        };
        LogicalPlan::join(current, leaf, left_on, right_on, how, options, filter)
    };
    let connected = |joined: &[bool], k: usize| {
        edge_leaves
            .iter()
            .any(|&(a, b)| (joined[a] && b == k) || (joined[b] && a == k))
    };
    let rows = |p: &LogicalPlan| estimated_rows(p).unwrap_or(u64::MAX);

    // The first pair: the connected one with the smallest estimate.
    let mut best: Option<(u64, usize, usize)> = None;
    for &(a, b) in &edge_leaves {
        if a == b {
            continue;
        }
        let (x, y) = if rows(&g.leaves[a]) >= rows(&g.leaves[b]) {
            (a, b)
        } else {
            (b, a)
        };
        let mut mark = vec![false; n];
        mark[x] = true;
        let mut ue = used_edge.clone();
        let mut ur = used_res.clone();
        let est = rows(join_with(&g.leaves[x], &mark, y, &mut ue, &mut ur)?.as_ref());
        if best.is_none_or(|(e, _, _)| est < e) {
            best = Some((est, x, y));
        }
    }
    let Some((_, first, second)) = best else {
        return Ok(None);
    };
    joined[first] = true;
    let mut current = join_with(
        &g.leaves[first],
        &joined,
        second,
        &mut used_edge,
        &mut used_res,
    )?;
    joined[second] = true;
    while joined.iter().any(|j| !j) {
        let mut pick: Option<Candidate> = None;
        let any_connected = (0..n).any(|k| !joined[k] && connected(&joined, k));
        for k in (0..n).filter(|&k| !joined[k]) {
            if any_connected && !connected(&joined, k) {
                continue;
            }
            let mut ue = used_edge.clone();
            let mut ur = used_res.clone();
            let cand = join_with(&current, &joined, k, &mut ue, &mut ur)?;
            let est = rows(&cand);
            if pick.as_ref().is_none_or(|(e, ..)| est < *e) {
                pick = Some((est, k, cand, ue, ur));
            }
        }
        let Some((_, k, cand, ue, ur)) = pick else {
            return Ok(None);
        };
        current = cand;
        used_edge = ue;
        used_res = ur;
        joined[k] = true;
    }
    // The order the group already has: nothing to do.
    if signature(&current) == signature(root) {
        return Ok(None);
    }
    let current = crate::optimizer::build_side::ChooseBuildSide.rewrite(current)?;
    let mut current = current;
    // Conditions on a single relation (none after predicate pushdown) or
    // repeated ones: a filter on top keeps them.
    let rest: Vec<Expr> = g
        .residuals
        .iter()
        .zip(&used_res)
        .filter(|(_, u)| !**u)
        .map(|(r, _)| r.clone())
        .chain(
            g.edges
                .iter()
                .zip(&used_edge)
                .filter(|(_, u)| !**u)
                .map(|((a, b), _)| col(a.as_str()).eq(col(b.as_str()))),
        )
        .collect();
    if let Some(p) = conjunction(rest) {
        current = LogicalPlan::filter(&current, p)?;
    }
    let names: Vec<String> = current
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let identity = outputs.len() == names.len()
        && outputs
            .iter()
            .zip(&names)
            .all(|((src, out), n)| src == out && out == n);
    if !identity {
        current = LogicalPlan::select(
            &current,
            outputs
                .iter()
                .map(|(src, out)| {
                    if src == out {
                        col(src.as_str())
                    } else {
                        col(src.as_str()).alias(out.as_str())
                    }
                })
                .collect(),
        )?;
    }
    Ok(Some(current))
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, Int64Array};
    use parframe_core::Table;

    use super::*;

    fn t(names: &[&str], rows: i64) -> Arc<LogicalPlan> {
        let cols = names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    Arc::new(Int64Array::from((0..rows).collect::<Vec<_>>())) as ArrayRef,
                )
            })
            .collect();
        LogicalPlan::table(Table::from_columns(cols).unwrap())
    }

    fn cross(l: &Arc<LogicalPlan>, r: &Arc<LogicalPlan>) -> Arc<LogicalPlan> {
        LogicalPlan::join(
            l,
            r,
            vec![],
            vec![],
            JoinType::Cross,
            JoinOptions::default(),
            None,
        )
        .unwrap()
    }

    fn inner(l: &Arc<LogicalPlan>, r: &Arc<LogicalPlan>, a: &str, b: &str) -> Arc<LogicalPlan> {
        LogicalPlan::join(
            l,
            r,
            vec![a.into()],
            vec![b.into()],
            JoinType::Inner,
            JoinOptions::default(),
            None,
        )
        .unwrap()
    }

    /// The joins of a left-deep tree, bottom first: (keys, how).
    fn joins(p: &LogicalPlan) -> Vec<(Vec<String>, Vec<String>, JoinType)> {
        let mut out = Vec::new();
        p.visit(&mut |n| {
            if let PlanNode::Join(j) = n.node() {
                out.push((j.left_on.clone(), j.right_on.clone(), j.how));
            }
        });
        out.reverse();
        out
    }

    #[test]
    fn a_cross_product_in_the_middle_becomes_hash_joins() {
        // FROM a, b, c WHERE a.x = c.x AND b.y = c.y, as predicate pushdown
        // leaves it: (a x b) join c on both keys.
        let (a, b, c) = (t(&["x"], 10), t(&["y"], 100), t(&["cx", "cy"], 1000));
        let ab = cross(&a, &b);
        let abc = LogicalPlan::join(
            &ab,
            &c,
            vec!["x".into(), "y".into()],
            vec!["cx".into(), "cy".into()],
            JoinType::Inner,
            JoinOptions::default(),
            None,
        )
        .unwrap();
        let out = JoinReorder.rewrite(abc.clone()).unwrap();
        let js = joins(&out);
        assert_eq!(js.len(), 2);
        assert!(
            js.iter().all(|(_, _, how)| *how == JoinType::Inner),
            "{js:?}"
        );
        // Same columns out, in the same order.
        assert_eq!(out.schema(), abc.schema());
        let again = JoinReorder.rewrite(out.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &out));
    }

    #[test]
    fn the_smallest_connected_pair_joins_first() {
        // big(k1) -- mid(k1, k2) -- small(k2)
        let (big, mid, small) = (t(&["b1"], 1000), t(&["m1", "m2"], 100), t(&["s2"], 5));
        let plan = inner(&inner(&big, &mid, "b1", "m1"), &small, "m2", "s2");
        let out = JoinReorder.rewrite(plan.clone()).unwrap();
        let js = joins(&out);
        assert_eq!(
            js[0],
            (
                vec!["m2".to_string()],
                vec!["s2".to_string()],
                JoinType::Inner
            )
        );
        assert_eq!(out.schema(), plan.schema());
    }
}
