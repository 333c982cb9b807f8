//! The `parframe` command-line tool, as a library so its parts can be
//! tested: [`output`] writes results, [`progress`] draws the progress bar
//! and [`app`] is the command line. SQL is `parframe-sql` (`ctx.sql`).
#![deny(missing_docs)]

pub mod app;
pub mod output;
pub mod progress;
