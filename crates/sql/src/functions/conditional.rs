//! Null functions: `coalesce`, `ifnull`, `nullif` (`CASE` expressions, so
//! their arguments meet at one type by the `CASE` rules).

use parframe_common::Result;
use parframe_core::{Expr, coalesce as core_coalesce, nullif as core_nullif};

use super::ScalarArgs;

/// `coalesce(a, b, ...)`: the first non-null argument.
pub(super) fn coalesce(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(core_coalesce(a.exprs.clone()))
}

/// `nullif(a, b)`: null where `a = b`, else `a`.
pub(super) fn nullif(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(core_nullif(a.expr(0), a.expr(1)))
}
