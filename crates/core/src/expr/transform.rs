//! Rebuilding an expression with its direct children replaced, the one
//! generic traversal optimizer rules need (substituting columns, folding
//! constants) without matching on every variant themselves. A new variant
//! of [`Expr`] gets its line here (the compiler points at it).

use parframe_common::Result;

use super::Expr;

impl Expr {
    /// The expression with each direct child `c` replaced by `f(c)`
    /// (children left to right); leaves (columns, literals) are returned
    /// as they are.
    pub fn map_children(self, f: &mut dyn FnMut(Expr) -> Result<Expr>) -> Result<Expr> {
        let mut b = |e: Box<Expr>| -> Result<Box<Expr>> { Ok(Box::new(f(*e)?)) };
        Ok(match self {
            Expr::Column(_) | Expr::Literal(_) => self,
            Expr::Binary { left, op, right } => {
                let left = b(left)?;
                let right = b(right)?;
                Expr::Binary { left, op, right }
            }
            Expr::Not(e) => Expr::Not(b(e)?),
            Expr::Negative(e) => Expr::Negative(b(e)?),
            Expr::IsNull(e) => Expr::IsNull(b(e)?),
            Expr::IsNotNull(e) => Expr::IsNotNull(b(e)?),
            Expr::Cast { expr, to } => Expr::Cast { expr: b(expr)?, to },
            Expr::Alias { expr, name } => Expr::Alias {
                expr: b(expr)?,
                name,
            },
            Expr::Str { expr, func } => Expr::Str {
                expr: b(expr)?,
                func,
            },
            Expr::Case {
                branches,
                otherwise,
            } => {
                let mut out = Vec::with_capacity(branches.len());
                for (c, v) in branches {
                    let c = b(Box::new(c))?;
                    let v = b(Box::new(v))?;
                    out.push((*c, *v));
                }
                Expr::Case {
                    branches: out,
                    otherwise: match otherwise {
                        Some(e) => Some(b(e)?),
                        None => None,
                    },
                }
            }
            Expr::Function { func, args } => Expr::Function {
                func,
                args: args.into_iter().map(&mut *f).collect::<Result<_>>()?,
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: b(expr)?,
                list,
                negated,
            },
        })
    }

    /// The expression rebuilt bottom-up: every node `n` (children first)
    /// replaced by `f(n)`.
    #[recursive::recursive]
    pub fn transform_up(self, f: &mut dyn FnMut(Expr) -> Result<Expr>) -> Result<Expr> {
        let e = self.map_children(&mut |c| c.transform_up(f))?;
        f(e)
    }
}
