//! The command line: arguments, commands, exit codes.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use parframe::agg::{count_rows, mean, sum};
use parframe::arrow::schema::DataType;
use parframe::datasets::tpch::{self, TpchTable};
use parframe::datasets::{G1, J1, J1Table, g1_name};
use parframe::{
    ByteSize, ChunkSource, Context, CsvOptions, CsvSource, FileFormat, LazyFrame, MultiSource,
    ParquetCompression, ParquetWriteOptions, ReadOptions, RowOptions, SortKey, SqlContext,
    WriteOptions, col, format_bytes, open_sources as open_path,
};

use crate::output::{
    Format, HeadTail, OutputSpec, UsageError, is_stdout_closed, outln, write_result,
};
use crate::progress::{ProgressUi, group_digits};

/// Parallel, memory-bounded dataframes on Apache Arrow: SQL over CSV,
/// Parquet and Arrow IPC files.
#[derive(Parser, Debug)]
#[command(name = "parframe", version, about, propagate_version = true)]
pub struct Cli {
    /// Worker threads (default: all cores).
    #[arg(long, global = true, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Memory limit: 512MiB, 4GB, 70% (of RAM; default 70%).
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_memory)]
    pub memory_limit: Option<String>,
    /// Directory for spill files (default: the OS temp dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
    /// Rows per chunk that operators pass on (default 65536); for
    /// experiments, the default is what the benchmarks measure.
    #[arg(long, global = true, value_name = "N", value_parser = parse_chunk_rows)]
    pub chunk_rows: Option<usize>,
    /// Decode every needed column of every row, then filter, instead of
    /// decoding the filters' columns first and the rest only where rows
    /// pass (late materialization, the default); for experiments.
    #[arg(long, global = true)]
    pub no_late_materialization: bool,
    /// Print the plan and timings to stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// No progress bar and no messages on stderr (errors still print).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// How `schema`, `head` and `count` read CSV files (SQL queries take
    /// the same options in `read_csv('f.csv', header=true, ...)`).
    #[command(flatten)]
    pub csv: CsvArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// CSV reading options of the file commands.
#[derive(Args, Debug, Default, Clone)]
pub struct CsvArgs {
    /// The first line is a header (default: detected).
    #[arg(long, global = true, conflicts_with = "no_header")]
    pub header: bool,
    /// The first line is data.
    #[arg(long, global = true)]
    pub no_header: bool,
    /// The field delimiter (default `,`; `\t` for .tsv).
    #[arg(long, global = true, value_name = "CHAR")]
    pub delimiter: Option<char>,
    /// A field value read as null (repeatable), e.g. --null-value NA.
    #[arg(long, global = true, value_name = "TEXT")]
    pub null_value: Vec<String>,
    /// Rows sampled to infer column types (default 1000; 0: the whole file).
    #[arg(long, global = true, value_name = "N")]
    pub infer_rows: Option<usize>,
    /// A column's type instead of the inferred one (repeatable):
    /// --csv-type zip=utf8 (utf8, int64, float64, bool, date, or an Arrow
    /// type name such as Int32).
    #[arg(long = "csv-type", global = true, value_name = "COL=TYPE")]
    pub csv_types: Vec<String>,
}

impl CsvArgs {
    fn any(&self) -> bool {
        self.header
            || self.no_header
            || self.delimiter.is_some()
            || !self.null_value.is_empty()
            || self.infer_rows.is_some()
            || !self.csv_types.is_empty()
    }

    /// The CSV options these flags give, over `base`.
    fn options(&self, base: CsvOptions) -> anyhow::Result<CsvOptions> {
        let mut o = base;
        if self.header {
            o = o.has_header(true);
        }
        if self.no_header {
            o = o.has_header(false);
        }
        if let Some(d) = self.delimiter {
            let b = u8::try_from(u32::from(d))
                .ok()
                .filter(u8::is_ascii)
                .ok_or_else(|| UsageError(format!("--delimiter '{d}' is not one ASCII byte")))?;
            o = o.delimiter(b);
        }
        if !self.null_value.is_empty() {
            o = o.null_values(self.null_value.iter().cloned());
        }
        if let Some(n) = self.infer_rows {
            o = o.infer_rows(if n == 0 { usize::MAX } else { n });
        }
        for t in &self.csv_types {
            let Some((col, ty)) = t.split_once('=') else {
                return Err(UsageError(format!("--csv-type '{t}': expected COL=TYPE")).into());
            };
            o = o.schema_override(col, parse_type(ty)?);
        }
        Ok(o)
    }
}

/// A type name of `--csv-type`.
fn parse_type(name: &str) -> anyhow::Result<DataType> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "utf8" | "string" | "text" | "varchar" => DataType::Utf8,
        "int" | "int64" | "bigint" => DataType::Int64,
        "float" | "float64" | "double" => DataType::Float64,
        "bool" | "boolean" => DataType::Boolean,
        "date" => DataType::Date32,
        _ => name.parse::<DataType>().map_err(|_| {
            UsageError(format!(
                "--csv-type: unknown type '{name}' (utf8, int64, float64, bool, date, or an \
                 Arrow type such as Int32)"
            ))
        })?,
    })
}

/// Opens a file argument: CSV files (`.csv`, `.tsv`) with the CSV flags
/// when any is given, anything else as its extension says.
fn open_input(csv: &CsvArgs, file: &str) -> anyhow::Result<Arc<dyn ChunkSource>> {
    let is_csv = |p: &Path| FileFormat::from_path(p) == Some(FileFormat::Csv);
    let paths = parframe::expand_glob(file)?;
    if !csv.any() || !paths.iter().all(|p| is_csv(p)) {
        return Ok(open_path(file)?);
    }
    let mut sources: Vec<Arc<dyn ChunkSource>> = Vec::new();
    for p in &paths {
        let base = ReadOptions::for_path(p).csv;
        sources.push(Arc::new(CsvSource::try_new(p, csv.options(base)?)?));
    }
    Ok(match sources.len() {
        1 => sources.remove(0),
        _ => Arc::new(MultiSource::try_new(sources)?),
    })
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a SQL query over files: parframe sql "SELECT id1, sum(v1) FROM 'x.parquet' GROUP BY id1"
    Sql(SqlArgs),
    /// Print the schema of a file.
    Schema {
        /// A .csv, .tsv, .parquet or .arrow/.ipc file (or a glob pattern).
        file: String,
    },
    /// Print the first rows of a file.
    Head {
        /// A .csv, .tsv, .parquet or .arrow/.ipc file (or a glob pattern).
        file: String,
        /// Number of rows.
        #[arg(short, default_value_t = 10)]
        n: usize,
        /// Output options.
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Count the rows of a file (reading it in parallel).
    Count {
        /// A .csv, .tsv, .parquet or .arrow/.ipc file (or a glob pattern).
        file: String,
    },
    /// Generate a benchmark dataset.
    Gen {
        /// The dataset.
        #[command(subcommand)]
        dataset: GenDataset,
    },
    /// Generate the db-benchmark group-by table (if absent) and run group-bys,
    /// a sort and a row-level apply on it, with timings and memory figures.
    Demo(DemoArgs),
}

/// Where results go.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format (default: from --output's extension, else a table).
    #[arg(short, long, value_enum)]
    pub format: Option<Format>,
    /// Write the result to this file (streamed) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rows shown by the table format (the first and last halves).
    #[arg(long, default_value_t = 40, value_name = "N")]
    pub max_rows: usize,
}

/// `parframe sql`.
#[derive(Args, Debug)]
pub struct SqlArgs {
    /// The query (`-` reads it from stdin).
    pub query: String,
    /// A table name for a file: --table trips=data/trips.parquet (repeatable).
    #[arg(long = "table", value_name = "NAME=PATH", value_parser = parse_table)]
    pub tables: Vec<(String, String)>,
    /// Output options.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Datasets of `parframe gen`.
#[derive(Subcommand, Debug)]
pub enum GenDataset {
    /// The h2o.ai db-benchmark group-by table G1_<rows>_<k>_<nas>_0.
    Groupby(GenArgs),
    /// The db-benchmark join tables: x (J1_<rows>_NA_<nas>_0) and the small,
    /// medium and big right tables (J1_<rows>_<n>_<nas>_0).
    Join(GenJoinArgs),
    /// The eight TPC-H tables at a scale factor (<table>.parquet), made by the tpchgen crates.
    Tpch(GenTpchArgs),
}

/// `parframe gen tpch`.
#[derive(Args, Debug)]
pub struct GenTpchArgs {
    /// The TPC-H scale factor: 1 is about 1 GB of text (6 million lineitem rows).
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale_factor)]
    pub scale_factor: f64,
    /// Output directory (created if needed); files are named <table>.<ext>.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// File format.
    #[arg(long, value_enum, default_value_t = GenFormat::Parquet)]
    pub format: GenFormat,
    /// Parquet layout.
    #[command(flatten)]
    pub parquet: ParquetLayoutArgs,
}

fn parse_scale_factor(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "expected a scale factor > 0 such as 0.1 or 10, got '{s}'"
        )),
    }
}

/// `parframe gen join`.
#[derive(Args, Debug)]
pub struct GenJoinArgs {
    /// Rows of the left table x (and of the big right table): 1e7, 10000000.
    #[arg(long, default_value = "1e7", value_parser = parse_count)]
    pub rows: usize,
    /// Percent of null keys and values in x (0-100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub nas: u32,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory (created if needed); files are named like J1_1e7_NA_0_0.<ext>.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// File format.
    #[arg(long, value_enum, default_value_t = GenFormat::Parquet)]
    pub format: GenFormat,
    /// Parquet layout.
    #[command(flatten)]
    pub parquet: ParquetLayoutArgs,
}

/// `parframe gen groupby`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Rows: 1e7, 10000000, 1_000_000.
    #[arg(long, default_value = "1e7", value_parser = parse_count)]
    pub rows: usize,
    /// Groups of the small keys (id1, id2, id4, id5).
    #[arg(long, default_value = "100", value_parser = parse_count)]
    pub k: usize,
    /// Percent of null values (0-100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub nas: u32,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory (created if needed); the file is named G1_1e7_1e2_0_0.<ext>.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// File format.
    #[arg(long, value_enum, default_value_t = GenFormat::Parquet)]
    pub format: GenFormat,
    /// Parquet layout.
    #[command(flatten)]
    pub parquet: ParquetLayoutArgs,
}

/// How `gen` lays out Parquet files (ignored for CSV and IPC).
#[derive(Args, Debug, Clone)]
pub struct ParquetLayoutArgs {
    /// Parquet codec.
    #[arg(long, value_enum, default_value_t = GenCompression::Zstd)]
    pub compression: GenCompression,
    /// Rows per Parquet row group (the unit of parallel reads).
    #[arg(long, default_value = "262144", value_parser = parse_count)]
    pub row_group_rows: usize,
}

impl ParquetLayoutArgs {
    fn options(&self) -> ParquetWriteOptions {
        let compression = match self.compression {
            GenCompression::Zstd => ParquetCompression::default(),
            GenCompression::Snappy => ParquetCompression::Snappy,
            GenCompression::Lz4 => ParquetCompression::Lz4,
            GenCompression::None => ParquetCompression::None,
        };
        ParquetWriteOptions::default()
            .compression(compression)
            .row_group_rows(self.row_group_rows)
    }
}

/// Parquet codecs of `gen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenCompression {
    /// Zstandard, level 3.
    Zstd,
    /// Snappy.
    Snappy,
    /// LZ4 (LZ4_RAW).
    Lz4,
    /// Uncompressed.
    None,
}

/// Formats `gen` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenFormat {
    /// Parquet (zstd).
    Parquet,
    /// CSV with a header.
    Csv,
    /// Arrow IPC file.
    #[value(alias = "arrow")]
    Ipc,
}

impl GenFormat {
    /// The library's format (its registry names the extensions).
    fn file_format(self) -> FileFormat {
        match self {
            GenFormat::Parquet => FileFormat::Parquet,
            GenFormat::Csv => FileFormat::Csv,
            GenFormat::Ipc => FileFormat::Ipc,
        }
    }

    fn extension(self) -> &'static str {
        self.file_format().extensions()[0]
    }
}

/// `parframe demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Rows of the generated table.
    #[arg(long, default_value = "1e7", value_parser = parse_count)]
    pub rows: usize,
    /// Groups of the small keys.
    #[arg(long, default_value = "100", value_parser = parse_count)]
    pub k: usize,
    /// Where the data goes (default: datasets/generated/ of the parframe
    /// repository when run inside it, else a folder in the OS temp dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

fn parse_chunk_rows(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a number of rows >= 1, got '{s}'")),
    }
}

fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a number of threads >= 1, got '{s}'")),
    }
}

fn parse_memory(s: &str) -> Result<String, String> {
    ByteSize::parse(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

fn parse_table(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, path)) if !name.trim().is_empty() && !path.trim().is_empty() => {
            Ok((name.trim().to_string(), path.trim().to_string()))
        }
        _ => Err(format!("expected NAME=PATH, got '{s}'")),
    }
}

/// `1e7`, `10000000`, `1_000_000`.
fn parse_count(s: &str) -> Result<usize, String> {
    let t = s.trim().replace('_', "");
    if let Ok(n) = t.parse::<usize>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(f) if f >= 0.0 && f.fract() == 0.0 && f < 1e15 => Ok(f as usize),
        _ => Err(format!(
            "expected a count such as 1e7 or 1000000, got '{s}'"
        )),
    }
}

/// The exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The context of the running command, for the Ctrl-C handler. Cleared when
/// the command's [`Env`] drops, so that the context, and with it the spill
/// directory, is freed on the way out.
static RUNNING: Mutex<Option<Context>> = Mutex::new(None);

/// Set by the first Ctrl-C.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C, SIGTERM and SIGHUP (ctrlc's `termination` feature): the first
/// one cancels the running job (it stops at its next chunk with
/// [`parframe::Error::Cancelled`], and the command returns through the
/// normal path, which removes the spill files and any temporary output);
/// with no job running, or at a second signal, the process removes the
/// spill directory and the temporary output files itself and exits 130 at
/// once.
fn on_ctrl_c() {
    let again = INTERRUPTED.swap(true, Ordering::SeqCst);
    let ctx = RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match ctx {
        Some(ctx) if !again => ctx.cancel(),
        Some(ctx) => {
            ctx.cancel();
            parframe::remove_unfinished_outputs();
            if let Ok(dir) = ctx.spill_dir() {
                dir.remove_now();
            }
            eprintln!("interrupted");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        None => {
            parframe::remove_unfinished_outputs();
            eprintln!("interrupted");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    }
}

/// Whether `e` is a job cancelled by [`Context::cancel`].
fn is_cancelled(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<parframe::Error>(),
            Some(parframe::Error::Cancelled)
        )
    })
}

/// Runs the command line; the process's exit code: 0 success (also when
/// the reader of stdout went away: `parframe ... | head`), 1 query or data
/// error, 2 usage error, 130 interrupted by Ctrl-C, SIGTERM or SIGHUP.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = ctrlc::set_handler(on_ctrl_c) {
        eprintln!("warning: cannot handle Ctrl-C: {e}");
    }
    let result = run(&cli);
    if INTERRUPTED.load(Ordering::SeqCst) || result.as_ref().is_err_and(is_cancelled) {
        eprintln!("interrupted");
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let usage = e.downcast_ref::<UsageError>().is_some();
            eprintln!("error: {e:#}");
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// What every command shares: the context, the progress bar, verbosity.
struct Env {
    ctx: Context,
    progress: Arc<ProgressUi>,
    verbose: bool,
    quiet: bool,
}

impl Drop for Env {
    fn drop(&mut self) {
        // Let the context (and its spill directory) go with this Env.
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

impl Env {
    /// The environment of `cli`; `default_memory` is the memory limit in
    /// bytes when `--memory-limit` is not given (`None`: the library's).
    fn new(cli: &Cli, default_memory: Option<u64>) -> anyhow::Result<Env> {
        let progress = ProgressUi::new(!cli.quiet && std::io::stderr().is_terminal());
        let mut b = Context::builder();
        if let Some(t) = cli.threads {
            b = b.threads(t);
        }
        if let Some(n) = cli.chunk_rows {
            b = b.chunk_rows(n);
        }
        if cli.no_late_materialization {
            b = b.late_materialization(false);
        }
        match (&cli.memory_limit, default_memory) {
            (Some(m), _) => b = b.memory_limit_str(m)?,
            (None, Some(bytes)) => b = b.memory_limit(bytes),
            (None, None) => {}
        }
        if let Some(d) = &cli.spill_dir {
            if !d.is_dir() {
                return Err(UsageError(format!(
                    "--spill-dir '{}' is not a directory",
                    d.display()
                ))
                .into());
            }
            b = b.spill_dir(d);
        }
        // Spill directories that killed runs left behind go now, whether
        // or not this run spills.
        let parent = cli.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
        parframe::SpillDir::remove_stale_in(parent);
        let p = progress.clone();
        b = b.on_progress(move |x| p.update(x));
        let ctx = b.build()?;
        if INTERRUPTED.load(Ordering::SeqCst) {
            ctx.cancel();
        }
        *RUNNING.lock().unwrap_or_else(PoisonError::into_inner) = Some(ctx.clone());
        Ok(Env {
            ctx,
            progress,
            verbose: cli.verbose,
            quiet: cli.quiet,
        })
    }

    /// A message on stderr (not with --quiet).
    fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// Runs a plan into the output, with the plan and timings under -v.
    fn run_plan(
        &self,
        lf: &LazyFrame,
        out: &OutputSpec,
        planned_in: Duration,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        let result = write_result(lf, out);
        self.progress.finish();
        let (rows, stats) = match result {
            Ok(r) => r,
            Err(e) => {
                if self.verbose {
                    eprintln!("plan:\n{}", lf.explain().trim_end());
                }
                return Err(e);
            }
        };
        let took = start.elapsed();
        if let Some(path) = &out.output {
            self.note(format!(
                "{} rows written to {} in {}",
                group_digits(rows),
                path.display(),
                secs(took)
            ));
        }
        if self.verbose {
            // Each operator with its rows, time, reservation and spills.
            eprintln!("plan:\n{}", lf.explain_stats(&stats).trim_end());
            let pool = self.ctx.memory_pool();
            let spilled = self.ctx.spill_stats();
            eprintln!(
                "timings: planning {}, execution {}; {} rows; memory peak {} of {} limit; \
                 spilled {} files, {}; {} threads",
                secs(planned_in),
                secs(took),
                group_digits(rows),
                format_bytes(pool.peak()),
                format_bytes(pool.limit()),
                spilled.files,
                format_bytes(spilled.bytes),
                self.ctx.config().threads
            );
        }
        Ok(())
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn spec(out: &OutputArgs) -> OutputSpec {
    OutputSpec {
        format: out.format,
        output: out.output.clone(),
        max_rows: out.max_rows,
    }
}

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let default_memory = match &cli.command {
        Command::Demo(args) => Some(demo_memory_limit(args.rows)),
        _ => None,
    };
    let env = Env::new(cli, default_memory)?;
    match &cli.command {
        Command::Sql(args) => {
            let start = Instant::now();
            let query = if args.query == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| anyhow::anyhow!("cannot read the query from stdin: {e}"))?;
                s
            } else {
                args.query.clone()
            };
            for (name, path) in &args.tables {
                env.ctx
                    .register_file(name, path)
                    .map_err(|e| anyhow::anyhow!("--table {name}={path}: {e:#}"))?;
            }
            let lf = env.ctx.sql(&query)?;
            env.run_plan(&lf, &spec(&args.out), start.elapsed())
        }
        Command::Schema { file } => {
            let src = open_input(&cli.csv, file)?;
            for f in src.schema().fields() {
                let null = if f.is_nullable() { "" } else { " not null" };
                outln!("{}: {}{null}", f.name(), f.data_type())?;
            }
            Ok(())
        }
        Command::Head { file, n, out } => {
            let start = Instant::now();
            let lf = env.ctx.scan(open_input(&cli.csv, file)?).head(*n);
            let mut s = spec(out);
            s.max_rows = s.max_rows.max(*n);
            env.run_plan(&lf, &s, start.elapsed())
        }
        Command::Count { file } => {
            let src = open_input(&cli.csv, file)?;
            let first = src.schema().fields().first().map(|f| f.name().clone());
            let lf = env.ctx.scan(src);
            let lf = match first {
                Some(c) => lf.select([col(c)])?,
                None => lf,
            };
            if env.verbose {
                eprintln!("plan:\n{}", lf.explain().trim_end());
            }
            let mut rows = 0u64;
            let result = (|| -> anyhow::Result<()> {
                for b in lf.stream()? {
                    rows += b?.num_rows() as u64;
                }
                Ok(())
            })();
            env.progress.finish();
            result?;
            outln!("{rows}")?;
            Ok(())
        }
        Command::Gen {
            dataset: GenDataset::Groupby(args),
        } => {
            let path = gen_groupby(args, &env)?;
            outln!("{}", path.display())?;
            Ok(())
        }
        Command::Gen {
            dataset: GenDataset::Join(args),
        } => {
            for path in gen_join(args, &env)? {
                outln!("{}", path.display())?;
            }
            Ok(())
        }
        Command::Gen {
            dataset: GenDataset::Tpch(args),
        } => {
            for path in gen_tpch(args, &env)? {
                outln!("{}", path.display())?;
            }
            Ok(())
        }
        Command::Demo(args) => demo(args, &env),
    }
}

/// Writes a G1 table chunk by chunk (constant memory); returns its path.
fn gen_groupby(args: &GenArgs, env: &Env) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(&args.out).map_err(|e| parframe::Error::io(&args.out, e))?;
    let name = g1_name(args.rows, args.k, args.nas);
    let path = args.out.join(format!("{name}.{}", args.format.extension()));
    let took = write_g1(
        &G1::new(args.rows, args.k)
            .null_fraction(f64::from(args.nas) / 100.0)
            .seed(args.seed),
        &path,
        args.format,
        args.parquet.options(),
        env,
    )?;
    env.note(format!(
        "generated {} rows ({} groups, {}% nulls) into {} in {}",
        group_digits(args.rows as u64),
        args.k,
        args.nas,
        path.display(),
        secs(took)
    ));
    Ok(path)
}

/// Writes the four J1 tables chunk by chunk (constant memory); returns
/// their paths, x first.
fn gen_join(args: &GenJoinArgs, env: &Env) -> anyhow::Result<Vec<PathBuf>> {
    if args.rows < 1000 {
        anyhow::bail!(
            "gen join needs --rows of at least 1000 (got {}): the medium and big tables \
             would have the same size and name",
            args.rows
        );
    }
    std::fs::create_dir_all(&args.out).map_err(|e| parframe::Error::io(&args.out, e))?;
    let j = J1::new(args.rows)
        .null_fraction(f64::from(args.nas) / 100.0)
        .seed(args.seed);
    let mut paths = Vec::new();
    for table in J1Table::ALL {
        let name = table.name(args.rows, args.nas);
        let path = args.out.join(format!("{name}.{}", args.format.extension()));
        let chunks = j.chunks(table)?;
        let (schema, rows) = (chunks.schema(), chunks.total_rows());
        let took = write_chunks(
            chunks,
            schema,
            rows,
            &path,
            args.format,
            args.parquet.options(),
            env,
        )?;
        env.note(format!(
            "generated {} rows into {} in {}",
            group_digits(rows as u64),
            path.display(),
            secs(took)
        ));
        paths.push(path);
    }
    Ok(paths)
}

/// Writes the eight TPC-H tables chunk by chunk; returns their paths,
/// smallest table first.
fn gen_tpch(args: &GenTpchArgs, env: &Env) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&args.out).map_err(|e| parframe::Error::io(&args.out, e))?;
    let sf = args.scale_factor;
    let mut paths = Vec::new();
    for table in TpchTable::ALL {
        let path = args
            .out
            .join(format!("{}.{}", table.name(), args.format.extension()));
        // lineitem has 1 to 7 lines per order: the progress bar counts 4.
        let expected = table
            .rows(sf)
            .unwrap_or_else(|| 4 * TpchTable::Orders.rows(sf).unwrap_or(0));
        let chunks = tpch::chunks(table, sf, 64 * 1024);
        let took = write_chunks(
            chunks,
            table.schema(),
            expected as usize,
            &path,
            args.format,
            args.parquet.options(),
            env,
        )?;
        env.note(format!(
            "generated {} at scale factor {sf} into {} in {}",
            table.name(),
            path.display(),
            secs(took)
        ));
        paths.push(path);
    }
    Ok(paths)
}

/// Streams `g` into `path`; returns how long it took.
fn write_g1(
    g: &G1,
    path: &Path,
    format: GenFormat,
    parquet: ParquetWriteOptions,
    env: &Env,
) -> anyhow::Result<Duration> {
    let chunks = g.chunks();
    let schema = chunks.schema();
    write_chunks(chunks, schema, g.rows, path, format, parquet, env)
}

/// Streams `chunks` (of `rows` rows in all) into `path`, one chunk in
/// memory at a time; returns how long it took.
fn write_chunks(
    chunks: impl Iterator<Item = parframe::Result<parframe::arrow::RecordBatch>>,
    schema: parframe::arrow::schema::SchemaRef,
    rows: usize,
    path: &Path,
    format: GenFormat,
    parquet: ParquetWriteOptions,
    env: &Env,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let options = WriteOptions {
        parquet,
        ..WriteOptions::for_path(path)
    };
    let mut sink = format.file_format().create_sink(path, schema, &options)?;
    let mut done = 0u64;
    for chunk in chunks {
        let chunk = chunk?;
        sink.write(&chunk)?;
        done += chunk.num_rows() as u64;
        env.progress.set(
            done,
            rows as u64,
            format!("rows generated into {}", path.display()),
        );
    }
    sink.finish()?;
    env.progress.finish();
    Ok(start.elapsed())
}

/// `datasets/generated` of the parframe repository when the current
/// directory is inside it, else a folder in the OS temp dir.
fn default_demo_dir() -> PathBuf {
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let manifest = dir.join("Cargo.toml");
            if let Ok(text) = std::fs::read_to_string(&manifest)
                && text.contains("[workspace]")
                && text.contains("crates/parframe")
            {
                return dir.join("datasets").join("generated");
            }
        }
    }
    std::env::temp_dir().join("parframe-demo")
}

fn demo(args: &DemoArgs, env: &Env) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(default_demo_dir);
    std::fs::create_dir_all(&dir).map_err(|e| parframe::Error::io(&dir, e))?;
    let path = dir.join(format!("{}.parquet", g1_name(args.rows, args.k, 0)));
    let ctx = &env.ctx;
    outln!(
        "parframe demo: db-benchmark group-by table, {} rows, {} groups; {} threads, memory limit {} \
         (--memory-limit to change)",
        group_digits(args.rows as u64),
        args.k,
        ctx.config().threads,
        format_bytes(ctx.config().memory_limit)
    )?;
    if path.exists() {
        outln!("data: {} (exists; delete it to regenerate)", path.display())?;
    } else {
        let took = write_g1(
            &G1::new(args.rows, args.k),
            &path,
            GenFormat::Parquet,
            ParquetWriteOptions::default(),
            env,
        )?;
        outln!("data: generated {} in {}", path.display(), secs(took))?;
    }
    let lf = ctx.scan_parquet(&path)?;
    let total = Instant::now();
    let questions: Vec<(&str, &str, LazyFrame)> = vec![
        (
            "q1",
            "sum v1 by id1",
            lf.group_by([col("id1")]).sorted(true).agg([sum("v1")])?,
        ),
        (
            "q2",
            "sum v1 by id1:id2",
            lf.group_by([col("id1"), col("id2")])
                .sorted(true)
                .agg([sum("v1")])?,
        ),
        (
            "q3",
            "sum v1 mean v3 by id3",
            lf.group_by([col("id3")])
                .sorted(true)
                .agg([sum("v1"), mean("v3")])?,
        ),
        (
            "q5",
            "sum v1:v3 by id6",
            lf.group_by([col("id6")])
                .sorted(true)
                .agg([sum("v1"), sum("v2"), sum("v3")])?,
        ),
        (
            "q10",
            "sum v3 count by id1:id6",
            lf.group_by(["id1", "id2", "id3", "id4", "id5", "id6"].map(col))
                .agg([sum("v3"), count_rows()])?,
        ),
    ];
    for (q, what, plan) in &questions {
        run_demo_step(env, &format!("{q}: {what}"), plan)?;
    }

    // A sort of the whole table (when the sort operator exists).
    let key = SortKey::desc("v3").nulls_last(true);
    match lf.sort([key.clone()]) {
        Ok(sorted) => run_demo_step(
            env,
            "sort: the whole table by v3 descending (streamed; first and last rows)",
            &sorted,
        )?,
        Err(e) => outln!("\nsort: skipped ({e})")?,
    }
    match lf.top_k([key], 5) {
        Ok(top) => run_demo_step(env, "top-k: ORDER BY v3 DESC LIMIT 5", &top)?,
        Err(e) => outln!("\ntop-k: skipped ({e})")?,
    }

    // A derived column by a plain Rust closure, then a group-by over it.
    let derived = lf
        .apply_with(
            "v3_per_v1",
            ["v3", "v1"],
            RowOptions::default().skip_nulls(true),
            |(v3, v1): (f64, i64)| v3 / v1 as f64,
        )?
        .group_by([col("id1")])
        .sorted(true)
        .agg([mean("v3_per_v1")])?;
    run_demo_step(
        env,
        "apply: v3_per_v1 = v3 / v1 by a Rust closure, mean by id1",
        &derived,
    )?;

    let pool = ctx.memory_pool();
    let spilled = ctx.spill_stats();
    outln!(
        "\ntotal {} for the queries; memory: peak {} reserved of a {} limit; spilled {} files, \
         {} ({} rows)",
        secs(total.elapsed()),
        format_bytes(pool.peak()),
        format_bytes(pool.limit()),
        spilled.files,
        format_bytes(spilled.bytes),
        group_digits(spilled.rows)
    )?;
    Ok(())
}

/// The demo's memory limit when none is given: about a quarter of the
/// table's size in memory (~90 bytes a row), so the sort spills, within
/// [64 MiB, 1 GiB].
fn demo_memory_limit(rows: usize) -> u64 {
    (rows as u64).saturating_mul(24).clamp(64 << 20, 1 << 30)
}

fn run_demo_step(env: &Env, title: &str, lf: &LazyFrame) -> anyhow::Result<()> {
    if env.verbose {
        eprintln!("plan:\n{}", lf.explain().trim_end());
    }
    let start = Instant::now();
    // Streamed: only the first and last rows are kept, whatever the size.
    let mut window = HeadTail::new(lf.schema(), 6);
    let result = (|| -> anyhow::Result<()> {
        for b in lf.stream()? {
            window.push(b?);
        }
        Ok(())
    })();
    env.progress.finish();
    result?;
    outln!(
        "\n{title}: {} rows in {}",
        group_digits(window.total()),
        secs(start.elapsed())
    )?;
    outln!("{}", window.render()?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("1e7"), Ok(10_000_000));
        assert_eq!(parse_count("2e4"), Ok(20_000));
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("-3").is_err());
        assert!(parse_table("a=b.csv").is_ok());
        assert!(parse_table("a").is_err());
        assert!(parse_memory("512MiB").is_ok());
        assert!(parse_memory("lots").is_err());
        assert!(parse_threads("0").is_err());
    }
}
