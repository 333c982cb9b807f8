//! Shared pieces of parframe's benchmarks: seeded data generators and the
//! reference kernels the benches compare against.
//!
//! ```
//! let t = parframe_bench::coordinates(1000, 256, 42).unwrap();
//! assert_eq!(t.num_rows(), 1000);
//! assert_eq!(t.num_chunks(), 4);
//! ```
#![deny(missing_docs)]

pub mod chart;
pub mod checksum;
pub mod groupby_data;

use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parframe::{Result, Table};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mean Earth radius in kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km between two points given in degrees.
#[inline]
pub fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

/// A table `lat1, lon1, lat2, lon2` of `rows` random coordinates (degrees),
/// in chunks of `chunk_rows`, the same for the same `seed`.
pub fn coordinates(rows: usize, chunk_rows: usize, seed: u64) -> Result<Table> {
    let schema = Arc::new(Schema::new(
        ["lat1", "lon1", "lat2", "lon2"]
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, false))
            .collect::<Vec<_>>(),
    ));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chunks = Vec::new();
    let mut left = rows;
    while left > 0 {
        let n = left.min(chunk_rows.max(1));
        let mut col = |range: f64| -> Arc<dyn arrow_array::Array> {
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|_| rng.random_range(-range..range)),
            ))
        };
        let cols = vec![col(90.0), col(180.0), col(90.0), col(180.0)];
        chunks.push(RecordBatch::try_new(schema.clone(), cols)?);
        left -= n;
    }
    Table::try_new(schema, chunks)
}

/// The hand-written baseline: one loop over the raw `f64` slices of each
/// chunk, producing one `Float64Array` per chunk, on the calling thread.
pub fn haversine_hand_loop(t: &Table) -> Vec<Float64Array> {
    t.chunks()
        .iter()
        .map(|c| {
            let col = |i: usize| -> &[f64] {
                c.column(i)
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .map(|a| a.values().as_ref())
                    .unwrap_or(&[])
            };
            let (a, b, d, e) = (col(0), col(1), col(2), col(3));
            let out: Vec<f64> = a
                .iter()
                .zip(b)
                .zip(d)
                .zip(e)
                .map(|(((a, b), d), e)| haversine(*a, *b, *d, *e))
                .collect();
            Float64Array::from(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn haversine_known_distance() {
        // Paris to London is about 344 km.
        let d = haversine(48.8566, 2.3522, 51.5074, -0.1278);
        assert!((d - 343.5).abs() < 1.0, "{d}");
        assert_eq!(haversine(10.0, 20.0, 10.0, 20.0), 0.0);
    }

    #[test]
    fn generator_is_seeded() {
        let a = coordinates(100, 30, 7).unwrap();
        let b = coordinates(100, 30, 7).unwrap();
        assert_eq!(a.to_batch().unwrap(), b.to_batch().unwrap());
        assert_eq!(haversine_hand_loop(&a).len(), 4);
    }
}
