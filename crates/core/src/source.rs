//! The interfaces between data files and plans: a [`ChunkSource`] is a file
//! (or set of files) split into independently readable partitions, a
//! [`ChunkSink`] consumes chunks in order.
//!
//! Sources know nothing of thread pools: the executor decides which
//! partitions to read at once, on which threads, which keeps the I/O crate
//! free of scheduling policy and makes every source parallel for free.

use std::fmt;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use parframe_common::Result;

use crate::{Expr, ScalarValue};

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

    /// Reads partition `index` as [`read_partition`](Self::read_partition)
    /// does, keeping only the rows for which every expression of `filters`
    /// is true (false and null drop the row), evaluated while the partition
    /// is decoded: **late materialization**. `projection` is what to
    /// produce; `filters` may use any column of [`ChunkSource::schema`],
    /// projected or not.
    ///
    /// A source that can do better than decoding every projected column of
    /// every row implements this (Parquet decodes the filters' columns
    /// first, then only the rows that pass of the other columns: arrow-rs'
    /// `RowFilter`). `Ok(None)`, the default, says it cannot: the caller
    /// reads the filters' columns with [`read_partition`](Self::read_partition)
    /// and filters the chunks itself. A source may answer `None` for some
    /// partitions and not others.
    ///
    /// How to add it to a source: evaluate each filter with
    /// [`Expr::prepare`] against the schema of the columns it reads, and
    /// return errors from it unchanged (they name the expression).
    fn read_partition_filtered(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
        filters: &[Expr],
    ) -> Result<Option<ChunkIter<'_>>> {
        let _ = (index, projection, chunk_rows, filters);
        Ok(None)
    }

    /// The rows of partition `index` if known without reading it (a
    /// Parquet row group's count in the footer); `None` by default.
    fn partition_row_count(&self, index: usize) -> Option<u64> {
        let _ = index;
        None
    }

    /// The number of rows if known without reading the data (Parquet metadata).
    fn row_count_hint(&self) -> Option<u64> {
        None
    }

    /// What is known of the data without reading it (row count, per-column
    /// min/max/nulls), for the planner's estimates. The default knows the
    /// row count of [`ChunkSource::row_count_hint`] and nothing else.
    fn statistics(&self) -> Statistics {
        Statistics {
            num_rows: self
                .row_count_hint()
                .map_or(Precision::Unknown, Precision::Exact),
            columns: Vec::new(),
        }
    }

    /// The smallest and largest value, and the null count, of `column` in
    /// every partition, when the source knows them without reading the data
    /// (Parquet row-group statistics). Scans use them to skip partitions
    /// that cannot hold a row their filters keep (`parframe_plan::pruning`).
    /// The default knows nothing.
    fn partition_column_statistics(&self, column: &str) -> Option<PartitionColumnStatistics> {
        let _ = column;
        None
    }
}

/// One column's statistics over every partition of a source, one entry per
/// partition in partition order (see
/// [`ChunkSource::partition_column_statistics`]). A null min or max means
/// "not known" for that partition, never "all null".
#[derive(Debug, Clone)]
pub struct PartitionColumnStatistics {
    /// The smallest non-null value of each partition (the column's type).
    pub mins: ArrayRef,
    /// The largest non-null value of each partition.
    pub maxes: ArrayRef,
    /// Null values in each partition (`None`: unknown).
    pub null_counts: Vec<Option<u64>>,
    /// Rows in each partition (`None`: unknown).
    pub row_counts: Vec<Option<u64>>,
}

/// A count that may be exact, estimated or unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Known exactly.
    Exact(u64),
    /// An estimate.
    Estimated(u64),
    /// Not known.
    #[default]
    Unknown,
}

impl Precision {
    /// The value, exact or estimated.
    pub fn value(self) -> Option<u64> {
        match self {
            Precision::Exact(v) | Precision::Estimated(v) => Some(v),
            Precision::Unknown => None,
        }
    }

    /// The same value, no longer exact.
    pub fn to_estimate(self) -> Precision {
        match self {
            Precision::Exact(v) => Precision::Estimated(v),
            other => other,
        }
    }
}

/// What is known of one column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColumnStatistics {
    /// The smallest non-null value, if known.
    pub min: Option<ScalarValue>,
    /// The largest non-null value, if known.
    pub max: Option<ScalarValue>,
    /// Null values.
    pub null_count: Precision,
    /// Distinct non-null values.
    pub distinct: Precision,
    /// Distinct non-null values of the column in the source it is read
    /// from, before any filter: at least `distinct`. A foreign key whose
    /// values lie in this column's range holds at most this many distinct
    /// values (lineitem's `l_orderkey` no more than orders has orders,
    /// however its min and max spread), which the join estimates use.
    /// Sources may leave it unknown: the planner derives it where a scan
    /// starts (see `parframe_plan::stats`).
    pub source_distinct: Precision,
}

/// What is known of a source's (or a plan node's) output without reading it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Statistics {
    /// Rows.
    pub num_rows: Precision,
    /// One entry per column of the schema, or empty when nothing is known
    /// of any column.
    pub columns: Vec<ColumnStatistics>,
}

impl Statistics {
    /// Nothing known.
    pub fn unknown() -> Self {
        Self::default()
    }
}

/// A destination that takes chunks in order and finishes once.
pub trait ChunkSink: Send {
    /// Writes one chunk.
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Flushes and closes; the output is complete only after this returns `Ok`.
    fn finish(self: Box<Self>) -> Result<()>;
    /// Bytes the sink holds that are not written out yet (an encoder's row
    /// group in progress), for a caller bounding what its sinks hold; 0
    /// for a sink that writes through.
    fn buffered_bytes(&self) -> u64 {
        0
    }
    /// Bytes encoded and handed to the output so far (not counting
    /// [`buffered_bytes`](Self::buffered_bytes)), for a caller rolling
    /// files at a size; 0 when the sink does not know.
    fn bytes_written(&self) -> u64 {
        0
    }
    /// Writes out what the sink buffers (Parquet: ends the row group in
    /// progress) so that [`buffered_bytes`](Self::buffered_bytes) drops;
    /// nothing for a sink that writes through.
    fn flush_buffered(&mut self) -> Result<()> {
        Ok(())
    }
}
