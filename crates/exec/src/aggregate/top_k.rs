//! `top_k(col, k)` / `bottom_k(col, k)`: the `k` largest / smallest non-null
//! values of each group, largest (smallest) first, as a list column of the
//! input type. Each group keeps at most `2k` candidates, cut back to `k`
//! with `select_nth_unstable_by` when full.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::{ArrayRef, ListArray};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field};
use parframe_common::{Error, Result};

use super::{AggState, Kind, UpdateCtx, grow, list_of, list_parts, state_col};

/// Candidates per group.
pub(crate) struct TopKState<K: Kind> {
    k: usize,
    top: bool,
    dt: DataType,
    vals: Vec<Vec<K::Native>>,
    /// Candidates held in total, and their heap bytes (strings).
    held: usize,
    heap: usize,
}

impl<K: Kind> TopKState<K> {
    pub(crate) fn new(k: usize, top: bool, dt: DataType) -> Self {
        TopKState {
            k,
            top,
            dt,
            vals: Vec::new(),
            held: 0,
            heap: 0,
        }
    }
}

fn order<K: Kind>(top: bool) -> impl Fn(&K::Native, &K::Native) -> Ordering {
    move |a, b| if top { K::cmp(b, a) } else { K::cmp(a, b) }
}

/// Cuts `v` back to its best `k`; returns how many values it dropped.
fn cut<K: Kind>(v: &mut Vec<K::Native>, k: usize, top: bool) -> usize {
    let n = v.len();
    if n > k {
        if k > 0 {
            v.select_nth_unstable_by(k - 1, order::<K>(top));
        }
        v.truncate(k);
        n - k
    } else {
        0
    }
}

/// Adds a candidate; returns how many values it dropped.
fn push<K: Kind>(v: &mut Vec<K::Native>, x: &K::Native, k: usize, top: bool) -> usize {
    v.push(x.clone());
    if v.len() >= 2 * k.max(1) {
        cut::<K>(v, k, top)
    } else {
        0
    }
}

impl<K: Kind> AggState for TopKState<K> {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        grow(&mut self.vals, n, Vec::new());
        let Some(a) = args.first() else { return Ok(()) };
        let a = K::read(a)?;
        let (k, top) = (self.k, self.top);
        let (mut added, mut dropped, mut heap) = (0, 0, 0);
        K::for_each(&a, |i, v| {
            added += 1;
            heap += K::heap_size(v);
            dropped += push::<K>(&mut self.vals[groups[i] as usize], v, k, top);
        });
        self.held = (self.held + added).saturating_sub(dropped);
        // Dropped strings are not tracked one by one: scale the estimate.
        self.heap += heap;
        if added > 0 && dropped > 0 {
            self.heap = self.heap * self.held / (self.held + dropped).max(1);
        }
        Ok(())
    }
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        grow(&mut self.vals, n, Vec::new());
        let mut lens = Vec::with_capacity(n);
        let mut flat: Vec<Option<K::Native>> = Vec::with_capacity(self.held);
        for v in self.vals.into_iter().take(n) {
            lens.push(v.len());
            flat.extend(v.into_iter().map(Some));
        }
        Ok(vec![list_of(K::build(flat, &K::native_type())?, lens)?])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        grow(&mut self.vals, n, Vec::new());
        let (child, ranges) = list_parts(state_col(cols, 0, "top_k")?)?;
        let vals = K::values(&child)?;
        let (k, top) = (self.k, self.top);
        for (r, &t) in ranges.into_iter().zip(mapping) {
            let dst = &mut self.vals[t as usize];
            let before = dst.len();
            for v in vals[r].iter().flatten() {
                self.heap += K::heap_size(v);
                dst.push(v.clone());
            }
            let added = dst.len() - before;
            let dropped = cut::<K>(dst, k, top);
            self.held = (self.held + added).saturating_sub(dropped);
        }
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        grow(&mut self.vals, n, Vec::new());
        let mut flat: Vec<Option<K::Native>> = Vec::new();
        let mut lens = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        for v in self.vals.iter_mut().take(n) {
            cut::<K>(v, self.k, self.top);
            v.sort_unstable_by(order::<K>(self.top));
            lens.push(v.len());
            valid.push(!v.is_empty());
            flat.extend(v.drain(..).map(Some));
        }
        let values = K::build(flat, &self.dt)?;
        let field = Arc::new(Field::new("item", self.dt.clone(), true));
        let list = ListArray::try_new(
            field,
            OffsetBuffer::from_lengths(lens),
            values,
            Some(NullBuffer::from(valid)),
        )
        .map_err(Error::from)?;
        Ok(Arc::new(list))
    }
    fn size(&self) -> usize {
        self.vals.capacity() * std::mem::size_of::<Vec<K::Native>>()
            + self.held * std::mem::size_of::<K::Native>()
            + self.heap
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    use arrow_array::{Array, ArrayRef, Float64Array};
    use parframe_plan::agg::AggFunc;
    use std::sync::Arc;

    #[test]
    fn two_largest_and_smallest() {
        let v: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.0),
            Some(7.0),
            None,
            Some(3.0),
            Some(5.0),
            Some(2.0),
            Some(9.0),
        ]));
        let g = [0, 0, 0, 0, 0, 0, 1];
        let out = run_split(&AggFunc::TopK("v".into(), 2), vec![v.clone()], &g, 3);
        let l = out.as_list::<i32>();
        let vals = |i: usize| l.value(i).as_primitive::<Float64Type>().values().to_vec();
        assert_eq!(vals(0), vec![7.0, 5.0]);
        assert_eq!(vals(1), vec![9.0]);
        assert!(l.is_null(2));
        let out = run_split(&AggFunc::BottomK("v".into(), 2), vec![v], &g, 3);
        let l = out.as_list::<i32>();
        assert_eq!(
            l.value(0).as_primitive::<Float64Type>().values().to_vec(),
            vec![1.0, 2.0]
        );
    }
}
