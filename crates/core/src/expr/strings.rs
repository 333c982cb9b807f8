//! String kernels that arrow-string does not provide.
//!
//! * Case mapping: arrow-string (60.1) has no lower/upper kernel — in the
//!   Arrow ecosystem they live in DataFusion's function library, which is far
//!   too heavy a dependency for two functions — so they are implemented here
//!   by iterating the string array. All-ASCII data (the common case) takes a
//!   fast path that case-maps the value bytes in one pass and reuses the
//!   offsets and null buffer; anything else goes value by value through
//!   Rust's full Unicode mapping (`str::to_lowercase`), which handles
//!   length-changing cases such as `ß` → `SS` and the final sigma.
//! * Length in characters: `arrow_string::length::length` counts bytes, so it
//!   is only used when the data is ASCII (bytes = characters); otherwise
//!   characters are counted value by value.

use std::sync::Arc;

use arrow_array::builder::{GenericStringBuilder, StringViewBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, GenericStringArray, OffsetSizeTrait, PrimitiveArray,
};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType};

/// The bytes of all values of `s` (from the first offset to the last).
fn value_bytes<O: OffsetSizeTrait>(s: &GenericStringArray<O>) -> (usize, &[u8]) {
    let offsets = s.value_offsets();
    let first = offsets.first().map_or(0, |o| o.as_usize());
    let last = offsets.last().map_or(0, |o| o.as_usize());
    (first, &s.value_data()[first..last])
}

/// The number of characters of each string (Int32, Int64 for LargeUtf8).
pub(super) fn char_length(a: &dyn Array) -> Result<ArrayRef, ArrowError> {
    match a.data_type() {
        DataType::Utf8 => generic_char_length::<i32, Int32Type>(a.as_string::<i32>()),
        DataType::LargeUtf8 => generic_char_length::<i64, Int64Type>(a.as_string::<i64>()),
        DataType::Utf8View => {
            let s = a.as_string_view();
            let counts: Vec<i32> = (0..s.len())
                .map(|i| s.value(i).chars().count() as i32)
                .collect();
            Ok(Arc::new(PrimitiveArray::<Int32Type>::new(
                counts.into(),
                s.nulls().cloned(),
            )))
        }
        other => Err(ArrowError::InvalidArgumentError(format!(
            "str_len needs a string array, got {other}"
        ))),
    }
}

fn generic_char_length<O, P>(s: &GenericStringArray<O>) -> Result<ArrayRef, ArrowError>
where
    O: OffsetSizeTrait,
    P: ArrowPrimitiveType<Native = O>,
{
    if value_bytes(s).1.is_ascii() {
        return arrow_string::length::length(s);
    }
    let counts: Vec<O> = (0..s.len())
        .map(|i| O::usize_as(s.value(i).chars().count()))
        .collect();
    Ok(Arc::new(PrimitiveArray::<P>::new(
        counts.into(),
        s.nulls().cloned(),
    )))
}

/// Each string in upper (`upper`) or lower case; same string type out.
pub(super) fn change_case(a: &dyn Array, upper: bool) -> Result<ArrayRef, ArrowError> {
    match a.data_type() {
        DataType::Utf8 => generic_change_case(a.as_string::<i32>(), upper),
        DataType::LargeUtf8 => generic_change_case(a.as_string::<i64>(), upper),
        DataType::Utf8View => {
            let s = a.as_string_view();
            let mut out = StringViewBuilder::with_capacity(s.len());
            let mut buf = String::new();
            for v in s.iter() {
                match v {
                    Some(v) => out.append_value(convert(v, upper, &mut buf)),
                    None => out.append_null(),
                }
            }
            Ok(Arc::new(out.finish()))
        }
        other => Err(ArrowError::InvalidArgumentError(format!(
            "{} needs a string array, got {other}",
            if upper { "upper" } else { "lower" }
        ))),
    }
}

fn generic_change_case<O: OffsetSizeTrait>(
    s: &GenericStringArray<O>,
    upper: bool,
) -> Result<ArrayRef, ArrowError> {
    let (first, bytes) = value_bytes(s);
    if bytes.is_ascii() {
        // ASCII case mapping keeps every byte length, so the offsets (rebased
        // to 0 for a sliced array) and the null buffer carry over.
        let mut values = bytes.to_vec();
        if upper {
            values.make_ascii_uppercase();
        } else {
            values.make_ascii_lowercase();
        }
        let offsets = if first == 0 {
            s.offsets().clone()
        } else {
            let rebased: Vec<O> = s
                .value_offsets()
                .iter()
                .map(|o| O::usize_as(o.as_usize() - first))
                .collect();
            OffsetBuffer::new(ScalarBuffer::from(rebased))
        };
        let out = GenericStringArray::<O>::try_new(
            offsets,
            Buffer::from_vec(values),
            s.nulls().cloned(),
        )?;
        return Ok(Arc::new(out));
    }
    let mut out = GenericStringBuilder::<O>::with_capacity(s.len(), bytes.len());
    let mut buf = String::new();
    for v in s.iter() {
        match v {
            Some(v) => out.append_value(convert(v, upper, &mut buf)),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `v` case-mapped into `buf`, allocating only for non-ASCII values.
fn convert<'a>(v: &str, upper: bool, buf: &'a mut String) -> &'a str {
    if v.is_ascii() {
        buf.clear();
        buf.push_str(v);
        if upper {
            buf.make_ascii_uppercase();
        } else {
            buf.make_ascii_lowercase();
        }
    } else if upper {
        *buf = v.to_uppercase();
    } else {
        *buf = v.to_lowercase();
    }
    buf.as_str()
}
