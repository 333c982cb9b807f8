//! Simplification of the expressions in filters, selects, `with_columns`,
//! scans and join conditions: `x AND true` and `x OR false` are `x`,
//! `x AND false` is `false`, `x OR true` is `true` (also with a null `x`,
//! in SQL's three-valued logic), `NOT NOT x` is `x`, `NOT` of a Boolean
//! literal is folded; a filter left with `true` is removed. (Literal-only
//! sub-trees of other types are folded when an expression is prepared for
//! running, see `parframe_core::expr`.)

use std::sync::Arc;

use parframe_common::Result;
use parframe_core::expr::BinaryOp;
use parframe_core::{Expr, ScalarValue};

use crate::expr_util::is_true;
use crate::logical::{JoinFilter, JoinNode, LogicalPlan, PlanNode, ScanNode};
use crate::optimizer::OptimizerRule;

/// The rule (see the module docs).
pub struct Simplify;

fn boolean(e: &Expr) -> Option<bool> {
    match e {
        Expr::Literal(ScalarValue::Boolean(b)) => Some(*b),
        _ => None,
    }
}

/// `e` simplified bottom-up.
pub fn simplify_expr(e: &Expr) -> Result<Expr> {
    e.clone().transform_up(&mut |n| {
        Ok(match n {
            Expr::Binary {
                left,
                op: BinaryOp::And,
                right,
            } => match (boolean(&left), boolean(&right)) {
                (Some(true), _) => *right,
                (_, Some(true)) => *left,
                (Some(false), _) | (_, Some(false)) => Expr::Literal(ScalarValue::Boolean(false)),
                _ => Expr::Binary {
                    left,
                    op: BinaryOp::And,
                    right,
                },
            },
            Expr::Binary {
                left,
                op: BinaryOp::Or,
                right,
            } => match (boolean(&left), boolean(&right)) {
                (Some(false), _) => *right,
                (_, Some(false)) => *left,
                (Some(true), _) | (_, Some(true)) => Expr::Literal(ScalarValue::Boolean(true)),
                _ => Expr::Binary {
                    left,
                    op: BinaryOp::Or,
                    right,
                },
            },
            Expr::Not(inner) => match *inner {
                Expr::Not(x) => *x,
                Expr::Literal(ScalarValue::Boolean(b)) => Expr::Literal(ScalarValue::Boolean(!b)),
                other => Expr::Not(Box::new(other)),
            },
            other => other,
        })
    })
}

fn all(es: &[Expr]) -> Result<Vec<Expr>> {
    es.iter().map(simplify_expr).collect()
}

impl OptimizerRule for Simplify {
    fn name(&self) -> &'static str {
        "simplify"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        plan.transform_up(&mut |p| {
            let node = match p.node() {
                PlanNode::Filter { input, predicate } => {
                    let s = simplify_expr(predicate)?;
                    if is_true(&s) {
                        return Ok(Arc::clone(input));
                    }
                    if &s == predicate {
                        return Ok(p);
                    }
                    PlanNode::Filter {
                        input: Arc::clone(input),
                        predicate: s,
                    }
                }
                PlanNode::Select { input, exprs } => {
                    let s = all(exprs)?;
                    if &s == exprs {
                        return Ok(p);
                    }
                    PlanNode::Select {
                        input: Arc::clone(input),
                        exprs: s,
                    }
                }
                PlanNode::WithColumns { input, exprs } => {
                    let s = all(exprs)?;
                    if &s == exprs {
                        return Ok(p);
                    }
                    PlanNode::WithColumns {
                        input: Arc::clone(input),
                        exprs: s,
                    }
                }
                PlanNode::Scan(scan) => {
                    let s: Vec<Expr> = all(&scan.filters)?
                        .into_iter()
                        .filter(|e| !is_true(e))
                        .collect();
                    if s == scan.filters {
                        return Ok(p);
                    }
                    PlanNode::Scan(ScanNode {
                        filters: s,
                        ..scan.clone()
                    })
                }
                PlanNode::Join(j) => {
                    let Some(f) = &j.filter else {
                        return Ok(p);
                    };
                    let s = simplify_expr(&f.expr)?;
                    if s == f.expr {
                        return Ok(p);
                    }
                    PlanNode::Join(JoinNode {
                        filter: (!is_true(&s)).then(|| JoinFilter {
                            expr: s,
                            columns: f.columns.clone(),
                        }),
                        ..j.clone()
                    })
                }
                _ => return Ok(p),
            };
            LogicalPlan::with_id(p.id(), node)
        })
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, BooleanArray};
    use parframe_core::{Table, col, lit};

    use super::*;

    #[test]
    fn boolean_identities() {
        let x = col("x");
        assert_eq!(simplify_expr(&x.clone().and(lit(true))).unwrap(), x);
        assert_eq!(simplify_expr(&lit(false).or(x.clone())).unwrap(), x);
        assert_eq!(
            simplify_expr(&x.clone().and(lit(false))).unwrap(),
            lit(false)
        );
        assert_eq!(simplify_expr(&x.clone().or(lit(true))).unwrap(), lit(true));
        assert_eq!(simplify_expr(&x.clone().not().not()).unwrap(), x);
        assert_eq!(simplify_expr(&lit(true).not().or(x.clone())).unwrap(), x);
    }

    #[test]
    fn a_true_filter_goes_away() {
        let a: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        let t = LogicalPlan::table(Table::from_columns(vec![("x".into(), a)]).unwrap());
        let f = LogicalPlan::filter(&t, col("x").or(lit(true)).and(lit(true))).unwrap();
        let out = Simplify.rewrite(f).unwrap();
        assert!(Arc::ptr_eq(&out, &t));
        let f = LogicalPlan::filter(&t, col("x").and(lit(true))).unwrap();
        let out = Simplify.rewrite(f.clone()).unwrap();
        assert_eq!(out.id(), f.id());
        assert!(matches!(out.node(), PlanNode::Filter { predicate, .. } if predicate == &col("x")));
    }
}
