//! Scalar functions ([`Expr::Function`]): temporal parts and truncation,
//! string functions, `LIKE`. Each is type-checked in [`plan`] (argument
//! count and types, constant arguments read once: regexes compiled, formats
//! checked) and computed in [`eval`] over whole arrays.
//!
//! Kernels: `arrow_arith::temporal::date_part` (extract), `arrow-string`'s
//! `like`/`ilike` (LIKE), `substring_by_char` (constant substring bounds),
//! `concat_elements` (`||`), `regexp_is_match` (regexp_like); functions that
//! arrow-rs 60 has no kernel for (trim with characters, pad, left/right,
//! split_part, string_split, strpos, replace, reverse, regexp_replace/extract, date_trunc,
//! make_date, strftime/strptime, variable substring bounds) run value by
//! value below over Utf8, LargeUtf8 and Utf8View alike and give Utf8.
//!
//! # How to add a function
//! Add a [`Func`] variant (with `name`), its argument and result types in
//! [`plan`], its computation in [`eval`], a builder method on [`Expr`] (or
//! a namespace), and one line in the SQL function registry.

use std::sync::Arc;

use arrow_arith::temporal::{DatePart, date_part};
use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Datum, LargeStringArray, Scalar, StringArray,
    StringViewArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, TimeUnit};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use parframe_common::{Error, Result};
use regex::Regex;

use super::Expr;
use super::math::{self, MathFunc, MathKernel};
use super::plan::Typed;

/// A part of a date or time, for [`Func::DatePart`] and [`Func::DateTrunc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    /// Calendar year.
    Year,
    /// Quarter of the year (1..=4).
    Quarter,
    /// Month (1..=12).
    Month,
    /// ISO week of the year (1..=53).
    Week,
    /// Day of the month (1..=31).
    Day,
    /// Day of the week, Sunday = 0 (as in PostgreSQL and DuckDB).
    DayOfWeek,
    /// Day of the year (1..=366).
    DayOfYear,
    /// Hour (0..=23).
    Hour,
    /// Minute (0..=59).
    Minute,
    /// Second (0..=59).
    Second,
    /// Seconds since 1970-01-01T00:00:00 UTC.
    Epoch,
}

impl TimePart {
    /// Parses a part name as SQL writes it (`'year'`, `'dow'`, `'doy'`...).
    pub fn parse(name: &str) -> Option<TimePart> {
        Some(match name.to_ascii_lowercase().as_str() {
            "year" | "years" | "y" => TimePart::Year,
            "quarter" | "quarters" => TimePart::Quarter,
            "month" | "months" | "mon" => TimePart::Month,
            "week" | "weeks" | "w" => TimePart::Week,
            "day" | "days" | "d" => TimePart::Day,
            "dow" | "dayofweek" => TimePart::DayOfWeek,
            "doy" | "dayofyear" => TimePart::DayOfYear,
            "hour" | "hours" | "h" => TimePart::Hour,
            "minute" | "minutes" | "min" | "m" => TimePart::Minute,
            "second" | "seconds" | "sec" | "s" => TimePart::Second,
            "epoch" => TimePart::Epoch,
            _ => return None,
        })
    }

    /// The part's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            TimePart::Year => "year",
            TimePart::Quarter => "quarter",
            TimePart::Month => "month",
            TimePart::Week => "week",
            TimePart::Day => "day",
            TimePart::DayOfWeek => "dow",
            TimePart::DayOfYear => "doy",
            TimePart::Hour => "hour",
            TimePart::Minute => "minute",
            TimePart::Second => "second",
            TimePart::Epoch => "epoch",
        }
    }

    /// arrow's part; `None` for epoch, which arrow-arith 60 lacks (computed
    /// by casting to `Timestamp(Second)`).
    fn arrow(self) -> Option<DatePart> {
        Some(match self {
            TimePart::Year => DatePart::Year,
            TimePart::Quarter => DatePart::Quarter,
            TimePart::Month => DatePart::Month,
            TimePart::Week => DatePart::Week,
            TimePart::Day => DatePart::Day,
            TimePart::DayOfWeek => DatePart::DayOfWeekSunday0,
            TimePart::DayOfYear => DatePart::DayOfYear,
            TimePart::Hour => DatePart::Hour,
            TimePart::Minute => DatePart::Minute,
            TimePart::Second => DatePart::Second,
            TimePart::Epoch => return None,
        })
    }
}

/// The scalar functions of [`Expr::Function`]; see the builder methods on
/// [`Expr`] for each one's arguments and result.
#[derive(Debug, Clone, PartialEq)]
pub enum Func {
    /// `TRY_CAST(x AS t)`: the cast, with null where a value does not
    /// convert (arrow's non-strict cast; `CAST` is strict).
    TryCast(DataType),
    /// `extract(part FROM t)` / `date_part(part, t)`: Int64.
    DatePart(TimePart),
    /// `date_trunc(part, t)`: the start of the part's period, same type.
    DateTrunc(TimePart),
    /// `make_date(year, month, day)` of integers: Date32.
    MakeDate,
    /// `strftime(t, format)`: chrono format, Utf8.
    Strftime(String),
    /// `strptime(s, format)`: chrono format, `Timestamp(µs)` without zone.
    Strptime(String),
    /// The same instants shown in another time zone (`Timestamp(unit, tz)`).
    ToTimeZone(String),
    /// `substring(s, start[, length])`, 1-based (SQL semantics).
    Substring,
    /// `replace(s, from, to)`: every occurrence.
    Replace,
    /// `s1 || s2 || ...`: null when any is null.
    Concat,
    /// `concat_ws(sep, s...)`: skips nulls.
    ConcatWs,
    /// `split_part(s, delimiter, n)`: 1-based field; empty when missing.
    SplitPart,
    /// `string_split(s, delimiter)`: every field, as a `List<Utf8>` (the
    /// characters when the delimiter is empty; null when either is null).
    StringSplit,
    /// `strpos(s, sub)`: 1-based character position, 0 when absent.
    StrPos,
    /// `trim`/`ltrim`/`rtrim(s[, characters])` (whitespace by default).
    Trim {
        /// Trim the start.
        left: bool,
        /// Trim the end.
        right: bool,
    },
    /// `lpad`/`rpad(s, length[, fill])` (space by default); truncates to
    /// `length` characters.
    Pad {
        /// Pad on the left.
        left: bool,
    },
    /// `left(s, n)`: the first `n` characters (all but the last `-n` when
    /// negative).
    Left,
    /// `right(s, n)`: the last `n` characters (all but the first `-n` when
    /// negative).
    Right,
    /// `reverse(s)` by characters.
    Reverse,
    /// `octet_length(s)`: bytes (Int64).
    OctetLength,
    /// `regexp_like(s, pattern)`.
    RegexpLike,
    /// `regexp_replace(s, pattern, replacement)`: every match; `$1` refers
    /// to a group.
    RegexpReplace,
    /// `regexp_extract(s, pattern[, group])`: the first match's group
    /// (0 = whole match); null when there is no match.
    RegexpExtract,
    /// A numeric function (`abs`, `round`, `sqrt`...; see [`MathFunc`]).
    Math(MathFunc),
    /// `isnan(x)`: whether a number is NaN (false for integers and
    /// decimals, null for null).
    IsNan,
    /// `s LIKE pattern` (`%`, `_`; `escape` quotes them).
    Like {
        /// ILIKE.
        case_insensitive: bool,
        /// The escape character (`\` when `None`).
        escape: Option<char>,
    },
}

impl Func {
    /// The function's name as printed and in SQL.
    pub fn name(&self) -> &'static str {
        match self {
            Func::TryCast(_) => "try_cast",
            Func::DatePart(_) => "date_part",
            Func::DateTrunc(_) => "date_trunc",
            Func::MakeDate => "make_date",
            Func::Strftime(_) => "strftime",
            Func::Strptime(_) => "strptime",
            Func::ToTimeZone(_) => "to_time_zone",
            Func::Substring => "substring",
            Func::Replace => "replace",
            Func::Concat => "concat",
            Func::ConcatWs => "concat_ws",
            Func::SplitPart => "split_part",
            Func::StringSplit => "string_split",
            Func::StrPos => "strpos",
            Func::Trim {
                left: true,
                right: true,
            } => "trim",
            Func::Trim { left: true, .. } => "ltrim",
            Func::Trim { .. } => "rtrim",
            Func::Pad { left: true } => "lpad",
            Func::Pad { left: false } => "rpad",
            Func::Left => "left",
            Func::Right => "right",
            Func::Reverse => "reverse",
            Func::OctetLength => "octet_length",
            Func::RegexpLike => "regexp_like",
            Func::RegexpReplace => "regexp_replace",
            Func::RegexpExtract => "regexp_extract",
            Func::Like {
                case_insensitive: false,
                ..
            } => "like",
            Func::Like { .. } => "ilike",
            Func::Math(m) => m.name(),
            Func::IsNan => "isnan",
        }
    }
}

/// A function with its constant arguments prepared.
#[derive(Debug, Clone)]
pub(super) enum Kernel {
    TryCast(DataType),
    DatePart(TimePart),
    DateTrunc(TimePart),
    MakeDate,
    Strftime(String),
    Strptime(String),
    ToTimeZone,
    Substring,
    Replace,
    Concat,
    ConcatWs,
    SplitPart,
    StringSplit,
    StrPos,
    Trim {
        left: bool,
        right: bool,
    },
    Pad {
        left: bool,
    },
    Left,
    Right,
    Reverse,
    OctetLength,
    RegexpLike(Regex),
    RegexpReplace(Regex, String),
    RegexpExtract(Regex, usize),
    Math(MathKernel),
    IsNan,
    /// The pattern rewritten to arrow's `\` escapes, as a Utf8 scalar, or
    /// `None` to take it from the argument row by row.
    Like {
        case_insensitive: bool,
        pattern: Option<Scalar<ArrayRef>>,
    },
}

fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

fn is_int(t: &DataType) -> bool {
    t.is_integer() || t == &DataType::Null
}

fn is_datetime(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) | DataType::Null
    )
}

/// The string value of a constant argument.
fn const_str(t: &Typed) -> Option<String> {
    match super::ScalarValue::try_from_array(t.literal()?.as_ref(), 0).ok()? {
        super::ScalarValue::Utf8(s) => Some(s),
        _ => None,
    }
}

fn const_int(t: &Typed) -> Option<i64> {
    super::ScalarValue::try_from_array(t.literal()?.as_ref(), 0)
        .ok()?
        .as_i128()
        .and_then(|v| i64::try_from(v).ok())
}

/// Type-checks `func` over planned `args`: the prepared kernel, the result
/// type, and the types the arguments are brought to (`None`: as they are).
pub(super) fn plan(
    expr: &Expr,
    func: &Func,
    args: &[Typed],
) -> Result<(Kernel, DataType, Vec<Option<DataType>>)> {
    let err = |m: String| Error::type_mismatch(expr.to_string(), m);
    let types: Vec<&DataType> = args.iter().map(|a| &a.data_type).collect();
    let shown = types
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let arity = |lo: usize, hi: usize| -> Result<()> {
        if args.len() < lo || args.len() > hi {
            let want = if lo == hi {
                format!("{lo}")
            } else {
                format!("{lo} to {hi}")
            };
            Err(err(format!(
                "{} takes {want} arguments, got {}",
                func.name(),
                args.len()
            )))
        } else {
            Ok(())
        }
    };
    let sig = |ok: bool, want: &str| -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(err(format!(
                "{} needs ({want}), got ({shown})",
                func.name()
            )))
        }
    };
    let utf8 = Some(DataType::Utf8);
    let i64t = Some(DataType::Int64);
    let str_args = |n: usize| -> Vec<Option<DataType>> { vec![utf8.clone(); n] };
    Ok(match func {
        Func::TryCast(to) => {
            arity(1, 1)?;
            sig(
                arrow_cast::can_cast_types(types[0], to),
                &format!("a value that can be cast to {to}"),
            )?;
            (Kernel::TryCast(to.clone()), to.clone(), vec![None])
        }
        Func::DatePart(p) => {
            arity(1, 1)?;
            sig(
                is_datetime(types[0])
                    || matches!(types[0], DataType::Time32(_) | DataType::Time64(_)),
                "a date, time or timestamp",
            )?;
            // Probe arrow's kernel: parts that do not apply to the type
            // (hour of a date is fine; week of a time is not) fail here.
            let probe = arrow_array::new_null_array(types[0], 1);
            match p.arrow() {
                Some(part) => {
                    date_part(&probe, part).map_err(|e| {
                        err(format!(
                            "cannot extract {} from {}: {e}",
                            p.name(),
                            types[0]
                        ))
                    })?;
                }
                None if !is_datetime(types[0]) => {
                    return Err(err(format!("cannot extract epoch from {}", types[0])));
                }
                None => {}
            }
            (Kernel::DatePart(*p), DataType::Int64, vec![None])
        }
        Func::DateTrunc(p) => {
            arity(1, 1)?;
            sig(is_datetime(types[0]), "a date or timestamp")?;
            if matches!(
                p,
                TimePart::DayOfWeek | TimePart::DayOfYear | TimePart::Epoch
            ) {
                return Err(err(format!("date_trunc cannot truncate to '{}'", p.name())));
            }
            let out = if types[0] == &DataType::Null {
                DataType::Date32
            } else {
                types[0].clone()
            };
            (Kernel::DateTrunc(*p), out.clone(), vec![Some(out)])
        }
        Func::MakeDate => {
            arity(3, 3)?;
            sig(types.iter().all(|t| is_int(t)), "integer, integer, integer")?;
            (Kernel::MakeDate, DataType::Date32, vec![i64t.clone(); 3])
        }
        Func::Strftime(f) => {
            arity(1, 1)?;
            sig(is_datetime(types[0]), "a date or timestamp")?;
            check_format(f).map_err(err)?;
            (
                Kernel::Strftime(f.clone()),
                DataType::Utf8,
                vec![Some(DataType::Timestamp(TimeUnit::Microsecond, None))],
            )
        }
        Func::Strptime(f) => {
            arity(1, 1)?;
            sig(is_string(types[0]), "a string")?;
            check_format(f).map_err(err)?;
            (
                Kernel::Strptime(f.clone()),
                DataType::Timestamp(TimeUnit::Microsecond, None),
                str_args(1),
            )
        }
        Func::ToTimeZone(tz) => {
            arity(1, 1)?;
            let unit = match types[0] {
                DataType::Timestamp(u, _) => *u,
                _ => {
                    return Err(err(format!(
                        "to_time_zone needs a timestamp, got ({shown})"
                    )));
                }
            };
            tz.parse::<arrow_array::timezone::Tz>()
                .map_err(|e| err(format!("unknown time zone '{tz}': {e}")))?;
            let out = DataType::Timestamp(unit, Some(Arc::from(tz.as_str())));
            (Kernel::ToTimeZone, out.clone(), vec![None])
        }
        Func::Substring => {
            arity(2, 3)?;
            sig(
                is_string(types[0]) && types[1..].iter().all(|t| is_int(t)),
                "string, integer[, integer]",
            )?;
            let mut to = str_args(1);
            to.extend(vec![i64t.clone(); args.len() - 1]);
            (Kernel::Substring, DataType::Utf8, to)
        }
        Func::Replace => {
            arity(3, 3)?;
            sig(types.iter().all(|t| is_string(t)), "string, string, string")?;
            (Kernel::Replace, DataType::Utf8, str_args(3))
        }
        Func::Concat => {
            if args.is_empty() {
                return Err(err("concat needs at least one argument".into()));
            }
            sig(types.iter().all(|t| is_string(t)), "strings")?;
            (Kernel::Concat, DataType::Utf8, str_args(args.len()))
        }
        Func::ConcatWs => {
            if args.len() < 2 {
                return Err(err(
                    "concat_ws needs a separator and at least one string".into()
                ));
            }
            sig(types.iter().all(|t| is_string(t)), "strings")?;
            (Kernel::ConcatWs, DataType::Utf8, str_args(args.len()))
        }
        Func::SplitPart => {
            arity(3, 3)?;
            sig(
                is_string(types[0]) && is_string(types[1]) && is_int(types[2]),
                "string, string, integer",
            )?;
            (
                Kernel::SplitPart,
                DataType::Utf8,
                vec![utf8.clone(), utf8.clone(), i64t.clone()],
            )
        }
        Func::StringSplit => {
            arity(2, 2)?;
            sig(types.iter().all(|t| is_string(t)), "string, string")?;
            (
                Kernel::StringSplit,
                DataType::List(Arc::new(arrow_schema::Field::new(
                    "item",
                    DataType::Utf8,
                    true,
                ))),
                str_args(2),
            )
        }
        Func::StrPos => {
            arity(2, 2)?;
            sig(types.iter().all(|t| is_string(t)), "string, string")?;
            (Kernel::StrPos, DataType::Int64, str_args(2))
        }
        Func::Trim { left, right } => {
            arity(1, 2)?;
            sig(types.iter().all(|t| is_string(t)), "string[, string]")?;
            (
                Kernel::Trim {
                    left: *left,
                    right: *right,
                },
                DataType::Utf8,
                str_args(args.len()),
            )
        }
        Func::Pad { left } => {
            arity(2, 3)?;
            sig(
                is_string(types[0])
                    && is_int(types[1])
                    && types.get(2).is_none_or(|t| is_string(t)),
                "string, integer[, string]",
            )?;
            let mut to = vec![utf8.clone(), i64t.clone()];
            if args.len() == 3 {
                to.push(utf8.clone());
            }
            (Kernel::Pad { left: *left }, DataType::Utf8, to)
        }
        Func::Left | Func::Right => {
            arity(2, 2)?;
            sig(is_string(types[0]) && is_int(types[1]), "string, integer")?;
            let k = if func == &Func::Left {
                Kernel::Left
            } else {
                Kernel::Right
            };
            (k, DataType::Utf8, vec![utf8.clone(), i64t.clone()])
        }
        Func::IsNan => {
            arity(1, 1)?;
            let t = types[0];
            sig(
                t.is_integer()
                    || t.is_floating()
                    || matches!(t, DataType::Decimal128(..) | DataType::Null),
                "a number",
            )?;
            (
                Kernel::IsNan,
                DataType::Boolean,
                vec![Some(DataType::Float64)],
            )
        }
        Func::Reverse => {
            arity(1, 1)?;
            sig(is_string(types[0]), "string")?;
            (Kernel::Reverse, DataType::Utf8, str_args(1))
        }
        Func::OctetLength => {
            arity(1, 1)?;
            sig(is_string(types[0]), "string")?;
            (Kernel::OctetLength, DataType::Int64, str_args(1))
        }
        Func::RegexpLike | Func::RegexpReplace | Func::RegexpExtract => {
            let (lo, hi) = match func {
                Func::RegexpLike => (2, 2),
                Func::RegexpReplace => (3, 3),
                _ => (2, 3),
            };
            arity(lo, hi)?;
            sig(
                is_string(types[0]) && is_string(types[1]),
                "string, pattern, ...",
            )?;
            let pattern = const_str(&args[1]).ok_or_else(|| {
                err(format!(
                    "{}: the pattern must be a constant string",
                    func.name()
                ))
            })?;
            let re = Regex::new(&pattern)
                .map_err(|e| err(format!("invalid regular expression {pattern:?}: {e}")))?;
            match func {
                Func::RegexpLike => (Kernel::RegexpLike(re), DataType::Boolean, str_args(2)),
                Func::RegexpReplace => {
                    let rep = const_str(&args[2]).ok_or_else(|| {
                        err("regexp_replace: the replacement must be a constant string".into())
                    })?;
                    (Kernel::RegexpReplace(re, rep), DataType::Utf8, str_args(3))
                }
                _ => {
                    let group = match args.get(2) {
                        None => 0,
                        Some(g) => const_int(g)
                            .and_then(|g| usize::try_from(g).ok())
                            .ok_or_else(|| {
                                err("regexp_extract: the group must be a constant integer >= 0"
                                    .into())
                            })?,
                    };
                    if group >= re.captures_len() {
                        return Err(err(format!(
                            "regexp_extract: {pattern:?} has no group {group}"
                        )));
                    }
                    let mut to = str_args(2);
                    if args.len() == 3 {
                        to.push(None);
                    }
                    (Kernel::RegexpExtract(re, group), DataType::Utf8, to)
                }
            }
        }
        Func::Math(m) => {
            let power = *m == MathFunc::Power;
            if power {
                arity(2, 2)?;
            } else if *m == MathFunc::Round {
                arity(1, 2)?;
            } else {
                arity(1, 1)?;
            }
            let digits = if *m == MathFunc::Round && args.len() == 2 {
                const_int(&args[1]).ok_or_else(|| {
                    err(format!(
                        "round needs a constant integer number of digits, got ({shown})"
                    ))
                })?
            } else {
                0
            };
            let (kernel, out, cast) = math::plan(*m, types[0], digits).map_err(err)?;
            let mut casts = vec![Some(cast)];
            if power {
                if !(types[1].is_integer()
                    || types[1].is_floating()
                    || matches!(types[1], DataType::Decimal128(..) | DataType::Null))
                {
                    return Err(err(format!("power needs numbers, got ({shown})")));
                }
                casts.push(Some(DataType::Float64));
            } else if args.len() == 2 {
                casts.push(None);
            }
            (Kernel::Math(kernel), out, casts)
        }
        Func::Like {
            case_insensitive,
            escape,
        } => {
            arity(2, 2)?;
            sig(is_string(types[0]) && is_string(types[1]), "string, string")?;
            let pattern = match const_str(&args[1]) {
                Some(p) => {
                    let p = to_backslash_escapes(&p, *escape);
                    let a: ArrayRef = Arc::new(StringArray::from(vec![p]));
                    let a = match types[0] {
                        DataType::Null => a,
                        t => arrow_cast::cast(&a, t)?,
                    };
                    Some(Scalar::new(a))
                }
                None if escape.is_some_and(|c| c != '\\') => {
                    return Err(err(
                        "LIKE with a custom ESCAPE needs a constant pattern".into()
                    ));
                }
                None => None,
            };
            let first = match types[0] {
                DataType::Null => Some(DataType::Utf8),
                _ => None,
            };
            let second = if pattern.is_some() {
                None
            } else {
                Some(match types[0] {
                    DataType::Null => DataType::Utf8,
                    t => t.clone(),
                })
            };
            (
                Kernel::Like {
                    case_insensitive: *case_insensitive,
                    pattern,
                },
                DataType::Boolean,
                vec![first, second],
            )
        }
    })
}

/// A LIKE pattern with escape character `escape` rewritten to arrow's
/// backslash escapes.
fn to_backslash_escapes(p: &str, escape: Option<char>) -> String {
    let Some(e) = escape.filter(|c| *c != '\\') else {
        return p.to_string();
    };
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == e {
            match chars.next() {
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push_str("\\\\"),
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

fn check_format(f: &str) -> std::result::Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
        Err(format!("invalid date/time format {f:?}"))
    } else {
        Ok(())
    }
}

/// String values of Utf8, LargeUtf8 or Utf8View arrays.
enum Strs<'a> {
    Small(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Strs<'a> {
    fn new(a: &'a dyn Array) -> Result<Strs<'a>> {
        Ok(match a.data_type() {
            DataType::Utf8 => Strs::Small(a.as_string::<i32>()),
            DataType::LargeUtf8 => Strs::Large(a.as_string::<i64>()),
            DataType::Utf8View => Strs::View(a.as_string_view()),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "internal: expected a string array, got {other}"
                )));
            }
        })
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strs::Small(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

fn ints(a: &dyn Array) -> Result<&arrow_array::Int64Array> {
    a.as_primitive_opt::<Int64Type>().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "internal: expected an Int64 array, got {}",
            a.data_type()
        ))
    })
}

fn int_at(a: &arrow_array::Int64Array, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.value(i))
}

/// Builds a Utf8 result row by row; `f` gets the row and a buffer to fill,
/// returning `false` for a null result.
fn map_str(len: usize, mut f: impl FnMut(usize, &mut String) -> Result<bool>) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(len, len * 8);
    let mut buf = String::new();
    for i in 0..len {
        buf.clear();
        if f(i, &mut buf)? {
            out.append_value(&buf);
        } else {
            out.append_null();
        }
    }
    Ok(Arc::new(out.finish()))
}

/// The characters `[from, to)` (0-based character indices) of `s`.
fn char_range(s: &str, from: usize, to: usize) -> &str {
    if from >= to {
        return "";
    }
    let mut idx = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()));
    let start = idx.nth(from);
    let Some(start) = start else { return "" };
    let end = idx.nth(to - from - 1).unwrap_or(s.len());
    &s[start..end]
}

/// SQL `SUBSTRING(s FROM start FOR len)`: characters from the 1-based
/// position `start` for `len` characters, both clipped to the string (a
/// start before 1 uses up part of the length). A negative length is an
/// error.
pub(super) fn sql_substring(
    s: &str,
    start: i64,
    len: Option<i64>,
) -> std::result::Result<&str, String> {
    let end = match len {
        Some(l) if l < 0 => return Err(format!("negative substring length {l}")),
        Some(l) => start.saturating_add(l),
        None => i64::MAX,
    };
    let from = start.max(1) - 1;
    let to = end.saturating_sub(1).max(from);
    Ok(char_range(
        s,
        from as usize,
        usize::try_from(to).unwrap_or(usize::MAX),
    ))
}

pub(super) fn eval(kernel: &Kernel, args: &[ArrayRef], len: usize, ctx: &str) -> Result<ArrayRef> {
    let bad = |m: String| Error::InvalidArgument(format!("cannot compute {ctx}: {m}"));
    let arg = |i: usize| -> Result<&ArrayRef> {
        args.get(i).ok_or_else(|| {
            Error::InvalidArgument(format!("internal: {ctx} is missing argument {i}"))
        })
    };
    Ok(match kernel {
        Kernel::TryCast(to) => {
            let safe = arrow_cast::CastOptions {
                safe: true,
                format_options: Default::default(),
            };
            arrow_cast::cast_with_options(arg(0)?, to, &safe)?
        }
        Kernel::DatePart(p) => {
            let a = arg(0)?;
            if a.data_type() == &DataType::Null {
                return Ok(arrow_array::new_null_array(&DataType::Int64, len));
            }
            let out = match p.arrow() {
                Some(part) => date_part(a, part)?,
                None => {
                    let secs = arrow_cast::cast(a, &DataType::Timestamp(TimeUnit::Second, None))?;
                    arrow_cast::cast(&secs, &DataType::Int64)?
                }
            };
            arrow_cast::cast(&out, &DataType::Int64)?
        }
        Kernel::DateTrunc(p) => date_trunc(arg(0)?, *p)?,
        Kernel::MakeDate => {
            let (y, m, d) = (ints(arg(0)?)?, ints(arg(1)?)?, ints(arg(2)?)?);
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                out.push(match (int_at(y, i), int_at(m, i), int_at(d, i)) {
                    (Some(y), Some(m), Some(d)) => {
                        let date = i32::try_from(y)
                            .ok()
                            .zip(u32::try_from(m).ok())
                            .zip(u32::try_from(d).ok())
                            .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
                            .ok_or_else(|| bad(format!("{y}-{m}-{d} is not a date")))?;
                        Some(days_of(date))
                    }
                    _ => None,
                });
            }
            Arc::new(Date32Array::from(out))
        }
        Kernel::Strftime(f) => {
            let a = arg(0)?;
            let ts = a
                .as_primitive_opt::<arrow_array::types::TimestampMicrosecondType>()
                .ok_or_else(|| bad("expected microsecond timestamps".into()))?;
            map_str(len, |i, buf| {
                if ts.is_null(i) {
                    return Ok(false);
                }
                let Some(dt) = chrono::DateTime::from_timestamp_micros(ts.value(i)) else {
                    return Err(bad(format!("timestamp {} out of range", ts.value(i))));
                };
                use std::fmt::Write;
                write!(buf, "{}", dt.naive_utc().format(f))
                    .map_err(|_| bad(format!("cannot format with {f:?}")))?;
                Ok(true)
            })?
        }
        Kernel::Strptime(f) => {
            let s = Strs::new(arg(0)?.as_ref())?;
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                out.push(match s.get(i) {
                    None => None,
                    Some(v) => {
                        let dt = NaiveDateTime::parse_from_str(v, f)
                            .or_else(|_| {
                                NaiveDate::parse_from_str(v, f)
                                    .map(|d| d.and_time(Default::default()))
                            })
                            .map_err(|e| bad(format!("{v:?} does not match {f:?}: {e}")))?;
                        Some(dt.and_utc().timestamp_micros())
                    }
                });
            }
            Arc::new(TimestampMicrosecondArray::from(out))
        }
        Kernel::ToTimeZone => {
            // The values are UTC instants either way: only the zone label
            // changes (to the planned output type).
            let a = arg(0)?;
            match a.data_type() {
                DataType::Timestamp(_, _) => a.clone(),
                other => return Err(bad(format!("expected a timestamp, got {other}"))),
            }
        }
        Kernel::Substring => {
            let s = Strs::new(arg(0)?.as_ref())?;
            let start = ints(arg(1)?)?;
            let count = args.get(2).map(|a| ints(a.as_ref())).transpose()?;
            map_str(len, |i, buf| {
                let (Some(v), Some(st)) = (s.get(i), int_at(start, i)) else {
                    return Ok(false);
                };
                let l = match count {
                    Some(c) => match int_at(c, i) {
                        Some(l) => Some(l),
                        None => return Ok(false),
                    },
                    None => None,
                };
                buf.push_str(sql_substring(v, st, l).map_err(bad)?);
                Ok(true)
            })?
        }
        Kernel::Replace => {
            let (s, from, to) = (
                Strs::new(arg(0)?.as_ref())?,
                Strs::new(arg(1)?.as_ref())?,
                Strs::new(arg(2)?.as_ref())?,
            );
            map_str(len, |i, buf| match (s.get(i), from.get(i), to.get(i)) {
                (Some(v), Some(f), Some(t)) => {
                    if f.is_empty() {
                        buf.push_str(v);
                    } else {
                        buf.push_str(&v.replace(f, t));
                    }
                    Ok(true)
                }
                _ => Ok(false),
            })?
        }
        Kernel::Concat => {
            let parts: Vec<Strs> = args
                .iter()
                .map(|a| Strs::new(a.as_ref()))
                .collect::<Result<_>>()?;
            map_str(len, |i, buf| {
                for p in &parts {
                    match p.get(i) {
                        Some(v) => buf.push_str(v),
                        None => return Ok(false),
                    }
                }
                Ok(true)
            })?
        }
        Kernel::ConcatWs => {
            let parts: Vec<Strs> = args
                .iter()
                .map(|a| Strs::new(a.as_ref()))
                .collect::<Result<_>>()?;
            map_str(len, |i, buf| {
                let Some(sep) = parts[0].get(i) else {
                    return Ok(false);
                };
                let mut first = true;
                for p in &parts[1..] {
                    if let Some(v) = p.get(i) {
                        if !first {
                            buf.push_str(sep);
                        }
                        buf.push_str(v);
                        first = false;
                    }
                }
                Ok(true)
            })?
        }
        Kernel::SplitPart => {
            let (s, d) = (Strs::new(arg(0)?.as_ref())?, Strs::new(arg(1)?.as_ref())?);
            let n = ints(arg(2)?)?;
            map_str(len, |i, buf| {
                let (Some(v), Some(d), Some(n)) = (s.get(i), d.get(i), int_at(n, i)) else {
                    return Ok(false);
                };
                if n == 0 {
                    return Err(bad("split_part field numbers start at 1".into()));
                }
                let field = if d.is_empty() {
                    (n == 1 || n == -1).then_some(v)
                } else if n > 0 {
                    v.split(d).nth((n - 1) as usize)
                } else {
                    v.rsplit(d).nth((-n - 1) as usize)
                };
                buf.push_str(field.unwrap_or(""));
                Ok(true)
            })?
        }
        Kernel::StringSplit => {
            let (s, d) = (Strs::new(arg(0)?.as_ref())?, Strs::new(arg(1)?.as_ref())?);
            let mut out = arrow_array::builder::ListBuilder::new(StringBuilder::new());
            for i in 0..len {
                match (s.get(i), d.get(i)) {
                    (Some(v), Some("")) => {
                        let mut buf = [0u8; 4];
                        for c in v.chars() {
                            out.values().append_value(c.encode_utf8(&mut buf));
                        }
                        out.append(true);
                    }
                    (Some(v), Some(d)) => {
                        for field in v.split(d) {
                            out.values().append_value(field);
                        }
                        out.append(true);
                    }
                    _ => out.append(false),
                }
            }
            Arc::new(out.finish())
        }
        Kernel::StrPos => {
            let (s, sub) = (Strs::new(arg(0)?.as_ref())?, Strs::new(arg(1)?.as_ref())?);
            let mut out = Int64Builder::with_capacity(len);
            for i in 0..len {
                match (s.get(i), sub.get(i)) {
                    (Some(v), Some(p)) => {
                        out.append_value(v.find(p).map_or(0, |b| v[..b].chars().count() as i64 + 1))
                    }
                    _ => out.append_null(),
                }
            }
            Arc::new(out.finish())
        }
        Kernel::Trim { left, right } => {
            let s = Strs::new(arg(0)?.as_ref())?;
            let chars = args.get(1).map(|a| Strs::new(a.as_ref())).transpose()?;
            map_str(len, |i, buf| {
                let Some(v) = s.get(i) else { return Ok(false) };
                let set: Option<&str> = match &chars {
                    Some(c) => match c.get(i) {
                        Some(c) => Some(c),
                        None => return Ok(false),
                    },
                    None => None,
                };
                let pred = |c: char| match set {
                    Some(set) => set.contains(c),
                    None => c.is_whitespace(),
                };
                let mut t = v;
                if *left {
                    t = t.trim_start_matches(pred);
                }
                if *right {
                    t = t.trim_end_matches(pred);
                }
                buf.push_str(t);
                Ok(true)
            })?
        }
        Kernel::Pad { left } => {
            let s = Strs::new(arg(0)?.as_ref())?;
            let n = ints(arg(1)?)?;
            let fill = args.get(2).map(|a| Strs::new(a.as_ref())).transpose()?;
            map_str(len, |i, buf| {
                let (Some(v), Some(n)) = (s.get(i), int_at(n, i)) else {
                    return Ok(false);
                };
                let f = match &fill {
                    Some(f) => match f.get(i) {
                        Some(f) => f,
                        None => return Ok(false),
                    },
                    None => " ",
                };
                let n = usize::try_from(n.max(0)).unwrap_or(0);
                if n > 1 << 24 {
                    return Err(bad(format!("pad length {n} is too large")));
                }
                let have = v.chars().count();
                if have >= n || f.is_empty() {
                    buf.push_str(char_range(v, 0, n.min(have)));
                    return Ok(true);
                }
                let padding: String = f.chars().cycle().take(n - have).collect();
                if *left {
                    buf.push_str(&padding);
                    buf.push_str(v);
                } else {
                    buf.push_str(v);
                    buf.push_str(&padding);
                }
                Ok(true)
            })?
        }
        Kernel::Left | Kernel::Right => {
            let s = Strs::new(arg(0)?.as_ref())?;
            let n = ints(arg(1)?)?;
            let left = matches!(kernel, Kernel::Left);
            map_str(len, |i, buf| {
                let (Some(v), Some(n)) = (s.get(i), int_at(n, i)) else {
                    return Ok(false);
                };
                let have = v.chars().count();
                let keep = if n >= 0 {
                    (n as usize).min(have)
                } else {
                    have.saturating_sub(n.unsigned_abs() as usize)
                };
                buf.push_str(if left {
                    char_range(v, 0, keep)
                } else {
                    char_range(v, have - keep, have)
                });
                Ok(true)
            })?
        }
        Kernel::Reverse => {
            let s = Strs::new(arg(0)?.as_ref())?;
            map_str(len, |i, buf| match s.get(i) {
                Some(v) => {
                    buf.extend(v.chars().rev());
                    Ok(true)
                }
                None => Ok(false),
            })?
        }
        Kernel::OctetLength => {
            let s = Strs::new(arg(0)?.as_ref())?;
            let mut out = Int64Builder::with_capacity(len);
            for i in 0..len {
                out.append_option(s.get(i).map(|v| v.len() as i64));
            }
            Arc::new(out.finish())
        }
        Kernel::RegexpLike(re) => {
            let s = Strs::new(arg(0)?.as_ref())?;
            let out: BooleanArray = (0..len).map(|i| s.get(i).map(|v| re.is_match(v))).collect();
            Arc::new(out)
        }
        Kernel::RegexpReplace(re, rep) => {
            let s = Strs::new(arg(0)?.as_ref())?;
            map_str(len, |i, buf| match s.get(i) {
                Some(v) => {
                    buf.push_str(&re.replace_all(v, rep.as_str()));
                    Ok(true)
                }
                None => Ok(false),
            })?
        }
        Kernel::RegexpExtract(re, group) => {
            let s = Strs::new(arg(0)?.as_ref())?;
            map_str(len, |i, buf| {
                let Some(v) = s.get(i) else { return Ok(false) };
                match re.captures(v).and_then(|c| c.get(*group)) {
                    Some(m) => {
                        buf.push_str(m.as_str());
                        Ok(true)
                    }
                    None => Ok(false),
                }
            })?
        }
        Kernel::Math(k) => math::eval(k, args, ctx)?,
        Kernel::IsNan => {
            let a = arg(0)?;
            let f = a
                .as_primitive_opt::<arrow_array::types::Float64Type>()
                .ok_or_else(|| Error::type_mismatch("isnan", "internal: not cast to Float64"))?;
            Arc::new(arrow_array::BooleanArray::from_unary(f, |v| v.is_nan()))
        }
        Kernel::Like {
            case_insensitive,
            pattern,
        } => {
            let a = arg(0)?;
            let k = if *case_insensitive {
                arrow_string::like::ilike
            } else {
                arrow_string::like::like
            };
            let out = match pattern {
                Some(p) => k(a, p as &dyn Datum)?,
                None => k(a, arg(1)?)?,
            };
            Arc::new(out)
        }
    })
}

fn days_of(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - 719_163
}

/// `date_trunc` of dates (Date32/Date64) and timestamps of any unit (a
/// zoned timestamp in its zone).
fn date_trunc(a: &ArrayRef, p: TimePart) -> Result<ArrayRef> {
    let trunc_date = |d: NaiveDate| -> NaiveDate {
        let first = |y, m| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d);
        match p {
            TimePart::Year => first(d.year(), 1),
            TimePart::Quarter => first(d.year(), (d.month0() / 3) * 3 + 1),
            TimePart::Month => first(d.year(), d.month()),
            TimePart::Week => {
                d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()))
            }
            _ => d,
        }
    };
    match a.data_type() {
        DataType::Date32 => {
            let out: Date32Array = a
                .as_primitive::<arrow_array::types::Date32Type>()
                .unary_opt(|v| {
                    let d = NaiveDate::from_num_days_from_ce_opt(v + 719_163)?;
                    Some(days_of(trunc_date(d)))
                });
            Ok(Arc::new(out))
        }
        DataType::Date64 => {
            let d32 = arrow_cast::cast(a, &DataType::Date32)?;
            let t = date_trunc(&d32, p)?;
            Ok(arrow_cast::cast(&t, &DataType::Date64)?)
        }
        DataType::Timestamp(unit, tz) => {
            let per_sec: i64 = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            // A zoned timestamp truncates in its own zone (a month of
            // `America/New_York` times starts at local midnight), as DuckDB
            // and polars do; a naive one in UTC.
            let zone = match tz {
                Some(name) => Some(name.parse::<arrow_array::timezone::Tz>().map_err(|e| {
                    Error::InvalidArgument(format!("date_trunc: time zone '{name}': {e}"))
                })?),
                None => None,
            };
            let micros = arrow_cast::cast(a, &DataType::Int64)?;
            let v = micros.as_primitive::<Int64Type>();
            let failed: std::cell::Cell<Option<i64>> = std::cell::Cell::new(None);
            let out: arrow_array::Int64Array = v.unary_opt(|t| {
                let secs = t.div_euclid(per_sec);
                let utc = chrono::DateTime::from_timestamp(secs, 0)?.naive_utc();
                let dt = match &zone {
                    Some(z) => chrono::TimeZone::from_utc_datetime(z, &utc).naive_local(),
                    None => utc,
                };
                let truncated = match p {
                    TimePart::Year
                    | TimePart::Quarter
                    | TimePart::Month
                    | TimePart::Week
                    | TimePart::Day => trunc_date(dt.date()).and_hms_opt(0, 0, 0),
                    TimePart::Hour => dt.date().and_hms_opt(dt.hour(), 0, 0),
                    TimePart::Minute => dt.date().and_hms_opt(dt.hour(), dt.minute(), 0),
                    _ => Some(dt),
                };
                // Back to an instant: a local time a DST change skips is
                // taken at its earliest existing instant after the gap.
                let instant = truncated.and_then(|l| match &zone {
                    Some(z) => {
                        let r = chrono::TimeZone::from_local_datetime(z, &l);
                        r.earliest()
                            .or_else(|| {
                                chrono::TimeZone::from_local_datetime(
                                    z,
                                    &(l + chrono::Duration::hours(1)),
                                )
                                .earliest()
                            })
                            .map(|d| d.timestamp())
                    }
                    None => Some(l.and_utc().timestamp()),
                });
                let out = instant.and_then(|s| s.checked_mul(per_sec));
                if out.is_none() && failed.get().is_none() {
                    failed.set(Some(t));
                }
                out
            });
            if let Some(t) = failed.get() {
                return Err(Error::InvalidArgument(format!(
                    "date_trunc: the timestamp {t} ({unit:?}) is out of range"
                )));
            }
            let ty = DataType::Timestamp(*unit, tz.clone());
            Ok(arrow_cast::cast(&(Arc::new(out) as ArrayRef), &ty)?)
        }
        DataType::Null => Ok(a.clone()),
        other => Err(Error::InvalidArgument(format!(
            "date_trunc needs a date or timestamp, got {other}"
        ))),
    }
}
