//! `VALUES` lists and `SELECT` without `FROM`: small constant tables,
//! built at planning time.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Schema};
use parframe_common::Result;
use parframe_core::{Expr, Table};
use parframe_exec::LazyFrame;
use sqlparser::ast::{self, Spanned};

use crate::error::{at, err};
use crate::expr::{Leaf, translate_with};
use crate::planner::SqlPlanner;

/// A chunk of one row and no columns: what `SELECT 1` reads.
pub(crate) fn one_row() -> Result<RecordBatch> {
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        Vec::new(),
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?)
}

/// Translates expressions without columns (the cells of `VALUES`).
struct Constant;

impl Leaf for Constant {
    fn leaf(&mut self, e: &ast::Expr) -> Result<Expr> {
        match e {
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => err(
                format!("'{e}': a VALUES list holds constants, not columns"),
                e.span(),
            ),
            _ => translate_with(e, self),
        }
    }

    fn data_type(&mut self, e: &Expr) -> Option<DataType> {
        e.to_field(&Schema::empty())
            .ok()
            .map(|f| f.data_type().clone())
    }
}

/// The integer digits and scale of a decimal or integer type.
fn exact_parts(t: &DataType) -> Option<(i16, i16)> {
    match t {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            Some((i16::from(*p) - i16::from(*s), i16::from(*s)))
        }
        DataType::UInt64 => Some((20, 0)),
        DataType::Int64 => Some((19, 0)),
        t if t.is_integer() => Some((10, 0)),
        _ => None,
    }
}

/// Decimals meeting integers or decimals: the larger scale and the larger
/// number of integer digits (at most 38 digits in all; a value that does
/// not fit is an error when it is cast); meeting a float: `Float64`.
fn decimal_common(a: &DataType, b: &DataType) -> Option<DataType> {
    if a.is_floating() || b.is_floating() {
        return Some(DataType::Float64);
    }
    let (ai, as_) = exact_parts(a)?;
    let (bi, bs) = exact_parts(b)?;
    let scale = as_.max(bs).min(38);
    let precision = (ai.max(bi) + scale).clamp(1, 38);
    Some(DataType::Decimal128(precision as u8, scale as i8))
}

/// The type a column of mixed literal types becomes: nulls take the
/// others' type, integers widen to `Int64`, integers with floats to
/// `Float64`, decimals with integers or decimals to a decimal holding
/// both (with floats to `Float64`); anything else must agree.
pub(crate) fn common_type(types: &[&DataType]) -> Option<DataType> {
    let mut out: Option<DataType> = None;
    for &t in types {
        if t == &DataType::Null {
            continue;
        }
        out = Some(match out {
            None => t.clone(),
            Some(o) if &o == t => o,
            Some(o) if o.is_integer() && t.is_integer() => DataType::Int64,
            Some(o) if o.is_numeric() && t.is_numeric() && !o.is_decimal() && !t.is_decimal() => {
                DataType::Float64
            }
            Some(o) if o.is_numeric() && t.is_numeric() => decimal_common(&o, t)?,
            Some(_) => return None,
        });
    }
    // A column of nulls only: Int32, as DuckDB and PostgreSQL type it.
    Some(out.unwrap_or(DataType::Int32))
}

impl SqlPlanner {
    /// `VALUES (1, 'a'), (2, 'b')`: columns `column1`, `column2`, ... (as
    /// PostgreSQL and DataFusion name them; rename them with
    /// `AS v(a, b)`).
    pub(crate) fn plan_values(&self, v: &ast::Values) -> Result<LazyFrame> {
        let span = v.span();
        let Some(first) = v.rows.first() else {
            return err("VALUES needs at least one row", span);
        };
        let width = first.len();
        if width == 0 {
            return err("VALUES rows need at least one value", span);
        }
        let one = one_row()?;
        let mut cells: Vec<Vec<ArrayRef>> = vec![Vec::with_capacity(v.rows.len()); width];
        for (r, row) in v.rows.iter().enumerate() {
            if row.len() != width {
                return err(
                    format!(
                        "VALUES row {} has {} values, the first row {width}",
                        r + 1,
                        row.len()
                    ),
                    row.first().map(|e| e.span()).unwrap_or(span),
                );
            }
            for (c, e) in row.iter().enumerate() {
                let x = Constant.leaf(e)?;
                cells[c].push(x.evaluate(&one).map_err(at(e.span()))?);
            }
        }
        let mut columns: Vec<(String, ArrayRef)> = Vec::with_capacity(width);
        for (c, arrays) in cells.into_iter().enumerate() {
            let types: Vec<&DataType> = arrays.iter().map(|a| a.data_type()).collect();
            let Some(to) = common_type(&types) else {
                let names: Vec<String> = types.iter().map(|t| t.to_string()).collect();
                return err(
                    format!(
                        "VALUES column {} mixes types ({}); cast the values to one type",
                        c + 1,
                        names.join(", ")
                    ),
                    span,
                );
            };
            let cast = arrays
                .iter()
                .map(|a| arrow_cast::cast(a, &to))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| crate::error::sql_error(e.to_string(), span))?;
            let refs: Vec<&dyn arrow_array::Array> = cast.iter().map(|a| a.as_ref()).collect();
            let array = arrow_select::concat::concat(&refs)
                .map_err(|e| crate::error::sql_error(e.to_string(), span))?;
            columns.push((format!("column{}", c + 1), array));
        }
        Ok(self.ctx.lazy(Table::from_columns(columns)?))
    }
}
