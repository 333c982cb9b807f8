//! Order-insensitive fingerprints of result tables, to check that two
//! engines gave the same answer without sorting or holding both in memory
//! row by row.
//!
//! Each row gets a *key hash*: of its key columns when the result is a
//! group-by (so group order does not matter), else of its row number (an
//! ordered result such as a filter or a per-row apply). Every other column
//! adds, per row, an exact part (integers, strings, booleans, nulls, NaNs,
//! list lengths; hashed with the key hash, summed with wrapping) and, for
//! floats, an approximate part (plain and key-weighted sums, compared with a
//! relative tolerance, since two engines sum in different orders).
//! Integer widths (`UInt32` counts against `Int64`) and string layouts
//! (`Utf8` against `Utf8View`) do not matter; integers against floats do.
//! A float value that is null on one side and NaN on the other counts as the
//! same "undefined" result ([`Checksum::notes`] reports it); the order of
//! the elements inside a list value does not matter (polars' `top_k` is
//! unordered).
//!
//! ```
//! use parframe::table;
//! use parframe_bench::checksum::Checksum;
//!
//! let a = table!("k" => ["x", "y"], "v" => [1.0, 2.0]).unwrap();
//! let b = table!("k" => ["y", "x"], "v" => [2.0, 1.0 + 1e-13]).unwrap();
//! let (ca, cb) = (Checksum::of(&a, &["k"]).unwrap(), Checksum::of(&b, &["k"]).unwrap());
//! assert!(ca.agrees(&cb));
//! assert!(!Checksum::of(&a, &[]).unwrap().agrees(&Checksum::of(&b, &[]).unwrap()));
//! ```

use std::fmt;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use parframe::arrow::cast::cast;
use parframe::{Error, Result, Table};

/// The fingerprint of one result table.
#[derive(Debug, Clone, PartialEq)]
pub struct Checksum {
    /// Rows.
    pub rows: usize,
    /// Wrapping sum of the rows' key hashes.
    pub keys: u64,
    /// Per value column (in the order asked): its name and fingerprint.
    pub columns: Vec<(String, ColumnSum)>,
}

/// The fingerprint of one value column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnSum {
    /// Wrapping sum of the hashes of the exact parts.
    pub exact: u64,
    /// Sum of the finite float values.
    pub sum: f64,
    /// Sum of the finite float values, each times a weight drawn from its
    /// row's key hash (catches values swapped between groups).
    pub weighted: f64,
    /// Sum of the absolute values: the scale of the tolerance.
    pub abs: f64,
    /// Null floats (counted, and hashed as "undefined" like NaN).
    pub nulls: usize,
    /// NaN floats (counted, and hashed as "undefined" like null).
    pub nans: usize,
}

impl Checksum {
    /// Fingerprints `t`; `keys` names the group-by key columns, or is empty
    /// for an ordered result. Value columns are all the others, by name.
    pub fn of(t: &Table, keys: &[&str]) -> Result<Checksum> {
        let values: Vec<String> = t
            .column_names()
            .into_iter()
            .filter(|n| !keys.contains(n))
            .map(str::to_string)
            .collect();
        let mut out = Checksum {
            rows: t.num_rows(),
            keys: 0,
            columns: values
                .iter()
                .map(|n| (n.clone(), ColumnSum::default()))
                .collect(),
        };
        let mut row0 = 0u64;
        for chunk in t.chunks() {
            let n = chunk.num_rows();
            let mut row_hash: Vec<u64> = if keys.is_empty() {
                (0..n as u64).map(|i| mix(row0 + i)).collect()
            } else {
                vec![0x243f_6a88_85a3_08d3; n]
            };
            for k in keys {
                let a = column(chunk, k)?;
                for_each_exact(&a, |i, h| row_hash[i] = mix(row_hash[i] ^ h))?;
            }
            for h in &row_hash {
                out.keys = out.keys.wrapping_add(*h);
            }
            for (name, sum) in &mut out.columns {
                let a = column(chunk, name)?;
                add_values(&a, &row_hash, sum)?;
            }
            row0 += n as u64;
        }
        Ok(out)
    }

    /// Whether `other` fingerprints the same answer: the same rows, keys,
    /// value columns (by name) and exact parts, and float sums within a
    /// relative 1e-9.
    pub fn agrees(&self, other: &Checksum) -> bool {
        self.mismatch(other).is_none()
    }

    /// What differs from `other`, if anything.
    pub fn mismatch(&self, other: &Checksum) -> Option<String> {
        if self.rows != other.rows {
            return Some(format!("{} rows against {}", self.rows, other.rows));
        }
        if self.keys != other.keys {
            return Some("the keys differ".into());
        }
        if self.columns.len() != other.columns.len() {
            return Some(format!(
                "{} value columns against {}",
                self.columns.len(),
                other.columns.len()
            ));
        }
        for (name, a) in &self.columns {
            let Some((_, b)) = other.columns.iter().find(|(n, _)| n == name) else {
                return Some(format!("column '{name}' missing on one side"));
            };
            if a.exact != b.exact {
                return Some(format!("column '{name}': the exact values differ"));
            }
            let tol = 1e-9 * (a.abs.max(b.abs) + 1.0);
            if (a.sum - b.sum).abs() > tol || (a.weighted - b.weighted).abs() > tol {
                return Some(format!(
                    "column '{name}': sums {} against {} (weighted {} against {})",
                    a.sum, b.sum, a.weighted, b.weighted
                ));
            }
        }
        None
    }

    /// Differences that do not count as a mismatch: float columns where one
    /// engine gives null and the other NaN for the same undefined results.
    pub fn notes(&self, other: &Checksum) -> Vec<String> {
        let mut out = Vec::new();
        for (name, a) in &self.columns {
            if let Some((_, b)) = other.columns.iter().find(|(n, _)| n == name)
                && (a.nulls, a.nans) != (b.nulls, b.nans)
            {
                out.push(format!(
                    "column '{name}': {} nulls and {} NaN against {} nulls and {} NaN",
                    a.nulls, a.nans, b.nulls, b.nans
                ));
            }
        }
        out
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rows, keys {:016x}", self.rows, self.keys)?;
        for (n, c) in &self.columns {
            write!(f, ", {n}: {:016x} sum {:.6}", c.exact, c.sum)?;
        }
        Ok(())
    }
}

fn column(chunk: &arrow_array::RecordBatch, name: &str) -> Result<ArrayRef> {
    chunk
        .column_by_name(name)
        .cloned()
        .ok_or_else(|| Error::InvalidArgument(format!("checksum: no column '{name}'")))
}

/// splitmix64's finaliser.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = mix(b.len() as u64 ^ 0x5555);
    for c in b.chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        h = mix(h ^ u64::from_le_bytes(w));
    }
    h
}

const NULL: u64 = 0x6e75_6c6c;
const NAN: u64 = 0x6e61_6e00;
/// A float result that is null or NaN: engines differ on which one an
/// undefined statistic gives (e.g. the correlation of a constant column).
const UNDEFINED: u64 = 0x756e_6465_6600;

fn is_int(dt: &DataType) -> bool {
    dt.is_integer() || matches!(dt, DataType::Date32 | DataType::Date64)
}

/// Calls `f(row, hash)` with an exact hash of every value (keys).
fn for_each_exact(a: &ArrayRef, mut f: impl FnMut(usize, u64)) -> Result<()> {
    let dt = a.data_type();
    if is_int(dt) {
        let a = cast(a, &DataType::Int64)?;
        for (i, v) in a.as_primitive::<Int64Type>().iter().enumerate() {
            f(i, v.map_or(NULL, |v| mix(v as u64)));
        }
    } else if dt.is_floating() {
        let a = cast(a, &DataType::Float64)?;
        for (i, v) in a.as_primitive::<Float64Type>().iter().enumerate() {
            f(
                i,
                v.map_or(NULL, |v| if v.is_nan() { NAN } else { mix(v.to_bits()) }),
            );
        }
    } else if matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        let a = cast(a, &DataType::Utf8View)?;
        for (i, v) in a.as_string_view().iter().enumerate() {
            f(i, v.map_or(NULL, |s| hash_bytes(s.as_bytes())));
        }
    } else if *dt == DataType::Boolean {
        for (i, v) in a.as_boolean().iter().enumerate() {
            f(i, v.map_or(NULL, |b| mix(2 + b as u64)));
        }
    } else if *dt == DataType::Null {
        for i in 0..a.len() {
            f(i, NULL);
        }
    } else {
        return Err(Error::NotSupported(format!("checksum of a {dt} column")));
    }
    Ok(())
}

/// A weight in [0.5, 1.5) from a row's key hash.
fn weight(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64 + 0.5
}

fn add_values(a: &ArrayRef, row_hash: &[u64], out: &mut ColumnSum) -> Result<()> {
    let dt = a.data_type().clone();
    match &dt {
        dt if dt.is_floating() => {
            let a = cast(a, &DataType::Float64)?;
            for (v, h) in a.as_primitive::<Float64Type>().iter().zip(row_hash) {
                add_float(v, *h, out);
            }
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let (offsets, values): (Vec<usize>, ArrayRef) = match &dt {
                DataType::List(_) => {
                    let l = a.as_list::<i32>();
                    (
                        l.offsets().iter().map(|o| *o as usize).collect(),
                        l.values().clone(),
                    )
                }
                _ => {
                    let l = a.as_list::<i64>();
                    (
                        l.offsets().iter().map(|o| *o as usize).collect(),
                        l.values().clone(),
                    )
                }
            };
            // The elements of row i count as values of row i's key, in any
            // order (polars' `top_k` does not sort its output).
            let mut elem_hash = vec![0u64; values.len()];
            for (i, h) in row_hash.iter().enumerate() {
                let (lo, hi) = (offsets[i], offsets[i + 1]);
                let len = if a.is_null(i) {
                    u64::MAX
                } else {
                    (hi - lo) as u64
                };
                out.exact = out.exact.wrapping_add(mix(*h ^ mix(len)));
                elem_hash[lo..hi].fill(mix(*h ^ 0x6c69_7374));
            }
            add_values(&values, &elem_hash, out)?;
        }
        _ => {
            for_each_exact(a, |i, v| {
                out.exact = out.exact.wrapping_add(mix(row_hash[i] ^ v));
            })?;
        }
    }
    Ok(())
}

fn add_float(v: Option<f64>, h: u64, out: &mut ColumnSum) {
    match v {
        None => {
            out.nulls += 1;
            out.exact = out.exact.wrapping_add(mix(h ^ UNDEFINED));
        }
        Some(v) if v.is_nan() => {
            out.nans += 1;
            out.exact = out.exact.wrapping_add(mix(h ^ UNDEFINED));
        }
        Some(v) if v.is_infinite() => {
            out.exact = out.exact.wrapping_add(mix(h ^ mix(v.to_bits())));
        }
        Some(v) => {
            out.sum += v;
            out.weighted += v * weight(h);
            out.abs += v.abs();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use parframe::table;

    use super::*;

    #[test]
    fn order_insensitive_with_keys_only() {
        let a =
            table!("k" => [1i64, 2, 3], "s" => ["a", "b", "c"], "v" => [1.0, 2.0, 3.0]).unwrap();
        let b =
            table!("k" => [3i32, 1, 2], "s" => ["c", "a", "b"], "v" => [3.0, 1.0, 2.0]).unwrap();
        let ka = Checksum::of(&a, &["k"]).unwrap();
        assert!(ka.agrees(&Checksum::of(&b, &["k"]).unwrap()));
        assert!(
            !Checksum::of(&a, &[])
                .unwrap()
                .agrees(&Checksum::of(&b, &[]).unwrap())
        );
        // values swapped between groups are caught
        let c =
            table!("k" => [1i64, 2, 3], "s" => ["a", "b", "c"], "v" => [2.0, 1.0, 3.0]).unwrap();
        assert!(ka.mismatch(&Checksum::of(&c, &["k"]).unwrap()).is_some());
        // as are nulls; null and NaN are both "undefined", with a note
        let v = |v: [Option<f64>; 3]| {
            let t = table!("k" => [1i64, 2, 3], "s" => ["a", "b", "c"], "v" => v).unwrap();
            Checksum::of(&t, &["k"]).unwrap()
        };
        let kd = v([Some(1.0), None, Some(f64::NAN)]);
        assert!(!ka.agrees(&kd));
        let ke = v([Some(1.0), Some(f64::NAN), None]);
        assert!(kd.agrees(&ke) && kd.notes(&ke).is_empty());
        let kf = v([Some(1.0), None, None]);
        assert!(kd.agrees(&kf));
        assert_eq!(kd.notes(&kf).len(), 1);
        // list elements in any order
        let l = |a: [f64; 2], b: [f64; 2]| {
            let list = parframe::arrow::array::ListArray::from_iter_primitive::<
                parframe::arrow::array::types::Float64Type,
                _,
                _,
            >([Some(a.map(Some)), Some(b.map(Some))]);
            let t = Table::from_columns(vec![
                (
                    "k".into(),
                    std::sync::Arc::new(arrow_array::Int64Array::from(vec![1, 2])) as ArrayRef,
                ),
                ("l".into(), std::sync::Arc::new(list) as ArrayRef),
            ])
            .unwrap();
            Checksum::of(&t, &["k"]).unwrap()
        };
        assert!(l([3.0, 2.0], [5.0, 1.0]).agrees(&l([2.0, 3.0], [1.0, 5.0])));
        assert!(!l([3.0, 2.0], [5.0, 1.0]).agrees(&l([5.0, 1.0], [3.0, 2.0])));
    }
}
