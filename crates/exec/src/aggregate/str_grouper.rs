//! The grouper of one string key (`Utf8`, `LargeUtf8` or `Utf8View`).
//!
//! Background: the general [`RowGrouper`](super::groups) encodes every row
//! with `arrow-row` before hashing it, which for a single string column is
//! a copy of every key into a scratch buffer plus the encoding's framing;
//! on db-benchmark's `GROUP BY id1` (10^7 rows, 100 distinct strings) the
//! encoding and copying were about half of the aggregation's time.
//!
//! Design: every group's hash table slot keeps a 16-byte *view* of its key
//! in arrow's `Utf8View` layout (length, then the bytes themselves when
//! there are at most 12, else a 4-byte prefix) beside its hash, and its
//! bytes are kept in a [`KeyArena`]. A row
//! is hashed and compared through its view: keys of at most 12 bytes (most
//! identifiers, codes, flags) are hashed as one `u128` and compared as one,
//! without touching the arena; longer ones hash their bytes and compare the
//! view first, the bytes only when the view (length and prefix) matches.
//! A `Utf8View` column's views are read as they are, with no byte access
//! for inline strings at all.
//!
//! The state key column (what partials exchange, see [`Grouper`]) is the
//! key column itself, of the input's type.

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow_array::builder::{GenericStringBuilder, StringViewBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, GenericStringArray, OffsetSizeTrait, StringViewArray};
use arrow_schema::DataType;
use hashbrown::HashTable;
use parframe_common::{Error, Result};

use super::groups::{Grouper, KeyArena, KeyHasher, NULL_HASH, missing_state_keys, wrong_source};

/// The view of `bytes` in arrow's `Utf8View` layout, without the buffer
/// index and offset of a long string (which differ between arrays).
fn view_of(bytes: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let len = bytes.len();
    b[..4].copy_from_slice(&(len as u32).to_le_bytes());
    if len <= 12 {
        b[4..4 + len].copy_from_slice(bytes);
    } else {
        b[4..8].copy_from_slice(&bytes[..4]);
    }
    u128::from_le_bytes(b)
}

/// [`view_of`] the `len` bytes at `start` of `values`: for a short key
/// with 16 bytes readable from `start`, one unaligned load, masked and
/// shifted into place (no variable-length copy: that was a `memcpy` call
/// per row, on db-benchmark's `GROUP BY id1` a tenth of the time).
#[inline]
fn view_at(values: &[u8], start: usize, len: usize) -> u128 {
    if (1..=12).contains(&len)
        && let Some(w) = values
            .get(start..start + 16)
            .and_then(|w| <[u8; 16]>::try_from(w).ok())
    {
        let mask = u128::MAX >> (128 - 8 * len);
        return (len as u128) | ((u128::from_le_bytes(w) & mask) << 32);
    }
    view_of(&values[start..start + len])
}

/// The view and bytes of value `i` of an offset-layout string column.
#[inline(always)]
fn key_in<'a, O: OffsetSizeTrait>(offsets: &[O], values: &'a [u8], i: usize) -> (u128, &'a [u8]) {
    let (start, end) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
    (view_at(values, start, end - start), &values[start..end])
}

/// A `Utf8View` array's raw view as [`view_of`] would give it.
fn normalize_view(v: u128) -> u128 {
    if (v as u32) <= 12 {
        v
    } else {
        v & u128::from(u64::MAX)
    }
}

/// One chunk of string keys, of any of the three layouts.
enum Chunk<'a> {
    Utf8(&'a GenericStringArray<i32>),
    Large(&'a GenericStringArray<i64>),
    View(&'a StringViewArray),
}

impl<'a> Chunk<'a> {
    fn of(a: &'a ArrayRef) -> Result<Chunk<'a>> {
        Ok(match a.data_type() {
            DataType::Utf8 => Chunk::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Chunk::Large(a.as_string::<i64>()),
            DataType::Utf8View => Chunk::View(a.as_string_view()),
            t => {
                return Err(Error::InvalidArgument(format!(
                    "internal: a string grouper got a {t} key column"
                )));
            }
        })
    }

    fn len(&self) -> usize {
        match self {
            Chunk::Utf8(a) => a.len(),
            Chunk::Large(a) => a.len(),
            Chunk::View(a) => a.len(),
        }
    }

    fn is_null(&self, i: usize) -> bool {
        match self {
            Chunk::Utf8(a) => a.is_null(i),
            Chunk::Large(a) => a.is_null(i),
            Chunk::View(a) => a.is_null(i),
        }
    }

    /// The view and the bytes of row `i` (not null).
    #[inline]
    fn key(&self, i: usize) -> (u128, &'a [u8]) {
        match self {
            Chunk::Utf8(a) => key_in(a.value_offsets(), a.value_data(), i),
            Chunk::Large(a) => key_in(a.value_offsets(), a.value_data(), i),
            Chunk::View(a) => (normalize_view(a.views()[i]), a.value(i).as_bytes()),
        }
    }

    /// Calls `f(row, key)` for every row, `None` for nulls.
    fn for_each(
        &self,
        mut f: impl FnMut(usize, Option<(u128, &'a [u8])>) -> Result<()>,
    ) -> Result<()> {
        let nulls = match self {
            Chunk::Utf8(a) => a.nulls(),
            Chunk::Large(a) => a.nulls(),
            Chunk::View(a) => a.nulls(),
        }
        .filter(|n| n.null_count() > 0);
        for i in 0..self.len() {
            if nulls.is_some_and(|n| n.is_null(i)) {
                f(i, None)?;
            } else {
                f(i, Some(self.key(i)))?;
            }
        }
        Ok(())
    }
}

/// The hash of a key: its view when the view holds the whole key, else
/// its bytes.
#[inline]
fn hash_key(hasher: &KeyHasher, view: u128, bytes: &[u8]) -> u64 {
    if (view as u32) <= 12 {
        hasher.hash_one(view)
    } else {
        hasher.hash_one(bytes)
    }
}

/// A hash table entry: the view and hash beside the group id, so that a
/// lookup of a key of at most 12 bytes reads nothing outside the table
/// (with 10^5 groups the table is larger than the L2 cache, and every
/// read of a side array was another cache miss).
struct Slot {
    view: u128,
    hash: u64,
    group: u32,
}

/// One string key; see the module docs.
pub(super) struct StrGrouper {
    dt: DataType,
    arena: KeyArena,
    hashes: Vec<u64>,
    /// Every group but the null group.
    table: HashTable<Slot>,
    hasher: KeyHasher,
    null_group: Option<u32>,
    /// The key column of the last `hash_chunk`.
    chunk: Option<ArrayRef>,
}

impl StrGrouper {
    pub(super) fn new(dt: DataType, hasher: KeyHasher) -> Self {
        StrGrouper {
            dt,
            arena: KeyArena::new(),
            hashes: Vec::new(),
            table: HashTable::new(),
            hasher,
            null_group: None,
            chunk: None,
        }
    }

    /// The group of a key (`None`: null) with hash `h`, created if new.
    /// Inlined into the per-row loops: a hit is one probe of the table;
    /// a new key and the null key take the cold paths below.
    #[inline(always)]
    fn intern(&mut self, key: Option<(u128, &[u8])>, h: u64) -> Result<u32> {
        let Some((view, bytes)) = key else {
            return self.null_group();
        };
        let inline = (view as u32) <= 12;
        let arena = &self.arena;
        let eq = |e: &Slot| {
            e.view == view && e.hash == h && (inline || arena.get(e.group as usize) == bytes)
        };
        match self.table.find(h, eq) {
            Some(e) => Ok(e.group),
            None => self.insert_new(view, bytes, h),
        }
    }

    /// A new group for a key that [`StrGrouper::intern`] did not find.
    #[cold]
    #[inline(never)]
    fn insert_new(&mut self, view: u128, bytes: &[u8], h: u64) -> Result<u32> {
        let g = self.hashes.len() as u32;
        self.arena.push(bytes)?;
        self.hashes.push(h);
        self.table.insert_unique(
            h,
            Slot {
                view,
                hash: h,
                group: g,
            },
            |e| e.hash,
        );
        Ok(g)
    }

    /// The null key's group, created if new.
    #[cold]
    fn null_group(&mut self) -> Result<u32> {
        if let Some(g) = self.null_group {
            return Ok(g);
        }
        let g = self.hashes.len() as u32;
        self.arena.push(&[])?;
        self.hashes.push(NULL_HASH);
        self.null_group = Some(g);
        Ok(g)
    }

    /// [`Grouper::group_ids`] of an offset-layout string column.
    fn group_ids_offsets<O: OffsetSizeTrait>(
        &mut self,
        offsets: &[O],
        values: &[u8],
        nulls: Option<&arrow_buffer::NullBuffer>,
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let hasher = self.hasher.clone();
        let nulls = nulls.filter(|n| n.null_count() > 0);
        for i in 0..offsets.len().saturating_sub(1) {
            if nulls.is_some_and(|n| n.is_null(i)) {
                out.push(self.intern(None, NULL_HASH)?);
                continue;
            }
            let (view, bytes) = key_in(offsets, values, i);
            let h = hash_key(&hasher, view, bytes);
            out.push(self.intern(Some((view, bytes)), h)?);
        }
        Ok(())
    }

    fn key_column(&self, groups: impl ExactSizeIterator<Item = usize>) -> Result<ArrayRef> {
        let n = groups.len();
        let text = |g: usize| -> Result<Option<&str>> {
            if Some(g as u32) == self.null_group {
                return Ok(None);
            }
            std::str::from_utf8(self.arena.get(g))
                .map(Some)
                .map_err(|e| {
                    Error::InvalidArgument(format!("internal: a group key is not UTF-8: {e}"))
                })
        };
        Ok(match self.dt {
            DataType::Utf8View => {
                let mut b = StringViewBuilder::with_capacity(n);
                for g in groups {
                    b.append_option(text(g)?);
                }
                Arc::new(b.finish())
            }
            DataType::LargeUtf8 => Arc::new(build_offsets::<i64>(groups, text)?),
            _ => Arc::new(build_offsets::<i32>(groups, text)?),
        })
    }
}

fn build_offsets<'a, O: OffsetSizeTrait>(
    groups: impl ExactSizeIterator<Item = usize>,
    text: impl Fn(usize) -> Result<Option<&'a str>>,
) -> Result<GenericStringArray<O>> {
    let mut b = GenericStringBuilder::<O>::with_capacity(groups.len(), 0);
    for g in groups {
        b.append_option(text(g)?);
    }
    Ok(b.finish())
}

impl Grouper for StrGrouper {
    fn group_ids(&mut self, keys: &[ArrayRef], rows: usize, out: &mut Vec<u32>) -> Result<()> {
        let Some(k) = keys.first() else {
            out.extend(std::iter::repeat_n(0, rows));
            return Ok(());
        };
        let chunk = Chunk::of(k)?;
        out.reserve(chunk.len());
        // One loop per layout, so that each row's view is made in
        // registers (through `Chunk::key`, the pair came back through
        // memory and its load stalled on the stores: 3/4 of this loop).
        match chunk {
            Chunk::Utf8(a) => {
                self.group_ids_offsets(a.value_offsets(), a.value_data(), a.nulls(), out)
            }
            Chunk::Large(a) => {
                self.group_ids_offsets(a.value_offsets(), a.value_data(), a.nulls(), out)
            }
            Chunk::View(_) => {
                let hasher = self.hasher.clone();
                chunk.for_each(|_, key| {
                    let h = key.map_or(NULL_HASH, |(v, b)| hash_key(&hasher, v, b));
                    out.push(self.intern(key, h)?);
                    Ok(())
                })
            }
        }
    }
    fn num_groups(&self) -> usize {
        self.hashes.len()
    }
    fn keys(&self) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.key_column(0..self.hashes.len())?])
    }
    fn hashes(&self) -> Result<Vec<u64>> {
        Ok(self.hashes.clone())
    }
    fn take_keys(&self, groups: &[u32]) -> Result<Option<ArrayRef>> {
        Ok(Some(self.key_column(groups.iter().map(|&g| g as usize))?))
    }
    fn group_ids_from_state(
        &mut self,
        key: Option<&ArrayRef>,
        hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let key = key.ok_or_else(missing_state_keys)?;
        let chunk = Chunk::of(key)?;
        if chunk.len() != hashes.len() {
            return Err(wrong_source());
        }
        out.reserve(hashes.len());
        chunk.for_each(|i, k| {
            out.push(self.intern(k, hashes[i])?);
            Ok(())
        })
    }
    fn size(&self) -> usize {
        self.arena.size()
            + self.hashes.capacity() * 8
            + self.table.capacity() * (std::mem::size_of::<Slot>() + 1)
    }
    fn reserve(&mut self, groups: usize, key_bytes: usize) {
        self.arena.reserve(groups, key_bytes);
        self.hashes.reserve(groups);
        self.table.reserve(groups, |e| e.hash);
    }
    fn hash_chunk(&mut self, keys: &[ArrayRef], rows: usize, hashes: &mut Vec<u64>) -> Result<()> {
        let Some(k) = keys.first() else {
            hashes.extend(std::iter::repeat_n(NULL_HASH, rows));
            return Ok(());
        };
        let chunk = Chunk::of(k)?;
        hashes.reserve(chunk.len());
        let hasher = &self.hasher;
        chunk.for_each(|_, key| {
            hashes.push(key.map_or(NULL_HASH, |(v, b)| hash_key(hasher, v, b)));
            Ok(())
        })?;
        self.chunk = Some(k.clone());
        Ok(())
    }
    fn group_ids_of(
        &mut self,
        src: &dyn Grouper,
        sel: &[u32],
        hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let Some(a) = src
            .as_any()
            .downcast_ref::<StrGrouper>()
            .and_then(|g| g.chunk.as_ref())
        else {
            return Err(wrong_source());
        };
        let chunk = Chunk::of(a)?;
        let n = chunk.len().min(hashes.len());
        out.reserve(sel.len());
        for &i in sel {
            let i = i as usize;
            if i >= n {
                return Err(wrong_source());
            }
            let key = (!chunk.is_null(i)).then(|| chunk.key(i));
            out.push(self.intern(key, hashes[i])?);
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{LargeStringArray, StringArray};
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn column(dt: &DataType, vals: &[Option<String>]) -> ArrayRef {
        let a: ArrayRef = Arc::new(StringArray::from(vals.to_vec()));
        arrow_cast::cast(&a, dt).unwrap()
    }

    fn strings(a: &ArrayRef) -> Vec<Option<String>> {
        let a = arrow_cast::cast(a, &DataType::Utf8).unwrap();
        a.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    fn key_strategy() -> impl Strategy<Value = Option<String>> {
        // Short (inline) and long keys that share lengths and prefixes, so
        // views collide and the byte comparison decides.
        proptest::option::weighted(
            0.9,
            prop_oneof!["[ab]{0,3}", "prefix[ab]{8,10}", "[ab]{12,13}",],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Group ids against a naive first-seen numbering, for every string
        /// layout, through two partials merged by state (the path partial
        /// aggregates and spilled partitions take), and through the
        /// hash-then-route path of partitioned partials.
        #[test]
        fn string_groups_match_naive(
            a in proptest::collection::vec(key_strategy(), 0..40),
            b in proptest::collection::vec(key_strategy(), 0..40),
            layout in 0usize..3,
            skip in 0usize..3,
        ) {
            let dt = [DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View][layout].clone();
            let hasher = KeyHasher::default();
            let mut naive: HashMap<Option<String>, u32> = HashMap::new();
            let mut order = Vec::new();
            let mut want = Vec::new();
            for v in a.iter().chain(&b) {
                let n = naive.len() as u32;
                let g = *naive.entry(v.clone()).or_insert_with(|| { order.push(v.clone()); n });
                want.push(g);
            }
            let mut g1 = StrGrouper::new(dt.clone(), hasher.clone());
            let mut ids = Vec::new();
            // The first half as a slice of a longer column (offsets not
            // starting at 0).
            let mut longer = vec![Some("a-string-before".to_string()); skip];
            longer.extend(a.iter().cloned());
            let first = column(&dt, &longer).slice(skip, a.len());
            g1.group_ids(&[first], a.len(), &mut ids).unwrap();
            // The second half goes through another grouper and its state.
            let mut g2 = StrGrouper::new(dt.clone(), hasher.clone());
            let mut ids2 = Vec::new();
            g2.group_ids(&[column(&dt, &b)], b.len(), &mut ids2).unwrap();
            let all: Vec<u32> = (0..g2.num_groups() as u32).collect();
            let state = g2.take_keys(&all).unwrap().unwrap();
            prop_assert_eq!(state.data_type(), &dt);
            let mut map = Vec::new();
            g1.group_ids_from_state(Some(&state), &g2.hashes().unwrap(), &mut map).unwrap();
            ids.extend(ids2.iter().map(|&g| map[g as usize]));
            prop_assert_eq!(&ids, &want);
            prop_assert_eq!(strings(&g1.keys().unwrap()[0]), order.clone());
            prop_assert_eq!(g1.hashes().unwrap().len(), order.len());

            // Routing: hash a chunk in one grouper, group selected rows in another.
            let col = column(&dt, &b);
            let mut src = StrGrouper::new(dt.clone(), hasher.clone());
            let mut hs = Vec::new();
            src.hash_chunk(std::slice::from_ref(&col), b.len(), &mut hs).unwrap();
            let mut direct = StrGrouper::new(dt.clone(), hasher.clone());
            let mut want_ids = Vec::new();
            direct.group_ids(std::slice::from_ref(&col), b.len(), &mut want_ids).unwrap();
            let direct_hashes = direct.hashes().unwrap();
            let want_hs: Vec<u64> = want_ids.iter().map(|&g| direct_hashes[g as usize]).collect();
            prop_assert_eq!(&hs, &want_hs);
            let mut routed = StrGrouper::new(dt.clone(), hasher.clone());
            let sel: Vec<u32> = (0..b.len() as u32).collect();
            let mut got = Vec::new();
            routed.group_ids_of(&src, &sel, &hs, &mut got).unwrap();
            prop_assert_eq!(got, want_ids);
        }
    }

    #[test]
    fn a_key_of_another_layout_is_an_error() {
        let mut g = StrGrouper::new(DataType::Utf8, KeyHasher::default());
        let ints: ArrayRef = Arc::new(arrow_array::Int32Array::from(vec![1]));
        assert!(g.group_ids(&[ints], 1, &mut Vec::new()).is_err());
        let large: ArrayRef = Arc::new(LargeStringArray::from(vec!["x"]));
        let mut out = Vec::new();
        // Another string layout of the same values still groups (the
        // grouper reads all three).
        g.group_ids(&[large], 1, &mut out).unwrap();
        assert_eq!(out, vec![0]);
    }
}
