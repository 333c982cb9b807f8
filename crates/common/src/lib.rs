//! Shared foundations of parframe: the one [`Error`] enum with its [`Result`]
//! alias, the bail macros, and byte-size parsing used by configuration.
//!
//! Every other parframe crate reports failures through [`Error`], so a user
//! matches on one type whichever layer failed.
//!
//! ```
//! use parframe_common::{parse_byte_size, Error, Result};
//!
//! fn budget(s: &str) -> Result<u64> {
//!     parse_byte_size(s)
//! }
//! assert_eq!(budget("512MiB").unwrap(), 512 * 1024 * 1024);
//! assert!(matches!(budget("lots"), Err(Error::InvalidArgument(_))));
//! ```
#![deny(missing_docs)]

mod error;
#[cfg(feature = "fuzz")]
pub mod fuzz;
mod panic;
mod size;

pub use error::{Error, Result, column_not_found};
pub use panic::panic_message;
pub use size::{ByteSize, format_bytes, parse_byte_size};
