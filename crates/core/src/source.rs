//! The interfaces between data files and plans: a [`ChunkSource`] is a file
//! (or set of files) split into independently readable partitions, a
//! [`ChunkSink`] consumes chunks in order.
//!
//! Sources know nothing of thread pools: the executor decides which
//! partitions to read at once, on which threads, which keeps the I/O crate
//! free of scheduling policy and makes every source parallel for free.

use std::fmt;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parframe_common::Result;

/// A stream of chunks read from one partition.
pub type ChunkIter<'a> = Box<dyn Iterator<Item = Result<RecordBatch>> + Send + 'a>;

/// A table in storage, split into partitions that can be read concurrently
/// (Parquet row groups, CSV byte ranges, IPC record batches, in-memory chunks).
pub trait ChunkSource: Send + Sync + fmt::Debug {
    /// The schema of the full rows, before projection.
    fn schema(&self) -> SchemaRef;

    /// A short description for `explain`, e.g. `csv 'data/x.csv'`.
    fn describe(&self) -> String;

    /// How many partitions can be read independently.
    fn partition_count(&self) -> usize;

    /// Reads partition `index`, decoding only the columns in `projection`
    /// (indices into [`ChunkSource::schema`], in that order; `None` means all)
    /// as chunks of at most `chunk_rows` rows. Partitions concatenated in
    /// index order give the file's rows in file order.
    fn read_partition(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
    ) -> Result<ChunkIter<'_>>;

    /// The number of rows if known without reading the data (Parquet metadata).
    fn row_count_hint(&self) -> Option<u64> {
        None
    }
}

/// A destination that takes chunks in order and finishes once.
pub trait ChunkSink: Send {
    /// Writes one chunk.
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Flushes and closes; the output is complete only after this returns `Ok`.
    fn finish(self: Box<Self>) -> Result<()>;
}
