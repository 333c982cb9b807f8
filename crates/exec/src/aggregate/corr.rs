//! `corr(a, b)`: Pearson correlation from per-group co-moments (Welford),
//! merged with Chan's formula. Rows where either value is null are skipped.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, Float64Array, UInt64Array};
use arrow_buffer::NullBuffer;
use parframe_common::Result;

use super::{AggState, FloatKind, Kind, UpdateCtx, grow, state_col};

/// Per group: count, means, second moments and co-moment.
#[derive(Default)]
pub(crate) struct CorrState {
    n: Vec<u64>,
    mx: Vec<f64>,
    my: Vec<f64>,
    m2x: Vec<f64>,
    m2y: Vec<f64>,
    cxy: Vec<f64>,
}

impl CorrState {
    fn grow(&mut self, n: usize) {
        grow(&mut self.n, n, 0);
        grow(&mut self.mx, n, 0.0);
        grow(&mut self.my, n, 0.0);
        grow(&mut self.m2x, n, 0.0);
        grow(&mut self.m2y, n, 0.0);
        grow(&mut self.cxy, n, 0.0);
    }
    fn push(&mut self, g: usize, x: f64, y: f64) {
        self.n[g] += 1;
        let n = self.n[g] as f64;
        let dx = x - self.mx[g];
        let dy = y - self.my[g];
        self.mx[g] += dx / n;
        self.my[g] += dy / n;
        self.m2x[g] += dx * (x - self.mx[g]);
        self.m2y[g] += dy * (y - self.my[g]);
        self.cxy[g] += dx * (y - self.my[g]);
    }
}

impl AggState for CorrState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        self.grow(n);
        let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
            return Ok(());
        };
        let (a, b) = (FloatKind::read(a)?, FloatKind::read(b)?);
        let (a, b) = (
            a.as_primitive::<Float64Type>(),
            b.as_primitive::<Float64Type>(),
        );
        let (xs, ys) = (a.values(), b.values());
        match NullBuffer::union(a.nulls(), b.nulls()).filter(|n| n.null_count() > 0) {
            None => {
                for (i, (x, y)) in xs.iter().zip(ys.iter()).enumerate() {
                    self.push(groups[i] as usize, *x, *y);
                }
            }
            Some(nb) => {
                for i in nb.valid_indices() {
                    self.push(groups[i] as usize, xs[i], ys[i]);
                }
            }
        }
        Ok(())
    }
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        self.grow(n);
        let f = |mut v: Vec<f64>| -> ArrayRef {
            v.truncate(n);
            Arc::new(Float64Array::from(v))
        };
        let mut counts = std::mem::take(&mut self.n);
        counts.truncate(n);
        Ok(vec![
            Arc::new(UInt64Array::from(counts)),
            f(std::mem::take(&mut self.mx)),
            f(std::mem::take(&mut self.my)),
            f(std::mem::take(&mut self.m2x)),
            f(std::mem::take(&mut self.m2y)),
            f(std::mem::take(&mut self.cxy)),
        ])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        self.grow(n);
        let on = state_col(cols, 0, "corr")?
            .as_primitive::<UInt64Type>()
            .values();
        let fcol = |i: usize| -> Result<&[f64]> {
            Ok(state_col(cols, i, "corr")?
                .as_primitive::<Float64Type>()
                .values())
        };
        let (omx, omy, om2x, om2y, ocxy) = (fcol(1)?, fcol(2)?, fcol(3)?, fcol(4)?, fcol(5)?);
        for (g, &t) in mapping.iter().enumerate().take(on.len()) {
            let nb = on[g];
            if nb == 0 {
                continue;
            }
            let t = t as usize;
            let na = self.n[t];
            if na == 0 {
                self.n[t] = nb;
                self.mx[t] = omx[g];
                self.my[t] = omy[g];
                self.m2x[t] = om2x[g];
                self.m2y[t] = om2y[g];
                self.cxy[t] = ocxy[g];
                continue;
            }
            let nn = (na + nb) as f64;
            let f = na as f64 * nb as f64 / nn;
            let dx = omx[g] - self.mx[t];
            let dy = omy[g] - self.my[t];
            self.m2x[t] += om2x[g] + dx * dx * f;
            self.m2y[t] += om2y[g] + dy * dy * f;
            self.cxy[t] += ocxy[g] + dx * dy * f;
            self.mx[t] += dx * nb as f64 / nn;
            self.my[t] += dy * nb as f64 / nn;
            self.n[t] = na + nb;
        }
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        self.grow(n);
        let a: Float64Array = (0..n)
            .map(|g| (self.n[g] > 1).then(|| self.cxy[g] / (self.m2x[g] * self.m2y[g]).sqrt()))
            .collect();
        Ok(Arc::new(a))
    }
    fn size(&self) -> usize {
        self.n.capacity() * 48
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    use arrow_array::{Array, ArrayRef, Float64Array, Int64Array};
    use parframe_plan::agg::AggFunc;
    use std::sync::Arc;

    #[test]
    fn correlation_skips_null_pairs() {
        let x: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            None,
        ]));
        let y: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(2.0),
            Some(4.1),
            Some(6.0),
            Some(8.2),
            Some(1.0),
        ]));
        let out = run_split(
            &AggFunc::Corr("x".into(), "y".into()),
            vec![x, y],
            &[0, 0, 0, 0, 1],
            2,
        );
        let out = out.as_primitive::<Float64Type>();
        // numpy.corrcoef([1,2,3,4],[2,4.1,6,8.2])
        assert!(
            (out.value(0) - 0.999_643_260_586_781_2).abs() < 1e-6,
            "{}",
            out.value(0)
        );
        assert!(out.is_null(1));
    }
}
