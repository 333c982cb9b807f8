//! Typed row access: an ordinary Rust closure over the values of a row.
//!
//! A closure such as `|(lat, lon): (f64, f64)| lat.hypot(lon)` implements
//! [`RowFn`] for any arity from 1 to 12 (a one-column closure may take the
//! value directly: `|s: &str| s.len() as i64`). For each chunk the input
//! columns are downcast once to typed accessors (plain slices for
//! primitives), and the loop over the rows is a plain Rust loop the compiler
//! inlines the closure into.
//!
//! Parameter types ([`ArgType`]): every Arrow integer and float width,
//! `bool`, `&str` (over Utf8, LargeUtf8 and Utf8View columns),
//! `chrono::NaiveDate` (Date32/Date64), `chrono::DateTime<Utc>`
//! (timestamps of any unit and zone, as instants), `chrono::TimeDelta`
//! (durations), `i128` (a Decimal128 column's unscaled values; the scale is
//! the column's), and `Option<T>` of those for columns with nulls. chrono's
//! own types rather than new ones: they are what Rust code already uses
//! for dates and times. A column whose type differs
//! from the parameter's is converted once per chunk when that loses nothing
//! (an `Int32` column for an `i64` or `f64` parameter, dictionary-encoded
//! strings for `&str`); anything else is a type error raised when the plan
//! is built.
//!
//! Output types ([`OutputValue`]): the same primitives, `bool`, strings
//! (`String`, `&'static str`, `Cow<'static, str>`: Utf8),
//! `chrono::NaiveDate` (Date32), `chrono::DateTime<Utc>` (`Timestamp(µs,
//! "UTC")`), and `Option<_>` of each for a nullable output. An output
//! cannot borrow from the row's `&str` inputs (they live only as long as
//! their chunk): return `s.to_string()` (or a `Cow::Owned`) for that.
//!
//! Nulls: a non-`Option` parameter over a null value is an error naming the
//! column and row, unless [`RowOptions::skip_nulls`] is set, in which case
//! that row's output is null and the closure is not called.
//!
//! Panics: a closure that panics becomes [`Error::UserCode`] naming the
//! output column and the row (counted from the start of the table).
//!
//! ```
//! use parframe_core::row::{apply_to_batch, RowOptions};
//! use parframe_core::table;
//!
//! let t = table!("name" => ["ann", "bob"], "age" => [31i64, 45]).unwrap();
//! let out = apply_to_batch(
//!     &t.chunks()[0],
//!     &["name", "age"],
//!     "label",
//!     &RowOptions::default(),
//!     &|(n, a): (&str, i64)| format!("{n}:{a}"),
//! )
//! .unwrap();
//! assert_eq!(out.len(), 2);
//! ```

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::Once;

use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, LargeStringArray, PrimitiveArray,
    RecordBatch, StringArray, StringViewArray, builder::StringBuilder,
};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};
use parframe_common::{Error, Result};

/// Options of a row-level apply.
#[derive(Debug, Clone, Default)]
pub struct RowOptions {
    /// When a non-`Option` parameter meets a null, give a null output for
    /// that row instead of failing.
    pub skip_nulls: bool,
}

impl RowOptions {
    /// Skip rows where a non-`Option` parameter would see a null.
    pub fn skip_nulls(mut self, yes: bool) -> Self {
        self.skip_nulls = yes;
        self
    }
}

/// What one chunk's call needs to know to name things in errors.
#[derive(Debug, Clone, Copy)]
pub struct ChunkContext<'a> {
    /// Names of the input columns, in parameter order.
    pub inputs: &'a [String],
    /// Name of the output column.
    pub output: &'a str,
    /// Row index of this chunk's first row inside the whole table.
    pub row_offset: u64,
    /// Options.
    pub options: &'a RowOptions,
}

// ---------------------------------------------------------------------------
// Parameters

/// A parameter type of a row closure: how a column of some Arrow type is
/// seen as values of a Rust type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a parameter of a row closure",
    label = "this parameter type is not supported",
    note = "row closure parameters may be: i8..i64, u8..u64, f32, f64, bool, &str, \
            chrono::NaiveDate, chrono::DateTime<Utc>, chrono::TimeDelta, i128 (decimals), or \
            Option<_> of one of these for a column with nulls"
)]
pub trait ArgType {
    /// The value handed to the closure, borrowing from the chunk.
    type Item<'a>;
    /// A typed view of one column of one chunk.
    type Accessor<'a>: Accessor<Item = Self::Item<'a>>;
    /// Whether the parameter accepts nulls (`Option<_>`).
    const NULLABLE: bool;
    /// Describes the parameter type for error messages, e.g. `f64`.
    fn describe() -> String;
    /// The Arrow type a column of type `dt` must be converted to before
    /// [`ArgType::bind`], `Some(dt.clone())` when it is usable as is, or
    /// `None` when it cannot be used without loss.
    fn accept(dt: &DataType) -> Option<DataType>;
    /// Binds a column already of an accepted type.
    fn bind(array: &ArrayRef) -> Option<Self::Accessor<'_>>;
}

/// A typed view of one column of one chunk.
pub trait Accessor {
    /// The value type.
    type Item;
    /// Number of rows.
    fn len(&self) -> usize;
    /// Whether the view has no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value at row `i` (`i < len`). For non-`Option` parameters a null
    /// slot yields whatever value Arrow stores there; callers check nulls first.
    fn get(&self, i: usize) -> Self::Item;
    /// The column's nulls, if any.
    fn nulls(&self) -> Option<&NullBuffer>;
}

/// A primitive column viewed as a slice.
pub struct PrimitiveAccessor<'a, T> {
    values: &'a [T],
    nulls: Option<&'a NullBuffer>,
}

impl<T: Copy> Accessor for PrimitiveAccessor<'_, T> {
    type Item = T;
    #[inline(always)]
    fn len(&self) -> usize {
        self.values.len()
    }
    #[inline(always)]
    fn get(&self, i: usize) -> T {
        self.values[i]
    }
    fn nulls(&self) -> Option<&NullBuffer> {
        self.nulls
    }
}

/// Lossless conversions allowed into a parameter's Arrow type.
fn widens_to(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    matches!(
        (from, to),
        (Int8, Int16 | Int32 | Int64 | Float32 | Float64)
            | (Int16, Int32 | Int64 | Float32 | Float64)
            | (Int32, Int64 | Float64)
            | (
                UInt8,
                UInt16 | UInt32 | UInt64 | Int16 | Int32 | Int64 | Float32 | Float64
            )
            | (UInt16, UInt32 | UInt64 | Int32 | Int64 | Float32 | Float64)
            | (UInt32, UInt64 | Int64 | Float64)
            | (Float16 | Float32, Float64)
            | (Date32, Int32)
            | (Date64, Int64)
    )
}

macro_rules! prim_arg {
    ($($t:ty => $arrow:ty),* $(,)?) => {$(
        impl ArgType for $t {
            type Item<'a> = $t;
            type Accessor<'a> = PrimitiveAccessor<'a, $t>;
            const NULLABLE: bool = false;
            fn describe() -> String {
                stringify!($t).to_string()
            }
            fn accept(dt: &DataType) -> Option<DataType> {
                let want = <$arrow as ArrowPrimitiveType>::DATA_TYPE;
                let from = match dt {
                    DataType::Dictionary(_, v) => v.as_ref(),
                    other => other,
                };
                if from == &want || widens_to(from, &want) {
                    Some(want)
                } else {
                    None
                }
            }
            fn bind(array: &ArrayRef) -> Option<Self::Accessor<'_>> {
                let a = array.as_any().downcast_ref::<PrimitiveArray<$arrow>>()?;
                Some(PrimitiveAccessor { values: a.values().as_ref(), nulls: a.nulls() })
            }
        }
    )*};
}

prim_arg!(
    i8 => Int8Type, i16 => Int16Type, i32 => Int32Type, i64 => Int64Type,
    u8 => UInt8Type, u16 => UInt16Type, u32 => UInt32Type, u64 => UInt64Type,
    f32 => Float32Type, f64 => Float64Type,
);

/// A boolean column.
pub struct BoolAccessor<'a> {
    array: &'a BooleanArray,
}

impl Accessor for BoolAccessor<'_> {
    type Item = bool;
    #[inline(always)]
    fn len(&self) -> usize {
        self.array.len()
    }
    #[inline(always)]
    fn get(&self, i: usize) -> bool {
        self.array.values().value(i)
    }
    fn nulls(&self) -> Option<&NullBuffer> {
        self.array.nulls()
    }
}

impl ArgType for bool {
    type Item<'a> = bool;
    type Accessor<'a> = BoolAccessor<'a>;
    const NULLABLE: bool = false;
    fn describe() -> String {
        "bool".into()
    }
    fn accept(dt: &DataType) -> Option<DataType> {
        (dt == &DataType::Boolean).then_some(DataType::Boolean)
    }
    fn bind(array: &ArrayRef) -> Option<Self::Accessor<'_>> {
        Some(BoolAccessor {
            array: array.as_any().downcast_ref::<BooleanArray>()?,
        })
    }
}

/// A string column of any of Arrow's three layouts.
pub enum StrAccessor<'a> {
    /// `Utf8`.
    Utf8(&'a StringArray),
    /// `LargeUtf8`.
    Large(&'a LargeStringArray),
    /// `Utf8View`.
    View(&'a StringViewArray),
}

impl<'a> Accessor for StrAccessor<'a> {
    type Item = &'a str;
    fn len(&self) -> usize {
        match self {
            StrAccessor::Utf8(a) => a.len(),
            StrAccessor::Large(a) => a.len(),
            StrAccessor::View(a) => a.len(),
        }
    }
    #[inline(always)]
    fn get(&self, i: usize) -> &'a str {
        match self {
            StrAccessor::Utf8(a) => a.value(i),
            StrAccessor::Large(a) => a.value(i),
            StrAccessor::View(a) => a.value(i),
        }
    }
    fn nulls(&self) -> Option<&NullBuffer> {
        match self {
            StrAccessor::Utf8(a) => a.nulls(),
            StrAccessor::Large(a) => a.nulls(),
            StrAccessor::View(a) => a.nulls(),
        }
    }
}

impl ArgType for &str {
    type Item<'a> = &'a str;
    type Accessor<'a> = StrAccessor<'a>;
    const NULLABLE: bool = false;
    fn describe() -> String {
        "&str".into()
    }
    fn accept(dt: &DataType) -> Option<DataType> {
        match dt {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(dt.clone()),
            DataType::Dictionary(_, v)
                if matches!(
                    v.as_ref(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
            {
                Some(v.as_ref().clone())
            }
            _ => None,
        }
    }
    fn bind(array: &ArrayRef) -> Option<Self::Accessor<'_>> {
        let any = array.as_any();
        if let Some(a) = any.downcast_ref::<StringArray>() {
            Some(StrAccessor::Utf8(a))
        } else if let Some(a) = any.downcast_ref::<LargeStringArray>() {
            Some(StrAccessor::Large(a))
        } else {
            any.downcast_ref::<StringViewArray>().map(StrAccessor::View)
        }
    }
}

/// A nullable view over another accessor.
pub struct OptionAccessor<A> {
    inner: A,
}

impl<A: Accessor> Accessor for OptionAccessor<A> {
    type Item = Option<A::Item>;
    #[inline(always)]
    fn len(&self) -> usize {
        self.inner.len()
    }
    #[inline(always)]
    fn get(&self, i: usize) -> Option<A::Item> {
        match self.inner.nulls() {
            Some(n) if n.is_null(i) => None,
            _ => Some(self.inner.get(i)),
        }
    }
    fn nulls(&self) -> Option<&NullBuffer> {
        self.inner.nulls()
    }
}

impl<T: ArgType> ArgType for Option<T> {
    type Item<'a> = Option<T::Item<'a>>;
    type Accessor<'a> = OptionAccessor<T::Accessor<'a>>;
    const NULLABLE: bool = true;
    fn describe() -> String {
        format!("Option<{}>", T::describe())
    }
    fn accept(dt: &DataType) -> Option<DataType> {
        T::accept(dt)
    }
    fn bind(array: &ArrayRef) -> Option<Self::Accessor<'_>> {
        Some(OptionAccessor {
            inner: T::bind(array)?,
        })
    }
}

// ---------------------------------------------------------------------------
// Outputs

/// A closure's return type: a value that becomes one slot of the output column.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a row closure",
    label = "this closure's return type is not supported",
    note = "row closures may return: i8..i64, u8..u64, f32, f64, bool, String, &'static str, \
            Cow<'static, str>, chrono::NaiveDate, chrono::DateTime<Utc>, or Option<_> of one \
            of these (None is a null)"
)]
pub trait OutputValue: Sized {
    /// Collects values into an Arrow array.
    type Builder: OutputBuilder<Self>;
    /// The Arrow type of the output column.
    fn data_type() -> DataType;
}

/// Gathers the outputs of one chunk.
pub trait OutputBuilder<T> {
    /// A builder for about `rows` rows.
    fn with_capacity(rows: usize) -> Self;
    /// Rows gathered so far.
    fn len(&self) -> usize;
    /// Whether no rows were gathered.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends a value.
    fn push(&mut self, v: T);
    /// Appends a null (rows skipped for nulls).
    fn push_null(&mut self);
    /// The array.
    fn finish(self) -> ArrayRef;
}

/// Builds a primitive column from a `Vec`, with a validity bitmap made only
/// when a null arrives.
pub struct PrimitiveOut<P: ArrowPrimitiveType> {
    values: Vec<P::Native>,
    validity: Option<BooleanBufferBuilder>,
}

impl<P: ArrowPrimitiveType> PrimitiveOut<P> {
    fn null_slot(&mut self) {
        let len = self.values.len();
        let v = self.validity.get_or_insert_with(|| {
            let mut b = BooleanBufferBuilder::new(len.max(64));
            b.append_n(len, true);
            b
        });
        v.append(false);
        self.values.push(P::Native::default());
    }

    fn finish_array(mut self) -> ArrayRef {
        let nulls = self.validity.as_mut().map(|b| NullBuffer::new(b.finish()));
        Arc::new(PrimitiveArray::<P>::new(
            ScalarBuffer::from(self.values),
            nulls,
        ))
    }
}

macro_rules! prim_out {
    ($($t:ty => $arrow:ty),* $(,)?) => {$(
        impl OutputValue for $t {
            type Builder = PrimitiveOut<$arrow>;
            fn data_type() -> DataType { <$arrow as ArrowPrimitiveType>::DATA_TYPE }
        }
        impl OutputBuilder<$t> for PrimitiveOut<$arrow> {
            fn with_capacity(rows: usize) -> Self {
                PrimitiveOut { values: Vec::with_capacity(rows), validity: None }
            }
            #[inline(always)]
            fn len(&self) -> usize { self.values.len() }
            #[inline(always)]
            fn push(&mut self, v: $t) {
                self.values.push(v);
                if let Some(b) = self.validity.as_mut() { b.append(true); }
            }
            fn push_null(&mut self) { self.null_slot() }
            fn finish(self) -> ArrayRef { self.finish_array() }
        }
        impl OutputValue for Option<$t> {
            type Builder = PrimitiveOut<$arrow>;
            fn data_type() -> DataType { <$arrow as ArrowPrimitiveType>::DATA_TYPE }
        }
        impl OutputBuilder<Option<$t>> for PrimitiveOut<$arrow> {
            fn with_capacity(rows: usize) -> Self {
                PrimitiveOut { values: Vec::with_capacity(rows), validity: None }
            }
            #[inline(always)]
            fn len(&self) -> usize { self.values.len() }
            #[inline(always)]
            fn push(&mut self, v: Option<$t>) {
                match v {
                    Some(v) => OutputBuilder::<$t>::push(self, v),
                    None => self.null_slot(),
                }
            }
            fn push_null(&mut self) { self.null_slot() }
            fn finish(self) -> ArrayRef { self.finish_array() }
        }
    )*};
}

prim_out!(
    i8 => Int8Type, i16 => Int16Type, i32 => Int32Type, i64 => Int64Type,
    u8 => UInt8Type, u16 => UInt16Type, u32 => UInt32Type, u64 => UInt64Type,
    f32 => Float32Type, f64 => Float64Type,
);

/// Builds a boolean column.
pub struct BoolOut {
    values: BooleanBufferBuilder,
    validity: Option<BooleanBufferBuilder>,
    len: usize,
}

impl BoolOut {
    fn slot(&mut self, v: Option<bool>) {
        match v {
            Some(v) => {
                self.values.append(v);
                if let Some(b) = self.validity.as_mut() {
                    b.append(true);
                }
            }
            None => {
                let len = self.len;
                let b = self.validity.get_or_insert_with(|| {
                    let mut b = BooleanBufferBuilder::new(len.max(64));
                    b.append_n(len, true);
                    b
                });
                b.append(false);
                self.values.append(false);
            }
        }
        self.len += 1;
    }
    fn finish_array(mut self) -> ArrayRef {
        let nulls = self.validity.as_mut().map(|b| NullBuffer::new(b.finish()));
        Arc::new(BooleanArray::new(self.values.finish(), nulls))
    }
}

macro_rules! bool_out {
    ($t:ty, $conv:expr) => {
        impl OutputValue for $t {
            type Builder = BoolOut;
            fn data_type() -> DataType {
                DataType::Boolean
            }
        }
        impl OutputBuilder<$t> for BoolOut {
            fn with_capacity(rows: usize) -> Self {
                BoolOut {
                    values: BooleanBufferBuilder::new(rows),
                    validity: None,
                    len: 0,
                }
            }
            fn len(&self) -> usize {
                self.len
            }
            #[inline(always)]
            fn push(&mut self, v: $t) {
                self.slot($conv(v))
            }
            fn push_null(&mut self) {
                self.slot(None)
            }
            fn finish(self) -> ArrayRef {
                self.finish_array()
            }
        }
    };
}
bool_out!(bool, Some);
bool_out!(Option<bool>, std::convert::identity);

/// Builds a `Utf8` column.
pub struct StringOut {
    builder: StringBuilder,
    len: usize,
}

macro_rules! string_out {
    ($t:ty, |$b:ident, $v:ident| $push:expr) => {
        impl OutputValue for $t {
            type Builder = StringOut;
            fn data_type() -> DataType {
                DataType::Utf8
            }
        }
        impl OutputBuilder<$t> for StringOut {
            fn with_capacity(rows: usize) -> Self {
                StringOut {
                    builder: StringBuilder::with_capacity(rows, rows * 8),
                    len: 0,
                }
            }
            fn len(&self) -> usize {
                self.len
            }
            #[inline(always)]
            fn push(&mut self, $v: $t) {
                let $b = &mut self.builder;
                $push;
                self.len += 1;
            }
            fn push_null(&mut self) {
                self.builder.append_null();
                self.len += 1;
            }
            fn finish(mut self) -> ArrayRef {
                Arc::new(self.builder.finish())
            }
        }
    };
}
string_out!(String, |b, v| b.append_value(v));
string_out!(Option<String>, |b, v| b.append_option(v));
// A closure's output cannot borrow from its inputs (their lifetime ends
// with the chunk), so borrowed strings are `'static` ones (constants).
string_out!(&'static str, |b, v| b.append_value(v));
string_out!(Option<&'static str>, |b, v| b.append_option(v));
string_out!(std::borrow::Cow<'static, str>, |b, v| b.append_value(v));
string_out!(Option<std::borrow::Cow<'static, str>>, |b, v| b
    .append_option(v));

// ---------------------------------------------------------------------------
// Dates, timestamps, durations and decimals (chrono types, i128)

/// Days since the epoch as a date, when chrono can hold it.
fn date_of_days(d: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_num_days_from_ce_opt(d.checked_add(719_163)?)
}

/// A timestamp of `unit` as an instant, when chrono can hold it.
fn instant_of(v: i64, unit: arrow_schema::TimeUnit) -> Option<chrono::DateTime<chrono::Utc>> {
    use arrow_schema::TimeUnit as U;
    match unit {
        U::Second => chrono::DateTime::from_timestamp(v, 0),
        U::Millisecond => chrono::DateTime::from_timestamp_millis(v),
        U::Microsecond => chrono::DateTime::from_timestamp_micros(v),
        U::Nanosecond => Some(chrono::DateTime::from_timestamp_nanos(v)),
    }
}

/// A duration of `unit` as a `chrono::TimeDelta`, when it can hold it.
fn delta_of(v: i64, unit: arrow_schema::TimeUnit) -> Option<chrono::TimeDelta> {
    use arrow_schema::TimeUnit as U;
    match unit {
        U::Second => chrono::TimeDelta::try_seconds(v),
        U::Millisecond => chrono::TimeDelta::try_milliseconds(v),
        U::Microsecond => Some(chrono::TimeDelta::microseconds(v)),
        U::Nanosecond => Some(chrono::TimeDelta::nanoseconds(v)),
    }
}

/// The values and nulls of a primitive column, when every non-null value
/// converts with `ok` (checked once per chunk, so [`Accessor::get`] cannot
/// meet a value out of chrono's range).
fn checked_values<P: ArrowPrimitiveType>(
    array: &ArrayRef,
    ok: impl Fn(P::Native) -> bool,
) -> Option<(&[P::Native], Option<&NullBuffer>)> {
    let a = array.as_any().downcast_ref::<PrimitiveArray<P>>()?;
    let all = (0..a.len()).all(|i| a.is_null(i) || ok(a.value(i)));
    all.then(|| (a.values().as_ref(), a.nulls()))
}

/// A `Date32` column as `chrono::NaiveDate` values.
pub struct DateAccessor<'a> {
    values: &'a [i32],
    nulls: Option<&'a NullBuffer>,
}

impl Accessor for DateAccessor<'_> {
    type Item = chrono::NaiveDate;
    fn len(&self) -> usize {
        self.values.len()
    }
    #[inline(always)]
    fn get(&self, i: usize) -> chrono::NaiveDate {
        // Valid slots were checked when bound; a null slot's stored value
        // is never handed to the closure.
        date_of_days(self.values[i]).unwrap_or(chrono::NaiveDate::MIN)
    }
    fn nulls(&self) -> Option<&NullBuffer> {
        self.nulls
    }
}

impl ArgType for chrono::NaiveDate {
    type Item<'a> = chrono::NaiveDate;
    type Accessor<'a> = DateAccessor<'a>;
    const NULLABLE: bool = false;
    fn describe() -> String {
        "chrono::NaiveDate".into()
    }
    fn accept(dt: &DataType) -> Option<DataType> {
        matches!(dt, DataType::Date32 | DataType::Date64).then_some(DataType::Date32)
    }
    fn bind(array: &ArrayRef) -> Option<Self::Accessor<'_>> {
        let (values, nulls) = checked_values::<Date32Type>(array, |d| date_of_days(d).is_some())?;
        Some(DateAccessor { values, nulls })
    }
}

/// A timestamp column of any unit and zone as `chrono::DateTime<Utc>`
/// instants.
pub struct InstantAccessor<'a> {
    values: &'a [i64],
    unit: arrow_schema::TimeUnit,
    nulls: Option<&'a NullBuffer>,
}

impl Accessor for InstantAccessor<'_> {
    type Item = chrono::DateTime<chrono::Utc>;
    fn len(&self) -> usize {
        self.values.len()
    }
    #[inline(always)]
    fn get(&self, i: usize) -> chrono::DateTime<chrono::Utc> {
        instant_of(self.values[i], self.unit).unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
    }
    fn nulls(&self) -> Option<&NullBuffer> {
        self.nulls
    }
}

impl ArgType for chrono::DateTime<chrono::Utc> {
    type Item<'a> = chrono::DateTime<chrono::Utc>;
    type Accessor<'a> = InstantAccessor<'a>;
    const NULLABLE: bool = false;
    fn describe() -> String {
        "chrono::DateTime<Utc>".into()
    }
    fn accept(dt: &DataType) -> Option<DataType> {
        matches!(dt, DataType::Timestamp(..)).then(|| dt.clone())
    }
    fn bind(array: &ArrayRef) -> Option<Self::Accessor<'_>> {
        use arrow_schema::TimeUnit as U;
        let DataType::Timestamp(unit, _) = array.data_type() else {
            return None;
        };
        let unit = *unit;
        let ok = |v: i64| instant_of(v, unit).is_some();
        let (values, nulls) = match unit {
            U::Second => checked_values::<TimestampSecondType>(array, ok)?,
            U::Millisecond => checked_values::<TimestampMillisecondType>(array, ok)?,
            U::Microsecond => checked_values::<TimestampMicrosecondType>(array, ok)?,
            U::Nanosecond => checked_values::<TimestampNanosecondType>(array, ok)?,
        };
        Some(InstantAccessor {
            values,
            unit,
            nulls,
        })
    }
}

/// A duration column of any unit as `chrono::TimeDelta` values.
pub struct DeltaAccessor<'a> {
    values: &'a [i64],
    unit: arrow_schema::TimeUnit,
    nulls: Option<&'a NullBuffer>,
}

impl Accessor for DeltaAccessor<'_> {
    type Item = chrono::TimeDelta;
    fn len(&self) -> usize {
        self.values.len()
    }
    #[inline(always)]
    fn get(&self, i: usize) -> chrono::TimeDelta {
        delta_of(self.values[i], self.unit).unwrap_or_default()
    }
    fn nulls(&self) -> Option<&NullBuffer> {
        self.nulls
    }
}

impl ArgType for chrono::TimeDelta {
    type Item<'a> = chrono::TimeDelta;
    type Accessor<'a> = DeltaAccessor<'a>;
    const NULLABLE: bool = false;
    fn describe() -> String {
        "chrono::TimeDelta".into()
    }
    fn accept(dt: &DataType) -> Option<DataType> {
        matches!(dt, DataType::Duration(_)).then(|| dt.clone())
    }
    fn bind(array: &ArrayRef) -> Option<Self::Accessor<'_>> {
        use arrow_schema::TimeUnit as U;
        let DataType::Duration(unit) = array.data_type() else {
            return None;
        };
        let unit = *unit;
        let ok = |v: i64| delta_of(v, unit).is_some();
        let (values, nulls) = match unit {
            U::Second => checked_values::<DurationSecondType>(array, ok)?,
            U::Millisecond => checked_values::<DurationMillisecondType>(array, ok)?,
            U::Microsecond => checked_values::<DurationMicrosecondType>(array, ok)?,
            U::Nanosecond => checked_values::<DurationNanosecondType>(array, ok)?,
        };
        Some(DeltaAccessor {
            values,
            unit,
            nulls,
        })
    }
}

/// A `Decimal128(p, s)` column as its unscaled `i128` values (the scale is
/// the column's: `12.34` in `Decimal128(5, 2)` is `1234`).
impl ArgType for i128 {
    type Item<'a> = i128;
    type Accessor<'a> = PrimitiveAccessor<'a, i128>;
    const NULLABLE: bool = false;
    fn describe() -> String {
        "i128 (unscaled decimal)".into()
    }
    fn accept(dt: &DataType) -> Option<DataType> {
        matches!(dt, DataType::Decimal128(..)).then(|| dt.clone())
    }
    fn bind(array: &ArrayRef) -> Option<Self::Accessor<'_>> {
        let a = array
            .as_any()
            .downcast_ref::<PrimitiveArray<Decimal128Type>>()?;
        Some(PrimitiveAccessor {
            values: a.values().as_ref(),
            nulls: a.nulls(),
        })
    }
}

/// A converting output: values become `P::Native` with `to`.
macro_rules! mapped_out {
    ($t:ty, $arrow:ty, $dt:expr, |$v:ident| $to:expr) => {
        impl OutputValue for $t {
            type Builder = PrimitiveOut<$arrow>;
            fn data_type() -> DataType {
                $dt
            }
        }
        impl OutputBuilder<$t> for PrimitiveOut<$arrow> {
            fn with_capacity(rows: usize) -> Self {
                PrimitiveOut {
                    values: Vec::with_capacity(rows),
                    validity: None,
                }
            }
            fn len(&self) -> usize {
                self.values.len()
            }
            #[inline(always)]
            fn push(&mut self, $v: $t) {
                self.values.push($to);
                if let Some(b) = self.validity.as_mut() {
                    b.append(true);
                }
            }
            fn push_null(&mut self) {
                self.null_slot()
            }
            fn finish(self) -> ArrayRef {
                let dt = <$t as OutputValue>::data_type();
                let a = self.finish_array();
                // Only the zone differs from the builder's own type.
                arrow_cast::cast(&a, &dt).unwrap_or(a)
            }
        }
        impl OutputValue for Option<$t> {
            type Builder = PrimitiveOut<$arrow>;
            fn data_type() -> DataType {
                $dt
            }
        }
        impl OutputBuilder<Option<$t>> for PrimitiveOut<$arrow> {
            fn with_capacity(rows: usize) -> Self {
                <Self as OutputBuilder<$t>>::with_capacity(rows)
            }
            fn len(&self) -> usize {
                self.values.len()
            }
            #[inline(always)]
            fn push(&mut self, v: Option<$t>) {
                match v {
                    Some(v) => OutputBuilder::<$t>::push(self, v),
                    None => self.null_slot(),
                }
            }
            fn push_null(&mut self) {
                self.null_slot()
            }
            fn finish(self) -> ArrayRef {
                <Self as OutputBuilder<$t>>::finish(self)
            }
        }
    };
}

// `NaiveDate` spans ±262,143 years, well inside Date32's days.
mapped_out!(chrono::NaiveDate, Date32Type, DataType::Date32, |v| {
    chrono::Datelike::num_days_from_ce(&v) - 719_163
});
// Microseconds since the epoch (chrono's range fits i64 microseconds).
mapped_out!(
    chrono::DateTime<chrono::Utc>,
    TimestampMicrosecondType,
    DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into())),
    |v| v.timestamp_micros()
);

// ---------------------------------------------------------------------------
// Closures

/// A closure over typed row values, callable chunk by chunk.
///
/// Implemented for `Fn((A, B, ...)) -> R` closures of 1 to 12 parameters
/// packed in a tuple, and for `Fn(A) -> R`, where every parameter is an
/// [`ArgType`] and `R` an [`OutputValue`]. `M` is an inference marker; users
/// never name it.
#[diagnostic::on_unimplemented(
    message = "this closure cannot be used as a row function (`apply`)",
    label = "expected `Fn(A) -> R` or `Fn((A, B, ...)) -> R` (up to 12 parameters), Send + Sync + 'static",
    note = "parameters may be: i8..i64, u8..u64, f32, f64, bool, &str, chrono::NaiveDate, \
            chrono::DateTime<Utc>, chrono::TimeDelta, i128 (decimals), or Option<_> of these \
            for columns with nulls; annotate them: `|(a, s): (f64, &str)| ...`",
    note = "return types may be: i8..i64, u8..u64, f32, f64, bool, String, &'static str, \
            Cow<'static, str>, chrono::NaiveDate, chrono::DateTime<Utc>, or Option<_> of these; \
            a returned string cannot borrow from an input `&str` (return `s.to_string()`)"
)]
pub trait RowFn<M>: Send + Sync + 'static {
    /// The closure's return type.
    type Output: OutputValue;
    /// Number of input columns the closure takes.
    const ARITY: usize;
    /// For parameter `i`, the Arrow type a column of type `dt` is converted
    /// to, or `None` if that column cannot feed it.
    fn accept(i: usize, dt: &DataType) -> Option<DataType>;
    /// Parameter `i` described for error messages.
    fn describe_param(i: usize) -> String;
    /// Whether parameter `i` takes `Option<_>`.
    fn param_nullable(i: usize) -> bool;
    /// Runs the closure over one chunk's columns (already converted to the
    /// accepted types), returning the output column.
    fn call_chunk(&self, columns: &[ArrayRef], ctx: &ChunkContext<'_>) -> Result<ArrayRef>;
}

thread_local! {
    /// Whether this thread is running a user closure under
    /// [`catch_user_panic`].
    static IN_USER_CODE: Cell<bool> = const { Cell::new(false) };
}

/// Runs user code (a row closure, a `map_batches` function), turning a
/// panic into `Err` with its payload, **without** the panic hook's
/// `thread '...' panicked at ...` line on stderr: the panic becomes
/// [`Error::UserCode`] naming the column and row, and the pool would
/// otherwise print it once per worker thread that hit it.
///
/// How: the first call installs a process-wide panic hook that wraps the
/// one in place (the default, or the program's own) and calls it for
/// every panic except those raised while this thread is inside
/// `catch_user_panic`. Panics anywhere else are reported exactly as
/// before; a hook the program sets later replaces this one (and then
/// closure panics print again, nothing else changes).
pub fn catch_user_panic<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_USER_CODE.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = IN_USER_CODE.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_USER_CODE.with(|c| c.set(outer));
    result
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "the closure panicked".to_string()
    }
}

/// A combined validity of the non-`Option` inputs, or the first null found
/// when nulls are not to be skipped.
fn required_validity(
    nulls: &[(Option<&NullBuffer>, bool)],
    ctx: &ChunkContext<'_>,
) -> Result<Option<NullBuffer>> {
    let mut combined: Option<NullBuffer> = None;
    for (i, (n, nullable)) in nulls.iter().enumerate() {
        let Some(n) = n else { continue };
        if *nullable || n.null_count() == 0 {
            continue;
        }
        if !ctx.options.skip_nulls {
            let first_null = (0..n.len()).find(|&r| n.is_null(r)).unwrap_or(0);
            return Err(Error::UnexpectedNull {
                column: ctx.inputs.get(i).cloned().unwrap_or_default(),
                row: ctx.row_offset + first_null as u64,
            });
        }
        combined = NullBuffer::union(combined.as_ref(), Some(n));
    }
    Ok(combined)
}

fn internal_bind_error(ctx: &ChunkContext<'_>, i: usize, array: &ArrayRef) -> Error {
    Error::TypeMismatch {
        context: format!("apply '{}'", ctx.output),
        message: format!(
            "column '{}' reached the closure as {} which its parameter cannot read",
            ctx.inputs.get(i).map(String::as_str).unwrap_or("?"),
            array.data_type()
        ),
    }
}

macro_rules! row_fn_tuple {
    ($n:expr; $($T:ident $a:ident $idx:tt),+) => {
        impl<Func, R, $($T),+> RowFn<(($($T,)+), R)> for Func
        where
            Func: Fn(($($T,)+)) -> R + Send + Sync + 'static,
            Func: for<'a> Fn(($($T::Item<'a>,)+)) -> R,
            $($T: ArgType,)+
            R: OutputValue,
        {
            type Output = R;
            const ARITY: usize = $n;
            fn accept(i: usize, dt: &DataType) -> Option<DataType> {
                match i {
                    $($idx => $T::accept(dt),)+
                    _ => None,
                }
            }
            fn describe_param(i: usize) -> String {
                match i {
                    $($idx => $T::describe(),)+
                    _ => String::new(),
                }
            }
            fn param_nullable(i: usize) -> bool {
                match i {
                    $($idx => $T::NULLABLE,)+
                    _ => false,
                }
            }
            #[allow(non_snake_case)]
            fn call_chunk(&self, columns: &[ArrayRef], ctx: &ChunkContext<'_>) -> Result<ArrayRef> {
                if columns.len() != $n {
                    return Err(Error::InvalidArgument(format!(
                        "apply '{}' got {} columns for a closure of {} parameters",
                        ctx.output, columns.len(), $n
                    )));
                }
                let rows = columns[0].len();
                $(
                    let $a = $T::bind(&columns[$idx])
                        .ok_or_else(|| internal_bind_error(ctx, $idx, &columns[$idx]))?;
                    if $a.len() != rows {
                        return Err(Error::InvalidArgument(format!(
                            "apply '{}': input columns have different lengths", ctx.output
                        )));
                    }
                )+
                let validity = required_validity(
                    &[$(($a.nulls(), $T::NULLABLE)),+],
                    ctx,
                )?;
                let mut out = <R::Builder as OutputBuilder<R>>::with_capacity(rows);
                // The loop runs under catch_unwind so that a panicking closure
                // becomes an error; the builder's length tells which row failed.
                let result = catch_user_panic(|| match &validity {
                    None => {
                        for i in 0..rows {
                            out.push(self(($($a.get(i),)+)));
                        }
                    }
                    Some(valid) => {
                        for i in 0..rows {
                            if valid.is_valid(i) {
                                out.push(self(($($a.get(i),)+)));
                            } else {
                                out.push_null();
                            }
                        }
                    }
                });
                match result {
                    Ok(()) => Ok(out.finish()),
                    Err(p) => Err(Error::UserCode {
                        column: ctx.output.to_string(),
                        row: ctx.row_offset + out.len() as u64,
                        message: panic_message(p.as_ref()),
                    }),
                }
            }
        }
    };
}

row_fn_tuple!(1; A a 0);
row_fn_tuple!(2; A a 0, B b 1);
row_fn_tuple!(3; A a 0, B b 1, C c 2);
row_fn_tuple!(4; A a 0, B b 1, C c 2, D d 3);
row_fn_tuple!(5; A a 0, B b 1, C c 2, D d 3, E e 4);
row_fn_tuple!(6; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5);
row_fn_tuple!(7; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6);
row_fn_tuple!(8; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7);
row_fn_tuple!(9; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7, I i_ 8);
row_fn_tuple!(10; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7, I i_ 8, J j 9);
row_fn_tuple!(11; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7, I i_ 8, J j 9, K k 10);
row_fn_tuple!(12; A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7, I i_ 8, J j 9, K k 10, L l 11);

/// Marker for one-parameter closures that take the value itself, not a 1-tuple.
pub struct Single<A>(std::marker::PhantomData<A>);

impl<Func, R, A> RowFn<(Single<A>, R)> for Func
where
    Func: Fn(A) -> R + Send + Sync + 'static,
    Func: for<'a> Fn(A::Item<'a>) -> R,
    A: ArgType,
    R: OutputValue,
{
    type Output = R;
    const ARITY: usize = 1;
    fn accept(i: usize, dt: &DataType) -> Option<DataType> {
        if i == 0 { A::accept(dt) } else { None }
    }
    fn describe_param(_i: usize) -> String {
        A::describe()
    }
    fn param_nullable(_i: usize) -> bool {
        A::NULLABLE
    }
    fn call_chunk(&self, columns: &[ArrayRef], ctx: &ChunkContext<'_>) -> Result<ArrayRef> {
        // Reuse the 1-tuple loop: the wrapper closure inlines away.
        let wrapped = |(a,): (A::Item<'_>,)| self(a);
        call_single::<A, R, _>(&wrapped, columns, ctx)
    }
}

fn call_single<A, R, W>(w: &W, columns: &[ArrayRef], ctx: &ChunkContext<'_>) -> Result<ArrayRef>
where
    A: ArgType,
    R: OutputValue,
    W: for<'a> Fn((A::Item<'a>,)) -> R,
{
    let Some(col) = columns.first() else {
        return Err(Error::InvalidArgument(format!(
            "apply '{}' got no column for a one-parameter closure",
            ctx.output
        )));
    };
    let rows = col.len();
    let a = A::bind(col).ok_or_else(|| internal_bind_error(ctx, 0, col))?;
    let validity = required_validity(&[(a.nulls(), A::NULLABLE)], ctx)?;
    let mut out = <R::Builder as OutputBuilder<R>>::with_capacity(rows);
    let result = catch_user_panic(|| match &validity {
        None => {
            for i in 0..rows {
                out.push(w((a.get(i),)));
            }
        }
        Some(valid) => {
            for i in 0..rows {
                if valid.is_valid(i) {
                    out.push(w((a.get(i),)));
                } else {
                    out.push_null();
                }
            }
        }
    });
    match result {
        Ok(()) => Ok(out.finish()),
        Err(p) => Err(Error::UserCode {
            column: ctx.output.to_string(),
            row: ctx.row_offset + out.len() as u64,
            message: panic_message(p.as_ref()),
        }),
    }
}

// ---------------------------------------------------------------------------
// Planning helpers

/// Checks the input columns' types against the closure's parameters and
/// returns, per input, the type to convert to (or `None` when the column is
/// used as is), plus the output field. Raised at plan time, so a wrong
/// closure fails before any data is read.
pub fn check_row_fn<M, F: RowFn<M>>(
    inputs: &[Field],
    output: &str,
) -> Result<(Vec<Option<DataType>>, Field)> {
    if inputs.len() != F::ARITY {
        return Err(Error::InvalidArgument(format!(
            "apply '{output}': {} input column(s) given ({}) but the closure takes {} parameter(s)",
            inputs.len(),
            inputs
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
            F::ARITY
        )));
    }
    let mut casts = Vec::with_capacity(inputs.len());
    let mut nullable_out = false;
    for (i, f) in inputs.iter().enumerate() {
        match F::accept(i, f.data_type()) {
            Some(t) if &t == f.data_type() => casts.push(None),
            Some(t) => casts.push(Some(t)),
            None => {
                return Err(Error::type_mismatch(
                    format!("apply '{output}'"),
                    format!(
                        "column '{}' is {} but parameter {} of the closure is {}; \
                         cast the column first",
                        f.name(),
                        f.data_type(),
                        i + 1,
                        F::describe_param(i)
                    ),
                ));
            }
        }
        if f.is_nullable() && !F::param_nullable(i) {
            nullable_out = true;
        }
    }
    let out_type = <F::Output as OutputValue>::data_type();
    // Outputs may hold nulls when declared Option<_> or when rows are skipped;
    // declaring every output nullable keeps chunks with and without nulls
    // under one schema.
    let _ = nullable_out;
    Ok((casts, Field::new(output, out_type, true)))
}

/// Runs a row closure over one batch, by column names: converts the inputs
/// as [`check_row_fn`] decides and returns the output column. The building
/// block of `apply` in plans; handy on its own for a single batch.
pub fn apply_to_batch<M, F: RowFn<M>>(
    batch: &RecordBatch,
    inputs: &[&str],
    output: &str,
    options: &RowOptions,
    f: &F,
) -> Result<ArrayRef> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(inputs.len());
    let mut cols = Vec::with_capacity(inputs.len());
    for name in inputs {
        let i = schema.index_of(name).map_err(|_| {
            parframe_common::column_not_found(
                name,
                schema.fields().iter().map(|f| f.name().as_str()),
            )
        })?;
        fields.push(schema.field(i).clone());
        cols.push(batch.column(i).clone());
    }
    let (casts, _) = check_row_fn::<M, F>(&fields, output)?;
    let cols = convert_inputs(cols, &casts)?;
    let names: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
    f.call_chunk(
        &cols,
        &ChunkContext {
            inputs: &names,
            output,
            row_offset: 0,
            options,
        },
    )
}

/// Converts input columns to the types a closure reads.
pub fn convert_inputs(cols: Vec<ArrayRef>, casts: &[Option<DataType>]) -> Result<Vec<ArrayRef>> {
    cols.into_iter()
        .zip(casts)
        .map(|(c, t)| match t {
            Some(t) => Ok(arrow_cast::cast(&c, t)?),
            None => Ok(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::table;
    use arrow_array::cast::AsArray;

    fn run<M, F: RowFn<M>>(t: &crate::Table, cols: &[&str], f: F) -> Result<ArrayRef> {
        apply_to_batch(&t.chunks()[0], cols, "out", &RowOptions::default(), &f)
    }

    /// Run by `user_panics_do_not_reach_the_panic_hook` in a child process.
    #[test]
    fn panic_probe() {
        if std::env::var_os("PARFRAME_PANIC_PROBE").is_none() {
            return;
        }
        let t = table!("x" => [1i64, 2, 3]).unwrap();
        let e = run(&t, &["x"], |x: i64| -> i64 {
            if x == 2 {
                panic!("boom-in-closure");
            }
            x
        })
        .unwrap_err();
        assert!(e.to_string().contains("boom-in-closure"), "{e}");
        let threads: Vec<_> = (0..3)
            .map(|_| std::thread::spawn(|| catch_user_panic(|| panic!("boom-in-pool")).is_err()))
            .collect();
        for t in threads {
            assert!(t.join().unwrap());
        }
        // Outside user code the hook still reports panics.
        let _ = std::panic::catch_unwind(|| panic!("boom-elsewhere"));
    }

    #[test]
    fn user_panics_do_not_reach_the_panic_hook() {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "row::tests::panic_probe",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("PARFRAME_PANIC_PROBE", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("boom-in-closure"), "{stderr}");
        assert!(!stderr.contains("boom-in-pool"), "{stderr}");
        assert!(stderr.contains("boom-elsewhere"), "{stderr}");
    }

    #[test]
    fn static_str_cow_and_option_outputs() {
        use std::borrow::Cow;
        let t = table!("x" => [Some(1i64), Some(20), None, Some(-3)]).unwrap();
        let strs = |a: &ArrayRef| -> Vec<Option<String>> {
            a.as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        };
        let label = |x: Option<i64>| match x {
            Some(x) if x > 10 => "big",
            Some(_) => "small",
            None => "none",
        };
        let out = run(&t, &["x"], label).unwrap();
        assert_eq!(out.data_type(), &DataType::Utf8);
        assert_eq!(
            strs(&out),
            ["small", "big", "none", "small"].map(|s| Some(s.to_string()))
        );
        let out = run(&t, &["x"], |x: Option<i64>| {
            x.map(|x| if x > 0 { "+" } else { "-" })
        })
        .unwrap();
        assert_eq!(
            strs(&out),
            vec![Some("+".into()), Some("+".into()), None, Some("-".into())]
        );
        let cow = |x: i64| -> Cow<'static, str> {
            if x > 10 {
                Cow::Borrowed("big")
            } else {
                Cow::Owned(format!("n={x}"))
            }
        };
        let opts = RowOptions::default().skip_nulls(true);
        let out = apply_to_batch(&t.chunks()[0], &["x"], "out", &opts, &cow).unwrap();
        assert_eq!(
            strs(&out),
            vec![
                Some("n=1".into()),
                Some("big".into()),
                None,
                Some("n=-3".into())
            ]
        );
        let out = run(&t, &["x"], |x: Option<i64>| -> Option<Cow<'static, str>> {
            x.filter(|x| *x > 0).map(|x| Cow::Owned(x.to_string()))
        })
        .unwrap();
        assert_eq!(
            strs(&out),
            vec![Some("1".into()), Some("20".into()), None, None]
        );
    }

    #[test]
    fn dates_timestamps_durations_and_decimals() {
        use arrow_array::{
            Date32Array, Decimal128Array, DurationMillisecondArray, TimestampNanosecondArray,
        };
        use chrono::{Datelike, NaiveDate, TimeDelta, Timelike};
        let days: ArrayRef = Arc::new(Date32Array::from(vec![Some(19_782), None, Some(0)]));
        let ts: ArrayRef = Arc::new(
            TimestampNanosecondArray::from(vec![Some(1_370_080_800_123_456_789), Some(0), None])
                .with_timezone("Europe/Oslo"),
        );
        let dur: ArrayRef = Arc::new(DurationMillisecondArray::from(vec![1_500, -2, 0]));
        let dec: ArrayRef = Arc::new(
            Decimal128Array::from(vec![1234, -5, 0])
                .with_precision_and_scale(6, 2)
                .unwrap(),
        );
        let batch =
            RecordBatch::try_from_iter([("d", days), ("t", ts), ("u", dur), ("m", dec)]).unwrap();
        let t = crate::Table::from_batches(vec![batch]).unwrap();
        // Dates in and out: the next day, nulls staying null.
        let out = run(&t, &["d"], |d: Option<NaiveDate>| {
            d.map(|d| d.succ_opt().unwrap_or(d))
        })
        .unwrap();
        assert_eq!(out.data_type(), &DataType::Date32);
        let v: Vec<_> = out.as_primitive::<Date32Type>().iter().collect();
        assert_eq!(v, vec![Some(19_783), None, Some(1)]);
        // Zoned nanosecond timestamps arrive as exact instants.
        let out = run(&t, &["t"], |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| i64::from(t.hour()) * 1_000_000_000 + i64::from(t.nanosecond()))
        })
        .unwrap();
        let v: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(
            v,
            vec![Some(10 * 1_000_000_000 + 123_456_789), Some(0), None]
        );
        let out = run(&t, &["t"], |t: Option<chrono::DateTime<chrono::Utc>>| t).unwrap();
        assert_eq!(
            out.data_type(),
            &DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into()))
        );
        let out = run(&t, &["u"], |u: TimeDelta| u.num_milliseconds() * 2).unwrap();
        let v: Vec<_> = out.as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(v, vec![3_000, -4, 0]);
        // Decimals as unscaled i128 (scale 2 here).
        let out = run(&t, &["m", "d"], |(m, d): (i128, Option<NaiveDate>)| {
            (m as i64) * 10 + i64::from(d.map_or(0, |d| d.month()))
        })
        .unwrap();
        let v: Vec<_> = out.as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(v, vec![12_342, -50, 1]); // day 19,782 is 2024-02-29
        // A date column for an f64 parameter is still a type error.
        let e = run(&t, &["d"], |x: f64| x).unwrap_err().to_string();
        assert!(e.contains("Date32"), "{e}");
    }

    #[test]
    fn four_f64_columns() {
        let t = table!("a" => [1.0, 2.0], "b" => [3.0, 4.0], "c" => [5.0, 6.0], "d" => [7.0, 8.0])
            .unwrap();
        let out = run(
            &t,
            &["a", "b", "c", "d"],
            |(a, b, c, d): (f64, f64, f64, f64)| a + b * c - d,
        )
        .unwrap();
        assert_eq!(
            out.as_primitive::<Float64Type>().values().to_vec(),
            vec![9.0, 18.0]
        );
    }

    #[test]
    fn strings_in_and_out() {
        let t = table!("s" => ["ab", "cde"], "n" => [1i32, 2]).unwrap();
        let out = run(&t, &["s", "n"], |(s, n): (&str, i64)| s.repeat(n as usize)).unwrap();
        let v: Vec<_> = out.as_string::<i32>().iter().flatten().collect();
        assert_eq!(v, vec!["ab", "cdecde"]);
        let single = run(&t, &["s"], |s: &str| s.len() as u32).unwrap();
        assert_eq!(
            single.as_primitive::<UInt32Type>().values().to_vec(),
            vec![2, 3]
        );
    }

    #[test]
    fn option_params_and_outputs() {
        let t = table!("x" => vec![Some(1i64), None, Some(3)]).unwrap();
        let out = run(&t, &["x"], |x: Option<i64>| x.map(|v| v * 10)).unwrap();
        let p = out.as_primitive::<Int64Type>();
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![Some(10), None, Some(30)]);
    }

    #[test]
    fn null_in_non_option_param_is_an_error_or_skipped() {
        let t = table!("x" => vec![Some(1i64), None, Some(3)]).unwrap();
        let err = run(&t, &["x"], |x: i64| x + 1).unwrap_err().to_string();
        assert!(err.contains("column 'x' has a null at row 1"), "{err}");
        let out = apply_to_batch(
            &t.chunks()[0],
            &["x"],
            "out",
            &RowOptions::default().skip_nulls(true),
            &|x: i64| x + 1,
        )
        .unwrap();
        let p = out.as_primitive::<Int64Type>();
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![Some(2), None, Some(4)]);
    }

    #[test]
    fn widening_and_type_errors() {
        let t = table!("i" => [1i32, 2], "s" => ["a", "b"], "f" => [1.5f64, 2.5]).unwrap();
        let out = run(&t, &["i"], |x: f64| x / 2.0).unwrap();
        assert_eq!(
            out.as_primitive::<Float64Type>().values().to_vec(),
            vec![0.5, 1.0]
        );
        let err = run(&t, &["s"], |x: f64| x).unwrap_err().to_string();
        assert!(
            err.contains("column 's' is Utf8 but parameter 1 of the closure is f64"),
            "{err}"
        );
        let err = run(&t, &["f"], |x: i32| x).unwrap_err().to_string();
        assert!(err.contains("Float64"), "{err}");
        let err = run(&t, &["i", "f"], |x: i32| x).unwrap_err().to_string();
        assert!(err.contains("2 input column(s) given (i, f)"), "{err}");
    }

    #[test]
    fn panic_becomes_error_with_row() {
        let t = table!("x" => [1i64, 2, 3, 4]).unwrap();
        let err = run(&t, &["x"], |x: i64| {
            assert!(x != 3, "three is not allowed");
            x
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "user code failed while computing 'out' at row 2: three is not allowed"
        );
    }

    #[test]
    fn bools_and_many_columns() {
        let t = table!(
            "a" => [1u8], "b" => [2u16], "c" => [3u32], "d" => [4u64], "e" => [5i8],
            "f" => [6i16], "g" => [7i32], "h" => [8i64], "i" => [true]
        )
        .unwrap();
        let out = run(
            &t,
            &["a", "b", "c", "d", "e", "f", "g", "h", "i"],
            |(a, b, c, d, e, f, g, h, i): (u8, u16, u32, u64, i8, i16, i32, i64, bool)| {
                i && (a as u64 + b as u64 + c as u64 + d) as i64
                    + (e as i64 + f as i64 + g as i64 + h)
                    == 36
            },
        )
        .unwrap();
        assert!(out.as_boolean().value(0));
    }
}
