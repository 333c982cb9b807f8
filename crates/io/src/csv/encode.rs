//! [`CsvWriter`]: CSV text from Arrow chunks, telling empty strings from
//! nulls.
//!
//! arrow-csv's writer (and the `csv` crate under it) writes a null and an
//! empty string both as an empty field, so a round trip through CSV (ours,
//! DuckDB's, polars') turns `''` into NULL. Neither has an option to quote
//! only empty strings, so records are written here by hand: values are
//! formatted by arrow's [`ArrayFormatter`] (the same text arrow-csv writes:
//! ISO 8601 dates and timestamps), a null is an empty field, an empty
//! string is `""`, and a field is quoted (inner quotes doubled) when it
//! holds the delimiter, a quote, `\r` or `\n`. A record of one null field
//! is written `""` as well (an empty line would be skipped by readers, and
//! the row lost), so a one-column file cannot tell its nulls from `''`.

use std::io::Write;

use arrow_array::{Array, RecordBatch, RecordBatchWriter};
use arrow_buffer::NullBuffer;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{ArrowError, DataType, SchemaRef};

/// Writes chunks as CSV text to `W`; a header line with the column names
/// first (unless turned off), written by [`finish`](Self::finish) even
/// when no chunk came.
///
/// ```
/// use std::sync::Arc;
/// use parframe_io::CsvWriter;
/// use arrow_array::{Int64Array, RecordBatch, StringArray};
///
/// let b = RecordBatch::try_from_iter([
///     ("s", Arc::new(StringArray::from(vec![Some(""), None, Some("a,b")])) as _),
///     ("n", Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as _),
/// ])?;
/// let mut w = CsvWriter::new(Vec::new(), b.schema(), b',', true);
/// w.write(&b)?;
/// assert_eq!(w.finish()?, b"s,n\n\"\",1\n,\n\"a,b\",3\n");
/// # Ok::<(), arrow_schema::ArrowError>(())
/// ```
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    out: W,
    schema: SchemaRef,
    delimiter: u8,
    header_due: bool,
    line: Vec<u8>,
    field: String,
}

impl<W: Write> CsvWriter<W> {
    /// A writer of chunks of `schema` to `out`.
    pub fn new(out: W, schema: SchemaRef, delimiter: u8, header: bool) -> Self {
        CsvWriter {
            out,
            schema,
            delimiter,
            header_due: header,
            line: Vec::with_capacity(1024),
            field: String::new(),
        }
    }

    fn header(&mut self) -> Result<(), ArrowError> {
        if !self.header_due {
            return Ok(());
        }
        self.header_due = false;
        self.line.clear();
        let schema = self.schema.clone();
        for (i, f) in schema.fields().iter().enumerate() {
            if i > 0 {
                self.line.push(self.delimiter);
            }
            push_field(&mut self.line, f.name(), self.delimiter, true);
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        Ok(())
    }

    /// Writes the rows of `batch`.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        self.header()?;
        let options = FormatOptions::default().with_null("");
        let columns = batch.columns();
        let formatters = columns
            .iter()
            .map(|a| {
                if a.data_type().is_nested() {
                    Err(ArrowError::CsvError(format!(
                        "a column of type {} cannot be written as CSV",
                        a.data_type()
                    )))
                } else {
                    ArrayFormatter::try_new(a.as_ref(), &options)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let text: Vec<bool> = columns
            .iter()
            .map(|a| {
                matches!(
                    a.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
            })
            .collect();
        let nulls: Vec<Option<NullBuffer>> = columns.iter().map(|a| a.logical_nulls()).collect();
        let one = columns.len() == 1;
        self.line.clear();
        for row in 0..batch.num_rows() {
            for (c, f) in formatters.iter().enumerate() {
                if c > 0 {
                    self.line.push(self.delimiter);
                }
                if nulls[c].as_ref().is_some_and(|n| n.is_null(row)) {
                    if one {
                        self.line.extend_from_slice(b"\"\"");
                    }
                    continue;
                }
                self.field.clear();
                f.value(row)
                    .write(&mut self.field)
                    .map_err(|e| ArrowError::CsvError(format!("row {}: {e}", row + 1)))?;
                push_field(&mut self.line, &self.field, self.delimiter, text[c]);
            }
            self.line.push(b'\n');
            if self.line.len() >= 1 << 16 {
                self.out.write_all(&self.line)?;
                self.line.clear();
            }
        }
        self.out.write_all(&self.line)?;
        self.line.clear();
        Ok(())
    }

    /// Writes the header if no chunk did, and returns the output.
    pub fn finish(mut self) -> Result<W, ArrowError> {
        self.header()?;
        Ok(self.out)
    }
}

/// Appends one field, quoted when it must be: an empty string (when
/// `quote_empty`; a null is written as nothing), or a value holding the
/// delimiter, a quote or a line break.
fn push_field(line: &mut Vec<u8>, value: &str, delimiter: u8, quote_empty: bool) {
    let bytes = value.as_bytes();
    let needs = (bytes.is_empty() && quote_empty)
        || bytes
            .iter()
            .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if !needs {
        line.extend_from_slice(bytes);
        return;
    }
    line.push(b'"');
    for &b in bytes {
        if b == b'"' {
            line.push(b'"');
        }
        line.push(b);
    }
    line.push(b'"');
}

/// So that [`FileSink`](crate::FileSink) can drive it like arrow's writers.
impl<W: Write> RecordBatchWriter for CsvWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        CsvWriter::write(self, batch)
    }

    fn close(self) -> Result<(), ArrowError> {
        self.finish().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn empty_strings_quoted_nulls_empty() {
        let b = RecordBatch::try_from_iter([
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some(""),
                    None,
                    Some("x\"y"),
                    Some("l\n2"),
                ])) as _,
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(-3), None])) as _,
            ),
        ])
        .unwrap();
        let mut w = CsvWriter::new(Vec::new(), b.schema(), b',', true);
        w.write(&b).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(text, "s,n\n\"\",1\n,\n\"x\"\"y\",-3\n\"l\n2\",\n");
    }

    #[test]
    fn header_without_rows() {
        let b = RecordBatch::try_from_iter([(
            "a b",
            Arc::new(Int64Array::from(Vec::<i64>::new())) as _,
        )])
        .unwrap();
        let w = CsvWriter::new(Vec::new(), b.schema(), b'\t', true);
        assert_eq!(w.finish().unwrap(), b"a b\n");
        let w = CsvWriter::new(Vec::new(), b.schema(), b'\t', false);
        assert!(w.finish().unwrap().is_empty());
    }
}
