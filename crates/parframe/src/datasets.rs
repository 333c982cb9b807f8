//! Seeded generators of benchmark datasets, streamed chunk by chunk so
//! that tables larger than memory can be written to files.
//!
//! - [`G1`]: the h2o.ai db-benchmark group-by table `G1_<N>_<K>_<nas>_0`;
//! - [`J1`]: the db-benchmark join tables `J1_<N>_<NA|n>_<nas>_0` (module
//!   [`join`]);
//! - TPC-H at a scale factor through the `tpchgen` crates (module `tpch`,
//!   with the `tpch` feature).
//!
//! `datasets/README.md` in the repository documents each dataset and the
//! `parframe gen` commands that write them.
//!
//! ## G1
//!
//! Columns: `id1`, `id2` = strings `id001`..`id<K>` drawn uniformly
//! (zero-padded to 3 digits); `id3` = strings `id0000000001`..`id<N/K>`
//! (zero-padded to 10 digits); `id4`, `id5` = ints `1..=K`; `id6` = ints
//! `1..=N/K`; `v1` = ints `1..=5`; `v2` = ints `1..=15`; `v3` = uniform
//! `[0, 100)` rounded to 6 decimals. Integers are `Int64`, strings `Utf8`.
//!
//! The generator is an iterator of chunks ([`G1::chunks`]), so a table
//! larger than memory can be streamed to a file chunk by chunk; [`g1`]
//! gathers it into a [`Table`].
//!
//! ```
//! let t = parframe::datasets::g1(1000, 10, 0.0, 42, 256).unwrap();
//! assert_eq!(t.num_rows(), 1000);
//! assert_eq!(t.column_names(), vec!["id1", "id2", "id3", "id4", "id5", "id6", "v1", "v2", "v3"]);
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

use parframe_core::Table;
use parframe_core::arrow::array::builder::StringBuilder;
use parframe_core::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use parframe_core::arrow::schema::{DataType, Field, Schema};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Result;

pub mod join;
#[cfg(feature = "tpch")]
pub mod tpch;

pub use join::{J1, J1Chunks, J1Table};

/// `10000000` as `1e7`, `2000` as `2e3`, `1234` as `1234e0`: the
/// db-benchmark spelling of a count in file names.
pub(crate) fn sci(x: usize) -> String {
    let mut exp = 0;
    let mut m = x;
    while m >= 10 && m.is_multiple_of(10) {
        m /= 10;
        exp += 1;
    }
    format!("{m}e{exp}")
}

/// The db-benchmark name of a G1 table: `G1_1e7_1e2_0_0` for 10^7 rows,
/// 100 groups, no nulls (`nas_pct` percent nulls), unsorted.
pub fn g1_name(rows: usize, k: usize, nas_pct: u32) -> String {
    format!("G1_{}_{}_{nas_pct}_0", sci(rows), sci(k))
}

/// The schema of G1 tables.
pub fn g1_schema() -> Arc<Schema> {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let i = |n: &str| Field::new(n, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        s("id1"),
        s("id2"),
        s("id3"),
        i("id4"),
        i("id5"),
        i("id6"),
        i("v1"),
        i("v2"),
        Field::new("v3", DataType::Float64, true),
    ]))
}

/// A G1 generator: the parameters of one table. The same parameters give
/// the same chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct G1 {
    /// Rows in total.
    pub rows: usize,
    /// Groups of the small keys (`id1`, `id2`, `id4`, `id5`); at least 1.
    pub k: usize,
    /// Probability that a value is null, in `[0, 1]`.
    pub null_fraction: f64,
    /// The random seed.
    pub seed: u64,
    /// Rows per chunk; at least 1.
    pub chunk_rows: usize,
}

impl G1 {
    /// A generator of `rows` rows and `k` groups, no nulls, seed 42, chunks
    /// of 128 Ki rows.
    pub fn new(rows: usize, k: usize) -> Self {
        G1 {
            rows,
            k,
            null_fraction: 0.0,
            seed: 42,
            chunk_rows: 128 * 1024,
        }
    }

    /// Sets the probability that a value is null.
    pub fn null_fraction(mut self, f: f64) -> Self {
        self.null_fraction = f;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the rows per chunk.
    pub fn chunk_rows(mut self, n: usize) -> Self {
        self.chunk_rows = n;
        self
    }

    /// The chunks, generated one at a time as the iterator is pulled.
    pub fn chunks(&self) -> G1Chunks {
        let k = self.k.max(1);
        let nk = (self.rows / k).max(1);
        G1Chunks {
            schema: g1_schema(),
            small: (1..=k).map(|i| format!("id{i:03}")).collect(),
            rng: ChaCha8Rng::seed_from_u64(self.seed),
            left: self.rows,
            chunk_rows: self.chunk_rows.max(1),
            null_fraction: self.null_fraction,
            k: k as i64,
            nk: nk as i64,
        }
    }

    /// The whole table in memory.
    pub fn table(&self) -> Result<Table> {
        let chunks = self.chunks().collect::<Result<Vec<_>>>()?;
        Table::try_new(g1_schema(), chunks)
    }
}

/// The chunks of a [`G1`] table (see [`G1::chunks`]).
#[derive(Debug)]
pub struct G1Chunks {
    schema: Arc<Schema>,
    /// The `k` labels of `id1`, `id2`; `id3`'s `N/K` labels are formatted
    /// as drawn (holding them would take memory in proportion to `N`).
    small: Vec<String>,
    rng: ChaCha8Rng,
    left: usize,
    chunk_rows: usize,
    null_fraction: f64,
    k: i64,
    nk: i64,
}

impl G1Chunks {
    /// The schema of every chunk.
    pub fn schema(&self) -> Arc<Schema> {
        self.schema.clone()
    }

    fn next_chunk(&mut self, n: usize) -> Result<RecordBatch> {
        let null_fraction = self.null_fraction;
        let null =
            |rng: &mut ChaCha8Rng| null_fraction > 0.0 && rng.random_bool(null_fraction.min(1.0));
        let strings = |labels: &[String], rng: &mut ChaCha8Rng| -> ArrayRef {
            let a: StringArray = (0..n)
                .map(|_| {
                    let v = &labels[rng.random_range(0..labels.len())];
                    (!null(rng)).then_some(v.as_str())
                })
                .collect();
            Arc::new(a)
        };
        let rng = &mut self.rng;
        let id1 = strings(&self.small, rng);
        let id2 = strings(&self.small, rng);
        let id3 = {
            let mut b = StringBuilder::with_capacity(n, n * 12);
            let mut text = String::with_capacity(12);
            for _ in 0..n {
                // The same draws as picking from a list of the labels.
                let i = rng.random_range(0..self.nk as usize) + 1;
                if null(rng) {
                    b.append_null();
                } else {
                    text.clear();
                    // Writing to a String cannot fail.
                    let _ = write!(text, "id{i:010}");
                    b.append_value(&text);
                }
            }
            Arc::new(b.finish()) as ArrayRef
        };
        let ints = |hi: i64, rng: &mut ChaCha8Rng| -> ArrayRef {
            let a: Int64Array = (0..n)
                .map(|_| {
                    let v = rng.random_range(1..=hi);
                    (!null(rng)).then_some(v)
                })
                .collect();
            Arc::new(a)
        };
        let id4 = ints(self.k, rng);
        let id5 = ints(self.k, rng);
        let id6 = ints(self.nk, rng);
        let v1 = ints(5, rng);
        let v2 = ints(15, rng);
        let v3: Float64Array = (0..n)
            .map(|_| {
                let v = (rng.random_range(0.0..100.0f64) * 1e6).round() / 1e6;
                let v = if v >= 100.0 { 99.999999 } else { v };
                (!null(rng)).then_some(v)
            })
            .collect();
        Ok(RecordBatch::try_new(
            self.schema.clone(),
            vec![id1, id2, id3, id4, id5, id6, v1, v2, Arc::new(v3)],
        )?)
    }
}

impl Iterator for G1Chunks {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let n = self.left.min(self.chunk_rows);
        self.left -= n;
        Some(self.next_chunk(n))
    }
}

/// Generates G1 with `rows` rows and `k` groups (`k >= 1`), each value null
/// with probability `null_fraction`, in chunks of `chunk_rows`; the same
/// `seed` and `chunk_rows` give the same table.
pub fn g1(
    rows: usize,
    k: usize,
    null_fraction: f64,
    seed: u64,
    chunk_rows: usize,
) -> Result<Table> {
    G1 {
        rows,
        k,
        null_fraction,
        seed,
        chunk_rows,
    }
    .table()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_determinism() {
        assert_eq!(g1_name(10_000_000, 100, 0), "G1_1e7_1e2_0_0");
        let a = g1(500, 10, 0.1, 3, 128).unwrap();
        let b = g1(500, 10, 0.1, 3, 128).unwrap();
        assert_eq!(a.to_batch().unwrap(), b.to_batch().unwrap());
        assert_eq!(a.num_chunks(), 4);
        let id3 = a.column("id3").unwrap();
        assert!(id3.null_count() > 0);
        let streamed: usize = G1::new(500, 10)
            .chunk_rows(128)
            .chunks()
            .map(|c| c.unwrap().num_rows())
            .sum();
        assert_eq!(streamed, 500);
    }
}
