//! `parframe`: a thin command-line shell over the parframe library.
//!
//! Commands: `sql QUERY`, `schema FILE`, `head FILE`, `count FILE`,
//! `gen groupby`, `demo`. Exit codes: 0 success, 1 query or data error,
//! 2 usage error, 130 interrupted (Ctrl-C cancels the running job and
//! removes its spill files).
#![deny(missing_docs)]

use std::process::ExitCode;

/// jemalloc, configured in `.cargo/config.toml` to give freed pages back
/// within 100 ms, rather than the system allocator: glibc's malloc raises its mmap
/// threshold after large frees and then serves multi-megabyte Arrow buffers
/// from heaps it rarely returns, so a job that frees a sort run or a hash
/// table keeps that memory resident and passes its budget. Measured on a
/// 10^7-row sort under a 192 MiB limit: ~300 MB resident with glibc (OOM
/// killed in a 256 MiB cgroup), ~200 MB with jemalloc (completes there).
/// mimalloc v2 and v3 with their default purge delays kept 300-440 MB.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    parframe_cli::app::main()
}
