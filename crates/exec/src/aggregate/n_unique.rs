//! `n_unique(col)`: distinct non-null values per group, kept as one set of
//! `(group, value)` pairs per state.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array};
use hashbrown::HashSet;
use parframe_common::Result;

use super::{AggState, Kind, UpdateCtx, list_of, list_parts, state_col};

/// The distinct `(group, value)` pairs seen.
pub(crate) struct NUniqueState<K: Kind> {
    seen: HashSet<(u32, K::Native)>,
    /// Heap bytes of the values in `seen` (strings).
    heap: usize,
}

impl<K: Kind> Default for NUniqueState<K> {
    fn default() -> Self {
        NUniqueState {
            seen: HashSet::new(),
            heap: 0,
        }
    }
}

impl<K: Kind> AggState for NUniqueState<K> {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], _: usize, _: UpdateCtx) -> Result<()> {
        let Some(a) = args.first() else { return Ok(()) };
        let a = K::read(a)?;
        K::for_each(&a, |i, v| {
            let key = (groups[i], v.clone());
            if !self.seen.contains(&key) {
                self.heap += K::heap_size(v);
                self.seen.insert(key);
            }
        });
        Ok(())
    }
    fn to_arrow(self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        // Values grouped by group: count, then place (a counting sort).
        let mut lens = vec![0usize; n];
        for (g, _) in &self.seen {
            lens[*g as usize] += 1;
        }
        let mut next: Vec<usize> = lens
            .iter()
            .scan(0, |acc, l| {
                let s = *acc;
                *acc += l;
                Some(s)
            })
            .collect();
        let mut flat: Vec<Option<K::Native>> = vec![None; self.seen.len()];
        for (g, v) in self.seen {
            let slot = &mut next[g as usize];
            flat[*slot] = Some(v);
            *slot += 1;
        }
        Ok(vec![list_of(K::build(flat, &K::native_type())?, lens)?])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], _: usize) -> Result<()> {
        let (child, ranges) = list_parts(state_col(cols, 0, "n_unique")?)?;
        let vals = K::values(&child)?;
        for (r, &t) in ranges.into_iter().zip(mapping) {
            for v in vals[r].iter().flatten() {
                if self.seen.insert((t, v.clone())) {
                    self.heap += K::heap_size(v);
                }
            }
        }
        Ok(())
    }
    fn finish(self: Box<Self>, n: usize) -> Result<ArrayRef> {
        let mut counts = vec![0i64; n];
        for (g, _) in &self.seen {
            if let Some(c) = counts.get_mut(*g as usize) {
                *c += 1;
            }
        }
        Ok(Arc::new(Int64Array::from(counts)))
    }
    fn size(&self) -> usize {
        self.seen.capacity() * (std::mem::size_of::<(u32, K::Native)>() + 1) + self.heap
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, Float64Array, StringArray};
    use parframe_plan::agg::AggFunc;
    use std::sync::Arc;

    #[test]
    fn counts_distinct() {
        let s: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            Some("b"),
            Some("a"),
            None,
            Some("a"),
        ]));
        let out = run_split(&AggFunc::NUnique("s".into()), vec![s], &[0, 0, 0, 0, 1], 3);
        assert_eq!(
            out.as_primitive::<Int64Type>().values().to_vec(),
            vec![2, 1, 0]
        );
        let f: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN, f64::NAN, 0.0, -0.0]));
        let out = run_split(&AggFunc::NUnique("f".into()), vec![f], &[0, 0, 0, 0], 1);
        assert_eq!(out.as_primitive::<Int64Type>().value(0), 2);
    }
}
