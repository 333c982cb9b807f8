//! The h2o.ai db-benchmark group-by data: table `G1_<N>_<K>`.
//!
//! The generator lives in the facade, [`parframe::datasets`] (so the CLI's
//! `parframe gen` uses it too); this module re-exports it.
//!
//! ```
//! let t = parframe_bench::groupby_data::g1(1000, 10, 0.0, 42, 256).unwrap();
//! assert_eq!(t.num_rows(), 1000);
//! assert_eq!(t.column_names(), vec!["id1", "id2", "id3", "id4", "id5", "id6", "v1", "v2", "v3"]);
//! ```

pub use parframe::datasets::{G1, G1Chunks, g1, g1_name, g1_schema};
