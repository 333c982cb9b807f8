//! `mean(col)`: `f64` sum and count per group; for decimals an exact
//! `i128` sum and a count, divided in `f64` at the end.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{ArrayRef, Decimal128Array, Float64Array, UInt64Array};
use arrow_schema::ArrowError;
use parframe_common::Result;

use super::sum::{DecimalSums, decimals};
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

/// The mean of Decimal128 values: exact sums ([`DecimalSums`]) and counts;
/// the result is `Float64` (as for every `mean`, and DuckDB's `avg` of a
/// decimal), the exact sum divided once at the end. Summing exactly also
/// skips converting every value to `f64`, which was most of the time of a
/// decimal mean.
pub(crate) struct DecimalMeanState {
    column: String,
    scale: i8,
    sums: DecimalSums,
    counts: Vec<u64>,
}

impl DecimalMeanState {
    pub(crate) fn new(column: String, scale: i8) -> Self {
        DecimalMeanState {
            column,
            scale,
            sums: DecimalSums::default(),
            counts: Vec::new(),
        }
    }

    fn grow(&mut self, n: usize) {
        self.sums.grow(n);
        grow(&mut self.counts, n, 0);
    }

    fn overflow(&self) -> parframe_common::Error {
        ArrowError::ArithmeticOverflow(format!(
            "mean({}): the sum does not fit in Decimal128(38, {}); cast the column to Float64",
            self.column, self.scale
        ))
        .into()
    }
}

impl AggState for DecimalMeanState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        self.grow(n);
        let Some(a) = args.first() else { return Ok(()) };
        let a = decimals(a, "mean")?;
        self.sums
            .add(a, groups, n, Some(&mut self.counts))
            .map_err(|()| self.overflow())
    }
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        self.grow(n);
        let mut sums = std::mem::take(&mut self.sums.sums);
        let mut counts = std::mem::take(&mut self.counts);
        sums.truncate(n);
        counts.truncate(n);
        let sums = Decimal128Array::from(sums).with_precision_and_scale(38, self.scale)?;
        Ok(vec![Arc::new(sums), Arc::new(UInt64Array::from(counts))])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        self.grow(n);
        let s = decimals(state_col(cols, 0, "mean")?, "mean")?;
        let c = state_col(cols, 1, "mean")?.as_primitive::<UInt64Type>();
        self.sums
            .add(s, mapping, n, None)
            .map_err(|()| self.overflow())?;
        for (&t, c) in mapping.iter().zip(c.values()) {
            self.counts[t as usize] += c;
        }
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        self.grow(n);
        let unit = 10f64.powi(i32::from(self.scale));
        let a: Float64Array = (0..n)
            .map(|g| {
                let c = self.counts[g];
                (c > 0).then(|| self.sums.sums[g] as f64 / unit / c as f64)
            })
            .collect();
        Ok(Arc::new(a))
    }
    fn size(&self) -> usize {
        self.sums.size() + self.counts.capacity() * 8
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

    /// Decimal means are exact sums divided at the end, nulls skipped,
    /// across a split into partials (so the state round trip is covered).
    #[test]
    fn decimal_means_are_exact() {
        use arrow_array::Decimal128Array;
        let vals = vec![Some(10_000_000_001i128), None, Some(2), Some(-7), Some(5)];
        let v: ArrayRef = Arc::new(
            Decimal128Array::from(vals)
                .with_precision_and_scale(15, 2)
                .unwrap(),
        );
        let out = run_split(&AggFunc::Mean("v".into()), vec![v], &[0, 0, 0, 1, 2], 3);
        let out = out.as_primitive::<Float64Type>();
        assert_eq!(out.value(0), 10_000_000_003f64 / 100.0 / 2.0);
        assert_eq!(out.value(1), -0.07);
        assert_eq!(out.value(2), 0.05);
    }
}
