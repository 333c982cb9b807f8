//! Aggregate functions.

use parframe_common::Result;
use parframe_exec::agg::{self, AggExpr};
use sqlparser::ast;

use super::AggArgs;
use crate::error::err;

/// `count(*)`, `count(1)` (rows), `count(x)` (non-null values),
/// `count(DISTINCT x)` (distinct non-null values).
pub(super) fn count(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    if a.star {
        if a.distinct {
            return err(
                "count(DISTINCT *) is not valid SQL; name the columns",
                a.span,
            );
        }
        return Ok(agg::count_rows());
    }
    let Some(&e) = a.sql.first() else {
        return err("count needs an argument: count(*) or count(x)", a.span);
    };
    let constant = matches!(e, ast::Expr::Value(v) if !matches!(v.value, ast::Value::Null));
    if constant && !a.distinct && !a.filtered {
        return Ok(agg::count_rows());
    }
    let c = a.column(0)?;
    Ok(if a.distinct {
        agg::n_unique(&c)
    } else {
        agg::count(&c)
    })
}

fn one(a: &mut AggArgs<'_>, f: fn(String) -> AggExpr) -> Result<AggExpr> {
    a.no_distinct()?;
    let c = a.column(0)?;
    Ok(f(c))
}

pub(super) fn sum(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    one(a, agg::sum)
}

pub(super) fn avg(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    one(a, agg::mean)
}

pub(super) fn min(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    // DISTINCT changes nothing for min and max.
    let c = a.column(0)?;
    Ok(agg::min(&c))
}

pub(super) fn max(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    let c = a.column(0)?;
    Ok(agg::max(&c))
}

pub(super) fn median(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    one(a, agg::median)
}

pub(super) fn quantile_cont(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    a.no_distinct()?;
    let q = a.number_literal(1)?;
    let c = a.column(0)?;
    Ok(agg::quantile(&c, q))
}

pub(super) fn stddev(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    one(a, agg::std)
}

pub(super) fn var_samp(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    one(a, agg::var)
}

pub(super) fn corr(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    a.no_distinct()?;
    let x = a.column(0)?;
    let y = a.column(1)?;
    Ok(agg::corr(&x, &y))
}

pub(super) fn first(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    one(a, agg::first)
}

pub(super) fn last(a: &mut AggArgs<'_>) -> Result<AggExpr> {
    one(a, agg::last)
}
