//! SQL's keyword-syntax expressions over dates, times and strings:
//! `EXTRACT(part FROM x)`, `INTERVAL 'n' unit`, typed literals
//! (`DATE '1998-12-01'`, `TIMESTAMP '2013-06-01 10:00'`),
//! `SUBSTRING(s FROM a FOR b)`, `TRIM([BOTH|LEADING|TRAILING] [c] FROM s)`,
//! `POSITION(sub IN s)`, `x AT TIME ZONE 'tz'` and
//! `s [NOT] LIKE|ILIKE p [ESCAPE 'c']`. Each becomes the core expression
//! of the same meaning (see `parframe_core::expr`); literals are checked
//! here, so a bad one is an error with its position in the query.

use arrow_array::{ArrayRef, StringArray};
use arrow_cast::CastOptions;
use arrow_schema::DataType;
use parframe_common::Result;
use parframe_core::{Expr, Func, ScalarValue, TimePart, interval, lit};
use sqlparser::ast::{self, DateTimeField, Spanned, TrimWhereField, UnaryOperator, Value};
use sqlparser::tokenizer::Span;

use crate::error::{err, sql_error, unsupported};
use crate::expr::{Leaf, string_literal};
use crate::types::sql_type;

/// The parts `EXTRACT` and `date_part` know, for error messages.
pub(crate) const PARTS: &str =
    "year, quarter, month, week, day, dow, doy, hour, minute, second, epoch";

/// A time part by its SQL name (`'year'`, `'dow'`), or an error naming the
/// supported ones.
pub(crate) fn time_part(name: &str, span: Span) -> Result<TimePart> {
    TimePart::parse(name).ok_or_else(|| {
        sql_error(
            format!("unknown date part '{name}' (supported: {PARTS})"),
            span,
        )
    })
}

/// `EXTRACT(field FROM x)`: `date_part`, Int64.
pub(crate) fn extract(field: &DateTimeField, x: Expr, span: Span) -> Result<Expr> {
    let name = match field {
        DateTimeField::Custom(i) => i.value.clone(),
        DateTimeField::Week(Some(_)) => {
            return unsupported("EXTRACT(WEEK(weekday) ...): use WEEK (ISO weeks)", span);
        }
        other => other.to_string().to_ascii_lowercase(),
    };
    Ok(x.dt().part(time_part(&name, span)?))
}

/// The months, days and nanoseconds of `n` of `unit` (checked).
fn interval_of(n: f64, unit: &str, span: Span) -> Result<(i64, i64, i128)> {
    const NS: f64 = 1e9;
    let whole = || {
        if n.fract() != 0.0 {
            return err(
                format!("INTERVAL: {n} {unit} is not a whole number of {unit}s"),
                span,
            );
        }
        Ok(n as i64)
    };
    let u = unit.to_ascii_lowercase();
    let u = u.strip_suffix('s').unwrap_or(&u);
    Ok(match u {
        "year" | "yr" | "y" => (whole()?.saturating_mul(12), 0, 0),
        "quarter" => (whole()?.saturating_mul(3), 0, 0),
        "month" | "mon" => (whole()?, 0, 0),
        "week" | "w" => (0, whole()?.saturating_mul(7), 0),
        "day" | "d" => (0, whole()?, 0),
        "hour" | "h" | "hr" => (0, 0, (n * 3600.0 * NS) as i128),
        "minute" | "min" | "m" => (0, 0, (n * 60.0 * NS) as i128),
        "second" | "sec" => (0, 0, (n * NS) as i128),
        "millisecond" | "ms" => (0, 0, (n * 1e6) as i128),
        "microsecond" | "us" => (0, 0, (n * 1e3) as i128),
        _ => {
            return err(
                format!(
                    "INTERVAL: unknown unit '{unit}' (year, quarter, month, week, day, hour, minute, second, millisecond, microsecond)"
                ),
                span,
            );
        }
    })
}

/// The text of an interval's value: a string or a (signed) number literal.
fn interval_text(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(n.clone()),
            _ => string_literal(e),
        },
        ast::Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => interval_text(expr).map(|t| format!("-{t}")),
        _ => None,
    }
}

/// `INTERVAL '90' DAY`, `INTERVAL 3 MONTH`, `INTERVAL '1 year 2 days'`:
/// an `Interval(MonthDayNano)` literal.
pub(crate) fn interval_literal(iv: &ast::Interval, span: Span) -> Result<Expr> {
    let (months, days, nanos) = interval_parts(iv, span)?;
    Ok(interval(months, days, nanos))
}

/// The months, days and nanoseconds of an interval literal.
pub(crate) fn interval_parts(iv: &ast::Interval, span: Span) -> Result<(i32, i32, i64)> {
    if iv.last_field.is_some() {
        return unsupported(
            "INTERVAL ... TO ... (write INTERVAL '1 year 2 months')",
            span,
        );
    }
    let Some(text) = interval_text(&iv.value) else {
        return unsupported(
            "INTERVAL of an expression (write a literal: INTERVAL '3' DAY)",
            span,
        );
    };
    let bad = |why: &str| err(format!("INTERVAL '{text}': {why}"), span);
    let mut pairs: Vec<(f64, String)> = Vec::new();
    match &iv.leading_field {
        Some(field) => {
            let Ok(n) = text.trim().parse::<f64>() else {
                return bad("expected a number");
            };
            pairs.push((n, field.to_string()));
        }
        None => {
            let words: Vec<&str> = text.split_whitespace().collect();
            if words.is_empty() || !words.len().is_multiple_of(2) {
                return bad("expected pairs of a number and a unit ('1 year 2 days')");
            }
            for w in words.chunks(2) {
                let Ok(n) = w[0].parse::<f64>() else {
                    return bad(&format!("'{}' is not a number", w[0]));
                };
                pairs.push((n, w[1].to_string()));
            }
        }
    }
    let (mut months, mut days, mut nanos) = (0i64, 0i64, 0i128);
    for (n, unit) in &pairs {
        let (m, d, ns) = interval_of(*n, unit, span)?;
        months = months.saturating_add(m);
        days = days.saturating_add(d);
        nanos = nanos.saturating_add(ns);
    }
    match (
        i32::try_from(months),
        i32::try_from(days),
        i64::try_from(nanos),
    ) {
        (Ok(m), Ok(d), Ok(ns)) => Ok((m, d, ns)),
        _ => bad("out of range"),
    }
}

/// A typed literal `T 'text'` (`DATE '1994-01-01'`): the text cast to the
/// type now (strictly), so a bad literal is an error at its position.
pub(crate) fn typed_literal(data_type: &ast::DataType, text: &str, span: Span) -> Result<Expr> {
    let to = sql_type(data_type, span)?;
    if to == DataType::Utf8 {
        return Ok(lit(text.to_string()));
    }
    // `'2013-06-01 10:00'` (no seconds), as DuckDB and PostgreSQL read
    // it; arrow's parser wants the seconds.
    let text = match to {
        DataType::Timestamp(..) | DataType::Time32(_) | DataType::Time64(_)
            if minutes_only(text) =>
        {
            format!("{text}:00")
        }
        _ => text.to_string(),
    };
    let text = text.as_str();
    let input: ArrayRef = std::sync::Arc::new(StringArray::from(vec![text]));
    let opts = CastOptions {
        safe: false,
        ..Default::default()
    };
    let out = arrow_cast::cast_with_options(&input, &to, &opts)
        .map_err(|e| sql_error(format!("bad {data_type} literal '{text}': {e}"), span))?;
    let v = ScalarValue::try_from_array(out.as_ref(), 0)
        .map_err(|e| sql_error(format!("{data_type} literal '{text}': {e}"), span))?;
    Ok(lit(v))
}

/// Whether `text` ends in hours and minutes without seconds:
/// `2013-06-01 10:00`, `2013-06-01T10:00`, `10:00`.
fn minutes_only(text: &str) -> bool {
    let b = text.as_bytes();
    let n = b.len();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let hm =
        |at: usize| n == at + 5 && digits(at..at + 2) && b[at + 2] == b':' && digits(at + 3..n);
    hm(0) || (n == 16 && matches!(b[10], b' ' | b'T') && digits(0..4) && hm(11))
}

/// `SUBSTRING(s FROM a FOR b)` / `SUBSTRING(s, a, b)` (1-based).
pub(crate) fn substring(
    s: Expr,
    from: Option<&ast::Expr>,
    len: Option<&ast::Expr>,
    t: &mut dyn Leaf,
) -> Result<Expr> {
    let start = match from {
        Some(e) => t.leaf(e)?,
        None => lit(1i64),
    };
    let len = match len {
        Some(e) => Some(t.leaf(e)?),
        None => None,
    };
    Ok(s.str().substring(start, len))
}

/// `TRIM([BOTH | LEADING | TRAILING] [chars FROM] s)` and `TRIM(s, chars)`.
pub(crate) fn trim(
    trim_where: Option<&TrimWhereField>,
    what: Option<&ast::Expr>,
    s: &ast::Expr,
    characters: Option<&[ast::Expr]>,
    t: &mut dyn Leaf,
    span: Span,
) -> Result<Expr> {
    let (left, right) = match trim_where {
        None | Some(TrimWhereField::Both) => (true, true),
        Some(TrimWhereField::Leading) => (true, false),
        Some(TrimWhereField::Trailing) => (false, true),
    };
    let mut args = vec![t.leaf(s)?];
    match (what, characters) {
        (Some(_), Some(_)) => return err("TRIM: give the characters once", span),
        (Some(c), None) => args.push(t.leaf(c)?),
        (None, Some([c])) => args.push(t.leaf(c)?),
        (None, Some(_)) => return err("TRIM(s, characters) takes one string of characters", span),
        (None, None) => {}
    }
    Ok(Expr::Function {
        func: Func::Trim { left, right },
        args,
    })
}

/// `x AT TIME ZONE 'tz'`: the same instants shown in `tz`.
pub(crate) fn at_time_zone(x: Expr, tz: &ast::Expr) -> Result<Expr> {
    match string_literal(tz) {
        Some(name) => Ok(x.dt().convert_time_zone(name)),
        None => unsupported(
            "AT TIME ZONE with a zone that is not a string literal",
            tz.span(),
        ),
    }
}

/// The escape character of `LIKE ... ESCAPE 'c'`.
fn escape_char(e: &ast::Expr) -> Result<char> {
    let s = string_literal(e)
        .ok_or_else(|| sql_error("ESCAPE needs a one-character string literal", e.span()))?;
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => err(
            format!("ESCAPE '{s}': the escape must be one character"),
            e.span(),
        ),
    }
}

/// `x [NOT] LIKE|ILIKE pattern [ESCAPE 'c']` (`%` any run, `_` one
/// character; without `ESCAPE`, `\` escapes as in PostgreSQL and DuckDB).
pub(crate) fn like(
    x: Expr,
    pattern: Expr,
    case_insensitive: bool,
    negated: bool,
    escape: Option<&ast::Expr>,
) -> Result<Expr> {
    let escape = match escape {
        Some(e) => Some(escape_char(e)?),
        None => None,
    };
    let m = x.like_expr(pattern, case_insensitive, escape);
    Ok(if negated { m.not() } else { m })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> Span {
        Span::empty()
    }

    #[test]
    fn interval_units_add_up() {
        assert_eq!(interval_of(2.0, "years", span()).unwrap(), (24, 0, 0));
        assert_eq!(interval_of(3.0, "QUARTER", span()).unwrap(), (9, 0, 0));
        assert_eq!(interval_of(2.0, "weeks", span()).unwrap(), (0, 14, 0));
        assert_eq!(
            interval_of(1.5, "second", span()).unwrap(),
            (0, 0, 1_500_000_000)
        );
        assert!(interval_of(1.5, "day", span()).is_err());
        assert!(interval_of(1.0, "fortnight", span()).is_err());
    }

    #[test]
    fn minutes_without_seconds() {
        assert!(minutes_only("2013-06-01 10:00"));
        assert!(minutes_only("2013-06-01T10:00"));
        assert!(minutes_only("10:00"));
        assert!(!minutes_only("2013-06-01 10:00:00"));
        assert!(!minutes_only("2013-06-01"));
        assert!(!minutes_only("2013-06-01 10:0x"));
    }

    #[test]
    fn unknown_parts_name_the_supported_ones() {
        let e = time_part("century", span()).unwrap_err().to_string();
        assert!(e.contains("century") && e.contains("epoch"), "{e}");
        assert_eq!(time_part("DOW", span()).unwrap(), TimePart::DayOfWeek);
    }
}
