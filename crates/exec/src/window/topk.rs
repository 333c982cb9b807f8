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
//! # Design: the per-row path
//! Most rows are rejected: with random order, a partition of `n` rows
//! admits about `k (1 + ln(n / k))` of them. So the cost is the test a
//! rejected row pays, and it is kept to two array reads:
//! - partitions are numbered by the group-by's groupers
//!   ([`crate::aggregate::groups`]: typed hash maps for an integer or a
//!   string key, `arrow-row` bytes otherwise), a chunk at a time;
//! - for `k <= 16`, each partition's `k` kept rows sit side by side in one
//!   flat array, as a small max-heap whose top is the row to beat (or an
//!   empty slot), so a rejected row reads one place; larger `k` keeps a
//!   growing heap per partition ([`Store`]);
//! - an order key whose row encoding has a fixed width of at most 16 bytes
//!   (one number, date or
//!   timestamp; two of 32 bits) is kept as two words whose
//!   order is the bytes' order ([`OrderKey`]); wider or variable-width
//!   keys are kept as boxed bytes.
//!
//! Before this design the heaps sat in a hash map keyed by the partition's
//! row bytes, each entry's key boxed: four dependent cache misses per row,
//! 3x slower on db-benchmark q8.
//!
//! Memory: the kept rows, their keys, the partitions' numbering and the
//! heaps are under one reservation. When it cannot grow (k x partitions
//! rows do not fit the budget), the rows kept so far and the rest of the
//! input go to the general window operator, which spills: every row
//! dropped so far was beaten by `k` rows of its own partition, so it
//! cannot be in the answer and the result is the same.

use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::{ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::{DataType, SchemaRef};
use arrow_select::interleave::interleave_record_batch;
use arrow_select::take::take_record_batch;
use parframe_common::{Error, Result};
use parframe_core::slice_bytes;
use parframe_spill::Reservation;

use super::exec::run_window;
use super::{Window, WindowExpr, WindowFunction};
use crate::Context;
use crate::aggregate::groups::{Grouper, KeyHasher, new_grouper};
use crate::collect::Collector;
use crate::context::JobMetrics;
use crate::physical::BatchStream;

/// An order key as kept, ordered as the `arrow-row` bytes it is made of.
trait OrderKey: Ord + Clone + Send + Sync + 'static {
    fn from_row(bytes: &[u8]) -> Self;
    /// How this key compares with the key of row bytes `bytes` (without
    /// making one: a boxed key would allocate for every row).
    fn cmp_row(&self, bytes: &[u8]) -> std::cmp::Ordering;
    /// Heap bytes held beyond the value itself.
    fn heap_bytes(&self) -> u64;
}

/// Row bytes of one fixed width up to 16 as two big-endian words: for
/// byte strings of one length, the words' order is the bytes' order. (Two
/// `u64`s rather than a `u128`, whose 16-byte alignment would pad every
/// kept entry.)
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Narrow {
    hi: u64,
    lo: u64,
}

impl OrderKey for Narrow {
    fn from_row(bytes: &[u8]) -> Self {
        let mut b = [0u8; 16];
        let n = bytes.len().min(16);
        b[..n].copy_from_slice(&bytes[..n]);
        let (hi, lo) = b.split_at(8);
        let word = |s: &[u8]| s.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        Narrow {
            hi: word(hi),
            lo: word(lo),
        }
    }
    fn cmp_row(&self, bytes: &[u8]) -> std::cmp::Ordering {
        self.cmp(&Narrow::from_row(bytes))
    }
    fn heap_bytes(&self) -> u64 {
        0
    }
}

impl OrderKey for Box<[u8]> {
    fn from_row(bytes: &[u8]) -> Self {
        Box::from(bytes)
    }
    fn cmp_row(&self, bytes: &[u8]) -> std::cmp::Ordering {
        (**self).cmp(bytes)
    }
    fn heap_bytes(&self) -> u64 {
        self.len() as u64
    }
}

/// The width of the `arrow-row` encoding of order keys of these types when
/// it is the same for every row: a null byte plus the value's bytes for
/// each fixed-width primitive type. `None` for any other type.
fn fixed_row_width(types: &[DataType]) -> Option<usize> {
    types
        .iter()
        .map(|t| match t {
            DataType::Boolean => Some(2),
            t if t.is_primitive() => t.primitive_width().map(|w| 1 + w),
            _ => None,
        })
        .sum()
}

/// One kept row: its order key, arrival number, and place in `kept`.
struct Entry<K> {
    key: K,
    seq: u64,
    chunk: u32,
    row: u32,
}

impl<K: OrderKey> Entry<K> {
    /// An empty slot of a flat store ([`Store::Flat`]): worse than any row.
    fn empty() -> Self {
        Entry {
            key: K::from_row(&[]),
            seq: u64::MAX,
            chunk: u32::MAX,
            row: 0,
        }
    }
    fn is_empty(&self) -> bool {
        self.chunk == u32::MAX
    }
}

impl<K: Ord> PartialEq for Entry<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl<K: Ord> Eq for Entry<K> {}
impl<K: Ord> PartialOrd for Entry<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K: Ord> Ord for Entry<K> {
    /// Worse rows compare greater: the heap's top is the one to push out.
    /// An empty slot is the worst of all.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let empty = |e: &Self| e.chunk == u32::MAX;
        empty(self)
            .cmp(&empty(other))
            .then_with(|| self.key.cmp(&other.key))
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
enum Worker<'a, K> {
    Empty,
    Heaps(Box<TopK<K>>),
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
    input: BatchStream,
    window: &Window,
    exprs: &[WindowExpr],
    k: usize,
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send + Sync>> {
    let schema = input.schema();
    let spec = Spec::new(&schema, window)?;
    let order_types: Vec<DataType> = spec
        .order_cols
        .iter()
        .map(|&i| schema.field(i).data_type().clone())
        .collect();
    match fixed_row_width(&order_types) {
        Some(w) if w <= 16 => run::<Narrow>(ctx, job, input, window, exprs, k, &spec),
        _ => run::<Box<[u8]>>(ctx, job, input, window, exprs, k, &spec),
    }
}

/// What the workers share: the key columns and their encodings.
struct Spec {
    part_cols: Vec<usize>,
    part_types: Vec<DataType>,
    order_cols: Vec<usize>,
    order_fields: Vec<SortField>,
    hasher: KeyHasher,
}

impl Spec {
    fn new(schema: &SchemaRef, window: &Window) -> Result<Spec> {
        let (part_cols, order_cols) = super::exec::key_columns(schema, window)?;
        let order_fields = window
            .order_by
            .iter()
            .zip(&order_cols)
            .map(|(key, &i)| {
                SortField::new_with_options(schema.field(i).data_type().clone(), key.sort_options())
            })
            .collect();
        Ok(Spec {
            part_types: part_cols
                .iter()
                .map(|&i| schema.field(i).data_type().clone())
                .collect(),
            part_cols,
            order_cols,
            order_fields,
            hasher: KeyHasher::default(),
        })
    }
}

fn run<K: OrderKey>(
    ctx: &Context,
    job: &Arc<JobMetrics>,
    mut input: BatchStream,
    window: &Window,
    exprs: &[WindowExpr],
    k: usize,
    spec: &Spec,
) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send + Sync>> {
    let threads = ctx.config().threads.max(1);
    let over = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Worker<'_, K>>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    let overflow = |kept: Vec<RecordBatch>, b: &RecordBatch| -> Result<Worker<'_, K>> {
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
            *w = Worker::Heaps(Box::new(TopK::new(ctx, b.schema(), spec, k)?));
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
        return Ok(Box::new(finish(heaps, exprs, spec)?.into_iter().map(Ok)));
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

/// A kept row of one partition: order key, input position, and (worker's
/// chunk, row) in the workers' compacted rows.
type Kept<K> = (K, u64, (usize, usize));

/// The answer of the workers' heaps: per partition, the best `k` of all
/// its kept rows in order, numbered from 1. The workers' partitions are
/// matched by their keys through one more grouper.
fn finish<K: OrderKey>(
    mut workers: Vec<TopK<K>>,
    exprs: &[WindowExpr],
    spec: &Spec,
) -> Result<Vec<RecordBatch>> {
    workers.retain(|w| !w.kept.is_empty());
    let Some(first) = workers.first() else {
        return Ok(Vec::new());
    };
    let (k, schema) = (first.k, first.schema.clone());
    let mut chunks = Vec::with_capacity(workers.len());
    let mut all_parts = new_grouper(&spec.part_types, &spec.hasher, false)?;
    let mut parts: Vec<Vec<Kept<K>>> = Vec::new();
    let mut ids = Vec::new();
    for mut w in workers {
        w.compact()?;
        let Some(chunk) = w.kept.pop() else { continue };
        ids.clear();
        let n = w.grouper.num_groups();
        all_parts.group_ids(&w.grouper.keys()?, n, &mut ids)?;
        parts.resize_with(all_parts.num_groups(), Vec::new);
        let store = std::mem::replace(&mut w.store, Store::new(k));
        for (rows, &g) in store.into_partitions(k).into_iter().zip(&ids) {
            let c = chunks.len();
            parts[g as usize].extend(
                rows.into_iter()
                    .map(|e| (e.key, e.seq, (c, e.row as usize))),
            );
        }
        chunks.push(chunk);
        w.res.free();
    }
    let mut idx: Vec<(usize, usize)> = Vec::new();
    let mut numbers: Vec<i64> = Vec::new();
    for mut rows in parts {
        rows.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (n, (_, _, row)) in rows.into_iter().take(k).enumerate() {
            idx.push(row);
            numbers.push(n as i64 + 1);
        }
    }
    if idx.is_empty() {
        return Ok(Vec::new());
    }
    let chunks: Vec<&RecordBatch> = chunks.iter().collect();
    let rows = interleave_record_batch(&chunks, &idx)?;
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

/// Partitions up to this `k` keep their rows in fixed slots side by side
/// (`k` per partition, allocated with it); larger `k` grows a heap per
/// partition as rows enter, so many small partitions do not each hold
/// room for `k`.
const FLAT_K: usize = 16;

/// The kept rows of every partition of one worker, worst on top.
enum Store<K> {
    /// `k` slots per partition at `g * k`, each run a max-heap in which an
    /// empty slot is the worst entry: the top is the row a new row must
    /// beat, or an empty slot. One cache line or two per partition, and the
    /// test a rejected row pays reads only the top.
    Flat(Vec<Entry<K>>),
    /// A heap per partition.
    Heaps(Vec<BinaryHeap<Entry<K>>>),
}

impl<K: OrderKey> Store<K> {
    fn new(k: usize) -> Self {
        if k <= FLAT_K {
            Store::Flat(Vec::new())
        } else {
            Store::Heaps(Vec::new())
        }
    }

    /// Room for partitions up to `groups`; the bytes this took.
    fn grow(&mut self, groups: usize, k: usize) -> u64 {
        match self {
            Store::Flat(slots) => {
                let before = slots.capacity();
                slots.resize_with(groups * k, Entry::empty);
                ((slots.capacity() - before) * std::mem::size_of::<Entry<K>>()) as u64
            }
            Store::Heaps(heaps) => {
                let before = heaps.capacity();
                heaps.resize_with(groups, BinaryHeap::new);
                ((heaps.capacity() - before) * std::mem::size_of::<BinaryHeap<Entry<K>>>()) as u64
            }
        }
    }

    /// Bytes to charge for a row entering, beyond its key's heap bytes: a
    /// flat store has its slots already; a heap may double its buffer, so
    /// two entries per row bound what the heaps' buffers hold.
    fn entry_charge(&self) -> u64 {
        match self {
            Store::Flat(_) => 0,
            Store::Heaps(_) => 2 * std::mem::size_of::<Entry<K>>() as u64,
        }
    }

    /// The bytes held: buffers by capacity, and the kept keys' heap bytes.
    fn bytes(&self) -> u64 {
        let entry = std::mem::size_of::<Entry<K>>() as u64;
        let keys =
            |es: &mut dyn Iterator<Item = &Entry<K>>| es.map(|e| e.key.heap_bytes()).sum::<u64>();
        match self {
            Store::Flat(slots) => slots.capacity() as u64 * entry + keys(&mut slots.iter()),
            Store::Heaps(heaps) => {
                let header = std::mem::size_of::<BinaryHeap<Entry<K>>>() as u64;
                heaps.capacity() as u64 * header
                    + heaps
                        .iter()
                        .map(|h| h.capacity() as u64 * entry + keys(&mut h.iter()))
                        .sum::<u64>()
            }
        }
    }

    /// The kept row that a new row of partition `g` must beat, or `None`
    /// when the partition has room.
    fn bar(&self, g: usize, k: usize) -> Option<&Entry<K>> {
        match self {
            Store::Flat(slots) => Some(&slots[g * k]).filter(|e| !e.is_empty()),
            Store::Heaps(heaps) => heaps[g].peek().filter(|_| heaps[g].len() >= k),
        }
    }

    /// Puts `e` into partition `g` (which has room, or whose top `e`
    /// beats); whether a kept row was pushed out.
    fn enter(&mut self, g: usize, k: usize, e: Entry<K>) -> bool {
        match self {
            Store::Flat(slots) => {
                let heap = &mut slots[g * k..(g + 1) * k];
                let evicted = !heap[0].is_empty();
                heap[0] = e;
                sift_down(heap);
                evicted
            }
            Store::Heaps(heaps) => {
                let heap = &mut heaps[g];
                let evicted = heap.len() >= k && heap.pop().is_some();
                heap.push(e);
                evicted
            }
        }
    }

    /// Every kept row (the heaps' order is theirs to keep: only `chunk`
    /// and `row` may change).
    fn for_each_mut(&mut self, mut f: impl FnMut(&mut Entry<K>)) {
        match self {
            Store::Flat(slots) => slots.iter_mut().filter(|e| !e.is_empty()).for_each(f),
            Store::Heaps(heaps) => {
                for h in heaps {
                    let mut v = std::mem::take(h).into_vec();
                    v.iter_mut().for_each(&mut f);
                    *h = BinaryHeap::from(v);
                }
            }
        }
    }

    /// Drops the rows that came from kept chunk `chunk` (leaving the
    /// partitions' order unfit for more rows: only a hand-over follows).
    fn forget_chunk(&mut self, chunk: u32) {
        match self {
            Store::Flat(slots) => slots
                .iter_mut()
                .filter(|e| e.chunk == chunk)
                .for_each(|e| *e = Entry::empty()),
            Store::Heaps(heaps) => {
                for h in heaps {
                    let mut v = std::mem::take(h).into_vec();
                    v.retain(|e| e.chunk != chunk);
                    *h = BinaryHeap::from(v);
                }
            }
        }
    }

    /// The kept rows of each partition, in partition order.
    fn into_partitions(self, k: usize) -> Vec<Vec<Entry<K>>> {
        match self {
            Store::Flat(slots) => {
                let mut out = Vec::with_capacity(slots.len() / k.max(1));
                let mut it = slots.into_iter();
                while it.len() > 0 {
                    out.push(it.by_ref().take(k).filter(|e| !e.is_empty()).collect());
                }
                out
            }
            Store::Heaps(heaps) => heaps.into_iter().map(|h| h.into_vec()).collect(),
        }
    }
}

/// Restores the max-heap order of `heap` after its top was replaced.
/// (Hand-written because std's `BinaryHeap` owns its buffer: it cannot be
/// one run of a shared one.)
fn sift_down<T: Ord>(heap: &mut [T]) {
    let mut i = 0;
    loop {
        let l = 2 * i + 1;
        if l >= heap.len() {
            return;
        }
        let c = if l + 1 < heap.len() && heap[l + 1] > heap[l] {
            l + 1
        } else {
            l
        };
        if heap[c] <= heap[i] {
            return;
        }
        heap.swap(i, c);
        i = c;
    }
}

struct TopK<K> {
    k: usize,
    schema: SchemaRef,
    part_cols: Vec<usize>,
    order_cols: Vec<usize>,
    /// `None` without order keys: every row's key is the empty one.
    order_conv: Option<RowConverter>,
    /// Numbers the partitions seen by this worker.
    grouper: Box<dyn Grouper>,
    /// Bytes of `grouper` charged to `res`.
    grouper_bytes: u64,
    /// Scratch: the partitions of the chunk being pushed.
    ids: Vec<u32>,
    /// Chunks of rows that entered a heap (some since pushed out).
    kept: Vec<RecordBatch>,
    /// Rows of `kept` still in a heap.
    live: usize,
    total: usize,
    /// Per partition (numbered by `grouper`), the kept rows.
    store: Store<K>,
    res: Reservation,
}

impl<K: OrderKey> TopK<K> {
    fn new(ctx: &Context, schema: SchemaRef, spec: &Spec, k: usize) -> Result<TopK<K>> {
        let order_conv = if spec.order_fields.is_empty() {
            None
        } else {
            Some(RowConverter::new(spec.order_fields.clone())?)
        };
        Ok(TopK {
            k,
            schema,
            part_cols: spec.part_cols.clone(),
            order_cols: spec.order_cols.clone(),
            order_conv,
            grouper: new_grouper(&spec.part_types, &spec.hasher, false)?,
            grouper_bytes: 0,
            ids: Vec::new(),
            kept: Vec::new(),
            live: 0,
            total: 0,
            store: Store::new(k),
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
        if self.k == 0 {
            return Ok(true);
        }
        let cols =
            |idx: &[usize]| -> Vec<ArrayRef> { idx.iter().map(|&i| b.column(i).clone()).collect() };
        let orders: Option<Rows> = match &self.order_conv {
            Some(conv) => Some(conv.convert_columns(&cols(&self.order_cols))?),
            None => None,
        };
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        self.grouper
            .group_ids(&cols(&self.part_cols), b.num_rows(), &mut ids)?;
        let grouper_bytes = self.grouper.size() as u64;
        let structure = self.store.grow(self.grouper.num_groups(), self.k)
            + grouper_bytes.saturating_sub(self.grouper_bytes);
        // First the decisions, against the heaps as they are plus this
        // chunk's entrants, then the copy of the entrants.
        let (k, chunk) = (self.k, self.kept.len() as u32);
        let entry_charge = self.store.entry_charge();
        let mut entrants: Vec<u32> = Vec::new();
        let mut evicted = 0usize;
        let mut key_bytes = 0u64;
        for (r, &g) in ids.iter().enumerate() {
            let g = g as usize;
            let seq = base + r as u64;
            let bytes = orders.as_ref().map_or(&[][..], |o| o.row(r).data());
            if let Some(bar) = self.store.bar(g, k) {
                // Enter only below the bar: ties keep the earlier row.
                match bar.key.cmp_row(bytes) {
                    std::cmp::Ordering::Less => continue,
                    std::cmp::Ordering::Equal if seq >= bar.seq => continue,
                    _ => {}
                }
            }
            let key = K::from_row(bytes);
            key_bytes += key.heap_bytes() + entry_charge;
            let e = Entry {
                key,
                seq,
                chunk,
                row: entrants.len() as u32,
            };
            evicted += usize::from(self.store.enter(g, k, e));
            entrants.push(r as u32);
        }
        self.ids = ids;
        let taken = if entrants.is_empty() {
            None
        } else {
            Some(take_record_batch(b, &UInt32Array::from(entrants.clone()))?)
        };
        let bytes = taken.as_ref().map_or(0, slice_bytes) + key_bytes + structure;
        if self.res.try_grow(bytes).is_err() {
            // Undo this chunk's entries: the caller passes `b` on whole,
            // and the kept chunks hold every row that was in a heap before
            // it (or pushed out by a row of `b`, which still beats it).
            self.store.forget_chunk(chunk);
            return Ok(false);
        }
        self.grouper_bytes = grouper_bytes.max(self.grouper_bytes);
        self.live = self.live + entrants.len() - evicted;
        let Some(taken) = taken else {
            return Ok(true);
        };
        self.kept.push(taken);
        self.total += entrants.len();
        if self.total > 2 * self.live && self.kept.len() > 8 {
            self.compact()?;
        }
        Ok(true)
    }

    /// Copies the live rows into one chunk, dropping the pushed-out ones.
    fn compact(&mut self) -> Result<()> {
        // (chunk, row) of every live row, straight from the kept chunks:
        // no concatenated copy of them all.
        let mut idx: Vec<(usize, usize)> = Vec::with_capacity(self.live);
        self.store.for_each_mut(|e| {
            idx.push((e.chunk as usize, e.row as usize));
            e.chunk = 0;
            e.row = (idx.len() - 1) as u32;
        });
        let chunks: Vec<&RecordBatch> = self.kept.iter().collect();
        let one = if chunks.is_empty() {
            RecordBatch::new_empty(self.schema.clone())
        } else {
            interleave_record_batch(&chunks, &idx)?
        };
        self.kept = vec![one];
        self.total = self.live;
        // The charges since the last compaction bound what was added;
        // what is held now is known exactly: charge that.
        let held = slice_bytes(&self.kept[0]) + self.store.bytes() + self.grouper_bytes;
        if held < self.res.size() {
            self.res.shrink(self.res.size() - held);
        }
        Ok(())
    }

    /// The chunks holding every row still in a heap (and maybe others).
    fn take_kept(&mut self) -> Result<Vec<RecordBatch>> {
        self.compact()?;
        Ok(std::mem::take(&mut self.kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Date32Array, Float64Array, Int8Array, Int32Array};
    use arrow_schema::SortOptions;
    use proptest::prelude::*;

    /// Columns of the types admitted as narrow keys, from one seed each.
    fn columns(ints: &[Option<i32>], floats: &[Option<f64>]) -> Vec<ArrayRef> {
        vec![
            Arc::new(Int8Array::from_iter(
                ints.iter().map(|v| v.map(|x| x as i8)),
            )),
            Arc::new(Int32Array::from(ints.to_vec())),
            Arc::new(Float64Array::from(floats.to_vec())),
            Arc::new(Date32Array::from(ints.to_vec())),
            Arc::new(BooleanArray::from_iter(
                ints.iter().map(|v| v.map(|x| x % 2 == 0)),
            )),
            Arc::new(Int64Array::from_iter(ints.iter().map(|v| v.map(i64::from)))),
        ]
    }

    proptest! {
        /// `fixed_row_width` is the width arrow-row gives every row, and a
        /// narrow key orders as its bytes, for one or two key columns of
        /// the admitted types, both directions, nulls first or last.
        #[test]
        fn narrow_keys_order_as_their_bytes(
            ints in proptest::collection::vec(proptest::option::of(-300i32..300), 1..40),
            seed in proptest::collection::vec(proptest::option::of(-1e3f64..1e3), 40),
            pick in proptest::collection::vec((0usize..6, any::<bool>(), any::<bool>()), 1..3),
        ) {
            let mut floats = seed[..ints.len()].to_vec();
            floats[0] = Some(f64::NAN);
            let cols = columns(&ints, &floats);
            let chosen: Vec<ArrayRef> = pick.iter().map(|(c, _, _)| cols[*c].clone()).collect();
            let fields: Vec<SortField> = pick
                .iter()
                .map(|(c, desc, nf)| {
                    SortField::new_with_options(
                        cols[*c].data_type().clone(),
                        SortOptions { descending: *desc, nulls_first: *nf },
                    )
                })
                .collect();
            let types: Vec<DataType> = chosen.iter().map(|c| c.data_type().clone()).collect();
            let rows = RowConverter::new(fields).unwrap().convert_columns(&chosen).unwrap();
            let width = fixed_row_width(&types).unwrap();
            for r in rows.iter() {
                prop_assert_eq!(r.data().len(), width);
            }
            if width <= 16 {
                for a in rows.iter() {
                    for b in rows.iter() {
                        let (ka, kb) = (Narrow::from_row(a.data()), Narrow::from_row(b.data()));
                        prop_assert_eq!(ka.cmp(&kb), a.data().cmp(b.data()));
                        prop_assert_eq!(ka.cmp_row(b.data()), a.data().cmp(b.data()));
                    }
                }
            }
        }
    }

    #[test]
    fn variable_width_keys_are_not_narrow() {
        assert_eq!(fixed_row_width(&[DataType::Utf8]), None);
        assert_eq!(fixed_row_width(&[DataType::Int64, DataType::Utf8]), None);
        assert_eq!(fixed_row_width(&[DataType::Decimal128(15, 2)]), Some(17));
        assert_eq!(fixed_row_width(&[]), Some(0));
    }
}
