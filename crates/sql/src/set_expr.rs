//! Set expressions: `UNION [ALL]` (columns matched by position).

use parframe_common::Result;
use parframe_core::col;
use parframe_exec::LazyFrame;
use sqlparser::ast::{self, SetExpr, Spanned};

use crate::error::{at, err, unsupported};
use crate::expr::first_words;
use crate::planner::SqlPlanner;

impl SqlPlanner {
    /// A query body without ORDER BY/LIMIT: a SELECT, a parenthesized
    /// query, or `UNION [ALL]` of those (columns matched by position, named
    /// as on the left; `UNION` removes duplicate rows).
    pub(crate) fn plan_set(&self, e: &SetExpr) -> Result<LazyFrame> {
        match e {
            SetExpr::Select(s) => self.plan_select(s, &[], None),
            SetExpr::Query(q) => self.plan_query(q),
            SetExpr::Values(v) => self.plan_values(v),
            SetExpr::SetOperation {
                op: ast::SetOperator::Union,
                set_quantifier,
                left,
                right,
            } => {
                let l = self.plan_set(left)?;
                let r = self.plan_set(right)?;
                let (ls, rs) = (l.schema(), r.schema());
                if ls.fields().len() != rs.fields().len() {
                    return err(
                        format!(
                            "each side of a UNION must have the same number of columns ({} vs {})",
                            ls.fields().len(),
                            rs.fields().len()
                        ),
                        e.span(),
                    );
                }
                let r = r
                    .select(
                        rs.fields()
                            .iter()
                            .zip(ls.fields())
                            .map(|(f, g)| col(f.name().as_str()).alias(g.name().as_str())),
                    )
                    .map_err(at(right.span()))?;
                let u = l.union(&r).map_err(at(e.span()))?;
                match set_quantifier {
                    ast::SetQuantifier::All => Ok(u),
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => {
                        u.distinct().map_err(at(e.span()))
                    }
                    other => unsupported(format!("UNION {other}"), e.span()),
                }
            }
            SetExpr::SetOperation { op, .. } => {
                unsupported(format!("{op} (set operations other than UNION)"), e.span())
            }
            other => unsupported(
                format!("the query form '{}'", first_words(&other.to_string())),
                other.span(),
            ),
        }
    }
}
