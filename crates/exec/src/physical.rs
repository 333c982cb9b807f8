//! Execution: a plan becomes a chain of pipelines; each pipeline reads work
//! units (source partitions, table morsels, or batches of an upstream
//! stream) and runs its fused per-chunk operators over them in parallel on
//! the context's pool, a window of units at a time, emitting the results in
//! input order.
//!
//! Windows bound memory: at most `window` units are in flight, so a scan of
//! a file larger than RAM streams through in constant memory when the
//! consumer (a sink) does not hold on to the output. The window is bounded
//! in bytes as well as in units: a stream measures how large its units'
//! outputs are and fits the window into [`WINDOW_SHARE`] of the memory
//! pool, and the outputs waiting to be pulled are held under a reservation,
//! so operators downstream (a sort buffer, a hash table) see that memory
//! as taken and spill earlier instead of the process passing its budget.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{FieldRef, Schema, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::expr::PreparedExpr;
use parframe_core::{ChunkSource, Expr, Table, slice_bytes};
use parframe_plan::udf::{BatchUdf, RowUdf};
use parframe_plan::{LogicalPlan, PlanNode};
use parframe_spill::Reservation;
use rayon::prelude::*;

use crate::agg::{AggExpr, AggFunc};
use crate::aggregate::partitioned::{Finished, HashAggregate, Local};
use crate::aggregate::run::Aggregator;
use crate::collect::Collector;
use crate::concat::{ConcatStream, HConcatStream, RowIndexStream, explode_batch};
use crate::context::JobMetrics;
use crate::join::run_join;
use crate::sort::{SortKey, SortedStream, run_sort};
use crate::window::exec::run_window;
use crate::{Context, JobStats, Progress};

/// Most units a window holds per worker thread: enough to keep every
/// worker busy when units differ in cost.
const UNITS_PER_THREAD: usize = 4;

/// The fraction (1 / `WINDOW_SHARE`) of the memory pool one stream's window
/// may fill. Pipelines chain (a scan feeding a sort feeding a sink) and each
/// has a window, so one window gets a small share and the operators that
/// must hold data (hash tables, sort runs) keep most of the budget.
const WINDOW_SHARE: u64 = 16;

/// A per-chunk operator of a pipeline. Expressions are prepared (checked,
/// resolved to column positions) once, when the pipeline is built.
enum Op {
    Select {
        exprs: Vec<PreparedExpr>,
        schema: SchemaRef,
    },
    Filter(PreparedExpr),
    /// The filters pushed into a scan, then its projection (the columns
    /// read only for the filters dropped).
    ScanFilter {
        filters: Vec<PreparedExpr>,
        project: Option<Vec<usize>>,
        schema: SchemaRef,
    },
    WithColumns {
        exprs: Vec<PreparedExpr>,
        fields: Vec<FieldRef>,
    },
    Apply {
        udf: Arc<dyn RowUdf>,
        field: FieldRef,
    },
    MapBatches {
        udf: Arc<BatchUdf>,
        schema: SchemaRef,
    },
    Explode(String),
}

impl Op {
    fn run(&self, batch: RecordBatch, row_offset: u64) -> Result<RecordBatch> {
        match self {
            Op::Select { exprs, schema } => {
                let cols = exprs
                    .iter()
                    .map(|e| e.evaluate(&batch))
                    .collect::<Result<Vec<_>>>()?;
                let opts = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                Ok(RecordBatch::try_new_with_options(
                    schema.clone(),
                    cols,
                    &opts,
                )?)
            }
            Op::Filter(pred) => filter_batch(pred, &batch),
            Op::ScanFilter {
                filters,
                project,
                schema,
            } => {
                let mut b = batch;
                for f in filters {
                    b = filter_batch(f, &b)?;
                }
                match project {
                    None => Ok(b),
                    Some(idx) => {
                        let cols = idx.iter().map(|&i| b.column(i).clone()).collect();
                        let opts = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
                        Ok(RecordBatch::try_new_with_options(
                            schema.clone(),
                            cols,
                            &opts,
                        )?)
                    }
                }
            }
            Op::WithColumns { exprs, fields } => {
                let new = exprs
                    .iter()
                    .map(|e| e.evaluate(&batch))
                    .collect::<Result<Vec<_>>>()?;
                let pairs: Vec<(FieldRef, ArrayRef)> = fields.iter().cloned().zip(new).collect();
                replace_or_append(&batch, pairs)
            }
            Op::Apply { udf, field } => {
                let out = udf.call(&batch, row_offset)?;
                replace_or_append(&batch, vec![(field.clone(), out)])
            }
            Op::Explode(column) => explode_batch(&batch, column),
            Op::MapBatches { udf, schema } => {
                let rows = batch.num_rows();
                let out = parframe_core::row::catch_user_panic(|| udf(batch)).map_err(|p| {
                    Error::UserCode {
                        column: "map_batches".into(),
                        row: row_offset,
                        message: parframe_common::panic_message(p.as_ref()),
                    }
                })?;
                let out = out.map_err(|e| match e {
                    Error::UserCode { .. } => e,
                    other => Error::UserCode {
                        column: "map_batches".into(),
                        row: row_offset,
                        message: other.to_string(),
                    },
                })?;
                if !same_fields(out.schema_ref(), schema) {
                    return Err(Error::SchemaMismatch(format!(
                        "map_batches returned a chunk with schema {} (chunk of {rows} rows starting at row {row_offset}) but its first result had {}",
                        parframe_core_schema(out.schema_ref()),
                        parframe_core_schema(schema)
                    )));
                }
                Ok(out)
            }
        }
    }
}

fn filter_batch(pred: &PreparedExpr, batch: &RecordBatch) -> Result<RecordBatch> {
    let mask = pred.evaluate(batch)?;
    let mask = mask
        .as_any()
        .downcast_ref::<arrow_array::BooleanArray>()
        .ok_or_else(|| Error::type_mismatch("filter", "predicate is not Boolean"))?;
    Ok(arrow_select::filter::filter_record_batch(batch, mask)?)
}

fn parframe_core_schema(s: &Schema) -> String {
    let cols: Vec<String> = s
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    format!("({})", cols.join(", "))
}

fn same_fields(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields().iter())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

fn replace_or_append(batch: &RecordBatch, new: Vec<(FieldRef, ArrayRef)>) -> Result<RecordBatch> {
    let mut fields: Vec<FieldRef> = batch.schema().fields().iter().cloned().collect();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    for (f, a) in new {
        match fields.iter().position(|g| g.name() == f.name()) {
            Some(i) => {
                fields[i] = f;
                cols[i] = a;
            }
            None => {
                fields.push(f);
                cols.push(a);
            }
        }
    }
    let opts = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        cols,
        &opts,
    )?)
}

/// Where a pipeline's work units come from.
enum Input {
    Source {
        source: Arc<dyn ChunkSource>,
        projection: Option<Vec<usize>>,
        /// The partitions to read, in order (those the scan's filters may
        /// keep rows of; see `parframe_plan::pruning`).
        partitions: Vec<usize>,
        /// The next index into `partitions`.
        next: usize,
        /// The scan's filters, for the source to evaluate while decoding
        /// (late materialization, [`ChunkSource::read_partition_filtered`]),
        /// and the columns to produce then. A partition the source filters
        /// skips the pipeline's first op (the scan's own filter).
        pushed: Option<PushedFilters>,
    },
    /// Morsels of an in-memory table.
    Morsels(VecDeque<RecordBatch>),
    Upstream(Box<BatchStream>),
    /// The output of a sort (its merge runs as this is pulled).
    Sorted(Box<SortedStream>),
    /// The output of an operator with inputs of its own (a join probing,
    /// a concat reading one input after another), computed as it is pulled.
    Operator(Box<dyn Iterator<Item = Result<RecordBatch>> + Send + Sync>),
}

/// A scan's filters offered to its source (see `Input::Source`).
struct PushedFilters {
    filters: Vec<Expr>,
    /// The produced columns (source indices, in source order).
    projection: Vec<usize>,
    /// The schema of the chunks the scan's filter op produces.
    schema: SchemaRef,
    /// The planner's estimate of the fraction of rows the filters keep
    /// (`None`: unknown), used until a partition has been read.
    estimate: Option<f64>,
    /// Rows read and rows kept by the scan's partitions so far, pushed or
    /// not.
    rows_in: AtomicU64,
    rows_kept: AtomicU64,
}

/// The most runs of kept rows per row read for which the filters are
/// evaluated while decoding. Decoding through a selection costs per run
/// (skipping a run is cheap, starting one is not), so late
/// materialization pays where the kept rows form few runs and costs where
/// they are scattered: on TPC-H SF 1 from Parquet, with scattered rows,
/// 1 to 4% kept (Q6, Q14, Q15) and 98% kept (Q1) ran 10-20% faster pushed,
/// 25% kept (Q10's `l_returnflag = 'R'`) 25% slower. Scattered rows kept
/// with probability p form about 2p(1-p) runs per row: 0.1 allows p up to
/// about 5% and from about 95%.
const MAX_RUN_DENSITY: f64 = 0.1;

impl PushedFilters {
    /// Whether to push the filters for the next partition: the runs the
    /// kept fraction seen so far implies (or, before that, the estimate's)
    /// are few enough.
    fn worth_it(&self) -> bool {
        let read = self.rows_in.load(AtomicOrdering::Relaxed);
        let p = if read > 0 {
            self.rows_kept.load(AtomicOrdering::Relaxed) as f64 / read as f64
        } else {
            match self.estimate {
                Some(p) => p,
                None => return false,
            }
        };
        2.0 * p * (1.0 - p) <= MAX_RUN_DENSITY
    }

    /// Adds a partition's rows read and kept.
    fn note(&self, read: u64, kept: u64) {
        self.rows_in.fetch_add(read, AtomicOrdering::Relaxed);
        self.rows_kept.fetch_add(kept, AtomicOrdering::Relaxed);
    }
}

enum Unit {
    Partition(usize),
    Batch(RecordBatch),
}

struct Pipeline {
    input: Input,
    ops: Vec<Op>,
    /// Rows of the output skipped first (an offset), then at most `limit` kept.
    skip: usize,
    limit: Option<usize>,
    /// Statistics of the operator feeding `input` (a scan, a table, a
    /// pipeline breaker), and of each op.
    input_metrics: Option<Arc<JobMetrics>>,
    op_metrics: Vec<Arc<JobMetrics>>,
}

impl Pipeline {
    /// A pipeline without operators of its own over `input`, produced by
    /// the operator `metrics` describes.
    fn over(input: Input, metrics: Option<Arc<JobMetrics>>) -> Self {
        Pipeline {
            input,
            ops: Vec::new(),
            skip: 0,
            limit: None,
            input_metrics: metrics,
            op_metrics: Vec::new(),
        }
    }
}

/// A stream of result chunks, in order. Pulling drives execution.
pub struct BatchStream {
    ctx: Context,
    /// Statistics shared by every operator of the job.
    job: Arc<JobMetrics>,
    pipeline: Pipeline,
    /// Rows still to skip (the pipeline's offset).
    to_skip: usize,
    /// Chunks waiting to be pulled, each with the bytes `ready_res` holds
    /// for it.
    ready: VecDeque<(RecordBatch, u64)>,
    /// Rows that entered each operator so far, to turn chunk-local row
    /// numbers in errors into rows of the operator's whole input.
    op_rows: Vec<u64>,
    rows_out: usize,
    rows_read: u64,
    units_done: u64,
    done: bool,
    schema: SchemaRef,
    /// Holds the bytes of the chunks in `ready`: shrunk as they are pulled.
    ready_res: Reservation,
    /// The largest output of one unit seen so far, in bytes (0: none yet),
    /// which sizes the window.
    unit_bytes: u64,
    /// The last progress reported, shared with a sink writing this
    /// stream's output (which adds `rows_written`).
    progress: Arc<Mutex<Progress>>,
}

struct UnitOutput {
    batches: Vec<RecordBatch>,
    op_rows: Vec<u64>,
    /// Rows out of each op, and its time.
    op_out: Vec<u64>,
    op_time: Vec<Duration>,
    rows_read: u64,
    /// Bytes of the unit's output, kept when the chunks are dropped early.
    out_bytes: u64,
    /// Time of the whole unit (reading it and running the ops).
    time: Duration,
    error: Option<(usize, Error)>,
}

impl BatchStream {
    /// The schema of the chunks.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Statistics of the job so far: what its operators spilled and the
    /// largest reservation one of them held. Complete once the stream is
    /// exhausted.
    pub fn stats(&self) -> JobStats {
        self.job.stats()
    }

    /// Units to run in the next window: up to [`UNITS_PER_THREAD`] per
    /// thread, fewer when the units seen so far are large, never fewer
    /// than one per thread (less would idle a worker), and one per thread
    /// until a unit's size is known.
    fn window(&self) -> usize {
        let threads = self.ctx.config().threads.max(1);
        let most = threads * UNITS_PER_THREAD;
        if self.unit_bytes == 0 {
            return threads;
        }
        let share = self.ctx.memory_pool().limit() / WINDOW_SHARE;
        let fits = usize::try_from(share / self.unit_bytes).unwrap_or(usize::MAX);
        fits.clamp(threads, most)
    }

    /// Notes a unit's output size for sizing later windows.
    fn note_unit_bytes(&mut self, bytes: u64) {
        self.unit_bytes = self.unit_bytes.max(bytes.max(1));
    }

    /// Queues a chunk for the consumer, holding its bytes under the
    /// stream's reservation. When the pool is full the chunk is queued
    /// anyway (it is already in memory; dropping it would lose data) and
    /// the next window shrinks to one unit per thread: that window is the
    /// overhead a stream may hold outside the budget.
    fn push_ready(&mut self, b: RecordBatch) {
        let bytes = slice_bytes(&b);
        let held = if self.ready_res.try_grow(bytes).is_ok() {
            bytes
        } else {
            self.unit_bytes = u64::MAX;
            0
        };
        self.ready.push_back((b, held));
    }

    fn pop_ready(&mut self) -> Option<RecordBatch> {
        let (b, held) = self.ready.pop_front()?;
        self.ready_res.shrink(held);
        Some(b)
    }

    fn next_units(&mut self) -> Result<Vec<Unit>> {
        let start = Instant::now();
        let units = self.pull_units();
        // Pulling from a sort or join runs its merge or probe.
        if let (Some(m), Input::Sorted(_) | Input::Operator(_)) =
            (&self.pipeline.input_metrics, &self.pipeline.input)
        {
            m.add_elapsed(start.elapsed());
        }
        units
    }

    /// Adds a unit's rows and times to the statistics of the operators.
    fn record(&self, o: &UnitOutput) {
        let p = &self.pipeline;
        for (k, m) in p.op_metrics.iter().enumerate() {
            m.add_work(o.op_rows[k], o.op_out[k], o.op_time[k]);
        }
        if let Some(m) = &p.input_metrics {
            let own = match p.input {
                Input::Source { .. } => o.time.saturating_sub(o.op_time.iter().sum()),
                _ => Duration::ZERO,
            };
            m.add_work(0, o.rows_read, own);
        }
    }

    fn pull_units(&mut self) -> Result<Vec<Unit>> {
        let w = self.window();
        let mut units = Vec::with_capacity(w);
        match &mut self.pipeline.input {
            Input::Source {
                next, partitions, ..
            } => {
                while units.len() < w && *next < partitions.len() {
                    units.push(Unit::Partition(partitions[*next]));
                    *next += 1;
                }
            }
            Input::Morsels(q) => {
                while units.len() < w {
                    match q.pop_front() {
                        Some(b) => units.push(Unit::Batch(b)),
                        None => break,
                    }
                }
            }
            Input::Sorted(s) => {
                while units.len() < w {
                    match s.next() {
                        Some(b) => units.push(Unit::Batch(b?)),
                        None => break,
                    }
                }
            }
            Input::Operator(s) => {
                while units.len() < w {
                    match s.next() {
                        Some(b) => units.push(Unit::Batch(b?)),
                        None => break,
                    }
                }
            }
            Input::Upstream(s) => {
                while units.len() < w {
                    match s.next() {
                        Some(b) => units.push(Unit::Batch(b?)),
                        None => break,
                    }
                }
            }
        }
        Ok(units)
    }

    fn run_unit(&self, unit: Unit) -> UnitOutput {
        let mut batches = Vec::new();
        let mut out = self.run_unit_with(unit, &mut |b| {
            batches.push(b);
            Ok(())
        });
        out.batches = batches;
        out
    }

    /// Runs one unit, handing each output chunk to `emit` as soon as the
    /// ops made it (so a fold holds one chunk of the unit at a time, not
    /// the whole decoded row group). `out.batches` stays empty; `out_bytes`
    /// counts what was emitted. An error of `emit` ends the unit and is
    /// returned as the unit's error at `usize::MAX` (no op's).
    fn run_unit_with(
        &self,
        unit: Unit,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> UnitOutput {
        let ops = &self.pipeline.ops;
        let start = Instant::now();
        let mut out = UnitOutput {
            batches: Vec::new(),
            op_rows: vec![0; ops.len()],
            op_out: vec![0; ops.len()],
            op_time: vec![Duration::ZERO; ops.len()],
            rows_read: 0,
            out_bytes: 0,
            time: Duration::ZERO,
            error: None,
        };
        // `first`: the op to start at (1 for chunks a source filtered: its
        // first op, the scan's filter, is done).
        let mut process = |batch: RecordBatch,
                           first: usize,
                           out: &mut UnitOutput|
         -> Result<(), (usize, Error)> {
            self.ctx.check_cancelled().map_err(|e| (usize::MAX, e))?;
            if first == 0 {
                out.rows_read += batch.num_rows() as u64;
            }
            let mut b = batch;
            for (k, op) in ops.iter().enumerate().skip(first) {
                let n = b.num_rows() as u64;
                let t = Instant::now();
                b = op.run(b, out.op_rows[k]).map_err(|e| (k, e))?;
                out.op_time[k] += t.elapsed();
                out.op_rows[k] += n;
                out.op_out[k] += b.num_rows() as u64;
            }
            if b.num_rows() > 0 {
                out.out_bytes += slice_bytes(&b);
                emit(b).map_err(|e| (usize::MAX, e))?;
            }
            Ok(())
        };
        let chunk_rows = self.ctx.config().chunk_rows;
        let result = match unit {
            Unit::Batch(b) => process(b, 0, &mut out),
            Unit::Partition(i) => {
                let Input::Source {
                    source,
                    projection,
                    pushed,
                    ..
                } = &self.pipeline.input
                else {
                    return out;
                };
                let filtered = match pushed {
                    Some(p) if p.worth_it() => source
                        .read_partition_filtered(i, Some(&p.projection), chunk_rows, &p.filters)
                        .map(|it| it.map(|it| (it, p))),
                    _ => Ok(None),
                };
                match filtered {
                    Err(e) => Err((usize::MAX, e)),
                    Ok(Some((iter, p))) => {
                        // What the source decoded of the filters' columns:
                        // the partition's rows (the scan's rows in).
                        let read = source.partition_row_count(i);
                        let mut passed = 0;
                        let mut r = Ok(());
                        for b in iter {
                            r = b
                                .and_then(|b| {
                                    passed += b.num_rows() as u64;
                                    relabel(b, &p.schema)
                                })
                                .map_err(|e| (usize::MAX, e))
                                .and_then(|b| process(b, 1, &mut out));
                            if r.is_err() {
                                break;
                            }
                        }
                        let read = read.unwrap_or(passed);
                        p.note(read, passed);
                        out.rows_read += read;
                        if let Some(first) = out.op_rows.first_mut() {
                            *first += read;
                            out.op_out[0] += passed;
                        }
                        r
                    }
                    Ok(None) => match source.read_partition(i, projection.as_deref(), chunk_rows) {
                        Err(e) => Err((usize::MAX, e)),
                        Ok(iter) => {
                            let mut r = Ok(());
                            for b in iter {
                                r = b
                                    .map_err(|e| (usize::MAX, e))
                                    .and_then(|b| process(b, 0, &mut out));
                                if r.is_err() {
                                    break;
                                }
                            }
                            // The scan's filter is the first op.
                            if let (Some(p), Some(&read), Some(&kept)) =
                                (pushed, out.op_rows.first(), out.op_out.first())
                            {
                                p.note(read, kept);
                            }
                            r
                        }
                    },
                }
            }
        };
        if let Err(e) = result {
            out.error = Some(e);
        }
        out.time = start.elapsed();
        out
    }

    fn fill(&mut self) -> Result<()> {
        while self.ready.is_empty() && !self.done {
            let units = self.next_units()?;
            if units.is_empty() {
                self.done = true;
                break;
            }
            let outputs: Vec<UnitOutput> = {
                let this = &*self;
                this.ctx
                    .install(|| units.into_par_iter().map(|u| this.run_unit(u)).collect())
            };
            for o in outputs {
                if let Some((k, e)) = o.error {
                    self.done = true;
                    return Err(self.globalize(k, e, &o.op_rows));
                }
                self.record(&o);
                for (k, r) in o.op_rows.iter().enumerate() {
                    self.op_rows[k] += r;
                }
                self.rows_read += o.rows_read;
                self.units_done += 1;
                self.note_unit_bytes(o.out_bytes);
                for mut b in o.batches {
                    if self.to_skip > 0 {
                        let n = b.num_rows().min(self.to_skip);
                        self.to_skip -= n;
                        b = b.slice(n, b.num_rows() - n);
                        if b.num_rows() == 0 {
                            continue;
                        }
                    }
                    if let Some(limit) = self.pipeline.limit {
                        let left = limit - self.rows_out;
                        if b.num_rows() >= left {
                            self.push_ready(b.slice(0, left));
                            self.rows_out = limit;
                            self.done = true;
                            break;
                        }
                    }
                    self.rows_out += b.num_rows();
                    self.push_ready(b);
                }
                if self.done {
                    break;
                }
            }
            self.report_progress();
        }
        Ok(())
    }

    /// Runs every remaining unit, in parallel windows, folding each output
    /// batch into the calling worker's slot of `slots` (created by `init`
    /// on first use): per-thread partial states that persist across windows.
    /// `f` gets the batch and a position ordering it in the input.
    pub(crate) fn fold_parallel<S: Send>(
        &mut self,
        slots: &[Mutex<Option<S>>],
        init: &(dyn Fn() -> Result<S> + Sync),
        f: &(dyn Fn(&mut S, &RecordBatch, u64) -> Result<()> + Sync),
    ) -> Result<()> {
        let mut next_unit: u64 = 0;
        loop {
            let units = self.next_units()?;
            if units.is_empty() {
                self.done = true;
                return Ok(());
            }
            let indexed: Vec<(u64, Unit)> = units
                .into_iter()
                .map(|u| {
                    next_unit += 1;
                    (next_unit - 1, u)
                })
                .collect();
            let results: Vec<(UnitOutput, Result<()>)> = {
                let this = &*self;
                this.ctx.install(|| {
                    indexed
                        .into_par_iter()
                        .map(|(i, u)| {
                            // Each chunk is folded as soon as it is made, so
                            // a worker holds one chunk, not its whole unit;
                            // the unit's bytes still size the window.
                            let mut offset: u64 = 0;
                            let mut folded = Ok(());
                            let out = this.run_unit_with(u, &mut |b| {
                                let r = fold_into(slots, init, f, &b, (i << 32) + offset);
                                offset += b.num_rows() as u64;
                                if let Err(e) = r {
                                    folded = Err(e);
                                    // Ends the unit; the fold's error is
                                    // reported, not this placeholder.
                                    return Err(Error::Cancelled);
                                }
                                Ok(())
                            });
                            (out, folded)
                        })
                        .collect()
                })
            };
            for (o, r) in results {
                if let Err(e) = r {
                    self.done = true;
                    return Err(e);
                }
                if let Some((k, e)) = o.error {
                    self.done = true;
                    return Err(self.globalize(k, e, &o.op_rows));
                }
                self.note_unit_bytes(o.out_bytes);
                self.record(&o);
                for (k, r) in o.op_rows.iter().enumerate() {
                    self.op_rows[k] += r;
                }
                self.rows_read += o.rows_read;
                self.units_done += 1;
            }
            self.report_progress();
        }
    }

    /// Reports this stream's progress to the context's callback, keeping
    /// the rows a sink wrote (see [`BatchStream::progress_handle`]).
    fn report_progress(&self) {
        let (partitions_total, rows_total) = match &self.pipeline.input {
            Input::Source {
                source, partitions, ..
            } => {
                let all = partitions.len() == source.partition_count();
                (
                    Some(partitions.len() as u64),
                    source.row_count_hint().filter(|_| all),
                )
            }
            _ => (None, None),
        };
        let snapshot = {
            let mut p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
            p.rows_read = self.rows_read;
            p.rows_total = rows_total;
            p.partitions_done = self.units_done;
            p.partitions_total = partitions_total;
            *p
        };
        self.ctx.report(&snapshot);
    }

    /// The progress this stream last reported, for a sink of its output
    /// to add the rows it has written and report again.
    pub(crate) fn progress_handle(&self) -> Arc<Mutex<Progress>> {
        Arc::clone(&self.progress)
    }

    /// Turns a unit-local row number into a row of the operator's input.
    fn globalize(&self, op: usize, e: Error, _unit_rows: &[u64]) -> Error {
        let base = self.op_rows.get(op).copied().unwrap_or(0);
        match e {
            Error::UserCode {
                column,
                row,
                message,
            } => Error::UserCode {
                column,
                row: row + base,
                message,
            },
            Error::UnexpectedNull { column, row } => Error::UnexpectedNull {
                column,
                row: row + base,
            },
            other => other,
        }
    }
}

fn fold_into<S>(
    slots: &[Mutex<Option<S>>],
    init: &(dyn Fn() -> Result<S> + Sync),
    f: &(dyn Fn(&mut S, &RecordBatch, u64) -> Result<()> + Sync),
    batch: &RecordBatch,
    pos: u64,
) -> Result<()> {
    if slots.is_empty() {
        return Ok(());
    }
    let slot = rayon::current_thread_index().unwrap_or(0) % slots.len();
    let mut guard = slots[slot].lock().map_err(|_| {
        Error::InvalidArgument("internal: a worker panicked while aggregating".into())
    })?;
    let state = match &mut *guard {
        Some(s) => s,
        none => none.insert(init()?),
    };
    f(state, batch, pos)
}

/// Runs an aggregation over `stream` on the context's pool: per-thread
/// partials under the memory pool (spilled when it is full), merged per
/// hash partition in parallel, finished into batches of `schema` (one or
/// more per partition, in no particular order).
fn run_aggregate(
    ctx: &Context,
    job: &JobMetrics,
    mut stream: BatchStream,
    aggregator: &Aggregator,
    aggs: &[AggExpr],
    leaves: &[AggFunc],
    schema: &SchemaRef,
) -> Result<Vec<RecordBatch>> {
    let threads = ctx.config().threads.max(1);
    let hash = HashAggregate::new(ctx, job, aggregator);
    let slots: Vec<Mutex<Option<Local>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    stream.fold_parallel(&slots, &|| hash.new_local(), &|l, b, pos| {
        hash.update(l, b, pos)
    })?;
    let mut locals = Vec::new();
    for s in slots {
        let l = s.into_inner().map_err(|_| {
            Error::InvalidArgument("internal: a worker panicked while aggregating".into())
        })?;
        locals.extend(l);
    }
    let emit = |(keys, leaf_arrays, n): Finished| -> Result<RecordBatch> {
        let mut cols = keys;
        for a in aggs {
            cols.push(a.evaluate(leaves, &leaf_arrays, n)?);
        }
        let opts = RecordBatchOptions::new().with_row_count(Some(n));
        Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            cols,
            &opts,
        )?)
    };
    hash.finish(locals, schema, &emit)
}

impl Iterator for BatchStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.fill() {
            return Some(Err(e));
        }
        self.pop_ready().map(Ok)
    }
}

/// Builds the pipelines of `plan` (an optimized logical plan: every node
/// produces the columns its schema says, scans and tables already
/// projected by the optimizer).
/// The partitions of a scan to read: all of them, less those whose
/// statistics prove that the scan's filters keep none of their rows.
fn scan_partitions(scan: &parframe_plan::ScanNode) -> Vec<usize> {
    let count = scan.source.partition_count();
    if scan.filters.is_empty() || count == 0 {
        return (0..count).collect();
    }
    let source = &scan.source;
    let keep = parframe_plan::pruning::prune(&scan.filters, count, &|c: &str| {
        source.partition_column_statistics(c)
    });
    (0..count).filter(|&i| keep[i]).collect()
}

/// Whether the scan's filters go to its source to evaluate while decoding
/// (late materialization): when it has filters and produces a column that
/// no filter reads (otherwise nothing is left to decode only where rows
/// pass, and a filter column that is also produced would be decoded twice),
/// and the context allows it. The columns to produce then, in source order.
fn push_filters(
    ctx: &Context,
    scan: &parframe_plan::ScanNode,
    produced: &[usize],
) -> Option<Vec<usize>> {
    if scan.filters.is_empty() || !ctx.config().late_materialization {
        return None;
    }
    let schema = scan.source.schema();
    let filter_cols: Vec<usize> = scan
        .filters
        .iter()
        .flat_map(|f| f.columns())
        .filter_map(|c| schema.index_of(&c).ok())
        .collect();
    let mut produced = produced.to_vec();
    produced.sort_unstable();
    produced
        .iter()
        .any(|i| !filter_cols.contains(i))
        .then_some(produced)
}

/// `batch` under `schema` (same columns; a source's chunk relabelled as the
/// scan's output).
fn relabel(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if Arc::ptr_eq(batch.schema_ref(), schema) {
        return Ok(batch);
    }
    let opts = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        batch.columns().to_vec(),
        &opts,
    )?)
}

#[recursive::recursive]
fn build(ctx: &Context, job: &Arc<JobMetrics>, plan: &LogicalPlan) -> Result<Pipeline> {
    let mut p = match plan.node() {
        PlanNode::Scan(scan) => {
            let full = scan.source.schema();
            let index = |c: &str| -> Result<usize> {
                full.index_of(c).map_err(|_| {
                    parframe_common::column_not_found(
                        c,
                        full.fields().iter().map(|f| f.name().as_str()),
                    )
                })
            };
            let mut read: Vec<usize> = match &scan.projection {
                None => (0..full.fields().len()).collect(),
                Some(p) => p.iter().map(|c| index(c)).collect::<Result<_>>()?,
            };
            let produced = read.clone();
            for f in &scan.filters {
                for c in f.columns() {
                    let i = index(&c)?;
                    if !read.contains(&i) {
                        read.push(i);
                    }
                }
            }
            // Columns in file order: downstream operators address columns by name.
            read.sort_unstable();
            let read_schema = Arc::new(full.project(&read)?);
            let pushed = push_filters(ctx, scan, &produced).map(|projection| {
                let estimate = parframe_plan::stats::estimated_rows(plan)
                    .zip(scan.source.row_count_hint())
                    .filter(|&(_, all)| all > 0 && scan.fetch.is_none())
                    .map(|(kept, all)| kept as f64 / all as f64);
                PushedFilters {
                    filters: scan.filters.clone(),
                    projection,
                    schema: plan.schema(),
                    estimate,
                    rows_in: AtomicU64::new(0),
                    rows_kept: AtomicU64::new(0),
                }
            });
            let metrics = job.operator(plan);
            let mut p = Pipeline {
                input: Input::Source {
                    partitions: scan_partitions(scan),
                    source: scan.source.clone(),
                    projection: (read.len() < full.fields().len()).then(|| read.clone()),
                    next: 0,
                    pushed,
                },
                ops: Vec::new(),
                skip: 0,
                limit: scan.fetch,
                input_metrics: Some(Arc::clone(&metrics)),
                op_metrics: Vec::new(),
            };
            if !scan.filters.is_empty() {
                let filters = scan
                    .filters
                    .iter()
                    .map(|f| f.prepare(&read_schema))
                    .collect::<Result<Vec<_>>>()?;
                let mut sorted_produced = produced;
                sorted_produced.sort_unstable();
                let project = (sorted_produced.len() < read.len()).then(|| {
                    sorted_produced
                        .iter()
                        .filter_map(|i| read.iter().position(|r| r == i))
                        .collect::<Vec<_>>()
                });
                p.ops.push(Op::ScanFilter {
                    filters,
                    project,
                    schema: plan.schema(),
                });
                // The scan's figures: rows read in, rows passing out.
                p.input_metrics = Some(JobMetrics::detached());
                p.op_metrics.push(metrics);
            }
            return Ok(p);
        }
        PlanNode::Table(t) => {
            let table = match &t.projection {
                Some(cols) => {
                    let names: Vec<&str> = cols.iter().map(|c| c.as_str()).collect();
                    t.table.select(&names)?
                }
                None => t.table.clone(),
            };
            let mut p = morsels(table.chunks(), ctx.config().chunk_rows);
            p.input_metrics = Some(job.operator(plan));
            return Ok(p);
        }
        PlanNode::Aggregate {
            input,
            keys,
            aggs,
            sorted,
        } => {
            let metrics = job.operator(plan);
            let start = Instant::now();
            let schema = plan.schema();
            let mut leaves = Vec::new();
            for a in aggs {
                a.collect_leaves(&mut leaves);
            }
            let aggregator = Aggregator::new(keys, &leaves, &input.schema())?;
            let mut p = build(ctx, job, input)?;
            if p.limit.is_some() || p.skip > 0 {
                p = upstream(stream_of(ctx, job, p, input.schema()));
            }
            let stream = stream_of(ctx, job, p, input.schema());
            let batches =
                run_aggregate(ctx, &metrics, stream, &aggregator, aggs, &leaves, &schema)?;
            let nkeys = schema.fields().len() - aggs.len();
            if *sorted && nkeys > 0 {
                // Through the sort operator: parallel, and under the budget.
                let keys: Vec<SortKey> = schema.fields()[..nkeys]
                    .iter()
                    .map(|f| SortKey::asc(f.name()).nulls_last(false))
                    .collect();
                let out = morsels(&batches, ctx.config().chunk_rows);
                drop(batches);
                let out = stream_of(ctx, job, out, schema.clone());
                let sorted = run_sort(ctx, &metrics, out, &keys, None, None)?;
                metrics.add_elapsed(start.elapsed());
                return Ok(Pipeline::over(
                    Input::Sorted(Box::new(sorted)),
                    Some(metrics),
                ));
            }
            metrics.add_elapsed(start.elapsed());
            let mut p = morsels(&batches, ctx.config().chunk_rows);
            p.input_metrics = Some(metrics);
            return Ok(p);
        }
        PlanNode::Sort { input, keys, fetch } => {
            let metrics = job.operator(plan);
            let start = Instant::now();
            let p = build(ctx, job, input)?;
            let stream = stream_of(ctx, job, p, input.schema());
            let sorted = run_sort(ctx, &metrics, stream, keys, *fetch, None)?;
            metrics.add_elapsed(start.elapsed());
            return Ok(Pipeline::over(
                Input::Sorted(Box::new(sorted)),
                Some(metrics),
            ));
        }
        PlanNode::Window {
            input,
            window,
            exprs,
            fetch,
        } => {
            let metrics = job.operator(plan);
            let start = Instant::now();
            let p = build(ctx, job, input)?;
            let stream = stream_of(ctx, job, p, input.schema());
            let out: Box<dyn Iterator<Item = Result<RecordBatch>> + Send + Sync> = match fetch {
                Some(k) if crate::window::topk::applies(exprs) => {
                    crate::window::topk::run_window_topk(ctx, &metrics, stream, window, exprs, *k)?
                }
                _ => Box::new(run_window(ctx, &metrics, stream, window, exprs, None)?),
            };
            metrics.add_elapsed(start.elapsed());
            return Ok(Pipeline::over(Input::Operator(out), Some(metrics)));
        }
        PlanNode::Join(spec) => {
            let metrics = job.operator(plan);
            let start = Instant::now();
            // A residual condition is evaluated inside the join, on the
            // pairs with equal keys (see `join::exec::Residual`).
            let joined = run_join(ctx, &metrics, spec, None)?;
            metrics.add_elapsed(start.elapsed());
            return Ok(Pipeline::over(
                Input::Operator(Box::new(joined)),
                Some(metrics),
            ));
        }
        PlanNode::Union { inputs } => {
            let metrics = job.operator(plan);
            let stream = ConcatStream::new(ctx, job, inputs, &plan.schema(), None)?;
            return Ok(Pipeline::over(
                Input::Operator(Box::new(stream)),
                Some(metrics),
            ));
        }
        PlanNode::RowIndex {
            input,
            name,
            offset,
        } => {
            let metrics = job.operator(plan);
            let p = build(ctx, job, input)?;
            let stream = stream_of(ctx, job, p, input.schema());
            let out = RowIndexStream::new(stream, name, *offset);
            return Ok(Pipeline::over(
                Input::Operator(Box::new(out)),
                Some(metrics),
            ));
        }
        PlanNode::HConcat { inputs } => {
            let metrics = job.operator(plan);
            let streams = inputs
                .iter()
                .map(|i| child_stream(ctx, job, i, None))
                .collect::<Result<Vec<_>>>()?;
            let out = HConcatStream::new(streams, ctx.config().chunk_rows);
            return Ok(Pipeline::over(
                Input::Operator(Box::new(out)),
                Some(metrics),
            ));
        }
        PlanNode::Limit { input, skip, fetch } => {
            let mut p = build(ctx, job, input)?;
            if p.limit.is_some() || p.skip > 0 {
                p = upstream(stream_of(ctx, job, p, input.schema()));
            }
            p.skip = *skip;
            p.limit = *fetch;
            return Ok(p);
        }
        PlanNode::Select { input, .. }
        | PlanNode::Filter { input, .. }
        | PlanNode::WithColumns { input, .. }
        | PlanNode::Apply { input, .. }
        | PlanNode::MapBatches { input, .. }
        | PlanNode::Explode { input, .. } => build(ctx, job, input)?,
    };
    let input_schema = plan.input().map_or_else(|| plan.schema(), |i| i.schema());
    if p.limit.is_some() || p.skip > 0 {
        p = upstream(stream_of(ctx, job, p, input_schema.clone()));
    }
    let schema = plan.schema();
    let op = match plan.node() {
        PlanNode::Select { exprs, .. } => Op::Select {
            exprs: exprs
                .iter()
                .map(|e| e.prepare(&input_schema))
                .collect::<Result<_>>()?,
            schema,
        },
        PlanNode::Filter { predicate, .. } => Op::Filter(predicate.prepare(&input_schema)?),
        PlanNode::WithColumns { exprs, .. } => {
            let mut es = Vec::new();
            let mut fields = Vec::new();
            for e in exprs {
                let name = e.output_name();
                let f = schema.field_with_name(&name)?;
                es.push(e.prepare(&input_schema)?);
                fields.push(Arc::new(f.clone()));
            }
            Op::WithColumns { exprs: es, fields }
        }
        PlanNode::Apply { udf, .. } => Op::Apply {
            udf: udf.clone(),
            field: Arc::new(schema.field_with_name(udf.output())?.clone()),
        },
        PlanNode::MapBatches { udf, .. } => Op::MapBatches {
            udf: udf.clone(),
            schema,
        },
        PlanNode::Explode { column, .. } => Op::Explode(column.clone()),
        PlanNode::Scan(_)
        | PlanNode::Table(_)
        | PlanNode::Limit { .. }
        | PlanNode::Aggregate { .. }
        | PlanNode::Sort { .. }
        | PlanNode::Join(_)
        | PlanNode::Window { .. }
        | PlanNode::RowIndex { .. }
        | PlanNode::HConcat { .. }
        | PlanNode::Union { .. } => {
            return Err(Error::InvalidArgument(
                "internal: not a per-chunk operator".into(),
            ));
        }
    };
    p.ops.push(op);
    p.op_metrics.push(job.operator(plan));
    Ok(p)
}

/// A pipeline over zero-copy slices of at most `rows` rows of `batches`,
/// so an in-memory input spreads over all threads.
fn morsels(batches: &[RecordBatch], rows: usize) -> Pipeline {
    let rows = rows.max(1);
    let mut q = VecDeque::new();
    for c in batches {
        let mut off = 0;
        while off < c.num_rows() {
            let len = rows.min(c.num_rows() - off);
            q.push_back(c.slice(off, len));
            off += len;
        }
    }
    Pipeline {
        input: Input::Morsels(q),
        ops: Vec::new(),
        skip: 0,
        limit: None,
        input_metrics: None,
        op_metrics: Vec::new(),
    }
}

/// A pipeline reading the output of another (after a limit).
fn upstream(stream: BatchStream) -> Pipeline {
    Pipeline {
        input: Input::Upstream(Box::new(stream)),
        ops: Vec::new(),
        skip: 0,
        limit: None,
        input_metrics: None,
        op_metrics: Vec::new(),
    }
}

fn stream_of(
    ctx: &Context,
    job: &Arc<JobMetrics>,
    pipeline: Pipeline,
    schema: SchemaRef,
) -> BatchStream {
    let n = pipeline.ops.len();
    BatchStream {
        ctx: ctx.clone(),
        job: Arc::clone(job),
        to_skip: pipeline.skip,
        pipeline,
        ready: VecDeque::new(),
        op_rows: vec![0; n],
        rows_out: 0,
        rows_read: 0,
        units_done: 0,
        done: false,
        schema,
        ready_res: ctx.memory_pool().reservation("pipeline window"),
        unit_bytes: 0,
        progress: Arc::default(),
    }
}

/// The stream of `plan`'s output, producing only the columns in `needed`
/// (`None`: all; more columns may come through).
pub(crate) fn child_stream(
    ctx: &Context,
    job: &Arc<JobMetrics>,
    plan: &LogicalPlan,
    needed: Option<Vec<String>>,
) -> Result<BatchStream> {
    let mut p = build(ctx, job, plan)?;
    let schema = plan.schema();
    let Some(needed) = needed else {
        return Ok(stream_of(ctx, job, p, schema));
    };
    let idx: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| needed.iter().any(|n| n == schema.field(i).name()))
        .collect();
    if idx.len() == schema.fields().len() {
        return Ok(stream_of(ctx, job, p, schema));
    }
    if p.limit.is_some() || p.skip > 0 {
        p = upstream(stream_of(ctx, job, p, schema.clone()));
    }
    let projected = Arc::new(schema.project(&idx)?);
    p.ops.push(Op::ScanFilter {
        filters: Vec::new(),
        project: Some(idx),
        schema: projected.clone(),
    });
    p.op_metrics.push(JobMetrics::detached());
    Ok(stream_of(ctx, job, p, projected))
}

/// Starts executing `plan` (optimized): chunks are computed a window at a
/// time as the stream is pulled.
pub(crate) fn execute(ctx: &Context, plan: &LogicalPlan) -> Result<BatchStream> {
    ctx.check_cancelled()?;
    let job = JobMetrics::for_plan(plan);
    let p = build(ctx, &job, plan)?;
    Ok(stream_of(ctx, &job, p, plan.schema()))
}

/// Runs the stream to the end into a table that keeps what fits the
/// budget resident and spills the rest (see [`crate::collect`]).
pub(crate) fn collect(ctx: &Context, plan: &LogicalPlan) -> Result<(Table, JobStats)> {
    let start = Instant::now();
    let mut stream = execute(ctx, plan)?;
    let metrics = stream.job.extra_operator("Collect");
    let mut collector = Collector::new(ctx, &metrics, plan.schema());
    let mut rows = 0;
    for b in stream.by_ref() {
        let b = b?;
        rows += b.num_rows() as u64;
        collector.push(b)?;
    }
    let table = collector.finish()?;
    metrics.add_work(rows, table.num_rows() as u64, Duration::ZERO);
    metrics.add_elapsed(start.elapsed());
    Ok((table, stream.stats()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushed(estimate: Option<f64>) -> PushedFilters {
        PushedFilters {
            filters: Vec::new(),
            projection: Vec::new(),
            schema: Arc::new(Schema::empty()),
            estimate,
            rows_in: AtomicU64::new(0),
            rows_kept: AtomicU64::new(0),
        }
    }

    /// Filters go to the source while the kept rows are few or nearly all
    /// (few runs), judged by the estimate until rows are seen, then by
    /// what the scan kept.
    #[test]
    fn filters_are_pushed_while_kept_rows_form_few_runs() {
        assert!(!pushed(None).worth_it(), "unknown: not pushed");
        assert!(pushed(Some(0.01)).worth_it());
        assert!(pushed(Some(0.98)).worth_it());
        assert!(!pushed(Some(0.25)).worth_it());
        assert!(!pushed(Some(0.5)).worth_it());
        // What was seen overrides the estimate, both ways.
        let p = pushed(Some(0.01));
        p.note(1_000, 250);
        assert!(!p.worth_it());
        let p = pushed(Some(0.5));
        p.note(1_000, 30);
        assert!(p.worth_it());
        p.note(1_000, 970);
        assert!(!p.worth_it(), "50% kept over both partitions");
    }
}
