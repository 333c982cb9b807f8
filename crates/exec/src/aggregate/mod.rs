//! Hash aggregation: the per-group states behind [`AggState`] (one file per
//! aggregate), the groupers that turn key columns into dense group ids, and
//! the driver that folds chunks into per-thread partials and merges them.
//!
//! # Nulls and NaN
//! Null values are skipped by every aggregate except `count_rows`; a group
//! with no non-null value gives null (also for `sum`). NaN follows IEEE in
//! `sum`, `mean`, `var`, `std` and `corr` (it propagates); `min`/`max` skip
//! NaN unless a group holds only NaN (then NaN); `median`, `quantile` and
//! `top_k`/`bottom_k` order NaN above every number (`f64::total_cmp`);
//! `n_unique` counts all NaN as one value and `-0.0` equal to `0.0`.
//!
//! # State layout
//! Every state keeps plain per-group vectors (counts, sums, values) and
//! moves as Arrow arrays of one row per group ([`AggState::to_arrow`],
//! [`AggState::merge_arrow`]; holistic states as list arrays). Partials
//! are merged per hash partition in parallel through that form, and spilled
//! in it when the memory pool is full (see [`partitioned`]).

use std::cmp::Ordering;
use std::hash::Hash;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, Decimal128Array, Float64Array, Int64Array, ListArray, StringArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field};
use parframe_common::{Error, Result};

mod corr;
mod count;
mod first_last;
pub(crate) mod groups;
pub(crate) mod mean;
mod min_max;
mod multi_grouper;
mod n_unique;
pub(crate) mod partitioned;
mod quantile;
pub(crate) mod run;
mod str_grouper;
mod sum;
mod top_k;
mod var;

pub(crate) use parframe_plan::agg::AggFunc;

/// Where the rows of an update come from, for order-sensitive aggregates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpdateCtx {
    /// Position of the chunk's first row in input order (comparable across
    /// chunks and threads; not necessarily a row number).
    pub row_base: u64,
}

/// The state of one aggregate over all groups of a partial aggregation.
///
/// Group ids are dense `0..num_groups`; `update` and `merge_arrow` are told
/// the current number of groups and grow their vectors to it. A state is
/// moved between partials (and to spill files) as Arrow arrays with one row
/// per group ([`AggState::to_arrow`]), so partitions of it can be merged in
/// parallel or written out and merged back later.
pub(crate) trait AggState: Send {
    /// Folds one chunk: `args` are the aggregate's input columns and
    /// `groups[i]` the group of row `i`.
    fn update(
        &mut self,
        args: &[ArrayRef],
        groups: &[u32],
        num_groups: usize,
        ctx: UpdateCtx,
    ) -> Result<()>;
    /// The state as arrays of one row per group (in group id order); the
    /// column count and types depend only on the aggregate and its input
    /// types, not on the data.
    fn to_arrow(self: Box<Self>, num_groups: usize) -> Result<Vec<ArrayRef>>;
    /// Merges state rows from [`AggState::to_arrow`] of another partial of
    /// the same aggregate: row `i` of `cols` goes into group `mapping[i]`.
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], num_groups: usize) -> Result<()>;
    /// The result, one value per group.
    fn finish(self: Box<Self>, num_groups: usize) -> Result<ArrayRef>;
    /// Bytes held, estimated from vector capacities (for the memory pool).
    fn size(&self) -> usize;
}

/// The `i`-th state column, or an internal error naming the aggregate.
pub(crate) fn state_col<'a>(cols: &'a [ArrayRef], i: usize, what: &str) -> Result<&'a ArrayRef> {
    cols.get(i).ok_or_else(|| {
        Error::InvalidArgument(format!("internal: {what} state is missing column {i}"))
    })
}

/// A list array (no null lists) of `values` cut into runs of `lens`.
pub(crate) fn list_of(values: ArrayRef, lens: Vec<usize>) -> Result<ArrayRef> {
    let field = Arc::new(Field::new("item", values.data_type().clone(), true));
    let list = ListArray::try_new(field, OffsetBuffer::from_lengths(lens), values, None)
        .map_err(Error::from)?;
    Ok(Arc::new(list))
}

/// The child values of a list state column (only the part the rows use)
/// and each row's range in them.
pub(crate) fn list_parts(a: &ArrayRef) -> Result<(ArrayRef, Vec<std::ops::Range<usize>>)> {
    let l = a
        .as_list_opt::<i32>()
        .ok_or_else(|| Error::InvalidArgument("internal: list state column expected".into()))?;
    let offs = l.value_offsets();
    let base = offs.first().copied().unwrap_or(0) as usize;
    let end = offs.last().copied().unwrap_or(0) as usize;
    let child = l.values().slice(base, end - base);
    let ranges = offs
        .windows(2)
        .map(|w| (w[0] as usize - base)..(w[1] as usize - base))
        .collect();
    Ok((child, ranges))
}

// The value families and type rules live with the aggregate expressions
// in `parframe-plan` (plans type-check aggregates when they are built).
pub(crate) use parframe_plan::agg::{KindTag, kind_of};

/// A value family: how to read its values from a chunk and build an array
/// of results of the input column's type.
pub(crate) trait Kind: Send + Sync + 'static {
    /// An owned value.
    type Native: Clone + Send + Sync + Hash + Eq + 'static;
    /// Reads the column as this family.
    fn read(arr: &ArrayRef) -> Result<ArrayRef>;
    /// Calls `f(row, value)` for every non-null row of an array from `read`.
    fn for_each(arr: &ArrayRef, f: impl FnMut(usize, &Self::Native));
    /// A total order (NaN above all numbers).
    fn cmp(a: &Self::Native, b: &Self::Native) -> Ordering;
    /// Whether the value is NaN.
    fn is_nan(_v: &Self::Native) -> bool {
        false
    }
    /// Builds an array of `dt` from results.
    fn build(vals: Vec<Option<Self::Native>>, dt: &DataType) -> Result<ArrayRef>;
    /// The Arrow type of [`Kind::read`]'s output (no cast needed to build it).
    fn native_type() -> DataType;
    /// Every value of `arr` (any type [`Kind::read`] accepts), nulls included.
    fn values(arr: &ArrayRef) -> Result<Vec<Option<Self::Native>>>;
    /// Heap bytes a value owns beyond its inline size.
    fn heap_size(_v: &Self::Native) -> usize {
        0
    }
}

/// Casts `arr` to `to` unless it already is.
pub(crate) fn cast_to(arr: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if arr.data_type() == to {
        Ok(arr.clone())
    } else {
        Ok(arrow_cast::cast(arr, to)?)
    }
}

/// Integers and friends, as `i64`.
pub(crate) struct IntKind;
impl Kind for IntKind {
    type Native = i64;
    fn read(arr: &ArrayRef) -> Result<ArrayRef> {
        cast_to(arr, &DataType::Int64)
    }
    fn for_each(arr: &ArrayRef, mut f: impl FnMut(usize, &i64)) {
        let a = arr.as_primitive::<Int64Type>();
        let v = a.values();
        match a.nulls().filter(|n| n.null_count() > 0) {
            None => v.iter().enumerate().for_each(|(i, x)| f(i, x)),
            Some(n) => n.valid_indices().for_each(|i| f(i, &v[i])),
        }
    }
    fn cmp(a: &i64, b: &i64) -> Ordering {
        a.cmp(b)
    }
    fn build(vals: Vec<Option<i64>>, dt: &DataType) -> Result<ArrayRef> {
        cast_to(&(Arc::new(Int64Array::from(vals)) as ArrayRef), dt)
    }
    fn native_type() -> DataType {
        DataType::Int64
    }
    fn values(arr: &ArrayRef) -> Result<Vec<Option<i64>>> {
        Ok(Self::read(arr)?
            .as_primitive::<Int64Type>()
            .iter()
            .collect())
    }
}

/// An `f64` with bitwise equality (NaN equal to NaN, -0.0 equal to 0.0), so
/// floats can be hashed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct F64(pub f64);
impl F64 {
    fn key(self) -> u64 {
        if self.0.is_nan() {
            f64::NAN.to_bits()
        } else if self.0 == 0.0 {
            0
        } else {
            self.0.to_bits()
        }
    }
}
impl PartialEq for F64 {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}
impl Eq for F64 {}
impl Hash for F64 {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.key().hash(h)
    }
}

/// Floats, as `f64`.
pub(crate) struct FloatKind;
impl Kind for FloatKind {
    type Native = F64;
    fn read(arr: &ArrayRef) -> Result<ArrayRef> {
        cast_to(arr, &DataType::Float64)
    }
    fn for_each(arr: &ArrayRef, mut f: impl FnMut(usize, &F64)) {
        let a = arr.as_primitive::<Float64Type>();
        let v = a.values();
        match a.nulls().filter(|n| n.null_count() > 0) {
            None => v.iter().enumerate().for_each(|(i, x)| f(i, &F64(*x))),
            Some(n) => n.valid_indices().for_each(|i| f(i, &F64(v[i]))),
        }
    }
    fn cmp(a: &F64, b: &F64) -> Ordering {
        a.0.total_cmp(&b.0)
    }
    fn is_nan(v: &F64) -> bool {
        v.0.is_nan()
    }
    fn build(vals: Vec<Option<F64>>, dt: &DataType) -> Result<ArrayRef> {
        let a: Float64Array = vals.into_iter().map(|v| v.map(|x| x.0)).collect();
        cast_to(&(Arc::new(a) as ArrayRef), dt)
    }
    fn native_type() -> DataType {
        DataType::Float64
    }
    fn values(arr: &ArrayRef) -> Result<Vec<Option<F64>>> {
        Ok(Self::read(arr)?
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map(F64))
            .collect())
    }
}

/// Strings, as owned `String`s (results only: inputs are read in place).
pub(crate) struct StrKind;
impl Kind for StrKind {
    type Native = String;
    fn read(arr: &ArrayRef) -> Result<ArrayRef> {
        cast_to(arr, &DataType::Utf8)
    }
    fn for_each(arr: &ArrayRef, mut f: impl FnMut(usize, &String)) {
        // Owned per row: string aggregates are not on the hot path.
        let a = arr.as_string::<i32>();
        for (i, v) in a.iter().enumerate() {
            if let Some(s) = v {
                f(i, &s.to_string());
            }
        }
    }
    fn cmp(a: &String, b: &String) -> Ordering {
        a.cmp(b)
    }
    fn build(vals: Vec<Option<String>>, dt: &DataType) -> Result<ArrayRef> {
        let a: StringArray = vals.into_iter().collect();
        cast_to(&(Arc::new(a) as ArrayRef), dt)
    }
    fn native_type() -> DataType {
        DataType::Utf8
    }
    fn values(arr: &ArrayRef) -> Result<Vec<Option<String>>> {
        Ok(Self::read(arr)?
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    }
    fn heap_size(v: &String) -> usize {
        v.capacity()
    }
}

/// Decimal128 values as `i128` (min, max, first, last, n_unique, top_k
/// keep the column's precision and scale).
pub(crate) struct DecimalKind;
impl Kind for DecimalKind {
    type Native = i128;
    fn read(arr: &ArrayRef) -> Result<ArrayRef> {
        match arr.data_type() {
            DataType::Decimal128(_, _) => Ok(arr.clone()),
            other => Err(Error::InvalidArgument(format!(
                "internal: expected Decimal128 values, got {other}"
            ))),
        }
    }
    fn for_each(arr: &ArrayRef, mut f: impl FnMut(usize, &i128)) {
        let Some(a) = arr.as_primitive_opt::<Decimal128Type>() else {
            return;
        };
        let v = a.values();
        match a.nulls().filter(|n| n.null_count() > 0) {
            None => v.iter().enumerate().for_each(|(i, x)| f(i, x)),
            Some(n) => n.valid_indices().for_each(|i| f(i, &v[i])),
        }
    }
    fn cmp(a: &i128, b: &i128) -> Ordering {
        a.cmp(b)
    }
    fn build(vals: Vec<Option<i128>>, dt: &DataType) -> Result<ArrayRef> {
        let a = Decimal128Array::from(vals);
        let a = match dt {
            DataType::Decimal128(p, s) => a.with_precision_and_scale(*p, *s)?,
            _ => a,
        };
        Ok(Arc::new(a))
    }
    fn native_type() -> DataType {
        DataType::Decimal128(38, 0)
    }
    fn values(arr: &ArrayRef) -> Result<Vec<Option<i128>>> {
        Ok(Self::read(arr)?
            .as_primitive::<Decimal128Type>()
            .iter()
            .collect())
    }
}

/// Reads any numeric column as `f64` values: calls `f(row, x)` for non-null rows.
pub(crate) fn for_each_f64(arr: &ArrayRef, mut f: impl FnMut(usize, f64)) -> Result<()> {
    let a = FloatKind::read(arr)?;
    FloatKind::for_each(&a, |i, v| f(i, v.0));
    Ok(())
}

/// Grows `v` to `n` entries of `fill`.
pub(crate) fn grow<T: Clone>(v: &mut Vec<T>, n: usize, fill: T) {
    if v.len() < n {
        v.resize(n, fill);
    }
}

/// Builds the state of one aggregate for input columns of the given types.
pub(crate) fn new_state(func: &AggFunc, arg_types: &[DataType]) -> Result<Box<dyn AggState>> {
    let first = arg_types.first().cloned().unwrap_or(DataType::Null);
    let kind = kind_of(&first);
    let unsupported = || {
        Error::type_mismatch(
            func.to_string(),
            format!("{} does not support a {first} column", func.name()),
        )
    };
    let decimal = matches!(first, DataType::Decimal128(_, _));
    if decimal {
        match func {
            AggFunc::Sum(c) => {
                let scale = match first {
                    DataType::Decimal128(_, s) => s,
                    _ => 0,
                };
                return Ok(Box::new(sum::DecimalSumState::new(c.clone(), scale)));
            }
            AggFunc::Mean(c) => {
                let scale = match first {
                    DataType::Decimal128(_, s) => s,
                    _ => 0,
                };
                return Ok(Box::new(mean::DecimalMeanState::new(c.clone(), scale)));
            }
            AggFunc::Min(_) | AggFunc::Max(_) => {
                let is_max = matches!(func, AggFunc::Max(_));
                return Ok(Box::new(min_max::MinMaxState::<DecimalKind>::new(
                    is_max, first,
                )));
            }
            AggFunc::First(_) | AggFunc::Last(_) => {
                let last = matches!(func, AggFunc::Last(_));
                return Ok(Box::new(first_last::FirstLastState::<DecimalKind>::new(
                    last, first,
                )));
            }
            AggFunc::NUnique(_) => {
                return Ok(Box::new(n_unique::NUniqueState::<DecimalKind>::default()));
            }
            AggFunc::TopK(_, k) | AggFunc::BottomK(_, k) => {
                let top = matches!(func, AggFunc::TopK(..));
                return Ok(Box::new(top_k::TopKState::<DecimalKind>::new(
                    *k, top, first,
                )));
            }
            _ => {}
        }
    }
    Ok(match func {
        AggFunc::CountRows => Box::new(count::CountState::rows()),
        AggFunc::Count(_) => Box::new(count::CountState::non_null()),
        AggFunc::Sum(c) => match kind {
            Some(KindTag::Int) if first != DataType::Boolean => {
                Box::new(sum::IntSumState::new(c.clone()))
            }
            Some(KindTag::Float) => Box::new(sum::FloatSumState::default()),
            _ => return Err(unsupported()),
        },
        AggFunc::Mean(_) => Box::new(mean::MeanState::default()),
        AggFunc::Var(_) => Box::new(var::VarState::new(false)),
        AggFunc::Std(_) => Box::new(var::VarState::new(true)),
        AggFunc::Median(_) => Box::new(quantile::QuantileState::new(0.5)),
        AggFunc::Quantile(_, q) => Box::new(quantile::QuantileState::new(*q)),
        AggFunc::Corr(_, _) => Box::new(corr::CorrState::default()),
        AggFunc::Min(_) | AggFunc::Max(_) => {
            let is_max = matches!(func, AggFunc::Max(_));
            match kind.ok_or_else(unsupported)? {
                KindTag::Int if is_max => Box::new(min_max::IntMinMaxState::<true>::new(first)),
                KindTag::Int => Box::new(min_max::IntMinMaxState::<false>::new(first)),
                KindTag::Float => Box::new(min_max::MinMaxState::<FloatKind>::new(is_max, first)),
                KindTag::Str => Box::new(min_max::MinMaxState::<StrKind>::new(is_max, first)),
            }
        }
        AggFunc::First(_) | AggFunc::Last(_) => {
            let last = matches!(func, AggFunc::Last(_));
            match kind.ok_or_else(unsupported)? {
                KindTag::Int => Box::new(first_last::FirstLastState::<IntKind>::new(last, first)),
                KindTag::Float => {
                    Box::new(first_last::FirstLastState::<FloatKind>::new(last, first))
                }
                KindTag::Str => Box::new(first_last::FirstLastState::<StrKind>::new(last, first)),
            }
        }
        AggFunc::NUnique(_) => match kind.ok_or_else(unsupported)? {
            KindTag::Int => Box::new(n_unique::NUniqueState::<IntKind>::default()),
            KindTag::Float => Box::new(n_unique::NUniqueState::<FloatKind>::default()),
            KindTag::Str => Box::new(n_unique::NUniqueState::<StrKind>::default()),
        },
        AggFunc::TopK(_, k) | AggFunc::BottomK(_, k) => {
            let top = matches!(func, AggFunc::TopK(..));
            match kind.ok_or_else(unsupported)? {
                KindTag::Int => Box::new(top_k::TopKState::<IntKind>::new(*k, top, first)),
                KindTag::Float => Box::new(top_k::TopKState::<FloatKind>::new(*k, top, first)),
                KindTag::Str => Box::new(top_k::TopKState::<StrKind>::new(*k, top, first)),
            }
        }
    })
}

#[cfg(test)]
pub(crate) mod test_util {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Checks that the strings a state keeps count in its size (the memory
    /// limit relies on it: a string min/max/first/last over many groups
    /// owns more than its slots), and that replacing every value with a
    /// short one gives the bytes back. `s` keeps the later value of a tie
    /// in input order or the larger one: `"zz"` replaces `"xxx..."`.
    pub fn check_size_counts_strings(mut s: Box<dyn AggState>) {
        let empty = s.size();
        let long = "x".repeat(1000);
        let v: ArrayRef = Arc::new(arrow_array::StringArray::from(vec![long.as_str(); 100]));
        let groups: Vec<u32> = (0..100).collect();
        s.update(&[v], &groups, 100, UpdateCtx { row_base: 0 })
            .unwrap();
        let held = s.size() - empty;
        assert!(held >= 100 * 1000, "{held}");
        let short: ArrayRef = Arc::new(arrow_array::StringArray::from(vec!["zz"; 100]));
        s.update(&[short], &groups, 100, UpdateCtx { row_base: 100 })
            .unwrap();
        assert!(s.size() - empty < 100 * 1000 / 2, "{}", s.size());
    }

    /// Runs a state over `(group, value)` chunks split in two partials that are merged.
    pub fn run_split(
        func: &AggFunc,
        args: Vec<ArrayRef>,
        groups: &[u32],
        num_groups: usize,
    ) -> ArrayRef {
        let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
        let n = groups.len();
        let mid = n / 2;
        let mut a = new_state(func, &types).unwrap();
        let mut b = new_state(func, &types).unwrap();
        let left: Vec<ArrayRef> = args.iter().map(|x| x.slice(0, mid)).collect();
        let right: Vec<ArrayRef> = args.iter().map(|x| x.slice(mid, n - mid)).collect();
        a.update(&left, &groups[..mid], num_groups, UpdateCtx { row_base: 0 })
            .unwrap();
        b.update(
            &right,
            &groups[mid..],
            num_groups,
            UpdateCtx {
                row_base: mid as u64,
            },
        )
        .unwrap();
        // Through the Arrow form, as partitions and spill files do.
        let cols = b.to_arrow(num_groups).unwrap();
        let mapping: Vec<u32> = (0..num_groups as u32).collect();
        a.merge_arrow(&cols, &mapping, num_groups).unwrap();
        a.finish(num_groups).unwrap()
    }
}
