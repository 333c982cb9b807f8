//! The top-k-per-partition fast path of a window node that computes only
//! `row_number()` and whose consumer keeps rows numbered `<= k` (the plan
//! rule `window_topk` sets the node's `fetch`): `ROW_NUMBER() OVER
//! (PARTITION BY g ORDER BY v DESC) <= 2`, db-benchmark's q8.
//!
//! Instead of hash-partitioning, sorting and numbering every row, one pass
//! keeps, per partition, a max-heap of the `k` best rows seen so far (by
//! the row-encoded order keys, then arrival, so ties keep the earlier
//! row). A row that enters a heap is copied out of its chunk at once (a
//! `take` of the chunk's entrants), so a kept row never pins a whole input
//! chunk; rows later pushed out of their heap become garbage, collected by
//! compacting the kept rows into one chunk when garbage outweighs them.
//!
//! Memory: the kept rows, their encoded keys and the heaps are under one
//! reservation. When it cannot grow (k x partitions rows do not fit the
//! budget), the rows kept so far and the rest of the input go to the
//! general window operator, which spills: every row dropped so far was
//! beaten by `k` rows of its own partition, so it cannot be in the answer
//! and the result is the same.

use std::collections::BinaryHeap;

use hashbrown::HashMap;
use hashbrown::hash_map::EntryRef;

use foldhash::fast::RandomState;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::SchemaRef;
use arrow_select::concat::concat_batches;
use arrow_select::take::take_record_batch;
use parframe_common::{Error, Result};
use parframe_core::slice_bytes;
use parframe_spill::Reservation;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::exec::run_window;
use super::{Window, WindowExpr, WindowFunction};
use crate::Context;
use crate::collect::Collector;
use crate::context::JobMetrics;
use crate::physical::BatchStream;

/// Bytes charged per kept row on top of its values: heap entry, index
/// entry and map overhead (a stated constant, not measured per row).
const ROW_OVERHEAD: u64 = 64;

/// One kept row: its row-encoded order key, arrival number, and place in
/// `kept`.
struct Entry {
    key: Box<[u8]>,
    seq: u64,
    chunk: u32,
    row: u32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Worse rows compare greater: the heap's top is the one to push out.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| self.seq.cmp(&other.seq))
    }
}

/// Whether a window node with `exprs` can take the fast path.
pub(crate) fn applies(exprs: &[WindowExpr]) -> bool {
    exprs.len() == 1 && matches!(exprs[0].func, WindowFunction::RowNumber)
}

/// One worker's share of a top-k window: its heaps (created on its first
/// chunk), or, once any worker ran over budget, the rows it kept and every
/// chunk it is given after, collected (and spilled) for the general
/// operator.
enum Worker<'a> {
    Empty,
    Heaps(Box<TopK>),
    Overflow(Box<Collector<'a>>),
}

/// Runs the window node `window`/`exprs` (see [`applies`]) over `input`,
/// producing only rows numbered `<= k`.
///
/// Parallel: every worker of the context's pool keeps heaps over the
/// chunks it is given, numbering rows by their place in the input (so ties
/// keep the earlier row whichever worker saw it); the answer per partition
/// is the best `k` of the workers' heaps together, which are the best `k`
/// of the partition. When a worker's reservation cannot grow, every worker
/// hands its kept rows and all chunks after them to a collector (which
/// spills), and the general operator takes the lot.
pub(crate) fn run_window_topk(
    ctx: &Context,
    job: &Arc<JobMetrics>,
    mut input: BatchStream,
    window: &Window,
    exprs: &[WindowExpr],
    k: usize,
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send + Sync>> {
    let threads = ctx.config().threads.max(1);
    let over = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Worker<'_>>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    let overflow = |kept: Vec<RecordBatch>, b: &RecordBatch| -> Result<Worker<'_>> {
        let mut c = Collector::new(ctx, job, b.schema());
        for chunk in kept {
            c.push(chunk)?;
        }
        c.push(b.clone())?;
        Ok(Worker::Overflow(Box::new(c)))
    };
    input.fold_parallel(&slots, &|| Ok(Worker::Empty), &|w, b, pos| {
        if b.num_rows() == 0 {
            return Ok(());
        }
        if let Worker::Empty = w {
            *w = Worker::Heaps(Box::new(TopK::new(ctx, b.schema(), window, k)?));
        }
        match w {
            Worker::Heaps(st) => {
                if over.load(Ordering::Relaxed) || !st.push(b, pos)? {
                    over.store(true, Ordering::Relaxed);
                    let kept = st.take_kept()?;
                    *w = overflow(kept, b)?;
                }
                Ok(())
            }
            Worker::Overflow(c) => c.push(b.clone()),
            Worker::Empty => Ok(()),
        }
    })?;
    let mut heaps = Vec::new();
    let mut tables = Vec::new();
    for s in slots {
        let w = s.into_inner().map_err(|_| {
            Error::InvalidArgument("internal: a worker panicked in a window top-k".into())
        })?;
        match w {
            Some(Worker::Heaps(st)) => heaps.push(*st),
            Some(Worker::Overflow(c)) => tables.push(c.finish()?),
            Some(Worker::Empty) | None => {}
        }
    }
    if tables.is_empty() {
        return Ok(Box::new(finish(heaps, exprs)?.into_iter().map(Ok)));
    }
    // Over budget: the general operator takes everything, the kept rows of
    // workers that finished before noticing included.
    let mut kept = Vec::new();
    for mut st in heaps {
        kept.extend(st.take_kept()?);
    }
    let spilled = tables
        .into_iter()
        .flat_map(|t| (0..t.num_chunks()).map(move |i| Ok(t.chunks()[i].clone())));
    let rest: Vec<Result<RecordBatch>> = kept.into_iter().map(Ok).collect();
    let stream = run_window(
        ctx,
        job,
        rest.into_iter().chain(spilled),
        window,
        exprs,
        None,
    )?;
    Ok(Box::new(stream))
}

/// A kept row of one partition: order key, input position, row in the
/// concatenated kept rows.
type Kept = (Box<[u8]>, u64, u32);

/// The answer of the workers' heaps: per partition, the best `k` of all
/// its kept rows in order, numbered from 1.
fn finish(mut workers: Vec<TopK>, exprs: &[WindowExpr]) -> Result<Vec<RecordBatch>> {
    workers.retain(|w| !w.kept.is_empty());
    let Some(first) = workers.first() else {
        return Ok(Vec::new());
    };
    let (k, schema) = (first.k, first.schema.clone());
    let mut chunks = Vec::with_capacity(workers.len());
    let mut parts: HashMap<Vec<u8>, Vec<Kept>, RandomState> = HashMap::default();
    let mut base = 0u32;
    for mut w in workers {
        w.compact()?;
        let Some(chunk) = w.kept.pop() else { continue };
        for (part, heap) in std::mem::take(&mut w.heaps) {
            let rows = parts.entry(part).or_default();
            rows.extend(heap.into_iter().map(|e| (e.key, e.seq, base + e.row)));
        }
        base += chunk.num_rows() as u32;
        chunks.push(chunk);
        w.res.free();
    }
    let all = concat_batches(&schema, &chunks)?;
    drop(chunks);
    let mut idx: Vec<u32> = Vec::new();
    let mut numbers: Vec<i64> = Vec::new();
    for (_, mut rows) in parts {
        rows.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (n, (_, _, row)) in rows.into_iter().take(k).enumerate() {
            idx.push(row);
            numbers.push(n as i64 + 1);
        }
    }
    let rows = take_record_batch(&all, &UInt32Array::from(idx))?;
    let out_schema = super::output_schema(&schema, exprs)?;
    let name = &exprs[0].name;
    let rn: ArrayRef = Arc::new(Int64Array::from(numbers));
    let columns = out_schema
        .fields()
        .iter()
        .map(|f| {
            if f.name() == name {
                Ok(rn.clone())
            } else {
                rows.column_by_name(f.name()).cloned().ok_or_else(|| {
                    Error::InvalidArgument(format!("internal: no column '{}'", f.name()))
                })
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(vec![RecordBatch::try_new(out_schema, columns)?])
}

struct TopK {
    k: usize,
    schema: SchemaRef,
    part_cols: Vec<usize>,
    order_cols: Vec<usize>,
    part_conv: RowConverter,
    order_conv: RowConverter,
    /// Chunks of rows that entered a heap (some since pushed out).
    kept: Vec<RecordBatch>,
    kept_bytes: u64,
    /// Rows of `kept` still in a heap.
    live: usize,
    total: usize,
    /// Per partition (its row-encoded keys), the kept rows, worst on top.
    heaps: HashMap<Vec<u8>, BinaryHeap<Entry>, RandomState>,
    res: Reservation,
}

impl TopK {
    fn new(ctx: &Context, schema: SchemaRef, window: &Window, k: usize) -> Result<TopK> {
        let index = |c: &str| -> Result<usize> {
            schema.index_of(c).map_err(|_| {
                parframe_common::column_not_found(
                    c,
                    schema.fields().iter().map(|f| f.name().as_str()),
                )
            })
        };
        let part_cols = window
            .partition_by
            .iter()
            .map(|c| index(c))
            .collect::<Result<Vec<_>>>()?;
        let order_cols = window
            .order_by
            .iter()
            .map(|k| index(&k.column))
            .collect::<Result<Vec<_>>>()?;
        let part_conv = RowConverter::new(
            part_cols
                .iter()
                .map(|&i| SortField::new(schema.field(i).data_type().clone()))
                .collect(),
        )?;
        let order_conv = RowConverter::new(
            window
                .order_by
                .iter()
                .zip(&order_cols)
                .map(|(key, &i)| {
                    SortField::new_with_options(
                        schema.field(i).data_type().clone(),
                        key.sort_options(),
                    )
                })
                .collect(),
        )?;
        Ok(TopK {
            k,
            schema,
            part_cols,
            order_cols,
            part_conv,
            order_conv,
            kept: Vec::new(),
            kept_bytes: 0,
            live: 0,
            total: 0,
            heaps: HashMap::default(),
            res: ctx.memory_pool().reservation("window top-k"),
        })
    }

    /// Takes in a chunk. `false`: the reservation could not grow and
    /// nothing of `b` was taken (the caller hands over).
    fn push(&mut self, b: &RecordBatch, base: u64) -> Result<bool> {
        if b.schema() != self.schema {
            return Err(Error::InvalidArgument(
                "internal: window top-k input chunks differ in schema".into(),
            ));
        }
        let cols =
            |idx: &[usize]| -> Vec<ArrayRef> { idx.iter().map(|&i| b.column(i).clone()).collect() };
        // No keys: every row has the empty key (a converter of no
        // columns makes no rows).
        let encode = |conv: &RowConverter, idx: &[usize]| -> Result<Option<Rows>> {
            if idx.is_empty() {
                return Ok(None);
            }
            Ok(Some(conv.convert_columns(&cols(idx))?))
        };
        let parts = encode(&self.part_conv, &self.part_cols)?;
        let orders = encode(&self.order_conv, &self.order_cols)?;
        fn bytes_of(rows: &Option<Rows>, r: usize) -> &[u8] {
            match rows {
                Some(rows) => rows.row(r).data(),
                None => &[],
            }
        }
        // First the decisions, against the heaps as they are plus this
        // chunk's entrants, then the copy of the entrants.
        let chunk = self.kept.len() as u32;
        let mut entrants: Vec<u32> = Vec::new();
        let mut evicted = 0usize;
        let mut new_heap_bytes = 0u64;
        for r in 0..b.num_rows() {
            let seq = base + r as u64;
            let key = bytes_of(&orders, r);
            let part = bytes_of(&parts, r);
            // One lookup per row; the key is copied only for a new partition.
            let heap = match self.heaps.entry_ref(part) {
                EntryRef::Occupied(e) => e.into_mut(),
                EntryRef::Vacant(e) => {
                    new_heap_bytes += part.len() as u64 + ROW_OVERHEAD;
                    e.insert(BinaryHeap::new())
                }
            };
            if heap.len() >= self.k {
                match heap.peek() {
                    Some(top) if (key, seq) < (&top.key[..], top.seq) => {}
                    _ => continue,
                }
                heap.pop();
                evicted += 1;
            }
            heap.push(Entry {
                key: Box::from(key),
                seq,
                chunk,
                row: entrants.len() as u32,
            });
            entrants.push(r as u32);
        }
        if entrants.is_empty() {
            self.live -= evicted;
            return Ok(true);
        }
        let taken = take_record_batch(b, &UInt32Array::from(entrants.clone()))?;
        let bytes = slice_bytes(&taken)
            + orders.as_ref().map_or(0, |o| o.size() as u64) * entrants.len() as u64
                / b.num_rows().max(1) as u64
            + ROW_OVERHEAD * entrants.len() as u64
            + new_heap_bytes;
        if self.res.try_grow(bytes).is_err() {
            // Undo this chunk's entries: rebuild the heaps without them
            // is costly, so hand everything over instead; the caller
            // passes `b` on whole, and the kept chunks hold every row
            // that was in a heap before it.
            for h in self.heaps.values_mut() {
                let mut v = std::mem::take(h).into_vec();
                v.retain(|e| e.chunk != chunk);
                *h = BinaryHeap::from(v);
            }
            return Ok(false);
        }
        self.kept_bytes += bytes;
        self.kept.push(taken);
        self.live = self.live + entrants.len() - evicted;
        self.total += entrants.len();
        if self.total > 2 * self.live && self.kept.len() > 8 {
            self.compact()?;
        }
        Ok(true)
    }

    /// Copies the live rows into one chunk, dropping the pushed-out ones.
    fn compact(&mut self) -> Result<()> {
        let all = concat_batches(&self.schema, &self.kept)?;
        let offsets: Vec<u32> = self
            .kept
            .iter()
            .scan(0u32, |acc, c| {
                let o = *acc;
                *acc += c.num_rows() as u32;
                Some(o)
            })
            .collect();
        let mut idx: Vec<u32> = Vec::with_capacity(self.live);
        for h in self.heaps.values_mut() {
            let mut v = std::mem::take(h).into_vec();
            for e in v.iter_mut() {
                idx.push(offsets[e.chunk as usize] + e.row);
                e.chunk = 0;
                e.row = (idx.len() - 1) as u32;
            }
            *h = BinaryHeap::from(v);
        }
        let one = take_record_batch(&all, &UInt32Array::from(idx))?;
        let old = slice_bytes(&one);
        let before: u64 = self.kept.iter().map(slice_bytes).sum();
        self.kept = vec![one];
        self.total = self.live;
        let freed = before.saturating_sub(old);
        self.kept_bytes = self.kept_bytes.saturating_sub(freed);
        self.res.shrink(freed);
        Ok(())
    }

    /// The chunks holding every row still in a heap (and maybe others).
    fn take_kept(&mut self) -> Result<Vec<RecordBatch>> {
        self.compact()?;
        Ok(std::mem::take(&mut self.kept))
    }
}
