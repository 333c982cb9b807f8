//! `var(col)` and `std(col)` with ddof 1: Welford per group, merged with
//! Chan's parallel formula.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{ArrayRef, Float64Array, UInt64Array};
use parframe_common::Result;

use super::{AggState, UpdateCtx, for_each_f64, grow, state_col};

/// Count, mean and sum of squared deviations per group.
pub(crate) struct VarState {
    std: bool,
    n: Vec<u64>,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl VarState {
    pub(crate) fn new(std: bool) -> Self {
        VarState {
            std,
            n: Vec::new(),
            mean: Vec::new(),
            m2: Vec::new(),
        }
    }
    fn grow(&mut self, n: usize) {
        grow(&mut self.n, n, 0);
        grow(&mut self.mean, n, 0.0);
        grow(&mut self.m2, n, 0.0);
    }
}

impl AggState for VarState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        self.grow(n);
        let Some(a) = args.first() else { return Ok(()) };
        for_each_f64(a, |i, x| {
            let g = groups[i] as usize;
            self.n[g] += 1;
            let d = x - self.mean[g];
            self.mean[g] += d / self.n[g] as f64;
            self.m2[g] += d * (x - self.mean[g]);
        })
    }
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        self.grow(n);
        self.n.truncate(n);
        self.mean.truncate(n);
        self.m2.truncate(n);
        Ok(vec![
            Arc::new(UInt64Array::from(self.n)),
            Arc::new(Float64Array::from(self.mean)),
            Arc::new(Float64Array::from(self.m2)),
        ])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        self.grow(n);
        let on = state_col(cols, 0, "var")?
            .as_primitive::<UInt64Type>()
            .values();
        let om = state_col(cols, 1, "var")?
            .as_primitive::<Float64Type>()
            .values();
        let o2 = state_col(cols, 2, "var")?
            .as_primitive::<Float64Type>()
            .values();
        for (g, &t) in mapping.iter().enumerate().take(on.len()) {
            let nb = on[g];
            if nb == 0 {
                continue;
            }
            let t = t as usize;
            let na = self.n[t];
            if na == 0 {
                self.n[t] = nb;
                self.mean[t] = om[g];
                self.m2[t] = o2[g];
                continue;
            }
            let nn = (na + nb) as f64;
            let d = om[g] - self.mean[t];
            self.mean[t] += d * nb as f64 / nn;
            self.m2[t] += o2[g] + d * d * na as f64 * nb as f64 / nn;
            self.n[t] = na + nb;
        }
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        self.grow(n);
        let a: Float64Array = (0..n)
            .map(|g| {
                (self.n[g] > 1).then(|| {
                    let v = self.m2[g] / (self.n[g] - 1) as f64;
                    if self.std { v.sqrt() } else { v }
                })
            })
            .collect();
        Ok(Arc::new(a))
    }
    fn size(&self) -> usize {
        (self.n.capacity() + self.mean.capacity() + self.m2.capacity()) * 8
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
    fn variance_ddof1_across_merge() {
        let v: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(2.0),
            Some(4.0),
            Some(4.0),
            Some(4.0),
            Some(5.0),
            Some(5.0),
            Some(7.0),
            Some(9.0),
            Some(1.0),
            None,
        ]));
        let g = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
        let out = run_split(&AggFunc::Var("v".into()), vec![v.clone()], &g, 2);
        let out = out.as_primitive::<Float64Type>();
        assert!((out.value(0) - 32.0 / 7.0).abs() < 1e-12);
        assert!(out.is_null(1));
        let s = run_split(&AggFunc::Std("v".into()), vec![v], &g, 2);
        assert!((s.as_primitive::<Float64Type>().value(0) - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }
}
