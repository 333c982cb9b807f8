//! `count_rows()` (rows per group) and `count(col)` (non-null values).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int64Array};
use parframe_common::Result;

use super::{AggState, UpdateCtx, grow, state_col};

/// Counts per group.
pub(crate) struct CountState {
    counts: Vec<i64>,
    non_null: bool,
}

impl CountState {
    pub(crate) fn rows() -> Self {
        CountState {
            counts: Vec::new(),
            non_null: false,
        }
    }
    pub(crate) fn non_null() -> Self {
        CountState {
            counts: Vec::new(),
            non_null: true,
        }
    }
}

impl AggState for CountState {
    fn update(&mut self, args: &[ArrayRef], groups: &[u32], n: usize, _: UpdateCtx) -> Result<()> {
        grow(&mut self.counts, n, 0);
        let nulls = if self.non_null {
            args.first().and_then(|a| a.logical_nulls())
        } else {
            None
        };
        let nulls = nulls.filter(|n| n.null_count() > 0);
        if n == 1 {
            // One group: every id is 0 (ids are dense in `0..n`).
            self.counts[0] += (groups.len() - nulls.map_or(0, |n| n.null_count())) as i64;
            return Ok(());
        }
        match nulls {
            None => groups.iter().for_each(|&g| self.counts[g as usize] += 1),
            Some(nb) => nb
                .valid_indices()
                .for_each(|i| self.counts[groups[i] as usize] += 1),
        }
        Ok(())
    }
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        grow(&mut self.counts, n, 0);
        self.counts.truncate(n);
        Ok(vec![Arc::new(Int64Array::from(self.counts))])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        grow(&mut self.counts, n, 0);
        let c = state_col(cols, 0, "count")?.as_primitive::<Int64Type>();
        for (&t, c) in mapping.iter().zip(c.values()) {
            self.counts[t as usize] += c;
        }
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        grow(&mut self.counts, n, 0);
        self.counts.truncate(n);
        Ok(Arc::new(Int64Array::from(self.counts)))
    }
    fn size(&self) -> usize {
        self.counts.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, Int32Array};
    use parframe_plan::agg::AggFunc;
    use std::sync::Arc;

    #[test]
    fn counts_rows_and_non_null() {
        let v: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(1),
            None,
            Some(3),
            None,
            Some(5),
        ]));
        let g = [0, 0, 1, 1, 1];
        let rows = run_split(&AggFunc::CountRows, vec![v.clone()], &g, 3);
        assert_eq!(
            rows.as_primitive::<Int64Type>().values().to_vec(),
            vec![2, 3, 0]
        );
        let nn = run_split(&AggFunc::Count("v".into()), vec![v], &g, 3);
        assert_eq!(
            nn.as_primitive::<Int64Type>().values().to_vec(),
            vec![1, 2, 0]
        );
    }
}
