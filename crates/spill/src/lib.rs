//! Memory accounting for parframe: a [`MemoryPool`] with a hard limit and
//! RAII [`Reservation`]s that operators grow before they hold data.
//!
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
#![deny(missing_docs)]

mod pool;

pub use pool::{MemoryPool, Reservation};
