//! `mean(col)`: `f64` sum and count per group.

use std::any::Any;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array};
use parframe_common::Result;

use super::{AggState, UpdateCtx, downcast, for_each_f64, grow};

/// Sums and counts.
#[derive(Default)]
pub(crate) struct MeanState {
    sums: Vec<f64>,
    counts: Vec<u64>,
}

impl AggState for MeanState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        grow(&mut self.sums, n, 0.0);
        grow(&mut self.counts, n, 0);
        let Some(a) = args.first() else { return Ok(()) };
        for_each_f64(a, |i, v| {
            let g = groups[i] as usize;
            self.sums[g] += v;
            self.counts[g] += 1;
        })
    }
    fn merge(&mut self, other: Box<dyn AggState>, mapping: &[u32], n: usize) -> Result<()> {
        let o = downcast::<Self>(other)?;
        grow(&mut self.sums, n, 0.0);
        grow(&mut self.counts, n, 0);
        for (g, (s, c)) in o.sums.iter().zip(&o.counts).enumerate() {
            let t = mapping[g] as usize;
            self.sums[t] += s;
            self.counts[t] += c;
        }
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        grow(&mut self.sums, n, 0.0);
        grow(&mut self.counts, n, 0);
        let a: Float64Array = (0..n)
            .map(|g| (self.counts[g] > 0).then(|| self.sums[g] / self.counts[g] as f64))
            .collect();
        Ok(Arc::new(a))
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
    use arrow_array::types::Float64Type;
    use arrow_array::{Array, ArrayRef, Int64Array};
    use std::sync::Arc;

    #[test]
    fn means_skip_nulls() {
        let v: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(4)]));
        let out = run_split(&AggFunc::Mean("v".into()), vec![v], &[0, 0, 1, 0], 2);
        let out = out.as_primitive::<Float64Type>();
        assert!((out.value(0) - 7.0 / 3.0).abs() < 1e-12);
        assert!(out.is_null(1));
    }
}
