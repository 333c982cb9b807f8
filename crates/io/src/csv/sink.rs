//! [`CsvSink`]: writes chunks as CSV text.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parframe_common::{Error, Result};
use parframe_core::{ChunkSink, Table};

use super::encode::CsvWriter;
use crate::util::{OutputFile, conform_to_sink};

/// How to write CSV.
#[derive(Clone, Debug)]
pub struct CsvWriteOptions {
    /// The field delimiter; default `b','`.
    pub delimiter: u8,
    /// Whether to write a header line with the column names; default `true`.
    pub header: bool,
}

impl Default for CsvWriteOptions {
    fn default() -> Self {
        CsvWriteOptions {
            delimiter: b',',
            header: true,
        }
    }
}

impl CsvWriteOptions {
    /// Sets the field delimiter.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Says whether to write a header line.
    pub fn header(mut self, header: bool) -> Self {
        self.header = header;
        self
    }
}

/// Writes chunks to a CSV file. Nulls are written as empty fields and
/// empty strings as `""` (so they read back as different values), other
/// fields are quoted only when needed, dates and timestamps in ISO 8601
/// (see [`CsvWriter`]). The header is written even when no row is.
///
/// The data goes to a fresh temporary file in the target's directory
/// (a unique name, created exclusively: see the crate docs), renamed onto
/// the target by [`ChunkSink::finish`]; on an error, or when the sink is
/// dropped without `finish`, the temporary file is removed: a failed job
/// never leaves a partial file at the target path (and an existing target
/// stays as it was). A target that is not a regular file (a device, a
/// FIFO, `/dev/stdout`) is written directly.
pub struct CsvSink {
    schema: SchemaRef,
    target: PathBuf,
    /// The writer, then the temporary file: dropped in that order.
    state: Option<(CsvWriter<BufWriter<File>>, OutputFile)>,
}

impl std::fmt::Debug for CsvSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSink")
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish()
    }
}

impl CsvSink {
    /// Starts writing `path` (its directory must exist).
    pub fn try_new(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        options: CsvWriteOptions,
    ) -> Result<CsvSink> {
        let (temp, file) = OutputFile::create(path.as_ref())?;
        let writer = CsvWriter::new(
            BufWriter::with_capacity(1 << 17, file),
            schema.clone(),
            options.delimiter,
            options.header,
        );
        Ok(CsvSink {
            schema,
            target: path.as_ref().to_path_buf(),
            state: Some((writer, temp)),
        })
    }

    fn failed(&self) -> Error {
        Error::InvalidArgument(format!(
            "the CSV sink for '{}' failed earlier; nothing more can be written",
            self.target.display()
        ))
    }

    fn map_err(&self, e: arrow_schema::ArrowError) -> Error {
        match e {
            arrow_schema::ArrowError::IoError(_, source) => Error::io(&self.target, source),
            other => Error::format(&self.target, None, other.to_string()),
        }
    }
}

impl ChunkSink for CsvSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = conform_to_sink(batch, &self.schema, &self.target)?;
        let Some((writer, _)) = self.state.as_mut() else {
            return Err(self.failed());
        };
        if let Err(e) = writer.write(&batch) {
            self.state = None;
            return Err(self.map_err(e));
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let Some((writer, temp)) = self.state.take() else {
            return Err(self.failed());
        };
        let mut buf = writer.finish().map_err(|e| self.map_err(e))?;
        buf.flush().map_err(|e| Error::io(temp.target(), e))?;
        drop(buf);
        temp.commit()
    }
}

/// Writes `table` to a CSV file at `path` (see [`CsvSink`]).
pub fn write_csv(table: &Table, path: impl AsRef<Path>, options: &CsvWriteOptions) -> Result<()> {
    let sink = CsvSink::try_new(path, table.schema().clone(), options.clone())?;
    crate::write_table(table, Box::new(sink))
}
