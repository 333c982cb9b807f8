//! End-to-end tests of the parframe facade: files in, plans, files out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod datasets;
mod deep;
mod errors;
mod fixtures;
mod joins;
mod newcomer;
#[cfg(feature = "polars")]
mod polars;
mod props;
mod s3;
mod s3_server;
mod streaming;
// Needs the TPC-H generator (the `tpch` feature, on in `cargo test --workspace`
// through the CLI).
#[cfg(feature = "tpch")]
mod tpch_types;
