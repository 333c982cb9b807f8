//! The h2o.ai db-benchmark group-by data: table `G1_<N>_<K>`.
//!
//! Columns: `id1`, `id2` = strings `id001`..`id<K>` drawn uniformly
//! (zero-padded to 3 digits); `id3` = strings `id0000000001`..`id<N/K>`
//! (zero-padded to 10 digits); `id4`, `id5` = ints `1..=K`; `id6` = ints
//! `1..=N/K`; `v1` = ints `1..=5`; `v2` = ints `1..=15`; `v3` = uniform
//! `[0, 100)` rounded to 6 decimals. Integers are `Int64`, strings `Utf8`.
//!
//! ```
//! let t = parframe_bench::groupby_data::g1(1000, 10, 0.0, 42, 256).unwrap();
//! assert_eq!(t.num_rows(), 1000);
//! assert_eq!(t.column_names(), vec!["id1", "id2", "id3", "id4", "id5", "id6", "v1", "v2", "v3"]);
//! ```

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parframe::{Result, Table};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The db-benchmark name of a G1 table: `G1_1e7_1e2_0_0` for 10^7 rows,
/// 100 groups, no nulls (`nas_pct` percent nulls), unsorted.
pub fn g1_name(rows: usize, k: usize, nas_pct: u32) -> String {
    let e = |x: usize| {
        let mut exp = 0;
        let mut m = x;
        while m >= 10 && m.is_multiple_of(10) {
            m /= 10;
            exp += 1;
        }
        format!("{m}e{exp}")
    };
    format!("G1_{}_{}_{nas_pct}_0", e(rows), e(k))
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
    let k = k.max(1);
    let nk = (rows / k).max(1);
    let schema = g1_schema();
    let small: Vec<String> = (1..=k).map(|i| format!("id{i:03}")).collect();
    let large: Vec<String> = (1..=nk).map(|i| format!("id{i:010}")).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chunks = Vec::new();
    let mut left = rows;
    let chunk_rows = chunk_rows.max(1);
    while left > 0 {
        let n = left.min(chunk_rows);
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
        let id1 = strings(&small, &mut rng);
        let id2 = strings(&small, &mut rng);
        let id3 = strings(&large, &mut rng);
        let ints = |hi: i64, rng: &mut ChaCha8Rng| -> ArrayRef {
            let a: Int64Array = (0..n)
                .map(|_| {
                    let v = rng.random_range(1..=hi);
                    (!null(rng)).then_some(v)
                })
                .collect();
            Arc::new(a)
        };
        let id4 = ints(k as i64, &mut rng);
        let id5 = ints(k as i64, &mut rng);
        let id6 = ints(nk as i64, &mut rng);
        let v1 = ints(5, &mut rng);
        let v2 = ints(15, &mut rng);
        let v3: Float64Array = (0..n)
            .map(|_| {
                let v = (rng.random_range(0.0..100.0f64) * 1e6).round() / 1e6;
                let v = if v >= 100.0 { 99.999999 } else { v };
                (!null(&mut rng)).then_some(v)
            })
            .collect();
        chunks.push(RecordBatch::try_new(
            schema.clone(),
            vec![id1, id2, id3, id4, id5, id6, v1, v2, Arc::new(v3)],
        )?);
        left -= n;
    }
    Table::try_new(schema, chunks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
    }
}
