//! `first(col)` and `last(col)`: the first / last non-null value of each
//! group in input order (positions are compared, so partials merged in any
//! order agree).

use std::marker::PhantomData;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{ArrayRef, UInt64Array};
use arrow_schema::DataType;
use parframe_common::Result;

use super::{AggState, Kind, UpdateCtx, grow, state_col};

/// The chosen value of each group and its position.
pub(crate) struct FirstLastState<K: Kind> {
    last: bool,
    dt: DataType,
    vals: Vec<Option<(u64, K::Native)>>,
    /// Heap bytes the values in `vals` own (strings), kept as values are
    /// replaced so `size` counts them.
    heap: usize,
    _k: PhantomData<K>,
}

impl<K: Kind> FirstLastState<K> {
    pub(crate) fn new(last: bool, dt: DataType) -> Self {
        FirstLastState {
            last,
            dt,
            vals: Vec::new(),
            heap: 0,
            _k: PhantomData,
        }
    }
}

/// Offers `v` at `pos` to `slot`, keeping `heap` (the heap bytes of every
/// slot's value) current.
fn offer<K: Kind>(
    slot: &mut Option<(u64, K::Native)>,
    heap: &mut usize,
    pos: u64,
    v: &K::Native,
    last: bool,
) {
    let replace = match slot {
        None => true,
        Some((p, _)) => {
            if last {
                pos > *p
            } else {
                pos < *p
            }
        }
    };
    if replace {
        if let Some((_, old)) = slot.as_ref() {
            *heap -= K::heap_size(old);
        }
        let v = v.clone();
        *heap += K::heap_size(&v);
        *slot = Some((pos, v));
    }
}

impl<K: Kind> AggState for FirstLastState<K> {
    fn update(
        &mut self,
        args: &[ArrayRef],
        groups: &[u32],
        n: usize,
        ctx: UpdateCtx,
    ) -> Result<()> {
        grow(&mut self.vals, n, None);
        let Some(a) = args.first() else { return Ok(()) };
        let a = K::read(a)?;
        let last = self.last;
        let heap = &mut self.heap;
        K::for_each(&a, |i, v| {
            offer::<K>(
                &mut self.vals[groups[i] as usize],
                heap,
                ctx.row_base + i as u64,
                v,
                last,
            )
        });
        Ok(())
    }
    fn to_arrow(mut self: Box<Self>, n: usize) -> Result<Vec<ArrayRef>> {
        grow(&mut self.vals, n, None);
        self.vals.truncate(n);
        let pos: UInt64Array = self.vals.iter().map(|v| v.as_ref().map(|x| x.0)).collect();
        let vals: Vec<Option<K::Native>> =
            self.vals.into_iter().map(|v| v.map(|(_, x)| x)).collect();
        Ok(vec![Arc::new(pos), K::build(vals, &K::native_type())?])
    }
    fn merge_arrow(&mut self, cols: &[ArrayRef], mapping: &[u32], n: usize) -> Result<()> {
        grow(&mut self.vals, n, None);
        let pos = state_col(cols, 0, "first/last")?.as_primitive::<UInt64Type>();
        let pos = pos.values();
        let a = K::read(state_col(cols, 1, "first/last")?)?;
        let last = self.last;
        let heap = &mut self.heap;
        K::for_each(&a, |i, v| {
            offer::<K>(&mut self.vals[mapping[i] as usize], heap, pos[i], v, last)
        });
        Ok(())
    }
    fn finish(mut self: Box<Self>, n: usize) -> Result<ArrayRef> {
        grow(&mut self.vals, n, None);
        let vals: Vec<Option<K::Native>> = self
            .vals
            .into_iter()
            .take(n)
            .map(|v| v.map(|(_, x)| x))
            .collect();
        K::build(vals, &self.dt)
    }
    fn size(&self) -> usize {
        self.vals.capacity() * std::mem::size_of::<Option<(u64, K::Native)>>() + self.heap
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::test_util::run_split;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, Int64Array};
    use parframe_plan::agg::AggFunc;
    use std::sync::Arc;

    /// The strings the state owns count in its size.
    #[test]
    fn size_counts_the_strings_held() {
        use super::super::StrKind;
        use super::super::test_util::check_size_counts_strings;
        let s = super::FirstLastState::<StrKind>::new(true, arrow_schema::DataType::Utf8);
        check_size_counts_strings(Box::new(s));
    }

    #[test]
    fn first_and_last_in_input_order() {
        let v: ArrayRef = Arc::new(Int64Array::from(vec![
            None,
            Some(1),
            Some(2),
            Some(3),
            None,
        ]));
        let g = [0, 0, 0, 0, 0];
        let f = run_split(&AggFunc::First("v".into()), vec![v.clone()], &g, 1);
        assert_eq!(f.as_primitive::<Int64Type>().value(0), 1);
        let l = run_split(&AggFunc::Last("v".into()), vec![v], &g, 1);
        assert_eq!(l.as_primitive::<Int64Type>().value(0), 3);
    }
}
