//! `collect`: gathering a plan's result into a [`Table`] within the memory
//! budget.
//!
//! Chunks are kept resident while the collect's reservation can grow by
//! their real Arrow buffer sizes (each allocation counted once, see
//! [`distinct_buffer_bytes`]) and stays within [`RESIDENT_SHARE`] of the
//! budget. From the first chunk that does not fit on, chunks go to spill
//! files instead (Arrow IPC, as every spill) and come back as chunks whose
//! buffers point into a memory map of the file: later operators read them
//! as ordinary batches and the OS pages them in and out. The table holds
//! the reservation and the spill files ([`ChunkStorage`]), so the budget
//! stays charged and the files stay on disk exactly as long as the data is
//! used.
//!
//! Memory outside the reservation: the chunk being written (it is dropped
//! once written) and the spill writer's 64 KiB buffer.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::{ChunkStorage, Table, distinct_buffer_bytes};
use parframe_spill::{Reservation, SpillFile, SpillWriter};

use crate::Context;
use crate::context::JobMetrics;

/// The largest share of the memory budget a collected table keeps
/// resident. The rest is left to the operators still producing its input
/// (a sort's merge, an aggregate's partitions) and to the jobs that will
/// run over the table: a table that took the whole budget would make every
/// later operator fail or spill at once.
pub const RESIDENT_SHARE: f64 = 0.5;

/// A new spill file is started after this many bytes, so that slices of
/// a large table that outlive the rest free the disk of the other files.
const FILE_BYTES: u64 = 256 << 20;

/// Where a collected chunk went.
enum Slot {
    Resident(RecordBatch),
    /// Batch `batch` of spill file `file`.
    Spilled {
        file: usize,
        batch: usize,
    },
}

/// Gathers the chunks of one `collect`.
pub(crate) struct Collector<'a> {
    ctx: &'a Context,
    job: &'a JobMetrics,
    schema: SchemaRef,
    reservation: Reservation,
    resident_cap: u64,
    slots: Vec<Slot>,
    files: Vec<SpillFile>,
    writer: Option<SpillWriter>,
    /// Start addresses of the buffers reserved so far.
    seen: HashSet<usize>,
    /// Set by the first chunk that did not fit: every later one spills
    /// too, so the table is a resident head and a spilled tail.
    spilling: bool,
    /// Dictionary columns must keep one dictionary per IPC file: such
    /// tables get one spill file per chunk.
    file_per_chunk: bool,
}

impl<'a> Collector<'a> {
    pub(crate) fn new(ctx: &'a Context, job: &'a JobMetrics, schema: SchemaRef) -> Self {
        let pool = ctx.memory_pool();
        let file_per_chunk = schema
            .fields()
            .iter()
            .any(|f| matches!(f.data_type(), DataType::Dictionary(..)));
        Collector {
            ctx,
            job,
            schema,
            reservation: pool.reservation("collect"),
            resident_cap: (pool.limit() as f64 * RESIDENT_SHARE) as u64,
            slots: Vec::new(),
            seen: HashSet::new(),
            files: Vec::new(),
            writer: None,
            spilling: false,
            file_per_chunk,
        }
    }

    /// Takes one chunk of the result: keeps it, or spills it.
    pub(crate) fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if !self.spilling {
            // Buffers shared with earlier chunks (slices of one input
            // chunk) are held once, and reserved once.
            let bytes = distinct_buffer_bytes(&batch, &mut self.seen) as u64;
            let fits = self.reservation.size().saturating_add(bytes) <= self.resident_cap
                && self.reservation.try_grow(bytes).is_ok();
            if fits {
                self.job.note_reserved(self.reservation.size());
                self.slots.push(Slot::Resident(batch));
                return Ok(());
            }
            self.spilling = true;
        }
        self.spill(&batch)
    }

    fn spill(&mut self, batch: &RecordBatch) -> Result<()> {
        let writer = match &mut self.writer {
            Some(w) => w,
            none => none.insert(
                self.ctx
                    .spill_dir()?
                    .new_file("collect", Arc::clone(&self.schema))?,
            ),
        };
        let index = writer.num_batches() as usize;
        writer.write(batch)?;
        self.slots.push(Slot::Spilled {
            file: self.files.len(),
            batch: index,
        });
        if self.file_per_chunk || writer.bytes_written() >= FILE_BYTES {
            self.finish_file()?;
        }
        Ok(())
    }

    fn finish_file(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            let file = w.finish()?;
            self.job.add_spill(file.stats());
            self.files.push(file);
        }
        Ok(())
    }

    /// The table: resident chunks, then the spilled ones read back through
    /// memory maps (each file's checksum is checked once, here).
    pub(crate) fn finish(mut self) -> Result<Table> {
        self.finish_file()?;
        let files: Vec<Arc<SpillFile>> = self.files.drain(..).map(Arc::new).collect();
        let readers = files.iter().map(|f| f.read()).collect::<Result<Vec<_>>>()?;
        let mut chunks = Vec::with_capacity(self.slots.len());
        for slot in self.slots.drain(..) {
            chunks.push(match slot {
                Slot::Resident(b) => (b, ChunkStorage::Resident),
                Slot::Spilled { file, batch } => match (readers.get(file), files.get(file)) {
                    (Some(r), Some(f)) => (r.batch(batch)?, ChunkStorage::Spilled(Arc::clone(f))),
                    _ => {
                        return Err(Error::InvalidArgument(
                            "internal: a collected chunk names a missing spill file".into(),
                        ));
                    }
                },
            });
        }
        Table::try_new_stored(self.schema, chunks, Some(self.reservation))
    }
}
