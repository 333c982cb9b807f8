//! Integration tests of parframe-io: round trips, CSV options, errors,
//! sinks and multi-file sources.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod csv_options;
mod dataset;
mod errors;
mod formats;
mod fuzz;
mod late;
mod multi;
mod props;
mod roundtrip;
mod sinks;
#[cfg(feature = "object-store")]
mod urls;
