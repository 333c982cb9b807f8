//! Semi-join pushdown: a semi or anti join above an inner join, whose keys
//! all come from one input of that inner join, moves onto that input.
//!
//! `(A ⋈ B) ⋉ C on a.k = c.k` keeps the pairs whose `a.k` has a match in
//! `C`; that depends on `A`'s row alone, so `(A ⋉ C) ⋈ B` keeps the same
//! pairs (and `▷`, anti, the same way). Reducing `A` first means the inner
//! join, often the expensive one, sees only the rows that survive: TPC-H
//! Q18 filters orders by its `IN (... HAVING sum > 300)` subquery before
//! joining them with 6 million line items instead of after. The move is
//! repeated down the tree while it applies.
//!
//! It leaves alone a semi or anti join with a residual condition or key
//! validation, and one whose keys are not all plain columns of one input.

use std::sync::Arc;

use parframe_common::Result;

use crate::join::{JoinColumn, JoinType};
use parframe_core::Expr;

use crate::logical::{JoinNode, LogicalPlan, PlanNode};
use crate::optimizer::OptimizerRule;

/// The rule (see the module docs).
pub struct SemiJoinPushdown;

impl OptimizerRule for SemiJoinPushdown {
    fn name(&self) -> &'static str {
        "semi_join_pushdown"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        plan.transform_up(&mut |p| Ok(push(&p)?.unwrap_or(p)))
    }
}

/// `p` with its semi or anti join moved below the inner join under it
/// (directly, or under a select of plain columns, which join reordering
/// leaves above the joins it reorders), or `None` when the rule does not
/// apply.
fn push(p: &Arc<LogicalPlan>) -> Result<Option<Arc<LogicalPlan>>> {
    let PlanNode::Join(semi) = p.node() else {
        return Ok(None);
    };
    if !matches!(semi.how, JoinType::Semi | JoinType::Anti)
        || semi.filter.is_some()
        || semi.left_on.is_empty()
        || semi.options.validation() != Default::default()
    {
        return Ok(None);
    }
    let moved = match semi.left.node() {
        PlanNode::Join(_) => onto_input(semi, &semi.left, &semi.left_on)?,
        PlanNode::Select { input, exprs } => {
            // Each output column's input column, when all are plain.
            let plain: Option<Vec<(String, String)>> = exprs
                .iter()
                .map(|e| match e {
                    Expr::Column(c) => Some((c.clone(), c.clone())),
                    Expr::Alias { expr, name } => match expr.as_ref() {
                        Expr::Column(c) => Some((name.clone(), c.clone())),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            let keys: Option<Vec<String>> = plain.and_then(|plain| {
                semi.left_on
                    .iter()
                    .map(|k| plain.iter().find(|(o, _)| o == k).map(|(_, c)| c.clone()))
                    .collect()
            });
            match keys {
                Some(keys) if matches!(input.node(), PlanNode::Join(_)) => {
                    onto_input(semi, input, &keys)?
                        .map(|j| LogicalPlan::select(&j, exprs.clone()))
                        .transpose()?
                }
                _ => None,
            }
        }
        _ => None,
    };
    match moved {
        // The same columns under the same names, or nothing changes.
        Some(m) if same_columns(&m.schema(), &p.schema()) => {
            Ok(Some(LogicalPlan::with_id(p.id(), m.node().clone())?))
        }
        _ => Ok(None),
    }
}

/// Same column names and types, in order (a semi join marks its key
/// columns nullable, which its input may not). Semi-join reduction uses
/// it too.
pub(crate) fn same_columns(a: &arrow_schema::Schema, b: &arrow_schema::Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

/// The inner join `inner` with `semi` (whose left keys, in `inner`'s output
/// names, are `keys`) applied to the input those keys come from, or `None`
/// when `inner` is no inner join or the keys are not all from one input.
fn onto_input(
    semi: &JoinNode,
    inner_plan: &Arc<LogicalPlan>,
    keys: &[String],
) -> Result<Option<Arc<LogicalPlan>>> {
    let PlanNode::Join(inner) = inner_plan.node() else {
        return Ok(None);
    };
    if inner.how != JoinType::Inner {
        return Ok(None);
    }
    let input_of = |name: &str, want_left: bool| -> Option<String> {
        inner
            .columns
            .iter()
            .find(|(_, n)| n == name)
            .and_then(|(c, _)| match c {
                JoinColumn::Left(x) if want_left => Some(x.clone()),
                JoinColumn::Right(x) if !want_left => Some(x.clone()),
                JoinColumn::Key(a, b) => Some(if want_left { a.clone() } else { b.clone() }),
                _ => None,
            })
    };
    for want_left in [true, false] {
        let Some(side_keys) = keys
            .iter()
            .map(|k| input_of(k, want_left))
            .collect::<Option<Vec<String>>>()
        else {
            continue;
        };
        let side = if want_left { &inner.left } else { &inner.right };
        let reduced = LogicalPlan::join(
            side,
            &semi.right,
            side_keys,
            semi.right_on.clone(),
            semi.how,
            semi.options.clone(),
            None,
        )?;
        // Further down while it applies.
        let reduced = push(&reduced)?.unwrap_or(reduced);
        // The semi join gives its left input's columns in their order, so
        // the inner join keeps its output columns, layout and schema.
        if !same_columns(&reduced.schema(), &side.schema()) {
            return Ok(None);
        }
        let (left, right) = if want_left {
            (reduced, Arc::clone(&inner.right))
        } else {
            (Arc::clone(&inner.left), reduced)
        };
        let moved = LogicalPlan::with_id(
            inner_plan.id(),
            PlanNode::Join(JoinNode {
                left,
                right,
                ..inner.clone()
            }),
        )?;
        return Ok(Some(moved));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use crate::optimizer::test_plans::{join, table as t};

    use super::*;

    fn is_semi(j: &JoinNode) -> bool {
        matches!(j.how, JoinType::Semi | JoinType::Anti)
    }

    fn node(p: &LogicalPlan) -> &JoinNode {
        match p.node() {
            PlanNode::Join(j) => j,
            _ => panic!("a join expected: {p:?}"),
        }
    }

    #[test]
    fn a_semi_join_on_one_inputs_keys_moves_onto_it() {
        let (orders, items, big) = (t(&["o", "c"]), t(&["i", "q"]), t(&["k", "s"]));
        let inner = join(&orders, &items, ("o", "i"), JoinType::Inner);
        for how in [JoinType::Semi, JoinType::Anti] {
            // On the left input's key.
            let p = join(&inner, &big, ("c", "k"), how);
            let out = SemiJoinPushdown.rewrite(p.clone()).unwrap();
            assert_eq!(out.schema(), p.schema());
            let top = node(&out);
            assert_eq!(top.how, JoinType::Inner);
            assert!(is_semi(node(&top.left)), "{how}: {out:?}");
            assert_eq!(node(&top.left).left_on, vec!["c".to_string()]);
            // On the right input's column.
            let p = join(&inner, &big, ("q", "k"), how);
            let out = SemiJoinPushdown.rewrite(p.clone()).unwrap();
            assert!(is_semi(node(&node(&out).right)), "{how}: {out:?}");
            // Fixed point.
            let again = SemiJoinPushdown.rewrite(out.clone()).unwrap();
            assert!(Arc::ptr_eq(&again, &out));
        }
    }

    #[test]
    fn through_a_select_of_plain_columns() {
        use parframe_core::col;
        let (orders, items, big) = (t(&["o", "c"]), t(&["i", "q"]), t(&["k", "s"]));
        let inner = join(&orders, &items, ("o", "i"), JoinType::Inner);
        let sel = LogicalPlan::select(&inner, vec![col("c").alias("cc"), col("q")]).unwrap();
        let p = join(&sel, &big, ("cc", "k"), JoinType::Semi);
        let out = SemiJoinPushdown.rewrite(p.clone()).unwrap();
        assert_eq!(out.schema(), p.schema());
        let PlanNode::Select { input, .. } = out.node() else {
            panic!("a select on top expected: {out:?}")
        };
        assert!(is_semi(node(&node(input).left)), "{out:?}");
        // A computed column is not followed.
        let sel = LogicalPlan::select(&inner, vec![(col("c") + col("q")).alias("cq")]).unwrap();
        let p = join(&sel, &big, ("cq", "k"), JoinType::Semi);
        let out = SemiJoinPushdown.rewrite(p.clone()).unwrap();
        assert!(Arc::ptr_eq(&out, &p));
    }

    #[test]
    fn it_goes_down_while_it_applies_and_not_through_outer_joins() {
        let (a, b, c, r) = (
            t(&["a", "x"]),
            t(&["b", "y"]),
            t(&["c", "z"]),
            t(&["k", "s"]),
        );
        let ab = join(&a, &b, ("a", "b"), JoinType::Inner);
        let abc = join(&ab, &c, ("x", "c"), JoinType::Inner);
        let p = join(&abc, &r, ("x", "k"), JoinType::Semi);
        let out = SemiJoinPushdown.rewrite(p.clone()).unwrap();
        assert_eq!(out.schema(), p.schema());
        // abc = (a ⋈ b) ⋈ c, the key `x` from `a`: the semi join sits on `a`.
        let semi = node(&node(&node(&out).left).left);
        assert!(is_semi(semi), "{out:?}");
        assert!(semi.left.inputs().is_empty(), "{out:?}");
        // Not below a left join.
        let left = join(&a, &b, ("a", "b"), JoinType::Left);
        let p = join(&left, &r, ("x", "k"), JoinType::Semi);
        let out = SemiJoinPushdown.rewrite(p.clone()).unwrap();
        assert!(Arc::ptr_eq(&out, &p));
    }
}
