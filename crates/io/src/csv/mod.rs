//! CSV: [`CsvSource`] reads a file as byte-range partitions, [`CsvSink`]
//! writes chunks.

mod encode;
mod infer;
mod locate;
mod sink;
mod split;

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_cast::CastOptions;
use arrow_csv::ReaderBuilder;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parframe_common::{Error, Result};
use parframe_core::{ChunkIter, ChunkSource};

use crate::input::Input;
use crate::util::{check_read_args, with_schema};

/// The most fields (rows x the file's columns) one decoded batch holds.
/// arrow-csv's tokenizer sizes its buffers for a whole batch of every
/// column of the file, whatever the projection: 8 bytes of offsets plus an
/// estimated 8 bytes of text per field. Capping the fields bounds those
/// buffers at about 16 MiB (plus the text itself) per partition being read,
/// so a file with 10,000 columns reads in batches of 104 rows instead of
/// asking for gigabytes.
pub(crate) const MAX_FIELDS_PER_BATCH: usize = 1 << 20;

/// The batch size for a file of `columns` columns: `rows`, or fewer so that
/// a batch has at most [`MAX_FIELDS_PER_BATCH`] fields.
pub(crate) fn batch_rows(rows: usize, columns: usize) -> usize {
    rows.min(MAX_FIELDS_PER_BATCH / columns.max(1)).max(1)
}
use locate::{ErrCtx, map_csv_error};

pub use encode::CsvWriter;
pub use sink::{CsvSink, CsvWriteOptions, write_csv};

/// How to read a CSV file. Build it from [`CsvOptions::default`]:
///
/// ```
/// use parframe_io::CsvOptions;
///
/// let opts = CsvOptions::default().delimiter(b';').has_header(true);
/// assert_eq!(opts.delimiter, b';');
/// ```
#[derive(Clone, Debug)]
pub struct CsvOptions {
    /// Whether the first line is a header. `None` (the default) detects it:
    /// the first line is a header when its fields are all non-null (neither
    /// empty nor a null value) and either one of them is not a number and
    /// does not parse as the type inferred for its column from the
    /// following sample rows (or, with an explicit schema, as the schema's
    /// type; a first line equal to the schema's column names is a header
    /// too), or none of them is a number and they are all distinct (so
    /// `carrier,name` over text columns is a header). A file of one line is
    /// a header when none of its fields is a number. So `id,name` over
    /// `1,ann` is a header, and so is `a,b` over `x,y`: pass
    /// `has_header(false)` for a file of text rows without a header.
    /// Header names are made unique (`a,a` becomes `a, a_1`; an empty name
    /// `column_<i>`).
    pub has_header: Option<bool>,
    /// The field delimiter; default `b','`.
    pub delimiter: u8,
    /// The quote character; default `b'"'`.
    pub quote: u8,
    /// An explicit schema: no type inference (the header, if any, is skipped
    /// and the schema's names are used). Default `None`. With both a schema
    /// and `has_header` given, opening the source reads no data.
    pub schema: Option<SchemaRef>,
    /// Types that replace the inferred (or explicit) types of the named
    /// columns. A name that is not a column is an error.
    pub schema_overrides: Vec<(String, DataType)>,
    /// How many rows from the start of the file are sampled to infer the
    /// schema; default 1000 (`usize::MAX` samples the whole file). Columns
    /// with no value in the sample are read as `Utf8`.
    pub infer_rows: usize,
    /// Field values read as null, besides the empty field, which is always
    /// null. Default: none, so `NA` or `null` are ordinary strings (and make
    /// a numeric column `Utf8`); e.g. `null_values(["NA"])` changes that.
    pub null_values: Vec<String>,
    /// The target size in bytes of one partition; default 8 MiB. Partition
    /// boundaries are moved forward to the next line start.
    pub partition_bytes: usize,
    /// Whether the file is split into several partitions; default `true`.
    /// Partitions start at record starts: newlines inside quoted fields are
    /// found by one sequential pass over the file when it is opened (see
    /// the `split` module), so parallel reads equal sequential ones.
    pub parallel: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            has_header: None,
            delimiter: b',',
            quote: b'"',
            schema: None,
            schema_overrides: Vec::new(),
            infer_rows: 1000,
            null_values: Vec::new(),
            partition_bytes: 8 << 20,
            parallel: true,
        }
    }
}

impl CsvOptions {
    /// Says whether the first line is a header (instead of detecting it).
    pub fn has_header(mut self, has_header: bool) -> Self {
        self.has_header = Some(has_header);
        self
    }

    /// Sets the field delimiter.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets the quote character.
    pub fn quote(mut self, quote: u8) -> Self {
        self.quote = quote;
        self
    }

    /// Gives the schema explicitly (no inference).
    pub fn schema(mut self, schema: SchemaRef) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Reads column `name` as `data_type` whatever inference decides.
    pub fn schema_override(mut self, name: impl Into<String>, data_type: DataType) -> Self {
        self.schema_overrides.push((name.into(), data_type));
        self
    }

    /// Sets how many rows are sampled for inference.
    pub fn infer_rows(mut self, rows: usize) -> Self {
        self.infer_rows = rows;
        self
    }

    /// Sets the values read as null (besides the empty field).
    pub fn null_values<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.null_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the target partition size in bytes.
    pub fn partition_bytes(mut self, bytes: usize) -> Self {
        self.partition_bytes = bytes;
        self
    }

    /// Says whether to split the file into several partitions.
    pub fn parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }
}

/// A CSV file as a [`ChunkSource`]: the schema is inferred (or given) once,
/// and the file is split into byte ranges that start at line starts, each a
/// partition read on its own (through a bounded reader over its range,
/// never the whole file).
///
/// Decoding errors are [`Error::Format`] naming the file, the absolute
/// 1-based line and the column: `line 17, column 'price'`.
#[derive(Debug)]
pub struct CsvSource {
    path: PathBuf,
    input: Input,
    options: CsvOptions,
    schema: SchemaRef,
    has_header: bool,
    ranges: Vec<(u64, u64)>,
}

impl CsvSource {
    /// Opens `path` (a path or a URL: `s3://bucket/x.csv`), infers its
    /// schema and plans its partitions. A missing file is [`Error::Io`]
    /// naming it.
    ///
    /// Planning reads the file once from start to end (to find record
    /// starts outside quotes; see [`CsvOptions::parallel`]); for a URL that
    /// is a streamed download in blocks of at most
    /// [`REMOTE_BLOCK_MAX`](crate::REMOTE_BLOCK_MAX) bytes (never the whole
    /// object in memory), which `parallel(false)` saves.
    pub fn try_new(path: impl AsRef<Path>, options: CsvOptions) -> Result<CsvSource> {
        if options.partition_bytes == 0 {
            return Err(Error::InvalidArgument(
                "CSV partition_bytes must be > 0".into(),
            ));
        }
        CsvSource::from_input(Input::open(path.as_ref())?, options)
    }

    pub(crate) fn from_input(input: Input, options: CsvOptions) -> Result<CsvSource> {
        let path = input.path().to_path_buf();
        let len = input.len()?;
        let inferred = infer::infer(&input, len, &options)?;
        for f in inferred.schema.fields() {
            if !readable_type(f.data_type()) {
                return Err(Error::NotSupported(format!(
                    "reading CSV column '{}' as {}",
                    f.name(),
                    f.data_type()
                )));
            }
        }
        let ranges = plan_ranges(&input, len, &options)?;
        Ok(CsvSource {
            path,
            input,
            options,
            schema: inferred.schema,
            has_header: inferred.has_header,
            ranges,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the first line is read as a header (as given or detected).
    pub fn has_header(&self) -> bool {
        self.has_header
    }

    /// The options the source was opened with.
    pub fn options(&self) -> &CsvOptions {
        &self.options
    }

    /// The byte range `(start, end)` of each partition.
    pub fn partition_ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }
}

impl CsvSource {
    /// A value that does not parse as its column's *inferred* type (the
    /// column changes type after the rows sampled) gets the two ways out:
    /// sample more rows, or give the type.
    fn explain_type_error(&self, e: Error) -> Error {
        match e {
            Error::Format {
                path,
                location,
                message,
            } if message.starts_with("cannot parse '") => {
                let column = location
                    .as_deref()
                    .and_then(|l| l.split_once("column '"))
                    .and_then(|(_, c)| c.strip_suffix('\''))
                    .unwrap_or("<column>");
                let overridden = self
                    .options
                    .schema_overrides
                    .iter()
                    .any(|(n, _)| n == column);
                let message = if self.options.schema.is_some() || overridden {
                    message
                } else {
                    format!(
                        "{message}; the type was inferred from the first {} rows: sample more \
                         rows (CsvOptions::infer_rows; SQL read_csv(..., sample_size=N); CLI \
                         --infer-rows N, 0 for the whole file) or give the column's type \
                         (CsvOptions::schema_override(\"{column}\", DataType::Utf8); CLI \
                         --csv-type {column}=utf8)",
                        self.options.infer_rows
                    )
                };
                Error::Format {
                    path,
                    location,
                    message,
                }
            }
            other => other,
        }
    }
}

/// Whether a column of type `t` can be read from CSV text.
fn readable_type(t: &DataType) -> bool {
    arrow_cast::can_cast_types(&DataType::Utf8, t)
}

/// Whether arrow-csv decodes type `t` itself (other types are read as text
/// and cast).
fn decoded_natively(t: &DataType) -> bool {
    use DataType::*;
    match t {
        Boolean
        | Int8
        | Int16
        | Int32
        | Int64
        | UInt8
        | UInt16
        | UInt32
        | UInt64
        | Float16
        | Float32
        | Float64
        | Date32
        | Date64
        | Utf8
        | Utf8View
        | Null
        | Timestamp(_, _) => true,
        Time32(u) => matches!(u, TimeUnit::Second | TimeUnit::Millisecond),
        Time64(u) => matches!(u, TimeUnit::Microsecond | TimeUnit::Nanosecond),
        _ => false,
    }
}

/// Splits `[0, len)` into ranges of about `partition_bytes`, each boundary
/// moved to the start of the next record (never inside a quoted field:
/// see [`split`]).
fn plan_ranges(input: &Input, len: u64, options: &CsvOptions) -> Result<Vec<(u64, u64)>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let path = input.path();
    let starts = if options.parallel && len > options.partition_bytes as u64 {
        split::range_starts(
            &mut input.open_range(0, len)?,
            len,
            options.partition_bytes as u64,
            options.delimiter,
            options.quote,
        )
        .map_err(|e| Error::io(path, e))?
    } else {
        vec![0]
    };
    let mut ranges: Vec<(u64, u64)> = starts.windows(2).map(|w| (w[0], w[1])).collect();
    if let Some(&last) = starts.last() {
        ranges.push((last, len));
    }
    Ok(ranges)
}

impl ChunkSource for CsvSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn describe(&self) -> String {
        format!("csv '{}'", self.path.display())
    }

    fn partition_count(&self) -> usize {
        self.ranges.len()
    }

    fn read_partition(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
    ) -> Result<ChunkIter<'_>> {
        let out_schema = check_read_args(
            &self.describe(),
            &self.schema,
            index,
            self.ranges.len(),
            projection,
            chunk_rows,
        )?;
        let n = self.schema.fields().len();
        if n == 0 {
            return Ok(Box::new(std::iter::empty()));
        }
        let proj: Vec<usize> = match projection {
            Some(p) => p.to_vec(),
            None => (0..n).collect(),
        };
        let tokens = self.options.null_values.iter().any(|t| !t.is_empty());
        // Columns arrow-csv cannot decode (or must see null tokens in) are
        // read as text and converted here.
        let read_fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| {
                if tokens || !decoded_natively(f.data_type()) {
                    Field::new(f.name(), DataType::Utf8, true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        let read_schema = Arc::new(Schema::new(read_fields));
        // With no column asked for, the first is decoded as text just to
        // count rows.
        let read_proj = if proj.is_empty() {
            vec![0]
        } else {
            proj.clone()
        };
        let convert: Vec<bool> = read_proj
            .iter()
            .map(|&c| {
                !proj.is_empty()
                    && (tokens
                        || read_schema.field(c).data_type() != self.schema.field(c).data_type())
            })
            .collect();
        let (start, end) = self.ranges[index];
        let bounded = BufReader::with_capacity(1 << 17, self.input.open_range(start, end)?);
        let header_here = index == 0 && self.has_header;
        let reader = ReaderBuilder::new(read_schema)
            .with_header(header_here)
            .with_delimiter(self.options.delimiter)
            .with_quote(self.options.quote)
            .with_batch_size(batch_rows(chunk_rows, self.schema.fields().len()))
            .with_projection(read_proj.clone())
            .build_buffered(bounded)?;
        Ok(Box::new(CsvChunks {
            src: self,
            names: self
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            reader,
            out_schema,
            proj: read_proj,
            convert,
            zero_columns: proj.is_empty(),
            start,
            end,
            header_here,
            rows_done: 0,
            finished: false,
        }))
    }
}

/// The chunks of one CSV partition.
struct CsvChunks<'a> {
    src: &'a CsvSource,
    names: Vec<String>,
    reader: arrow_csv::reader::BufReader<BufReader<Box<dyn Read + Send>>>,
    out_schema: SchemaRef,
    /// Schema index of each decoded column.
    proj: Vec<usize>,
    /// Whether each decoded column is text to convert to its schema type.
    convert: Vec<bool>,
    zero_columns: bool,
    start: u64,
    end: u64,
    header_here: bool,
    /// Data rows returned so far.
    rows_done: u64,
    finished: bool,
}

impl CsvChunks<'_> {
    fn ctx(&self) -> ErrCtx<'_> {
        ErrCtx {
            path: &self.src.path,
            input: &self.src.input,
            names: &self.names,
            start: self.start,
            end: self.end,
            header_here: self.header_here,
            quote: self.src.options.quote,
        }
    }

    fn finish_batch(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        if self.zero_columns {
            return Ok(RecordBatch::try_new_with_options(
                self.out_schema.clone(),
                vec![],
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )?);
        }
        if !self.convert.iter().any(|&c| c) {
            return with_schema(batch, &self.out_schema);
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for (j, col) in batch.columns().iter().enumerate() {
            if !self.convert[j] {
                columns.push(col.clone());
                continue;
            }
            let target = self.out_schema.field(j).data_type();
            let text =
                infer::apply_null_tokens(col.as_string::<i32>(), &self.src.options.null_values);
            columns.push(self.cast_column(&text, target, self.proj[j])?);
        }
        Ok(RecordBatch::try_new_with_options(
            self.out_schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    }

    /// Casts text to `target`; a value that does not parse is an error at
    /// its line and column.
    fn cast_column(
        &self,
        text: &arrow_array::StringArray,
        target: &DataType,
        column: usize,
    ) -> Result<ArrayRef> {
        match target {
            DataType::Utf8 => return Ok(Arc::new(text.clone())),
            DataType::Null => return Ok(arrow_array::new_null_array(target, text.len())),
            _ => {}
        }
        let opts = CastOptions {
            safe: true,
            ..Default::default()
        };
        let out = arrow_cast::cast_with_options(text, target, &opts)?;
        if out.null_count() != text.null_count()
            && let Some(i) = (0..text.len()).find(|&i| text.is_valid(i) && out.is_null(i))
        {
            return Err(self.ctx().at_row(
                self.rows_done + i as u64,
                Some(column),
                format!("cannot parse '{}' as {target}", text.value(i)),
            ));
        }
        Ok(out)
    }
}

impl Iterator for CsvChunks<'_> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = match self.reader.next()? {
            Ok(batch) => {
                let rows = batch.num_rows() as u64;
                let out = self.finish_batch(batch);
                self.rows_done += rows;
                out
            }
            Err(e) => Err(map_csv_error(&self.ctx(), e)),
        };
        let item = item.map_err(|e| self.src.explain_type_error(e));
        if item.is_err() {
            self.finished = true;
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn ranges_start_at_lines() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..100).map(|i| format!("{i},row{i}\n")).collect();
        let p = write(&dir, "a.csv", &text);
        let src = CsvSource::try_new(&p, CsvOptions::default().partition_bytes(50)).unwrap();
        let ranges = src.partition_ranges();
        assert!(ranges.len() > 5);
        assert_eq!(ranges[0].0, 0);
        assert_eq!(ranges.last().unwrap().1, text.len() as u64);
        let bytes = text.as_bytes();
        for w in ranges.windows(2) {
            assert_eq!(w[0].1, w[1].0);
            assert_eq!(bytes[w[1].0 as usize - 1], b'\n');
        }
        let one = CsvSource::try_new(&p, CsvOptions::default().parallel(false)).unwrap();
        assert_eq!(one.partition_count(), 1);
    }

    #[test]
    fn header_detected_and_types() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "a.csv", "id,price,name\n1,2.5,x\n2,,y\n");
        let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
        assert!(src.has_header());
        let s = src.schema();
        assert_eq!(s.field(0).name(), "id");
        assert_eq!(s.field(0).data_type(), &DataType::Int64);
        assert_eq!(s.field(1).data_type(), &DataType::Float64);
        assert_eq!(s.field(2).data_type(), &DataType::Utf8);
    }

    #[test]
    fn empty_file_needs_schema() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "e.csv", "");
        let e = CsvSource::try_new(&p, CsvOptions::default()).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{e}");
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let src = CsvSource::try_new(&p, CsvOptions::default().schema(schema)).unwrap();
        assert_eq!(src.partition_count(), 0);
    }

    #[test]
    fn zero_column_projection_counts_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "a.csv", "a,b\n1,x\n2,y\n3,z\n");
        let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
        let batches: Vec<RecordBatch> = src
            .read_partition(0, Some(&[]), 2)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 3);
        assert!(batches.iter().all(|b| b.num_columns() == 0));
    }
}
