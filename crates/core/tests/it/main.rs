//! Integration tests of parframe-core, one binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod case;
mod common;
mod compile_fail;
mod expr;
mod expr_props;
