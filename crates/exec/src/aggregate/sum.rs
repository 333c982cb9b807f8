//! `sum(col)`: checked `i64` sums of integers, `f64` sums of floats,
//! exact `i128` sums of decimals.

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
        if n == 1 {
            // One group: every id is 0 (ids are dense in `0..n`). The chunk
            // is summed in `i128`, which no chunk can overflow, and checked
            // once against `i64`.
            let a = a.as_primitive::<arrow_array::types::Int64Type>();
            let nulls = a.nulls().filter(|n| n.null_count() > 0);
            if a.len() == nulls.map_or(0, |n| n.null_count()) {
                return Ok(());
            }
            let v = a.values();
            let s: i128 = match nulls {
                None => v.iter().map(|&x| i128::from(x)).sum(),
                Some(n) => n.valid_indices().map(|i| i128::from(v[i])).sum(),
            };
            self.sums[0] =
                i64::try_from(s + i128::from(self.sums[0])).map_err(|_| overflow(&self.column))?;
            self.seen[0] = true;
            return Ok(());
        }
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

/// Exact per-group sums of Decimal128 values in `i128`, shared by
/// `sum` and `mean` of decimals.
///
/// Overflow (beyond 38 digits) is an error, but proving it impossible is
/// cheaper than checking every addition: `bound` is at least the largest
/// magnitude any group's sum can have (the sum, over the chunks added, of
/// the chunk's length times its largest magnitude), and while it stays
/// within 38 digits the additions are plain ones. Past that, every addition
/// is checked (TPC-H's money sums stay far below: 6e6 rows of 1e7 cents
/// bound at 6e13).
#[derive(Default)]
pub(crate) struct DecimalSums {
    pub(crate) sums: Vec<i128>,
    pub(crate) seen: Vec<bool>,
    bound: u128,
}

impl DecimalSums {
    pub(crate) fn grow(&mut self, n: usize) {
        grow(&mut self.sums, n, 0);
        grow(&mut self.seen, n, false);
    }

    /// Adds the values of `a` (Decimal128) to the groups `groups[i]` (of
    /// `n` groups), counting each non-null value in `counts` when given.
    /// `Err(())` on a sum beyond 38 digits (the caller names the aggregate).
    pub(crate) fn add(
        &mut self,
        a: &Decimal128Array,
        groups: &[u32],
        n: usize,
        mut counts: Option<&mut Vec<u64>>,
    ) -> std::result::Result<(), ()> {
        let vals = a.values();
        // A bound on the largest magnitude (null slots included).
        let max = u128::MAX >> (128 - parframe_core::expr::magnitude_bits(vals));
        let bound = self
            .bound
            .saturating_add(max.saturating_mul(vals.len() as u128));
        let nulls = a.nulls().filter(|n| n.null_count() > 0);
        let (sums, seen) = (&mut self.sums, &mut self.seen);
        if bound <= MAX_38 as u128 {
            self.bound = bound;
            if n == 1 {
                // One group (a sum without GROUP BY): every id is 0, as
                // ids are dense in `0..n`, so the chunk is one plain sum
                // without the per-row group lookup (a fifth of a scan's
                // time in `SELECT sum(l_extendedprice) FROM lineitem`).
                let valid = a.len() - nulls.map_or(0, |n| n.null_count());
                if valid > 0 {
                    sums[0] += sum_i128(vals, nulls);
                    seen[0] = true;
                    if let Some(c) = counts.as_deref_mut() {
                        c[0] += valid as u64;
                    }
                }
                return Ok(());
            }
            if n <= FEW && nulls.is_none() {
                match counts {
                    Some(c) => few_groups::<true>(vals, groups, sums, seen, Some(c)),
                    None => few_groups::<false>(vals, groups, sums, seen, None),
                }
                return Ok(());
            }
            let mut one = |i: usize| {
                let g = groups[i] as usize;
                sums[g] += vals[i];
                seen[g] = true;
                if let Some(c) = counts.as_deref_mut() {
                    c[g] += 1;
                }
            };
            match nulls {
                None => (0..a.len()).for_each(&mut one),
                Some(n) => n.valid_indices().for_each(&mut one),
            }
            return Ok(());
        }
        self.bound = u128::MAX;
        let mut ok = true;
        let mut one = |i: usize| {
            let g = groups[i] as usize;
            match sums[g].checked_add(vals[i]) {
                Some(s) if s.abs() <= MAX_38 => sums[g] = s,
                _ => ok = false,
            }
            seen[g] = true;
            if let Some(c) = counts.as_deref_mut() {
                c[g] += 1;
            }
        };
        match nulls {
            None => (0..a.len()).for_each(&mut one),
            Some(n) => n.valid_indices().for_each(&mut one),
        }
        if ok { Ok(()) } else { Err(()) }
    }

    pub(crate) fn size(&self) -> usize {
        self.sums.capacity() * 16 + self.seen.capacity()
    }
}

/// The most groups [`few_groups`] takes.
const FEW: usize = 64;

/// Adds `vals[i]` to `sums[groups[i]]` (and one to `counts`) for a chunk
/// without nulls and at most [`FEW`] groups, within a proven bound.
///
/// Why: with few groups, consecutive rows mostly hit the same group, and
/// each addition waited for the previous one's store to the same sum (TPC-H
/// Q1's four groups: its seven decimal sums and means were a seventh of
/// its time). Four lanes of accumulators take rows in turn, so four chains
/// of additions run side by side; a bit mask records the groups seen.
/// `COUNT`: whether `counts` is given (the loop counts rows only then).
fn few_groups<const COUNT: bool>(
    vals: &[i128],
    groups: &[u32],
    sums: &mut [i128],
    seen: &mut [bool],
    counts: Option<&mut Vec<u64>>,
) {
    let mut acc = [[0i128; FEW]; 4];
    let mut cnt = [[0u64; FEW]; 4];
    let mut touched = 0u64;
    // `g < n <= FEW` (ids are dense in `0..n`); the mask only spares the
    // bounds checks.
    let (gs, vs) = (groups.chunks_exact(4), vals.chunks_exact(4));
    let (g_rest, v_rest) = (gs.remainder(), vs.remainder());
    for (g, v) in gs.zip(vs) {
        for lane in 0..4 {
            let k = g[lane] as usize & (FEW - 1);
            acc[lane][k] = acc[lane][k].wrapping_add(v[lane]);
            if COUNT {
                cnt[lane][k] += 1;
            }
            touched |= 1 << k;
        }
    }
    for (&g, &v) in g_rest.iter().zip(v_rest) {
        let k = g as usize & (FEW - 1);
        acc[0][k] = acc[0][k].wrapping_add(v);
        if COUNT {
            cnt[0][k] += 1;
        }
        touched |= 1 << k;
    }
    let mut counts = counts;
    while touched != 0 {
        let k = touched.trailing_zeros() as usize;
        touched &= touched - 1;
        if let (Some(s), Some(f)) = (sums.get_mut(k), seen.get_mut(k)) {
            *s += acc.iter().map(|a| a[k]).sum::<i128>();
            *f = true;
        }
        if let Some(c) = counts.as_deref_mut().and_then(|c| c.get_mut(k)) {
            *c += cnt.iter().map(|c| c[k]).sum::<u64>();
        }
    }
}

/// The wrapping sum of `vals` at the valid slots of `nulls` (all when
/// `None`); exact when the caller has bounded the sum within `i128`.
fn sum_i128(vals: &[i128], nulls: Option<&arrow_buffer::NullBuffer>) -> i128 {
    match nulls {
        None => vals.iter().fold(0i128, |s, &v| s.wrapping_add(v)),
        Some(n) => n
            .valid_indices()
            .fold(0i128, |s, i| s.wrapping_add(vals[i])),
    }
}

/// `a` as Decimal128, or an internal error naming `what`.
pub(crate) fn decimals<'a>(a: &'a ArrayRef, what: &str) -> Result<&'a Decimal128Array> {
    a.as_primitive_opt::<Decimal128Type>().ok_or_else(|| {
        parframe_common::Error::InvalidArgument(format!(
            "internal: {what} expected Decimal128 values, got {}",
            a.data_type()
        ))
    })
}

/// Exact sums of Decimal128 values ([`DecimalSums`]); the result
/// is `Decimal128(38, scale)` (the input's scale, widened to the maximum
/// precision like DuckDB and DataFusion), and a sum beyond 38 digits is an
/// error naming the column.
pub(crate) struct DecimalSumState {
    column: String,
    scale: i8,
    sums: DecimalSums,
}

/// The largest absolute value of 38 decimal digits.
pub(crate) const MAX_38: i128 = 10i128.pow(38) - 1;

impl DecimalSumState {
    pub(crate) fn new(column: String, scale: i8) -> Self {
        DecimalSumState {
            column,
            scale,
            sums: DecimalSums::default(),
        }
    }

    fn add(&mut self, a: &ArrayRef, groups: &[u32], n: usize) -> Result<()> {
        let what = format!("sum({})", self.column);
        let a = decimals(a, &what)?;
        self.sums.add(a, groups, n, None).map_err(|()| {
            ArrowError::ArithmeticOverflow(format!(
                "{what} does not fit in Decimal128(38, {})",
                self.scale
            ))
            .into()
        })
    }
}

impl AggState for DecimalSumState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        self.sums.grow(n);
        let Some(a) = args.first() else { return Ok(()) };
        self.add(a, groups, n)
    }
    fn to_arrow(self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.finish(n)?])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        self.sums.grow(n);
        let a = state_col(cols, 0, "sum")?;
        self.add(a, mapping, n)
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        self.sums.grow(n);
        let s = &self.sums;
        let a: Decimal128Array = (0..n).map(|g| s.seen[g].then_some(s.sums[g])).collect();
        Ok(Arc::new(a.with_precision_and_scale(38, self.scale)?))
    }
    fn size(&self) -> usize {
        self.sums.size()
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
        if n == 1 {
            // One group (every id is 0): the running sum stays in a local,
            // not a store and reload of `sums[0]` per row. The rows are
            // added in the same order, so the result rounds the same.
            let (mut s, mut any) = (self.sums[0], false);
            FloatKind::for_each(&a, |_, v| {
                s += v.0;
                any = true;
            });
            self.sums[0] = s;
            self.seen[0] |= any;
            return Ok(());
        }
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
    fn float_sum_of_one_group_adds_in_row_order() {
        // Values whose sum depends on the order of the additions: the
        // one-group path must round exactly as adding row by row does.
        let vals: Vec<Option<f64>> = (0..1000)
            .map(|i| {
                (i % 7 != 3).then(|| (i as f64) * 1e-3 + if i % 2 == 0 { 1e16 } else { -1e16 })
            })
            .collect();
        let naive = vals.iter().flatten().fold(0.0f64, |s, v| s + v);
        // In two chunks: the second adds to what the first left.
        let mut st = new_state(&AggFunc::Sum("f".into()), &[DataType::Float64]).unwrap();
        for chunk in vals.chunks(600) {
            let f: ArrayRef = Arc::new(Float64Array::from(chunk.to_vec()));
            st.update(&[f], &vec![0; chunk.len()], 1, UpdateCtx { row_base: 0 })
                .unwrap();
        }
        let out = st.finish(1).unwrap();
        assert_eq!(
            out.as_primitive::<Float64Type>().value(0).to_bits(),
            naive.to_bits()
        );
        // All nulls: no value seen, so the sum is null.
        let f: ArrayRef = Arc::new(Float64Array::from(vec![None::<f64>; 3]));
        let mut st = new_state(&AggFunc::Sum("f".into()), &[DataType::Float64]).unwrap();
        st.update(&[f], &[0, 0, 0], 1, UpdateCtx { row_base: 0 })
            .unwrap();
        assert!(st.finish(1).unwrap().is_null(0));
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Decimal sums against naive checked i128 sums, chunk by chunk:
        /// the same sums while within 38 digits, an error exactly when
        /// some group's sum leaves them (both the proven-bound path and
        /// the checked path are reached: magnitudes go up to 38 digits),
        /// with one group (the plain-sum path), a few (the lanes of
        /// `few_groups`) or more than `FEW`; counts of non-null values too.
        #[test]
        fn decimal_sums_match_checked_i128(
            chunks in proptest::collection::vec(
                proptest::collection::vec(
                    (proptest::option::weighted(0.9, (0u32..39, proptest::prelude::any::<i128>())), 0u32..3),
                    0..10),
                1..5),
            ng in proptest::sample::select(vec![1u32, 2, 3, 70]),
        ) {
            use super::{DecimalSums, MAX_38};
            use arrow_array::Decimal128Array;
            let mut s = DecimalSums::default();
            s.grow(ng as usize);
            let mut counts = vec![0u64; ng as usize];
            let mut want = [Some(0i128); 3];
            let mut seen = [false; 3];
            let mut want_counts = [0u64; 3];
            for chunk in chunks {
                let vals: Vec<Option<i128>> = chunk.iter().map(|(v, _)| v.map(|(d, x)| {
                    x % 10i128.pow(d.min(38)).max(1)
                })).collect();
                let groups: Vec<u32> = chunk.iter().map(|(_, g)| *g % ng).collect();
                let a = Decimal128Array::from(vals.clone());
                let got = s.add(&a, &groups, ng as usize, Some(&mut counts));
                for (v, g) in vals.iter().zip(&groups) {
                    if let Some(v) = v {
                        let g = *g as usize;
                        seen[g] = true;
                        want_counts[g] += 1;
                        want[g] = want[g]
                            .and_then(|w| w.checked_add(*v))
                            .filter(|w| w.abs() <= MAX_38);
                    }
                }
                if want.iter().any(Option::is_none) {
                    proptest::prop_assert!(got.is_err());
                    return Ok(());
                }
                proptest::prop_assert!(got.is_ok());
            }
            for g in 0..(ng as usize).min(3) {
                proptest::prop_assert_eq!(Some(s.sums[g]), want[g]);
                proptest::prop_assert_eq!(s.seen[g], seen[g]);
                proptest::prop_assert_eq!(counts[g], want_counts[g]);
            }
        }
    }
}
