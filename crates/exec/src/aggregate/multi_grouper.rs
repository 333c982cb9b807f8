//! The grouper of several integer and string keys (db-benchmark's
//! `GROUP BY id1, id2`, TPC-H Q1's `l_returnflag, l_linestatus`).
//!
//! Background: the general [`RowGrouper`] encodes every row with
//! `arrow-row` (a copy of every key's bytes into a scratch buffer, with the
//! encoding's framing), hashes the encoded bytes and compares them with
//! the stored row's. On db-benchmark's `GROUP BY id1, id2` (10^7 rows, two
//! string columns of 100 values each, 10^4 groups) the encoding, the byte
//! hash and the `memcmp` were about 60% of the query's time.
//!
//! Design: each key column has a grouper of its own, of the one-column
//! kind ([`IntGrouper`], [`StrGrouper`]), which numbers the column's
//! distinct values with the fast one-column loops. A group is the tuple of
//! its columns' value ids, and a second table numbers the tuples: it
//! compares a few `u32`s instead of key bytes, and two columns (the common
//! case) pack their ids into one `u64` kept in the table's slot itself.
//! Nothing is encoded or hashed as bytes per row.
//!
//! This wins while the tables stay small. With many groups the key
//! columns have many values too (db-benchmark q10: 10^7 groups, two
//! columns of 10^5 values), each column's table is another cache miss per
//! row, and one probe of a row table is cheaper: past [`MAX_TUPLES`]
//! groups the grouper turns itself into a [`RowGrouper`] (keeping every
//! group's id) and goes on as one. The parts of a partitioned partial
//! (which see every column's values spread over all parts) are row
//! groupers from the start (`routed` in [`super::groups::new_grouper`]).
//!
//! So that groupers of both kinds meet in one aggregation, this one speaks
//! the row grouper's language to the outside: a group's hash is the hash
//! of its `arrow-row` bytes and its state key is those bytes. Both are
//! made only when asked for (splitting, spilling, merging: once per group,
//! not per row), by encoding the groups' keys.

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, UInt32Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::DataType;
use arrow_select::take::take;
use hashbrown::HashTable;
use parframe_common::{Error, Result};

use super::groups::{Grouper, IntGrouper, KeyHasher, RowGrouper, missing_state_keys, wrong_source};
use super::str_grouper::StrGrouper;
use super::{KindTag, kind_of};

/// The groups past which a [`MultiGrouper`] becomes a row grouper. At
/// 2^16 groups the tuple table (16-byte slots) is about 1 MiB, the size
/// of the cache it needs to be in; db-benchmark's `GROUP BY id1, id2` and
/// `id4, id5` (10^4 groups) stay well below, q10 (10^7) turns over early.
pub(super) const MAX_TUPLES: usize = 1 << 16;

/// Whether [`MultiGrouper`] takes a key column of type `t`.
pub(super) fn takes(t: &DataType) -> bool {
    t != &DataType::Boolean && matches!(kind_of(t), Some(KindTag::Int | KindTag::Str))
}

/// The 64-bit folded multiply (foldhash's and wyhash's mixer): the high
/// and low halves of the 128-bit product xored, so every input bit
/// reaches the low bits (hashbrown's bucket index) and the high ones (its
/// tags). A plain multiply would leave the low bits depending on the low
/// input bits only, and the packed ids of two columns differ there in the
/// first column alone.
#[inline(always)]
fn fold_mul(x: u64, k: u64) -> u64 {
    let p = u128::from(x) * u128::from(k);
    (p as u64) ^ ((p >> 64) as u64)
}

const K1: u64 = 0x9e37_79b9_7f4a_7c15;
const K2: u64 = 0xa076_1d64_78bd_642f;

/// The tuple table's hash of a packed pair of ids. The ids are this
/// grouper's own (dense, first-seen), so no seed is needed against
/// chosen collisions.
#[inline(always)]
fn pair_hash(packed: u64) -> u64 {
    fold_mul(packed ^ K2, K1)
}

/// The tuple table's hash of any number of ids.
#[inline]
fn ids_hash(ids: &[u32]) -> u64 {
    ids.iter()
        .fold(K2, |h, &id| fold_mul(h ^ u64::from(id), K1))
}

/// A tuple table entry. With two columns `tag` is the packed ids
/// themselves (compared whole, hashed again on growth); with more it is
/// the ids' hash and the ids are compared in [`Tuples::ids`].
struct Slot {
    tag: u64,
    group: u32,
}

/// The numbering of id tuples: the part of a [`MultiGrouper`] the per-row
/// loops write while they read the column groupers' ids.
struct Tuples {
    /// Key columns.
    n: usize,
    /// Per group, its columns' value ids (`n` per group).
    ids: Vec<u32>,
    groups: usize,
    table: HashTable<Slot>,
}

impl Tuples {
    fn new(n: usize) -> Self {
        Tuples {
            n,
            ids: Vec::new(),
            groups: 0,
            table: HashTable::new(),
        }
    }

    /// The group of `tuple` (`n` ids), created if new.
    #[inline(always)]
    fn intern(&mut self, tuple: &[u32]) -> u32 {
        if let [a, b] = *tuple {
            let packed = u64::from(a) | (u64::from(b) << 32);
            let h = pair_hash(packed);
            if let Some(e) = self.table.find(h, |e| e.tag == packed) {
                return e.group;
            }
            return self.insert(tuple, packed, h);
        }
        let h = ids_hash(tuple);
        let (ids, n) = (&self.ids, self.n);
        let found = self.table.find(h, |e| {
            let g = e.group as usize * n;
            e.tag == h && ids.get(g..g + n) == Some(tuple)
        });
        match found {
            Some(e) => e.group,
            None => self.insert(tuple, h, h),
        }
    }

    #[cold]
    #[inline(never)]
    fn insert(&mut self, tuple: &[u32], tag: u64, h: u64) -> u32 {
        let g = self.groups as u32;
        self.groups += 1;
        self.ids.extend_from_slice(tuple);
        let pair = self.n == 2;
        self.table.insert_unique(h, Slot { tag, group: g }, |e| {
            if pair { pair_hash(e.tag) } else { e.tag }
        });
        g
    }

    /// Interns the tuples of `cols` (one id per row in each) and appends
    /// their groups to `out`.
    fn intern_all(&mut self, cols: &[Vec<u32>], out: &mut Vec<u32>) -> Result<()> {
        let rows = cols.first().map_or(0, Vec::len);
        if cols.len() != self.n || cols.iter().any(|c| c.len() != rows) {
            return Err(Error::InvalidArgument(
                "internal: a multi-column grouper got columns of different lengths".into(),
            ));
        }
        out.reserve(rows);
        if let [a, b] = cols {
            out.extend(a.iter().zip(b).map(|(&x, &y)| self.intern(&[x, y])));
        } else {
            let mut t = vec![0u32; self.n];
            for i in 0..rows {
                for (slot, c) in t.iter_mut().zip(cols) {
                    *slot = c[i];
                }
                out.push(self.intern(&t));
            }
        }
        Ok(())
    }

    fn size(&self) -> usize {
        self.ids.capacity() * 4 + self.table.capacity() * (std::mem::size_of::<Slot>() + 1)
    }
}

/// The tuple-numbering state of a [`MultiGrouper`].
struct TupleMode {
    /// One grouper per key column.
    cols: Vec<Box<dyn Grouper>>,
    tuples: Tuples,
    /// Per key column, the value ids of the chunk being grouped (reused).
    scratch: Vec<Vec<u32>>,
}

impl TupleMode {
    /// The key columns of `groups`, of the input's types.
    fn key_columns(&self, groups: &UInt32Array) -> Result<Vec<ArrayRef>> {
        let n = self.tuples.n;
        let mut out = Vec::with_capacity(n);
        for (c, g) in self.cols.iter().enumerate() {
            let values = g.keys()?.into_iter().next().ok_or_else(wrong_source)?;
            let ids: UInt32Array = groups
                .values()
                .iter()
                .map(|&g| self.tuples.ids[g as usize * n + c])
                .collect();
            out.push(take(values.as_ref(), &ids, None)?);
        }
        Ok(out)
    }

    /// Groups key columns (one per key, `rows` long): each column by its
    /// grouper, then the tuples.
    fn group_ids(&mut self, keys: &[ArrayRef], rows: usize, out: &mut Vec<u32>) -> Result<()> {
        if keys.len() != self.cols.len() {
            return Err(Error::InvalidArgument(format!(
                "internal: a grouper of {} key columns got {}",
                self.cols.len(),
                keys.len()
            )));
        }
        for ((g, k), s) in self.cols.iter_mut().zip(keys).zip(self.scratch.iter_mut()) {
            s.clear();
            g.group_ids(std::slice::from_ref(k), rows, s)?;
        }
        self.tuples.intern_all(&self.scratch, out)
    }

    fn size(&self) -> usize {
        self.cols.iter().map(|g| g.size()).sum::<usize>()
            + self.tuples.size()
            + self.scratch.iter().map(|s| s.capacity() * 4).sum::<usize>()
    }
}

/// Several integer and string keys; see the module docs.
pub(super) struct MultiGrouper {
    /// `None` once turned into [`MultiGrouper::rows`].
    tuples: Option<TupleMode>,
    /// The row grouper this one is, or turns into.
    rows: RowGrouper,
    /// Encodes keys as `rows` does (for hashes and state keys).
    conv: RowConverter,
    hasher: KeyHasher,
    max_tuples: usize,
}

impl MultiGrouper {
    /// A grouper of key columns of `types` (each one [`takes`]) that turns
    /// into a row grouper past `max_tuples` groups.
    pub(super) fn new(types: &[DataType], hasher: &KeyHasher, max_tuples: usize) -> Result<Self> {
        let cols = types
            .iter()
            .map(|t| -> Result<Box<dyn Grouper>> {
                match kind_of(t) {
                    Some(KindTag::Int) if t != &DataType::Boolean => {
                        Ok(Box::new(IntGrouper::new(t.clone(), hasher.clone())))
                    }
                    Some(KindTag::Str) => Ok(Box::new(StrGrouper::new(t.clone(), hasher.clone()))),
                    _ => Err(Error::InvalidArgument(format!(
                        "internal: a multi-column grouper cannot take a {t} key"
                    ))),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let n = cols.len();
        Ok(MultiGrouper {
            tuples: Some(TupleMode {
                cols,
                tuples: Tuples::new(n),
                scratch: vec![Vec::new(); n],
            }),
            rows: RowGrouper::new(types, hasher.clone())?,
            conv: RowConverter::new(types.iter().map(|t| SortField::new(t.clone())).collect())?,
            hasher: hasher.clone(),
            max_tuples,
        })
    }

    /// The `arrow-row` encoding of `groups`' keys (tuple mode).
    fn encode(&self, t: &TupleMode, groups: &UInt32Array) -> Result<arrow_row::Rows> {
        Ok(self.conv.convert_columns(&t.key_columns(groups)?)?)
    }

    /// Turns this grouper into its row grouper, every group keeping its id.
    fn switch_to_rows(&mut self) -> Result<()> {
        let Some(t) = &self.tuples else {
            return Ok(());
        };
        if t.tuples.groups == 0 {
            self.tuples = None;
            return Ok(());
        }
        let all = UInt32Array::from_iter_values(0..t.tuples.groups as u32);
        let rows = self.encode(t, &all)?;
        let hashes: Vec<u64> = rows
            .iter()
            .map(|r| self.hasher.hash_one(r.as_ref()))
            .collect();
        let state: ArrayRef = Arc::new(rows.try_into_binary()?);
        self.tuples = None;
        let mut ids = Vec::with_capacity(hashes.len());
        self.rows
            .group_ids_from_state(Some(&state), &hashes, &mut ids)?;
        // Distinct keys in id order: the row grouper numbers them alike.
        if ids.iter().enumerate().any(|(i, &g)| g as usize != i) {
            return Err(Error::InvalidArgument(
                "internal: a grouper changed its groups' ids when it turned into rows".into(),
            ));
        }
        Ok(())
    }

    /// Goes on as a row grouper when `more` groups could take it past
    /// `max_tuples`.
    fn make_room(&mut self, more: usize) -> Result<()> {
        match &self.tuples {
            Some(t) if t.tuples.groups.saturating_add(more) > self.max_tuples => {
                self.switch_to_rows()
            }
            _ => Ok(()),
        }
    }

    /// Whether this grouper is still numbering tuples (for tests).
    #[cfg(test)]
    fn is_tuples(&self) -> bool {
        self.tuples.is_some()
    }
}

impl Grouper for MultiGrouper {
    fn group_ids(&mut self, keys: &[ArrayRef], rows: usize, out: &mut Vec<u32>) -> Result<()> {
        let Some(t) = self.tuples.as_mut() else {
            return self.rows.group_ids(keys, rows, out);
        };
        t.group_ids(keys, rows, out)?;
        if t.tuples.groups > self.max_tuples {
            self.switch_to_rows()?;
        }
        Ok(())
    }
    fn num_groups(&self) -> usize {
        match &self.tuples {
            Some(t) => t.tuples.groups,
            None => self.rows.num_groups(),
        }
    }
    fn keys(&self) -> Result<Vec<ArrayRef>> {
        match &self.tuples {
            Some(t) => t.key_columns(&UInt32Array::from_iter_values(0..t.tuples.groups as u32)),
            None => self.rows.keys(),
        }
    }
    fn hashes(&self) -> Result<Vec<u64>> {
        let Some(t) = &self.tuples else {
            return self.rows.hashes();
        };
        let all = UInt32Array::from_iter_values(0..t.tuples.groups as u32);
        let rows = self.encode(t, &all)?;
        Ok(rows
            .iter()
            .map(|r| self.hasher.hash_one(r.as_ref()))
            .collect())
    }
    fn take_keys(&self, groups: &[u32]) -> Result<Option<ArrayRef>> {
        let Some(t) = &self.tuples else {
            return self.rows.take_keys(groups);
        };
        let rows = self.encode(t, &UInt32Array::from(groups.to_vec()))?;
        let bytes = rows.size();
        let a = rows.try_into_binary().map_err(|_| {
            Error::ResourcesExhausted(format!(
                "a partition of the group-by holds about {bytes} bytes of keys (at most 2 GiB)"
            ))
        })?;
        Ok(Some(Arc::new(a)))
    }
    fn group_ids_from_state(
        &mut self,
        key: Option<&ArrayRef>,
        hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        // Many groups merge as rows: decoding them to columns would cost
        // more than the row grouper's probes.
        self.make_room(hashes.len())?;
        let Some(t) = self.tuples.as_mut() else {
            return self.rows.group_ids_from_state(key, hashes, out);
        };
        let key = key
            .and_then(|k| k.as_binary_opt::<i32>())
            .ok_or_else(missing_state_keys)?;
        if key.len() != hashes.len() || key.null_count() > 0 {
            return Err(wrong_source());
        }
        let parser = self.conv.parser();
        let cols = self
            .conv
            .convert_rows(key.iter().flatten().map(|b| parser.parse(b)))?;
        t.group_ids(&cols, key.len(), out)
    }
    fn size(&self) -> usize {
        self.tuples.as_ref().map_or(0, TupleMode::size) + self.rows.size()
    }
    fn reserve(&mut self, groups: usize, key_bytes: usize) {
        if self.make_room(groups).is_err() {
            // Reserving is a hint; the next call meets the error again.
            return;
        }
        match self.tuples.as_mut() {
            Some(t) => {
                let tuples = &mut t.tuples;
                tuples.ids.reserve(groups * tuples.n);
                let pair = tuples.n == 2;
                tuples
                    .table
                    .reserve(groups, |e| if pair { pair_hash(e.tag) } else { e.tag });
            }
            None => self.rows.reserve(groups, key_bytes),
        }
    }
    fn hash_chunk(&mut self, keys: &[ArrayRef], rows: usize, hashes: &mut Vec<u64>) -> Result<()> {
        // Routers are row groupers (`new_grouper`'s `routed`); should this
        // one route, it does so as one.
        self.switch_to_rows()?;
        self.rows.hash_chunk(keys, rows, hashes)
    }
    fn group_ids_of(
        &mut self,
        src: &dyn Grouper,
        sel: &[u32],
        hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        self.switch_to_rows()?;
        let src: &dyn Grouper = match src.as_any().downcast_ref::<MultiGrouper>() {
            Some(m) if m.tuples.is_none() => &m.rows,
            Some(_) => return Err(wrong_source()),
            None => src,
        };
        self.rows.group_ids_of(src, sel, hashes, out)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{Int32Array, StringArray};
    use proptest::prelude::*;
    use std::collections::HashMap;

    type Row = Vec<Option<i64>>;

    /// Key columns from rows of small values: column `c` is a string
    /// column when `strs[c]`, else `Int32`.
    fn columns(rows: &[Row], strs: &[bool]) -> Vec<ArrayRef> {
        strs.iter()
            .enumerate()
            .map(|(c, &s)| -> ArrayRef {
                let vals = rows.iter().map(|r| r[c]);
                if s {
                    // Short (inline) and long strings.
                    Arc::new(StringArray::from_iter(vals.map(|v| {
                        v.map(|v| {
                            if v % 2 == 0 {
                                format!("k{v}")
                            } else {
                                format!("a-longer-key-of-{v}")
                            }
                        })
                    })))
                } else {
                    Arc::new(Int32Array::from_iter(vals.map(|v| v.map(|v| v as i32))))
                }
            })
            .collect()
    }

    fn types(strs: &[bool]) -> Vec<DataType> {
        strs.iter()
            .map(|&s| if s { DataType::Utf8 } else { DataType::Int32 })
            .collect()
    }

    fn rows_strategy(n: usize) -> impl Strategy<Value = Vec<Row>> {
        proptest::collection::vec(
            proptest::collection::vec(proptest::option::weighted(0.9, 0i64..4), n),
            0..60,
        )
    }

    /// The first-seen numbering of `rows`, and its distinct rows in order.
    fn naive<'a>(rows: impl Iterator<Item = &'a Row>) -> (Vec<u32>, Vec<Row>) {
        let mut seen: HashMap<Row, u32> = HashMap::new();
        let mut order = Vec::new();
        let ids = rows
            .map(|r| {
                let n = seen.len() as u32;
                *seen.entry(r.clone()).or_insert_with(|| {
                    order.push(r.clone());
                    n
                })
            })
            .collect();
        (ids, order)
    }

    fn check_keys(g: &dyn Grouper, order: &[Row], strs: &[bool]) -> Result<(), TestCaseError> {
        let keys = g.keys().unwrap();
        for (got, want) in keys.iter().zip(&columns(order, strs)) {
            prop_assert_eq!(got.as_ref(), want.as_ref());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Group ids and keys against a naive first-seen numbering of the
        /// key tuples (a null is a value of its own), for two to four
        /// columns of either kind, with the turn into a row grouper at
        /// several points (never, mid-chunk, at once): directly, through a
        /// second grouper's state merged in (partials and spilled
        /// partitions), into and out of a row grouper (the parts of a
        /// partitioned partial), whose hashes must be this one's.
        #[test]
        fn tuple_groups_match_naive_and_rows(
            (strs, a, b) in (2usize..5).prop_flat_map(|n| (
                proptest::collection::vec(any::<bool>(), n),
                rows_strategy(n),
                rows_strategy(n),
            )),
            max_tuples in prop_oneof![Just(usize::MAX), 0usize..12],
        ) {
            let hasher = KeyHasher::default();
            let (want, order) = naive(a.iter().chain(&b));
            let dts = types(&strs);
            let mut g1 = MultiGrouper::new(&dts, &hasher, max_tuples).unwrap();
            let mut ids = Vec::new();
            g1.group_ids(&columns(&a, &strs), a.len(), &mut ids).unwrap();
            let mut g2 = MultiGrouper::new(&dts, &hasher, max_tuples).unwrap();
            let mut ids2 = Vec::new();
            g2.group_ids(&columns(&b, &strs), b.len(), &mut ids2).unwrap();
            let all: Vec<u32> = (0..g2.num_groups() as u32).collect();
            let state = g2.take_keys(&all).unwrap().unwrap();
            let h2 = g2.hashes().unwrap();
            let mut map = Vec::new();
            g1.group_ids_from_state(Some(&state), &h2, &mut map).unwrap();
            ids.extend(ids2.iter().map(|&g| map[g as usize]));
            prop_assert_eq!(&ids, &want);
            prop_assert_eq!(g1.num_groups(), order.len());
            prop_assert_eq!(g1.is_tuples(), max_tuples == usize::MAX || order.len() <= max_tuples);
            check_keys(&g1, &order, &strs)?;

            // The row grouper of the same keys: same hashes, and states
            // that merge both ways.
            let mut r = RowGrouper::new(&dts, hasher.clone()).unwrap();
            let mut rids = Vec::new();
            r.group_ids(&columns(&b, &strs), b.len(), &mut rids).unwrap();
            prop_assert_eq!(&rids, &ids2);
            prop_assert_eq!(r.hashes().unwrap(), h2.clone());
            let rstate = r.take_keys(&all).unwrap().unwrap();
            prop_assert_eq!(rstate.as_ref(), state.as_ref());
            let h1 = g1.hashes().unwrap();
            let all1: Vec<u32> = (0..g1.num_groups() as u32).collect();
            let mut rmap = Vec::new();
            r.group_ids_from_state(g1.take_keys(&all1).unwrap().as_ref(), &h1, &mut rmap).unwrap();
            let (want_r, order_r) = naive(b.iter().chain(order.iter()));
            let got_r: Vec<u32> = rids.iter().copied().chain(rmap.iter().copied()).collect();
            prop_assert_eq!(got_r, want_r);
            check_keys(&r, &order_r, &strs)?;
            prop_assert_eq!(r.hashes().unwrap().len(), order_r.len());
            for (g, &m) in rmap.iter().enumerate() {
                prop_assert_eq!(h1[g], r.hashes().unwrap()[m as usize]);
            }

            // Routed by a row grouper (a partitioned partial's router).
            let cols = columns(&b, &strs);
            let mut router = RowGrouper::new(&dts, hasher.clone()).unwrap();
            let mut hs = Vec::new();
            router.hash_chunk(&cols, b.len(), &mut hs).unwrap();
            let want_hs: Vec<u64> = ids2.iter().map(|&g| h2[g as usize]).collect();
            prop_assert_eq!(&hs, &want_hs);
            let mut routed = MultiGrouper::new(&dts, &hasher, max_tuples).unwrap();
            let sel: Vec<u32> = (0..b.len() as u32).collect();
            let mut got = Vec::new();
            routed.group_ids_of(&router, &sel, &hs, &mut got).unwrap();
            prop_assert_eq!(got, ids2);
        }
    }

    #[test]
    fn a_wrong_number_of_columns_is_an_error() {
        let h = KeyHasher::default();
        let mut g = MultiGrouper::new(&[DataType::Int64, DataType::Utf8], &h, MAX_TUPLES).unwrap();
        let k: ArrayRef = Arc::new(Int32Array::from(vec![1]));
        assert!(g.group_ids(&[k], 1, &mut Vec::new()).is_err());
        assert!(MultiGrouper::new(&[DataType::Int64, DataType::Float64], &h, 8).is_err());
    }
}
