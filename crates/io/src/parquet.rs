//! Parquet: [`ParquetSource`] reads row groups as partitions,
//! [`ParquetSink`] writes chunks.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::{Array, BooleanArray};
use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{ArrowError, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::{
    ChunkIter, ChunkSource, ColumnStatistics, Expr, PartitionColumnStatistics, Precision,
    ScalarValue, Statistics, Table,
};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderBuilder, ArrowReaderMetadata, ArrowReaderOptions,
    ParquetRecordBatchReaderBuilder, RowFilter, RowSelection, RowSelectionPolicy, RowSelector,
};
use parquet::arrow::arrow_writer::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use crate::input::Input;
use crate::sink::{FileSink, SinkOutput};
use crate::util::{check_read_args, guard_decoder, keep_mask, with_schema};

/// Maps a Parquet error on `path` to [`Error`].
fn parquet_err(path: &Path, location: Option<String>, e: ParquetError) -> Error {
    match e {
        ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
            Ok(io) => Error::io(path, *io),
            Err(other) => Error::format(path, location, other.to_string()),
        },
        other => Error::format(path, location, other.to_string()),
    }
}

fn arrow_err(path: &Path, location: Option<String>, e: ArrowError) -> Error {
    match e {
        ArrowError::IoError(_, source) => Error::io(path, source),
        other => Error::format(path, location, other.to_string()),
    }
}

/// A Parquet file as a [`ChunkSource`]. The footer is read once, when the
/// source is opened; each row group is a partition, or several (row ranges
/// of it) when the file has too few row groups to keep every core busy
/// (see [`ParquetReadOptions::split_rows`]); a file written with many small
/// row groups gives as many small partitions. The row count is known from
/// the footer.
pub struct ParquetSource {
    path: PathBuf,
    input: Input,
    metadata: ArrowReaderMetadata,
    /// The partitions: row ranges of row groups ([`split_row_groups`]).
    splits: Vec<Split>,
}

/// One partition of a Parquet file: rows `offset..offset + rows` of row
/// group `row_group`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    row_group: usize,
    offset: usize,
    rows: usize,
    /// Whether this is the whole row group.
    whole: bool,
}

/// How a file's row groups become partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Splitting {
    /// Row groups are split only when the file has fewer than two per core
    /// (`available_parallelism`), into about two per core in all, none
    /// below [`MIN_SPLIT_ROWS`] rows.
    Auto,
    /// Every row group in ranges of at most this many rows.
    MaxRows(usize),
}

/// The fewest rows [`Splitting::Auto`] gives a range.
pub const MIN_SPLIT_ROWS: usize = 64 * 1024;

/// The partitions of row groups of `rows` rows.
///
/// Why split: a file of one large row group (TPC-H's `partsupp`, `part`,
/// `customer` as parquet-rs writes them) would be decoded by one core. Why
/// not always: each range decodes its row group's dictionary pages and the
/// pages at its edges again, which cost TPC-H's lineitem queries a third
/// when its seven row groups of 10^6 rows were read in ranges of 128 Ki
/// rows, though seven row groups already keep two cores busy.
fn split_row_groups(rows: &[u64], how: Splitting) -> Vec<Split> {
    // The number of ranges of a row group of `r` rows.
    let parts: Box<dyn Fn(usize) -> usize> = match how {
        // At most `n` rows each.
        Splitting::MaxRows(n) => Box::new(move |r: usize| r.div_ceil(n.max(1))),
        Splitting::Auto => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let target = 2 * cores;
            if rows.len() >= target {
                Box::new(|_| 1)
            } else {
                // At least `per` rows each.
                let total: u64 = rows.iter().sum();
                let per = usize::try_from(total / target as u64)
                    .unwrap_or(usize::MAX)
                    .max(MIN_SPLIT_ROWS);
                Box::new(move |r: usize| r / per)
            }
        }
    };
    let mut out = Vec::new();
    for (g, &r) in rows.iter().enumerate() {
        let r = usize::try_from(r).unwrap_or(usize::MAX);
        let parts = parts(r).max(1);
        let (base, extra) = (r / parts, r % parts);
        let mut offset = 0;
        for k in 0..parts {
            let len = base + usize::from(k < extra);
            out.push(Split {
                row_group: g,
                offset,
                rows: len,
                whole: parts == 1,
            });
            offset += len;
        }
    }
    out
}

impl std::fmt::Debug for ParquetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSource")
            .field("path", &self.path)
            .field("row_groups", &self.metadata.metadata().num_row_groups())
            .field("partitions", &self.partition_count())
            .field("schema", self.metadata.schema())
            .finish()
    }
}

impl ParquetSource {
    /// Opens `path` (a path or a URL: `s3://bucket/x.parquet`) and reads
    /// its footer (for a URL, a ranged read of the end of the object). A
    /// missing file is [`Error::Io`], a file that is not Parquet
    /// [`Error::Format`], both naming the path.
    pub fn try_new(path: impl AsRef<Path>) -> Result<ParquetSource> {
        ParquetSource::try_new_with_options(path, &ParquetReadOptions::default())
    }

    /// [`try_new`](Self::try_new) with reading options.
    pub fn try_new_with_options(
        path: impl AsRef<Path>,
        options: &ParquetReadOptions,
    ) -> Result<ParquetSource> {
        ParquetSource::from_input(Input::open(path.as_ref())?, options)
    }

    pub(crate) fn from_input(input: Input, options: &ParquetReadOptions) -> Result<ParquetSource> {
        let path = input.path().to_path_buf();
        let metadata = match &input {
            Input::Local(p) => {
                let file = File::open(p).map_err(|e| Error::io(p, e))?;
                guard_decoder(&path, None, || {
                    ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                        .map_err(|e| parquet_err(&path, None, e))
                })?
            }
            #[cfg(feature = "object-store")]
            Input::Remote(r) => {
                let mut reader = r.parquet_reader();
                crate::object::block_on(ArrowReaderMetadata::load_async(
                    &mut reader,
                    ArrowReaderOptions::new(),
                ))?
                .map_err(|e| parquet_err(&path, None, e))?
            }
        };
        check_column_chunks(&path, metadata.metadata(), input.len()?)?;
        let metadata = string_views(&path, metadata, options.string_views)?;
        let rows: Vec<u64> = metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| rg.num_rows().max(0) as u64)
            .collect();
        let splits = split_row_groups(&rows, options.splitting);
        Ok(ParquetSource {
            path,
            input,
            metadata,
            splits,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of rows of each row group.
    pub fn row_group_rows(&self) -> Vec<u64> {
        self.metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| rg.num_rows().max(0) as u64)
            .collect()
    }

    /// Reads partition `index` (a row range of a row group): the columns
    /// of `projection` (in that order) of the rows every one of `filters`
    /// keeps (all rows when it is empty).
    fn open_partition(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
        filters: &[Expr],
    ) -> Result<ChunkIter<'_>> {
        let schema = self.schema();
        let out_schema = check_read_args(
            &self.describe(),
            &schema,
            index,
            self.partition_count(),
            projection,
            chunk_rows,
        )?;
        let split = self.splits[index];
        if projection.is_some_and(|p| p.is_empty()) && filters.is_empty() {
            // No column: the row count is in the footer, nothing to decode.
            let rows = split.rows;
            let chunks = (0..rows).step_by(chunk_rows).map(move |off| {
                Ok(RecordBatch::try_new_with_options(
                    out_schema.clone(),
                    vec![],
                    &RecordBatchOptions::new().with_row_count(Some(chunk_rows.min(rows - off))),
                )?)
            });
            return Ok(Box::new(chunks));
        }
        // The mask decodes columns in file order; `reorder` puts them in the
        // order asked for (duplicates included).
        let mut reorder: Option<Vec<usize>> = None;
        let mut mask: Option<ProjectionMask> = None;
        if let Some(p) = projection {
            let mut roots: Vec<usize> = p.to_vec();
            roots.sort_unstable();
            roots.dedup();
            mask = Some(ProjectionMask::roots(
                self.metadata.parquet_schema(),
                roots.iter().copied(),
            ));
            let positions: Vec<usize> = p
                .iter()
                .map(|c| roots.binary_search(c).unwrap_or_default())
                .collect();
            if positions.iter().enumerate().any(|(i, &x)| i != x) || positions.len() != roots.len()
            {
                reorder = Some(positions);
            }
        }
        let location = Some(if split.whole {
            format!("row group {}", split.row_group)
        } else {
            format!(
                "row group {}, rows {}..{}",
                split.row_group,
                split.offset,
                split.offset + split.rows
            )
        });
        // An error of a filter, kept as it is (the parquet reader would
        // turn it into a string).
        let failure: Arc<Mutex<Option<Error>>> = Arc::new(Mutex::new(None));
        let row_filter = self.row_filter(filters, &failure)?;
        let filter_error = |e: ParquetError| -> Error {
            match failure.lock().ok().and_then(|mut f| f.take()) {
                Some(own) => own,
                None => parquet_err(&self.path, location.clone(), e),
            }
        };
        let reader = match &self.input {
            Input::Local(p) => {
                let file = File::open(p).map_err(|e| Error::io(p, e))?;
                let builder = configure(
                    ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone()),
                    split,
                    chunk_rows,
                    mask,
                    row_filter,
                );
                // `build` evaluates the filters over the whole row group.
                guard_decoder(&self.path, location.clone(), || {
                    builder.build().map_err(filter_error)
                })?
            }
            // The row group's projected column chunks are fetched with
            // ranged GETs (coalesced by parquet), then decoded here: the
            // partition holds one row group's projected bytes.
            #[cfg(feature = "object-store")]
            Input::Remote(r) => {
                use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
                let builder = configure(
                    ParquetRecordBatchStreamBuilder::new_with_metadata(
                        r.parquet_reader(),
                        self.metadata.clone(),
                    ),
                    split,
                    chunk_rows,
                    mask,
                    row_filter,
                );
                let mut stream = builder
                    .build()
                    .map_err(|e| parquet_err(&self.path, location.clone(), e))?;
                let group = guard_decoder(&self.path, location.clone(), || {
                    crate::object::block_on(stream.next_row_group())
                })?
                .map_err(filter_error)?;
                match group {
                    Some(reader) => reader,
                    None => return Ok(Box::new(std::iter::empty())),
                }
            }
        };
        let path = self.path.clone();
        let mut reader = reader;
        let mut failed = false;
        Ok(Box::new(std::iter::from_fn(move || {
            if failed {
                return None;
            }
            // Decoding happens in `next`; a panic there ends the partition
            // with an error (the reader's state is unknown after it).
            let b = match guard_decoder(&path, location.clone(), || Ok(reader.next())) {
                Ok(b) => b?,
                Err(e) => {
                    failed = true;
                    return Some(Err(e));
                }
            };
            Some(
                b.map_err(|e| arrow_err(&path, location.clone(), e))
                    .and_then(|b| {
                        let b = match &reorder {
                            Some(pos) => b.project(pos)?,
                            None => b,
                        };
                        with_schema(b, &out_schema)
                    }),
            )
        })))
    }

    /// `filters` as a `RowFilter` of one predicate over all their columns:
    /// every filter column is decoded once, for every row of the row
    /// group, and the filters are evaluated together. (One predicate per
    /// column set, each decoded only where the earlier ones kept rows,
    /// measured slower on TPC-H: a scattered selection costs more to decode
    /// through than the rows it saves.) `None` when there is no filter.
    fn row_filter(
        &self,
        filters: &[Expr],
        failure: &Arc<Mutex<Option<Error>>>,
    ) -> Result<Option<RowFilter>> {
        if filters.is_empty() {
            return Ok(None);
        }
        let schema = self.schema();
        let mut roots = Vec::new();
        for f in filters {
            for c in f.columns() {
                roots.push(schema.index_of(&c).map_err(|_| {
                    parframe_common::column_not_found(
                        &c,
                        schema.fields().iter().map(|f| f.name().as_str()),
                    )
                })?);
            }
        }
        roots.sort_unstable();
        roots.dedup();
        let read = Arc::new(schema.project(&roots)?);
        let prepared = filters
            .iter()
            .map(|e| e.prepare(&read))
            .collect::<Result<Vec<_>>>()?;
        let mask = ProjectionMask::roots(self.metadata.parquet_schema(), roots);
        let failure = Arc::clone(failure);
        let predicate = ArrowPredicateFn::new(
            mask,
            move |batch: RecordBatch| -> std::result::Result<BooleanArray, ArrowError> {
                keep_mask(&prepared, &batch).map_err(|e| {
                    let shown = ArrowError::ComputeError(e.to_string());
                    if let Ok(mut f) = failure.lock() {
                        f.get_or_insert(e);
                    }
                    shown
                })
            },
        );
        Ok(Some(RowFilter::new(vec![Box::new(predicate)])))
    }
}

/// How Parquet files are read.
#[derive(Clone, Debug)]
pub struct ParquetReadOptions {
    string_views: bool,
    splitting: Splitting,
}

impl Default for ParquetReadOptions {
    fn default() -> Self {
        ParquetReadOptions {
            string_views: false,
            splitting: Splitting::Auto,
        }
    }
}

impl ParquetReadOptions {
    /// Read every row group as partitions (row ranges of about equal
    /// length) of at most `rows` rows (at least 1). By default a file
    /// with fewer row groups than two per core has them split into about
    /// two partitions per core, of at least [`MIN_SPLIT_ROWS`] rows each,
    /// and other files one partition per row group.
    pub fn split_rows(mut self, rows: usize) -> Self {
        self.splitting = Splitting::MaxRows(rows.max(1));
        self
    }

    /// Whether string columns are read as `Utf8View`, or (the default) as
    /// the type the file's schema gives them (`Utf8`, `LargeUtf8`).
    ///
    /// Decoding a dictionary-encoded column (what Parquet writers produce
    /// for repetitive strings) into views points every row at the one
    /// decoded dictionary instead of copying each row's bytes, and the
    /// operators take views as they are: a group-by on such a column runs
    /// in about half the time (db-benchmark q1 and q3 from Parquet, 0.13 s
    /// to 0.06 s and 0.49 s to 0.25 s). It is not the default: a view is 16
    /// bytes a row where a 5-byte string in `Utf8` takes 9, so the chunks
    /// in flight between operators (outside the reservations, part of the
    /// stated overhead) grow with them; under a 64 MiB limit a partitioned
    /// write of G1 peaks 15 MB higher with views
    /// (`partitioned_write_holds_64_mib`: 121 MB against 107 MB). Ask for
    /// them where the columns are keys of a group-by or a join.
    pub fn string_views(mut self, views: bool) -> Self {
        self.string_views = views;
        self
    }
}

/// `metadata` reading the top-level string columns as `Utf8View` when
/// `views`, else as the file's own schema gives them.
fn string_views(
    path: &Path,
    metadata: ArrowReaderMetadata,
    views: bool,
) -> Result<ArrowReaderMetadata> {
    use arrow_schema::{DataType, Field, Schema};
    let file = ArrowReaderMetadata::try_new(metadata.metadata().clone(), ArrowReaderOptions::new())
        .map_err(|e| parquet_err(path, None, e))?;
    let fields: Vec<Field> = file
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 if views => {
                f.as_ref().clone().with_data_type(DataType::Utf8View)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    if fields
        .iter()
        .zip(metadata.schema().fields())
        .all(|(a, b)| a == b.as_ref())
    {
        return Ok(metadata);
    }
    let schema = Schema::new_with_metadata(fields, file.schema().metadata().clone());
    ArrowReaderMetadata::try_new(
        metadata.metadata().clone(),
        ArrowReaderOptions::new().with_schema(std::sync::Arc::new(schema)),
    )
    .map_err(|e| parquet_err(path, None, e))
}

/// Checks the column chunk ranges of the footer before the parquet
/// crate's reader trusts them: it asserts that a chunk's start and length
/// are not negative (a panic on a corrupted footer, found by the reader
/// fuzz test, `tests/it/fuzz.rs`), and a chunk reaching past the end of the
/// file cannot be read anyway.
fn check_column_chunks(
    path: &Path,
    metadata: &parquet::file::metadata::ParquetMetaData,
    file_len: u64,
) -> Result<()> {
    for (g, rg) in metadata.row_groups().iter().enumerate() {
        if rg.num_rows() < 0 {
            return Err(Error::format(
                path,
                Some(format!("row group {g}")),
                format!("corrupt footer: {} rows", rg.num_rows()),
            ));
        }
        for c in rg.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let len = c.compressed_size();
            let inside = u64::try_from(start)
                .ok()
                .zip(u64::try_from(len).ok())
                .and_then(|(s, l)| s.checked_add(l))
                .is_some_and(|end| end <= file_len);
            if !inside {
                return Err(Error::format(
                    path,
                    Some(format!("row group {g}, column '{}'", c.column_path())),
                    format!(
                        "corrupt footer: a column chunk of {len} bytes at offset {start} \
                         in a file of {file_len} bytes"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A reader (local or remote) of the rows of `split` in chunks of
/// `chunk_rows`, decoding the columns of `mask` (`None`: all) of the rows
/// `filter` keeps.
fn configure<T>(
    builder: ArrowReaderBuilder<T>,
    split: Split,
    chunk_rows: usize,
    mask: Option<ProjectionMask>,
    filter: Option<RowFilter>,
) -> ArrowReaderBuilder<T> {
    let mut builder = builder
        .with_row_groups(vec![split.row_group])
        .with_batch_size(chunk_rows);
    if !split.whole {
        // The pages before the range are skipped by their headers' row
        // counts, without decompressing them.
        builder = builder.with_row_selection(RowSelection::from(vec![
            RowSelector::skip(split.offset),
            RowSelector::select(split.rows),
        ]));
    }
    if let Some(mask) = mask {
        builder = builder.with_projection(mask);
    }
    if let Some(f) = filter {
        // Runs of rows, not a bit mask: the executor pushes filters where
        // the selection has few runs (see `read_partition_filtered`), where
        // skipping a run is cheap and a mask would decode every row.
        builder = builder
            .with_row_filter(f)
            .with_row_selection_policy(RowSelectionPolicy::Selectors);
    }
    builder
}

impl ChunkSource for ParquetSource {
    fn schema(&self) -> SchemaRef {
        self.metadata.schema().clone()
    }

    fn describe(&self) -> String {
        format!("parquet '{}'", self.path.display())
    }

    fn partition_count(&self) -> usize {
        self.splits.len()
    }

    fn read_partition(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
    ) -> Result<ChunkIter<'_>> {
        self.open_partition(index, projection, chunk_rows, &[])
    }

    /// Late materialization through arrow-rs' `RowFilter`: the filters'
    /// columns are decoded first and evaluated, then only the rows that
    /// pass are decoded of the projected columns, skipping the runs of rows
    /// that do not. A filter column that is also projected is decoded twice
    /// (the second time only where rows pass: the synchronous reader keeps
    /// no predicate cache). It pays when the passing rows form few runs
    /// (few or nearly all rows pass, or they are clustered) and costs when
    /// they are scattered through many short runs; the caller decides
    /// (`parframe_exec` measures the scan's selectivity as it goes).
    fn read_partition_filtered(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
        filters: &[Expr],
    ) -> Result<Option<ChunkIter<'_>>> {
        if projection.is_some_and(|p| p.is_empty()) {
            // Nothing to decode but the filters: the caller's own filter
            // over the filter columns does the same work.
            return Ok(None);
        }
        self.open_partition(index, projection, chunk_rows, filters)
            .map(Some)
    }

    fn partition_row_count(&self, index: usize) -> Option<u64> {
        self.splits.get(index).map(|s| s.rows as u64)
    }

    fn row_count_hint(&self) -> Option<u64> {
        u64::try_from(self.metadata.metadata().file_metadata().num_rows()).ok()
    }

    /// The row count, and per column the file's min and max (over its row
    /// groups' statistics) and null count, when every row group records
    /// them. Distinct counts are unknown (writers rarely record them).
    fn statistics(&self) -> Statistics {
        let num_rows = self
            .row_count_hint()
            .map_or(Precision::Unknown, Precision::Exact);
        let columns = self
            .schema()
            .fields()
            .iter()
            .map(|f| {
                let Some(st) = self.partition_column_statistics(f.name()) else {
                    return ColumnStatistics::default();
                };
                // A row group without a bound leaves the file's unknown.
                let bound = |a: &arrow_array::ArrayRef, max: bool| -> Option<ScalarValue> {
                    if a.null_count() > 0 || a.is_empty() {
                        return None;
                    }
                    let cmp =
                        arrow_ord::ord::make_comparator(a.as_ref(), a.as_ref(), Default::default())
                            .ok()?;
                    let mut idx = 0;
                    for i in 1..a.len() {
                        let o = cmp(i, idx);
                        if (max && o.is_gt()) || (!max && o.is_lt()) {
                            idx = i;
                        }
                    }
                    ScalarValue::try_from_array(a.as_ref(), idx).ok()
                };
                let nulls: Option<u64> = st.null_counts.iter().copied().sum();
                ColumnStatistics {
                    min: bound(&st.mins, false),
                    max: bound(&st.maxes, true),
                    null_count: nulls.map_or(Precision::Unknown, Precision::Exact),
                    distinct: Precision::Unknown,
                    source_distinct: Precision::Unknown,
                }
            })
            .collect();
        Statistics { num_rows, columns }
    }

    /// The row groups' min/max/null-count statistics of `column`, converted
    /// to the column's Arrow type by arrow-rs' `StatisticsConverter`. A null
    /// count the file does not record is unknown (not zero); a min or max
    /// it does not record is null.
    fn partition_column_statistics(&self, column: &str) -> Option<PartitionColumnStatistics> {
        let md = self.metadata.metadata();
        let conv = StatisticsConverter::try_new(
            column,
            self.metadata.schema(),
            self.metadata.parquet_schema(),
        )
        .ok()?
        .with_missing_null_counts_as_zero(false)
        .with_column_orders(md.file_metadata().column_orders().map(|v| v.as_slice()));
        let groups = md.row_groups();
        let mins = conv.row_group_mins(groups.iter()).ok()?;
        let maxes = conv.row_group_maxes(groups.iter()).ok()?;
        let nulls = conv.row_group_null_counts(groups.iter()).ok()?;
        // Per partition: a range has its row group's bounds (loose, still
        // bounds). Its null count is exact only when the row group's is
        // none or all of its rows.
        let of: arrow_array::UInt32Array = self.splits.iter().map(|s| s.row_group as u32).collect();
        let rg_rows = self.row_group_rows();
        let null_counts = self
            .splits
            .iter()
            .map(|s| {
                let n = nulls
                    .is_valid(s.row_group)
                    .then(|| nulls.value(s.row_group))?;
                match n {
                    0 => Some(0),
                    n if s.whole => Some(n),
                    n if Some(&n) == rg_rows.get(s.row_group) => Some(s.rows as u64),
                    _ => None,
                }
            })
            .collect();
        Some(PartitionColumnStatistics {
            mins: arrow_select::take::take(&mins, &of, None).ok()?,
            maxes: arrow_select::take::take(&maxes, &of, None).ok()?,
            null_counts,
            row_counts: self.splits.iter().map(|s| Some(s.rows as u64)).collect(),
        })
    }
}

/// The compression codec of a Parquet file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParquetCompression {
    /// Zstandard at the given level (1..=22; 3 is zstd's own default).
    Zstd(i32),
    /// Snappy: fast, larger files.
    Snappy,
    /// LZ4 (the `LZ4_RAW` codec of the Parquet format).
    Lz4,
    /// No compression.
    None,
}

impl Default for ParquetCompression {
    /// Zstd level 3: files about as small as gzip's, decoded nearly as fast
    /// as Snappy's (the default of polars and DuckDB too).
    fn default() -> Self {
        ParquetCompression::Zstd(3)
    }
}

/// How to write Parquet.
#[derive(Clone, Debug)]
pub struct ParquetWriteOptions {
    /// The codec; default [`ParquetCompression::Zstd`]`(3)`.
    pub compression: ParquetCompression,
    /// Rows per row group; default 262 144 (256 Ki). Row groups are the
    /// partitions of [`ParquetSource`], so this is also the grain of
    /// parallel reads; the writer holds one row group in memory.
    pub row_group_rows: usize,
}

impl Default for ParquetWriteOptions {
    fn default() -> Self {
        ParquetWriteOptions {
            compression: ParquetCompression::default(),
            row_group_rows: 256 * 1024,
        }
    }
}

impl ParquetWriteOptions {
    /// Sets the codec.
    pub fn compression(mut self, compression: ParquetCompression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets the rows per row group.
    pub fn row_group_rows(mut self, rows: usize) -> Self {
        self.row_group_rows = rows;
        self
    }

    fn properties(&self) -> Result<WriterProperties> {
        if self.row_group_rows == 0 {
            return Err(Error::InvalidArgument(
                "Parquet row_group_rows must be > 0".into(),
            ));
        }
        let compression = match self.compression {
            ParquetCompression::Zstd(level) => {
                let level = ZstdLevel::try_new(level)
                    .map_err(|e| Error::InvalidArgument(format!("zstd level {level}: {e}")))?;
                Compression::ZSTD(level)
            }
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Lz4 => Compression::LZ4_RAW,
            ParquetCompression::None => Compression::UNCOMPRESSED,
        };
        Ok(WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.row_group_rows))
            .build())
    }
}

/// Writes chunks to a Parquet file through parquet's `ArrowWriter`, with
/// the Arrow schema embedded so types such as `LargeUtf8` or timestamps
/// read back as written, and column statistics (min/max/null count per
/// row group and page) for readers to prune with. Written and committed as
/// every [`FileSink`] is (no partial file on error).
pub type ParquetSink = FileSink<ArrowWriter<SinkOutput>>;

/// The row group in progress: its encoded pages and encoder state.
impl crate::sink::EncoderMemory for ArrowWriter<SinkOutput> {
    fn encoder_bytes(&self) -> u64 {
        self.memory_size() as u64
    }

    /// Ends the row group in progress (a smaller row group, same file).
    fn flush_encoder(&mut self) -> std::result::Result<(), ArrowError> {
        self.flush().map_err(ArrowError::from)
    }

    fn encoded_bytes(&self) -> Option<u64> {
        Some(self.bytes_written() as u64)
    }
}

impl ParquetSink {
    /// Starts writing `path` (its directory must exist).
    pub fn try_new(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        options: ParquetWriteOptions,
    ) -> Result<ParquetSink> {
        let props = options.properties()?;
        let s = schema.clone();
        FileSink::create("Parquet", path.as_ref(), schema, move |out| {
            ArrowWriter::try_new(out, s, Some(props)).map_err(ArrowError::from)
        })
    }
}

/// Writes `table` to a Parquet file at `path` (see [`ParquetSink`]).
pub fn write_parquet(
    table: &Table,
    path: impl AsRef<Path>,
    options: &ParquetWriteOptions,
) -> Result<()> {
    let sink = ParquetSink::try_new(path, table.schema().clone(), options.clone())?;
    crate::write_table(table, Box::new(sink))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row once, in order, each row group's ranges about equal.
    fn check(rows: &[u64], splits: &[Split]) {
        let mut next = vec![0usize; rows.len()];
        for s in splits {
            assert_eq!(s.offset, next[s.row_group], "ranges in order, no gap");
            next[s.row_group] += s.rows;
        }
        let covered: Vec<u64> = next.iter().map(|&n| n as u64).collect();
        assert_eq!(covered, rows);
        for (g, &r) in rows.iter().enumerate() {
            let lens: Vec<usize> = splits
                .iter()
                .filter(|s| s.row_group == g)
                .map(|s| s.rows)
                .collect();
            let (lo, hi) = (lens.iter().min(), lens.iter().max());
            assert!(
                hi.zip(lo).is_some_and(|(h, l)| h - l <= 1),
                "{lens:?} of {r}"
            );
            assert_eq!(
                lens.len() == 1,
                splits.iter().any(|s| s.row_group == g && s.whole)
            );
        }
    }

    #[test]
    fn row_groups_split_into_ranges_of_at_most_max_rows() {
        let rows = [10u64, 3, 0, 7];
        let s = split_row_groups(&rows, Splitting::MaxRows(4));
        check(&rows, &s);
        let counts: Vec<usize> = (0..4)
            .map(|g| s.iter().filter(|x| x.row_group == g).count())
            .collect();
        assert_eq!(counts, [3, 1, 1, 2]);
    }

    #[test]
    fn auto_splits_only_files_of_few_row_groups() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Enough row groups: one partition each.
        let many = vec![1_000_000u64; 2 * cores];
        let s = split_row_groups(&many, Splitting::Auto);
        assert_eq!(s.len(), many.len());
        check(&many, &s);
        // One large row group: about two ranges per core.
        let one = [2_000_000u64 * cores as u64];
        let s = split_row_groups(&one, Splitting::Auto);
        assert_eq!(s.len(), 2 * cores);
        check(&one, &s);
        // A small one is not cut below MIN_SPLIT_ROWS.
        let small = [MIN_SPLIT_ROWS as u64 + 5];
        let s = split_row_groups(&small, Splitting::Auto);
        assert_eq!(s.len(), 1);
        check(&small, &s);
    }
}
