//! The `parframe` command-line tool, as a library so its parts can be
//! tested: [`sql`] plans SQL onto the lazy API, [`output`] writes results,
//! [`progress`] draws the progress bar and [`app`] is the command line.
#![deny(missing_docs)]

pub mod app;
pub mod output;
pub mod progress;
pub mod sql;
