//! SQL types to Arrow types.

use arrow_schema::DataType;
use parframe_common::Result;
use sqlparser::ast;
use sqlparser::tokenizer::Span;

use crate::error::unsupported;

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
        T::Date => DataType::Date32,
        other => return unsupported(format!("the type {other} in CAST"), span),
    })
}
