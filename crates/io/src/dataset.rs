//! Hive-partitioned datasets: a directory tree `dir/year=2013/month=1/
//! part-00000.parquet` whose `key=value` directory names are columns.
//!
//! - [`PartitionedSink`] writes one: rows are routed to a file under their
//!   key values' directory (they wait per partition until there are a row
//!   group's worth, then are encoded as one batch), at most
//!   `max_open_files` files open at once
//!   (the least recently written is finished, and the partition gets a new
//!   file, `part-00001`, when rows for it come again), files rolled at
//!   `max_rows_per_file` rows or at about `max_bytes_per_file` bytes;
//!   everything is written under a temporary
//!   directory renamed onto the target at the end, so a failed job leaves
//!   nothing.
//! - [`DatasetSource`] reads one: the files under a directory (or matching
//!   a glob), the `key=value` directories as typed columns (`Int64` when
//!   every value is an integer, `Date32` when every value is a date, else
//!   `Utf8`; `__HIVE_DEFAULT_PARTITION__` is null), one partition per file,
//!   opened only when read, so a scan whose filters rule out a key value
//!   (`WHERE year = 2013`) never opens the other directories' files (its
//!   [`ChunkSource::partition_column_statistics`] give each file's key
//!   values to the planner's pruning). Schemas are matched by column name.
//!   Filters pushed into a scan go on to the file's own late
//!   materialization ([`ChunkSource::read_partition_filtered`]); one over
//!   the partition columns only is decided once per file, from its key
//!   values.
//!
//! Both take URLs too (`s3://bucket/ds`): a dataset on object storage is
//! the objects under a prefix (one listing), and a write to a prefix
//! uploads each file (see `OutputDir` in `util.rs` for what is atomic
//! there).
//!
//! Values in directory names are percent-encoded (`/`, `=`, `%`, `:`,
//! control characters and the characters Windows forbids), as Hive and
//! Spark write them.
//!
//! ```
//! use parframe_core::{table, ChunkSink};
//! use parframe_io::{DatasetOptions, DatasetSource, PartitionedSink, PartitionedWriteOptions, read_all};
//!
//! let dir = tempfile::tempdir()?;
//! let out = dir.path().join("sales");
//! let t = table!("year" => [2023i64, 2024, 2024], "amount" => [10i64, 20, 30])?;
//! // One directory per year; files roll at about 64 MiB.
//! let options = PartitionedWriteOptions::default().max_bytes_per_file(64 << 20);
//! let mut sink = PartitionedSink::try_new(&out, t.schema().clone(), &["year"], options)?;
//! for chunk in t.chunks() {
//!     sink.write(chunk)?;
//! }
//! Box::new(sink).finish()?;
//! assert!(out.join("year=2024").join("part-00000.parquet").exists());
//!
//! // Read back, the directories' values as a column; files whose columns
//! // differ would be matched by name with `union_by_name`.
//! let options = DatasetOptions { union_by_name: true, ..DatasetOptions::default() };
//! let src = DatasetSource::try_new(out.to_str().ok_or("a non-UTF-8 path")?, options)?;
//! let back = read_all(&src, None, 1024)?;
//! assert_eq!(back.num_rows(), 3);
//! assert_eq!(src.partition_columns(), ["year"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, StringArray, UInt32Array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::{
    ChunkIter, ChunkSink, ChunkSource, Expr, PartitionColumnStatistics, slice_bytes,
};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::format::{FileFormat, ReadOptions, WriteOptions};
use crate::input::Location;
use crate::util::{
    OutputDir, check_read_args, conform_to_sink, describe_schema, keep_mask, with_schema,
};

/// The directory name of a null key value (Hive's).
pub const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// Characters percent-encoded in a directory name's value.
const ENCODED: &AsciiSet = &CONTROLS
    .add(b'/')
    .add(b'\\')
    .add(b'=')
    .add(b'%')
    .add(b':')
    .add(b'*')
    .add(b'?')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'|')
    .add(b'#');

// ---------------------------------------------------------------------------
// Writing

/// How to write a hive-partitioned dataset.
#[derive(Clone, Debug)]
pub struct PartitionedWriteOptions {
    /// The files' format; default Parquet.
    pub format: FileFormat,
    /// The format's options.
    pub write: WriteOptions,
    /// Files open at once; default 128. Rows wait in memory per partition
    /// (as Arrow arrays, no encoder involved) until there are a row
    /// group's worth (`ParquetWriteOptions::row_group_rows`; 65,536 rows
    /// for CSV, JSON and IPC), and are then encoded as one batch, so an
    /// open file between writes holds only its output buffer (and, for
    /// Parquet, whatever part of a row group the last write left). With
    /// more partitions than this, the least recently written file is
    /// finished and its partition gets a new file when rows come for it
    /// again (small files when the input is not clustered by the keys;
    /// input sorted by the keys never reopens one).
    pub max_open_files: usize,
    /// Rows after which a file is finished and the next one started in the
    /// same directory; default `None` (no limit).
    pub max_rows_per_file: Option<u64>,
    /// The size at which a file is finished and the next one started in
    /// the same directory; default `None` (no limit). Checked after each
    /// write to the file (a row group's worth of rows for Parquet, 65,536
    /// rows for the other formats): a file ends once the bytes encoded
    /// into it plus what its encoder still holds (Parquet's row group in
    /// progress, as the encoder estimates it before compression) reach
    /// this, so it is at most one write over, and a compressed Parquet
    /// file may end below it.
    pub max_bytes_per_file: Option<u64>,
    /// Bytes the waiting rows and the open files' encoders may hold in all
    /// (the encoders' share as they estimate it); over it, the partitions
    /// with the most rows waiting are written out, each as a row group of
    /// its own (smaller than `row_group_rows`; the same file), down to half
    /// the bound. Default `None`: every partition may hold a row group's
    /// worth. The executor's `sink_partitioned` sets a quarter of the
    /// context's memory limit when this is `None`, and reserves it from the
    /// memory pool for the write: G1_2e6 by 100 keys then peaks at about
    /// 107 MB of heap under 64 MiB (177 MB unbounded), the zstd contexts
    /// of the files being encoded aside (allocated by C).
    pub max_buffered_bytes: Option<u64>,
    /// Threads that encode the files: the partitions whose rows are ready
    /// are written in parallel (when no file rolls and every partition's
    /// file can stay open), and at the end each thread writes and finishes
    /// one file at a time, largest first (so only this many files' last
    /// row groups are in their encoders at once); scoped threads of the
    /// sink's own, as many as this says. `None`: 1. The executor's
    /// `sink_partitioned` sets the context's thread count when this is
    /// `None`.
    pub finish_threads: Option<usize>,
    /// Whether an existing non-empty target directory is replaced (after
    /// the new one is complete); default `false`: it is an error.
    pub overwrite: bool,
}

impl Default for PartitionedWriteOptions {
    fn default() -> Self {
        PartitionedWriteOptions {
            format: FileFormat::Parquet,
            write: WriteOptions::default(),
            max_open_files: 128,
            max_rows_per_file: None,
            max_bytes_per_file: None,
            max_buffered_bytes: None,
            finish_threads: None,
            overwrite: false,
        }
    }
}

impl PartitionedWriteOptions {
    /// Sets the format.
    pub fn format(mut self, format: FileFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets the format options.
    pub fn write_options(mut self, write: WriteOptions) -> Self {
        self.write = write;
        self
    }

    /// Sets the number of files open at once.
    pub fn max_open_files(mut self, n: usize) -> Self {
        self.max_open_files = n;
        self
    }

    /// Sets the rows after which a file is rolled.
    pub fn max_rows_per_file(mut self, rows: u64) -> Self {
        self.max_rows_per_file = Some(rows);
        self
    }

    /// Sets the size at which a file is rolled (about; see the field).
    pub fn max_bytes_per_file(mut self, bytes: u64) -> Self {
        self.max_bytes_per_file = Some(bytes);
        self
    }

    /// Sets the bytes the open files may buffer in all.
    pub fn max_buffered_bytes(mut self, bytes: u64) -> Self {
        self.max_buffered_bytes = Some(bytes);
        self
    }

    /// Sets the threads that encode the files.
    pub fn finish_threads(mut self, threads: usize) -> Self {
        self.finish_threads = Some(threads);
        self
    }

    /// Says whether an existing dataset is replaced.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }
}

/// One partition of a write: its directory, the next file number, its
/// open file if any.
struct PartitionState {
    dir: PathBuf,
    next_file: u32,
    open: Option<OpenFile>,
    /// Rows routed here and not written yet (pieces of input chunks, in
    /// input order): written as one batch when there are a row group's
    /// worth, when the buffer bound needs room, or at the end.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    pending_bytes: u64,
}

struct OpenFile {
    sink: Box<dyn ChunkSink>,
    path: PathBuf,
    rows: u64,
    last_used: u64,
    /// What its encoder held after the last write
    /// ([`ChunkSink::buffered_bytes`]).
    buffered: u64,
}

/// Writes chunks into a hive-partitioned directory (see the module docs):
/// `dir/k1=v1/k2=v2/part-00000.<ext>`, the key columns left out of the
/// files (their values are in the path). Nothing appears at `dir` until
/// [`ChunkSink::finish`] succeeds; dropped unfinished or after an error,
/// the temporary directory is removed.
pub struct PartitionedSink {
    target: PathBuf,
    schema: SchemaRef,
    /// Indices of the key columns, in `by` order.
    keys: Vec<usize>,
    /// Indices of the other columns, and their schema (the files').
    data: Vec<usize>,
    data_schema: SchemaRef,
    options: PartitionedWriteOptions,
    extension: &'static str,
    converter: arrow_row::RowConverter,
    /// Partitions by their keys' row encoding.
    index: hashbrown::HashMap<Vec<u8>, usize>,
    partitions: Vec<PartitionState>,
    /// Partitions with an open file.
    open: Vec<usize>,
    clock: u64,
    /// The open files' `buffered` bytes in all.
    buffered: u64,
    /// The partitions' `pending_bytes` in all.
    pending_bytes: u64,
    /// Rows at which a partition's pending rows are written: a Parquet row
    /// group (`row_group_rows`), [`WRITE_ROWS`] for the other formats.
    ripe_rows: usize,
    failed: bool,
    /// Dropped last: removes everything unless committed.
    out: Option<OutputDir>,
}

impl std::fmt::Debug for PartitionedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionedSink")
            .field("target", &self.target)
            .field("format", &self.options.format)
            .field("partitions", &self.partitions.len())
            .field("open", &self.open.len())
            .finish()
    }
}

impl PartitionedSink {
    /// Starts writing the dataset `dir` (its parent must exist; `dir`
    /// itself must not exist or be empty, unless `options.overwrite`),
    /// partitioned by the columns `by` (at least one, not every column;
    /// not nested types).
    pub fn try_new(
        dir: impl AsRef<Path>,
        schema: SchemaRef,
        by: &[&str],
        options: PartitionedWriteOptions,
    ) -> Result<PartitionedSink> {
        let target = dir.as_ref().to_path_buf();
        if by.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "a partitioned write of '{}' needs at least one partition column",
                target.display()
            )));
        }
        if options.max_open_files == 0
            || options.max_rows_per_file == Some(0)
            || options.max_bytes_per_file == Some(0)
        {
            return Err(Error::InvalidArgument(
                "max_open_files, max_rows_per_file and max_bytes_per_file must be > 0".into(),
            ));
        }
        let mut keys = Vec::with_capacity(by.len());
        for name in by {
            let i = schema.index_of(name).map_err(|_| {
                parframe_common::column_not_found(
                    name,
                    schema.fields().iter().map(|f| f.name().as_str()),
                )
            })?;
            if keys.contains(&i) {
                return Err(Error::InvalidArgument(format!(
                    "partition column '{name}' is named twice"
                )));
            }
            let t = schema.field(i).data_type();
            if t.is_nested() {
                return Err(Error::NotSupported(format!(
                    "partitioning by '{name}' of type {t}; partition by a column of a scalar type"
                )));
            }
            keys.push(i);
        }
        let data: Vec<usize> = (0..schema.fields().len())
            .filter(|i| !keys.contains(i))
            .collect();
        if data.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "every column of {} is a partition column; the files would have none",
                describe_schema(&schema)
            )));
        }
        let data_schema = Arc::new(schema.project(&data)?);
        let converter = arrow_row::RowConverter::new(
            keys.iter()
                .map(|&i| arrow_row::SortField::new(schema.field(i).data_type().clone()))
                .collect(),
        )?;
        let out = OutputDir::create(&target, options.overwrite)?;
        let ripe_rows = match options.format {
            FileFormat::Parquet => options.write.parquet.row_group_rows.max(1),
            _ => WRITE_ROWS,
        };
        Ok(PartitionedSink {
            target,
            schema,
            keys,
            data,
            data_schema,
            extension: options.format.extensions()[0],
            options,
            converter,
            index: hashbrown::HashMap::new(),
            partitions: Vec::new(),
            open: Vec::new(),
            clock: 0,
            buffered: 0,
            pending_bytes: 0,
            ripe_rows,
            failed: false,
            out: Some(out),
        })
    }

    /// The directory, relative to the dataset, of the key values in row
    /// `row` of `batch`: `k1=v1/k2=v2`.
    fn partition_dir(&self, batch: &RecordBatch, row: usize) -> Result<PathBuf> {
        let mut dir = PathBuf::new();
        let options = FormatOptions::default();
        for &k in &self.keys {
            let col = batch.column(k);
            let value = if col.is_null(row) {
                HIVE_NULL.to_string()
            } else {
                let f = ArrayFormatter::try_new(col.as_ref(), &options)?;
                let text = f.value(row).to_string();
                let enc = utf8_percent_encode(&text, ENCODED).to_string();
                // `.` and `..` would not be directories of their own.
                match enc.as_str() {
                    "." => "%2E".to_string(),
                    ".." => "%2E%2E".to_string(),
                    _ => enc,
                }
            };
            dir.push(format!("{}={value}", self.schema.field(k).name()));
        }
        Ok(dir)
    }

    /// The partition of key row `row`, created when new.
    fn partition_of(&mut self, key: &[u8], batch: &RecordBatch, row: usize) -> Result<usize> {
        if let Some(&p) = self.index.get(key) {
            return Ok(p);
        }
        let dir = self.partition_dir(batch, row)?;
        let p = self.partitions.len();
        self.partitions.push(PartitionState {
            dir,
            next_file: 0,
            open: None,
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
        });
        self.index.insert(key.to_vec(), p);
        Ok(p)
    }

    /// Finishes the open file of partition `p`.
    fn close(&mut self, p: usize) -> Result<()> {
        self.open.retain(|&q| q != p);
        if let Some(f) = self.partitions[p].open.take() {
            self.buffered -= f.buffered;
            f.sink.finish()?;
            if let Some(out) = self.out.as_mut() {
                out.finished_file(&f.path);
            }
        }
        Ok(())
    }

    /// Opens a new file for partition `p`, first closing the least
    /// recently written file when `max_open_files` are open.
    fn open_file(&mut self, p: usize) -> Result<()> {
        if self.open.len() >= self.options.max_open_files {
            let lru = self
                .open
                .iter()
                .copied()
                .min_by_key(|&q| self.partitions[q].open.as_ref().map_or(0, |f| f.last_used));
            if let Some(q) = lru {
                self.close(q)?;
            }
        }
        let Some((root, local)) = self
            .out
            .as_ref()
            .map(|o| (o.path().to_path_buf(), o.is_local()))
        else {
            return Err(self.failed_error());
        };
        let part = &mut self.partitions[p];
        let dir = root.join(&part.dir);
        if local {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let file = dir.join(format!("part-{:05}.{}", part.next_file, self.extension));
        part.next_file += 1;
        let sink = self.options.format.create_sink(
            &file,
            self.data_schema.clone(),
            &self.options.write,
        )?;
        part.open = Some(OpenFile {
            sink,
            path: file,
            rows: 0,
            last_used: 0,
            buffered: 0,
        });
        self.open.push(p);
        Ok(())
    }

    /// Adds `rows` (already without key columns) to partition `p`'s
    /// pending rows.
    fn add_pending(&mut self, p: usize, rows: RecordBatch) {
        let bytes = slice_bytes(&rows);
        let part = &mut self.partitions[p];
        part.pending_rows += rows.num_rows();
        part.pending_bytes += bytes;
        part.pending.push(rows);
        self.pending_bytes += bytes;
    }

    /// Takes partition `p`'s pending rows.
    fn take_pending(&mut self, p: usize) -> Vec<RecordBatch> {
        let part = &mut self.partitions[p];
        self.pending_bytes -= part.pending_bytes;
        part.pending_rows = 0;
        part.pending_bytes = 0;
        std::mem::take(&mut part.pending)
    }

    /// Writes partition `p`'s pending rows to its file, as one batch.
    fn write_pending(&mut self, p: usize) -> Result<()> {
        let pieces = self.take_pending(p);
        if pieces.is_empty() {
            return Ok(());
        }
        let rows = concat_pieces(&self.data_schema, pieces)?;
        self.write_rows(p, rows)
    }

    /// Keeps what the write holds (pending rows and the open files'
    /// encoders) within `max_buffered_bytes`.
    fn hold_buffer_bound(&mut self) -> Result<()> {
        let Some(max) = self.options.max_buffered_bytes else {
            return Ok(());
        };
        // Over the bound: the partitions with the most pending rows are
        // written out, each as a row group of its own (smaller than
        // `ripe_rows`, but as large as the bound allows), down to half the
        // bound, so the next chunks do not force a write each.
        if self.pending_bytes + self.buffered > max {
            while self.pending_bytes + self.buffered > max / 2 {
                let largest = (0..self.partitions.len())
                    .filter(|&q| self.partitions[q].pending_bytes > 0)
                    .max_by_key(|&q| self.partitions[q].pending_bytes);
                let Some(q) = largest else {
                    break;
                };
                self.write_pending(q)?;
                self.flush_row_group(q)?;
            }
        }
        // Encoders still over it: end the row groups of the files
        // buffering most (smaller row groups, the same files).
        while self.buffered > max {
            let fullest = self
                .open
                .iter()
                .copied()
                .filter_map(|q| {
                    let b = self.partitions[q].open.as_ref()?.buffered;
                    (b > 0).then_some((b, q))
                })
                .max();
            let Some((_, q)) = fullest else {
                break;
            };
            self.flush_row_group(q)?;
        }
        Ok(())
    }

    /// Ends partition `p`'s row group in progress, if its file has one.
    fn flush_row_group(&mut self, p: usize) -> Result<()> {
        let Some(f) = self.partitions[p].open.as_mut() else {
            return Ok(());
        };
        if f.buffered == 0 {
            return Ok(());
        }
        f.sink.flush_buffered()?;
        let held = f.sink.buffered_bytes();
        self.buffered = self.buffered - f.buffered + held;
        f.buffered = held;
        if held > 0 {
            // An encoder that cannot give its buffer back: finish the file
            // instead.
            self.close(p)?;
        }
        Ok(())
    }

    fn write_rows(&mut self, p: usize, mut rows: RecordBatch) -> Result<()> {
        while rows.num_rows() > 0 {
            if self.partitions[p].open.is_none() {
                self.open_file(p)?;
            }
            self.clock += 1;
            let clock = self.clock;
            let limit = self.options.max_rows_per_file;
            let Some(f) = self.partitions[p].open.as_mut() else {
                return Err(self.failed_error());
            };
            let room = limit.map_or(u64::MAX, |l| l.saturating_sub(f.rows));
            let take = (rows.num_rows() as u64).min(room) as usize;
            f.sink.write(&rows.slice(0, take))?;
            f.rows += take as u64;
            f.last_used = clock;
            // What its encoder now holds (Parquet: the row group in
            // progress; the other formats write through).
            let held = f.sink.buffered_bytes();
            self.buffered = self.buffered - f.buffered + held;
            f.buffered = held;
            let full = limit.is_some_and(|l| f.rows >= l)
                || self
                    .options
                    .max_bytes_per_file
                    .is_some_and(|b| f.sink.bytes_written() + held >= b);
            rows = rows.slice(take, rows.num_rows() - take);
            if full {
                self.close(p)?;
            }
        }
        Ok(())
    }

    fn failed_error(&self) -> Error {
        Error::InvalidArgument(format!(
            "the partitioned sink for '{}' failed earlier; nothing more can be written",
            self.target.display()
        ))
    }

    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = conform_to_sink(batch, &self.schema, &self.target)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let key_cols: Vec<ArrayRef> = self.keys.iter().map(|&k| batch.column(k).clone()).collect();
        let rows = self.converter.convert_columns(&key_cols)?;
        // Row indices per partition, in first-seen order. A row with the
        // previous row's key (clustered or sorted input) skips the lookup;
        // `slot` maps a partition to its group (partitions are dense).
        let mut groups: Vec<(usize, Vec<u32>)> = Vec::new();
        let mut slot: Vec<u32> = Vec::new();
        let mut prev: Option<(usize, usize)> = None;
        for i in 0..batch.num_rows() {
            let key = rows.row(i);
            let g = match prev {
                Some((j, g)) if rows.row(j) == key => g,
                _ => {
                    let p = self.partition_of(key.as_ref(), &batch, i)?;
                    if slot.len() <= p {
                        slot.resize(self.partitions.len(), u32::MAX);
                    }
                    if slot[p] == u32::MAX {
                        slot[p] = groups.len() as u32;
                        groups.push((p, Vec::new()));
                    }
                    slot[p] as usize
                }
            };
            prev = Some((i, g));
            groups[g].1.push(i as u32);
        }
        let data = batch.project(&self.data)?;
        let data = with_schema(data, &self.data_schema)?;
        let single = groups.len() == 1;
        let mut parts = Vec::with_capacity(groups.len());
        for (p, idx) in groups {
            let part = if single {
                data.clone()
            } else {
                let idx = UInt32Array::from(idx);
                let cols = data
                    .columns()
                    .iter()
                    .map(|c| arrow_select::take::take(c.as_ref(), &idx, None))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                RecordBatch::try_new_with_options(
                    self.data_schema.clone(),
                    cols,
                    &RecordBatchOptions::new().with_row_count(Some(idx.len())),
                )?
            };
            parts.push((p, part));
        }
        let mut ripe = Vec::new();
        for (p, part) in parts {
            self.add_pending(p, part);
            if self.partitions[p].pending_rows >= self.ripe_rows {
                ripe.push(p);
            }
        }
        self.write_partitions(ripe)?;
        self.hold_buffer_bound()
    }

    /// Writes the pending rows of `parts` to their files: on
    /// `finish_threads` threads when they can be (see
    /// [`PartitionedSink::can_write_in_parallel`]), else one by one.
    fn write_partitions(&mut self, parts: Vec<usize>) -> Result<()> {
        if self.can_write_in_parallel(&parts) {
            return self.write_in_parallel(parts);
        }
        for p in parts {
            self.write_pending(p)?;
        }
        Ok(())
    }

    /// Whether the pending rows of `parts` can be written by several
    /// threads: more than one thread and partition, no file rolling, and
    /// room to open every partition's file without closing another of them.
    fn can_write_in_parallel(&self, parts: &[usize]) -> bool {
        let threads = self.options.finish_threads.unwrap_or(1);
        let unopened = parts
            .iter()
            .filter(|&&p| self.partitions[p].open.is_none())
            .count();
        threads > 1
            && parts.len() > 1
            && self.options.max_rows_per_file.is_none()
            && self.options.max_bytes_per_file.is_none()
            && self.open.len() + unopened <= self.options.max_open_files
    }

    /// Writes each partition's pending rows to its file, the files spread
    /// over `finish_threads` threads (encoding is most of a write's time,
    /// and each file has its own encoder); each thread concatenates the
    /// pieces of the partition it is writing, so one partition's copy per
    /// thread exists at a time.
    fn write_in_parallel(&mut self, parts: Vec<usize>) -> Result<()> {
        self.open_files(&parts)?;
        self.clock += 1;
        let clock = self.clock;
        let mut by_partition: HashMap<usize, Vec<RecordBatch>> = HashMap::new();
        for p in parts {
            by_partition.insert(p, self.take_pending(p));
        }
        let schema = &self.data_schema;
        let threads = self.options.finish_threads;
        // Disjoint borrows of the partitions' open files.
        let mut work: Vec<(&mut OpenFile, Vec<RecordBatch>)> =
            Vec::with_capacity(by_partition.len());
        for (p, state) in self.partitions.iter_mut().enumerate() {
            if let Some(pieces) = by_partition.remove(&p)
                && let Some(f) = state.open.as_mut()
            {
                work.push((f, pieces));
            }
        }
        let buckets = spread(threads, work);
        let errors: Vec<Option<Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = buckets
                .into_iter()
                .map(|bucket| {
                    s.spawn(move || {
                        for (f, pieces) in bucket {
                            if let Err(e) = write_pieces(f, schema, pieces) {
                                return Some(e);
                            }
                            f.last_used = clock;
                            f.buffered = f.sink.buffered_bytes();
                        }
                        None
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|p| {
                        Some(Error::External {
                            context: "writing a partition's file".into(),
                            message: parframe_common::panic_message(&*p),
                        })
                    })
                })
                .collect()
        });
        if let Some(e) = errors.into_iter().flatten().next() {
            return Err(e);
        }
        self.buffered = self
            .open
            .iter()
            .filter_map(|&p| self.partitions[p].open.as_ref())
            .map(|f| f.buffered)
            .sum();
        Ok(())
    }

    /// Opens a file for each of `parts` that has none.
    fn open_files(&mut self, parts: &[usize]) -> Result<()> {
        for &p in parts {
            if self.partitions[p].open.is_none() {
                self.open_file(p)?;
            }
        }
        Ok(())
    }
}

/// Spreads files and their pending pieces over `threads` lists (see
/// [`balance`]; no more lists than files), weighed by the pieces' rows.
fn spread<F>(
    threads: Option<usize>,
    work: Vec<(F, Vec<RecordBatch>)>,
) -> Vec<Vec<(F, Vec<RecordBatch>)>> {
    let threads = threads.unwrap_or(1).clamp(1, work.len().max(1));
    let weighed = work
        .into_iter()
        .map(|w| {
            let rows = w.1.iter().map(RecordBatch::num_rows).sum();
            (w, rows)
        })
        .collect();
    balance(weighed, threads)
}

/// Writes `pieces` (of `schema`) to `f` as one batch; nothing when empty.
fn write_pieces(f: &mut OpenFile, schema: &SchemaRef, pieces: Vec<RecordBatch>) -> Result<()> {
    if pieces.is_empty() {
        return Ok(());
    }
    let batch = concat_pieces(schema, pieces)?;
    f.sink.write(&batch)?;
    f.rows += batch.num_rows() as u64;
    Ok(())
}

/// Spreads weighted work over `threads` lists: the heaviest first, each to
/// the list with the least weight so far, so partitions of very different
/// sizes still keep every thread busy.
fn balance<T>(mut items: Vec<(T, usize)>, threads: usize) -> Vec<Vec<T>> {
    items.sort_by_key(|(_, w)| std::cmp::Reverse(*w));
    let mut lists: Vec<(usize, Vec<T>)> = (0..threads.max(1)).map(|_| (0, Vec::new())).collect();
    for (item, w) in items {
        if let Some(l) = lists.iter_mut().min_by_key(|l| l.0) {
            l.0 += w;
            l.1.push(item);
        }
    }
    lists.into_iter().map(|(_, l)| l).collect()
}

/// Rows at which a partition's pending rows are written for formats
/// without row groups (CSV, JSON, IPC): large enough that each write is
/// one efficient encoder call.
const WRITE_ROWS: usize = 64 * 1024;

/// One batch of `pieces` (of `schema`): the piece itself when there is one.
fn concat_pieces(schema: &SchemaRef, mut pieces: Vec<RecordBatch>) -> Result<RecordBatch> {
    if pieces.len() == 1
        && let Some(b) = pieces.pop()
    {
        return Ok(b);
    }
    Ok(arrow_select::concat::concat_batches(schema, &pieces)?)
}

impl ChunkSink for PartitionedSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.failed {
            return Err(self.failed_error());
        }
        let r = self.write_batch(batch);
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        if self.failed {
            return Err(self.failed_error());
        }
        // Every partition with rows waiting gets an open file: all at once
        // when they fit `max_open_files` (and are then written and
        // finished in parallel below), else written one by one here.
        let waiting: Vec<usize> = (0..self.partitions.len())
            .filter(|&p| self.partitions[p].pending_rows > 0)
            .collect();
        if self.can_write_in_parallel(&waiting) {
            self.open_files(&waiting)?;
        } else {
            for p in waiting {
                self.write_pending(p)?;
            }
        }
        // Each open file is written its last rows and finished by one of
        // `finish_threads` threads (encoding is most of the time), one file
        // at a time per thread, so only that many files' last row groups
        // are in their encoders at once; the largest go first, each to the
        // thread with the fewest rows so far.
        let open = std::mem::take(&mut self.open);
        let mut files: Vec<(OpenFile, Vec<RecordBatch>)> = Vec::with_capacity(open.len());
        for p in open {
            let pieces = self.take_pending(p);
            if let Some(f) = self.partitions[p].open.take() {
                files.push((f, pieces));
            }
        }
        self.buffered = 0;
        let groups = spread(self.options.finish_threads, files);
        let schema = &self.data_schema;
        let outcomes: Vec<(Vec<PathBuf>, Option<Error>)> = std::thread::scope(|s| {
            let handles: Vec<_> = groups
                .into_iter()
                .map(|group| {
                    s.spawn(move || {
                        let mut done = Vec::new();
                        for (mut f, pieces) in group {
                            let written = write_pieces(&mut f, schema, pieces);
                            if let Err(e) = written.and_then(|()| f.sink.finish()) {
                                return (done, Some(e));
                            }
                            done.push(f.path);
                        }
                        (done, None)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|p| {
                        let e = Error::External {
                            context: "finishing a partition's file".into(),
                            message: parframe_common::panic_message(&*p),
                        };
                        (Vec::new(), Some(e))
                    })
                })
                .collect()
        });
        // Every finished file is recorded (a failed remote write deletes
        // them), then the first error is returned.
        let mut first_error = None;
        for (done, e) in outcomes {
            if let Some(out) = self.out.as_mut() {
                for path in &done {
                    out.finished_file(path);
                }
            }
            first_error = first_error.or(e);
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        match self.out.take() {
            Some(out) => out.commit(),
            None => Err(self.failed_error()),
        }
    }
}

// ---------------------------------------------------------------------------
// Reading

/// How to read a dataset: a directory tree or glob of files.
#[derive(Clone, Debug, Default)]
pub struct DatasetOptions {
    /// The files' format; default: from their extensions (which must all
    /// be of one format).
    pub format: Option<FileFormat>,
    /// The format's options.
    pub read: ReadOptions,
    /// Whether the schema is the union of every file's, by column name
    /// (every file's footer or header is read when the source is opened;
    /// types are widened: integers to the widest, integers and floats to
    /// `Float64`, `Utf8` and `LargeUtf8` to `LargeUtf8`; other differences
    /// are an error naming both files). Default `false`: the first file's
    /// schema, so that only the files a scan reads are opened; a later
    /// file's column of a narrower compatible type is widened when read,
    /// a missing one is null, one of another type is an error naming both
    /// files, and columns only later files have are not read.
    pub union_by_name: bool,
}

impl DatasetOptions {
    /// Sets the format.
    pub fn format(mut self, format: FileFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Sets the format's reading options.
    pub fn read_options(mut self, read: ReadOptions) -> Self {
        self.read = read;
        self
    }

    /// Says whether the schema is the union of every file's.
    pub fn union_by_name(mut self, union: bool) -> Self {
        self.union_by_name = union;
        self
    }
}

/// One file of a dataset.
#[derive(Debug)]
struct DatasetFile {
    path: PathBuf,
    /// The file, once opened.
    source: OnceLock<Arc<dyn ChunkSource>>,
    /// Whether a scan read its data.
    read: std::sync::atomic::AtomicBool,
}

/// The files of a directory tree (or glob) as one [`ChunkSource`], with
/// hive `key=value` directories as columns after the files' own (see the
/// module docs). Each file is one partition, opened when it is first read
/// (with [`DatasetOptions::union_by_name`], all are opened at once for
/// their schemas); a file's own partitions (Parquet row groups) are read
/// one after the other within it.
pub struct DatasetSource {
    root: PathBuf,
    format: FileFormat,
    options: ReadOptions,
    files: Vec<DatasetFile>,
    /// The files' columns (all nullable: a file may lack one).
    data_schema: SchemaRef,
    /// Which file the schema came from (for messages).
    schema_from: PathBuf,
    /// `data_schema` then the partition columns.
    schema: SchemaRef,
    /// Per partition column, its value for each file.
    key_values: Vec<ArrayRef>,
    opened: AtomicU64,
}

impl std::fmt::Debug for DatasetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetSource")
            .field("root", &self.root)
            .field("format", &self.format)
            .field("files", &self.files.len())
            .field("schema", &self.schema)
            .finish()
    }
}

/// `key=value` directory components of `rel` (the file name excluded).
fn hive_pairs(rel: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let parent = rel.parent().unwrap_or(Path::new(""));
    for c in parent.components() {
        if let Component::Normal(s) = c
            && let Some(s) = s.to_str()
            && let Some((k, v)) = s.split_once('=')
            && !k.is_empty()
        {
            let v = percent_decode_str(v).decode_utf8_lossy().into_owned();
            out.push((k.to_string(), v));
        }
    }
    out
}

/// The typed array of one partition column's values: `Int64` when every
/// non-null value is an integer, `Date32` when every one is a date, else
/// `Utf8`.
fn typed_values(values: &[Option<String>]) -> Result<ArrayRef> {
    let text: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
    let strict = arrow_cast::CastOptions {
        safe: false,
        ..Default::default()
    };
    for t in [DataType::Int64, DataType::Date32] {
        let all_look_right = values.iter().flatten().all(|v| match t {
            // arrow's string-to-int cast accepts nothing but digits.
            DataType::Int64 => !v.is_empty(),
            // A date is YYYY-MM-DD, not a timestamp.
            _ => v.len() == 10,
        });
        if all_look_right && let Ok(a) = arrow_cast::cast_with_options(&text, &t, &strict) {
            return Ok(a);
        }
    }
    Ok(text)
}

/// The type that holds values of both `a` and `b`, when they are
/// compatible: the same, null and anything, integers (the wider; signed
/// with unsigned as `Int64`), integers and floats (`Float64`), strings
/// (`LargeUtf8` when either is).
fn widen(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    if a == b {
        return Some(a.clone());
    }
    let int_width = |t: &DataType| match t {
        Int8 | UInt8 => Some(1),
        Int16 | UInt16 => Some(2),
        Int32 | UInt32 => Some(4),
        Int64 | UInt64 => Some(8),
        _ => None,
    };
    let signed = |t: &DataType| matches!(t, Int8 | Int16 | Int32 | Int64);
    let float = |t: &DataType| matches!(t, Float16 | Float32 | Float64);
    let string = |t: &DataType| matches!(t, Utf8 | LargeUtf8 | Utf8View);
    Some(match (a, b) {
        (Null, t) | (t, Null) => t.clone(),
        _ if int_width(a).is_some() && int_width(b).is_some() => {
            let (wa, wb) = (int_width(a)?, int_width(b)?);
            if signed(a) == signed(b) {
                if wa >= wb { a.clone() } else { b.clone() }
            } else if wa.max(wb) < 8 {
                Int64
            } else {
                return None;
            }
        }
        _ if (float(a) || int_width(a).is_some()) && (float(b) || int_width(b).is_some()) => {
            Float64
        }
        _ if string(a) && string(b) => {
            if matches!(a, LargeUtf8) || matches!(b, LargeUtf8) {
                LargeUtf8
            } else {
                Utf8
            }
        }
        _ => return None,
    })
}

impl DatasetSource {
    /// Opens the dataset at `path`: a directory (every file below it whose
    /// name does not start with `.` or `_`) or a glob pattern
    /// (`dir/**/*.parquet`). Hive keys are read from the directories below
    /// the directory, or below the pattern's part without wildcards; every
    /// file must have the same keys in the same order (an error names two
    /// files that differ). No file is [`Error::Io`] (not found).
    pub fn try_new(path: &str, options: DatasetOptions) -> Result<DatasetSource> {
        let (root, paths) = dataset_files(path)?;
        let format = match options.format {
            Some(f) => f,
            None => {
                let mut format: Option<(FileFormat, &PathBuf)> = None;
                for p in &paths {
                    let f = FileFormat::for_path(p)?;
                    match format {
                        None => format = Some((f, p)),
                        Some((g, q)) if g != f => {
                            return Err(Error::InvalidArgument(format!(
                                "the dataset '{path}' mixes formats: '{}' is {g}, '{}' is {f}; \
                                 pass a glob such as '{path}/**/*.parquet'",
                                q.display(),
                                p.display()
                            )));
                        }
                        Some(_) => {}
                    }
                }
                format.map_or(FileFormat::Parquet, |(f, _)| f)
            }
        };
        // Hive keys: the same names, in the same order, for every file.
        let mut names: Option<(Vec<String>, &PathBuf)> = None;
        let mut values: Vec<Vec<Option<String>>> = Vec::new();
        for p in &paths {
            let rel = p.strip_prefix(&root).unwrap_or(p);
            let pairs = hive_pairs(rel);
            let these: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
            match &names {
                None => {
                    values = vec![Vec::with_capacity(paths.len()); these.len()];
                    names = Some((these, p));
                }
                Some((first, q)) if *first != these => {
                    return Err(Error::SchemaMismatch(format!(
                        "the dataset '{path}' has files with different partition keys: \
                         '{}' has ({}), '{}' has ({})",
                        q.display(),
                        first.join(", "),
                        p.display(),
                        these.join(", ")
                    )));
                }
                Some(_) => {}
            }
            for (slot, (_, v)) in values.iter_mut().zip(pairs) {
                slot.push((v != HIVE_NULL).then_some(v));
            }
        }
        let key_names = names.map(|(n, _)| n).unwrap_or_default();
        let key_values: Vec<ArrayRef> = values
            .iter()
            .map(|v| typed_values(v))
            .collect::<Result<_>>()?;

        let files: Vec<DatasetFile> = paths
            .into_iter()
            .map(|path| DatasetFile {
                path,
                source: OnceLock::new(),
                read: Default::default(),
            })
            .collect();
        let mut source = DatasetSource {
            root,
            format,
            options: options.read,
            files,
            data_schema: Arc::new(Schema::empty()),
            schema_from: PathBuf::new(),
            schema: Arc::new(Schema::empty()),
            key_values,
            opened: AtomicU64::new(0),
        };
        // The files' schema: the first file's, or the union of all.
        let first = source.file_source(0)?.schema();
        let mut fields: Vec<Field> = first.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut from: Vec<PathBuf> = vec![source.files[0].path.clone(); fields.len()];
        if options.union_by_name {
            for i in 1..source.files.len() {
                let s = source.file_source(i)?.schema();
                for f in s.fields() {
                    match fields.iter().position(|g| g.name() == f.name()) {
                        None => {
                            fields.push(f.as_ref().clone());
                            from.push(source.files[i].path.clone());
                        }
                        Some(j) => {
                            let Some(t) = widen(fields[j].data_type(), f.data_type()) else {
                                return Err(Error::SchemaMismatch(format!(
                                    "column '{}' is {} in '{}' but {} in '{}'",
                                    f.name(),
                                    fields[j].data_type(),
                                    from[j].display(),
                                    f.data_type(),
                                    source.files[i].path.display()
                                )));
                            };
                            fields[j] = fields[j].clone().with_data_type(t);
                        }
                    }
                }
            }
        }
        // A column named like a key is the key (its value is the path's).
        let fields: Vec<Field> = fields
            .into_iter()
            .filter(|f| !key_names.contains(f.name()))
            .map(|f| f.with_nullable(true))
            .collect();
        let data_schema = Arc::new(Schema::new(fields.clone()));
        let mut all = fields;
        for (name, v) in key_names.iter().zip(&source.key_values) {
            all.push(Field::new(name, v.data_type().clone(), true));
        }
        source.schema_from = source.files[0].path.clone();
        source.data_schema = data_schema;
        source.schema = Arc::new(Schema::new(all));
        Ok(source)
    }

    /// The dataset's directory (for a glob: its part without wildcards).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The files' format.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// The files, in name order (partition `i` is file `i`).
    pub fn files(&self) -> Vec<&Path> {
        self.files.iter().map(|f| f.path.as_path()).collect()
    }

    /// How many files have been opened (to read a schema or data).
    pub fn files_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// The files whose data a scan has read so far, in name order.
    pub fn files_read(&self) -> Vec<&Path> {
        self.files
            .iter()
            .filter(|f| f.read.load(Ordering::Relaxed))
            .map(|f| f.path.as_path())
            .collect()
    }

    /// The partition columns' names, in directory order.
    pub fn partition_columns(&self) -> Vec<&str> {
        let n = self.data_schema.fields().len();
        self.schema.fields()[n..]
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    /// File `i`'s source, opened on first use.
    fn file_source(&self, i: usize) -> Result<&Arc<dyn ChunkSource>> {
        let f = &self.files[i];
        if let Some(s) = f.source.get() {
            return Ok(s);
        }
        let s = self.format.open_source(&f.path, &self.options)?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        // Another thread may have opened it meanwhile: either is fine.
        Ok(f.source.get_or_init(|| s))
    }

    /// Conforms one chunk of file `i` (its columns `file_cols`, `None` for
    /// a column the file lacks) to `out_schema`, adding key columns.
    fn conform(
        &self,
        i: usize,
        batch: RecordBatch,
        plan: &[ColumnPlan],
        out_schema: &SchemaRef,
    ) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(plan.len());
        for (c, field) in plan.iter().zip(out_schema.fields()) {
            let t = field.data_type();
            cols.push(match c {
                ColumnPlan::File(j) => {
                    let a = batch.column(*j);
                    if a.data_type() == t {
                        a.clone()
                    } else {
                        arrow_cast::cast(a.as_ref(), t).map_err(|e| {
                            Error::format(
                                &self.files[i].path,
                                None,
                                format!("column '{}': {e}", field.name()),
                            )
                        })?
                    }
                }
                ColumnPlan::Missing => arrow_array::new_null_array(t, rows),
                ColumnPlan::Key(k) => {
                    let idx = UInt32Array::from(vec![i as u32; rows]);
                    arrow_select::take::take(self.key_values[*k].as_ref(), &idx, None)?
                }
            });
        }
        Ok(RecordBatch::try_new_with_options(
            out_schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    }

    /// Where each projected column of file `i` comes from, and the file's
    /// projection.
    fn column_plan(&self, i: usize, projection: &[usize]) -> Result<(Vec<ColumnPlan>, Vec<usize>)> {
        let file_schema = self.file_source(i)?.schema();
        let n_data = self.data_schema.fields().len();
        let mut plan = Vec::with_capacity(projection.len());
        let mut file_proj: Vec<usize> = Vec::new();
        for &c in projection {
            if c >= n_data {
                plan.push(ColumnPlan::Key(c - n_data));
                continue;
            }
            let field = self.data_schema.field(c);
            match file_schema.index_of(field.name()) {
                Err(_) => plan.push(ColumnPlan::Missing),
                Ok(j) => {
                    let have = file_schema.field(j).data_type();
                    if have != field.data_type()
                        && widen(have, field.data_type()).as_ref() != Some(field.data_type())
                    {
                        let msg = format!(
                            "column '{}' is {} in '{}' but {} in '{}' (read with union_by_name \
                             to widen compatible types)",
                            field.name(),
                            field.data_type(),
                            self.schema_from.display(),
                            have,
                            self.files[i].path.display()
                        );
                        return Err(Error::SchemaMismatch(msg));
                    }
                    plan.push(ColumnPlan::File(file_proj.len()));
                    file_proj.push(j);
                }
            }
        }
        Ok((plan, file_proj))
    }
}

impl DatasetSource {
    /// The checked arguments of a read: the output schema and the
    /// projection (every column when `None`).
    fn read_args(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
    ) -> Result<(SchemaRef, Vec<usize>)> {
        let out_schema = check_read_args(
            &self.describe(),
            &self.schema,
            index,
            self.files.len(),
            projection,
            chunk_rows,
        )?;
        let columns = match projection {
            Some(p) => p.to_vec(),
            None => (0..self.schema.fields().len()).collect(),
        };
        Ok((out_schema, columns))
    }

    /// Whether file `index`'s partition values pass every one of
    /// `filters` (each reads partition columns only): true, not false or
    /// null.
    fn keys_pass(&self, index: usize, filters: &[&Expr]) -> Result<bool> {
        if filters.is_empty() {
            return Ok(true);
        }
        let n_data = self.data_schema.fields().len();
        let fields: Vec<Field> = self.schema.fields()[n_data..]
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let values: Vec<ArrayRef> = self.key_values.iter().map(|v| v.slice(index, 1)).collect();
        let keys = RecordBatch::try_new(Arc::new(Schema::new(fields)), values)?;
        let prepared = filters
            .iter()
            .map(|f| f.prepare(keys.schema_ref()))
            .collect::<Result<Vec<_>>>()?;
        let keep = keep_mask(&prepared, &keys)?;
        Ok(keep.value(0))
    }
}

/// Partition `j` of `src` read with the filter columns `filter_cols`
/// after `projection`, filtered by `filters` here, then projected: for a
/// partition whose source does not filter while decoding.
fn filter_here<'a>(
    src: &'a dyn ChunkSource,
    j: usize,
    projection: &[usize],
    filter_cols: &[usize],
    filters: &[Expr],
    chunk_rows: usize,
) -> Result<ChunkIter<'a>> {
    let mut read: Vec<usize> = projection.to_vec();
    read.extend(filter_cols.iter().filter(|c| !projection.contains(c)));
    let schema = src.schema().project(&read)?;
    let prepared = filters
        .iter()
        .map(|f| f.prepare(&schema))
        .collect::<Result<Vec<_>>>()?;
    let keep: Vec<usize> = (0..projection.len()).collect();
    let chunks = src.read_partition(j, Some(&read), chunk_rows)?;
    Ok(Box::new(chunks.map(move |b| {
        let b = b?;
        let mask = keep_mask(&prepared, &b)?;
        Ok(arrow_select::filter::filter_record_batch(&b, &mask)?.project(&keep)?)
    })))
}

/// Where an output column of a dataset read comes from.
#[derive(Debug, Clone, Copy)]
enum ColumnPlan {
    /// The file's projected column at this position.
    File(usize),
    /// The file lacks it: nulls.
    Missing,
    /// A partition column (its index).
    Key(usize),
}

/// The root and files of a dataset path (directory or glob; a URL of
/// either: `s3://bucket/ds`, `s3://bucket/ds/**/*.parquet`).
fn dataset_files(path: &str) -> Result<(PathBuf, Vec<PathBuf>)> {
    let local: String;
    let path = match Location::of(Path::new(path))? {
        Location::Local(p) if p.as_os_str() != path => {
            local = p.to_string_lossy().into_owned();
            local.as_str()
        }
        Location::Local(_) => path,
        #[cfg(feature = "object-store")]
        Location::Url(u) => return remote_dataset_files(&u),
    };
    if crate::multi::is_glob(path) {
        let files = crate::multi::expand_glob(path)?;
        let mut root = PathBuf::new();
        for c in Path::new(path).components() {
            if crate::multi::is_glob(&c.as_os_str().to_string_lossy()) {
                break;
            }
            root.push(c);
        }
        return Ok((root, files));
    }
    let root = PathBuf::from(path);
    let mut files = Vec::new();
    walk_dataset(&root, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(no_files(&root));
    }
    Ok((root, files))
}

fn no_files(root: &Path) -> Error {
    Error::io(
        root,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the dataset directory holds no file",
        ),
    )
}

/// [`dataset_files`] of a URL: a glob's matches, or every object under the
/// prefix (one listing) but those with a path component starting with `.`
/// or `_`, as [`walk_dataset`] skips them.
#[cfg(feature = "object-store")]
fn remote_dataset_files(url: &str) -> Result<(PathBuf, Vec<PathBuf>)> {
    if crate::multi::is_glob(url) {
        let files = crate::multi::expand_glob(url)?;
        let (base, _) = crate::multi::url_glob_base(url);
        return Ok((PathBuf::from(base), files));
    }
    let root = url.trim_end_matches('/');
    let files: Vec<PathBuf> = crate::object::list(root)?
        .into_iter()
        .filter(|(u, _)| {
            let rel = u.get(root.len()..).unwrap_or("").trim_start_matches('/');
            !crate::multi::has_marked_component(rel, &['.', '_'])
        })
        .map(|(u, _)| PathBuf::from(u))
        .collect();
    if files.is_empty() {
        return Err(no_files(Path::new(root)));
    }
    Ok((PathBuf::from(root), files))
}

/// Whether `path` names a dataset directory: a local directory, or a URL
/// under which objects are listed while none is at the URL itself.
fn is_dataset_dir(path: &str) -> Result<bool> {
    match Location::of(Path::new(path))? {
        Location::Local(p) => Ok(p.is_dir()),
        #[cfg(feature = "object-store")]
        Location::Url(u) => {
            if !u.ends_with('/') && crate::object::exists(&u)? {
                return Ok(false);
            }
            Ok(!crate::object::list(u.trim_end_matches('/'))?.is_empty())
        }
    }
}

/// Every file below `dir` whose name (and whose directories' names) do not
/// start with `.` (hidden, unfinished writes) or `_` (`_SUCCESS` markers,
/// metadata). Symbolic links are followed to files, never into
/// directories.
fn walk_dataset(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let n = name.to_string_lossy();
        if n.starts_with('.') || n.starts_with('_') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            walk_dataset(&path, out)?;
        } else if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

impl ChunkSource for DatasetSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn describe(&self) -> String {
        format!(
            "{} dataset '{}' ({} files)",
            self.format,
            self.root.display(),
            self.files.len()
        )
    }

    fn partition_count(&self) -> usize {
        self.files.len()
    }

    fn read_partition(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
    ) -> Result<ChunkIter<'_>> {
        let (out_schema, projection) = self.read_args(index, projection, chunk_rows)?;
        let (plan, file_proj) = self.column_plan(index, &projection)?;
        let src = self.file_source(index)?;
        self.files[index].read.store(true, Ordering::Relaxed);
        let chunks = file_chunks(src.as_ref(), file_proj, chunk_rows);
        Ok(Box::new(chunks.map(move |b| {
            b.and_then(|b| self.conform(index, b, &plan, &out_schema))
        })))
    }

    /// Late materialization through the file's own (Parquet's): the
    /// filters over the file's columns go to the file. A filter over
    /// partition columns only has one value for the whole file, decided
    /// here before the file is opened: false or null and the file yields
    /// nothing, true and the filter is done. `None` (the caller filters the
    /// chunks) when a filter reads both kinds of column, when one of the
    /// file's filter columns is missing from it or has another type there
    /// (the filter would mean something else), or when the file's format
    /// cannot filter while decoding.
    fn read_partition_filtered(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
        filters: &[Expr],
    ) -> Result<Option<ChunkIter<'_>>> {
        let (out_schema, columns) = self.read_args(index, projection, chunk_rows)?;
        let n_data = self.data_schema.fields().len();
        let is_key = |c: &str| self.schema.fields()[n_data..].iter().any(|f| f.name() == c);
        let mut file_filters: Vec<Expr> = Vec::new();
        let mut key_filters: Vec<&Expr> = Vec::new();
        for f in filters {
            let cols = f.columns();
            let keys = cols.iter().filter(|c| is_key(c)).count();
            if keys == 0 {
                file_filters.push(f.clone());
            } else if keys == cols.len() {
                key_filters.push(f);
            } else {
                return Ok(None);
            }
        }
        if !self.keys_pass(index, &key_filters)? {
            return Ok(Some(Box::new(std::iter::empty())));
        }
        if file_filters.is_empty() {
            return self.read_partition(index, projection, chunk_rows).map(Some);
        }
        let src = self.file_source(index)?;
        let file_schema = src.schema();
        // The file's indices of its filter columns, when each has the
        // dataset's type there.
        let mut filter_cols: Vec<usize> = Vec::new();
        for name in file_filters.iter().flat_map(Expr::columns) {
            let Ok(want) = self.data_schema.field_with_name(&name) else {
                let names = self.schema.fields().iter().map(|f| f.name().as_str());
                return Err(parframe_common::column_not_found(&name, names));
            };
            let Ok(j) = file_schema.index_of(&name) else {
                return Ok(None);
            };
            if file_schema.field(j).data_type() != want.data_type() {
                return Ok(None);
            }
            if !filter_cols.contains(&j) {
                filter_cols.push(j);
            }
        }
        let (plan, file_proj) = self.column_plan(index, &columns)?;
        if file_proj.is_empty() {
            // Nothing of the file to decode but the filters' columns: the
            // caller's own filter does the same work (Parquet's rule too).
            return Ok(None);
        }
        let parts = src.partition_count();
        if parts == 0 {
            return Ok(Some(Box::new(std::iter::empty())));
        }
        // The first partition says whether the format filters at all; a
        // later one that does not is filtered here.
        let Some(first) =
            src.read_partition_filtered(0, Some(&file_proj), chunk_rows, &file_filters)?
        else {
            return Ok(None);
        };
        self.files[index].read.store(true, Ordering::Relaxed);
        let src = src.as_ref();
        let rest = (1..parts).flat_map(move |j| -> ChunkIter<'_> {
            let filtered = src
                .read_partition_filtered(j, Some(&file_proj), chunk_rows, &file_filters)
                .and_then(|it| match it {
                    Some(it) => Ok(it),
                    None => {
                        filter_here(src, j, &file_proj, &filter_cols, &file_filters, chunk_rows)
                    }
                });
            match filtered {
                Ok(it) => it,
                Err(e) => Box::new(std::iter::once(Err(e))),
            }
        });
        Ok(Some(Box::new(first.chain(rest).map(move |b| {
            b.and_then(|b| self.conform(index, b, &plan, &out_schema))
        }))))
    }

    /// The rows of file `index`'s row groups (or other partitions) summed,
    /// once the file is open (a filtered read opens it); `None` before.
    fn partition_row_count(&self, index: usize) -> Option<u64> {
        let src = self.files.get(index)?.source.get()?;
        (0..src.partition_count())
            .map(|j| src.partition_row_count(j))
            .sum()
    }

    /// Each file's key values (min = max = the value; null counts 0 for a
    /// value, unknown for a null key); other columns are unknown without
    /// opening the files.
    fn partition_column_statistics(&self, column: &str) -> Option<PartitionColumnStatistics> {
        let n_data = self.data_schema.fields().len();
        let k = self.schema.index_of(column).ok()?.checked_sub(n_data)?;
        let values = self.key_values.get(k)?.clone();
        let null_counts = (0..values.len())
            .map(|i| (!values.is_null(i)).then_some(0))
            .collect();
        Some(PartitionColumnStatistics {
            mins: values.clone(),
            maxes: values,
            null_counts,
            row_counts: vec![None; self.files.len()],
        })
    }
}

/// The chunks of every partition of `src`, one partition after the other.
fn file_chunks<'a>(
    src: &'a dyn ChunkSource,
    projection: Vec<usize>,
    chunk_rows: usize,
) -> impl Iterator<Item = Result<RecordBatch>> + Send + 'a {
    (0..src.partition_count()).flat_map(move |j| -> ChunkIter<'a> {
        match src.read_partition(j, Some(&projection), chunk_rows) {
            Ok(it) => it,
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    })
}

/// The options of a dataset opened by its path: the reading options its
/// first file's extension implies (`.tsv`: tab-separated).
fn default_options(files: &[PathBuf]) -> DatasetOptions {
    DatasetOptions {
        read: files
            .first()
            .map(|f| ReadOptions::for_path(f))
            .unwrap_or_default(),
        ..DatasetOptions::default()
    }
}

/// Opens `path` as a dataset when it is one: a directory, or a glob
/// whose files sit in `key=value` directories. `None` for a file or a
/// plain glob.
pub(crate) fn open_if_dataset(path: &str) -> Result<Option<Arc<dyn ChunkSource>>> {
    if !crate::multi::is_glob(path) {
        if is_dataset_dir(path)? {
            let (_, files) = dataset_files(path)?;
            return Ok(Some(Arc::new(DatasetSource::try_new(
                path,
                default_options(&files),
            )?)));
        }
        return Ok(None);
    }
    let (root, files) = dataset_files(path)?;
    let hive = files
        .iter()
        .any(|f| !hive_pairs(f.strip_prefix(&root).unwrap_or(f)).is_empty());
    if !hive {
        return Ok(None);
    }
    Ok(Some(Arc::new(DatasetSource::try_new(
        path,
        default_options(&files),
    )?)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use arrow_array::cast::AsArray;

    #[test]
    fn key_values_are_typed() {
        let v = |xs: &[Option<&str>]| -> Vec<Option<String>> {
            xs.iter().map(|x| x.map(str::to_string)).collect()
        };
        let ints = typed_values(&v(&[Some("7"), None, Some("-12")])).unwrap();
        assert_eq!(ints.data_type(), &DataType::Int64);
        assert!(ints.is_null(1));
        let dates = typed_values(&v(&[Some("2024-01-31"), Some("1999-12-01")])).unwrap();
        assert_eq!(dates.data_type(), &DataType::Date32);
        let text = typed_values(&v(&[Some("7"), Some("x")])).unwrap();
        assert_eq!(text.as_string::<i32>().value(1), "x");
        let empty = typed_values(&v(&[Some("")])).unwrap();
        assert_eq!(empty.data_type(), &DataType::Utf8);
    }

    #[test]
    fn hive_pairs_decode() {
        let p = hive_pairs(Path::new("a=1/b=x%2Fy/notakey/c=/f.parquet"));
        assert_eq!(
            p,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x/y".to_string()),
                ("c".to_string(), String::new())
            ]
        );
        assert!(hive_pairs(Path::new("k=v.parquet")).is_empty());
    }

    #[test]
    fn widening() {
        use DataType::*;
        assert_eq!(widen(&Int32, &Int64), Some(Int64));
        assert_eq!(widen(&UInt8, &Int16), Some(Int64));
        assert_eq!(widen(&Int64, &Float32), Some(Float64));
        assert_eq!(widen(&Utf8, &LargeUtf8), Some(LargeUtf8));
        assert_eq!(widen(&Null, &Date32), Some(Date32));
        assert_eq!(widen(&Utf8, &Int64), None);
        assert_eq!(widen(&UInt64, &Int64), None);
    }
}
