//! Integration tests of parframe-exec: one binary, one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod api;
mod apply;
mod collect;
mod groupby;
mod optimizer;
mod plan;
mod reshape;
mod sort;
mod stats;
mod window;
