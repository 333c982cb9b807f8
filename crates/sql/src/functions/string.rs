//! String functions.

use parframe_common::Result;
use parframe_core::Expr;

use super::ScalarArgs;

pub(super) fn lower(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(0).lower())
}

pub(super) fn upper(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(0).upper())
}

pub(super) fn length(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(0).str_len())
}

pub(super) fn starts_with(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(0).starts_with(a.string_literal(1)?))
}

pub(super) fn ends_with(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(0).ends_with(a.string_literal(1)?))
}

pub(super) fn contains(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(0).contains(a.string_literal(1)?))
}
