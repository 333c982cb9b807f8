//! Statements other than queries: `COPY (query) TO 'file'` streams a query
//! into a file through the sinks of `parframe-io`; `EXPLAIN` gives the plan
//! as rows.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, StringArray};
use parframe_common::Result;
use parframe_core::Table;
use parframe_exec::{Context, LazyFrame};
use parframe_io::{FileFormat, PartitionedWriteOptions, WriteOptions};
use sqlparser::ast::{CopyOption, CopySource, CopyTarget, Ident, Spanned, Statement};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan};

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
    /// The format defaults to the file's extension. With `PARTITION_BY
    /// (a, b)` (DuckDB's option) the target is a directory written as a
    /// hive-partitioned dataset (`dir/a=1/b=x/part-00000.parquet`,
    /// Parquet unless `FORMAT` says otherwise; see parframe-io's
    /// `PartitionedSink`).
    pub(crate) fn copy(&self, statement: &Statement, partition_by: &[Ident]) -> Result<LazyFrame> {
        let span = statement.span();
        let Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options: legacy,
            ..
        } = statement
        else {
            return unsupported(format!("'{statement}' as COPY"), span);
        };
        let to = *to;
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
        // A partitioned write goes to a directory: Parquet unless FORMAT
        // says otherwise.
        let mut format = FileFormat::from_path(Path::new(filename))
            .or_else(|| (!partition_by.is_empty()).then_some(FileFormat::Parquet));
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
        let rows = if partition_by.is_empty() {
            lf.sink(format.create_sink(Path::new(filename), lf.schema(), &write)?)?
        } else {
            let schema = lf.schema();
            let by = partition_by
                .iter()
                .map(|c| crate::scope::resolve_column(&schema, c))
                .collect::<Result<Vec<_>>>()?;
            let by: Vec<&str> = by.iter().map(String::as_str).collect();
            let options = PartitionedWriteOptions::default()
                .format(format)
                .write_options(write);
            lf.sink_partitioned(filename, &by, options)
                .map_err(at(span))?
        };
        let count: ArrayRef = Arc::new(Int64Array::from(vec![rows as i64]));
        Ok(self
            .ctx
            .lazy(Table::from_columns(vec![("count".to_string(), count)])?))
    }
}

/// Takes DuckDB's `PARTITION_BY (a, b)` (or `PARTITION_BY a`) out of the
/// tokens of a `COPY` statement, with the comma that separated it from the
/// other options, and returns its columns. sqlparser's COPY options are a
/// closed list (PostgreSQL's) with no hook for others, so the option is
/// found at the token level: an unquoted word `PARTITION_BY` in a
/// statement whose first word is `COPY`. Other statements are untouched.
pub(crate) fn take_partition_by(
    mut tokens: Vec<TokenWithSpan>,
) -> Result<(Vec<TokenWithSpan>, Vec<Ident>)> {
    let significant = |t: &TokenWithSpan| !matches!(t.token, Token::Whitespace(_));
    let is_copy = tokens
        .iter()
        .find(|t| significant(t))
        .is_some_and(|t| matches!(&t.token, Token::Word(w) if w.keyword == Keyword::COPY));
    if !is_copy {
        return Ok((tokens, Vec::new()));
    }
    let Some(start) = tokens.iter().position(|t| {
        matches!(&t.token, Token::Word(w)
            if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("partition_by"))
    }) else {
        return Ok((tokens, Vec::new()));
    };
    let option_span = tokens[start].span;
    let next = |from: usize| (from..tokens.len()).find(|&i| significant(&tokens[i]));
    let word = |i: usize| match &tokens[i].token {
        Token::Word(w) => Some(w.clone().into_ident(tokens[i].span)),
        _ => None,
    };
    let expected = || {
        crate::error::sql_error(
            "COPY: PARTITION_BY takes a column or a list of columns: PARTITION_BY (a, b)",
            option_span,
        )
    };
    let mut columns = Vec::new();
    let first = next(start + 1).ok_or_else(expected)?;
    let end = if matches!(tokens[first].token, Token::LParen) {
        let mut i = first;
        loop {
            let c = next(i + 1).ok_or_else(expected)?;
            columns.push(word(c).ok_or_else(expected)?);
            let sep = next(c + 1).ok_or_else(expected)?;
            match tokens[sep].token {
                Token::Comma => i = sep,
                Token::RParen => break sep,
                _ => return Err(expected()),
            }
        }
    } else {
        columns.push(word(first).ok_or_else(expected)?);
        first
    };
    // The comma before the option (`FORMAT parquet, PARTITION_BY ...`), or
    // else the one after it (`PARTITION_BY (a), FORMAT parquet`).
    let before = (0..start).rev().find(|&i| significant(&tokens[i]));
    let after = next(end + 1);
    let (from, to) = match (before, after) {
        // The only option: the empty list goes too.
        (Some(b), Some(a))
            if matches!(tokens[b].token, Token::LParen)
                && matches!(tokens[a].token, Token::RParen) =>
        {
            (b, a)
        }
        (Some(b), _) if matches!(tokens[b].token, Token::Comma) => (b, end),
        (_, Some(a)) if matches!(tokens[a].token, Token::Comma) => (start, a),
        _ => (start, end),
    };
    tokens.drain(from..=to);
    Ok((tokens, columns))
}
