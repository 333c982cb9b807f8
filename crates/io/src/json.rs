//! Newline-delimited JSON (one object per line, `.ndjson` / `.jsonl` /
//! `.json`): [`JsonSource`] reads byte ranges of lines as partitions,
//! [`JsonSink`] writes chunks. Decoding, encoding and schema inference are
//! arrow-json's.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_json::writer::{LineDelimited, WriterBuilder};
use arrow_json::{LineDelimitedWriter, ReaderBuilder};
use arrow_schema::{ArrowError, Schema, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::{ChunkIter, ChunkSource, Table};

use crate::input::{Input, ReadSeek};
use crate::sink::{FileSink, SinkOutput};
use crate::util::{check_read_args, with_schema};

/// How to read newline-delimited JSON.
#[derive(Clone, Debug)]
pub struct JsonOptions {
    /// An explicit schema: no inference; fields of the file not in it are
    /// skipped. Default `None`.
    pub schema: Option<SchemaRef>,
    /// How many lines from the start are sampled to infer the schema;
    /// default 10 000. A field first seen after the sample is skipped; a
    /// value of another type than inferred is an error naming the file.
    pub infer_rows: usize,
    /// The target size in bytes of one partition; default 8 MiB.
    /// Boundaries move forward to the next line start (a JSON string
    /// cannot hold a raw newline, so every newline ends a record).
    pub partition_bytes: usize,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            schema: None,
            infer_rows: 10_000,
            partition_bytes: 8 << 20,
        }
    }
}

impl JsonOptions {
    /// Sets an explicit schema.
    pub fn schema(mut self, schema: SchemaRef) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Sets the number of lines sampled for the schema.
    pub fn infer_rows(mut self, rows: usize) -> Self {
        self.infer_rows = rows;
        self
    }

    /// Sets the target partition size in bytes.
    pub fn partition_bytes(mut self, bytes: usize) -> Self {
        self.partition_bytes = bytes;
        self
    }
}

/// A newline-delimited JSON file as a [`ChunkSource`]: the schema is
/// inferred from the first lines (or given), and the file is split into
/// byte ranges that start at line starts, each a partition decoded on its
/// own by arrow-json, only the projected fields.
#[derive(Debug)]
pub struct JsonSource {
    path: PathBuf,
    input: Input,
    schema: SchemaRef,
    ranges: Vec<(u64, u64)>,
}

impl JsonSource {
    /// Opens `path` (a path or a URL), infers its schema (unless given)
    /// and finds its partition boundaries. A missing file is
    /// [`Error::Io`], a line that is not JSON [`Error::Format`], both
    /// naming the path.
    pub fn try_new(path: impl AsRef<Path>, options: JsonOptions) -> Result<JsonSource> {
        if options.partition_bytes == 0 {
            return Err(Error::InvalidArgument(
                "JSON partition_bytes must be > 0".into(),
            ));
        }
        JsonSource::from_input(Input::open(path.as_ref())?, options)
    }

    pub(crate) fn from_input(input: Input, options: JsonOptions) -> Result<JsonSource> {
        let path = input.path().to_path_buf();
        let io = |e| Error::io(&path, e);
        let mut file = input.open_seekable()?;
        let len = input.len()?;
        let schema = match options.schema {
            Some(s) => s,
            None => {
                let (schema, _) = arrow_json::reader::infer_json_schema(
                    BufReader::new(&mut file),
                    Some(options.infer_rows.max(1)),
                )
                .map_err(|e| json_err(&path, None, e))?;
                file.seek(SeekFrom::Start(0)).map_err(io)?;
                let mut first = Vec::new();
                BufReader::new(&mut file)
                    .take(1 << 20)
                    .read_until(b'\n', &mut first)
                    .map_err(io)?;
                Arc::new(in_file_order(schema, &String::from_utf8_lossy(&first)))
            }
        };
        let ranges = line_ranges(&mut file, len, options.partition_bytes as u64).map_err(io)?;
        Ok(JsonSource {
            path,
            input,
            schema,
            ranges,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn json_err(path: &Path, location: Option<String>, e: ArrowError) -> Error {
    match e {
        ArrowError::IoError(_, source) => Error::io(path, source),
        other => Error::format(path, location, other.to_string()),
    }
}

/// `schema` (inferred by arrow-json, whose `serde_json` maps sort keys by
/// name: its `preserve_order` feature is off in this build) with its
/// fields in the order their keys first appear in `first_line`; keys it
/// lacks, or whose name needs escaping, keep their order after those. A
/// key inside a nested object can only move a field earlier among fields
/// that all appear in the line, never change a value.
fn in_file_order(schema: Schema, first_line: &str) -> Schema {
    let pos = |name: &str| -> usize {
        if name.contains(['"', '\\']) || name.chars().any(char::is_control) {
            return usize::MAX;
        }
        first_line
            .find(&format!("\"{name}\""))
            .unwrap_or(usize::MAX)
    };
    let mut fields: Vec<(usize, usize, arrow_schema::FieldRef)> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| (pos(f.name()), i, f.clone()))
        .collect();
    fields.sort_by_key(|(p, i, _)| (*p, *i));
    Schema::new_with_metadata(
        fields.into_iter().map(|(_, _, f)| f).collect::<Vec<_>>(),
        schema.metadata().clone(),
    )
}

/// Byte ranges of about `target` bytes covering `0..len`, each starting at
/// a line start.
fn line_ranges(file: &mut dyn ReadSeek, len: u64, target: u64) -> std::io::Result<Vec<(u64, u64)>> {
    let mut starts = vec![0u64];
    let mut buf = Vec::new();
    loop {
        let last = starts.last().copied().unwrap_or(0);
        let probe = last.saturating_add(target);
        if probe >= len {
            break;
        }
        file.seek(SeekFrom::Start(probe))?;
        buf.clear();
        // The rest of the line holding `probe`: bounded by one line.
        BufReader::new(&mut *file).read_until(b'\n', &mut buf)?;
        let next = probe + buf.len() as u64;
        if next >= len {
            break;
        }
        starts.push(next);
    }
    if len == 0 {
        return Ok(Vec::new());
    }
    let mut ranges: Vec<(u64, u64)> = starts.windows(2).map(|w| (w[0], w[1])).collect();
    ranges.push((starts.last().copied().unwrap_or(0), len));
    Ok(ranges)
}

impl ChunkSource for JsonSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn describe(&self) -> String {
        format!("json '{}'", self.path.display())
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
        let (start, end) = self.ranges[index];
        let location = Some(format!("bytes {start}..{end}"));
        let input = BufReader::with_capacity(1 << 16, self.input.open_range(start, end)?);
        // No column asked: decode the first one to count rows, then drop it.
        let count_only = out_schema.fields().is_empty();
        let decode_schema = match (count_only, self.schema.fields().first()) {
            (true, Some(f)) => Arc::new(Schema::new(vec![f.as_ref().clone()])),
            _ => out_schema.clone(),
        };
        let reader = ReaderBuilder::new(decode_schema)
            .with_batch_size(chunk_rows)
            .build(input)
            .map_err(|e| json_err(&self.path, location.clone(), e))?;
        let path = self.path.clone();
        Ok(Box::new(reader.map(move |b| {
            let b = b.map_err(|e| json_err(&path, location.clone(), e))?;
            if count_only {
                return Ok(RecordBatch::try_new_with_options(
                    out_schema.clone(),
                    vec![],
                    &RecordBatchOptions::new().with_row_count(Some(b.num_rows())),
                )?);
            }
            with_schema(b, &out_schema)
        })))
    }
}

/// How to write newline-delimited JSON.
#[derive(Clone, Debug, Default)]
pub struct JsonWriteOptions {
    /// Whether null values are written as `"key":null`; default `false`:
    /// the key is left out (arrow-json's default, and what the CLI's JSON
    /// output has always been). JSON has no NaN or infinity: such float
    /// values are written as null.
    pub explicit_nulls: bool,
}

impl JsonWriteOptions {
    /// Says whether nulls are written as `"key":null`.
    pub fn explicit_nulls(mut self, explicit: bool) -> Self {
        self.explicit_nulls = explicit;
        self
    }
}

/// Writes chunks to a newline-delimited JSON file (one object per row)
/// through arrow-json; written and committed as every [`FileSink`] is (no
/// partial file on error).
pub type JsonSink = FileSink<LineDelimitedWriter<SinkOutput>>;

/// Writes each batch through.
impl crate::sink::EncoderMemory for LineDelimitedWriter<SinkOutput> {}

impl JsonSink {
    /// Starts writing `path` (its directory must exist).
    pub fn try_new(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        options: JsonWriteOptions,
    ) -> Result<JsonSink> {
        FileSink::create("JSON", path.as_ref(), schema, move |out| {
            Ok(WriterBuilder::new()
                .with_explicit_nulls(options.explicit_nulls)
                .build::<_, LineDelimited>(out))
        })
    }
}

/// Writes `table` to a newline-delimited JSON file at `path` (see
/// [`JsonSink`]).
pub fn write_json(table: &Table, path: impl AsRef<Path>, options: &JsonWriteOptions) -> Result<()> {
    let sink = JsonSink::try_new(path, table.schema().clone(), options.clone())?;
    crate::write_table(table, Box::new(sink))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn ranges_start_at_line_starts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ndjson");
        let text: String = (0..100).map(|i| format!("{{\"a\":{i}}}\n")).collect();
        std::fs::write(&p, &text).unwrap();
        let mut f = std::fs::File::open(&p).unwrap();
        let r = line_ranges(&mut f, text.len() as u64, 50).unwrap();
        assert!(r.len() > 5, "{r:?}");
        assert_eq!(r[0].0, 0);
        assert_eq!(r.last().unwrap().1, text.len() as u64);
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0);
            assert_eq!(text.as_bytes()[w[1].0 as usize - 1], b'\n');
        }
        let src = JsonSource::try_new(&p, JsonOptions::default().partition_bytes(50)).unwrap();
        let t = crate::read_all(&src, None, 7).unwrap();
        assert_eq!(t.num_rows(), 100);
        let counted = crate::read_all(&src, Some(&[]), 7).unwrap();
        assert_eq!(counted.num_rows(), 100);
    }
}
