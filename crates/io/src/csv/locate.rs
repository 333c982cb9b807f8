//! Turning CSV decoding errors into [`Error::Format`] with the absolute
//! line number and the column name.
//!
//! arrow-csv numbers records from the start of the bytes it was given, which
//! for a partition is not the start of the file. Only when an error happens
//! do we pay for finding the line: the newlines before the partition are
//! counted with `memchr`, and the partition is scanned to the failing
//! record (skipping blank lines, which the CSV parser skips too, and
//! newlines inside quotes).

use std::io::{BufReader, Read};
use std::path::Path;

use arrow_schema::ArrowError;
use parframe_common::Error;

use crate::input::Input;

/// Where a CSV reader was reading, to locate its errors.
#[derive(Debug, Clone, Copy)]
pub(super) struct ErrCtx<'a> {
    /// The file.
    pub(super) path: &'a Path,
    /// Its bytes, to re-read when locating an error.
    pub(super) input: &'a Input,
    /// Column names, by index in the schema the reader decodes.
    pub(super) names: &'a [String],
    /// First byte of the range read.
    pub(super) start: u64,
    /// End of the range read (exclusive).
    pub(super) end: u64,
    /// Whether the first record of the range is a header (skipped).
    pub(super) header_here: bool,
    /// The quote byte.
    pub(super) quote: u8,
}

impl ErrCtx<'_> {
    /// The error for record `record` (0-based, counted from the start of
    /// the range, a header included) and column `column`.
    pub(super) fn at_record(&self, record: u64, column: Option<usize>, message: String) -> Error {
        let mut loc = match absolute_line(self.input, self.start, self.end, record, self.quote) {
            Ok(Some(line)) => format!("line {line}"),
            // The file changed or cannot be re-read: say where we can.
            _ => format!("record {} after byte {}", record + 1, self.start),
        };
        if let Some(c) = column {
            match self.names.get(c) {
                Some(name) => loc.push_str(&format!(", column '{name}'")),
                None => loc.push_str(&format!(", column {}", c + 1)),
            }
        }
        Error::format(self.path, Some(loc), message)
    }

    /// The error for data row `row` (0-based, counted from the start of the
    /// range, the header excluded).
    pub(super) fn at_row(&self, row: u64, column: Option<usize>, message: String) -> Error {
        self.at_record(row + u64::from(self.header_here), column, message)
    }
}

/// Maps an error of arrow-csv's reader to [`Error`], locating it in the file.
pub(super) fn map_csv_error(ctx: &ErrCtx<'_>, err: ArrowError) -> Error {
    match err {
        ArrowError::IoError(_, source) => Error::io(ctx.path, source),
        ArrowError::ParseError(msg) => match parse_value_error(&msg) {
            Some(p) => ctx.at_record(p.line, Some(p.column), p.message),
            None => Error::format(ctx.path, None, msg),
        },
        ArrowError::CsvError(msg) => match parse_record_error(&msg) {
            Some((record, column, message)) => ctx.at_record(record, column, message),
            None => Error::format(ctx.path, None, msg),
        },
        other => Error::format(ctx.path, None, other.to_string()),
    }
}

struct ValueError {
    /// 0-based record index from the start of the reader, header included.
    line: u64,
    column: usize,
    message: String,
}

/// Reads the leading decimal number of `s` and the rest.
fn leading_number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = s[..end].parse().ok()?;
    Some((n, &s[end..]))
}

/// arrow-csv's value errors:
/// `Error while parsing value 'V' as type 'T' for column C at line L. Row data: '...'`
/// and `Error parsing column C at line L: MSG` (timestamps), where L counts
/// records from 0 at the reader's start, a header included.
fn parse_value_error(msg: &str) -> Option<ValueError> {
    if let Some(rest) = msg.strip_prefix("Error while parsing value '") {
        let (value, rest) = rest.split_once("' as type '")?;
        let (ty, rest) = rest.split_once("' for column ")?;
        let (column, rest) = leading_number(rest)?;
        let rest = rest.strip_prefix(" at line ")?;
        let (line, _) = leading_number(rest)?;
        return Some(ValueError {
            line,
            column: usize::try_from(column).ok()?,
            message: format!("cannot parse '{value}' as {ty}"),
        });
    }
    if let Some(rest) = msg.strip_prefix("Error parsing column ") {
        let (column, rest) = leading_number(rest)?;
        let rest = rest.strip_prefix(" at line ")?;
        let (line, rest) = leading_number(rest)?;
        let detail = rest.strip_prefix(": ").unwrap_or(rest);
        return Some(ValueError {
            line,
            column: usize::try_from(column).ok()?,
            message: detail.to_string(),
        });
    }
    None
}

/// arrow-csv's record errors, where L counts records from 1 at the reader's
/// start, a header included:
/// `incorrect number of fields for line L, expected X got Y` and
/// `Encountered invalid UTF-8 data for line L and field F`.
fn parse_record_error(msg: &str) -> Option<(u64, Option<usize>, String)> {
    if let Some(rest) = msg.strip_prefix("incorrect number of fields for line ") {
        let (line, rest) = leading_number(rest)?;
        let detail = rest.strip_prefix(", ").unwrap_or(rest);
        let message = match detail.split_once(" got ") {
            Some((exp, got)) => format!("wrong number of fields: {exp} fields, found {got}"),
            None => format!("wrong number of fields: {detail}"),
        };
        return Some((line.checked_sub(1)?, None, message));
    }
    if let Some(rest) = msg.strip_prefix("Encountered invalid UTF-8 data for line ") {
        let (line, rest) = leading_number(rest)?;
        let rest = rest.strip_prefix(" and field ")?;
        let (field, _) = leading_number(rest)?;
        let field = usize::try_from(field).ok()?.checked_sub(1)?;
        return Some((line.checked_sub(1)?, Some(field), "invalid UTF-8".into()));
    }
    None
}

/// The 1-based line of the file on which record `record` (0-based, counted
/// from byte `start`) begins, or `None` if the range has fewer records.
pub(super) fn absolute_line(
    input: &Input,
    start: u64,
    end: u64,
    record: u64,
    quote: u8,
) -> parframe_common::Result<Option<u64>> {
    let path = input.path();
    let before = count_newlines(input.open_range(0, start)?).map_err(|e| Error::io(path, e))?;
    let range = input.open_range(start, end)?;
    let within =
        record_start_line(BufReader::new(range), record, quote).map_err(|e| Error::io(path, e))?;
    Ok(within.map(|w| before + w + 1))
}

/// Number of `\n` bytes in `r`.
fn count_newlines(mut r: impl Read) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let got = r.read(&mut buf)?;
        if got == 0 {
            return Ok(n);
        }
        n += memchr::memchr_iter(b'\n', &buf[..got]).count() as u64;
    }
}

/// The 0-based line (newlines before it) on which record `record` begins,
/// skipping blank lines and newlines inside quotes as the parser does.
fn record_start_line(mut r: impl Read, record: u64, quote: u8) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; 1 << 16];
    let mut line = 0u64;
    let mut records = 0u64;
    let mut in_record = false;
    let mut in_quotes = false;
    loop {
        let got = r.read(&mut buf)?;
        if got == 0 {
            return Ok(None);
        }
        for &b in &buf[..got] {
            if b == b'\n' {
                line += 1;
                if !in_quotes && in_record {
                    in_record = false;
                    records += 1;
                }
                continue;
            }
            if b == b'\r' && !in_quotes {
                continue;
            }
            if !in_record {
                if records == record {
                    return Ok(Some(line));
                }
                in_record = true;
            }
            if b == quote {
                in_quotes = !in_quotes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn parses_arrow_messages() {
        let p = parse_value_error(
            "Error while parsing value 'x1' as type 'Int64' for column 2 at line 7. Row data: '[a,b,x1]'",
        )
        .unwrap();
        assert_eq!((p.line, p.column), (7, 2));
        assert_eq!(p.message, "cannot parse 'x1' as Int64");
        let p = parse_value_error("Error parsing column 1 at line 3: bad ts").unwrap();
        assert_eq!((p.line, p.column, p.message.as_str()), (3, 1, "bad ts"));
        assert!(parse_value_error("something else").is_none());

        let (l, c, m) =
            parse_record_error("incorrect number of fields for line 4, expected 3 got 2").unwrap();
        assert_eq!((l, c), (3, None));
        assert!(m.contains("expected 3") && m.contains("found 2"), "{m}");
        let (l, c, _) =
            parse_record_error("Encountered invalid UTF-8 data for line 2 and field 3").unwrap();
        assert_eq!((l, c), (1, Some(2)));
    }

    #[test]
    fn record_lines_skip_blank_and_quoted() {
        let text = b"a,b\n\n1,\"x\ny\"\n\r\n2,z\n";
        let line = |r| record_start_line(&text[..], r, b'"').unwrap();
        assert_eq!(line(0), Some(0));
        assert_eq!(line(1), Some(2));
        assert_eq!(line(2), Some(5));
        assert_eq!(line(3), None);
        assert_eq!(count_newlines(&text[..]).unwrap(), 6);
    }
}
