//! [`CsvSink`]: writes chunks as CSV text.

use std::path::Path;

use arrow_schema::SchemaRef;
use parframe_common::Result;
use parframe_core::Table;

use super::encode::CsvWriter;
use crate::sink::{FileSink, SinkOutput};

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

/// Writes chunks to a CSV file through [`CsvWriter`]: nulls are written as
/// empty fields and empty strings as `""` (so they read back as different
/// values), other fields are quoted only when needed, dates and timestamps
/// in ISO 8601. The header is written even when no row is. The file is
/// written and committed as every [`FileSink`] is (no partial file on
/// error).
pub type CsvSink = FileSink<CsvWriter<SinkOutput>>;

/// Writes each batch through.
impl crate::sink::EncoderMemory for CsvWriter<SinkOutput> {}

impl CsvSink {
    /// Starts writing `path` (its directory must exist).
    pub fn try_new(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        options: CsvWriteOptions,
    ) -> Result<CsvSink> {
        let s = schema.clone();
        FileSink::create("CSV", path.as_ref(), schema, move |out| {
            Ok(CsvWriter::new(out, s, options.delimiter, options.header))
        })
    }
}

/// Writes `table` to a CSV file at `path` (see [`CsvSink`]).
pub fn write_csv(table: &Table, path: impl AsRef<Path>, options: &CsvWriteOptions) -> Result<()> {
    let sink = CsvSink::try_new(path, table.schema().clone(), options.clone())?;
    crate::write_table(table, Box::new(sink))
}
