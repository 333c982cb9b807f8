//! String functions.

use parframe_common::Result;
use parframe_core::{Expr, Func, lit};

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

/// A call of `func` on the arguments as given.
fn call(func: Func, a: &ScalarArgs<'_>) -> Expr {
    Expr::Function {
        func,
        args: a.exprs.clone(),
    }
}

pub(super) fn substring(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::Substring, a))
}

pub(super) fn replace(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::Replace, a))
}

pub(super) fn concat(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::Concat, a))
}

pub(super) fn concat_ws(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::ConcatWs, a))
}

pub(super) fn split_part(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::SplitPart, a))
}

pub(super) fn string_split(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::StringSplit, a))
}

pub(super) fn strpos(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::StrPos, a))
}

pub(super) fn trim(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(
        Func::Trim {
            left: true,
            right: true,
        },
        a,
    ))
}

pub(super) fn ltrim(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(
        Func::Trim {
            left: true,
            right: false,
        },
        a,
    ))
}

pub(super) fn rtrim(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(
        Func::Trim {
            left: false,
            right: true,
        },
        a,
    ))
}

/// `lpad`/`rpad(s, n[, fill])`: the fill is a space when not given.
fn pad(a: &ScalarArgs<'_>, left: bool) -> Result<Expr> {
    let mut args = a.exprs.clone();
    if args.len() == 2 {
        args.push(lit(" "));
    }
    Ok(Expr::Function {
        func: Func::Pad { left },
        args,
    })
}

pub(super) fn lpad(a: &ScalarArgs<'_>) -> Result<Expr> {
    pad(a, true)
}

pub(super) fn rpad(a: &ScalarArgs<'_>) -> Result<Expr> {
    pad(a, false)
}

pub(super) fn left(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::Left, a))
}

pub(super) fn right(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::Right, a))
}

pub(super) fn reverse(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::Reverse, a))
}

pub(super) fn octet_length(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(call(Func::OctetLength, a))
}

pub(super) fn regexp_like(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(0).str().regexp_like(a.string_literal(1)?))
}

pub(super) fn regexp_replace(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(0)
        .str()
        .regexp_replace(a.string_literal(1)?, a.string_literal(2)?))
}

/// `regexp_extract(s, pattern[, group])`: group 0 (the whole match) when
/// not given.
pub(super) fn regexp_extract(a: &ScalarArgs<'_>) -> Result<Expr> {
    let group = if a.exprs.len() > 2 {
        a.int_literal(2)?
    } else {
        0
    };
    Ok(a.expr(0).str().regexp_extract(a.string_literal(1)?, group))
}
