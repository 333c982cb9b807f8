//! `expr IN (literal, ...)`: the set of literals built once per operator,
//! and membership of a chunk's rows in it.
//!
//! arrow-rs has no `IN` kernel, so this one is written here. Three ways to
//! probe, chosen by the input's type and the list's length when the
//! expression is prepared:
//! - [`Probe::Compare`]: a short list (the usual SQL `IN ('MAIL', 'SHIP')`)
//!   is one vectorized `arrow_ord::cmp::eq` per literal, or-ed together.
//!   For a handful of literals that beats hashing every row.
//! - [`Probe::Bytes`]: a longer list of strings, binaries or fixed-width
//!   values (integers, floats, decimals, dates, times, timestamps,
//!   durations, intervals) is a hash set of each literal's bytes. A row is
//!   looked up by its own bytes, read in place from the array's buffers.
//! - [`Probe::Rows`]: any other type (lists, structs, booleans) goes through
//!   arrow-row bytes.
//!
//! Equality is arrow's (`cmp::eq`): floats compare by their total order,
//! so `NaN` is in a list holding `NaN` and `-0.0` is not `0.0`. The byte
//! and row probes agree with it, as the proptest in `tests_types.rs`
//! checks. SQL's three-valued logic: a null row gives null, and a row not
//! found gives null when the list holds a null.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, Scalar, new_null_array};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::DataType;
use hashbrown::HashSet;
use parframe_common::{Error, Result};

use super::plan::is_comparable;

/// Lists up to this long of fixed-width values compare literal by literal
/// (a SIMD pass each) instead of hashing every row.
const COMPARE_FIXED: usize = 16;
/// Lists up to this long of strings or binaries compare literal by literal.
const COMPARE_BYTES: usize = 8;

/// The literals of an `IN` list, prepared for the input's type.
#[derive(Debug)]
pub(super) struct InSet {
    probe: Probe,
    /// The list holds a null (a row not found is then null, not false).
    has_null: bool,
}

#[derive(Debug)]
enum Probe {
    /// One literal each, as a one-row array of the probed type.
    Compare(Vec<Scalar<ArrayRef>>),
    /// The literals' bytes as [`row_bytes`] reads a row's.
    Bytes(HashSet<Box<[u8]>>),
    /// The literals' arrow-row bytes.
    Rows {
        converter: arrow_row::RowConverter,
        rows: HashSet<Box<[u8]>>,
    },
}

/// How a row's bytes are read in place, by type.
#[derive(Clone, Copy)]
enum Layout {
    /// Strings or binaries.
    Var(Var),
    /// Fixed-width values of this many bytes (primitive or fixed-size binary).
    Fixed(usize),
}

/// The layouts of strings and binaries.
#[derive(Clone, Copy)]
enum Var {
    /// `Utf8`/`Binary` (32-bit offsets).
    Offsets32,
    /// `LargeUtf8`/`LargeBinary`.
    Offsets64,
    /// `Utf8View`/`BinaryView`.
    View,
}

fn layout(t: &DataType) -> Option<Layout> {
    match t {
        DataType::Utf8 | DataType::Binary => Some(Layout::Var(Var::Offsets32)),
        DataType::LargeUtf8 | DataType::LargeBinary => Some(Layout::Var(Var::Offsets64)),
        DataType::Utf8View | DataType::BinaryView => Some(Layout::Var(Var::View)),
        DataType::FixedSizeBinary(w) => usize::try_from(*w).ok().map(Layout::Fixed),
        // Booleans are bit-packed: no byte width.
        t if t.is_primitive() => t.primitive_width().map(Layout::Fixed),
        _ => None,
    }
}

impl InSet {
    /// The set of `values` (non-null literals, each a one-row array of the
    /// input's type `t`).
    pub(super) fn try_new(t: &DataType, values: &[ArrayRef], has_null: bool) -> Result<InSet> {
        let values = values.to_vec();
        let short = match layout(t) {
            Some(Layout::Fixed(_)) => values.len() <= COMPARE_FIXED,
            _ => values.len() <= COMPARE_BYTES,
        };
        let probe = if t == &DataType::Null {
            // Every row is null: nothing to probe (see `eval`).
            Probe::Compare(vec![])
        } else if is_comparable(t) && (short || layout(t).is_none()) {
            Probe::Compare(values.into_iter().map(Scalar::new).collect())
        } else if let Some(l) = layout(t) {
            let mut set = HashSet::with_capacity(values.len());
            for v in &values {
                if v.len() != 1 {
                    return Err(Error::InvalidArgument(
                        "internal: an IN literal is not one value".into(),
                    ));
                }
                let bytes: Box<[u8]> = match l {
                    Layout::Fixed(w) => fixed_values(&v.to_data(), w)?.into(),
                    Layout::Var(l) => var_values(v.as_ref(), l)(0).into(),
                };
                set.insert(bytes);
            }
            Probe::Bytes(set)
        } else {
            let converter =
                arrow_row::RowConverter::new(vec![arrow_row::SortField::new(t.clone())])?;
            let mut rows = HashSet::with_capacity(values.len());
            if !values.is_empty() {
                let refs: Vec<&dyn Array> = values.iter().map(|a| a.as_ref()).collect();
                let all = arrow_select::concat::concat(&refs)?;
                for row in converter.convert_columns(&[all])?.iter() {
                    rows.insert(Box::from(row.as_ref()));
                }
            }
            Probe::Rows { converter, rows }
        };
        Ok(InSet { probe, has_null })
    }

    /// Membership of each row of `a`, negated when `negated`.
    pub(super) fn eval(&self, a: &dyn Array, negated: bool) -> Result<ArrayRef> {
        if a.data_type() == &DataType::Null {
            return Ok(new_null_array(&DataType::Boolean, a.len()));
        }
        let found = self.found(a)?;
        let values = if negated { !&found } else { found.clone() };
        let nulls = if self.has_null {
            NullBuffer::union(a.logical_nulls().as_ref(), Some(&NullBuffer::new(found)))
        } else {
            a.logical_nulls()
        };
        Ok(Arc::new(BooleanArray::new(values, nulls)))
    }

    /// Whether each row's value is one of the literals (any bit for a null
    /// row).
    fn found(&self, a: &dyn Array) -> Result<BooleanBuffer> {
        let len = a.len();
        match &self.probe {
            Probe::Compare(lits) => {
                let mut acc = BooleanBuffer::new_unset(len);
                for l in lits {
                    let eq = arrow_ord::cmp::eq(&a, l)?;
                    acc = &acc | eq.values();
                }
                Ok(acc)
            }
            Probe::Bytes(set) => match layout(a.data_type()) {
                Some(Layout::Fixed(w)) => {
                    let data = a.to_data();
                    let values = fixed_values(&data, w)?;
                    Ok(BooleanBuffer::collect_bool(len, |i| {
                        set.contains(&values[i * w..(i + 1) * w])
                    }))
                }
                Some(Layout::Var(l)) => {
                    let value = var_values(a, l);
                    Ok(BooleanBuffer::collect_bool(len, |i| set.contains(value(i))))
                }
                None => Err(Error::InvalidArgument(format!(
                    "internal: IN planned for bytes, probed with {}",
                    a.data_type()
                ))),
            },
            Probe::Rows { converter, rows } => {
                let r = converter.convert_columns(&[arrow_array::make_array(a.to_data())])?;
                Ok(BooleanBuffer::collect_bool(len, |i| {
                    rows.contains(r.row(i).as_ref())
                }))
            }
        }
    }
}

/// The bytes of each row of `a` (of layout `l`), read in place; the array
/// is downcast once, not per row.
fn var_values<'a>(a: &'a dyn Array, l: Var) -> Box<dyn Fn(usize) -> &'a [u8] + 'a> {
    match l {
        Var::Offsets32 => match a.as_string_opt::<i32>() {
            Some(s) => Box::new(move |i| s.value(i).as_bytes()),
            None => {
                let b = a.as_binary::<i32>();
                Box::new(move |i| b.value(i))
            }
        },
        Var::Offsets64 => match a.as_string_opt::<i64>() {
            Some(s) => Box::new(move |i| s.value(i).as_bytes()),
            None => {
                let b = a.as_binary::<i64>();
                Box::new(move |i| b.value(i))
            }
        },
        Var::View => match a.as_string_view_opt() {
            Some(s) => Box::new(move |i| s.value(i).as_bytes()),
            None => {
                let b = a.as_binary_view();
                Box::new(move |i| b.value(i))
            }
        },
    }
}

/// The values of a primitive or fixed-size binary array of `w`-byte
/// values, back to back from its offset (its first buffer).
fn fixed_values(data: &arrow_data::ArrayData, w: usize) -> Result<&[u8]> {
    let start = data.offset() * w;
    data.buffers()
        .first()
        .and_then(|b| b.as_slice().get(start..start + data.len() * w))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "internal: a {} array's values are shorter than {} rows",
                data.data_type(),
                data.len()
            ))
        })
}
