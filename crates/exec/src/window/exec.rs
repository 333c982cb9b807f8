//! The window operator.
//!
//! 1. **Hash partitioning.** With partition keys and more than one thread,
//!    the input is split by a hash of the partition keys into
//!    `2 × threads` (a power of two) *buckets*; every partition lands
//!    whole in one bucket. Pieces are held under one reservation per
//!    bucket; over budget (or over half of the pool, so the sorts that
//!    follow have room), the largest buckets are appended to a spill file
//!    of their own. Without partition keys (or on one thread) the input is
//!    one bucket, streamed straight into the sort.
//! 2. **Sort.** Each bucket is sorted by (partition keys, order keys) with
//!    the external sort of [`crate::sort`] (stable: ties keep input order),
//!    which spills sorted runs and merges them through memory maps as the
//!    budget requires. Up to `threads` buckets run at once, each on the
//!    context's pool.
//! 3. **Evaluation.** The sorted chunks of a bucket are cut at partition
//!    boundaries into *segments* of complete partitions; the rows of the
//!    last, maybe incomplete, partition wait (under a reservation) for the
//!    next chunk. All window expressions are evaluated over a segment in
//!    one pass, one output chunk at a time. When the waiting rows of one
//!    partition cannot be reserved, that partition is written to a spill
//!    file as it arrives and evaluated from the file's memory map: the
//!    rows are never all in memory, only a bitmap of one bit per row (its
//!    peer groups) is, under the reservation.
//!
//! Output chunks are the input columns with the window columns appended
//! (a window column named like an input column replaces it). Row order:
//! by bucket, then partition keys, then order keys.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{FieldRef, Schema, SchemaRef};
use arrow_select::take::take_record_batch;
use foldhash::quality::FixedState;
use parframe_common::{Error, Result, column_not_found};
use parframe_spill::{Reservation, SpillFile, SpillReader, SpillWriter};
use rayon::prelude::*;
use std::hash::BuildHasher;

use super::funcs::{Evaluator, Prepared};
use super::segment::{Segment, for_each_run_start, same_row};
use super::{Window, WindowExpr};
use crate::Context;
use crate::context::JobMetrics;
use crate::sort::{SortKey, run_sort};

/// A stream of result chunks.
type Chunks = Box<dyn Iterator<Item = Result<RecordBatch>> + Send + Sync>;

/// What the operator knows once it has seen the input's schema.
struct WindowOp {
    exprs: Vec<Prepared>,
    part_cols: Vec<usize>,
    order_cols: Vec<usize>,
    sort_keys: Vec<SortKey>,
    /// Output columns: an input column or a window expression.
    layout: Vec<Src>,
    schema: SchemaRef,
    input_schema: SchemaRef,
}

#[derive(Clone, Copy)]
enum Src {
    Input(usize),
    Window(usize),
}

/// The indices in `input` of `window`'s partition and order columns.
pub(super) fn key_columns(input: &Schema, window: &Window) -> Result<(Vec<usize>, Vec<usize>)> {
    let idx = |c: &str| {
        input
            .index_of(c)
            .map_err(|_| column_not_found(c, input.fields().iter().map(|f| f.name().as_str())))
    };
    let part_cols = window
        .partition_by
        .iter()
        .map(|c| idx(c))
        .collect::<Result<Vec<_>>>()?;
    let order_cols = window
        .order_by
        .iter()
        .map(|k| idx(&k.column))
        .collect::<Result<Vec<_>>>()?;
    Ok((part_cols, order_cols))
}

impl WindowOp {
    fn new(
        input: &Schema,
        window: &Window,
        exprs: &[WindowExpr],
        needed: Option<&[String]>,
    ) -> Result<Self> {
        let (part_cols, order_cols) = key_columns(input, window)?;
        let mut layout: Vec<Src> = (0..input.fields().len()).map(Src::Input).collect();
        let mut fields: Vec<FieldRef> = input.fields().iter().cloned().collect();
        let mut prepared = Vec::with_capacity(exprs.len());
        for (k, e) in exprs.iter().enumerate() {
            let f = Arc::new(e.to_field(input)?);
            prepared.push(Prepared::new(e, input)?);
            match fields.iter().position(|g| g.name() == f.name()) {
                Some(i) => {
                    fields[i] = f;
                    layout[i] = Src::Window(k);
                }
                None => {
                    fields.push(f);
                    layout.push(Src::Window(k));
                }
            }
        }
        if let Some(cols) = needed {
            let keep: Vec<usize> = (0..fields.len())
                .filter(|&i| cols.iter().any(|c| c == fields[i].name()))
                .collect();
            layout = keep.iter().map(|&i| layout[i]).collect();
            fields = keep.iter().map(|&i| fields[i].clone()).collect();
        }
        Ok(WindowOp {
            exprs: prepared,
            part_cols,
            order_cols,
            sort_keys: window.sort_keys(),
            layout,
            schema: Arc::new(Schema::new(fields)),
            input_schema: Arc::new(input.clone()),
        })
    }
}

/// Runs the window operator over `input`: evaluates `exprs`, which all
/// share `window`'s partitioning and ordering (their frames may differ),
/// keeping only the columns in `needed` (`None`: all). Hash partitioning
/// happens now; sorting and evaluation as the output is pulled.
pub(crate) fn run_window(
    ctx: &Context,
    job: &Arc<JobMetrics>,
    input: impl Iterator<Item = Result<RecordBatch>> + Send + Sync + 'static,
    window: &Window,
    exprs: &[WindowExpr],
    needed: Option<&[String]>,
) -> Result<WindowStream> {
    let mut input = input;
    let mut stream = WindowStream {
        ctx: ctx.clone(),
        job: Arc::clone(job),
        op: None,
        waiting: VecDeque::new(),
        active: Vec::new(),
        ready: VecDeque::new(),
    };
    // The first chunk gives the schema the chunks really have (a
    // projection may have left columns out).
    let first = loop {
        match input.next() {
            None => return Ok(stream),
            Some(b) => {
                let b = b?;
                if b.num_rows() > 0 {
                    break b;
                }
            }
        }
    };
    let op = Arc::new(WindowOp::new(first.schema_ref(), window, exprs, needed)?);
    let input = std::iter::once(Ok(first)).chain(input);
    let threads = ctx.config().threads.max(1);
    if op.part_cols.is_empty() || threads == 1 {
        stream.waiting.push_back(Waiting::Stream(Box::new(input)));
    } else {
        let buckets = (threads * 2).next_power_of_two();
        for b in partition_input(ctx, job, &op, input, buckets)? {
            stream.waiting.push_back(Waiting::Bucket(b));
        }
    }
    stream.op = Some(op);
    Ok(stream)
}

/// Splits the input into `n` buckets by a hash of the partition keys.
fn partition_input(
    ctx: &Context,
    job: &JobMetrics,
    op: &WindowOp,
    mut input: impl Iterator<Item = Result<RecordBatch>>,
    n: usize,
) -> Result<Vec<BucketInput>> {
    let threads = ctx.config().threads.max(1);
    let pool = ctx.memory_pool();
    // Buckets waiting for their turn hold at most a quarter of the pool:
    // the sorts that follow, the evaluation and whoever reads the output
    // (a collect keeps up to half resident) need the rest.
    let cap = pool.limit() / 4;
    let mut buckets: Vec<Bucket> = (0..n)
        .map(|_| Bucket {
            pieces: VecDeque::new(),
            res: pool.reservation("window partitioning"),
            writer: None,
        })
        .collect();
    let fields: Vec<SortField> = op
        .part_cols
        .iter()
        .map(|&c| SortField::new(op.input_schema.field(c).data_type().clone()))
        .collect();
    let hasher = FixedState::with_seed(0x5851_f42d_4c95_7f2d);
    loop {
        let mut window = Vec::with_capacity(threads * 2);
        while window.len() < threads * 2 {
            match input.next() {
                Some(b) => {
                    let b = b?;
                    if b.num_rows() > 0 {
                        window.push(b);
                    }
                }
                None => break,
            }
        }
        if window.is_empty() {
            break;
        }
        // Split every chunk of the window in parallel.
        let split: Vec<Result<Vec<(usize, RecordBatch)>>> = ctx.install(|| {
            window
                .par_iter()
                .map(|b| {
                    let conv = RowConverter::new(fields.clone())?;
                    let cols: Vec<ArrayRef> =
                        op.part_cols.iter().map(|&c| b.column(c).clone()).collect();
                    let rows = conv.convert_columns(&cols)?;
                    let mut idx: Vec<Vec<u32>> = vec![Vec::new(); n];
                    for r in 0..b.num_rows() {
                        let h = hasher.hash_one(rows.row(r).as_ref());
                        idx[(h >> 40) as usize & (n - 1)].push(r as u32);
                    }
                    let mut out = Vec::new();
                    for (k, ix) in idx.into_iter().enumerate() {
                        if ix.len() == b.num_rows() {
                            out.push((k, b.clone()));
                        } else if !ix.is_empty() {
                            out.push((k, take_record_batch(b, &UInt32Array::from(ix))?));
                        }
                    }
                    Ok(out)
                })
                .collect()
        });
        drop(window);
        for pieces in split {
            for (k, piece) in pieces? {
                let bytes = piece.get_array_memory_size() as u64;
                loop {
                    let total: u64 = buckets.iter().map(|b| b.res.size()).sum();
                    if total + bytes <= cap && buckets[k].res.try_grow(bytes).is_ok() {
                        buckets[k].pieces.push_back((piece, bytes));
                        job.note_reserved(total + bytes);
                        break;
                    }
                    // Spill the largest bucket held in memory; when none is,
                    // the piece goes to its file directly.
                    let largest = (0..n)
                        .filter(|&j| !buckets[j].pieces.is_empty())
                        .max_by_key(|&j| buckets[j].res.size());
                    match largest {
                        Some(j) => buckets[j].spill(ctx)?,
                        None => {
                            buckets[k].writer(ctx, piece.schema())?.write(&piece)?;
                            break;
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::with_capacity(n);
    for b in buckets {
        let file = match b.writer {
            Some(w) => {
                let f = w.finish()?;
                job.add_spill(f.stats());
                let r = f.read()?;
                vec![(f, r, 0)]
            }
            None => Vec::new(),
        };
        if file.is_empty() && b.pieces.is_empty() {
            continue;
        }
        out.push(BucketInput {
            files: file.into(),
            pieces: b.pieces,
            res: b.res,
        });
    }
    Ok(out)
}

/// One bucket while the input is split.
struct Bucket {
    pieces: VecDeque<(RecordBatch, u64)>,
    res: Reservation,
    writer: Option<SpillWriter>,
}

impl Bucket {
    fn writer(&mut self, ctx: &Context, schema: SchemaRef) -> Result<&mut SpillWriter> {
        if self.writer.is_none() {
            self.writer = Some(ctx.spill_dir()?.new_file("window partition", schema)?);
        }
        match self.writer.as_mut() {
            Some(w) => Ok(w),
            None => Err(Error::InvalidArgument("internal: no spill writer".into())),
        }
    }

    /// Appends the pieces held in memory to the bucket's spill file.
    fn spill(&mut self, ctx: &Context) -> Result<()> {
        let pieces = std::mem::take(&mut self.pieces);
        let Some((first, _)) = pieces.front() else {
            return Ok(());
        };
        let w = self.writer(ctx, first.schema())?;
        for (p, _) in &pieces {
            w.write(p)?;
        }
        drop(pieces);
        self.res.free();
        Ok(())
    }
}

/// The rows of one bucket, for its sort: its spill file, then the pieces
/// still in memory (input order), freed as they are taken.
struct BucketInput {
    files: VecDeque<(SpillFile, SpillReader, usize)>,
    pieces: VecDeque<(RecordBatch, u64)>,
    res: Reservation,
}

impl Iterator for BucketInput {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some((_, r, next)) = self.files.front_mut() {
            if *next < r.num_batches() {
                *next += 1;
                return Some(r.batch(*next - 1));
            }
            self.files.pop_front();
        }
        let (b, bytes) = self.pieces.pop_front()?;
        self.res.shrink(bytes);
        Some(Ok(b))
    }
}

impl BucketInput {
    /// Moves the pieces held in memory to a new spill file (read after the
    /// earlier ones, so the input order is kept).
    fn spill(&mut self, ctx: &Context, job: &JobMetrics) -> Result<()> {
        let Some((first, _)) = self.pieces.front() else {
            return Ok(());
        };
        let mut w = ctx
            .spill_dir()?
            .new_file("window partition", first.schema())?;
        for (p, _) in &self.pieces {
            w.write(p)?;
        }
        self.pieces.clear();
        self.res.free();
        let f = w.finish()?;
        job.add_spill(f.stats());
        let r = f.read()?;
        self.files.push_back((f, r, 0));
        Ok(())
    }
}

/// A bucket not started yet.
enum Waiting {
    /// The whole input (one bucket).
    Stream(Chunks),
    Bucket(BucketInput),
}

/// The output of the window operator, computed as it is pulled.
pub(crate) struct WindowStream {
    ctx: Context,
    job: Arc<JobMetrics>,
    op: Option<Arc<WindowOp>>,
    /// Buckets not started yet.
    waiting: VecDeque<Waiting>,
    active: Vec<BucketEval>,
    ready: VecDeque<RecordBatch>,
}

impl WindowStream {
    fn fill(&mut self) -> Result<()> {
        let Some(op) = self.op.clone() else {
            return Ok(());
        };
        let threads = self.ctx.config().threads.max(1);
        while self.ready.is_empty() {
            // Start buckets (their sorts consume them) up to one per thread.
            // Start buckets (their sorts consume them) up to one per thread,
            // one after the other: a sort takes what memory it can for its
            // runs, so the next starts only while half the pool is still
            // free, or when no bucket runs at all.
            let pool = self.ctx.memory_pool().clone();
            while self.active.len() < threads
                && (self.active.is_empty() || pool.available() >= pool.limit() / 2)
            {
                let next: Chunks = match self.waiting.pop_front() {
                    Some(Waiting::Stream(s)) => s,
                    Some(Waiting::Bucket(b)) => Box::new(b),
                    None => break,
                };
                // Leave the sort room: buckets still waiting give their
                // memory up (latest first) while under half is free.
                for w in self.waiting.iter_mut().rev() {
                    if pool.available() >= pool.limit() / 2 {
                        break;
                    }
                    if let Waiting::Bucket(b) = w {
                        b.spill(&self.ctx, &self.job)?;
                    }
                }
                self.active
                    .push(BucketEval::start(&self.ctx, &self.job, &op, next)?);
            }
            if self.active.is_empty() {
                return Ok(());
            }
            let outs: Vec<Result<Vec<RecordBatch>>> = self.ctx.install(|| {
                self.active
                    .par_iter_mut()
                    .map(|b| b.next_outputs(2))
                    .collect()
            });
            for o in outs {
                self.ready.extend(o?);
            }
            self.active.retain(|b| !b.finished());
        }
        Ok(())
    }
}

impl Iterator for WindowStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            let t = Instant::now();
            if let Err(e) = self.fill() {
                self.active.clear();
                self.waiting.clear();
                return Some(Err(e));
            }
            // Rows out are counted by the pipeline reading this stream.
            let rows: u64 = self.ready.iter().map(|b| b.num_rows() as u64).sum();
            self.job.add_work(rows, 0, t.elapsed());
        }
        self.ready.pop_front().map(Ok)
    }
}

/// A partition too large for memory, being written to a spill file.
struct Giant {
    /// In a mutex only to make the stream `Sync` (it is never shared).
    writer: Mutex<SpillWriter>,
    /// One row of the partition (its keys).
    key: RecordBatch,
}

fn poisoned() -> Error {
    Error::InvalidArgument("internal: a window spill writer was poisoned".into())
}

fn writer_of(m: &mut Mutex<SpillWriter>) -> Result<&mut SpillWriter> {
    m.get_mut().map_err(|_| poisoned())
}

/// One bucket being evaluated: its sorted rows, the rows of the partition
/// not complete yet, and the segment whose output is being produced.
struct BucketEval {
    ctx: Context,
    job: Arc<JobMetrics>,
    op: Arc<WindowOp>,
    input: Option<Chunks>,
    pending: Vec<RecordBatch>,
    pending_res: Reservation,
    giant: Option<Giant>,
    deferred: Option<RecordBatch>,
    current: Option<SegEval>,
}

impl BucketEval {
    fn start(
        ctx: &Context,
        job: &Arc<JobMetrics>,
        op: &Arc<WindowOp>,
        rows: Chunks,
    ) -> Result<Self> {
        let input: Chunks = if op.sort_keys.is_empty() {
            rows
        } else {
            Box::new(run_sort(ctx, job, rows, &op.sort_keys, None, None)?)
        };
        Ok(BucketEval {
            ctx: ctx.clone(),
            job: Arc::clone(job),
            op: Arc::clone(op),
            input: Some(input),
            pending: Vec::new(),
            pending_res: ctx.memory_pool().reservation("window"),
            giant: None,
            deferred: None,
            current: None,
        })
    }

    fn finished(&self) -> bool {
        self.input.is_none() && self.current.is_none() && self.deferred.is_none()
    }

    /// Up to `n` output chunks (none: the bucket is done).
    fn next_outputs(&mut self, n: usize) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self.next_output()? {
                Some(b) => out.push(b),
                None => break,
            }
        }
        Ok(out)
    }

    fn next_output(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some(cur) = &mut self.current {
                if let Some(b) = cur.next(&self.op)? {
                    return Ok(Some(b));
                }
                self.current = None;
            }
            let chunk = match self.deferred.take() {
                Some(c) => Some(c),
                None => match &mut self.input {
                    Some(i) => match i.next() {
                        Some(c) => Some(c?),
                        None => {
                            self.input = None;
                            None
                        }
                    },
                    None => return Ok(None),
                },
            };
            match chunk {
                Some(c) => self.push_chunk(c)?,
                None => self.finish_input()?,
            }
        }
    }

    fn finish_input(&mut self) -> Result<()> {
        if let Some(g) = self.giant.take() {
            self.current = Some(self.giant_segment(g)?);
        } else if !self.pending.is_empty() {
            let batches = std::mem::take(&mut self.pending);
            let res = self.pending_res.split(self.pending_res.size(), "window");
            self.current = Some(SegEval::new(&self.op, batches, res, None)?);
        }
        Ok(())
    }

    fn push_chunk(&mut self, c: RecordBatch) -> Result<()> {
        self.ctx.check_cancelled()?;
        if c.num_rows() == 0 {
            return Ok(());
        }
        let op = Arc::clone(&self.op);
        if let Some(g) = &mut self.giant {
            // The rows of `c` still in the giant partition: a prefix (the
            // chunk is sorted), up to the first partition start after row 0.
            let end = if same_row(&g.key, 0, &c, 0, &op.part_cols)? {
                let mut next = c.num_rows();
                for_each_run_start(std::slice::from_ref(&c), &op.part_cols, |r| {
                    if r > 0 && r < next {
                        next = r;
                    }
                })?;
                next
            } else {
                0
            };
            if end > 0 {
                writer_of(&mut g.writer)?.write(&c.slice(0, end))?;
            }
            if end == c.num_rows() {
                return Ok(());
            }
            if let Some(g) = self.giant.take() {
                self.current = Some(self.giant_segment(g)?);
            }
            self.deferred = Some(c.slice(end, c.num_rows() - end));
            return Ok(());
        }
        let mut last_start = 0;
        for_each_run_start(std::slice::from_ref(&c), &op.part_cols, |r| last_start = r)?;
        let continues = match self.pending.last() {
            Some(p) => same_row(p, p.num_rows() - 1, &c, 0, &op.part_cols)?,
            None => true,
        };
        if last_start == 0 && continues {
            return self.hold(c);
        }
        let mut batches = std::mem::take(&mut self.pending);
        let res = self.pending_res.split(self.pending_res.size(), "window");
        if last_start > 0 {
            batches.push(c.slice(0, last_start));
        }
        self.current = Some(SegEval::new(&op, batches, res, None)?);
        self.hold(c.slice(last_start, c.num_rows() - last_start))
    }

    /// Keeps `b` (rows of the last partition seen) until its partition is
    /// complete; when it cannot be reserved, the partition goes to a file.
    fn hold(&mut self, b: RecordBatch) -> Result<()> {
        let bytes = b.get_array_memory_size() as u64;
        if self.pending_res.try_grow(bytes).is_ok() {
            self.job.note_reserved(self.pending_res.size());
            self.pending.push(b);
            return Ok(());
        }
        let mut writer = self
            .ctx
            .spill_dir()?
            .new_file("window partition", b.schema())?;
        for p in self.pending.drain(..) {
            writer.write(&p)?;
        }
        writer.write(&b)?;
        self.pending_res.free();
        self.giant = Some(Giant {
            writer: Mutex::new(writer),
            key: b.slice(0, 1),
        });
        Ok(())
    }

    fn giant_segment(&self, g: Giant) -> Result<SegEval> {
        let file = g.writer.into_inner().map_err(|_| poisoned())?.finish()?;
        self.job.add_spill(file.stats());
        let reader = file.read()?;
        let batches = (0..reader.num_batches())
            .map(|i| reader.batch(i))
            .collect::<Result<Vec<_>>>()?;
        let res = self.ctx.memory_pool().reservation("window");
        SegEval::new(&self.op, batches, res, Some(file))
    }
}

/// A segment whose output chunks are being produced, one per batch.
struct SegEval {
    seg: Segment,
    evals: Vec<Box<dyn Evaluator>>,
    next: usize,
    res: Reservation,
    /// Bytes of `res` that are not the evaluators' own.
    base: u64,
    _file: Option<SpillFile>,
}

impl SegEval {
    fn new(
        op: &WindowOp,
        batches: Vec<RecordBatch>,
        mut res: Reservation,
        file: Option<SpillFile>,
    ) -> Result<Self> {
        let seg = Segment::new(batches, &op.part_cols, &op.order_cols)?;
        // The peer bitmap (one bit per row) and the partition starts are
        // reserved when the pool has room; when it has not (the sorts and
        // the consumer took it) they are the operator's stated overhead:
        // at most 1/64 of the rows' key bytes plus 8 bytes per partition
        // of one segment.
        let _ = res.try_grow(seg.overhead());
        let evals = op
            .exprs
            .iter()
            .map(|p| p.evaluator())
            .collect::<Result<Vec<_>>>()?;
        Ok(SegEval {
            base: res.size(),
            seg,
            evals,
            next: 0,
            res,
            _file: file,
        })
    }

    fn next(&mut self, op: &WindowOp) -> Result<Option<RecordBatch>> {
        let Some((j, range)) = self.seg.batch_ranges().nth(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let batch = &self.seg.batches[j];
        let mut win = Vec::with_capacity(self.evals.len());
        for e in &mut self.evals {
            win.push(e.eval(&self.seg, range.clone())?);
        }
        // Deques of sliding min/max hold at most the rows of one frame
        // (bounded by the offsets for ROWS frames); reserved when possible,
        // else stated overhead like the bitmap.
        let held: u64 = self.evals.iter().map(|e| e.held_bytes() as u64).sum();
        let _ = self.res.try_resize(self.base + held);
        let cols: Vec<ArrayRef> = op
            .layout
            .iter()
            .map(|s| match s {
                Src::Input(i) => batch.column(*i).clone(),
                Src::Window(k) => win[*k].clone(),
            })
            .collect();
        let opts = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(Some(RecordBatch::try_new_with_options(
            op.schema.clone(),
            cols,
            &opts,
        )?))
    }
}
