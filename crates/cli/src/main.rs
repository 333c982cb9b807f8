//! `parframe`: a thin command-line shell over the parframe library.
//!
//! Commands: `sql QUERY`, `schema FILE`, `head FILE`, `count FILE`,
//! `gen groupby`, `demo`. Exit codes: 0 success, 1 query or data error,
//! 2 usage error, 130 interrupted (Ctrl-C cancels the running job and
//! removes its spill files).
#![deny(missing_docs)]

use std::process::ExitCode;

fn main() -> ExitCode {
    parframe_cli::app::main()
}
