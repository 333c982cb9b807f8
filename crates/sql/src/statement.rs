//! Statements other than queries: `COPY (query) TO 'file'` streams a query
//! into a file through the sinks of `parframe-io`; `EXPLAIN` gives the plan
//! as rows.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, StringArray};
use parframe_common::Result;
use parframe_core::Table;
use parframe_exec::{Context, LazyFrame};
use parframe_io::{FileFormat, WriteOptions};
use sqlparser::ast::{CopyLegacyOption, CopyOption, CopySource, CopyTarget};
use sqlparser::tokenizer::Span;

use crate::error::{at, err, unsupported};
use crate::planner::SqlPlanner;

/// A one-column table of text lines (EXPLAIN output).
pub(crate) fn lines_frame<'a>(
    ctx: &Context,
    column: &str,
    lines: impl Iterator<Item = &'a str>,
) -> Result<LazyFrame> {
    let values: ArrayRef = Arc::new(StringArray::from_iter_values(lines));
    Ok(ctx.lazy(Table::from_columns(vec![(column.to_string(), values)])?))
}

impl SqlPlanner {
    /// `COPY (query) TO 'file' [(FORMAT parquet|csv|ipc|json, HEADER, DELIMITER
    /// ',', COMPRESSION zstd|snappy|uncompressed)]`: runs the query at once,
    /// streaming it into the file (one chunk in memory at a time), and
    /// returns one row with the rows written (`count`), as DuckDB does.
    /// The format defaults to the file's extension.
    pub(crate) fn copy(
        &self,
        source: &CopySource,
        to: bool,
        target: &CopyTarget,
        options: &[CopyOption],
        legacy: &[CopyLegacyOption],
        span: Span,
    ) -> Result<LazyFrame> {
        if !to {
            return unsupported(
                "COPY ... FROM (read files with FROM 'file' or read_csv(...))",
                span,
            );
        }
        let lf = match source {
            CopySource::Query(q) => self.plan_query(q)?,
            CopySource::Table {
                table_name,
                columns,
            } => {
                let (lf, _) = self.named_table(table_name)?;
                if columns.is_empty() {
                    lf
                } else {
                    let cols = columns
                        .iter()
                        .map(|c| {
                            crate::scope::resolve_column(&lf.schema(), c).map(parframe_core::col)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    lf.select(cols).map_err(at(span))?
                }
            }
        };
        let CopyTarget::File { filename } = target else {
            return unsupported(format!("COPY TO {target}; copy to a file"), span);
        };
        if !legacy.is_empty() {
            return unsupported(
                "COPY's legacy options; write (FORMAT ..., HEADER ...)",
                span,
            );
        }
        let mut format = FileFormat::from_path(Path::new(filename));
        let mut write = WriteOptions::for_path(Path::new(filename));
        for o in options {
            match o {
                CopyOption::Format(name) => {
                    format = Some(FileFormat::from_name(&name.value).ok_or_else(|| {
                        crate::error::sql_error(
                            format!(
                                "COPY: unknown FORMAT '{}'; known: {}",
                                name.value,
                                FileFormat::known_names()
                            ),
                            name.span,
                        )
                    })?);
                    if name.value.eq_ignore_ascii_case("tsv") {
                        write.csv = write.csv.delimiter(b'\t');
                    }
                }
                CopyOption::Header(h) => write.csv = write.csv.header(*h),
                CopyOption::Delimiter(c) if c.is_ascii() => {
                    write.csv = write.csv.delimiter(*c as u8);
                }
                other => {
                    return unsupported(
                        format!("the COPY option {other}; known: FORMAT, HEADER, DELIMITER"),
                        span,
                    );
                }
            }
        }
        let Some(format) = format else {
            return err(
                format!(
                    "COPY: cannot tell the format of '{filename}' from its extension; \
                     add (FORMAT name), one of {}",
                    FileFormat::known_names()
                ),
                span,
            );
        };
        let rows = lf.sink(format.create_sink(Path::new(filename), lf.schema(), &write)?)?;
        let count: ArrayRef = Arc::new(Int64Array::from(vec![rows as i64]));
        Ok(self
            .ctx
            .lazy(Table::from_columns(vec![("count".to_string(), count)])?))
    }
}
