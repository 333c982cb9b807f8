//! [`ScalarValue`]: conversions from Rust values, to Arrow arrays and
//! scalars, and back.

use std::fmt;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, IntervalMonthDayNanoType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Date64Array, Decimal128Array,
    DurationMicrosecondArray, DurationMillisecondArray, DurationNanosecondArray,
    DurationSecondArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array,
    IntervalMonthDayNanoArray, Scalar, StringArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array, new_null_array,
};
use arrow_buffer::{BooleanBuffer, IntervalMonthDayNano};
use arrow_schema::{DataType, IntervalUnit, TimeUnit};
use parframe_common::{Error, Result};

use super::ScalarValue;

macro_rules! from_native {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for ScalarValue {
            fn from(v: $t) -> Self {
                ScalarValue::$v(v)
            }
        }
    )*};
}
from_native!(
    bool => Boolean, i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64,
    u8 => UInt8, u16 => UInt16, u32 => UInt32, u64 => UInt64,
    f32 => Float32, f64 => Float64, String => Utf8,
);

impl From<&str> for ScalarValue {
    fn from(v: &str) -> Self {
        ScalarValue::Utf8(v.to_string())
    }
}

impl From<&String> for ScalarValue {
    fn from(v: &String) -> Self {
        ScalarValue::Utf8(v.clone())
    }
}

/// `None` becomes the typeless [`ScalarValue::Null`] (it adapts to the type
/// of whatever it meets, see the [module docs](super)).
impl<T: Into<ScalarValue>> From<Option<T>> for ScalarValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(ScalarValue::Null, Into::into)
    }
}

impl ScalarValue {
    /// The Arrow type of the value ([`DataType::Null`] for [`ScalarValue::Null`]).
    pub fn data_type(&self) -> DataType {
        match self {
            ScalarValue::Null => DataType::Null,
            ScalarValue::Boolean(_) => DataType::Boolean,
            ScalarValue::Int8(_) => DataType::Int8,
            ScalarValue::Int16(_) => DataType::Int16,
            ScalarValue::Int32(_) => DataType::Int32,
            ScalarValue::Int64(_) => DataType::Int64,
            ScalarValue::UInt8(_) => DataType::UInt8,
            ScalarValue::UInt16(_) => DataType::UInt16,
            ScalarValue::UInt32(_) => DataType::UInt32,
            ScalarValue::UInt64(_) => DataType::UInt64,
            ScalarValue::Float32(_) => DataType::Float32,
            ScalarValue::Float64(_) => DataType::Float64,
            ScalarValue::Utf8(_) => DataType::Utf8,
            ScalarValue::Date32(_) => DataType::Date32,
            ScalarValue::Date64(_) => DataType::Date64,
            ScalarValue::Decimal128(_, p, s) => {
                let (p, s) = valid_decimal(*p, *s);
                DataType::Decimal128(p, s)
            }
            ScalarValue::Timestamp(_, unit, tz) => DataType::Timestamp(*unit, tz.clone()),
            ScalarValue::Duration(_, unit) => DataType::Duration(*unit),
            ScalarValue::Interval { .. } => DataType::Interval(IntervalUnit::MonthDayNano),
        }
    }

    /// Whether this is [`ScalarValue::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, ScalarValue::Null)
    }

    /// The value as an Arrow [`Scalar`] (a one-element array that kernels
    /// taking a `Datum` treat as "this value on every row").
    pub fn to_scalar(&self) -> Scalar<ArrayRef> {
        Scalar::new(self.to_array(1))
    }

    /// The value repeated `len` times.
    pub fn to_array(&self, len: usize) -> ArrayRef {
        match self {
            ScalarValue::Null => new_null_array(&DataType::Null, len),
            ScalarValue::Boolean(v) => {
                let bits = if *v {
                    BooleanBuffer::new_set(len)
                } else {
                    BooleanBuffer::new_unset(len)
                };
                Arc::new(BooleanArray::new(bits, None))
            }
            ScalarValue::Int8(v) => Arc::new(Int8Array::from_value(*v, len)),
            ScalarValue::Int16(v) => Arc::new(Int16Array::from_value(*v, len)),
            ScalarValue::Int32(v) => Arc::new(Int32Array::from_value(*v, len)),
            ScalarValue::Int64(v) => Arc::new(Int64Array::from_value(*v, len)),
            ScalarValue::UInt8(v) => Arc::new(UInt8Array::from_value(*v, len)),
            ScalarValue::UInt16(v) => Arc::new(UInt16Array::from_value(*v, len)),
            ScalarValue::UInt32(v) => Arc::new(UInt32Array::from_value(*v, len)),
            ScalarValue::UInt64(v) => Arc::new(UInt64Array::from_value(*v, len)),
            ScalarValue::Float32(v) => Arc::new(Float32Array::from_value(*v, len)),
            ScalarValue::Float64(v) => Arc::new(Float64Array::from_value(*v, len)),
            ScalarValue::Utf8(v) => Arc::new(StringArray::new_repeated(v, len)),
            ScalarValue::Date32(v) => Arc::new(Date32Array::from_value(*v, len)),
            ScalarValue::Date64(v) => Arc::new(Date64Array::from_value(*v, len)),
            ScalarValue::Decimal128(v, p, s) => {
                let (p, s) = valid_decimal(*p, *s);
                let a = Decimal128Array::from_value(*v, len);
                match a.clone().with_precision_and_scale(p, s) {
                    Ok(a) => Arc::new(a),
                    Err(_) => Arc::new(a),
                }
            }
            ScalarValue::Timestamp(v, unit, tz) => match unit {
                TimeUnit::Second => Arc::new(
                    TimestampSecondArray::from_value(*v, len).with_timezone_opt(tz.clone()),
                ),
                TimeUnit::Millisecond => Arc::new(
                    TimestampMillisecondArray::from_value(*v, len).with_timezone_opt(tz.clone()),
                ),
                TimeUnit::Microsecond => Arc::new(
                    TimestampMicrosecondArray::from_value(*v, len).with_timezone_opt(tz.clone()),
                ),
                TimeUnit::Nanosecond => Arc::new(
                    TimestampNanosecondArray::from_value(*v, len).with_timezone_opt(tz.clone()),
                ),
            },
            ScalarValue::Duration(v, unit) => match unit {
                TimeUnit::Second => Arc::new(DurationSecondArray::from_value(*v, len)),
                TimeUnit::Millisecond => Arc::new(DurationMillisecondArray::from_value(*v, len)),
                TimeUnit::Microsecond => Arc::new(DurationMicrosecondArray::from_value(*v, len)),
                TimeUnit::Nanosecond => Arc::new(DurationNanosecondArray::from_value(*v, len)),
            },
            ScalarValue::Interval {
                months,
                days,
                nanos,
            } => Arc::new(IntervalMonthDayNanoArray::from_value(
                IntervalMonthDayNano::new(*months, *days, *nanos),
                len,
            )),
        }
    }

    /// The value at `index` of `array`. A null slot of any type gives
    /// [`ScalarValue::Null`]; types without a `ScalarValue` variant are
    /// [`Error::NotSupported`]. `Utf8View` and `LargeUtf8` give `Utf8`.
    pub fn try_from_array(array: &dyn Array, index: usize) -> Result<Self> {
        if index >= array.len() {
            return Err(Error::InvalidArgument(format!(
                "index {index} out of bounds for an array of length {}",
                array.len()
            )));
        }
        if array.data_type() == &DataType::Null || array.is_null(index) {
            return Ok(ScalarValue::Null);
        }
        Ok(match array.data_type() {
            DataType::Boolean => ScalarValue::Boolean(array.as_boolean().value(index)),
            DataType::Int8 => ScalarValue::Int8(array.as_primitive::<Int8Type>().value(index)),
            DataType::Int16 => ScalarValue::Int16(array.as_primitive::<Int16Type>().value(index)),
            DataType::Int32 => ScalarValue::Int32(array.as_primitive::<Int32Type>().value(index)),
            DataType::Int64 => ScalarValue::Int64(array.as_primitive::<Int64Type>().value(index)),
            DataType::UInt8 => ScalarValue::UInt8(array.as_primitive::<UInt8Type>().value(index)),
            DataType::UInt16 => {
                ScalarValue::UInt16(array.as_primitive::<UInt16Type>().value(index))
            }
            DataType::UInt32 => {
                ScalarValue::UInt32(array.as_primitive::<UInt32Type>().value(index))
            }
            DataType::UInt64 => {
                ScalarValue::UInt64(array.as_primitive::<UInt64Type>().value(index))
            }
            DataType::Float32 => {
                ScalarValue::Float32(array.as_primitive::<Float32Type>().value(index))
            }
            DataType::Float64 => {
                ScalarValue::Float64(array.as_primitive::<Float64Type>().value(index))
            }
            DataType::Date32 => {
                ScalarValue::Date32(array.as_primitive::<Date32Type>().value(index))
            }
            DataType::Date64 => {
                ScalarValue::Date64(array.as_primitive::<Date64Type>().value(index))
            }
            DataType::Decimal128(p, s) => {
                ScalarValue::Decimal128(array.as_primitive::<Decimal128Type>().value(index), *p, *s)
            }
            DataType::Timestamp(unit, tz) => {
                let v = match unit {
                    TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(index),
                    TimeUnit::Millisecond => array
                        .as_primitive::<TimestampMillisecondType>()
                        .value(index),
                    TimeUnit::Microsecond => array
                        .as_primitive::<TimestampMicrosecondType>()
                        .value(index),
                    TimeUnit::Nanosecond => {
                        array.as_primitive::<TimestampNanosecondType>().value(index)
                    }
                };
                ScalarValue::Timestamp(v, *unit, tz.clone())
            }
            DataType::Duration(unit) => {
                let v = match unit {
                    TimeUnit::Second => array.as_primitive::<DurationSecondType>().value(index),
                    TimeUnit::Millisecond => {
                        array.as_primitive::<DurationMillisecondType>().value(index)
                    }
                    TimeUnit::Microsecond => {
                        array.as_primitive::<DurationMicrosecondType>().value(index)
                    }
                    TimeUnit::Nanosecond => {
                        array.as_primitive::<DurationNanosecondType>().value(index)
                    }
                };
                ScalarValue::Duration(v, *unit)
            }
            DataType::Interval(IntervalUnit::MonthDayNano) => {
                let v = array
                    .as_primitive::<IntervalMonthDayNanoType>()
                    .value(index);
                ScalarValue::Interval {
                    months: v.months,
                    days: v.days,
                    nanos: v.nanoseconds,
                }
            }
            DataType::Utf8 => ScalarValue::Utf8(array.as_string::<i32>().value(index).into()),
            DataType::LargeUtf8 => ScalarValue::Utf8(array.as_string::<i64>().value(index).into()),
            DataType::Utf8View => ScalarValue::Utf8(array.as_string_view().value(index).into()),
            other => {
                return Err(Error::NotSupported(format!(
                    "a scalar value of type {other}"
                )));
            }
        })
    }

    /// The value as an `i128` when it is an integer.
    pub(crate) fn as_i128(&self) -> Option<i128> {
        Some(match self {
            ScalarValue::Int8(v) => (*v).into(),
            ScalarValue::Int16(v) => (*v).into(),
            ScalarValue::Int32(v) => (*v).into(),
            ScalarValue::Int64(v) => (*v).into(),
            ScalarValue::UInt8(v) => (*v).into(),
            ScalarValue::UInt16(v) => (*v).into(),
            ScalarValue::UInt32(v) => (*v).into(),
            ScalarValue::UInt64(v) => (*v).into(),
            _ => return None,
        })
    }
}

/// Literals print as they read in code: `1`, `2.5`, `"text"`, `true`,
/// `null`, `date("2024-02-29")`.
impl fmt::Display for ScalarValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarValue::Null => f.write_str("null"),
            ScalarValue::Boolean(v) => write!(f, "{v}"),
            ScalarValue::Int8(v) => write!(f, "{v}"),
            ScalarValue::Int16(v) => write!(f, "{v}"),
            ScalarValue::Int32(v) => write!(f, "{v}"),
            ScalarValue::Int64(v) => write!(f, "{v}"),
            ScalarValue::UInt8(v) => write!(f, "{v}"),
            ScalarValue::UInt16(v) => write!(f, "{v}"),
            ScalarValue::UInt32(v) => write!(f, "{v}"),
            ScalarValue::UInt64(v) => write!(f, "{v}"),
            // `{:?}` keeps the decimal point: `2.0`, not `2`.
            ScalarValue::Float32(v) => write!(f, "{v:?}"),
            ScalarValue::Float64(v) => write!(f, "{v:?}"),
            ScalarValue::Utf8(v) => write!(f, "{v:?}"),
            ScalarValue::Date32(days) => {
                let (y, m, d) = civil_from_days(i64::from(*days));
                write!(f, "date(\"{y:04}-{m:02}-{d:02}\")")
            }
            ScalarValue::Decimal128(..) => write!(f, "decimal({:?})", self.arrow_display()),
            ScalarValue::Date64(_) => write!(f, "date64({:?})", self.arrow_display()),
            ScalarValue::Timestamp(..) => write!(f, "timestamp({:?})", self.arrow_display()),
            ScalarValue::Duration(..) => write!(f, "duration({:?})", self.arrow_display()),
            ScalarValue::Interval { .. } => write!(f, "interval({:?})", self.arrow_display()),
        }
    }
}

/// A precision and scale arrow accepts for Decimal128 (others are clamped;
/// [`Expr::prepare`](super::Expr::prepare) rejects them with an error
/// first).
fn valid_decimal(p: u8, s: i8) -> (u8, i8) {
    let p = p.clamp(1, arrow_schema::DECIMAL128_MAX_PRECISION);
    (p, s.min(p as i8))
}

impl ScalarValue {
    /// The value as arrow prints it (`12.34`, `2024-01-01T00:00:00Z`).
    fn arrow_display(&self) -> String {
        let a = self.to_array(1);
        let opts = arrow_cast::display::FormatOptions::new();
        match arrow_cast::display::ArrayFormatter::try_new(a.as_ref(), &opts) {
            Ok(fmt) => fmt.value(0).to_string(),
            Err(e) => format!("<{e}>"),
        }
    }

    /// A Decimal128 value from its text (`"12.34"`, `"-0.05"`, `"7"`): the
    /// precision is the number of digits, the scale the number after the
    /// point (at least 1 and at most 38 digits). Exact, unlike a float.
    pub fn decimal_from_str(text: &str) -> Result<ScalarValue> {
        let bad = || Error::InvalidArgument(format!("'{text}' is not a decimal number"));
        let t = text.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let int = int.trim_start_matches('0');
        let scale = frac.len();
        let precision = (int.len() + scale).max(1);
        if precision > usize::from(arrow_schema::DECIMAL128_MAX_PRECISION) {
            return Err(Error::InvalidArgument(format!(
                "'{text}' has more than 38 digits: it does not fit a Decimal128"
            )));
        }
        let mut v: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            v = v * 10 + i128::from(b - b'0');
        }
        if neg {
            v = -v;
        }
        Ok(ScalarValue::Decimal128(v, precision as u8, scale as i8))
    }
}

/// Year, month and day of a day count since 1970-01-01 (proleptic
/// Gregorian), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dates_print_as_calendar_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(
            ScalarValue::Date32(19_782).to_string(),
            "date(\"2024-02-29\")"
        );
    }

    #[test]
    fn round_trips_through_arrays() {
        let values = [
            ScalarValue::Null,
            ScalarValue::from(true),
            ScalarValue::from(-3i8),
            ScalarValue::from(7u64),
            ScalarValue::from(1.5f32),
            ScalarValue::from("hé"),
            ScalarValue::Date32(5),
        ];
        for v in values {
            let a = v.to_array(3);
            assert_eq!(a.len(), 3);
            assert_eq!(a.data_type(), &v.data_type());
            assert_eq!(ScalarValue::try_from_array(&a, 2).unwrap(), v);
        }
        assert_eq!(ScalarValue::from(None::<i32>), ScalarValue::Null);
        assert_eq!(ScalarValue::from(Some(2u16)), ScalarValue::UInt16(2));
        assert!(ScalarValue::try_from_array(&ScalarValue::Null.to_array(1), 4).is_err());
    }
}
