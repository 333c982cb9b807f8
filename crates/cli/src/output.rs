//! Writing a plan's result: a pretty table, CSV or JSON lines on stdout, or
//! a file (streamed through the plan's sinks, so a result larger than
//! memory is fine).

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use parframe::arrow::RecordBatch;
use parframe::arrow::schema::{ArrowError, SchemaRef};
use parframe::{
    BatchStream, CsvWriter, FileFormat, JobStats, LazyFrame, OutputFile, Table, WriteOptions,
};

/// stdout was closed by its reader (`parframe ... | head -1`): the command
/// stops quietly and exits 0, cleaning up on the way out like any error.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Whether `e` is (or was caused by) a closed stdout: [`StdoutClosed`],
/// or a broken-pipe I/O error wherever it was wrapped.
pub fn is_stdout_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<StdoutClosed>().is_some()
            || c.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<ArrowError>().is_some_and(is_broken_pipe)
    })
}

/// Writes one line to stdout, where `println!` would panic: a closed pipe
/// is [`StdoutClosed`], another failure (`>/dev/full`) an error naming
/// stdout. Use through [`outln!`].
pub fn print_line(line: fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    let r = writeln!(out, "{line}").and_then(|()| out.flush());
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::anyhow!("cannot write to stdout: {e}")),
    }
}

/// `println!` returning [`print_line`]'s result instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::print_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// An error in how the command was called (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A pretty table (first and last rows when long, with the row count).
    Table,
    /// CSV with a header line.
    Csv,
    /// JSON lines: one object per row. JSON has no NaN or infinity: such
    /// float values are written as null.
    Json,
    /// Parquet (zstd); needs --output.
    Parquet,
    /// Arrow IPC file; needs --output.
    #[value(alias = "arrow")]
    Ipc,
}

impl Format {
    /// The format a file name asks for, by extension: the library's
    /// [`FileFormat`] registry, and `.txt` for a table.
    pub fn from_path(path: &Path) -> Option<Format> {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
        {
            return Some(Format::Table);
        }
        Some(match FileFormat::from_path(path)? {
            FileFormat::Csv => Format::Csv,
            FileFormat::Json => Format::Json,
            FileFormat::Parquet => Format::Parquet,
            FileFormat::Ipc => Format::Ipc,
            _ => return None,
        })
    }

    /// The library's file format, for the formats that are one.
    fn file_format(self) -> Option<FileFormat> {
        match self {
            Format::Table => None,
            Format::Csv => Some(FileFormat::Csv),
            Format::Json => Some(FileFormat::Json),
            Format::Parquet => Some(FileFormat::Parquet),
            Format::Ipc => Some(FileFormat::Ipc),
        }
    }
}

/// Where and how to write a result.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    /// The format; `None` = from the output's extension, else a table.
    pub format: Option<Format>,
    /// The output file; `None` = stdout.
    pub output: Option<PathBuf>,
    /// Rows shown by the table format (first and last halves).
    pub max_rows: usize,
}

/// Runs `lf` and writes its result as `spec` says; returns the rows and
/// the job's statistics.
pub fn write_result(lf: &LazyFrame, spec: &OutputSpec) -> anyhow::Result<(u64, JobStats)> {
    let format = match (&spec.format, &spec.output) {
        (Some(f), _) => *f,
        (None, None) => Format::Table,
        (None, Some(p)) => Format::from_path(p).ok_or_else(|| {
            UsageError(format!(
                "cannot tell the output format of '{}' from its extension; \
                 pass --format table|csv|json|parquet|ipc",
                p.display()
            ))
        })?,
    };
    match &spec.output {
        None => {
            let stdout = io::stdout();
            let mut out = io::BufWriter::new(stdout.lock());
            let mut stream = lf.stream()?;
            let rows = match format {
                Format::Table => write_table(&mut stream, spec.max_rows, &mut out)?,
                Format::Csv => write_csv(&mut stream, &mut out)?,
                Format::Json => write_json(&mut stream, &mut out)?,
                Format::Parquet | Format::Ipc => {
                    return Err(UsageError(format!(
                        "--format {} is binary: write it to a file with --output FILE",
                        format_name(format)
                    ))
                    .into());
                }
            };
            flush_stdout(out.flush())?;
            Ok((rows, stream.stats()))
        }
        Some(path) => match format.file_format() {
            // Streamed through the library's sink for the format (options
            // from the extension: `.tsv` is tab-separated).
            Some(f) => {
                let sink = f.create_sink(path, lf.schema(), &WriteOptions::for_path(path))?;
                Ok(lf.sink_with_stats(sink)?)
            }
            None => {
                let mut stream = lf.stream()?;
                let rows = write_file(path, |w| write_table(&mut stream, spec.max_rows, w))?;
                Ok((rows, stream.stats()))
            }
        },
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Table => "table",
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Parquet => "parquet",
        Format::Ipc => "ipc",
    }
}

/// Writes through a fresh temporary file beside `path`, renamed onto it at
/// the end (so a failed job leaves no partial file), with the library's
/// [`OutputFile`] like its sinks.
fn write_file(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> anyhow::Result<u64>,
) -> anyhow::Result<u64> {
    let (temp, file) = OutputFile::create(path)?;
    let mut w = io::BufWriter::new(file);
    let rows = f(&mut w)?;
    w.flush().map_err(|e| parframe::Error::io(path, e))?;
    drop(w);
    temp.commit()?;
    Ok(rows)
}

/// The result of writing to stdout: a closed pipe (`parframe sql ... |
/// head`) is [`StdoutClosed`], which stops the command quietly.
fn flush_stdout(r: io::Result<()>) -> anyhow::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::anyhow!("cannot write the output: {e}")),
        Ok(()) => Ok(()),
    }
}

fn is_broken_pipe(e: &ArrowError) -> bool {
    matches!(e, ArrowError::IoError(_, io) if io.kind() == io::ErrorKind::BrokenPipe)
}

/// Writes every chunk of `stream` with `write`, counting rows; a reader
/// that went away (broken pipe) is [`StdoutClosed`].
fn write_chunks(
    stream: &mut BatchStream,
    mut write: impl FnMut(&RecordBatch) -> Result<(), ArrowError>,
) -> anyhow::Result<u64> {
    let mut rows = 0u64;
    for b in stream.by_ref() {
        let b = b?;
        rows += b.num_rows() as u64;
        arrow_result(write(&b))?;
    }
    Ok(rows)
}

fn arrow_result<T>(r: Result<T, ArrowError>) -> anyhow::Result<T> {
    match r {
        Err(e) if is_broken_pipe(&e) => Err(StdoutClosed.into()),
        other => Ok(other?),
    }
}

/// CSV with a header line, also when no row comes; empty strings are
/// written `""`, nulls as empty fields ([`CsvWriter`]).
fn write_csv(stream: &mut BatchStream, out: &mut dyn Write) -> anyhow::Result<u64> {
    let mut w = CsvWriter::new(out, stream.schema(), b',', true);
    let rows = write_chunks(stream, |b| w.write(b))?;
    arrow_result(w.finish())?;
    Ok(rows)
}

/// JSON lines. JSON has no NaN or infinity: arrow-json writes those float
/// values as `null` (documented on [`Format::Json`]).
fn write_json(stream: &mut BatchStream, out: &mut dyn Write) -> anyhow::Result<u64> {
    let mut w = arrow_json::LineDelimitedWriter::new(out);
    let rows = write_chunks(stream, |b| w.write(b))?;
    arrow_result(w.finish())?;
    Ok(rows)
}

/// The first and last rows of a stream, with the row count, holding at
/// most about `max_rows` rows (plus the chunks they sit in).
pub struct HeadTail {
    schema: SchemaRef,
    max_rows: usize,
    head: Vec<RecordBatch>,
    head_rows: usize,
    tail: VecDeque<RecordBatch>,
    tail_rows: usize,
    total: u64,
}

impl HeadTail {
    /// An empty window for `schema`.
    pub fn new(schema: SchemaRef, max_rows: usize) -> Self {
        HeadTail {
            schema,
            max_rows: max_rows.max(2),
            head: Vec::new(),
            head_rows: 0,
            tail: VecDeque::new(),
            tail_rows: 0,
            total: 0,
        }
    }

    /// Adds a chunk.
    pub fn push(&mut self, b: RecordBatch) {
        let n = b.num_rows();
        if n == 0 {
            return;
        }
        self.total += n as u64;
        if self.head_rows < self.max_rows {
            let take = n.min(self.max_rows - self.head_rows);
            self.head.push(b.slice(0, take));
            self.head_rows += take;
        }
        let half = self.max_rows / 2;
        let keep = n.min(half);
        self.tail.push_back(b.slice(n - keep, keep));
        self.tail_rows += keep;
        while let Some(front) = self.tail.front() {
            if self.tail_rows - front.num_rows() >= half {
                self.tail_rows -= front.num_rows();
                self.tail.pop_front();
            } else {
                break;
            }
        }
    }

    /// Rows seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The text: all rows when they fit, else the first and last halves
    /// with a count of the rows between; then the row count.
    pub fn render(&self) -> anyhow::Result<String> {
        let head = Table::try_new(self.schema.clone(), self.head.clone())?;
        if self.total <= self.max_rows as u64 {
            return Ok(head.pretty_limited(self.max_rows)?);
        }
        let half = (self.max_rows / 2).max(1);
        let tail = Table::try_new(self.schema.clone(), self.tail.iter().cloned().collect())?;
        let top = head.head(half).pretty()?;
        let bottom = tail.tail(half).pretty()?;
        Ok(format!(
            "{top}\n… {} more rows …\n{bottom}\n{} rows",
            self.total - 2 * half as u64,
            self.total
        ))
    }
}

fn write_table(
    stream: &mut BatchStream,
    max_rows: usize,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut window = HeadTail::new(stream.schema(), max_rows);
    for b in stream.by_ref() {
        window.push(b?);
    }
    flush_stdout(writeln!(out, "{}", window.render()?))?;
    Ok(window.total())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parframe::table;

    #[test]
    fn head_tail_window() {
        let t = table!("x" => (0..100i64).collect::<Vec<_>>())
            .unwrap()
            .rechunk(7)
            .unwrap();
        let mut w = HeadTail::new(t.schema().clone(), 10);
        for c in t.chunks() {
            w.push(c.clone());
        }
        let s = w.render().unwrap();
        assert!(s.contains("… 90 more rows …"), "{s}");
        assert!(
            s.contains("| 99 |") && s.contains("| 0 |") && s.contains("| 95 |"),
            "{s}"
        );
        assert!(!s.contains("| 94 |") && !s.contains("| 5 |"), "{s}");
        assert!(s.ends_with("100 rows"), "{s}");

        let mut w = HeadTail::new(t.schema().clone(), 200);
        for c in t.chunks() {
            w.push(c.clone());
        }
        assert!(w.render().unwrap().ends_with("100 rows"));
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(Format::from_path(Path::new("a.CSV")), Some(Format::Csv));
        assert_eq!(
            Format::from_path(Path::new("a.parquet")),
            Some(Format::Parquet)
        );
        assert_eq!(Format::from_path(Path::new("a.arrow")), Some(Format::Ipc));
        assert_eq!(Format::from_path(Path::new("a.ndjson")), Some(Format::Json));
        assert_eq!(Format::from_path(Path::new("a")), None);
    }
}
