//! Semi-join reduction: an aggregate joined on one of its group keys with
//! a much smaller relation aggregates only the keys that relation holds.
//!
//! In `(A group by k) ⋈ B on k = b`, a group whose `k` is not among `B`'s
//! `b` values never finds a partner, so it need not be computed: the
//! aggregate may read `A ⋉ B on k = b` instead of `A`. A group is all the
//! rows of one key value, so the groups that are computed are whole and
//! give the same values. TPC-H Q17 joins the average quantity of each of
//! 200,000 parts (an aggregate of 6 million line items) with the 200 or so
//! parts of one brand and container: with the reduction, the aggregate sees
//! the few thousand line items of those parts, and the line items are
//! probed against a hash of 200 keys instead of inserted into a hash of
//! 200,000 groups. Q20 and Q2 have the same shape.
//!
//! # Where it applies
//! - The join drops the aggregate side's rows that have no match: inner and
//!   semi joins (either side), left and anti joins (aggregate on the
//!   right), right joins (aggregate on the left).
//! - A key pair of the join is, on the aggregate's side, a group key of an
//!   [`Aggregate`](PlanNode::Aggregate) reached through filters and
//!   selects of plain columns (decorrelated subqueries put a select
//!   computing `0.2 * avg(...)` above theirs).
//! - The other side's key is traced down through inner joins (to either
//!   input; through the join's own key pairs to the equal column of the
//!   other input), filters, selects of plain columns and the kept side of
//!   semi joins, and the smallest relation found that produces it, with
//!   no join below it, is the *reducer*: its rows hold every key value
//!   the join's other side can have. (Q17's other side is
//!   `lineitem ⋈ part`; the reducer is the filtered `part`. Q2's is a
//!   select over five relations, estimated smaller than its filtered
//!   `part`, but reading all five.)
//! - The reducer is estimated at most 1 / [`MIN_REDUCTION`] of the
//!   aggregate's groups and of the rows the scans under it read (filters
//!   or joins must have removed keys: a whole table holds every key a
//!   foreign key of it can have, so reducing by it removes nothing, as
//!   `orders` would not for Q18's line items grouped by order), and those
//!   scans read at most 1 /
//!   [`MAX_REDUCER_COST`] of the rows the aggregate's input does: the
//!   reducer runs twice (once where it was, once in the semi join), which
//!   must cost little against the aggregation it saves. Estimates are
//!   those of [`crate::stats`].
//! - Not again where the aggregate's input already has a semi join with
//!   the same reducer (the rule runs to a fixed point).

use std::sync::Arc;

use parframe_common::Result;
use parframe_core::Expr;

use crate::join::{JoinColumn, JoinOptions, JoinType};
use crate::logical::{JoinNode, LogicalPlan, NodeId, PlanNode};
use crate::optimizer::OptimizerRule;
use crate::optimizer::semi_join_pushdown::same_columns;
use crate::stats::estimated_rows;

/// The rule (see the module docs).
pub struct SemiJoinReduction;

/// The reducer is estimated at most this fraction (1 / `MIN_REDUCTION`) of
/// the aggregate's groups.
pub const MIN_REDUCTION: u64 = 4;

/// The scans under the reducer read at most this fraction (1 /
/// `MAX_REDUCER_COST`) of the rows the scans under the aggregate read.
pub const MAX_REDUCER_COST: u64 = 4;

impl OptimizerRule for SemiJoinReduction {
    fn name(&self) -> &'static str {
        "semi_join_reduction"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        plan.transform_up(&mut |p| Ok(reduce(&p)?.unwrap_or(p)))
    }
}

/// `p` (a join) with the aggregate on one of its sides reading only the
/// keys of a reducer from the other side, or `None`.
fn reduce(p: &Arc<LogicalPlan>) -> Result<Option<Arc<LogicalPlan>>> {
    let PlanNode::Join(j) = p.node() else {
        return Ok(None);
    };
    // Which sides drop their unmatched rows.
    let (left_ok, right_ok) = match j.how {
        JoinType::Inner | JoinType::Semi => (true, true),
        JoinType::Left | JoinType::Anti => (false, true),
        JoinType::Right => (true, false),
        JoinType::Full | JoinType::Cross => (false, false),
    };
    for (agg_left, ok) in [(true, left_ok), (false, right_ok)] {
        if !ok {
            continue;
        }
        let (agg_side, other, agg_keys, other_keys) = if agg_left {
            (&j.left, &j.right, &j.left_on, &j.right_on)
        } else {
            (&j.right, &j.left, &j.right_on, &j.left_on)
        };
        for (ka, kb) in agg_keys.iter().zip(other_keys) {
            if let Some(new_side) = reduce_side(agg_side, ka, other, kb)? {
                let (left, right) = if agg_left {
                    (new_side, Arc::clone(&j.right))
                } else {
                    (Arc::clone(&j.left), new_side)
                };
                let node = PlanNode::Join(JoinNode {
                    left,
                    right,
                    ..j.clone()
                });
                return Ok(Some(LogicalPlan::with_id(p.id(), node)?));
            }
        }
    }
    Ok(None)
}

/// `side` (producing column `key`) with the aggregate it is made of
/// reduced by `other`'s key `other_key`, or `None`.
fn reduce_side(
    side: &Arc<LogicalPlan>,
    key: &str,
    other: &Arc<LogicalPlan>,
    other_key: &str,
) -> Result<Option<Arc<LogicalPlan>>> {
    match side.node() {
        PlanNode::Filter { input, .. } => rebuild(side, input, key, other, other_key),
        PlanNode::Select { input, exprs } => match plain_source(exprs, key) {
            Some(src) => rebuild(side, input, &src, other, other_key),
            None => Ok(None),
        },
        PlanNode::Aggregate {
            input,
            keys,
            aggs,
            sorted,
        } if keys.iter().any(|k| k == key) => {
            let Some((reducer, column)) = reducer(other, other_key) else {
                return Ok(None);
            };
            let key_type = input
                .schema()
                .field_with_name(key)
                .ok()
                .map(|f| f.data_type().clone());
            let reducer_type = reducer
                .schema()
                .field_with_name(&column)
                .ok()
                .map(|f| f.data_type().clone());
            if key_type.is_none() || key_type != reducer_type {
                return Ok(None);
            }
            if contains(&reducer, side.id()) || reduced_by(input, reducer.id()) {
                return Ok(None);
            }
            let (Some(groups), Some(reducer_rows)) =
                (estimated_rows(side), estimated_rows(&reducer))
            else {
                return Ok(None);
            };
            // The reducer must also be a fraction of what it reads: a
            // whole table holds every key a foreign key of it can have
            // (TPC-H Q18's `orders` against line items grouped by order),
            // so only filters or joins below it make it drop groups.
            let read = rows_read(&reducer);
            if reducer_rows.saturating_mul(MIN_REDUCTION) > groups
                || reducer_rows.saturating_mul(MIN_REDUCTION) > read
                || read.saturating_mul(MAX_REDUCER_COST) > rows_read(input)
            {
                return Ok(None);
            }
            let semi = LogicalPlan::join(
                input,
                &reducer,
                vec![key.to_string()],
                vec![column],
                JoinType::Semi,
                JoinOptions::default(),
                None,
            )?;
            // A semi join marks its key column nullable; the aggregate's
            // schema must stay as it was.
            let out = LogicalPlan::with_id(
                side.id(),
                PlanNode::Aggregate {
                    input: semi,
                    keys: keys.clone(),
                    aggs: aggs.clone(),
                    sorted: *sorted,
                },
            )?;
            Ok(same_columns(&out.schema(), &side.schema()).then_some(out))
        }
        _ => Ok(None),
    }
}

/// `node` over `input` reduced (see [`reduce_side`]), keeping `node`'s id.
fn rebuild(
    node: &Arc<LogicalPlan>,
    input: &Arc<LogicalPlan>,
    key: &str,
    other: &Arc<LogicalPlan>,
    other_key: &str,
) -> Result<Option<Arc<LogicalPlan>>> {
    match reduce_side(input, key, other, other_key)? {
        Some(new_input) => {
            let out = node.with_inputs(vec![new_input])?;
            Ok(same_columns(&out.schema(), &node.schema()).then_some(out))
        }
        None => Ok(None),
    }
}

/// The input column a select's output `name` is, when it is a plain column
/// (or an alias of one).
fn plain_source(exprs: &[Expr], name: &str) -> Option<String> {
    exprs.iter().find_map(|e| match e {
        Expr::Column(c) if c == name => Some(c.clone()),
        Expr::Alias { expr, name: n } if n == name => match expr.as_ref() {
            Expr::Column(c) => Some(c.clone()),
            _ => None,
        },
        _ => None,
    })
}

/// The smallest relation (by estimated rows) under `plan` that produces
/// every value `plan`'s column `key` can have, and its column holding
/// them. `plan` itself is a candidate.
fn reducer(plan: &Arc<LogicalPlan>, key: &str) -> Option<(Arc<LogicalPlan>, String)> {
    let mut best: Option<(Arc<LogicalPlan>, String, u64)> = None;
    let mut todo: Vec<(Arc<LogicalPlan>, String)> = vec![(Arc::clone(plan), key.to_string())];
    while let Some((p, k)) = todo.pop() {
        // Joins are no candidates, nor a filter or select over one: join
        // reordering rebuilds them under new ids (the check that a
        // reduction was made finds its reducer by id), and a whole join
        // tree reads more than a reducer may (TPC-H Q2's side of five
        // relations is estimated smaller than its filtered `part`).
        if !has_join(&p)
            && let Some(rows) = estimated_rows(&p)
            && best.as_ref().is_none_or(|b| rows < b.2)
        {
            best = Some((Arc::clone(&p), k.clone(), rows));
        }
        match p.node() {
            PlanNode::Filter { input, .. } => todo.push((Arc::clone(input), k)),
            PlanNode::Select { input, exprs } => {
                if let Some(src) = plain_source(exprs, &k) {
                    todo.push((Arc::clone(input), src));
                }
            }
            PlanNode::Join(j) => {
                let Some((col, _)) = j.columns.iter().find(|(_, n)| *n == k) else {
                    continue;
                };
                // The left (right) input column the output column is.
                let (l, r) = match col {
                    JoinColumn::Left(c) => (Some(c.clone()), None),
                    JoinColumn::Right(c) => (None, Some(c.clone())),
                    JoinColumn::Key(a, b) => (Some(a.clone()), Some(b.clone())),
                };
                // A key column equals its partner in every row.
                let partner = |c: &str, from: &[String], to: &[String]| {
                    from.iter().position(|x| x == c).map(|i| to[i].clone())
                };
                match j.how {
                    JoinType::Inner => {
                        let l = l.or_else(|| {
                            r.as_deref()
                                .and_then(|c| partner(c, &j.right_on, &j.left_on))
                        });
                        let r = r.or_else(|| {
                            l.as_deref()
                                .and_then(|c| partner(c, &j.left_on, &j.right_on))
                        });
                        if let Some(c) = l {
                            todo.push((Arc::clone(&j.left), c));
                        }
                        if let Some(c) = r {
                            todo.push((Arc::clone(&j.right), c));
                        }
                    }
                    // The kept side's rows are a subset of its input's; a
                    // semi join's key values are also among its partner's.
                    JoinType::Semi | JoinType::Anti => {
                        if let Some(c) = l {
                            if j.how == JoinType::Semi
                                && let Some(r) = partner(&c, &j.left_on, &j.right_on)
                            {
                                todo.push((Arc::clone(&j.right), r));
                            }
                            todo.push((Arc::clone(&j.left), c));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    best.map(|(p, k, _)| (p, k))
}

/// The rows the scans and tables under `plan` hold (before filters), as
/// their sources tell (unknown: `u64::MAX`).
fn rows_read(plan: &LogicalPlan) -> u64 {
    let mut rows = 0u64;
    plan.visit(&mut |n| {
        let r = match n.node() {
            PlanNode::Scan(s) => s.source.statistics().num_rows.value(),
            PlanNode::Table(t) => Some(t.table.num_rows() as u64),
            _ => return,
        };
        rows = rows.saturating_add(r.unwrap_or(u64::MAX));
    });
    rows
}

/// Whether `plan` has a join anywhere.
fn has_join(plan: &LogicalPlan) -> bool {
    let mut found = false;
    plan.visit(&mut |n| found |= matches!(n.node(), PlanNode::Join(_)));
    found
}

/// Whether the node `id` is in `plan`.
fn contains(plan: &LogicalPlan, id: NodeId) -> bool {
    let mut found = false;
    plan.visit(&mut |n| found |= n.id() == id);
    found
}

/// Whether `plan` has a semi join with the relation `reducer` (by id) in
/// its right input (other rules may have put a select above it).
fn reduced_by(plan: &LogicalPlan, reducer: NodeId) -> bool {
    let mut found = false;
    plan.visit(&mut |n| {
        if let PlanNode::Join(j) = n.node() {
            found |= j.how == JoinType::Semi && contains(&j.right, reducer);
        }
    });
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow_array::{ArrayRef, Int64Array};
    use parframe_core::{Table, col, lit};

    use super::*;
    use crate::agg::sum;
    use crate::optimizer::test_plans::join;

    /// A table of `n` rows with Int64 columns `names` (values 0..n).
    fn rows(names: &[&str], n: i64) -> Arc<LogicalPlan> {
        let cols = names
            .iter()
            .map(|c| {
                (
                    c.to_string(),
                    Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())) as ArrayRef,
                )
            })
            .collect();
        LogicalPlan::table(Table::from_columns(cols).unwrap())
    }

    /// A relation of about `n / 10` rows: `n` rows filtered by `x = 3`.
    fn filtered(names: &[&str], n: i64) -> Arc<LogicalPlan> {
        LogicalPlan::filter(&rows(names, n), col("x").eq(lit(3i64))).unwrap()
    }

    fn grouped(input: &Arc<LogicalPlan>, key: &str, value: &str) -> Arc<LogicalPlan> {
        LogicalPlan::aggregate(input, vec![key.into()], vec![sum(value).alias("s")], false).unwrap()
    }

    fn join_of(p: &LogicalPlan) -> &JoinNode {
        match p.node() {
            PlanNode::Join(j) => j,
            _ => panic!("a join expected: {p:?}"),
        }
    }

    /// The aggregate's input when it is a semi join: (its left, its right,
    /// keys).
    fn reduced(agg: &LogicalPlan) -> Option<(NodeId, NodeId, Vec<String>, Vec<String>)> {
        let PlanNode::Aggregate { input, .. } = agg.node() else {
            panic!("an aggregate expected: {agg:?}");
        };
        match input.node() {
            PlanNode::Join(j) if j.how == JoinType::Semi => Some((
                j.left.id(),
                j.right.id(),
                j.left_on.clone(),
                j.right_on.clone(),
            )),
            _ => None,
        }
    }

    #[test]
    fn an_aggregate_joined_with_a_small_relation_reads_only_its_keys() {
        let (facts, dim) = (rows(&["k", "v"], 1000), filtered(&["d", "x"], 100));
        let agg = grouped(&facts, "k", "v");
        for (how, agg_left) in [
            (JoinType::Inner, true),
            (JoinType::Inner, false),
            (JoinType::Semi, true),
            (JoinType::Semi, false),
            (JoinType::Left, false),
            (JoinType::Right, true),
            (JoinType::Anti, false),
        ] {
            let p = if agg_left {
                join(&agg, &dim, ("k", "d"), how)
            } else {
                join(&dim, &agg, ("d", "k"), how)
            };
            let out = SemiJoinReduction.rewrite(Arc::clone(&p)).unwrap();
            assert_eq!(out.schema(), p.schema(), "{how:?}");
            assert_eq!(out.id(), p.id());
            let j = join_of(&out);
            let new_agg = if agg_left { &j.left } else { &j.right };
            assert_eq!(new_agg.id(), agg.id());
            assert_eq!(new_agg.schema(), agg.schema());
            assert_eq!(
                reduced(new_agg),
                Some((facts.id(), dim.id(), vec!["k".into()], vec!["d".into()])),
                "{how:?}: {out:?}"
            );
            // Once: the second pass changes nothing.
            let again = SemiJoinReduction.rewrite(Arc::clone(&out)).unwrap();
            assert!(Arc::ptr_eq(&again, &out), "{how:?}: {again:?}");
        }
    }

    #[test]
    fn joins_that_keep_unmatched_groups_are_left_alone() {
        let (facts, dim) = (rows(&["k", "v"], 1000), filtered(&["d", "x"], 100));
        let agg = grouped(&facts, "k", "v");
        for p in [
            join(&agg, &dim, ("k", "d"), JoinType::Left),
            join(&agg, &dim, ("k", "d"), JoinType::Full),
            join(&agg, &dim, ("k", "d"), JoinType::Anti),
            join(&dim, &agg, ("d", "k"), JoinType::Right),
            join(&dim, &agg, ("d", "k"), JoinType::Full),
        ] {
            let out = SemiJoinReduction.rewrite(Arc::clone(&p)).unwrap();
            assert!(Arc::ptr_eq(&out, &p), "{out:?}");
        }
    }

    #[test]
    fn a_reducer_must_be_much_smaller_and_cheap() {
        let facts = rows(&["k", "v"], 1000);
        let agg = grouped(&facts, "k", "v");
        // 400 rows: more than a quarter of the 1000 groups.
        let p = join(&agg, &rows(&["d"], 400), ("k", "d"), JoinType::Inner);
        assert!(Arc::ptr_eq(
            &SemiJoinReduction.rewrite(Arc::clone(&p)).unwrap(),
            &p
        ));
        // Few rows left by a filter, but 1000 rows read to find them.
        let big = rows(&["d", "x"], 1000);
        let few = LogicalPlan::filter(&big, col("x").eq(lit(3i64))).unwrap();
        let p = join(&agg, &few, ("k", "d"), JoinType::Inner);
        assert!(Arc::ptr_eq(
            &SemiJoinReduction.rewrite(Arc::clone(&p)).unwrap(),
            &p
        ));
        // A whole table, however small: its keys may be all the groups'.
        let p = join(&agg, &rows(&["d"], 10), ("k", "d"), JoinType::Inner);
        assert!(Arc::ptr_eq(
            &SemiJoinReduction.rewrite(Arc::clone(&p)).unwrap(),
            &p
        ));
        // Not on a column that is no group key.
        let p = join(
            &agg,
            &filtered(&["d", "x"], 100),
            ("s", "d"),
            JoinType::Inner,
        );
        assert!(Arc::ptr_eq(
            &SemiJoinReduction.rewrite(Arc::clone(&p)).unwrap(),
            &p
        ));
    }

    #[test]
    fn no_reducer_has_a_join_below_it() {
        // Q2's shape: a select of plain columns over (big ⋈ dim), whose
        // estimate is no larger than dim's; the select (a whole join tree,
        // reading 900 rows) is no reducer, dim is.
        let facts = rows(&["k", "v"], 1000);
        let big = rows(&["bk", "q"], 800);
        let dim = filtered(&["d", "x"], 100);
        let outer = join(&big, &dim, ("bk", "d"), JoinType::Inner);
        let top = LogicalPlan::select(&outer, vec![col("bk"), col("q")]).unwrap();
        assert!(estimated_rows(&top) <= estimated_rows(&dim));
        let agg = grouped(&facts, "k", "v");
        let p = join(&top, &agg, ("bk", "k"), JoinType::Left);
        let out = SemiJoinReduction.rewrite(Arc::clone(&p)).unwrap();
        assert_eq!(out.schema(), p.schema());
        assert_eq!(
            reduced(&join_of(&out).right),
            Some((facts.id(), dim.id(), vec!["k".into()], vec!["d".into()])),
            "{out:?}"
        );
    }

    #[test]
    fn the_reducer_is_the_smallest_relation_holding_the_keys() {
        // Q17's shape: (big ⋈ dim) ⋈ (select of an aggregate of facts), on
        // big's copy of the key: the reducer is dim, through the key pair.
        let facts = rows(&["k", "v"], 1000);
        let big = rows(&["bk", "q"], 800);
        let dim = filtered(&["d", "x"], 100);
        let outer = join(&big, &dim, ("bk", "d"), JoinType::Inner);
        let agg = grouped(&facts, "k", "v");
        let sel = LogicalPlan::select(
            &agg,
            vec![col("k").alias("key"), (col("s") * lit(2i64)).alias("twice")],
        )
        .unwrap();
        let filtered = LogicalPlan::filter(&sel, col("twice").gt(lit(0i64))).unwrap();
        let p = join(&outer, &filtered, ("bk", "key"), JoinType::Inner);
        let out = SemiJoinReduction.rewrite(Arc::clone(&p)).unwrap();
        assert_eq!(out.schema(), p.schema());
        let j = join_of(&out);
        assert!(Arc::ptr_eq(&j.left, &outer));
        // Filter -> Select -> Aggregate, ids kept, the aggregate reduced.
        assert_eq!(j.right.id(), filtered.id());
        let sel2 = j.right.input().unwrap();
        assert_eq!(sel2.id(), sel.id());
        let agg2 = sel2.input().unwrap();
        assert_eq!(
            reduced(agg2),
            Some((facts.id(), dim.id(), vec!["k".into()], vec!["d".into()])),
            "{out:?}"
        );
    }

    #[test]
    fn semi_joins_pass_their_keys_values_to_their_right_input() {
        // Q20's shape: (mid ⋉ dim) joined with an aggregate: dim reduces.
        let facts = rows(&["k", "v"], 1000);
        let mid = rows(&["m"], 600);
        let dim = filtered(&["d", "x"], 200);
        let kept = join(&mid, &dim, ("m", "d"), JoinType::Semi);
        let agg = grouped(&facts, "k", "v");
        let p = join(&kept, &agg, ("m", "k"), JoinType::Inner);
        let out = SemiJoinReduction.rewrite(Arc::clone(&p)).unwrap();
        let j = join_of(&out);
        assert_eq!(reduced(&j.right).map(|r| r.1), Some(dim.id()), "{out:?}");
    }
}
