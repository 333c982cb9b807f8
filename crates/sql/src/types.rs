//! SQL types to Arrow types.
//!
//! `DECIMAL(p, s)` / `NUMERIC(p, s)` is `Decimal128(p, s)` up to 38 digits
//! and `Decimal256` up to 76; `DECIMAL(p)` has scale 0 and a bare
//! `DECIMAL` is DuckDB's default `DECIMAL(18, 3)`. `TIMESTAMP` is
//! `Timestamp(µs)` without a zone (DuckDB's), `TIMESTAMP WITH TIME ZONE` /
//! `TIMESTAMPTZ` is `Timestamp(µs, "UTC")`, `TIME` is `Time64(µs)`,
//! `INTERVAL` is `Interval(MonthDayNano)`.

use arrow_schema::{
    DECIMAL128_MAX_PRECISION, DECIMAL256_MAX_PRECISION, DataType, IntervalUnit, TimeUnit,
};
use parframe_common::Result;
use sqlparser::ast;
use sqlparser::tokenizer::Span;

use crate::error::{err, unsupported};

/// `DECIMAL(p, s)`, checked: `1 <= p <= 76`, `0 <= s <= p`.
fn decimal_type(info: &ast::ExactNumberInfo, span: Span) -> Result<DataType> {
    let (p, s) = match info {
        ast::ExactNumberInfo::None => (18, 3),
        ast::ExactNumberInfo::Precision(p) => (*p, 0),
        ast::ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
    };
    if p == 0 || p > u64::from(DECIMAL256_MAX_PRECISION) || s < 0 || s > p as i64 {
        return err(
            format!(
                "DECIMAL({p}, {s}): the precision must be 1 to {DECIMAL256_MAX_PRECISION} and the scale 0 to the precision"
            ),
            span,
        );
    }
    // Checked above: both fit (p <= 76, 0 <= s <= p).
    let (p8, s8) = (p as u8, s as i8);
    Ok(if p8 <= DECIMAL128_MAX_PRECISION {
        DataType::Decimal128(p8, s8)
    } else {
        DataType::Decimal256(p8, s8)
    })
}

/// Maps a SQL type to an Arrow type.
pub(crate) fn sql_type(t: &ast::DataType, span: Span) -> Result<DataType> {
    use ast::DataType as T;
    Ok(match t {
        T::TinyInt(_) => DataType::Int8,
        T::SmallInt(_) | T::Int2(_) | T::Int16 => DataType::Int16,
        T::Int(_) | T::Integer(_) | T::Int4(_) | T::Int32 => DataType::Int32,
        T::BigInt(_) | T::Int8(_) | T::Int64 => DataType::Int64,
        T::UTinyInt | T::UInt8 | T::TinyIntUnsigned(_) => DataType::UInt8,
        T::USmallInt | T::UInt16 | T::SmallIntUnsigned(_) => DataType::UInt16,
        T::UInt32 | T::IntUnsigned(_) | T::IntegerUnsigned(_) => DataType::UInt32,
        T::UBigInt | T::UInt64 | T::BigIntUnsigned(_) => DataType::UInt64,
        T::Real | T::Float4 | T::Float32 | T::Float(_) => DataType::Float32,
        T::Double(_) | T::DoublePrecision | T::Float8 | T::Float64 => DataType::Float64,
        T::Varchar(_)
        | T::Char(_)
        | T::Character(_)
        | T::CharacterVarying(_)
        | T::CharVarying(_)
        | T::Nvarchar(_)
        | T::Text
        | T::String(_) => DataType::Utf8,
        T::Bool | T::Boolean => DataType::Boolean,
        T::Date | T::Date32 => DataType::Date32,
        T::Decimal(info) | T::Numeric(info) | T::Dec(info) => decimal_type(info, span)?,
        T::Timestamp(_, tz) => match tz {
            ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
            ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
        },
        T::TimestampNtz(_) | T::Datetime(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
        T::Time(_, ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone) => {
            DataType::Time64(TimeUnit::Microsecond)
        }
        T::Interval { .. } => DataType::Interval(IntervalUnit::MonthDayNano),
        other => return unsupported(format!("the type {other} in CAST"), span),
    })
}
