//! The h2o.ai db-benchmark join tables `J1_<N>_<NA|n>_<nas>_0`.
//!
//! Four tables for a row count `N`: the left table `x` (`N` rows) and three
//! right tables, `small`, `medium` and `big`, of about `N/1e6`, `N/1e3` and
//! `N` rows (see [`J1Table::rows`] for the small-`N` floor).
//!
//! | table | columns |
//! |---|---|
//! | `x` | `id1, id2, id3, id4, id5, id6, v1` |
//! | `small` | `id1, id4, v2` |
//! | `medium` | `id1, id2, id4, id5, v2` |
//! | `big` | `id1, id2, id3, id4, id5, id6, v2` |
//!
//! `id1`, `id2`, `id3` are `Int64` keys over `small`, `medium` and `big`'s
//! row count of distinct values; `id4`, `id5`, `id6` are the same keys as
//! strings (`id<n>`); `v1`, `v2` are uniform on `[0, 100)`, rounded to 6
//! decimals.
//!
//! The scheme is db-benchmark's (`join-datagen.R`): for a key column over
//! `n` keys, `1.1 n` distinct values are shuffled and split into a shared
//! part (90%), a left-only part and a right-only part (10% each). `x` uses
//! the shared and left-only values, the right tables the shared and
//! right-only ones, so 90% of each side's keys find a partner. Every key of
//! a side occurs at least once in each of its tables, the rest of the rows
//! draw a key uniformly; so `id3` is unique in `x` and `big`, `id1` in
//! `small`, `id2` in `medium`. With a null fraction `f`, as in
//! db-benchmark, `floor(f n)` of the `n` distinct values of each of `x`'s
//! `id1..id3` are null in every row that holds them (and their string
//! copies with them), and `floor(f N)` rows of `v1` are null; the right
//! tables have no nulls.
//!
//! Every value is a pure function of the seed and the row number (keyed
//! permutations and hashes, no state carried between rows), so a table is
//! generated chunk by chunk in constant memory, the chunk size does not
//! change the data, and any chunk can be made on its own.
//!
//! ```
//! use parframe::datasets::{J1, J1Table};
//!
//! let j = J1::new(10_000);
//! let x = j.table(J1Table::X).unwrap();
//! let medium = j.table(J1Table::Medium).unwrap();
//! assert_eq!((x.num_rows(), medium.num_rows()), (10_000, 100));
//! assert_eq!(J1Table::Medium.name(10_000, 0), "J1_1e4_1e2_0_0");
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

use parframe_core::Table;
use parframe_core::arrow::array::builder::{Float64Builder, Int64Builder, StringBuilder};
use parframe_core::arrow::array::{ArrayRef, RecordBatch};
use parframe_core::arrow::schema::{DataType, Field, Schema, SchemaRef};

use super::sci;
use crate::{Error, Result};

/// One of the four join tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum J1Table {
    /// The left table: `N` rows, `id1..id6, v1`.
    X,
    /// The small right table: `id1, id4, v2`.
    Small,
    /// The medium right table: `id1, id2, id4, id5, v2`.
    Medium,
    /// The big right table: `id1..id6, v2`.
    Big,
}

impl J1Table {
    /// The four tables, left first.
    pub const ALL: [J1Table; 4] = [J1Table::X, J1Table::Small, J1Table::Medium, J1Table::Big];

    /// Rows of this table when `x` has `rows` rows: `rows` for `x` and
    /// `big`, `rows / 1e6` for `small` and `rows / 1e3` for `medium`, but at
    /// least 10 and 100 (so that small inputs still have distinct tables
    /// and a 90/10 split), and at most `rows`.
    pub fn rows(self, rows: usize) -> usize {
        let at_least = |floor: usize, n: usize| n.max(floor.min(rows));
        match self {
            J1Table::X | J1Table::Big => rows,
            J1Table::Small => at_least(10, rows / 1_000_000),
            J1Table::Medium => at_least(100, rows / 1_000),
        }
    }

    /// The db-benchmark file name (without extension): `J1_1e7_NA_0_0` for
    /// `x` of 10^7 rows, `J1_1e7_1e1_0_0`, `J1_1e7_1e4_0_0` and
    /// `J1_1e7_1e7_0_0` for the right tables; `nas_pct` is the percent of
    /// nulls.
    pub fn name(self, rows: usize, nas_pct: u32) -> String {
        let right = match self {
            J1Table::X => "NA".to_string(),
            t => sci(t.rows(rows)),
        };
        format!("J1_{}_{right}_{nas_pct}_0", sci(rows))
    }

    /// The key levels (1: `id1`, 2: `id2`, 3: `id3`) this table holds.
    fn levels(self) -> &'static [usize] {
        match self {
            J1Table::Small => &[1],
            J1Table::Medium => &[1, 2],
            J1Table::X | J1Table::Big => &[1, 2, 3],
        }
    }

    fn index(self) -> u64 {
        match self {
            J1Table::X => 0,
            J1Table::Small => 1,
            J1Table::Medium => 2,
            J1Table::Big => 3,
        }
    }

    /// The schema: the integer keys, their string copies, the value.
    pub fn schema(self) -> SchemaRef {
        let nullable = self == J1Table::X;
        let levels = self.levels();
        let mut fields: Vec<Field> = levels
            .iter()
            .map(|l| Field::new(format!("id{l}"), DataType::Int64, nullable))
            .collect();
        fields.extend(
            levels
                .iter()
                .map(|l| Field::new(format!("id{}", l + 3), DataType::Utf8, nullable)),
        );
        let value = if self == J1Table::X { "v1" } else { "v2" };
        fields.push(Field::new(value, DataType::Float64, nullable));
        Arc::new(Schema::new(fields))
    }
}

/// A J1 generator: the parameters shared by the four tables (they must be
/// generated with the same ones to match).
#[derive(Debug, Clone, PartialEq)]
pub struct J1 {
    /// Rows of `x` (and `big`); at least 1.
    pub rows: usize,
    /// The fraction of nulls in `x`, in `[0, 1]` (see the module docs).
    pub null_fraction: f64,
    /// The random seed.
    pub seed: u64,
    /// Rows per chunk; at least 1. Does not change the data.
    pub chunk_rows: usize,
}

impl J1 {
    /// A generator for `x` of `rows` rows: no nulls, seed 42, chunks of
    /// 128 Ki rows.
    pub fn new(rows: usize) -> Self {
        J1 {
            rows,
            null_fraction: 0.0,
            seed: 42,
            chunk_rows: 128 * 1024,
        }
    }

    /// Sets the fraction of nulls in `x`.
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

    fn check(&self) -> Result<()> {
        if self.rows == 0 {
            return Err(Error::InvalidArgument(
                "J1 join tables need at least 1 row".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.null_fraction) {
            return Err(Error::InvalidArgument(format!(
                "J1 null fraction must be in [0, 1], got {}",
                self.null_fraction
            )));
        }
        Ok(())
    }

    /// The chunks of `table`, generated one at a time as the iterator is
    /// pulled.
    pub fn chunks(&self, table: J1Table) -> Result<J1Chunks> {
        self.check()?;
        let keys = |rows_of: J1Table| KeySpace::new(rows_of.rows(self.rows) as u64, self.seed);
        Ok(J1Chunks {
            table,
            schema: table.schema(),
            spaces: [
                keys(J1Table::Small),
                keys(J1Table::Medium),
                keys(J1Table::Big),
            ],
            rows: table.rows(self.rows) as u64,
            next: 0,
            chunk_rows: self.chunk_rows.max(1) as u64,
            null_fraction: self.null_fraction,
            seed: self.seed,
        })
    }

    /// One table in memory.
    pub fn table(&self, table: J1Table) -> Result<Table> {
        let chunks = self.chunks(table)?.collect::<Result<Vec<_>>>()?;
        Table::try_new(table.schema(), chunks)
    }
}

/// The chunks of one J1 table (see [`J1::chunks`]).
#[derive(Debug)]
pub struct J1Chunks {
    table: J1Table,
    schema: SchemaRef,
    /// The key spaces of `id1`, `id2`, `id3`.
    spaces: [KeySpace; 3],
    rows: u64,
    next: u64,
    chunk_rows: u64,
    null_fraction: f64,
    seed: u64,
}

impl J1Chunks {
    /// The schema of every chunk.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows in the whole table.
    pub fn total_rows(&self) -> usize {
        self.rows as usize
    }

    /// Rows `start..start + len` of the table (any range, in any order).
    pub fn batch(&self, start: u64, len: u64) -> Result<RecordBatch> {
        let end = (start + len).min(self.rows);
        let start = start.min(end);
        let left = self.table == J1Table::X;
        let nulls = left && self.null_fraction > 0.0;
        let mut ints = Vec::new();
        let mut strings = Vec::new();
        let mut text = String::new();
        for &level in self.table.levels() {
            let space = &self.spaces[level - 1];
            let column = Column::new(self.seed, self.table, level, self.rows, space.n);
            let mut a = Int64Builder::with_capacity((end - start) as usize);
            let mut s = StringBuilder::with_capacity((end - start) as usize, 0);
            let null_keys = (space.n as f64 * self.null_fraction) as u64;
            for row in start..end {
                let i = column.key_index(row);
                let key = space.value(i, left);
                if nulls && space.nulls.apply(i) < null_keys {
                    a.append_null();
                    s.append_null();
                } else {
                    a.append_value(key as i64);
                    text.clear();
                    // Writing to a String cannot fail.
                    let _ = write!(text, "id{key}");
                    s.append_value(&text);
                }
            }
            ints.push(Arc::new(a.finish()) as ArrayRef);
            strings.push(Arc::new(s.finish()) as ArrayRef);
        }
        let stream = 16 * self.table.index() + 15;
        let null_rows = (self.rows as f64 * self.null_fraction) as u64;
        let null_order = Permutation::new(self.rows, hash(self.seed, stream + 1000, 0));
        let mut v = Float64Builder::with_capacity((end - start) as usize);
        for row in start..end {
            if nulls && null_order.apply(row) < null_rows {
                v.append_null();
            } else {
                v.append_value(value_0_100(hash(self.seed, stream, row)));
            }
        }
        let mut columns = ints;
        columns.extend(strings);
        columns.push(Arc::new(v.finish()));
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

impl Iterator for J1Chunks {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.rows {
            return None;
        }
        let len = self.chunk_rows.min(self.rows - self.next);
        let batch = self.batch(self.next, len);
        self.next += len;
        Some(batch)
    }
}

/// The values of one key column over `n` keys a side: `1..=u` shuffled by a
/// keyed permutation, the first `shared` shared, then `n - shared` left
/// only, then `n - shared` right only.
#[derive(Debug, Clone)]
struct KeySpace {
    n: u64,
    shared: u64,
    perm: Permutation,
    /// Which of the left side's keys are null: those it maps below the
    /// null count.
    nulls: Permutation,
}

impl KeySpace {
    fn new(n: u64, seed: u64) -> Self {
        let shared = (n * 9).div_ceil(10);
        let u = shared + 2 * (n - shared);
        KeySpace {
            n,
            shared,
            // Keyed by `n` so the three levels shuffle differently.
            perm: Permutation::new(u, hash(seed, 7, n)),
            nulls: Permutation::new(n, hash(seed, 8, n)),
        }
    }

    /// The key value (from 1) of a side's `i`-th key, `i < n`.
    fn value(&self, i: u64, left: bool) -> u64 {
        let slot = if left || i < self.shared {
            i
        } else {
            i + (self.n - self.shared)
        };
        self.perm.apply(slot) + 1
    }
}

/// How one key column of one table picks a key index per row: db-benchmark's
/// `sample_all` (each of the `n` keys once, the other rows uniform with
/// replacement, all shuffled), as a function of the row.
#[derive(Debug, Clone)]
struct Column {
    shuffle: Permutation,
    n: u64,
    draw_stream: u64,
    seed: u64,
}

impl Column {
    fn new(seed: u64, table: J1Table, level: usize, rows: u64, n: u64) -> Self {
        let stream = 16 * table.index() + level as u64;
        Column {
            shuffle: Permutation::new(rows, hash(seed, stream, 0x5eed)),
            n,
            draw_stream: stream + 500,
            seed,
        }
    }

    fn key_index(&self, row: u64) -> u64 {
        let p = self.shuffle.apply(row);
        if p < self.n {
            p
        } else {
            below(hash(self.seed, self.draw_stream, p), self.n)
        }
    }
}

/// A keyed pseudo-random permutation of `0..n`: a 4-round Feistel network
/// over the smallest even number of bits that holds `n`, with cycle
/// walking back into range (under 4 steps on average).
#[derive(Debug, Clone)]
struct Permutation {
    n: u64,
    half: u32,
    mask: u64,
    keys: [u64; 4],
}

impl Permutation {
    fn new(n: u64, key: u64) -> Self {
        let bits = (64 - n.saturating_sub(1).leading_zeros()).max(2);
        let half = bits.div_ceil(2);
        Permutation {
            n,
            half,
            mask: (1u64 << half) - 1,
            keys: [1u64, 2, 3, 4].map(|r| hash(key, 0x0fe1_57e1, r)),
        }
    }

    fn apply(&self, x: u64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        let mut x = x;
        loop {
            let (mut l, mut r) = (x >> self.half, x & self.mask);
            for k in self.keys {
                (l, r) = (r, l ^ (mix(r ^ k) & self.mask));
            }
            x = (l << self.half) | r;
            if x < self.n {
                return x;
            }
        }
    }
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of (seed, stream, index): independent streams of random words.
fn hash(seed: u64, stream: u64, i: u64) -> u64 {
    mix(mix(seed ^ mix(stream.wrapping_add(0x9e37_79b9_7f4a_7c15))).wrapping_add(i))
}

/// A uniform float in `[0, 1)`.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n` (Lemire's multiply-shift; the bias is at
/// most `n / 2^64`).
fn below(h: u64, n: u64) -> u64 {
    ((u128::from(h) * u128::from(n)) >> 64) as u64
}

/// Uniform on `[0, 100)`, rounded to 6 decimals.
fn value_0_100(h: u64) -> f64 {
    let v = (unit(h) * 100.0 * 1e6).round() / 1e6;
    if v >= 100.0 { 99.999999 } else { v }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use parframe_core::arrow::array::Array;
    use parframe_core::arrow::array::cast::AsArray;
    use parframe_core::arrow::array::types::{Float64Type, Int64Type};

    use super::*;

    fn ints(t: &Table, c: &str) -> Vec<Option<i64>> {
        t.column(c)
            .unwrap()
            .as_primitive::<Int64Type>()
            .iter()
            .collect()
    }

    #[test]
    fn permutations_are_bijections() {
        for n in [1u64, 2, 3, 10, 11, 100, 1000, 1023, 1025] {
            let p = Permutation::new(n, n * 31);
            let seen: HashSet<u64> = (0..n).map(|i| p.apply(i)).collect();
            assert_eq!(seen.len() as u64, n);
            assert!(seen.iter().all(|&v| v < n));
        }
        // Not the identity.
        let p = Permutation::new(1000, 1);
        assert!((0..1000).filter(|&i| p.apply(i) == i).count() < 20);
    }

    #[test]
    fn names_and_sizes() {
        assert_eq!(J1Table::X.name(10_000_000, 0), "J1_1e7_NA_0_0");
        assert_eq!(J1Table::Small.name(10_000_000, 0), "J1_1e7_1e1_0_0");
        assert_eq!(J1Table::Medium.name(10_000_000, 5), "J1_1e7_1e4_5_0");
        assert_eq!(J1Table::Big.name(10_000_000, 0), "J1_1e7_1e7_0_0");
        assert_eq!(J1Table::Small.rows(2000), 10);
        assert_eq!(J1Table::Medium.rows(2000), 100);
        assert_eq!(J1Table::Medium.rows(50), 50);
        assert_eq!(J1Table::Small.rows(1_000_000_000), 1000);
        assert!(J1::new(0).chunks(J1Table::X).is_err());
        assert!(J1::new(10).null_fraction(2.0).chunks(J1Table::X).is_err());
    }

    #[test]
    fn the_db_benchmark_key_scheme() {
        let n = 20_000;
        let j = J1::new(n).chunk_rows(3000);
        let x = j.table(J1Table::X).unwrap();
        let big = j.table(J1Table::Big).unwrap();
        let medium = j.table(J1Table::Medium).unwrap();
        let small = j.table(J1Table::Small).unwrap();
        assert_eq!(x.num_chunks(), 7);
        let distinct = |t: &Table, c: &str| ints(t, c).into_iter().collect::<HashSet<_>>();
        // Every key of a side once at least: unique ids where rows == keys.
        assert_eq!(distinct(&x, "id3").len(), n);
        assert_eq!(distinct(&big, "id3").len(), n);
        assert_eq!(distinct(&medium, "id2").len(), 100);
        assert_eq!(distinct(&small, "id1").len(), 10);
        assert_eq!(distinct(&x, "id1").len(), 10);
        assert_eq!(distinct(&x, "id2").len(), 100);
        assert_eq!(distinct(&big, "id2").len(), 100);
        // 90% of the keys shared, 10% on one side only.
        let shared = |a: &HashSet<Option<i64>>, b: &HashSet<Option<i64>>| a.intersection(b).count();
        assert_eq!(
            shared(&distinct(&x, "id3"), &distinct(&big, "id3")),
            n * 9 / 10
        );
        assert_eq!(shared(&distinct(&x, "id2"), &distinct(&medium, "id2")), 90);
        assert_eq!(shared(&distinct(&x, "id1"), &distinct(&small, "id1")), 9);
        // Keys come from 1..=1.1n.
        assert!(
            distinct(&x, "id3")
                .iter()
                .all(|k| (1..=22_000).contains(&k.unwrap()))
        );
        // The string copies.
        let id5 = x.column("id5").unwrap();
        assert_eq!(
            id5.as_string::<i32>().value(0),
            format!("id{}", ints(&x, "id2")[0].unwrap())
        );
        // Keys beyond the first n rows are spread, not clumped.
        let mut counts = HashMap::new();
        for k in ints(&x, "id1") {
            *counts.entry(k).or_insert(0) += 1;
        }
        assert!(counts.values().all(|&c| c > 1500 && c < 2500), "{counts:?}");
        let v1 = x.column("v1").unwrap();
        let v1 = v1.as_primitive::<Float64Type>();
        assert_eq!(v1.null_count(), 0);
        assert!(v1.values().iter().all(|v| (0.0..100.0).contains(v)));
        let mean = v1.values().iter().sum::<f64>() / n as f64;
        assert!((mean - 50.0).abs() < 1.0, "{mean}");
    }

    #[test]
    fn chunking_does_not_change_the_data() {
        let a = J1::new(5000).chunk_rows(5000).table(J1Table::Big).unwrap();
        let b = J1::new(5000).chunk_rows(777).table(J1Table::Big).unwrap();
        assert_eq!(a.to_batch().unwrap(), b.to_batch().unwrap());
        let c = J1::new(5000).seed(1).table(J1Table::Big).unwrap();
        assert_ne!(a.to_batch().unwrap(), c.to_batch().unwrap());
    }

    #[test]
    fn nulls_take_whole_keys_in_x_only() {
        let j = J1::new(20_000).null_fraction(0.1);
        let x = j.table(J1Table::X).unwrap();
        let plain = J1::new(20_000).table(J1Table::X).unwrap();
        let id3 = x.column("id3").unwrap();
        let id6 = x.column("id6").unwrap();
        assert_eq!(id3.null_count(), 2000);
        assert_eq!(id3.logical_nulls(), id6.logical_nulls());
        assert_eq!(x.column("v1").unwrap().null_count(), 2000);
        // One of the 10 id1 keys is null, in every row that holds it; the
        // other rows keep the values of the table without nulls.
        let (with, without) = (ints(&x, "id1"), ints(&plain, "id1"));
        let gone: HashSet<_> = with
            .iter()
            .zip(&without)
            .filter(|(a, _)| a.is_none())
            .map(|(_, b)| *b)
            .collect();
        assert_eq!(gone.len(), 1);
        assert!(
            with.iter()
                .zip(&without)
                .all(|(a, b)| a == b || (a.is_none() && gone.contains(b)))
        );
        assert!(!with.iter().any(|a| gone.contains(a)));
        let big = j.table(J1Table::Big).unwrap();
        assert_eq!(big.column("id3").unwrap().null_count(), 0);
    }
}
