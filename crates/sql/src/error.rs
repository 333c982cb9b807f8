//! Errors of planning: [`parframe_common::Error::Sql`] with the position
//! of the construct in the query.

use std::fmt;

use parframe_common::{Error, Result};
use sqlparser::tokenizer::Span;

/// The position of a span, when the parser knows it (line 0 = unknown).
pub(crate) fn position(span: Span) -> Option<(u64, u64)> {
    (span.start.line > 0).then_some((span.start.line, span.start.column))
}

/// An [`Error::Sql`] at `span`.
pub(crate) fn sql_error(message: impl Into<String>, span: Span) -> Error {
    Error::sql(message, position(span))
}

/// `Err(Error::Sql)` at `span`.
pub(crate) fn err<T>(message: impl Into<String>, span: Span) -> Result<T> {
    Err(sql_error(message, span))
}

/// A construct without a plan: "not supported in SQL: ...".
pub(crate) fn unsupported_error(what: impl fmt::Display, span: Span) -> Error {
    sql_error(format!("not supported in SQL: {what}"), span)
}

/// `Err` of [`unsupported_error`].
pub(crate) fn unsupported<T>(what: impl fmt::Display, span: Span) -> Result<T> {
    Err(unsupported_error(what, span))
}

/// Adds the SQL position to a library error raised while planning a
/// construct (a type error from the plan builder, a missing file). An
/// error that already has a position keeps it.
pub(crate) fn at(span: Span) -> impl FnOnce(Error) -> Error {
    move |e| match e {
        Error::Sql { line: Some(_), .. } => e,
        Error::Sql { message, .. } => sql_error(message, span),
        other => sql_error(other.to_string(), span),
    }
}
