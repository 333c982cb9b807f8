//! `min(col)` and `max(col)` of integers (and dates, booleans), floats and
//! strings; the result has the input column's type. NaN is skipped unless a
//! group holds only NaN.

use std::marker::PhantomData;

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::DataType;
use parframe_common::Result;

use super::{AggState, IntKind, Kind, UpdateCtx, cast_to, grow, state_col};

/// The running extreme of each group.
pub(crate) struct MinMaxState<K: Kind> {
    is_max: bool,
    dt: DataType,
    best: Vec<Option<K::Native>>,
    /// Heap bytes the values in `best` own (strings), kept as values are
    /// replaced so `size` counts them: a string max over many groups owns
    /// more than its slots.
    heap: usize,
    _k: PhantomData<K>,
}

impl<K: Kind> MinMaxState<K> {
    pub(crate) fn new(is_max: bool, dt: DataType) -> Self {
        MinMaxState {
            is_max,
            dt,
            best: Vec::new(),
            heap: 0,
            _k: PhantomData,
        }
    }
}

/// Offers `v` to `slot`, keeping `heap` (the heap bytes of every slot's
/// value) current.
fn offer<K: Kind>(slot: &mut Option<K::Native>, heap: &mut usize, v: &K::Native, is_max: bool) {
    let replace = match slot {
        None => true,
        Some(cur) => {
            if K::is_nan(v) {
                false
            } else if K::is_nan(cur) {
                true
            } else {
                let o = K::cmp(v, cur);
                if is_max { o.is_gt() } else { o.is_lt() }
            }
        }
    };
    if replace {
        if let Some(old) = slot.as_ref() {
            *heap -= K::heap_size(old);
        }
        let v = v.clone();
        *heap += K::heap_size(&v);
        *slot = Some(v);
    }
}

impl<K: Kind> AggState for MinMaxState<K> {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        grow(&mut self.best, n, None);
        let Some(a) = args.first() else { return Ok(()) };
        let a = K::read(a)?;
        let is_max = self.is_max;
        let heap = &mut self.heap;
        K::for_each(&a, |i, v| {
            offer::<K>(&mut self.best[groups[i] as usize], heap, v, is_max)
        });
        Ok(())
    }
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        grow(&mut self.best, n, None);
        self.best.truncate(n);
        Ok(vec![K::build(self.best, &K::native_type())?])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        grow(&mut self.best, n, None);
        let a = K::read(state_col(cols, 0, "min/max")?)?;
        let is_max = self.is_max;
        let heap = &mut self.heap;
        K::for_each(&a, |i, v| {
            offer::<K>(&mut self.best[mapping[i] as usize], heap, v, is_max)
        });
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        grow(&mut self.best, n, None);
        self.best.truncate(n);
        K::build(self.best, &self.dt)
    }
    fn size(&self) -> usize {
        self.best.capacity() * std::mem::size_of::<Option<K::Native>>() + self.heap
    }
}

/// `min` (`MAX == false`) or `max` of integer-like values (read as `i64`):
/// a plain slot per group, starting at the identity of the operation, and
/// a flag for groups that saw a value.
///
/// Why not [`MinMaxState`]: its generic slot (`Option`, a NaN test, string
/// heap accounting) cost a branchy update per row, a fifth of db-benchmark
/// q7 (`max(v1) - min(v2)` over 10^5 groups); here a row is one `max` or
/// `min` and a store.
pub(crate) struct IntMinMaxState<const MAX: bool> {
    dt: DataType,
    best: Vec<i64>,
    seen: Vec<bool>,
}

impl<const MAX: bool> IntMinMaxState<MAX> {
    pub(crate) fn new(dt: DataType) -> Self {
        IntMinMaxState {
            dt,
            best: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn grow(&mut self, n: usize) {
        grow(&mut self.best, n, if MAX { i64::MIN } else { i64::MAX });
        grow(&mut self.seen, n, false);
    }

    /// Folds the values of `a` (any type [`IntKind::read`] takes) into the
    /// groups `groups[i]`.
    fn fold(&mut self, a: &ArrayRef, groups: &[u32]) -> Result<()> {
        let a = IntKind::read(a)?;
        let a = a.as_primitive::<Int64Type>();
        let (best, seen) = (&mut self.best, &mut self.seen);
        let mut one = |g: u32, v: i64| {
            let g = g as usize;
            if let (Some(b), Some(s)) = (best.get_mut(g), seen.get_mut(g)) {
                *b = if MAX { (*b).max(v) } else { (*b).min(v) };
                *s = true;
            }
        };
        match a.nulls().filter(|n| n.null_count() > 0) {
            None => groups
                .iter()
                .zip(a.values().iter())
                .for_each(|(&g, &v)| one(g, v)),
            Some(n) => n
                .valid_indices()
                .for_each(|i| one(groups[i], a.values()[i])),
        }
        Ok(())
    }

    /// The slots as an `Int64` array, null where a group saw no value.
    fn array(&mut self, n: usize) -> Int64Array {
        self.grow(n);
        self.best.truncate(n);
        self.seen.truncate(n);
        let valid = NullBuffer::new(BooleanBuffer::from(std::mem::take(&mut self.seen)));
        Int64Array::new(std::mem::take(&mut self.best).into(), Some(valid))
    }
}

impl<const MAX: bool> AggState for IntMinMaxState<MAX> {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        self.grow(n);
        let Some(a) = args.first() else { return Ok(()) };
        self.fold(a, groups)
    }
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(self.array(n))])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        self.grow(n);
        let a = state_col(cols, 0, "min/max")?;
        self.fold(a, mapping)
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        let a: ArrayRef = Arc::new(self.array(n));
        cast_to(&a, &self.dt)
    }
    fn size(&self) -> usize {
        self.best.capacity() * 8 + self.seen.capacity()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type};
    use arrow_array::{Array, ArrayRef, Float64Array, Int32Array, StringArray};
    use parframe_plan::agg::AggFunc;
    use std::sync::Arc;

    /// The strings the state owns count in its size.
    #[test]
    fn size_counts_the_strings_held() {
        use super::super::StrKind;
        use super::super::test_util::check_size_counts_strings;
        let s = super::MinMaxState::<StrKind>::new(true, arrow_schema::DataType::Utf8);
        check_size_counts_strings(Box::new(s));
    }

    #[test]
    fn min_max_keep_type_and_skip_nan() {
        let v: ArrayRef = Arc::new(Int32Array::from(vec![Some(5), None, Some(-3), Some(9)]));
        let out = run_split(&AggFunc::Max("v".into()), vec![v.clone()], &[0, 0, 0, 1], 3);
        let out = out.as_primitive::<Int32Type>();
        assert_eq!((out.value(0), out.value(1)), (5, 9));
        assert!(out.is_null(2));
        let f: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN, 2.0, 1.0, f64::NAN]));
        let out = run_split(&AggFunc::Min("f".into()), vec![f], &[0, 0, 0, 1], 2);
        let out = out.as_primitive::<Float64Type>();
        assert_eq!(out.value(0), 1.0);
        assert!(out.value(1).is_nan());
        let s: ArrayRef = Arc::new(StringArray::from(vec![
            Some("b"),
            Some("a"),
            None,
            Some("c"),
        ]));
        let out = run_split(&AggFunc::Max("s".into()), vec![s], &[0, 0, 1, 0], 2);
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), "c");
        assert!(out.is_null(1));
    }
}
