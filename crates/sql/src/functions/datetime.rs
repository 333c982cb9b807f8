//! Date and time functions.

use parframe_common::Result;
use parframe_core::{Expr, Func, TimePart, make_date as core_make_date};

use super::ScalarArgs;
use crate::syntax::time_part;

/// The part named by argument `i` (a string literal: `'year'`).
fn part(a: &ScalarArgs<'_>, i: usize) -> Result<TimePart> {
    let name = a.string_literal(i)?;
    time_part(&name, a.arg_span(i))
}

/// `date_part('part', t)`: Int64.
pub(super) fn date_part(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(1).dt().part(part(a, 0)?))
}

/// `date_trunc('part', t)`: the start of the period, same type.
pub(super) fn date_trunc(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(1).dt().truncate(part(a, 0)?))
}

/// The part functions `year(t)`, `month(t)`...: `date_part` of the
/// function's own name.
pub(super) fn named_part(a: &ScalarArgs<'_>) -> Result<Expr> {
    let p = match a.name {
        "dayofweek" | "weekday" => TimePart::DayOfWeek,
        "dayofyear" => TimePart::DayOfYear,
        "dayofmonth" => TimePart::Day,
        "weekofyear" => TimePart::Week,
        other => time_part(other, a.span)?,
    };
    Ok(a.expr(0).dt().part(p))
}

/// `make_date(year, month, day)`: Date32.
pub(super) fn make_date(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(core_make_date(a.expr(0), a.expr(1), a.expr(2)))
}

/// `strftime(t, 'format')` (chrono's `%` format): Utf8.
pub(super) fn strftime(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(0).dt().strftime(a.string_literal(1)?))
}

/// `strptime(s, 'format')`: `Timestamp(µs)`.
pub(super) fn strptime(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(Expr::Function {
        func: Func::Strptime(a.string_literal(1)?),
        args: vec![a.expr(0)],
    })
}

/// `timezone('zone', t)`: `t AT TIME ZONE 'zone'`.
pub(super) fn timezone(a: &ScalarArgs<'_>) -> Result<Expr> {
    Ok(a.expr(1).dt().convert_time_zone(a.string_literal(0)?))
}
