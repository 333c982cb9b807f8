//! Join planning: a tree of inner and cross joins (what `FROM a, b, c
//! WHERE ...` becomes once predicate pushdown has turned the `WHERE`
//! conjuncts into keys and residuals) is flattened into a join graph of
//! its inputs (the relations) and its conditions (key equalities between
//! two relations, residual conjuncts over several), and rebuilt
//! left-deep. Up to [`DP_MAX_RELATIONS`] relations, the order is the
//! cheapest of all left-deep orders in which each relation joins on a key
//! to those before it, found by dynamic programming over subsets, the cost
//! of an order being the sum of its joins' estimated output rows (see
//! [`crate::stats`] for the estimates). Otherwise, or when no such order
//! exists, greedily: first the connected pair with the smallest estimated
//! result, then at each step the relation connected to what is joined so
//! far that gives the smallest estimated result; a relation no condition
//! connects joins last, as a cross join. Each condition is applied at the
//! first join where both its sides are present. A projection on top
//! restores the original output columns and names. The relations are
//! sorted first, so the plan does not depend on the order the query
//! names them in, and planning a planned group again changes nothing.
//!
//! Column names that repeat across relations (a self join, TPC-H Q8's two
//! nations) are renamed apart first (`n_name#5`), by a projection over the
//! relation, so that the rebuilt joins can tell the columns apart; the
//! projection on top gives the group's output its original names.
//!
//! Groups are left alone when a join in them has options of its own (a
//! validation, a build side asked for).

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

/// A column of a relation: the relation's index (in the order
/// [`collect`] finds them, left inputs first) and the column's name there.
type LeafCol = (usize, String);

/// A join graph: relations, key edges and residual conjuncts, every
/// condition over relation columns. Two relations may have columns of one
/// name (a self join, TPC-H Q8's two nations): [`plan_group`] renames them
/// apart before it plans.
struct Graph {
    leaves: Vec<Arc<LogicalPlan>>,
    /// (left column, right column) equalities.
    edges: Vec<(LeafCol, LeafCol)>,
    /// Conjuncts over a join filter's column names, with the relation
    /// column each name stands for.
    residuals: Vec<(Expr, HashMap<String, LeafCol>)>,
}

/// [`Graph`] once every column name is unique across relations.
struct Graph2 {
    leaves: Vec<Arc<LogicalPlan>>,
    edges: Vec<(String, String)>,
    residuals: Vec<Expr>,
}

/// Relations under group node `p`.
fn leaf_count(p: &LogicalPlan) -> usize {
    match p.node() {
        PlanNode::Join(j) if in_group(p) => leaf_count(&j.left) + leaf_count(&j.right),
        _ => 1,
    }
}

/// Resolves output column `name` of group node `p`, whose first relation
/// has index `base`, to a relation column.
fn resolve(p: &LogicalPlan, name: &str, base: usize) -> Option<LeafCol> {
    if !in_group(p) {
        return p
            .schema()
            .index_of(name)
            .ok()
            .map(|_| (base, name.to_string()));
    }
    let PlanNode::Join(j) = p.node() else {
        return None;
    };
    let (c, _) = j.columns.iter().find(|(_, n)| n == name)?;
    match c {
        JoinColumn::Left(n) | JoinColumn::Key(n, _) => resolve(&j.left, n, base),
        JoinColumn::Right(n) => resolve(&j.right, n, base + leaf_count(&j.left)),
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
    let base = g.leaves.len();
    if !collect(&j.left, g)? || !collect(&j.right, g)? {
        return Ok(false);
    }
    let right_base = base + leaf_count(&j.left);
    for (a, b) in j.left_on.iter().zip(&j.right_on) {
        match (resolve(&j.left, a, base), resolve(&j.right, b, right_base)) {
            (Some(a), Some(b)) => g.edges.push((a, b)),
            _ => return Ok(false),
        }
    }
    if let Some(f) = &j.filter {
        let mut map = HashMap::new();
        for (c, name) in &f.columns {
            let r = match c {
                JoinColumn::Left(n) | JoinColumn::Key(n, _) => resolve(&j.left, n, base),
                JoinColumn::Right(n) => resolve(&j.right, n, right_base),
            };
            match r {
                Some(r) => {
                    map.insert(name.clone(), r);
                }
                None => return Ok(false),
            }
        }
        for c in split_conjunction(&f.expr) {
            g.residuals.push((c, map.clone()));
        }
    }
    Ok(true)
}

/// Names for the relations' columns that are unique across relations: a
/// name two relations share becomes `name#i` in relation `i` (with more
/// `#` while that is taken too), every other name stays. Returns one map
/// per relation, holding only the renamed columns.
fn unique_names(leaves: &[Arc<LogicalPlan>]) -> Vec<HashMap<String, String>> {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for l in leaves {
        for f in l.schema().fields() {
            *uses.entry(f.name().clone()).or_default() += 1;
        }
    }
    let mut taken: std::collections::HashSet<String> = uses.keys().cloned().collect();
    leaves
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut map = HashMap::new();
            for f in l.schema().fields() {
                if uses.get(f.name()).copied().unwrap_or(0) > 1 {
                    let mut new = format!("{}#{i}", f.name());
                    while taken.contains(&new) {
                        new.push('#');
                    }
                    taken.insert(new.clone());
                    map.insert(f.name().clone(), new);
                }
            }
            map
        })
        .collect()
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

/// Relations up to which the left-deep join orders are searched
/// exhaustively (dynamic programming over the 2^n subsets, each extended by
/// one relation: at most 2^n × n candidate joins to estimate); larger
/// groups are ordered greedily.
const DP_MAX_RELATIONS: usize = 10;

/// The key edges and residual conjuncts inside the relations of `set`
/// (bit i: relation i): those the joins that built it applied.
fn used_within(
    set: u32,
    edges: &[(usize, usize)],
    residuals: &[Vec<usize>],
) -> (Vec<bool>, Vec<bool>) {
    let has = |i: usize| set & (1 << i) != 0;
    let multi = set.count_ones() >= 2;
    let ue = edges
        .iter()
        .map(|&(a, b)| a != b && has(a) && has(b))
        .collect();
    let ur = residuals
        .iter()
        .map(|ls| multi && ls.iter().all(|&x| has(x)))
        .collect();
    (ue, ur)
}

/// A joined subset of relations: the estimated cost of building it and
/// its plan.
type Built = Option<(u128, Arc<LogicalPlan>)>;

/// `join(left, set, k)` of [`best_left_deep`].
type JoinFn<'a> = dyn Fn(&Arc<LogicalPlan>, u32, usize) -> Result<(Arc<LogicalPlan>, u64)> + 'a;

/// The cheapest left-deep join order of `leaves`, each relation joined on
/// a key to those before it (`None` when the key edges do not connect
/// them all). The cost of an order is the sum of the estimated rows of
/// every join's output (the "C_out" cost of the join-ordering
/// literature): what the joins produce and the next ones read. Unlike the
/// greedy order, this does not commit to the smallest first pair: TPC-H
/// Q9's supplier ⋈ nation is the smallest pair, but all that can follow
/// it is the whole of lineitem, while lineitem ⋈ (filtered) part first
/// keeps every later join small.
///
/// `join(left, set, k)`: the plan `left` (the relations of `set`) joined
/// with relation `k`, and its estimated rows.
fn best_left_deep(
    leaves: &[Arc<LogicalPlan>],
    edges: &[(usize, usize)],
    join: &JoinFn<'_>,
) -> Result<Option<Arc<LogicalPlan>>> {
    let n = leaves.len();
    if n >= 32 {
        return Ok(None);
    }
    let full = (1u32 << n) - 1;
    let connected = |set: u32, k: usize| {
        edges.iter().any(|&(a, b)| {
            a != b && ((a == k && set & (1 << b) != 0) || (b == k && set & (1 << a) != 0))
        })
    };
    let mut best: Vec<Built> = vec![None; 1 << n];
    for (k, l) in leaves.iter().enumerate() {
        best[1 << k] = Some((0, Arc::clone(l)));
    }
    // Every proper subset of a set is numerically smaller, so it is done
    // before the set.
    for set in 1..=full {
        if set.count_ones() < 2 {
            continue;
        }
        let mut pick: Built = None;
        for k in (0..n).filter(|&k| set & (1 << k) != 0) {
            let rest = set & !(1 << k);
            let Some((cost, left)) = &best[rest as usize] else {
                continue;
            };
            if !connected(rest, k) {
                continue;
            }
            // The first pair with its larger relation on the left, as
            // written (the build side is chosen afterwards anyway).
            if rest.count_ones() == 1
                && estimated_rows(left).unwrap_or(u64::MAX)
                    < estimated_rows(&leaves[k]).unwrap_or(u64::MAX)
            {
                continue;
            }
            let (plan, rows) = join(left, rest, k)?;
            let total = cost + u128::from(rows);
            if pick.as_ref().is_none_or(|(c, _)| total < *c) {
                pick = Some((total, plan));
            }
        }
        best[set as usize] = pick;
    }
    Ok(best[full as usize].take().map(|(_, p)| p))
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
    // The original output columns, as relation columns.
    let mut outputs = Vec::new();
    for f in root.schema().fields() {
        match resolve(root, f.name(), 0) {
            Some(src) => outputs.push((src, f.name().clone())),
            None => return Ok(None),
        }
    }
    // Column names unique across relations: a relation with a shared name
    // reads through a projection that renames it, and every condition and
    // output refers to the new names.
    let renames = unique_names(&g.leaves);
    let name = |(i, n): &LeafCol| -> String {
        renames
            .get(*i)
            .and_then(|m| m.get(n))
            .cloned()
            .unwrap_or_else(|| n.clone())
    };
    let mut leaves = Vec::with_capacity(g.leaves.len());
    for (l, map) in g.leaves.iter().zip(&renames) {
        if map.is_empty() {
            leaves.push(Arc::clone(l));
            continue;
        }
        let exprs = l
            .schema()
            .fields()
            .iter()
            .map(|f| match map.get(f.name()) {
                Some(new) => col(f.name().as_str()).alias(new.as_str()),
                None => col(f.name().as_str()),
            })
            .collect();
        leaves.push(LogicalPlan::select(l, exprs)?);
    }
    let edges: Vec<(String, String)> = g.edges.iter().map(|(a, b)| (name(a), name(b))).collect();
    let residuals = g
        .residuals
        .iter()
        .map(|(e, m)| {
            let m: HashMap<String, String> = m.iter().map(|(k, v)| (k.clone(), name(v))).collect();
            rename_columns(e, &m)
        })
        .collect::<Result<Vec<_>>>()?;
    let outputs: Vec<(String, String)> =
        outputs.iter().map(|(s, o)| (name(s), o.clone())).collect();
    let mut g = Graph2 {
        leaves,
        edges,
        residuals,
    };
    // One order of the relations whatever order the query wrote them in,
    // so that planning a planned group again finds the same plan.
    g.leaves.sort_by_cached_key(|l| signature(l));
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

    // Exhaustively over left-deep orders when there are few relations,
    // else greedily.
    let planned = if n <= DP_MAX_RELATIONS {
        let join = |left: &Arc<LogicalPlan>, set: u32, k: usize| {
            let joined: Vec<bool> = (0..n).map(|i| set & (1 << i) != 0).collect();
            let (mut ue, mut ur) = used_within(set, &edge_leaves, &residual_leaves);
            let j = join_with(left, &joined, k, &mut ue, &mut ur)?;
            let est = rows(&j);
            Ok((j, est))
        };
        best_left_deep(&g.leaves, &edge_leaves, &join)?
    } else {
        None
    };
    let mut current;
    if let Some(p) = planned {
        current = p;
        let all = if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
        (used_edge, used_res) = used_within(all, &edge_leaves, &residual_leaves);
    } else {
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
        current = join_with(
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

    #[test]
    fn relations_sharing_column_names_are_renamed_apart_and_reordered() {
        // TPC-H Q8's shape: one nation table joined twice, once for the
        // customer's nation and once for the supplier's. As written, the
        // big relation is joined with everything in turn.
        let big = t(&["c_nat", "s_key"], 1000);
        let supplier = t(&["s_suppkey", "s_nat"], 10);
        let nation = t(&["n_key", "n_name"], 25);
        let written = inner(
            &inner(
                &inner(&big, &nation, "c_nat", "n_key"),
                &supplier,
                "s_key",
                "s_suppkey",
            ),
            &nation,
            "s_nat",
            "n_key",
        );
        let names: Vec<String> = written
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert!(names.contains(&"n_name_right".to_string()), "{names:?}");
        let out = JoinReorder.rewrite(written.clone()).unwrap();
        assert!(!Arc::ptr_eq(&out, &written), "the group was planned");
        assert_eq!(out.schema(), written.schema());
        // The two nations' columns are apart: every key names one of them.
        let js = joins(&out);
        assert_eq!(js.len(), 3);
        let keys: Vec<&String> = js.iter().flat_map(|(l, r, _)| l.iter().chain(r)).collect();
        assert_eq!(
            keys.iter().filter(|k| k.starts_with("n_key#")).count(),
            2,
            "{keys:?}"
        );
        // Not the written order: the big relation meets supplier first (10
        // estimated rows, where a nation gives 1000).
        assert_eq!(
            (js[0].0.clone(), js[0].1.clone()),
            (vec!["s_key".to_string()], vec!["s_suppkey".to_string()]),
            "{js:?}"
        );
        let again = JoinReorder.rewrite(out.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &out));
    }

    /// Left-deep orders of `n` relations, each relation connected by an
    /// edge to one before it, with their cost: the sum of `card` over
    /// every prefix of two or more relations.
    fn brute_force(n: usize, edges: &[(usize, usize)], card: &[u64]) -> Option<u128> {
        fn go(
            order: &mut Vec<usize>,
            n: usize,
            edges: &[(usize, usize)],
            card: &[u64],
            cost: u128,
            best: &mut Option<u128>,
        ) {
            if order.len() == n {
                if best.is_none_or(|b| cost < b) {
                    *best = Some(cost);
                }
                return;
            }
            let set: u32 = order.iter().map(|&i| 1u32 << i).sum();
            for k in (0..n).filter(|&k| set & (1 << k) == 0) {
                let linked = order.is_empty()
                    || edges.iter().any(|&(a, b)| {
                        a != b
                            && ((a == k && set & (1 << b) != 0) || (b == k && set & (1 << a) != 0))
                    });
                if !linked {
                    continue;
                }
                let next = set | (1 << k);
                let add = if order.is_empty() {
                    0
                } else {
                    u128::from(card[next as usize])
                };
                order.push(k);
                go(order, n, edges, card, cost + add, best);
                order.pop();
            }
        }
        let mut best = None;
        go(&mut Vec::new(), n, edges, card, 0, &mut best);
        best
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// The dynamic program finds the cheapest connected left-deep
        /// order: its cost equals a brute-force search over every order.
        #[test]
        fn best_left_deep_is_the_cheapest_order(
            n in 2usize..6,
            raw_edges in proptest::collection::vec((0usize..6, 0usize..6), 1..10),
            card in proptest::collection::vec(0u64..1000, 64),
        ) {
            let edges: Vec<(usize, usize)> =
                raw_edges.into_iter().map(|(a, b)| (a % n, b % n)).collect();
            // Relations of one row each (no orientation rule applies), one
            // column each, so the plan's columns spell its order.
            let leaves: Vec<_> = (0..n).map(|i| t(&[&format!("c{i}")], 1)).collect();
            let join = |left: &Arc<LogicalPlan>, set: u32, k: usize| -> Result<(Arc<LogicalPlan>, u64)> {
                Ok((cross(left, &leaves[k]), card[(set | (1 << k)) as usize]))
            };
            let got = best_left_deep(&leaves, &edges, &join).unwrap();
            let want = brute_force(n, &edges, &card);
            proptest::prop_assert_eq!(got.is_some(), want.is_some());
            if let (Some(plan), Some(want)) = (got, want) {
                let order: Vec<usize> = plan
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name()[1..].parse().unwrap())
                    .collect();
                let mut cost = 0u128;
                let mut set = 0u32;
                for (i, k) in order.iter().enumerate() {
                    set |= 1 << k;
                    if i > 0 {
                        cost += u128::from(card[set as usize]);
                    }
                }
                proptest::prop_assert_eq!(cost, want, "order {:?}", order);
            }
        }
    }

    #[test]
    fn planning_a_planned_group_again_changes_nothing() {
        // Whatever order the relations are written in, one plan comes out,
        // and planning it again keeps it.
        let (a, b, c, d) = (
            t(&["a1"], 1000),
            t(&["b1", "b2"], 100),
            t(&["c2", "c3"], 10),
            t(&["d3"], 50),
        );
        let one = inner(
            &inner(&inner(&a, &b, "a1", "b1"), &c, "b2", "c2"),
            &d,
            "c3",
            "d3",
        );
        let two = inner(
            &inner(&inner(&d, &c, "d3", "c3"), &b, "c2", "b2"),
            &a,
            "b1",
            "a1",
        );
        let p1 = JoinReorder.rewrite(one).unwrap();
        let p2 = JoinReorder.rewrite(two).unwrap();
        assert_eq!(joins(&p1), joins(&p2));
        let again = JoinReorder.rewrite(p1.clone()).unwrap();
        assert!(Arc::ptr_eq(&again, &p1));
    }
}
