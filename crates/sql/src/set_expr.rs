//! Set expressions: `UNION`, `INTERSECT`, `EXCEPT` (each `[ALL]`), columns
//! matched by position and named as on the left; `VALUES`; parenthesized
//! queries.

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{RecordBatch, UInt32Array};
use arrow_schema::DataType;
use parframe_common::{Error, Result};
use parframe_core::{Expr, col, lit, when};
use parframe_exec::LazyFrame;
use parframe_exec::agg;
use sqlparser::ast::{SetExpr, SetOperator, SetQuantifier, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{at, err, unsupported};
use crate::expr::first_words;
use crate::planner::SqlPlanner;
use crate::values::common_type;

/// Hidden columns of INTERSECT/EXCEPT: which side a row came from, and
/// how many times a row is in each side.
const LEFT: &str = "__pf_set_l";
const RIGHT: &str = "__pf_set_r";
const TIMES: &str = "__pf_set_n";

impl SqlPlanner {
    /// A query body without ORDER BY/LIMIT.
    pub(crate) fn plan_set(&self, e: &SetExpr) -> Result<LazyFrame> {
        match e {
            SetExpr::Select(s) => self.plan_select(s, &[], None),
            SetExpr::Query(q) => self.plan_query(q),
            SetExpr::Values(v) => self.plan_values(v),
            SetExpr::SetOperation {
                op,
                set_quantifier,
                left,
                right,
            } => {
                let all = match set_quantifier {
                    SetQuantifier::All => true,
                    SetQuantifier::Distinct | SetQuantifier::None => false,
                    other => return unsupported(format!("{op} {other}"), e.span()),
                };
                let (l, r) = align(self.plan_set(left)?, self.plan_set(right)?, op, e.span())?;
                match op {
                    SetOperator::Union => {
                        let u = l.union(&r).map_err(at(e.span()))?;
                        if all {
                            Ok(u)
                        } else {
                            u.distinct().map_err(at(e.span()))
                        }
                    }
                    SetOperator::Intersect | SetOperator::Except => {
                        intersect_except(&l, &r, *op == SetOperator::Intersect, all)
                            .map_err(at(e.span()))
                    }
                    other => unsupported(format!("the set operation {other}"), e.span()),
                }
            }
            other => unsupported(
                format!("the query form '{}'", first_words(&other.to_string())),
                other.span(),
            ),
        }
    }
}

/// The right side with the left side's column names; numeric columns of
/// different types widened to one (integers to `Int64`, with floats to
/// `Float64`) on both sides.
fn align(
    l: LazyFrame,
    r: LazyFrame,
    op: &SetOperator,
    span: Span,
) -> Result<(LazyFrame, LazyFrame)> {
    let (ls, rs) = (l.schema(), r.schema());
    if ls.fields().len() != rs.fields().len() {
        return err(
            format!(
                "each side of a {op} must have the same number of columns ({} vs {})",
                ls.fields().len(),
                rs.fields().len()
            ),
            span,
        );
    }
    let mut lx = Vec::new();
    let mut rx = Vec::new();
    for (f, g) in ls.fields().iter().zip(rs.fields()) {
        let (mut a, mut b) = (col(f.name().as_str()), col(g.name().as_str()));
        let (ft, gt) = (f.data_type(), g.data_type());
        if ft != gt
            && ft.is_numeric()
            && gt.is_numeric()
            && let Some(t) = common_type(&[ft, gt])
        {
            if ft != &t {
                a = a.cast(t.clone());
            }
            if gt != &t {
                b = b.cast(t);
            }
        }
        lx.push(a.alias(f.name().as_str()));
        rx.push(b.alias(f.name().as_str()));
    }
    Ok((
        l.select(lx).map_err(at(span))?,
        r.select(rx).map_err(at(span))?,
    ))
}

/// `INTERSECT`/`EXCEPT [ALL]` by counting: both sides tagged, unioned and
/// grouped by every column (so NULLs compare equal, as set operations
/// want), then the rows kept as many times as the operation says
/// (`INTERSECT ALL`: the smaller count; `EXCEPT ALL`: the difference;
/// without `ALL`: once).
fn intersect_except(l: &LazyFrame, r: &LazyFrame, intersect: bool, all: bool) -> Result<LazyFrame> {
    let names: Vec<String> = l
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let tag = |lf: &LazyFrame, left: i64| {
        lf.with_columns([lit(left).alias(LEFT), lit(1 - left).alias(RIGHT)])
    };
    let counted = tag(l, 1)?
        .union(&tag(r, 0)?)?
        .group_by(names.iter().map(|n| col(n.as_str())))
        .agg([agg::sum(LEFT).alias(LEFT), agg::sum(RIGHT).alias(RIGHT)])?;
    let (cl, cr) = (col(LEFT), col(RIGHT));
    let times: Expr = match (intersect, all) {
        (true, true) => when(cl.clone().lt(cr.clone()), cl).otherwise(cr),
        (false, true) => cl - cr,
        (true, false) => {
            when(cl.gt(lit(0i64)).and(cr.gt(lit(0i64))), lit(1i64)).otherwise(lit(0i64))
        }
        (false, false) => {
            when(cl.gt(lit(0i64)).and(cr.eq(lit(0i64))), lit(1i64)).otherwise(lit(0i64))
        }
    };
    let kept = counted
        .with_column(times.alias(TIMES))?
        .filter(col(TIMES).gt(lit(0i64)))?;
    let kept = if all {
        repeat_rows(&kept, TIMES)?
    } else {
        kept
    };
    kept.select(names.iter().map(|n| col(n.as_str())))
}

/// Each row repeated as many times as its `count` column says (an Arrow
/// `take` with each index repeated). The output has as many rows as the
/// counts add up to, at most the rows of the left side of the set
/// operation they come from.
fn repeat_rows(lf: &LazyFrame, count: &'static str) -> Result<LazyFrame> {
    lf.map_batches_with_schema(lf.schema(), move |batch: RecordBatch| {
        let idx = batch.schema().index_of(count)?;
        let counts = batch.column(idx);
        if counts.data_type() != &DataType::Int64 {
            return Err(Error::type_mismatch(
                "INTERSECT/EXCEPT ALL",
                format!("the row count is {}", counts.data_type()),
            ));
        }
        let counts = counts.as_primitive::<Int64Type>();
        let mut indices: Vec<u32> = Vec::new();
        for (i, n) in counts.iter().enumerate() {
            let row = u32::try_from(i).map_err(|_| {
                Error::InvalidArgument("INTERSECT/EXCEPT ALL: chunk too long".into())
            })?;
            for _ in 0..n.unwrap_or(0).max(0) {
                indices.push(row);
            }
        }
        let indices = UInt32Array::from(indices);
        Ok(arrow_select::take::take_record_batch(&batch, &indices)?)
    })
}
