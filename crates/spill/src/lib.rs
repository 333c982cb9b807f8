//! Memory accounting and spill storage for parframe: a [`MemoryPool`] with a
//! hard limit and RAII [`Reservation`]s that operators grow before they hold
//! data, and the spill files they write when a reservation cannot grow.
//!
//! # Memory budget
//! An operator asks its reservation for bytes with
//! [`Reservation::try_grow`]; when that fails it spills and retries.
//! Dropping a reservation gives its bytes back, so an error path can never
//! leak budget.
//!
//! ```
//! use parframe_spill::MemoryPool;
//!
//! let pool = MemoryPool::new(1000);
//! let mut r = pool.reservation("hash aggregate");
//! r.try_grow(600).unwrap();
//! assert!(r.try_grow(600).is_err()); // over budget: the operator spills
//! r.shrink(600);
//! drop(r);
//! assert_eq!(pool.used(), 0);
//! assert_eq!(pool.peak(), 600);
//! ```
//!
//! # Spilling
//! A [`SpillDir`] is a private per-process directory, removed with its
//! contents when dropped. [`SpillDir::new_file`] gives a [`SpillWriter`]
//! that writes record batches as an uncompressed, 64-byte aligned Arrow IPC
//! file; [`SpillWriter::finish`] gives a [`SpillFile`], which owns the file
//! and removes it when dropped. [`SpillFile::read`] checks the file's length
//! and checksum, maps it into memory, and returns a [`SpillReader`] whose
//! batches point into the map: nothing is copied, and the OS pages the data
//! in and out as it is used.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
//! use parframe_spill::SpillDir;
//!
//! let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]));
//! let names: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c"]));
//! let batch = RecordBatch::try_from_iter([("id", ids), ("name", names)]).unwrap();
//!
//! let dir = SpillDir::new().unwrap();
//! let mut writer = dir.new_file("example", batch.schema()).unwrap();
//! writer.write(&batch).unwrap();
//! writer.write(&batch).unwrap();
//! let file = writer.finish().unwrap();
//! assert_eq!((file.rows(), file.num_batches()), (6, 2));
//! assert_eq!(dir.live().files, 1);
//!
//! for read in file.read().unwrap() {
//!     assert_eq!(read.unwrap(), batch);
//! }
//! drop(file); // removes the file
//! assert_eq!(dir.live().files, 0);
//! assert_eq!(dir.stats().rows, 6);
//! ```
//!
//! # Safety
//! This is the only parframe crate with `unsafe` code, all of it in one
//! private module that memory-maps finished spill files. A map is only sound
//! while nobody modifies the mapped file; spill files are created
//! exclusively by this process in its private directory and never written
//! again after [`SpillWriter::finish`], which is what makes mapping them
//! sound. See [`SpillFile::read`].
#![deny(missing_docs)]

mod dir;
mod file;
mod mmap;
mod pool;
mod reader;
mod views;
mod writer;

pub use dir::{SpillDir, SpillStats};
pub use file::SpillFile;
pub use pool::{MemoryPool, Reservation};
pub use reader::SpillReader;
pub use views::{compact_views, view_bytes};
pub use writer::SpillWriter;
