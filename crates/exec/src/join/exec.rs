//! Running a join: build, probe, and the grace path when the build side
//! does not fit.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::{Schema, SchemaRef};
use arrow_select::concat::concat;
use arrow_select::take::take_record_batch;
use parframe_common::{Error, Result, format_bytes};
use parframe_core::expr::PreparedExpr;
use parframe_core::slice_bytes;
use parframe_spill::{Reservation, SpillDir, SpillFile, SpillReader, SpillWriter, compact_views};
use rayon::prelude::*;

use super::output::{Assembler, Rows, to_views, view_type};
use super::table::{BuiltTable, KeyCodec, Keys, ProbePos, SeenKeys, partition_of, table_overhead};
use super::{JoinSpec, JoinType};
use crate::Context;
use crate::context::JobMetrics;
use crate::physical::{BatchStream, child_stream};
use parframe_plan::{JoinColumn, JoinFilter, LogicalPlan};

/// Partitions of the first grace split, and of each further one.
const GRACE_PARTS: usize = 16;
const GRACE_SUBPARTS: usize = 8;
/// Levels of re-partitioning before a partition is joined block by block.
const MAX_LEVEL: u32 = 3;

/// What a probe row turns into.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Emit {
    /// Matched pairs only (inner, cross).
    Pairs,
    /// Matched pairs, and unmatched probe rows with nulls (left, right, full).
    Outer,
    /// Probe rows with a match.
    Semi,
    /// Probe rows without a match.
    Anti,
    /// A semi join built on its left side: probe rows only mark the build
    /// rows they match; the marked ones are the output, after the probe.
    MarkSemi,
    /// An anti join built on its left side: the build rows left unmarked.
    MarkAnti,
}

impl Emit {
    /// Whether the output is build rows chosen by marks (semi and anti
    /// joins built on their left, preserved, side).
    fn marks(self) -> bool {
        matches!(self, Emit::MarkSemi | Emit::MarkAnti)
    }
}

/// The parts of a join every step needs.
struct Shared {
    ctx: Context,
    job: Arc<JobMetrics>,
    how: JoinType,
    emit: Emit,
    out: Assembler,
    codec: KeyCodec,
    build_keys: Vec<usize>,
    probe_keys: Vec<usize>,
    build_schema: SchemaRef,
    probe_schema: SchemaRef,
    /// Which side must have unique keys (validation), and its name.
    build_unique: Option<&'static str>,
    probe_unique: Option<&'static str>,
    validation: String,
    max_out: usize,
    /// The join's residual condition, which a pair of rows with equal keys
    /// must also pass to count as a match.
    residual: Option<Residual>,
}

/// A join's residual condition, prepared once over the columns it reads
/// and evaluated on candidate pairs (rows with equal keys) before they
/// count as matches: so a left join keeps a row whose pairs all fail it
/// (with nulls), a semi join keeps a row with at least one passing pair,
/// an anti join one with none, and an inner join never gathers the output
/// columns of a failing pair.
struct Residual {
    expr: PreparedExpr,
    schema: SchemaRef,
    /// Where each column of `schema` comes from: the probe side (`true`)
    /// or the build side, and its index in that side's batches.
    cols: Vec<(bool, usize)>,
}

impl Residual {
    /// `left` and `right`: the schemas of the projected input batches.
    fn new(
        f: &JoinFilter,
        left: &SchemaRef,
        right: &SchemaRef,
        probe_is_left: bool,
    ) -> Result<Self> {
        let schema = f.schema(left, right)?;
        let cols = f
            .columns
            .iter()
            .map(|(c, _)| {
                let (is_left, name) = match c {
                    JoinColumn::Left(n) | JoinColumn::Key(n, _) => (true, n),
                    JoinColumn::Right(n) => (false, n),
                };
                let side = if is_left { left } else { right };
                Ok((is_left == probe_is_left, side.index_of(name)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let expr = f.expr.prepare(&schema)?;
        if expr.field().data_type() != &arrow_schema::DataType::Boolean {
            return Err(Error::InvalidArgument(format!(
                "a join condition must be Boolean, but {} is {}",
                f.expr,
                expr.field().data_type()
            )));
        }
        Ok(Residual { expr, schema, cols })
    }

    /// Keeps the pairs (`pi[k]` of `probe`, `bi[k]` of `build`) that pass
    /// (a null result fails, as in SQL).
    fn retain(
        &self,
        probe: &RecordBatch,
        build: &RecordBatch,
        pi: &mut Vec<u32>,
        bi: &mut Vec<u32>,
    ) -> Result<()> {
        if pi.is_empty() {
            return Ok(());
        }
        let (p_idx, b_idx) = (indices(pi), indices(bi));
        let cols = self
            .cols
            .iter()
            .zip(self.schema.fields())
            .map(|(&(from_probe, i), f)| {
                let (batch, idx) = if from_probe {
                    (probe, &p_idx)
                } else {
                    (build, &b_idx)
                };
                let a: ArrayRef = arrow_select::take::take(batch.column(i).as_ref(), idx, None)?;
                // A build column held as views (see `gather_views`) is
                // read as its declared type.
                if a.data_type() != f.data_type() {
                    Ok(arrow_cast::cast(&a, f.data_type())?)
                } else {
                    Ok(a)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(pi.len()));
        let pairs = RecordBatch::try_new_with_options(self.schema.clone(), cols, &opts)?;
        let result = self.expr.evaluate(&pairs)?;
        let pass = result.as_boolean_opt().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "a join condition evaluated to {}, not Boolean",
                result.data_type()
            ))
        })?;
        let mut w = 0;
        for k in 0..pi.len() {
            if pass.is_valid(k) && pass.value(k) {
                pi[w] = pi[k];
                bi[w] = bi[k];
                w += 1;
            }
        }
        pi.truncate(w);
        bi.truncate(w);
        Ok(())
    }
}

/// A join's output, computed as it is pulled.
pub(crate) struct JoinStream {
    s: Shared,
    state: State,
    ready: Ready,
    reservation: Reservation,
}

enum State {
    Streaming {
        table: Box<BuiltTable>,
        probe: Box<BatchStream>,
        seen: Option<SeenKeys>,
        /// Probe chunks in flight.
        active: Vec<Probing>,
    },
    Grace {
        tasks: VecDeque<Task>,
        current: Option<Box<PartJob>>,
    },
    Done,
}

/// A pair of spilled partitions still to join.
struct Task {
    build: SpillFile,
    probe: SpillFile,
    level: u32,
    /// Splitting did not help last time: go block by block.
    skewed: bool,
}

/// A partition being joined block by block.
struct PartJob {
    build: SpillReader,
    next_build: usize,
    probe: SpillReader,
    next_probe: usize,
    /// Row offset of each probe batch in the partition.
    probe_offsets: Vec<usize>,
    table: Option<BuiltTable>,
    /// More than one block: unmatched probe rows are known only at the end.
    multi: bool,
    first_block: bool,
    probe_matched: Vec<AtomicU64>,
    build_seen: Option<SeenKeys>,
    probe_seen: Option<SeenKeys>,
    finishing: bool,
    /// Probe chunks in flight against the current block.
    active: Vec<Probing>,
}

fn project_to(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema_ref().fields().len() == schema.fields().len()
        && batch
            .schema_ref()
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, b)| a.name() == b.name())
    {
        return Ok(batch);
    }
    let idx = schema
        .fields()
        .iter()
        .map(|f| batch.schema_ref().index_of(f.name()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(batch.project(&idx)?)
}

fn projected(plan: &LogicalPlan, names: Option<&Vec<String>>) -> Result<SchemaRef> {
    let schema = plan.schema();
    Ok(match names {
        None => schema,
        Some(n) => {
            let idx = n
                .iter()
                .map(|c| schema.index_of(c))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Arc::new(schema.project(&idx)?)
        }
    })
}

/// Bytes of the rows of `b` (not of whole shared buffers: a slice of a
/// larger chunk, or a batch inside a spill file's map, reports only its
/// own share), which is what concatenating it allocates. View columns
/// count their views and the bytes these use, at most their buffers: the
/// build side's batches are compacted first ([`compact_views`]), so that
/// is what they hold.
fn batch_bytes(b: &RecordBatch) -> u64 {
    slice_bytes(b)
}

/// The build side in one batch, its columns concatenated in parallel;
/// the columns `views` (string or binary) become view arrays (see
/// [`gather_views`]).
fn concat_columns(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    views: &[usize],
) -> Result<RecordBatch> {
    if let ([one], []) = (batches, views) {
        return Ok(one.clone());
    }
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    let cols = (0..schema.fields().len())
        .into_par_iter()
        .map(|i| {
            let parts: Vec<&dyn arrow_array::Array> =
                batches.iter().map(|b| b.column(i).as_ref()).collect();
            let dt = schema.field(i).data_type();
            if views.contains(&i) {
                to_views(&parts, dt, rows)
            } else if parts.is_empty() {
                Ok(arrow_array::new_empty_array(dt))
            } else {
                Ok(concat(&parts)?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .zip(&cols)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        cols,
        &opts,
    )?)
}

/// Build sides of at least this many rows hold their string and binary
/// payload columns as views. Below it the columns stay in cache, where
/// gathering offsets and bytes is as cheap as gathering views and the
/// conversion back would be pure cost. Unit tests lower it so that their
/// small joins (and spilled partitions) take the view path too.
const VIEW_MIN_ROWS: usize = if cfg!(test) { 16 } else { 1 << 18 };

/// Which build-side columns to hold as views while `rows` build rows are
/// joined: the string and binary columns that are gathered into the output
/// (not the keys, which are hashed and compared as they are), when the
/// build side is large enough for the gather to miss the cache (see
/// [`VIEW_MIN_ROWS`]) and the budget has room for the views (16 bytes a
/// row, of which the 4 of the offsets they replace were reserved already).
/// The grown reservation is settled with the rest of the build.
fn gather_views(s: &Shared, rows: usize, res: &mut Reservation) -> Vec<usize> {
    if rows < VIEW_MIN_ROWS {
        return Vec::new();
    }
    let cols: Vec<usize> = s
        .build_schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(i, f)| !s.build_keys.contains(i) && view_type(f.data_type()).is_some())
        .map(|(i, _)| i)
        .collect();
    let extra = (12 * rows * cols.len()) as u64;
    if cols.is_empty() || res.try_grow(extra).is_err() {
        return Vec::new();
    }
    cols
}

/// Starts a join: reads the build side (spilling it, and then the probe
/// side, when it does not fit) and returns the stream of its output.
pub(crate) fn run_join(
    ctx: &Context,
    job: &Arc<JobMetrics>,
    spec: &JoinSpec,
    needed: Option<&[String]>,
) -> Result<JoinStream> {
    let (left_names, right_names) = spec.needed_inputs(needed);
    let left_schema = projected(&spec.left, left_names.as_ref())?;
    let right_schema = projected(&spec.right, right_names.as_ref())?;
    // The plan decides (the optimizer sets the build side from estimates).
    let build_left = spec.builds_left();
    let probe_is_left = !build_left;
    let out = Assembler::new(spec, &left_schema, &right_schema, needed, probe_is_left)?;
    let residual = spec
        .filter
        .as_ref()
        .map(|f| Residual::new(f, &left_schema, &right_schema, probe_is_left))
        .transpose()?;
    let key_idx = |schema: &Schema, keys: &[String]| -> Result<Vec<usize>> {
        keys.iter()
            .map(|k| Ok(schema.index_of(k)?))
            .collect::<Result<Vec<_>>>()
    };
    let lk = key_idx(&left_schema, &spec.left_on)?;
    let rk = key_idx(&right_schema, &spec.right_on)?;
    let types: Vec<_> = lk
        .iter()
        .map(|&i| left_schema.field(i).data_type().clone())
        .collect();
    let v = spec.options.validation();
    let (lu, ru) = (
        v.left_unique().then_some("left"),
        v.right_unique().then_some("right"),
    );
    let emit = match spec.how {
        JoinType::Inner | JoinType::Cross => Emit::Pairs,
        JoinType::Left | JoinType::Right | JoinType::Full => Emit::Outer,
        JoinType::Semi if build_left => Emit::MarkSemi,
        JoinType::Anti if build_left => Emit::MarkAnti,
        JoinType::Semi => Emit::Semi,
        JoinType::Anti => Emit::Anti,
    };
    let (build_plan, build_names, probe_plan, probe_names) = if build_left {
        (&spec.left, left_names, &spec.right, right_names)
    } else {
        (&spec.right, right_names, &spec.left, left_names)
    };
    let s = Shared {
        ctx: ctx.clone(),
        job: Arc::clone(job),
        how: spec.how,
        emit,
        out,
        codec: KeyCodec::new(&types)?,
        build_keys: if build_left { lk.clone() } else { rk.clone() },
        probe_keys: if build_left { rk } else { lk },
        build_schema: if build_left {
            left_schema.clone()
        } else {
            right_schema.clone()
        },
        probe_schema: if build_left {
            right_schema
        } else {
            left_schema
        },
        build_unique: if build_left { lu } else { ru },
        probe_unique: if build_left { ru } else { lu },
        validation: format!("{:?}", spec.options.validation()),
        max_out: ctx.config().chunk_rows.max(1),
        residual,
    };
    let mut reservation = ctx
        .memory_pool()
        .reservation(format!("join {} build", spec.how));
    let mut build = child_stream(ctx, job, build_plan, build_names.clone())?;
    let mut held: Vec<RecordBatch> = Vec::new();
    let mut overflow: Option<RecordBatch> = None;
    for b in build.by_ref() {
        let b = project_to(b?, &s.build_schema)?;
        // Views filtered from a larger batch would hold all of its bytes.
        let b = compact_views(&b)?.unwrap_or(b);
        // The batch, its share of the table, and room to concatenate.
        let need = 2 * batch_bytes(&b) + table_overhead(b.num_rows());
        if reservation.try_grow(need).is_err() {
            overflow = Some(b);
            break;
        }
        held.push(b);
    }
    job.note_reserved(reservation.size());
    let probe_stream = child_stream(ctx, job, probe_plan, probe_names.clone())?;
    let state = match overflow {
        None => {
            let rows = held.iter().map(|b| b.num_rows()).sum();
            let views = gather_views(&s, rows, &mut reservation);
            job.note_reserved(reservation.size());
            let batch = ctx.install(|| concat_columns(&s.build_schema, &held, &views))?;
            drop(held);
            let track = s.tracks_build();
            let threads = ctx.config().threads;
            let table =
                ctx.install(|| BuiltTable::build(batch, &s.build_keys, &s.codec, threads, track))?;
            let actual = batch_bytes(&table.batch) + table.overhead();
            // Settle the reservation on the real size (never above what fit).
            if actual < reservation.size() {
                reservation.shrink(reservation.size() - actual);
            }
            check_build_unique(&s, &table, None)?;
            State::Streaming {
                table: Box::new(table),
                probe: Box::new(probe_stream),
                seen: s.probe_unique.map(|_| SeenKeys::new()),
                active: Vec::new(),
            }
        }
        Some(first) => {
            let dir = ctx.spill_dir()?;
            let parts = if s.how == JoinType::Cross {
                1
            } else {
                GRACE_PARTS
            };
            let mut bp = Partitioner::new(&dir, &s, true, parts, 1)?;
            for b in held.drain(..) {
                bp.push(&s, &b)?;
            }
            reservation.free();
            bp.push(&s, &first)?;
            for b in build.by_ref() {
                bp.push(&s, &project_to(b?, &s.build_schema)?)?;
            }
            // One side's writers (and their buffers) at a time.
            let build_files = bp.finish(&s)?;
            let mut pp = Partitioner::new(&dir, &s, false, parts, 1)?;
            for b in probe_stream {
                pp.push(&s, &project_to(b?, &s.probe_schema)?)?;
            }
            let tasks = pair_tasks(&s, build_files, pp.finish(&s)?, 1, parts == 1);
            State::Grace {
                tasks,
                current: None,
            }
        }
    };
    let ready = Ready::new(ctx, s.how);
    Ok(JoinStream {
        s,
        state,
        ready,
        reservation,
    })
}

fn pair_tasks(
    s: &Shared,
    build: Vec<SpillFile>,
    probe: Vec<SpillFile>,
    level: u32,
    skewed: bool,
) -> VecDeque<Task> {
    let total: u64 = build.iter().map(|f| f.rows()).sum();
    build
        .into_iter()
        .zip(probe)
        .filter(|(b, p)| {
            // Nothing can come out of a pair without probe rows unless
            // unmatched build rows are kept (full); nor of one without
            // build rows unless probe rows are kept on their own.
            (p.rows() > 0 || s.how == JoinType::Full || s.emit == Emit::MarkAnti)
                && (b.rows() > 0 || matches!(s.emit, Emit::Outer | Emit::Anti))
        })
        .map(|(b, p)| {
            let skew = skewed || (total > 1 && b.rows() * 10 >= total * 9 && level > 1);
            Task {
                build: b,
                probe: p,
                level,
                skewed: skew,
            }
        })
        .collect()
}

fn check_build_unique(s: &Shared, table: &BuiltTable, seen: Option<&SeenKeys>) -> Result<()> {
    if let Some(side) = s.build_unique {
        let dup = table.has_duplicates
            || seen.is_some_and(|seen| {
                let cols: Vec<_> = s
                    .build_keys
                    .iter()
                    .map(|&i| table.batch.column(i).clone())
                    .collect();
                s.codec
                    .encode(&cols)
                    .is_ok_and(|(k, v)| seen.add(&k, v.as_ref(), table.num_rows()).is_some())
            });
        if dup {
            return Err(validation_error(s, side));
        }
    }
    Ok(())
}

fn validation_error(s: &Shared, side: &str) -> Error {
    Error::InvalidArgument(format!(
        "join validation {} failed: the {side} side's join keys are not unique",
        s.validation
    ))
}

/// Hash-partitions batches into one spill file per partition.
struct Partitioner {
    writers: Vec<SpillWriter>,
    build: bool,
    level: u32,
}

impl Partitioner {
    fn new(dir: &SpillDir, s: &Shared, build: bool, parts: usize, level: u32) -> Result<Self> {
        let (schema, what) = if build {
            (&s.build_schema, "join-build")
        } else {
            (&s.probe_schema, "join-probe")
        };
        let writers = (0..parts)
            .map(|_| dir.new_file(what, schema.clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Partitioner {
            writers,
            build,
            level,
        })
    }

    fn push(&mut self, s: &Shared, batch: &RecordBatch) -> Result<()> {
        s.ctx.check_cancelled()?;
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let parts = self.writers.len();
        if parts == 1 {
            return self.writers[0].write(batch);
        }
        let key_idx = if self.build {
            &s.build_keys
        } else {
            &s.probe_keys
        };
        let cols: Vec<_> = key_idx.iter().map(|&i| batch.column(i).clone()).collect();
        let (keys, _) = s.codec.encode(&cols)?;
        let hashes = s.ctx.install(|| keys.hashes(self.level, n));
        let mut idx: Vec<Vec<u32>> = vec![Vec::new(); parts];
        for (i, h) in hashes.iter().enumerate() {
            idx[partition_of(*h, parts)].push(i as u32);
        }
        for (p, rows) in idx.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let part = take_record_batch(batch, &UInt32Array::from(rows))?;
            self.writers[p].write(&part)?;
        }
        Ok(())
    }

    fn finish(self, s: &Shared) -> Result<Vec<SpillFile>> {
        let files = self
            .writers
            .into_iter()
            .map(|w| w.finish())
            .collect::<Result<Vec<_>>>()?;
        for f in &files {
            s.job.add_spill(f.stats());
        }
        Ok(files)
    }
}

/// Indices of `rows` as an Arrow array for `take`.
fn indices(rows: &[u32]) -> UInt32Array {
    UInt32Array::new(ScalarBuffer::from(rows.to_vec()), None)
}

/// A probe chunk being joined. Its pairs are gathered a bounded slice at
/// a time ([`Shared::advance`]), so a chunk whose rows each match many
/// build rows (a many-to-many key, a cross join) holds at most one output
/// chunk of pairs at once, however many rows it makes in all.
struct Probing {
    batch: RecordBatch,
    keys: Keys,
    valid: Option<NullBuffer>,
    /// Bit of the chunk's first row in a partition's matched-rows bitmap.
    offset: usize,
    /// Which probe rows matched so far.
    hit: Vec<bool>,
    /// Where the next slice starts.
    pos: ProbePos,
    /// Bytes of one row of the chunk (for sizing output slices).
    row_bytes: u64,
}

/// Output chunks of a join, waiting to be pulled, held under a reservation
/// so that the operators downstream see the memory taken.
struct Ready {
    queue: VecDeque<(RecordBatch, u64)>,
    res: Reservation,
}

impl Ready {
    fn new(ctx: &Context, how: JoinType) -> Self {
        Ready {
            queue: VecDeque::new(),
            res: ctx.memory_pool().reservation(format!("join {how} output")),
        }
    }

    /// Queues chunks, reserving their bytes. A chunk that does not fit
    /// the pool is queued anyway (it exists already): the slices of one
    /// step are the join's bounded overhead outside the budget.
    fn extend(&mut self, batches: impl IntoIterator<Item = RecordBatch>) {
        for b in batches {
            let bytes = slice_bytes(&b);
            let held = if self.res.try_grow(bytes).is_ok() {
                bytes
            } else {
                0
            };
            self.queue.push_back((b, held));
        }
    }

    fn pop(&mut self) -> Option<RecordBatch> {
        let (b, held) = self.queue.pop_front()?;
        self.res.shrink(held);
        Some(b)
    }
}

/// Output slices are sized to about this share (1 / `OUT_SHARE`) of the
/// memory pool per probe chunk in flight, within [`MIN_OUT_BYTES`] and
/// [`MAX_OUT_BYTES`], and never above `chunk_rows` rows.
const OUT_SHARE: u64 = 32;
const MIN_OUT_BYTES: u64 = 64 << 10;
const MAX_OUT_BYTES: u64 = 16 << 20;
/// Fewest rows of an output slice (a row wider than the byte target still
/// makes progress).
const MIN_OUT_ROWS: usize = 64;

impl Shared {
    /// Readies probe chunks (with their offsets in a partition's bitmap)
    /// for [`advance`](Self::advance): encodes their keys in parallel and
    /// checks a validated probe side's keys.
    fn start_probes(
        &self,
        chunks: Vec<(RecordBatch, usize)>,
        seen: Option<&SeenKeys>,
    ) -> Result<Vec<Probing>> {
        self.ctx.install(|| {
            chunks
                .into_par_iter()
                .map(|(batch, offset)| {
                    let n = batch.num_rows();
                    let cols: Vec<_> = self
                        .probe_keys
                        .iter()
                        .map(|&i| batch.column(i).clone())
                        .collect();
                    let (keys, valid) = self.codec.encode(&cols)?;
                    if let (Some(seen), Some(side)) = (seen, self.probe_unique)
                        && seen.add(&keys, valid.as_ref(), n).is_some()
                    {
                        return Err(validation_error(self, side));
                    }
                    let row_bytes = batch_bytes(&batch) / n.max(1) as u64;
                    Ok(Probing {
                        batch,
                        keys,
                        valid,
                        offset,
                        hit: vec![false; n],
                        pos: ProbePos::START,
                        row_bytes,
                    })
                })
                .collect()
        })
    }

    /// Most pairs of one output slice: its estimated bytes (a probe row
    /// plus a build row, `build_row` bytes) within the byte target, and
    /// at most `chunk_rows`.
    fn slice_rows(&self, p: &Probing, build_row: u64) -> usize {
        let target = (self.ctx.memory_pool().limit() / OUT_SHARE / self.window() as u64)
            .clamp(MIN_OUT_BYTES, MAX_OUT_BYTES);
        let rows = target / (p.row_bytes + build_row).max(1);
        usize::try_from(rows)
            .unwrap_or(usize::MAX)
            .clamp(MIN_OUT_ROWS, self.max_out.max(MIN_OUT_ROWS))
    }

    /// Advances the chunks in flight by one slice each, in parallel, and
    /// drops those finished; returns their output. `immediate`: this is
    /// the only block of build rows, so unmatched probe rows are known at
    /// once; else matched probe rows are recorded in `matched` for the
    /// final pass.
    fn advance_window(
        &self,
        table: &BuiltTable,
        active: &mut Vec<Probing>,
        immediate: bool,
        matched: Option<&[AtomicU64]>,
    ) -> Result<Vec<RecordBatch>> {
        let build_row = batch_bytes(&table.batch) / table.num_rows().max(1) as u64;
        let outs: Vec<Result<(Vec<RecordBatch>, bool)>> = self.ctx.install(|| {
            active
                .par_iter_mut()
                .map(|p| {
                    let cap = self.slice_rows(p, build_row);
                    self.advance(table, p, immediate, matched, cap)
                })
                .collect()
        });
        let mut all = Vec::new();
        let mut finished = Vec::with_capacity(outs.len());
        for o in outs {
            let (out, done) = o?;
            all.extend(out);
            finished.push(done);
        }
        let mut k = 0;
        active.retain(|_| {
            k += 1;
            !finished[k - 1]
        });
        Ok(all)
    }

    /// Joins the next slice of a probe chunk: at most `cap` pairs (or,
    /// when each probe row matches at most once, the whole chunk, whose
    /// output is no larger than the chunk). Returns the output and whether
    /// the chunk is finished.
    fn advance(
        &self,
        table: &BuiltTable,
        p: &mut Probing,
        immediate: bool,
        matched: Option<&[AtomicU64]>,
        cap: usize,
    ) -> Result<(Vec<RecordBatch>, bool)> {
        self.ctx.check_cancelled()?;
        let n = p.batch.num_rows();
        let want_pairs = matches!(self.emit, Emit::Pairs | Emit::Outer);
        let marks = self.emit.marks();
        // Unique build keys: each probe row matches at most once, so the
        // probe columns are reused (or filtered) rather than gathered, and
        // the pair lists never grow (and re-fault) while probing.
        let at_most_once = !table.has_duplicates && !matches!(p.keys, Keys::None);
        // With a residual, a pair matches only once it passes: the pairs
        // are listed first (a bounded slice at a time unless each probe row
        // has at most one), filtered, and only then counted.
        let residual = self.residual.as_ref();
        let mut out = Vec::new();
        if at_most_once || (!want_pairs && residual.is_none()) {
            let list_pi = want_pairs || residual.is_some();
            let list_bi = list_pi || marks;
            let mut pi: Vec<u32> = Vec::with_capacity(if list_pi { n } else { 0 });
            let mut bi: Vec<u32> = Vec::with_capacity(if list_bi { n } else { 0 });
            let hit = &mut p.hit;
            let direct = residual.is_none();
            table.probe(&p.keys, p.valid.as_ref(), n, |i, j| {
                if direct {
                    hit[i] = true;
                }
                if list_pi {
                    pi.push(i as u32);
                }
                if list_bi {
                    bi.push(j);
                }
            });
            if let Some(r) = residual {
                r.retain(&p.batch, &table.batch, &mut pi, &mut bi)?;
                for &i in &pi {
                    p.hit[i as usize] = true;
                }
            }
            p.pos = ProbePos::done(n);
            if self.tracks_build() {
                table.mark(&bi);
            }
            let batch = &p.batch;
            if want_pairs && immediate && self.emit == Emit::Outer {
                // Every probe row once, with its match or nulls.
                self.record_matched(p, matched);
                let mut rows = vec![0u32; n];
                for (&i, &j) in pi.iter().zip(&bi) {
                    rows[i as usize] = j;
                }
                let idx = UInt32Array::new(ScalarBuffer::from(rows), Some(p.hit.clone().into()));
                out.push(self.out.assemble(
                    Some((batch, Rows::All)),
                    Some((&table.batch, Rows::Take(&idx))),
                    n,
                )?);
                return Ok((out, true));
            }
            if want_pairs {
                let mask;
                let probe_rows = if pi.len() == n {
                    Rows::All
                } else {
                    mask = BooleanArray::from(p.hit.clone());
                    Rows::Filter(&mask)
                };
                let idx = indices(&bi);
                out.push(self.out.assemble(
                    Some((batch, probe_rows)),
                    Some((&table.batch, Rows::Take(&idx))),
                    pi.len(),
                )?);
            }
        } else {
            let mut pi: Vec<u32> = Vec::with_capacity(cap);
            let mut bi: Vec<u32> = Vec::with_capacity(cap);
            let hit = &mut p.hit;
            let direct = residual.is_none();
            p.pos = table.probe_from(&p.keys, p.valid.as_ref(), n, p.pos, cap, |i, j| {
                if direct {
                    hit[i] = true;
                }
                pi.push(i as u32);
                bi.push(j);
            });
            if let Some(r) = residual {
                r.retain(&p.batch, &table.batch, &mut pi, &mut bi)?;
                for &i in &pi {
                    p.hit[i as usize] = true;
                }
            }
            if self.tracks_build() {
                table.mark(&bi);
            }
            if want_pairs && !pi.is_empty() {
                out.push(self.out.assemble(
                    Some((&p.batch, Rows::Take(&indices(&pi)))),
                    Some((&table.batch, Rows::Take(&indices(&bi)))),
                    pi.len(),
                )?);
            }
            if p.pos.row < n {
                return Ok((out, false));
            }
        }
        self.record_matched(p, matched);
        if immediate {
            let keep = match self.emit {
                Emit::Pairs | Emit::MarkSemi | Emit::MarkAnti => return Ok((out, true)),
                Emit::Outer | Emit::Anti => BooleanArray::from_iter(p.hit.iter().map(|h| Some(!h))),
                Emit::Semi => BooleanArray::from(p.hit.clone()),
            };
            let rows = keep.true_count();
            if rows > 0 {
                out.push(
                    self.out
                        .assemble(Some((&p.batch, Rows::Filter(&keep))), None, rows)?,
                );
            }
        }
        Ok((out, true))
    }

    /// Records a finished chunk's matched rows in a partition's bitmap.
    fn record_matched(&self, p: &Probing, matched: Option<&[AtomicU64]>) {
        if let Some(bits) = matched {
            for (i, _) in p.hit.iter().enumerate().filter(|(_, h)| **h) {
                let r = p.offset + i;
                bits[r / 64].fetch_or(1 << (r % 64), Ordering::Relaxed);
            }
        }
    }

    /// Probe rows on their own: with nulls for the build side (outer
    /// joins), or as they are (semi and anti joins).
    fn probe_only(&self, batch: &RecordBatch, rows: &[u32]) -> Result<Vec<RecordBatch>> {
        rows.chunks(self.max_out)
            .map(|r| {
                self.out
                    .assemble(Some((batch, Rows::Take(&indices(r)))), None, r.len())
            })
            .collect()
    }

    /// Whether the build rows' matches are tracked: a full join emits the
    /// unmatched ones, a semi or anti join built on its left side the
    /// matched or unmatched ones.
    fn tracks_build(&self) -> bool {
        self.how == JoinType::Full || self.emit.marks()
    }

    /// The build rows decided once a block of them has seen every probe
    /// row: a full join's unmatched rows, with nulls for the probe side; a
    /// semi (anti) join's matched (unmatched) rows when built on the left.
    fn unmatched_build(&self, table: &BuiltTable) -> Result<Vec<RecordBatch>> {
        let rows = match self.emit {
            Emit::MarkSemi => table.matched(),
            Emit::MarkAnti => table.unmatched(),
            _ if self.how == JoinType::Full => table.unmatched(),
            _ => return Ok(Vec::new()),
        };
        rows.chunks(self.max_out)
            .map(|r| {
                self.out
                    .assemble(None, Some((&table.batch, Rows::Take(&indices(r)))), r.len())
            })
            .collect()
    }

    fn window(&self) -> usize {
        self.ctx.config().threads * 2
    }
}

impl JoinStream {
    /// Runs one step: a window of probe chunks, or one stage of a spilled
    /// partition.
    fn step(&mut self) -> Result<()> {
        let s = &self.s;
        match &mut self.state {
            State::Done => Ok(()),
            State::Streaming {
                table,
                probe,
                seen,
                active,
            } => {
                let mut chunks = Vec::new();
                while active.len() + chunks.len() < s.window() {
                    match probe.next() {
                        Some(b) => chunks.push((project_to(b?, &s.probe_schema)?, 0)),
                        None => break,
                    }
                }
                active.extend(s.start_probes(chunks, seen.as_ref())?);
                if active.is_empty() {
                    let tail = s.unmatched_build(table)?;
                    self.ready.extend(tail);
                    self.state = State::Done;
                    self.reservation.free();
                    return Ok(());
                }
                let out = s.advance_window(table, active, true, None)?;
                self.ready.extend(out);
                Ok(())
            }
            State::Grace { tasks, current } => {
                if current.is_none() {
                    let Some(task) = tasks.pop_front() else {
                        self.state = State::Done;
                        return Ok(());
                    };
                    match start_task(s, task, &mut self.reservation)? {
                        Started::Job(j) => *current = Some(j),
                        Started::Split(more) => {
                            for t in more.into_iter().rev() {
                                tasks.push_front(t);
                            }
                        }
                    }
                    return Ok(());
                }
                let Some(job) = current.as_mut() else {
                    return Ok(());
                };
                let done = job_step(s, job, &mut self.reservation, &mut self.ready)?;
                if done {
                    *current = None;
                    self.reservation.free();
                }
                Ok(())
            }
        }
    }
}

enum Started {
    Job(Box<PartJob>),
    Split(VecDeque<Task>),
}

/// Opens a spilled partition pair: splits it again when its build side is
/// too large and splitting can help, else starts joining it block by block.
fn start_task(s: &Shared, task: Task, res: &mut Reservation) -> Result<Started> {
    let need = 2 * task.build.bytes() + table_overhead(task.build.rows() as usize);
    let fits = res.try_grow(need).is_ok();
    if fits {
        res.shrink(need);
    }
    if !fits && !task.skewed && task.level < MAX_LEVEL && task.build.rows() > 1 {
        let dir = s.ctx.spill_dir()?;
        let level = task.level + 1;
        let mut bp = Partitioner::new(&dir, s, true, GRACE_SUBPARTS, level)?;
        for b in task.build.read()? {
            bp.push(s, &b?)?;
        }
        let build_files = bp.finish(s)?;
        let mut pp = Partitioner::new(&dir, s, false, GRACE_SUBPARTS, level)?;
        for b in task.probe.read()? {
            pp.push(s, &b?)?;
        }
        return Ok(Started::Split(pair_tasks(
            s,
            build_files,
            pp.finish(s)?,
            level,
            false,
        )));
    }
    let probe = task.probe.read()?;
    let mut probe_offsets = Vec::with_capacity(probe.num_batches());
    let mut total = 0usize;
    for i in 0..probe.num_batches() {
        probe_offsets.push(total);
        total += probe.batch(i)?.num_rows();
    }
    Ok(Started::Job(Box::new(PartJob {
        build: task.build.read()?,
        next_build: 0,
        probe,
        next_probe: 0,
        probe_offsets,
        table: None,
        multi: false,
        first_block: true,
        probe_matched: (0..total.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        build_seen: None,
        probe_seen: s.probe_unique.map(|_| SeenKeys::new()),
        finishing: false,
        active: Vec::new(),
    })))
}

/// One stage of a partition: load the next block of build rows, probe a
/// window of probe chunks against it, or (after the last block of a
/// multi-block partition) emit the probe rows decided by the bitmap.
/// Returns whether the partition is finished.
fn job_step(
    s: &Shared,
    job: &mut PartJob,
    res: &mut Reservation,
    ready: &mut Ready,
) -> Result<bool> {
    s.ctx.check_cancelled()?;
    if job.finishing {
        let mut chunks = Vec::new();
        while chunks.len() < s.window() && job.next_probe < job.probe.num_batches() {
            let i = job.next_probe;
            chunks.push((job.probe.batch(i)?, job.probe_offsets[i]));
            job.next_probe += 1;
        }
        if chunks.is_empty() {
            return Ok(true);
        }
        for (b, off) in chunks {
            let keep: Vec<u32> = (0..b.num_rows() as u32)
                .filter(|&i| {
                    let r = off + i as usize;
                    let hit =
                        job.probe_matched[r / 64].load(Ordering::Relaxed) & (1 << (r % 64)) != 0;
                    match s.emit {
                        Emit::Semi => hit,
                        Emit::Outer | Emit::Anti => !hit,
                        Emit::Pairs | Emit::MarkSemi | Emit::MarkAnti => false,
                    }
                })
                .collect();
            ready.extend(s.probe_only(&b, &keep)?);
        }
        return Ok(false);
    }
    if job.table.is_none() {
        // Load the next block: as many build batches as the budget allows.
        let mut held = Vec::new();
        while job.next_build < job.build.num_batches() {
            let b = job.build.batch(job.next_build)?;
            // Mapped, so only the concatenated copy takes memory.
            let need = batch_bytes(&b) + table_overhead(b.num_rows());
            if res.try_grow(need).is_err() {
                if held.is_empty() {
                    return Err(Error::ResourcesExhausted(format!(
                        "a join needs {} for one chunk of its build side but only {} of the \
                         memory limit {} is free; raise the limit or lower chunk_rows",
                        format_bytes(need),
                        format_bytes(res.pool().available()),
                        format_bytes(res.pool().limit())
                    )));
                }
                break;
            }
            held.push(b);
            job.next_build += 1;
        }
        s.job.note_reserved(res.size());
        if job.first_block && job.next_build < job.build.num_batches() {
            job.multi = true;
            if s.build_unique.is_some() {
                job.build_seen = Some(SeenKeys::new());
            }
        }
        let rows = held.iter().map(|b| b.num_rows()).sum();
        let views = gather_views(s, rows, res);
        s.job.note_reserved(res.size());
        let batch = s
            .ctx
            .install(|| concat_columns(&s.build_schema, &held, &views))?;
        drop(held);
        let threads = s.ctx.config().threads;
        let table = s.ctx.install(|| {
            BuiltTable::build(batch, &s.build_keys, &s.codec, threads, s.tracks_build())
        })?;
        check_build_unique(s, &table, job.build_seen.as_ref())?;
        job.table = Some(table);
        job.next_probe = 0;
        return Ok(false);
    }
    let Some(table) = job.table.as_ref() else {
        return Ok(false);
    };
    let mut chunks = Vec::new();
    while job.active.len() + chunks.len() < s.window() && job.next_probe < job.probe.num_batches() {
        let i = job.next_probe;
        chunks.push((job.probe.batch(i)?, job.probe_offsets[i]));
        job.next_probe += 1;
    }
    let seen = if job.first_block {
        job.probe_seen.as_ref()
    } else {
        None
    };
    let started = s.start_probes(chunks, seen)?;
    job.active.extend(started);
    if !job.active.is_empty() {
        let matched = job.multi.then_some(job.probe_matched.as_slice());
        let out = s.advance_window(table, &mut job.active, !job.multi, matched)?;
        ready.extend(out);
        return Ok(false);
    }
    // This block has seen every probe chunk.
    ready.extend(s.unmatched_build(table)?);
    job.table = None;
    job.first_block = false;
    res.free();
    if job.next_build < job.build.num_batches() {
        return Ok(false);
    }
    if job.multi && matches!(s.emit, Emit::Outer | Emit::Semi | Emit::Anti) {
        job.finishing = true;
        job.next_probe = 0;
        return Ok(false);
    }
    Ok(true)
}

impl Iterator for JoinStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(b) = self.ready.pop() {
                return Some(Ok(b));
            }
            if matches!(self.state, State::Done) {
                return None;
            }
            if let Err(e) = self.step() {
                self.state = State::Done;
                self.reservation.free();
                return Some(Err(e));
            }
        }
    }
}
