//! A *segment*: rows of complete partitions in sort order, as a list of
//! chunks (in memory, or the batches of a spill file read back through its
//! memory map), with the partition starts and a bitmap of peer-group
//! starts. Evaluators read its columns through cursors that cache the
//! chunk they are in, so the monotone access of frame pointers costs O(1)
//! per step whatever the number of chunks.

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, PrimitiveArray, RecordBatch};
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder};
use arrow_ord::partition::partition;
use arrow_schema::DataType;
use arrow_select::concat::concat;
use parframe_common::Result;

use crate::aggregate::cast_to;

/// Rows of complete partitions, in (partition keys, order keys) order.
pub(crate) struct Segment {
    pub(crate) batches: Vec<RecordBatch>,
    /// `offsets[j]` is the first row of batch `j`; the last entry is the
    /// row count.
    pub(crate) offsets: Vec<usize>,
    /// Partition starts, then the row count.
    pub(crate) parts: Vec<usize>,
    /// Set at the first row of every peer group (rows with equal partition
    /// and order keys).
    pub(crate) peers: BooleanBuffer,
}

/// Calls `f(row)` for every row of `batches` (taken as one sequence) that
/// starts a run of equal values in the columns `cols`, row 0 included.
pub(crate) fn for_each_run_start(
    batches: &[RecordBatch],
    cols: &[usize],
    mut f: impl FnMut(usize),
) -> Result<()> {
    let mut base = 0;
    let mut prev: Option<&RecordBatch> = None;
    for b in batches {
        let n = b.num_rows();
        if n == 0 {
            continue;
        }
        let starts_new = match prev {
            None => true,
            Some(p) => !same_row(p, p.num_rows() - 1, b, 0, cols)?,
        };
        if starts_new {
            f(base);
        }
        if !cols.is_empty() {
            let arrays: Vec<ArrayRef> = cols.iter().map(|&c| b.column(c).clone()).collect();
            for r in partition(&arrays)?.ranges().into_iter().skip(1) {
                f(base + r.start);
            }
        }
        base += n;
        prev = Some(b);
    }
    Ok(())
}

/// Whether row `i` of `a` and row `j` of `b` hold equal values (nulls
/// equal) in columns `cols`.
pub(crate) fn same_row(
    a: &RecordBatch,
    i: usize,
    b: &RecordBatch,
    j: usize,
    cols: &[usize],
) -> Result<bool> {
    if cols.is_empty() {
        return Ok(true);
    }
    let pair: Vec<ArrayRef> = cols
        .iter()
        .map(|&c| concat(&[&a.column(c).slice(i, 1), &b.column(c).slice(j, 1)]))
        .collect::<std::result::Result<_, _>>()?;
    Ok(partition(&pair)?.len() == 1)
}

impl Segment {
    /// Builds a segment over `batches` (complete partitions), finding the
    /// partitions from the columns `part_cols` and the peer groups from
    /// `part_cols` followed by `order_cols`.
    pub(crate) fn new(
        batches: Vec<RecordBatch>,
        part_cols: &[usize],
        order_cols: &[usize],
    ) -> Result<Self> {
        let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
        let mut offsets = Vec::with_capacity(batches.len() + 1);
        let mut n = 0;
        for b in &batches {
            offsets.push(n);
            n += b.num_rows();
        }
        offsets.push(n);
        let mut parts = Vec::new();
        for_each_run_start(&batches, part_cols, |r| parts.push(r))?;
        parts.push(n);
        let mut peers = BooleanBufferBuilder::new(n);
        peers.append_n(n, false);
        let all: Vec<usize> = part_cols.iter().chain(order_cols).copied().collect();
        for_each_run_start(&batches, &all, |r| peers.set_bit(r, true))?;
        for &p in &parts[..parts.len() - 1] {
            peers.set_bit(p, true);
        }
        Ok(Segment {
            batches,
            offsets,
            parts,
            peers: peers.finish(),
        })
    }

    /// The row ranges of the batches, in order (the output chunks).
    pub(crate) fn batch_ranges(&self) -> impl Iterator<Item = (usize, Range<usize>)> + '_ {
        self.offsets
            .windows(2)
            .enumerate()
            .map(|(j, w)| (j, w[0]..w[1]))
    }

    /// The batch holding row `i` and the row within it.
    pub(crate) fn locate(&self, i: usize) -> (usize, usize) {
        let j = self.offsets.partition_point(|&o| o <= i) - 1;
        (j, i - self.offsets[j])
    }

    /// Bytes of the bitmaps and vectors the segment adds to its batches.
    pub(crate) fn overhead(&self) -> u64 {
        (self.peers.len() / 8 + 8 * (self.parts.len() + self.offsets.len()) + 64) as u64
    }
}

/// Sequential access to one column of a segment as `T` values (the column
/// cast to `T`'s type one chunk at a time).
pub(crate) struct Cursor<T: ArrowPrimitiveType> {
    col: usize,
    target: DataType,
    lo: usize,
    hi: usize,
    arr: Option<PrimitiveArray<T>>,
}

impl<T: ArrowPrimitiveType> Cursor<T> {
    pub(crate) fn new(col: usize, target: DataType) -> Self {
        Cursor {
            col,
            target,
            lo: 0,
            hi: 0,
            arr: None,
        }
    }

    fn load(&mut self, seg: &Segment, i: usize) -> Result<()> {
        let (j, _) = seg.locate(i);
        let a = cast_to(seg.batches[j].column(self.col), &self.target)?;
        self.arr = Some(a.as_primitive::<T>().clone());
        self.lo = seg.offsets[j];
        self.hi = seg.offsets[j + 1];
        Ok(())
    }

    /// The value at row `i` of the segment (`None`: null).
    #[inline]
    pub(crate) fn get(&mut self, seg: &Segment, i: usize) -> Result<Option<T::Native>> {
        if i < self.lo || i >= self.hi || self.arr.is_none() {
            self.load(seg, i)?;
        }
        let Some(a) = &self.arr else {
            return Ok(None);
        };
        let k = i - self.lo;
        Ok(if a.is_valid(k) {
            Some(a.value(k))
        } else {
            None
        })
    }
}

/// Cursor over a column as `f64`.
pub(crate) type F64Cursor = Cursor<Float64Type>;

/// Sequential access to the validity of one column of a segment.
pub(crate) struct NullCursor {
    col: usize,
    lo: usize,
    hi: usize,
    arr: Option<ArrayRef>,
}

impl NullCursor {
    pub(crate) fn new(col: usize) -> Self {
        NullCursor {
            col,
            lo: 0,
            hi: 0,
            arr: None,
        }
    }

    /// Whether row `i` is null.
    #[inline]
    pub(crate) fn is_null(&mut self, seg: &Segment, i: usize) -> bool {
        if i < self.lo || i >= self.hi || self.arr.is_none() {
            let (j, _) = seg.locate(i);
            self.arr = Some(seg.batches[j].column(self.col).clone());
            self.lo = seg.offsets[j];
            self.hi = seg.offsets[j + 1];
        }
        self.arr.as_ref().is_some_and(|a| a.is_null(i - self.lo))
    }
}
