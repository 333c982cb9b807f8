//! Builders for functions: methods on [`Expr`], the polars-like
//! namespaces [`Expr::dt`] and [`Expr::str`], and SQL-style free functions
//! ([`coalesce`], [`nullif`], [`concat`]...).

use super::func::{Func, TimePart};
use super::math::MathFunc;
use super::{BinaryOp, Expr, ScalarValue, lit};

fn call(func: Func, args: Vec<Expr>) -> Expr {
    Expr::Function { func, args }
}

impl Expr {
    /// `TRY_CAST`: the cast, with null where a value does not convert
    /// ([`Expr::cast`] is strict: such a value is an error).
    pub fn try_cast(self, to: arrow_schema::DataType) -> Expr {
        call(Func::TryCast(to), vec![self])
    }

    /// Date/time functions: `col("t").dt().year()`.
    pub fn dt(self) -> DtNamespace {
        DtNamespace(self)
    }

    /// String functions: `col("s").str().replace(lit("a"), lit("b"))`.
    pub fn str(self) -> StrNamespace {
        StrNamespace(self)
    }

    /// `IN (list)`: a hash-set membership test against literals (see
    /// [`Expr::InList`]).
    pub fn is_in<V: Into<ScalarValue>>(self, list: impl IntoIterator<Item = V>) -> Expr {
        Expr::InList {
            expr: Box::new(self),
            list: list.into_iter().map(Into::into).collect(),
            negated: false,
        }
    }

    /// `NOT IN (list)`.
    pub fn is_not_in<V: Into<ScalarValue>>(self, list: impl IntoIterator<Item = V>) -> Expr {
        Expr::InList {
            expr: Box::new(self),
            list: list.into_iter().map(Into::into).collect(),
            negated: true,
        }
    }

    /// `IS DISTINCT FROM`: `!=` treating null as a value (never null).
    pub fn is_distinct_from(self, other: Expr) -> Expr {
        self.binary(BinaryOp::IsDistinctFrom, other)
    }

    /// `IS NOT DISTINCT FROM`: `==` treating null as a value (never null).
    pub fn is_not_distinct_from(self, other: Expr) -> Expr {
        self.binary(BinaryOp::IsNotDistinctFrom, other)
    }

    /// `BETWEEN low AND high` (inclusive): `self >= low AND self <= high`.
    pub fn between(self, low: Expr, high: Expr) -> Expr {
        self.clone().gt_eq(low).and(self.lt_eq(high))
    }

    /// `LIKE pattern` (`%` any run, `_` one character, `\` escapes).
    pub fn like(self, pattern: impl Into<String>) -> Expr {
        call(
            Func::Like {
                case_insensitive: false,
                escape: None,
            },
            vec![self, lit(pattern.into())],
        )
    }

    /// `ILIKE pattern`: [`Expr::like`] ignoring case.
    pub fn ilike(self, pattern: impl Into<String>) -> Expr {
        call(
            Func::Like {
                case_insensitive: true,
                escape: None,
            },
            vec![self, lit(pattern.into())],
        )
    }

    /// `LIKE pattern ESCAPE escape` with any pattern expression.
    pub fn like_expr(self, pattern: Expr, case_insensitive: bool, escape: Option<char>) -> Expr {
        call(
            Func::Like {
                case_insensitive,
                escape,
            },
            vec![self, pattern],
        )
    }

    /// A numeric function of this expression: `col("x").math(MathFunc::Sqrt)`
    /// (see [`MathFunc`] for the types and domain errors).
    pub fn math(self, f: MathFunc) -> Expr {
        call(Func::Math(f), vec![self])
    }

    /// `round(x, digits)`: half away from zero (exact for decimals).
    pub fn round(self, digits: i64) -> Expr {
        call(Func::Math(MathFunc::Round), vec![self, lit(digits)])
    }

    /// `power(x, exponent)`: Float64.
    pub fn pow(self, exponent: Expr) -> Expr {
        call(Func::Math(MathFunc::Power), vec![self, exponent])
    }

    /// Whether the value is NaN (`isnan`): false for integers and
    /// decimals, null where the value is null.
    pub fn is_nan(self) -> Expr {
        call(Func::IsNan, vec![self])
    }

    /// The value, or `value` where it is NaN (polars' `fill_nan`); nulls
    /// stay null. `value` meets the value's type with the `CASE` rules
    /// (`fill_nan(0)` over Float64 is Float64).
    ///
    /// ```
    /// use parframe_core::{col, table};
    ///
    /// let t = table!("x" => [Some(1.0), Some(f64::NAN), None])?;
    /// let out = col("x").fill_nan(0.0).evaluate(&t.chunks()[0])?;
    /// let out = arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Float64Type>(&out);
    /// assert_eq!(out.iter().collect::<Vec<_>>(), vec![Some(1.0), Some(0.0), None]);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn fill_nan(self, value: impl super::IntoExpr) -> Expr {
        super::when(self.clone().is_nan(), value.into_expr()).otherwise(self)
    }

    /// `||`: string concatenation, null when either side is null.
    pub fn concat(self, other: Expr) -> Expr {
        call(Func::Concat, vec![self, other])
    }
}

/// Date and time functions of an expression; see [`Expr::dt`].
#[derive(Debug, Clone)]
pub struct DtNamespace(Expr);

impl DtNamespace {
    /// `date_part(part, t)` (Int64): see [`TimePart`].
    pub fn part(self, part: TimePart) -> Expr {
        call(Func::DatePart(part), vec![self.0])
    }
    /// Calendar year.
    pub fn year(self) -> Expr {
        self.part(TimePart::Year)
    }
    /// Quarter (1..=4).
    pub fn quarter(self) -> Expr {
        self.part(TimePart::Quarter)
    }
    /// Month (1..=12).
    pub fn month(self) -> Expr {
        self.part(TimePart::Month)
    }
    /// ISO week (1..=53).
    pub fn week(self) -> Expr {
        self.part(TimePart::Week)
    }
    /// Day of the month.
    pub fn day(self) -> Expr {
        self.part(TimePart::Day)
    }
    /// Day of the week, Sunday = 0.
    pub fn weekday(self) -> Expr {
        self.part(TimePart::DayOfWeek)
    }
    /// Day of the year (1..=366).
    pub fn ordinal_day(self) -> Expr {
        self.part(TimePart::DayOfYear)
    }
    /// Hour.
    pub fn hour(self) -> Expr {
        self.part(TimePart::Hour)
    }
    /// Minute.
    pub fn minute(self) -> Expr {
        self.part(TimePart::Minute)
    }
    /// Second.
    pub fn second(self) -> Expr {
        self.part(TimePart::Second)
    }
    /// Seconds since the UNIX epoch.
    pub fn epoch(self) -> Expr {
        self.part(TimePart::Epoch)
    }
    /// `date_trunc(part, t)`: the start of the period (same type).
    pub fn truncate(self, part: TimePart) -> Expr {
        call(Func::DateTrunc(part), vec![self.0])
    }
    /// `strftime(t, format)` with chrono's format (`%Y-%m-%d`): Utf8.
    pub fn strftime(self, format: impl Into<String>) -> Expr {
        call(Func::Strftime(format.into()), vec![self.0])
    }
    /// The same instants shown in time zone `tz` (`"Europe/Oslo"`, `"+02:00"`).
    pub fn convert_time_zone(self, tz: impl Into<String>) -> Expr {
        call(Func::ToTimeZone(tz.into()), vec![self.0])
    }
}

/// String functions of an expression; see [`Expr::str`].
#[derive(Debug, Clone)]
pub struct StrNamespace(Expr);

impl StrNamespace {
    /// SQL `SUBSTRING(s FROM start FOR length)`, 1-based.
    pub fn substring(self, start: Expr, length: Option<Expr>) -> Expr {
        let mut args = vec![self.0, start];
        args.extend(length);
        call(Func::Substring, args)
    }
    /// Replaces every occurrence of `from` by `to`.
    pub fn replace(self, from: Expr, to: Expr) -> Expr {
        call(Func::Replace, vec![self.0, from, to])
    }
    /// The `n`-th (1-based; negative counts from the end) field split by
    /// `delimiter`; empty when there is none.
    pub fn split_part(self, delimiter: Expr, n: Expr) -> Expr {
        call(Func::SplitPart, vec![self.0, delimiter, n])
    }
    /// Every field split by `delimiter`, as a `List<Utf8>` (polars'
    /// `str.split`; the characters when `delimiter` is empty, null when
    /// either is null). `explode` turns the fields into rows.
    pub fn split(self, delimiter: Expr) -> Expr {
        call(Func::StringSplit, vec![self.0, delimiter])
    }
    /// The 1-based character position of `sub`, 0 when absent (Int64).
    pub fn strpos(self, sub: Expr) -> Expr {
        call(Func::StrPos, vec![self.0, sub])
    }
    /// Strips whitespace from both ends.
    pub fn trim(self) -> Expr {
        call(
            Func::Trim {
                left: true,
                right: true,
            },
            vec![self.0],
        )
    }
    /// Strips whitespace from the start.
    pub fn ltrim(self) -> Expr {
        call(
            Func::Trim {
                left: true,
                right: false,
            },
            vec![self.0],
        )
    }
    /// Strips whitespace from the end.
    pub fn rtrim(self) -> Expr {
        call(
            Func::Trim {
                left: false,
                right: true,
            },
            vec![self.0],
        )
    }
    /// Strips any of `chars` from both ends.
    pub fn trim_chars(self, chars: Expr) -> Expr {
        call(
            Func::Trim {
                left: true,
                right: true,
            },
            vec![self.0, chars],
        )
    }
    /// Pads on the left with `fill` to `length` characters (truncating
    /// longer strings).
    pub fn lpad(self, length: Expr, fill: Expr) -> Expr {
        call(Func::Pad { left: true }, vec![self.0, length, fill])
    }
    /// Pads on the right with `fill` to `length` characters.
    pub fn rpad(self, length: Expr, fill: Expr) -> Expr {
        call(Func::Pad { left: false }, vec![self.0, length, fill])
    }
    /// The first `n` characters.
    pub fn left(self, n: Expr) -> Expr {
        call(Func::Left, vec![self.0, n])
    }
    /// The last `n` characters.
    pub fn right(self, n: Expr) -> Expr {
        call(Func::Right, vec![self.0, n])
    }
    /// The characters in reverse order.
    pub fn reverse(self) -> Expr {
        call(Func::Reverse, vec![self.0])
    }
    /// Length in bytes (Int64).
    pub fn octet_length(self) -> Expr {
        call(Func::OctetLength, vec![self.0])
    }
    /// Length in characters (as [`Expr::str_len`]).
    pub fn len_chars(self) -> Expr {
        self.0.str_len()
    }
    /// Whether the regular expression matches somewhere.
    pub fn regexp_like(self, pattern: impl Into<String>) -> Expr {
        call(Func::RegexpLike, vec![self.0, lit(pattern.into())])
    }
    /// Replaces every match of the regular expression (`$1` refers to a group).
    pub fn regexp_replace(
        self,
        pattern: impl Into<String>,
        replacement: impl Into<String>,
    ) -> Expr {
        call(
            Func::RegexpReplace,
            vec![self.0, lit(pattern.into()), lit(replacement.into())],
        )
    }
    /// Group `group` of the first match (0: the whole match), null when
    /// there is none.
    pub fn regexp_extract(self, pattern: impl Into<String>, group: i64) -> Expr {
        call(
            Func::RegexpExtract,
            vec![self.0, lit(pattern.into()), lit(group)],
        )
    }
    /// `strptime(s, format)`: a `Timestamp(µs)` parsed with chrono's format.
    pub fn strptime(self, format: impl Into<String>) -> Expr {
        call(Func::Strptime(format.into()), vec![self.0])
    }
    /// Whether the string contains `pattern` literally.
    pub fn contains(self, pattern: impl Into<String>) -> Expr {
        self.0.contains(pattern)
    }
    /// Whether the string starts with `prefix`.
    pub fn starts_with(self, prefix: impl Into<String>) -> Expr {
        self.0.starts_with(prefix)
    }
    /// Whether the string ends with `suffix`.
    pub fn ends_with(self, suffix: impl Into<String>) -> Expr {
        self.0.ends_with(suffix)
    }
    /// Upper case.
    pub fn to_uppercase(self) -> Expr {
        self.0.upper()
    }
    /// Lower case.
    pub fn to_lowercase(self) -> Expr {
        self.0.lower()
    }
}

/// The first non-null argument (null when all are): `CASE WHEN a IS NOT
/// NULL THEN a WHEN b IS NOT NULL THEN b ... ELSE last END`, so the
/// arguments meet at one type with the `CASE` rules.
pub fn coalesce(args: impl IntoIterator<Item = Expr>) -> Expr {
    let mut args: Vec<Expr> = args.into_iter().collect();
    let Some(last) = args.pop() else {
        return lit(ScalarValue::Null);
    };
    let mut it = args.into_iter();
    let Some(first) = it.next() else {
        return last;
    };
    let mut case = super::when(first.clone().is_not_null(), first);
    for a in it {
        case = case.when(a.clone().is_not_null(), a);
    }
    case.otherwise(last)
}

/// `ifnull(a, b)`: `coalesce([a, b])`.
pub fn ifnull(a: Expr, b: Expr) -> Expr {
    coalesce([a, b])
}

/// `nullif(a, b)`: null where `a = b`, else `a`.
pub fn nullif(a: Expr, b: Expr) -> Expr {
    super::when(a.clone().eq(b), lit(ScalarValue::Null)).otherwise(a)
}

/// `concat(a, b, ...)` (SQL `||` when chained): null when any is null.
pub fn concat(args: impl IntoIterator<Item = Expr>) -> Expr {
    call(Func::Concat, args.into_iter().collect())
}

/// `concat_ws(sep, a, b, ...)`: joined by `sep`, skipping null arguments.
pub fn concat_ws(sep: Expr, args: impl IntoIterator<Item = Expr>) -> Expr {
    let mut all = vec![sep];
    all.extend(args);
    call(Func::ConcatWs, all)
}

/// `make_date(year, month, day)`: Date32; an impossible date is an error.
pub fn make_date(year: Expr, month: Expr, day: Expr) -> Expr {
    call(Func::MakeDate, vec![year, month, day])
}

/// An interval literal of months, days and nanoseconds
/// (`Interval(MonthDayNano)`), for `col("d") + interval(1, 0, 0)`.
pub fn interval(months: i32, days: i32, nanos: i64) -> Expr {
    lit(ScalarValue::Interval {
        months,
        days,
        nanos,
    })
}

/// A date literal from `"YYYY-MM-DD"` (Date32), or `None` when it is not one.
pub fn date(text: &str) -> Option<Expr> {
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let days = i32::try_from((d - epoch).num_days()).ok()?;
    Some(lit(ScalarValue::Date32(days)))
}

/// A decimal literal from its text (`"0.05"`: `Decimal128(2, 2)`), exact;
/// `None` when it is not a decimal number of at most 38 digits.
pub fn decimal(text: &str) -> Option<Expr> {
    ScalarValue::decimal_from_str(text).ok().map(lit)
}
