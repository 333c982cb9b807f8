//! Integration tests of parframe-spill: one binary, one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;
mod disk_full;
mod fuzz;
mod integrity;
mod lifecycle;
mod proptests;
mod round_trip;
