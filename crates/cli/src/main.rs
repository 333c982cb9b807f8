//! `parframe`: a thin command-line shell over the parframe library.
//!
//! Commands so far: `schema FILE`, `head FILE [-n N]`, `count FILE`. Files
//! are CSV, Parquet or Arrow IPC, chosen by extension.
#![deny(missing_docs)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use parframe::{Context, open_source};

/// Parallel, memory-bounded dataframes on Apache Arrow.
#[derive(Parser)]
#[command(name = "parframe", version, about)]
struct Cli {
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Memory limit: 512MiB, 4GB, 70%.
    #[arg(long, global = true)]
    memory_limit: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the schema of a file.
    Schema {
        /// A .csv, .tsv, .parquet or .arrow/.ipc file.
        file: PathBuf,
    },
    /// Print the first rows of a file.
    Head {
        /// A .csv, .tsv, .parquet or .arrow/.ipc file.
        file: PathBuf,
        /// Number of rows.
        #[arg(short, default_value_t = 10)]
        n: usize,
    },
    /// Count the rows of a file (reading it in parallel).
    Count {
        /// A .csv, .tsv, .parquet or .arrow/.ipc file.
        file: PathBuf,
    },
}

fn context(cli: &Cli) -> parframe::Result<Context> {
    let mut b = Context::builder();
    if let Some(t) = cli.threads {
        b = b.threads(t);
    }
    if let Some(m) = &cli.memory_limit {
        b = b.memory_limit_str(m)?;
    }
    b.build()
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let ctx = context(cli)?;
    match &cli.command {
        Command::Schema { file } => {
            let src = open_source(file)?;
            for f in src.schema().fields() {
                let null = if f.is_nullable() { "" } else { " not null" };
                println!("{}: {}{null}", f.name(), f.data_type());
            }
        }
        Command::Head { file, n } => {
            let t = ctx.scan(open_source(file)?).head(*n).collect()?;
            println!("{}", t.pretty()?);
        }
        Command::Count { file } => {
            let src: Arc<dyn parframe::ChunkSource> = open_source(file)?;
            let first = src.schema().fields().first().map(|f| f.name().clone());
            let lf = ctx.scan(src);
            let lf = match first {
                Some(c) => lf.select([parframe::col(c)])?,
                None => lf,
            };
            let mut rows = 0u64;
            for b in lf.stream()? {
                rows += b?.num_rows() as u64;
            }
            println!("{rows}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
