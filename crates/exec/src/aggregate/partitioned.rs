//! Parallel, memory-bounded hash aggregation over per-thread partials.
//!
//! 1. **Fold.** Every worker folds its chunks into its own [`Partial`] and
//!    keeps a [`Reservation`] at the partial's size. A partial with more
//!    groups than a chunk has rows goes on partitioned: each row is routed
//!    by key hash to one of `2^MERGE_BITS` parts (small tables instead of
//!    one big one). When the reservation cannot grow, the partial is split
//!    by key hash into `2^SPILL_BITS` partitions, written as one spill file
//!    (one state batch per partition), and the worker starts a new partial.
//! 2. **Merge in memory** (nothing spilled and the merge fits the budget):
//!    every flat partial is split by key hash into `2^MERGE_BITS`
//!    partitions (one partition when there are few groups), and the
//!    partitions are merged and finished in parallel: partition `p` of
//!    every partial goes into one partial (the biggest part `p` of a
//!    partitioned partial, taken over as it is, or a new one), so both
//!    cores work during the merge and no group is hashed twice into one
//!    big table.
//! 3. **Grace** (otherwise): the remaining partials are spilled as well and
//!    each spill partition is finished on its own, reading its state
//!    batches back zero-copy from the maps. A partition that does not fit
//!    is split again (another hash mix per level) into new spill files,
//!    recursively, up to `MAX_LEVEL` levels. Finished partitions go to
//!    one output spill file as they are done and are handed on zero-copy
//!    from its map, so the result does not pile up in memory either.
//!
//! # Memory held outside the reservations (the stated overhead)
//! Before a chunk is folded, the partial's size plus what the previous
//! chunk added is reserved (spilling first when that does not fit), so
//! only a chunk that adds more than the one before runs ahead of its
//! reservation, and the first chunk of a partial (at most one chunk's new
//! groups). Going partitioned holds a partial twice for a moment and
//! happens only when twice its size fits. Spilling a partial turns its
//! states into Arrow arrays one aggregate at a time and writes one
//! partition's batch at a time, so it briefly holds the partial plus one
//! partition's copy. Measured: db-benchmark's q10 over 10^6 groups under
//! a 64 MiB limit peaks at about 96 MB of heap, input chunks and Parquet
//! decoding included (`million_group_six_key_group_by_holds_64_mib`).

use std::sync::Mutex;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use parframe_common::{Error, Result, format_bytes};
use parframe_spill::{Reservation, SpillFile, SpillWriter};
use rayon::prelude::*;

use super::run::{Aggregator, PART_BITS, Partial};
use crate::Context;
use crate::context::JobMetrics;

/// Partitions (as a power of two) of a spill file.
const SPILL_BITS: u32 = 5;
/// Partitions (as a power of two) of the in-memory parallel merge: those
/// of partitioned partials, so their parts are merged as they are.
const MERGE_BITS: u32 = PART_BITS;
/// Below this many groups over all partials the merge runs as one
/// partition: splitting would cost more than it saves.
const SERIAL_MERGE_GROUPS: usize = 1 << 14;
/// Re-partitioning levels before a partition that still does not fit is
/// reported as an error (one huge group cannot be split).
const MAX_LEVEL: u32 = 4;

/// One finished partition: key columns, one array per leaf aggregate, and
/// the number of groups.
pub(crate) type Finished = (Vec<ArrayRef>, Vec<ArrayRef>, usize);

/// Turns a finished partition into an output batch.
pub(crate) type Emit<'e> = dyn Fn(Finished) -> Result<RecordBatch> + Sync + 'e;

/// A worker's partial and the memory it reserved.
pub(crate) struct Local {
    partial: Partial,
    reservation: Reservation,
    /// What the last chunk added to the partial: the next chunk is
    /// expected to add about as much, and that is reserved before it is
    /// folded (a low-cardinality fold adds almost nothing, one of mostly
    /// new groups a chunk's worth).
    growth: u64,
}

/// One hash aggregation job: the aggregation, its spill files so far, and
/// where it accounts memory and spills.
pub(crate) struct HashAggregate<'a> {
    ctx: &'a Context,
    job: &'a JobMetrics,
    agg: &'a Aggregator,
    spilled: Mutex<Vec<SpillFile>>,
    /// The most one worker's partial (or one partition being merged) may
    /// hold: its share of the budget, so one worker cannot starve the
    /// other into spilling tiny partials.
    share: u64,
    /// Finished partitions of the grace path (created on first use).
    output: Mutex<Option<SpillWriter>>,
}

fn poisoned() -> Error {
    Error::InvalidArgument("internal: a worker panicked while aggregating".into())
}

impl<'a> HashAggregate<'a> {
    pub(crate) fn new(ctx: &'a Context, job: &'a JobMetrics, agg: &'a Aggregator) -> Self {
        HashAggregate {
            ctx,
            job,
            agg,
            spilled: Mutex::new(Vec::new()),
            share: ctx.memory_pool().limit() / ctx.config().threads.max(1) as u64,
            output: Mutex::new(None),
        }
    }

    /// A worker's empty partial.
    pub(crate) fn new_local(&self) -> Result<Local> {
        Ok(Local {
            partial: self.agg.new_partial()?,
            reservation: self.ctx.memory_pool().reservation("hash aggregate"),
            growth: 0,
        })
    }

    /// Folds one chunk into a worker's partial under its reservation: the
    /// partial's size plus the growth the last chunk showed is reserved
    /// first (the partial is spilled and a new one started when that does
    /// not fit), and the partial is spilled after the fold when its real
    /// size does not fit.
    pub(crate) fn update(&self, l: &mut Local, batch: &RecordBatch, pos: u64) -> Result<()> {
        let before = l.partial.size() as u64;
        if !fits(&mut l.reservation, before + l.growth, self.share) && l.partial.num_groups() > 0 {
            self.spill_local(l)?;
            // The new partial's first chunk grows it about as much: that
            // is reserved too, so the other workers see the pool as full
            // as it is about to be.
            let _ = fits(
                &mut l.reservation,
                l.partial.size() as u64 + l.growth,
                self.share,
            );
        }
        let before = l.partial.size() as u64;
        self.agg.update(&mut l.partial, batch, pos)?;
        let size = l.partial.size() as u64;
        l.growth = size.saturating_sub(before);
        if !fits(&mut l.reservation, size, self.share) {
            self.spill_local(l)?;
        } else if self
            .agg
            .wants_partition(&l.partial, self.ctx.config().partition_groups)
        {
            // Past `partition_groups` groups (not the chunk size it once
            // was: a table of 10^5 groups still fits the cache) the
            // partial goes on partitioned. Turning it over holds the
            // partial twice for a moment: only when that fits, else it stays
            // flat (slower, never over the budget).
            if fits(&mut l.reservation, 2 * size, self.share) {
                self.agg.partition(&mut l.partial)?;
                if !fits(&mut l.reservation, l.partial.size() as u64, self.share) {
                    self.spill_local(l)?;
                }
            }
        }
        self.job.note_reserved(l.reservation.size());
        Ok(())
    }

    /// Spills a worker's partial and starts a new one.
    fn spill_local(&self, l: &mut Local) -> Result<()> {
        let full = std::mem::replace(&mut l.partial, self.agg.new_partial()?);
        self.spill(full)?;
        l.reservation.free();
        Ok(())
    }

    /// Splits `p` into spill partitions and writes them as one file.
    fn spill(&self, p: Partial) -> Result<()> {
        let file = self.write_split(p, 0)?;
        self.spilled.lock().map_err(|_| poisoned())?.push(file);
        Ok(())
    }

    /// Splits `p` into spill partitions at `level`, written one by one.
    fn write_split(&self, p: Partial, level: u32) -> Result<SpillFile> {
        let dir = self.ctx.spill_dir()?;
        let mut w = dir.new_file("group-by partitions", self.agg.state_schema().clone())?;
        self.agg.split_each(p, SPILL_BITS, level, |b| w.write(&b))?;
        let file = w.finish()?;
        self.job.add_spill(file.stats());
        Ok(file)
    }

    /// Merges the workers' partials (and what was spilled) and finishes
    /// every group into batches of `schema` made by `emit` (one or more per
    /// partition; read from a spill file's map when the job spilled).
    pub(crate) fn finish(
        self,
        locals: Vec<Local>,
        schema: &SchemaRef,
        emit: &Emit<'_>,
    ) -> Result<Vec<RecordBatch>> {
        let nothing_spilled = self.spilled.lock().map_err(|_| poisoned())?.is_empty();
        let (partials, reservations): (Vec<Partial>, Vec<Reservation>) = locals
            .into_iter()
            .map(|l| (l.partial, l.reservation))
            .unzip();
        let partials = if nothing_spilled {
            match self.merge_in_memory(partials, &reservations, emit)? {
                Ok(done) => return Ok(done),
                Err(back) => back,
            }
        } else {
            partials
        };
        // Grace: everything goes through spill files.
        let spill_all: Vec<Result<()>> = self
            .ctx
            .install(|| partials.into_par_iter().map(|p| self.spill(p)).collect());
        spill_all.into_iter().collect::<Result<()>>()?;
        drop(reservations);
        let files = std::mem::take(&mut *self.spilled.lock().map_err(|_| poisoned())?);
        let parts = read_partitions(&files, 1 << SPILL_BITS)?;
        let done: Vec<Result<()>> = self.ctx.install(|| {
            parts
                .into_par_iter()
                .map(|batches| self.finish_partition(batches, 0, schema, emit))
                .collect()
        });
        done.into_iter().collect::<Result<()>>()?;
        drop(files);
        let writer = self.output.lock().map_err(|_| poisoned())?.take();
        let Some(writer) = writer else {
            // No groups at all (or the one group of a keyless aggregation).
            return Ok(vec![emit(self.agg.finish(self.agg.new_partial()?)?)?]);
        };
        let file = writer.finish()?;
        self.job.add_spill(file.stats());
        // The batches keep the map alive; the file itself goes now.
        file.read()?.collect()
    }

    /// Appends a finished partition to the output spill file.
    fn write_output(&self, batch: RecordBatch, schema: &SchemaRef) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut guard = self.output.lock().map_err(|_| poisoned())?;
        let w = match &mut *guard {
            Some(w) => w,
            none => none.insert(
                self.ctx
                    .spill_dir()?
                    .new_file("group-by result", schema.clone())?,
            ),
        };
        w.write(&batch)
    }

    /// The parallel in-memory merge, or the partials back when the merge
    /// does not fit the budget.
    fn merge_in_memory(
        &self,
        mut partials: Vec<Partial>,
        held: &[Reservation],
        emit: &Emit<'_>,
    ) -> Result<std::result::Result<Vec<RecordBatch>, Vec<Partial>>> {
        if partials.len() <= 1 && !partials.iter().any(Partial::is_partitioned) {
            let p = match partials.pop() {
                Some(p) => p,
                None => self.agg.new_partial()?,
            };
            return Ok(Ok(vec![emit(self.agg.finish(p)?)?]));
        }
        // The merged partials hold about what the inputs hold.
        let need: u64 = held.iter().map(|r| r.size()).sum();
        let mut merge_res = self.ctx.memory_pool().reservation("hash aggregate merge");
        if merge_res.try_grow(need).is_err() {
            return Ok(Err(partials));
        }
        self.job.note_reserved(merge_res.size());
        let groups: usize = partials.iter().map(Partial::num_groups).sum();
        let partitioned = partials.iter().any(Partial::is_partitioned);
        let bits = if partitioned || groups >= SERIAL_MERGE_GROUPS {
            MERGE_BITS
        } else {
            0
        };
        // Partition `i`'s inputs: the parts `i` of partitioned partials
        // (taken over as they are) and the state batches `i` of flat ones.
        let mut parts: Vec<(Vec<Partial>, Vec<RecordBatch>)> = (0..1usize << bits)
            .map(|_| (Vec::new(), Vec::new()))
            .collect();
        let mut flat = Vec::new();
        for p in partials {
            match p.into_partitions() {
                Ok(ps) => {
                    for (slot, q) in parts.iter_mut().zip(ps) {
                        slot.0.push(q);
                    }
                }
                Err(p) => flat.push(p),
            }
        }
        let split: Vec<Result<Vec<RecordBatch>>> = self.ctx.install(|| {
            flat.into_par_iter()
                .map(|p| self.agg.split(p, bits, 0))
                .collect()
        });
        for s in split {
            for (slot, b) in parts.iter_mut().zip(s?) {
                slot.1.push(b);
            }
        }
        let done: Vec<Result<RecordBatch>> = self.ctx.install(|| {
            parts
                .into_par_iter()
                .filter(|(ps, batches)| {
                    ps.iter().any(|p| p.num_groups() > 0)
                        || batches.iter().any(|b| b.num_rows() > 0)
                })
                .map(|(mut ps, mut batches)| {
                    // The part with the most groups is the base: its groups
                    // stay where they are, the others' are merged into it.
                    let base = (0..ps.len()).max_by_key(|&i| ps[i].num_groups());
                    let mut m = match base {
                        Some(i) => ps.swap_remove(i),
                        None => self.agg.new_partial()?,
                    };
                    for q in ps {
                        batches.push(self.agg.state_batch(q)?);
                    }
                    self.agg.reserve_for(&mut m, &batches);
                    for b in &batches {
                        self.agg.merge_state(&mut m, b)?;
                    }
                    drop(batches);
                    emit(self.agg.finish(m)?)
                })
                .collect()
        });
        let mut out = done.into_iter().collect::<Result<Vec<_>>>()?;
        if out.is_empty() {
            out.push(emit(self.agg.finish(self.agg.new_partial()?)?)?);
        }
        Ok(Ok(out))
    }

    /// Merges and finishes the state batches of one spill partition, under
    /// its own reservation; splits it again when it does not fit.
    fn finish_partition(
        &self,
        batches: Vec<RecordBatch>,
        level: u32,
        schema: &SchemaRef,
        emit: &Emit<'_>,
    ) -> Result<()> {
        self.ctx.check_cancelled()?;
        if batches.is_empty() {
            return Ok(());
        }
        let mut res = self
            .ctx
            .memory_pool()
            .reservation("hash aggregate partition");
        let mut m = self.agg.new_partial()?;
        let mut sub: Vec<SpillFile> = Vec::new();
        let step = self.ctx.config().chunk_rows.max(1);
        for b in &batches {
            let mut off = 0;
            while off < b.num_rows() {
                let len = step.min(b.num_rows() - off);
                self.agg.merge_state(&mut m, &b.slice(off, len))?;
                off += len;
                // The last level may use whatever the pool grants.
                let share = if level + 1 >= MAX_LEVEL {
                    u64::MAX
                } else {
                    self.share
                };
                if !fits(&mut res, m.size() as u64, share) {
                    if level + 1 >= MAX_LEVEL {
                        return Err(Error::ResourcesExhausted(format!(
                            "a group-by partition still needs {} after {MAX_LEVEL} \
                             re-partitionings, more than the memory limit of {} allows \
                             (a few very large groups?); raise the memory limit",
                            format_bytes(m.size() as u64),
                            format_bytes(self.ctx.memory_pool().limit())
                        )));
                    }
                    let full = std::mem::replace(&mut m, self.agg.new_partial()?);
                    sub.push(self.write_split(full, level + 1)?);
                    res.free();
                }
                self.job.note_reserved(res.size());
            }
        }
        drop(batches);
        if sub.is_empty() {
            let out = emit(self.agg.finish(m)?)?;
            return self.write_output(out, schema);
        }
        sub.push(self.write_split(m, level + 1)?);
        res.free();
        for batches in read_partitions(&sub, 1 << SPILL_BITS)? {
            self.finish_partition(batches, level + 1, schema, emit)?;
        }
        Ok(())
    }
}

/// Whether `bytes` are within `share` and `res` could grow to them.
fn fits(res: &mut Reservation, bytes: u64, share: u64) -> bool {
    bytes <= share && res.try_resize(bytes).is_ok()
}

/// The state batches of every partition of `files` (each file holds one
/// batch per partition), read zero-copy from the maps.
fn read_partitions(files: &[SpillFile], parts: usize) -> Result<Vec<Vec<RecordBatch>>> {
    let mut out: Vec<Vec<RecordBatch>> = vec![Vec::new(); parts];
    for f in files {
        let r = f.read()?;
        if r.num_batches() != parts {
            return Err(Error::Spill {
                path: f.path().to_path_buf(),
                message: format!(
                    "holds {} group-by partitions, expected {parts}",
                    r.num_batches()
                ),
            });
        }
        for (i, slot) in out.iter_mut().enumerate() {
            let b = r.batch(i)?;
            if b.num_rows() > 0 {
                slot.push(b);
            }
        }
    }
    Ok(out)
}
