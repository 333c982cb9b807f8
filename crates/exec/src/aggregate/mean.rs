//! `mean(col)`: `f64` sum and count per group.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{ArrayRef, Float64Array, UInt64Array};
use parframe_common::Result;

use super::{AggState, UpdateCtx, for_each_f64, grow, state_col};

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
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        grow(&mut self.sums, n, 0.0);
        grow(&mut self.counts, n, 0);
        self.sums.truncate(n);
        self.counts.truncate(n);
        Ok(vec![
            Arc::new(Float64Array::from(self.sums)),
            Arc::new(UInt64Array::from(self.counts)),
        ])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        grow(&mut self.sums, n, 0.0);
        grow(&mut self.counts, n, 0);
        let s = state_col(cols, 0, "mean")?.as_primitive::<Float64Type>();
        let c = state_col(cols, 1, "mean")?.as_primitive::<UInt64Type>();
        for ((&t, s), c) in mapping.iter().zip(s.values()).zip(c.values()) {
            self.sums[t as usize] += s;
            self.counts[t as usize] += c;
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
    fn size(&self) -> usize {
        (self.sums.capacity() + self.counts.capacity()) * 8
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    use arrow_array::{Array, ArrayRef, Int64Array};
    use parframe_plan::agg::AggFunc;
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
