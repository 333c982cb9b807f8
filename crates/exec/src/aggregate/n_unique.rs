//! `n_unique(col)`: distinct non-null values per group, kept as one set of
//! `(group, value)` pairs per state.

use std::any::Any;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array};
use hashbrown::HashSet;
use parframe_common::Result;

use super::{AggState, Kind, UpdateCtx, downcast};

/// The distinct `(group, value)` pairs seen.
pub(crate) struct NUniqueState<K: Kind> {
    seen: HashSet<(u32, K::Native)>,
}

impl<K: Kind> Default for NUniqueState<K> {
    fn default() -> Self {
        NUniqueState {
            seen: HashSet::new(),
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
                self.seen.insert(key);
            }
        });
        Ok(())
    }
    fn merge(&mut self, other: Box<dyn AggState>, mapping: &[u32], _: usize) -> Result<()> {
        let o = downcast::<Self>(other)?;
        self.seen
            .extend(o.seen.into_iter().map(|(g, v)| (mapping[g as usize], v)));
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
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use crate::agg::AggFunc;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, Float64Array, StringArray};
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
