//! Reading and writing parframe tables: CSV, Parquet, Arrow IPC and
//! newline-delimited JSON files (the [`FileFormat`] registry) as
//! [`ChunkSource`]s that a plan scans, [`ChunkSink`]s that a plan writes
//! into, and eager helpers for whole [`Table`]s.
//!
//! Sources know nothing of thread pools: each one splits its file into
//! independently readable partitions (CSV byte ranges that start at line
//! starts, Parquet row groups, IPC record batches), and the executor decides
//! which to read at once. [`read_all`] reads them one after the other, for
//! tests and eager use.
//!
//! Sinks never leave a partial file: they write a temporary file beside the
//! target (`.<name>.<random>.parframe-tmp`, created with `O_EXCL` by the
//! `tempfile` crate, so two jobs writing the same target never share one
//! and a planted symlink is never followed) and rename it onto the target
//! when [`ChunkSink::finish`] succeeds; on an error or a drop without
//! `finish`, the temporary file is removed. A target that exists and is not
//! a regular file (a character device such as `/dev/null`, a FIFO, a
//! socket, `/dev/stdout`) is opened and written directly, never replaced.
//!
//! Formats are named once, in the [`FileFormat`] registry (extensions,
//! names, [`open_source`] / [`create_sink`]); every file sink is one
//! [`FileSink`] over an arrow `RecordBatchWriter` (see `format.rs` and
//! `sink.rs` for how to add a format). Globs ([`expand_glob`]) take `*`,
//! `?`, `[..]` and `**`.
//!
//! Hive-partitioned datasets (`dir/year=2024/month=1/part-00000.parquet`):
//! [`PartitionedSink`] writes one atomically (a temporary directory renamed
//! at the end, a bounded number of open files), [`DatasetSource`] reads
//! one with the `key=value` directories as typed columns, opening a file
//! only when a scan reads it, so filters on the keys skip the other
//! directories' files. [`open_sources`] opens a directory, or a glob whose
//! files sit in `key=value` directories, as a dataset.
//!
//! Object storage (the `object-store` feature, on by default): every path
//! above may be a URL, `s3://bucket/key.parquet`, `gs://`, `az://`,
//! `http(s)://`, `memory://` (and `file://`, always), globs and dataset
//! directories included (`s3://bucket/ds/**/*.parquet`). Parquet reads its
//! footer and the projected column chunks of the row groups a scan reads
//! with ranged requests; CSV and NDJSON stream in bounded blocks; sinks
//! upload in parts and the object appears only when the upload completes.
//! Credentials and endpoints come from the standard environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...), or a store configured in
//! code is given with [`register_object_store`]. See `object.rs`.
//!
//! Errors are [`parframe_common::Error`]s that name the file, and for CSV
//! the line and column: ``cannot read 'prices.csv' at line 17, column
//! 'price': cannot parse 'abc' as Float64``.
//!
//! ```
//! use parframe_core::table;
//! use parframe_io::{open_source, read_all, write_parquet, ParquetWriteOptions};
//!
//! let dir = std::env::temp_dir().join(format!("parframe-io-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("cities.parquet");
//!
//! let t = table!("city" => ["Oslo", "Lima", "Pune"], "temp" => [3.5, 18.0, 31.2])?;
//! write_parquet(&t, &path, &ParquetWriteOptions::default())?;
//!
//! let source = open_source(&path)?;
//! assert_eq!(source.row_count_hint(), Some(3));
//! // Only the "temp" column, in chunks of at most 1024 rows.
//! let back = read_all(source.as_ref(), Some(&[1]), 1024)?;
//! assert_eq!(back.column_names(), vec!["temp"]);
//! assert_eq!(back.num_rows(), 3);
//!
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod csv;
mod dataset;
mod format;
mod input;
mod ipc;
mod json;
mod multi;
#[cfg(feature = "object-store")]
mod object;
mod parquet;
mod sink;
mod util;

pub use crate::csv::{CsvOptions, CsvSink, CsvSource, CsvWriteOptions, CsvWriter, write_csv};
pub use crate::dataset::{
    DatasetOptions, DatasetSource, HIVE_NULL, PartitionedSink, PartitionedWriteOptions,
};
pub use crate::format::{FileFormat, ReadOptions, WriteOptions, create_sink, open_source};
pub use crate::input::is_url;
pub use crate::ipc::{IpcSink, IpcSource, IpcWriteOptions, write_ipc};
pub use crate::json::{JsonOptions, JsonSink, JsonSource, JsonWriteOptions, write_json};
pub use crate::multi::{MultiSource, expand_glob, is_glob, open_sources};
#[cfg(feature = "object-store")]
pub use crate::object::{
    REMOTE_BLOCK_MAX, UPLOAD_PART_BYTES, UPLOAD_PARTS_IN_FLIGHT, install_crypto,
    register_object_store,
};
pub use crate::parquet::{
    ParquetCompression, ParquetReadOptions, ParquetSink, ParquetSource, ParquetWriteOptions,
    write_parquet,
};
pub use crate::sink::{FileSink, SinkOutput};
pub use crate::util::{OutputFile, remove_unfinished_outputs};
/// The `object_store` crate, at the version parframe uses: build a store
/// in code and give it to [`register_object_store`].
#[cfg(feature = "object-store")]
pub use object_store;

use parframe_common::Result;
use parframe_core::{ChunkSink, ChunkSource, Table};

/// Reads every partition of `source`, one after the other on the calling
/// thread, into a [`Table`] of the columns in `projection` (all when
/// `None`), in chunks of at most `chunk_rows` rows. The executor reads
/// partitions in parallel; this is for tests and eager use.
pub fn read_all(
    source: &dyn ChunkSource,
    projection: Option<&[usize]>,
    chunk_rows: usize,
) -> Result<Table> {
    let schema = util::projected_schema(&source.describe(), &source.schema(), projection)?;
    let mut chunks = Vec::new();
    for p in 0..source.partition_count() {
        for chunk in source.read_partition(p, projection, chunk_rows)? {
            // Same schema object as the table: no per-chunk revalidation,
            // and zero-column chunks keep their row count.
            chunks.push(util::with_schema(chunk?, &schema)?);
        }
    }
    Table::try_new(schema, chunks)
}

/// Writes every chunk of `table` into `sink` and finishes it.
fn write_table(table: &Table, mut sink: Box<dyn ChunkSink>) -> Result<()> {
    for chunk in table.chunks() {
        sink.write(chunk)?;
    }
    sink.finish()
}
