//! Sorting: [`SortKey`], the in-memory parallel sort, `top_k`, and the
//! external sort that spills sorted runs and k-way merges them.
//!
//! # How a sort runs
//! 1. **Run generation.** The input streams in windows of chunks. Each
//!    chunk's key columns are encoded with `arrow-row` (one byte string per
//!    row whose `memcmp` order is the requested order, for any key types,
//!    directions and null placements), its row indices are sorted by those
//!    keys (ties by position, so the sort is stable), and the chunk is
//!    gathered in that order: a *sorted chunk*, kept with its encoded keys.
//!    Chunks of a window are sorted in parallel on the context's pool.
//! 2. **Memory.** Before a window is sorted, the operator grows its
//!    [`Reservation`] by an estimate of what the sorted chunks will hold
//!    (the chunk's own Arrow size plus room for the encoded keys), then
//!    settles it to the real sizes (`get_array_memory_size` plus
//!    `Rows::size`). When the reservation cannot grow, the operator merges
//!    the sorted chunks it holds into one sorted run, writes that run to a
//!    spill file, frees the reservation and goes on.
//! 3. **Merge.** The spilled runs (read back through memory maps, zero-copy)
//!    and the sorted chunks still in memory are k-way merged on their encoded
//!    keys with a binary heap; ties go to the earlier run, which holds the
//!    earlier input, so the external sort is stable too. The merge decides
//!    the order of up to `chunk_rows` rows at a time and the output chunks of
//!    a window are gathered (`interleave`) in parallel. Output streams: the
//!    merge runs as the result is pulled. Spill files are removed when their
//!    run is exhausted or the stream is dropped. Merging reserves, per
//!    spilled run, the keys of its largest batch (recorded when the run was
//!    written); when the runs are too many for that, the first runs that fit
//!    are merged into one new run first (a multi-pass merge), repeatedly.
//!
//! `top_k` keeps only the `k` first rows of each chunk (a selection, then a
//! sort of those `k`), and folds them into the `k` best so far: memory is
//! `O(k)` per chunk, and nothing is fully sorted.
//!
//! # Memory held outside the reservation (the stated overhead)
//! The reservation covers the sorted chunks and their keys, and the keys of
//! the current batch of every spilled run during the merge; while a chunk
//! is sorted it also covers the input chunk and the unsorted keys. The
//! upstream window of chunks waiting to be pulled is under the upstream
//! stream's reservation (see `physical`). Not covered: the index vector of
//! the chunks being sorted and the output chunks being gathered (`threads`
//! chunks of `chunk_rows` rows). Spilled runs are read through memory maps:
//! their pages are file-backed and the OS may drop them at any time.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::{Schema, SchemaRef};
use arrow_select::concat::concat_batches;
use arrow_select::interleave::interleave_record_batch;
use arrow_select::take::take_record_batch;
use parframe_common::{Error, Result, column_not_found, format_bytes};
use parframe_core::{array_slice_bytes, held_bytes, slice_bytes};
use parframe_spill::{Reservation, SpillFile, SpillReader, compact_views};
use rayon::prelude::*;

use crate::Context;
use crate::context::JobMetrics;

pub use parframe_plan::sort::SortKey;

/// What the sort of one job needs to know about its keys, resolved against
/// the schema of the chunks it receives.
struct KeyCodec {
    converter: RowConverter,
    key_idx: Vec<usize>,
}

impl KeyCodec {
    fn new(schema: &Schema, keys: &[SortKey]) -> Result<Self> {
        let mut fields = Vec::with_capacity(keys.len());
        let mut key_idx = Vec::with_capacity(keys.len());
        for k in keys {
            let i = schema.index_of(&k.column).map_err(|_| {
                column_not_found(&k.column, schema.fields().iter().map(|f| f.name().as_str()))
            })?;
            key_idx.push(i);
            fields.push(SortField::new_with_options(
                schema.field(i).data_type().clone(),
                k.sort_options(),
            ));
        }
        Ok(KeyCodec {
            converter: RowConverter::new(fields)?,
            key_idx,
        })
    }

    fn rows(&self, batch: &RecordBatch) -> Result<Rows> {
        let cols: Vec<ArrayRef> = self
            .key_idx
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        Ok(self.converter.convert_columns(&cols)?)
    }

    /// A generous estimate of what sorting `batch` will hold at its peak:
    /// the input chunk itself (it left the upstream window's reservation
    /// when it was pulled, and lives until its sorted copy is made), the
    /// sorted copy, and the encoded keys unsorted and sorted (each at most
    /// about twice the key columns, plus an offset per row). Settled to the
    /// sorted copy and its keys once sorted.
    fn estimate(&self, batch: &RecordBatch) -> u64 {
        let all = slice_bytes(batch);
        let keys: u64 = self
            .key_idx
            .iter()
            .map(|&i| array_slice_bytes(batch.column(i).as_ref()))
            .sum();
        2 * all + 4 * keys + 32 * batch.num_rows() as u64 + 1024
    }
}

/// The fewest rows of a slice a chunk is cut into when the chunk alone
/// does not fit the budget: below this the budget is too small to sort at
/// all, and saying so beats crawling.
const MIN_SPLIT_ROWS: usize = 1024;

/// A chunk in key order, with its encoded keys (in the same order) and
/// the bytes reserved for both.
struct SortedChunk {
    batch: RecordBatch,
    rows: Rows,
    bytes: u64,
}

/// Sorts one chunk stably by `codec`'s keys, keeping only the first
/// `limit` rows when given (a selection, then a sort of the selected rows).
fn sort_chunk(codec: &KeyCodec, batch: &RecordBatch, limit: Option<usize>) -> Result<SortedChunk> {
    let n = batch.num_rows();
    let Ok(n32) = u32::try_from(n) else {
        return Err(Error::NotSupported(format!(
            "sorting a chunk of {n} rows (at most {} per chunk)",
            u32::MAX
        )));
    };
    let rows = codec.rows(batch)?;
    let mut idx: Vec<u32> = (0..n32).collect();
    let cmp = |a: &u32, b: &u32| {
        rows.row(*a as usize)
            .cmp(&rows.row(*b as usize))
            .then(a.cmp(b))
    };
    if let Some(k) = limit
        && k < n
    {
        if k == 0 {
            idx.clear();
        } else {
            idx.select_nth_unstable_by(k - 1, cmp);
            idx.truncate(k);
        }
    }
    idx.sort_unstable_by(cmp);
    let mut sorted_rows = codec
        .converter
        .empty_rows(idx.len(), rows.size().min(idx.len() * 64));
    for &i in &idx {
        sorted_rows.push(rows.row(i as usize));
    }
    let sorted = take_record_batch(batch, &UInt32Array::from(idx))?;
    // Gathered views keep every data buffer of the chunk (and of the
    // chunks it was sliced from): held, and spilled, only what they use.
    let sorted = compact_views(&sorted)?.unwrap_or(sorted);
    let bytes = held_bytes(&sorted) + sorted_rows.size() as u64;
    Ok(SortedChunk {
        batch: sorted,
        rows: sorted_rows,
        bytes,
    })
}

/// Pulls up to `n` chunks from the input.
fn next_window(
    input: &mut dyn Iterator<Item = Result<RecordBatch>>,
    n: usize,
) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match input.next() {
            Some(b) => {
                let b = b?;
                if b.num_rows() > 0 {
                    out.push(b);
                }
            }
            None => break,
        }
    }
    Ok(out)
}

/// Runs the sort operator over `input`: consumes it (run generation,
/// spilling as the budget requires) and returns the merged output as a
/// stream, with only the columns in `needed` (`None`: all).
pub(crate) fn run_sort(
    ctx: &Context,
    job: &Arc<JobMetrics>,
    input: impl Iterator<Item = Result<RecordBatch>>,
    keys: &[SortKey],
    limit: Option<usize>,
    needed: Option<&[String]>,
) -> Result<SortedStream> {
    let threads = ctx.config().threads.max(1);
    let out_limit = limit;
    let consumer = if limit.is_some() { "top_k" } else { "sort" };
    let mut out = SortedStream {
        ctx: ctx.clone(),
        ready: VecDeque::new(),
        merger: None,
        projection: None,
        needed: needed.map(<[String]>::to_vec),
        reservation: ctx.memory_pool().reservation(consumer),
        remaining: None,
    };
    if limit == Some(0) {
        return Ok(out);
    }
    let mut owned = input;
    let input: &mut dyn Iterator<Item = Result<RecordBatch>> = &mut owned;
    let first = next_window(input, threads * 2)?;
    let Some(b0) = first.first() else {
        return Ok(out);
    };
    let codec = KeyCodec::new(b0.schema_ref(), keys)?;
    out.set_projection(b0.schema_ref());
    // A top-k holds its k rows several times over while it folds a window
    // (the best so far, each chunk's top k, their concatenation, the sorted
    // copy; `KeyCodec::estimate` of k rows): when that does not fit a
    // thread's share of the budget, the external sort runs instead (it
    // spills) and its output stops after k rows.
    let limit = limit.filter(|&k| {
        let rows: usize = first.iter().map(RecordBatch::num_rows).sum();
        let est: u64 = first.iter().map(|b| codec.estimate(b)).sum();
        let need = (est as f64 / rows.max(1) as f64 * k as f64 * 2.0) as u64;
        need <= ctx.memory_pool().limit() / threads as u64
    });
    if limit.is_none()
        && let Some(k) = out_limit
    {
        out.remaining = Some(k);
    }
    match limit {
        Some(k) => {
            let best = top_k(ctx, job, &codec, input, first, k, &mut out.reservation)?;
            let rows = ctx.config().chunk_rows.max(1);
            let mut off = 0;
            while off < best.num_rows() {
                let len = rows.min(best.num_rows() - off);
                out.ready.push_back(best.slice(off, len));
                off += len;
            }
        }
        None => {
            let mut runs = RunBuilder {
                ctx,
                job,
                codec: Arc::new(codec),
                chunks: Vec::new(),
                spilled: Vec::new(),
                reservation: ctx.memory_pool().reservation(consumer),
            };
            let mut window = first;
            while !window.is_empty() {
                runs.push_window(window)?;
                window = next_window(input, threads * 2)?;
            }
            drop(owned);
            let (merger, reservation) = runs.finish()?;
            out.merger = Some(merger);
            out.reservation = reservation;
        }
    }
    Ok(out)
}

/// The `k` first rows of the whole input in key order.
fn top_k(
    ctx: &Context,
    job: &JobMetrics,
    codec: &KeyCodec,
    input: &mut dyn Iterator<Item = Result<RecordBatch>>,
    first: Vec<RecordBatch>,
    k: usize,
    reservation: &mut Reservation,
) -> Result<RecordBatch> {
    let threads = ctx.config().threads.max(1);
    let mut best: Option<RecordBatch> = None;
    let mut window = first;
    while !window.is_empty() {
        let tops: Vec<Result<SortedChunk>> = ctx.install(|| {
            window
                .par_iter()
                .map(|b| sort_chunk(codec, b, Some(k)))
                .collect()
        });
        let mut parts: Vec<RecordBatch> = best.take().into_iter().collect();
        for t in tops {
            parts.push(t?.batch);
        }
        let schema = parts[0].schema();
        let all = concat_batches(&schema, &parts)?;
        drop(parts);
        let kept = sort_chunk(codec, &all, Some(k))?.batch;
        reservation.try_resize(held_bytes(&kept)).map_err(|e| {
            Error::ResourcesExhausted(format!(
                "top_k({k}) cannot hold its {k} rows within the memory limit ({e})"
            ))
        })?;
        job.note_reserved(reservation.size());
        best = Some(kept);
        window = next_window(input, threads * 2)?;
    }
    match best {
        Some(b) => Ok(b),
        None => Err(Error::InvalidArgument(
            "internal: top_k without input".into(),
        )),
    }
}

/// Run generation of the external sort: sorted chunks in memory under a
/// reservation, and the runs spilled so far (in input order).
struct RunBuilder<'a> {
    ctx: &'a Context,
    job: &'a JobMetrics,
    codec: Arc<KeyCodec>,
    chunks: Vec<SortedChunk>,
    spilled: Vec<RunFile>,
    reservation: Reservation,
}

/// A sorted run in a spill file, with a bound on the memory the encoded
/// keys of any one of its batches take (what merging it reserves).
struct RunFile {
    file: SpillFile,
    key_bound: u64,
}

impl RunBuilder<'_> {
    /// Sorts a window of input chunks in parallel, reserving before it
    /// holds them and spilling when the reservation cannot grow.
    fn push_window(&mut self, window: Vec<RecordBatch>) -> Result<()> {
        let mut pending: VecDeque<(RecordBatch, u64)> = window
            .into_iter()
            .map(|b| {
                let est = self.codec.estimate(&b);
                (b, est)
            })
            .collect();
        while !pending.is_empty() {
            let mut batch = Vec::new();
            let mut grown = 0u64;
            while let Some((_, est)) = pending.front() {
                if self.reservation.try_grow(*est).is_err() {
                    break;
                }
                grown += *est;
                if let Some((b, _)) = pending.pop_front() {
                    batch.push(b);
                }
            }
            if batch.is_empty() {
                if !self.chunks.is_empty() {
                    self.spill()?;
                    continue;
                }
                // Nothing left to spill and the chunk alone does not fit:
                // sort it in halves (each becomes a sorted chunk of its
                // own), down to a size where the budget is hopeless.
                if pending
                    .front()
                    .is_some_and(|(b, _)| b.num_rows() >= 2 * MIN_SPLIT_ROWS)
                    && let Some((b, _)) = pending.pop_front()
                {
                    let half = b.num_rows() / 2;
                    for part in [b.slice(half, b.num_rows() - half), b.slice(0, half)] {
                        let est = self.codec.estimate(&part);
                        pending.push_front((part, est));
                    }
                    continue;
                }
                let (b, est) = pending.front().map_or((0, 0), |(b, e)| (b.num_rows(), *e));
                return Err(Error::ResourcesExhausted(format!(
                    "sorting even {b} rows needs about {} but the memory limit is {} \
                     (with what other operators hold); raise the memory limit",
                    format_bytes(est),
                    format_bytes(self.reservation.pool().limit())
                )));
            }
            self.job.note_reserved(self.reservation.size());
            let codec = &*self.codec;
            let sorted: Vec<Result<SortedChunk>> = self.ctx.install(|| {
                batch
                    .par_iter()
                    .map(|b| sort_chunk(codec, b, None))
                    .collect()
            });
            drop(batch);
            let sorted = sorted.into_iter().collect::<Result<Vec<_>>>()?;
            let actual: u64 = sorted.iter().map(|c| c.bytes).sum();
            let mut sorted = sorted;
            let fits = if actual <= grown {
                self.reservation.shrink(grown - actual);
                true
            } else if self.reservation.try_grow(actual - grown).is_ok() {
                true
            } else {
                // Only `grown` is reserved for these chunks: record that
                // (the merge below gives back what each chunk records).
                let mut deficit = actual - grown;
                for c in sorted.iter_mut().rev() {
                    let d = deficit.min(c.bytes);
                    c.bytes -= d;
                    deficit -= d;
                }
                false
            };
            self.chunks.extend(sorted);
            if !fits {
                // Held for a moment beyond the estimate: spill at once.
                self.spill()?;
            }
        }
        Ok(())
    }

    /// Merges the sorted chunks in memory into one run, writes it to a
    /// spill file and frees their memory.
    fn spill(&mut self) -> Result<()> {
        let chunks = std::mem::take(&mut self.chunks);
        if chunks.is_empty() {
            return Ok(());
        }
        let file = self.merge_to_file(chunks.into_iter().map(Run::in_memory).collect())?;
        self.spilled.push(file);
        Ok(())
    }

    /// Merges `runs` (in input order) into one sorted run in a new spill
    /// file, giving back their reserved memory as they are consumed.
    fn merge_to_file(&mut self, runs: Vec<Run>) -> Result<RunFile> {
        let Some(first) = runs.first() else {
            return Err(Error::InvalidArgument(
                "internal: merging no sorted runs".into(),
            ));
        };
        let schema = first.batch.schema();
        let dir = self.ctx.spill_dir()?;
        let mut writer = dir.new_file("sort run", schema.clone())?;
        let mut merger = Merger::new(
            Arc::clone(&self.codec),
            schema,
            runs,
            self.ctx.config().chunk_rows,
        );
        let threads = self.ctx.config().threads.max(1);
        loop {
            let out = merger.next_window(self.ctx, &mut self.reservation, threads)?;
            if out.is_empty() {
                break;
            }
            for b in &out {
                writer.write(b)?;
            }
        }
        let key_bound = merger.key_bound;
        drop(merger);
        let file = writer.finish()?;
        self.job.add_spill(file.stats());
        Ok(RunFile { file, key_bound })
    }

    /// Opens every spilled run, adds the chunks still in memory, and
    /// returns the merge of all of them.
    fn finish(mut self) -> Result<(Merger, Reservation)> {
        let schema = match (self.chunks.first(), self.spilled.first()) {
            (Some(c), _) => c.batch.schema(),
            (None, Some(f)) => f.file.schema().clone(),
            (None, None) => {
                return Ok((
                    Merger::new(
                        Arc::clone(&self.codec),
                        Arc::new(Schema::empty()),
                        Vec::new(),
                        1,
                    ),
                    self.reservation,
                ));
            }
        };
        let mut files: VecDeque<RunFile> = std::mem::take(&mut self.spilled).into();
        let mut runs = Vec::new();
        while let Some(f) = files.pop_front() {
            match Run::spilled(f, &self.codec, &mut self.reservation)? {
                Opened::Run(r) => runs.push(*r),
                Opened::Empty => {}
                Opened::NoRoom(f) if !self.chunks.is_empty() => {
                    // Make room for the merge's keys by spilling what is
                    // still in memory: it becomes the last run.
                    files.push_front(f);
                    self.spill()?;
                    files.extend(self.spilled.pop());
                }
                Opened::NoRoom(f) if runs.len() >= 2 => {
                    // Too many runs to merge at once: merge the ones that
                    // fit (the first ones, so input order is kept) into one
                    // new run that takes their place, and start over.
                    files.push_front(f);
                    let merged = self.merge_to_file(std::mem::take(&mut runs))?;
                    files.push_front(merged);
                }
                Opened::NoRoom(f) => {
                    return Err(Error::ResourcesExhausted(format!(
                        "merging {} sorted runs needs the keys of one chunk of at least two \
                         of them in memory, which the memory limit of {} cannot hold ({} of it \
                         free); lower chunk_rows or raise the memory limit (at {})",
                        runs.len() + files.len() + 1,
                        format_bytes(self.reservation.pool().limit()),
                        format_bytes(self.reservation.pool().available()),
                        f.file.path().display()
                    )));
                }
            }
        }
        runs.extend(self.chunks.drain(..).map(Run::in_memory));
        self.job.note_reserved(self.reservation.size());
        let merger = Merger::new(
            Arc::clone(&self.codec),
            schema,
            runs,
            self.ctx.config().chunk_rows,
        );
        Ok((merger, self.reservation))
    }
}

/// A sorted run being merged: its current batch and encoded keys, the
/// position of its next row, and the batches still to come (spilled runs).
struct Run {
    batch: RecordBatch,
    rows: Rows,
    pos: usize,
    /// Index of `batch` in the merger's `sources`.
    source: usize,
    /// Bytes of the reservation held for `batch` and `rows`.
    reserved: u64,
    spilled: Option<SpilledRun>,
}

/// The rest of a spilled run: the file (removed when this drops), its
/// reader over the map, and the next batch to read.
struct SpilledRun {
    reader: SpillReader,
    next: usize,
    _file: SpillFile,
}

enum Opened {
    Run(Box<Run>),
    Empty,
    NoRoom(RunFile),
}

impl Run {
    fn in_memory(c: SortedChunk) -> Run {
        Run {
            batch: c.batch,
            rows: c.rows,
            pos: 0,
            source: 0,
            reserved: c.bytes,
            spilled: None,
        }
    }

    /// Opens a spilled run and reads its first batch, reserving memory for
    /// the keys of its largest batch (the batches themselves live in the
    /// map), so the merge need not grow the reservation as it moves on.
    fn spilled(run: RunFile, codec: &KeyCodec, res: &mut Reservation) -> Result<Opened> {
        let reader = run.file.read()?;
        let mut next = 0;
        while next < reader.num_batches() {
            let batch = reader.batch(next)?;
            next += 1;
            if batch.num_rows() == 0 {
                continue;
            }
            let rows = codec.rows(&batch)?;
            let bytes = (rows.size() as u64).max(run.key_bound);
            if res.try_grow(bytes).is_err() {
                return Ok(Opened::NoRoom(run));
            }
            return Ok(Opened::Run(Box::new(Run {
                batch,
                rows,
                pos: 0,
                source: 0,
                reserved: bytes,
                spilled: Some(SpilledRun {
                    reader,
                    next,
                    _file: run.file,
                }),
            })));
        }
        Ok(Opened::Empty)
    }
}

/// One output chunk of a merge, planned: the batches it takes rows from
/// and `(batch, row)` pairs in output order.
type ChunkPlan = (Vec<RecordBatch>, Vec<(usize, usize)>);

/// K-way merge of sorted runs on their encoded keys.
struct Merger {
    codec: Arc<KeyCodec>,
    schema: SchemaRef,
    runs: Vec<Run>,
    /// Indices of the runs with rows left, a min-heap by (current key, run).
    heap: Vec<usize>,
    /// The batches referenced by the output chunk being planned.
    sources: Vec<RecordBatch>,
    chunk_rows: usize,
    /// Reserved bytes of exhausted runs, given back once the chunks that
    /// may still reference them are gathered.
    release: u64,
    /// The most memory the encoded keys of one output chunk take (what a
    /// later merge of these chunks, spilled, reserves per run).
    key_bound: u64,
}

impl Merger {
    fn new(codec: Arc<KeyCodec>, schema: SchemaRef, runs: Vec<Run>, chunk_rows: usize) -> Self {
        let mut m = Merger {
            codec,
            schema,
            heap: (0..runs.len()).collect(),
            runs,
            sources: Vec::new(),
            chunk_rows: chunk_rows.max(1),
            release: 0,
            key_bound: 0,
        };
        for &r in &m.heap {
            m.runs[r].source = m.sources.len();
            m.sources.push(m.runs[r].batch.clone());
        }
        for i in (0..m.heap.len() / 2).rev() {
            m.sift_down(i);
        }
        m
    }

    /// Whether run `a`'s current row comes before run `b`'s.
    fn before(&self, a: usize, b: usize) -> bool {
        let (ra, rb) = (&self.runs[a], &self.runs[b]);
        ra.rows
            .row(ra.pos)
            .cmp(&rb.rows.row(rb.pos))
            .then(a.cmp(&b))
            .is_lt()
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                return;
            }
            let r = l + 1;
            let c = if r < n && self.before(self.heap[r], self.heap[l]) {
                r
            } else {
                l
            };
            if self.before(self.heap[c], self.heap[i]) {
                self.heap.swap(c, i);
                i = c;
            } else {
                return;
            }
        }
    }

    /// Moves run `r` to its next batch; false when it has none left (its
    /// memory is then marked for release).
    fn advance_batch(&mut self, r: usize, res: &mut Reservation) -> Result<bool> {
        let run = &mut self.runs[r];
        if let Some(sp) = &mut run.spilled {
            while sp.next < sp.reader.num_batches() {
                let batch = sp.reader.batch(sp.next)?;
                sp.next += 1;
                if batch.num_rows() == 0 {
                    continue;
                }
                let rows = self.codec.rows(&batch)?;
                let bytes = rows.size() as u64;
                if bytes > run.reserved {
                    // Beyond the bound recorded when the run was written
                    // (the allocator's rounding): rare and small.
                    res.try_grow(bytes - run.reserved)?;
                    run.reserved = bytes;
                }
                run.batch = batch;
                run.rows = rows;
                run.pos = 0;
                run.source = self.sources.len();
                self.sources.push(run.batch.clone());
                return Ok(true);
            }
        }
        // Exhausted: drop the batch (the planned chunk keeps what it needs),
        // the keys, and the spill file.
        self.release += run.reserved;
        run.reserved = 0;
        run.batch = RecordBatch::new_empty(Arc::clone(&self.schema));
        run.rows = self.codec.converter.empty_rows(0, 0);
        run.spilled = None;
        Ok(false)
    }

    /// Plans the next output chunk: the batches it takes rows from and
    /// `(batch, row)` pairs in output order. `None` when the merge is done.
    fn next_plan(&mut self, res: &mut Reservation) -> Result<Option<ChunkPlan>> {
        if self.heap.is_empty() {
            return Ok(None);
        }
        let mut idx = Vec::with_capacity(self.chunk_rows);
        let mut key_bytes = 0u64;
        while idx.len() < self.chunk_rows {
            let Some(&top) = self.heap.first() else {
                break;
            };
            let run = &mut self.runs[top];
            idx.push((run.source, run.pos));
            key_bytes += run.rows.row_len(run.pos) as u64;
            run.pos += 1;
            if run.pos == run.batch.num_rows() && !self.advance_batch(top, res)? {
                let last = self.heap.len() - 1;
                self.heap.swap(0, last);
                self.heap.pop();
            }
            self.sift_down(0);
        }
        // Rows::size: the bytes, an offset per row and one more, the struct.
        let bound = key_bytes + 8 * (idx.len() as u64 + 1) + 256;
        self.key_bound = self.key_bound.max(bound);
        let sources = std::mem::take(&mut self.sources);
        for &r in &self.heap {
            self.runs[r].source = self.sources.len();
            self.sources.push(self.runs[r].batch.clone());
        }
        Ok(Some((sources, idx)))
    }

    /// The next `n` output chunks (fewer at the end, none when done),
    /// gathered in parallel.
    fn next_window(
        &mut self,
        ctx: &Context,
        res: &mut Reservation,
        n: usize,
    ) -> Result<Vec<RecordBatch>> {
        let mut plans = Vec::with_capacity(n);
        while plans.len() < n {
            match self.next_plan(res)? {
                Some(p) => plans.push(p),
                None => break,
            }
        }
        let out: Vec<Result<RecordBatch>> = ctx.install(|| {
            plans
                .par_iter()
                .map(|(sources, idx)| {
                    let refs: Vec<&RecordBatch> = sources.iter().collect();
                    Ok(interleave_record_batch(&refs, idx)?)
                })
                .collect()
        });
        drop(plans);
        res.shrink(self.release);
        self.release = 0;
        out.into_iter().collect()
    }
}

/// The output of a sort or `top_k`: chunks in key order, merged as they
/// are pulled.
pub(crate) struct SortedStream {
    ctx: Context,
    ready: VecDeque<RecordBatch>,
    merger: Option<Merger>,
    needed: Option<Vec<String>>,
    /// Indices of the `needed` columns in the sorted chunks.
    projection: Option<Vec<usize>>,
    reservation: Reservation,
    /// Rows still to give when a top-k ran as a full sort (`None`: all).
    remaining: Option<usize>,
}

impl SortedStream {
    fn set_projection(&mut self, schema: &Schema) {
        if let Some(cols) = &self.needed {
            self.projection = Some(
                (0..schema.fields().len())
                    .filter(|&i| cols.iter().any(|c| c == schema.field(i).name()))
                    .collect(),
            );
        }
    }
}

impl Iterator for SortedStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == Some(0) {
            // The top k rows are out: the rest of the merge is not needed.
            self.merger = None;
            self.ready.clear();
            self.reservation.free();
            return None;
        }
        if self.ready.is_empty()
            && let Some(m) = &mut self.merger
        {
            let threads = self.ctx.config().threads.max(1);
            match m.next_window(&self.ctx, &mut self.reservation, threads) {
                Ok(out) if out.is_empty() => {
                    self.merger = None;
                    self.reservation.free();
                }
                Ok(out) => self.ready.extend(out),
                Err(e) => {
                    self.merger = None;
                    self.reservation.free();
                    return Some(Err(e));
                }
            }
        }
        let mut b = self.ready.pop_front()?;
        if let Some(left) = &mut self.remaining {
            if b.num_rows() > *left {
                b = b.slice(0, *left);
            }
            *left -= b.num_rows();
        }
        Some(match &self.projection {
            Some(p) => b.project(p).map_err(Error::from),
            None => Ok(b),
        })
    }
}
