//! `median(col)` and `quantile(col, q)`: holistic. Values are collected per
//! group once (merges move whole vectors when they can) and the result is
//! selected in place with `select_nth_unstable_by`, interpolating linearly
//! between the two closest ranks as polars does. NaN ranks above numbers.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array};
use parframe_common::Result;

use super::{
    AggState, FloatKind, Kind, UpdateCtx, for_each_f64, grow, list_of, list_parts, state_col,
};

/// The values of each group.
pub(crate) struct QuantileState {
    q: f64,
    values: Vec<Vec<f64>>,
    /// Values held in total.
    held: usize,
}

impl QuantileState {
    pub(crate) fn new(q: f64) -> Self {
        QuantileState {
            q,
            values: Vec::new(),
            held: 0,
        }
    }
}

/// The `q` quantile of `v` (reordered in place), linear interpolation.
pub(crate) fn quantile_in_place(v: &mut [f64], q: f64) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let idx = q * (n - 1) as f64;
    let lo = idx.floor() as usize;
    let frac = idx - lo as f64;
    let (_, lo_v, upper) = v.select_nth_unstable_by(lo, |a, b| a.total_cmp(b));
    let lo_v = *lo_v;
    if frac == 0.0 || upper.is_empty() {
        return Some(lo_v);
    }
    let hi_v = upper.iter().copied().fold(f64::NAN, |m, x| {
        if m.is_nan() || x.total_cmp(&m).is_lt() {
            x
        } else {
            m
        }
    });
    Some(lo_v + (hi_v - lo_v) * frac)
}

impl AggState for QuantileState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        grow(&mut self.values, n, Vec::new());
        let Some(a) = args.first() else { return Ok(()) };
        let values = &mut self.values;
        let mut pushed = 0;
        for_each_f64(a, |i, x| {
            values[groups[i] as usize].push(x);
            pushed += 1;
        })?;
        self.held += pushed;
        Ok(())
    }
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        grow(&mut self.values, n, Vec::new());
        let mut lens = Vec::with_capacity(n);
        let mut flat = Vec::with_capacity(self.held);
        for v in self.values.into_iter().take(n) {
            lens.push(v.len());
            flat.extend_from_slice(&v);
        }
        list_of(Arc::new(Float64Array::from(flat)), lens).map(|l| vec![l])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        grow(&mut self.values, n, Vec::new());
        let (child, ranges) = list_parts(state_col(cols, 0, "quantile")?)?;
        let child = FloatKind::read(&child)?;
        let child = child.as_primitive::<Float64Type>();
        if child.null_count() > 0 {
            return Err(parframe_common::Error::InvalidArgument(
                "internal: null in a quantile state".into(),
            ));
        }
        let vals = child.values();
        for (r, &t) in ranges.into_iter().zip(mapping) {
            self.held += r.len();
            self.values[t as usize].extend_from_slice(&vals[r]);
        }
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        grow(&mut self.values, n, Vec::new());
        let q = self.q;
        let a: Float64Array = self
            .values
            .iter_mut()
            .take(n)
            .map(|v| quantile_in_place(v, q))
            .collect();
        Ok(Arc::new(a))
    }
    fn size(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<Vec<f64>>() + self.held * 8
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use super::quantile_in_place;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    use arrow_array::{Array, ArrayRef, Int32Array};
    use parframe_plan::agg::AggFunc;
    use std::sync::Arc;

    #[test]
    fn interpolates_like_polars() {
        assert_eq!(quantile_in_place(&mut [1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile_in_place(&mut [4.0, 1.0, 3.0], 0.5), Some(3.0));
        assert_eq!(quantile_in_place(&mut [10.0, 0.0], 0.25), Some(2.5));
        assert_eq!(quantile_in_place(&mut [], 0.5), None);
        assert_eq!(quantile_in_place(&mut [5.0, 1.0, 2.0], 1.0), Some(5.0));
    }

    #[test]
    fn median_per_group() {
        let v: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(5),
            Some(1),
            None,
            Some(3),
            Some(2),
        ]));
        let out = run_split(&AggFunc::Median("v".into()), vec![v], &[0, 0, 1, 0, 0], 2);
        let out = out.as_primitive::<Float64Type>();
        assert_eq!(out.value(0), 2.5);
        assert!(out.is_null(1));
    }
}
