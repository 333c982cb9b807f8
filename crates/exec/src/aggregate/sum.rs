//! `sum(col)`: checked `i64` sums of integers, `f64` sums of floats.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use arrow_array::{Array, ArrayRef, Decimal128Array, Float64Array, Int64Array};
use arrow_schema::ArrowError;
use parframe_common::Result;

use super::{AggState, FloatKind, IntKind, Kind, UpdateCtx, grow, state_col};

fn overflow(col: &str) -> parframe_common::Error {
    ArrowError::ArithmeticOverflow(format!(
        "sum({col}) does not fit in Int64; cast column '{col}' to Float64 to sum it"
    ))
    .into()
}

/// Checked integer sums; `seen` marks groups with a non-null value.
pub(crate) struct IntSumState {
    column: String,
    sums: Vec<i64>,
    seen: Vec<bool>,
}

impl IntSumState {
    pub(crate) fn new(column: String) -> Self {
        IntSumState {
            column,
            sums: Vec::new(),
            seen: Vec::new(),
        }
    }
}

impl AggState for IntSumState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        grow(&mut self.sums, n, 0);
        grow(&mut self.seen, n, false);
        let Some(a) = args.first() else { return Ok(()) };
        let a = IntKind::read(a)?;
        let mut ok = true;
        IntKind::for_each(&a, |i, v| {
            let g = groups[i] as usize;
            match self.sums[g].checked_add(*v) {
                Some(s) => self.sums[g] = s,
                None => ok = false,
            }
            self.seen[g] = true;
        });
        if ok {
            Ok(())
        } else {
            Err(overflow(&self.column))
        }
    }
    fn to_arrow(self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.finish(n)?])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        grow(&mut self.sums, n, 0);
        grow(&mut self.seen, n, false);
        let a = state_col(cols, 0, "sum")?;
        let mut ok = true;
        IntKind::for_each(a, |i, s| {
            let t = mapping[i] as usize;
            match self.sums[t].checked_add(*s) {
                Some(v) => self.sums[t] = v,
                None => ok = false,
            }
            self.seen[t] = true;
        });
        if ok {
            Ok(())
        } else {
            Err(overflow(&self.column))
        }
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        grow(&mut self.sums, n, 0);
        grow(&mut self.seen, n, false);
        let a: Int64Array = (0..n)
            .map(|g| self.seen[g].then_some(self.sums[g]))
            .collect();
        Ok(Arc::new(a))
    }
    fn size(&self) -> usize {
        self.sums.capacity() * 8 + self.seen.capacity()
    }
}

/// Exact sums of Decimal128 values: `i128` per group, checked; the result
/// is `Decimal128(38, scale)` (the input's scale, widened to the maximum
/// precision like DuckDB and DataFusion), and a sum beyond 38 digits is an
/// error naming the column.
pub(crate) struct DecimalSumState {
    column: String,
    scale: i8,
    sums: Vec<i128>,
    seen: Vec<bool>,
}

/// The largest absolute value of 38 decimal digits.
const MAX_38: i128 = 10i128.pow(38) - 1;

impl DecimalSumState {
    pub(crate) fn new(column: String, scale: i8) -> Self {
        DecimalSumState {
            column,
            scale,
            sums: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn add(&mut self, a: &ArrayRef, groups: impl Fn(usize) -> usize) -> Result<()> {
        let a = a.as_primitive_opt::<Decimal128Type>().ok_or_else(|| {
            parframe_common::Error::InvalidArgument(format!(
                "internal: sum({}) expected Decimal128 values, got {}",
                self.column,
                a.data_type()
            ))
        })?;
        let vals = a.values();
        let mut ok = true;
        let mut one = |i: usize| {
            let g = groups(i);
            match self.sums[g].checked_add(vals[i]) {
                Some(s) if s.abs() <= MAX_38 => self.sums[g] = s,
                _ => ok = false,
            }
            self.seen[g] = true;
        };
        match a.nulls().filter(|n| n.null_count() > 0) {
            None => (0..a.len()).for_each(&mut one),
            Some(n) => n.valid_indices().for_each(&mut one),
        }
        if ok {
            Ok(())
        } else {
            Err(ArrowError::ArithmeticOverflow(format!(
                "sum({}) does not fit in Decimal128(38, {})",
                self.column, self.scale
            ))
            .into())
        }
    }
}

impl AggState for DecimalSumState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        grow(&mut self.sums, n, 0);
        grow(&mut self.seen, n, false);
        let Some(a) = args.first() else { return Ok(()) };
        self.add(a, |i| groups[i] as usize)
    }
    fn to_arrow(self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.finish(n)?])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        grow(&mut self.sums, n, 0);
        grow(&mut self.seen, n, false);
        let a = state_col(cols, 0, "sum")?;
        self.add(a, |i| mapping[i] as usize)
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        grow(&mut self.sums, n, 0);
        grow(&mut self.seen, n, false);
        let a: Decimal128Array = (0..n)
            .map(|g| self.seen[g].then_some(self.sums[g]))
            .collect();
        Ok(Arc::new(a.with_precision_and_scale(38, self.scale)?))
    }
    fn size(&self) -> usize {
        self.sums.capacity() * 16 + self.seen.capacity()
    }
}

/// Float sums.
#[derive(Default)]
pub(crate) struct FloatSumState {
    sums: Vec<f64>,
    seen: Vec<bool>,
}

impl AggState for FloatSumState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        grow(&mut self.sums, n, 0.0);
        grow(&mut self.seen, n, false);
        let Some(a) = args.first() else { return Ok(()) };
        let a = FloatKind::read(a)?;
        FloatKind::for_each(&a, |i, v| {
            let g = groups[i] as usize;
            self.sums[g] += v.0;
            self.seen[g] = true;
        });
        Ok(())
    }
    fn to_arrow(self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.finish(n)?])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        grow(&mut self.sums, n, 0.0);
        grow(&mut self.seen, n, false);
        let a = state_col(cols, 0, "sum")?;
        FloatKind::for_each(a, |i, s| {
            let t = mapping[i] as usize;
            self.sums[t] += s.0;
            self.seen[t] = true;
        });
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        grow(&mut self.sums, n, 0.0);
        grow(&mut self.seen, n, false);
        let a: Float64Array = (0..n)
            .map(|g| self.seen[g].then_some(self.sums[g]))
            .collect();
        Ok(Arc::new(a))
    }
    fn size(&self) -> usize {
        self.sums.capacity() * 8 + self.seen.capacity()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use super::super::{UpdateCtx, new_state};
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::{Array, ArrayRef, Float64Array, Int32Array, Int64Array};
    use arrow_schema::DataType;
    use parframe_plan::agg::AggFunc;
    use std::sync::Arc;

    #[test]
    fn int_and_float_sums() {
        let v: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(3), None]));
        let out = run_split(&AggFunc::Sum("v".into()), vec![v], &[0, 0, 0, 1], 2);
        let out = out.as_primitive::<Int64Type>();
        assert_eq!(out.value(0), 4);
        assert!(out.is_null(1));
        let f: ArrayRef = Arc::new(Float64Array::from(vec![0.5, 1.5, f64::NAN]));
        let out = run_split(&AggFunc::Sum("f".into()), vec![f], &[0, 0, 1], 2);
        let out = out.as_primitive::<Float64Type>();
        assert_eq!(out.value(0), 2.0);
        assert!(out.value(1).is_nan());
    }

    #[test]
    fn overflow_names_column() {
        let v: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, 1]));
        let mut s = new_state(&AggFunc::Sum("big".into()), &[DataType::Int64]).unwrap();
        let e = s
            .update(&[v], &[0, 0], 1, UpdateCtx { row_base: 0 })
            .unwrap_err();
        assert!(e.to_string().contains("sum(big)"), "{e}");
    }
}
