//! Groupers: key columns in, dense group ids out. A single integer-like key
//! (any integer width, dates, times) uses a hash map on `i64`; a single
//! string key hashes its bytes in place ([`super::str_grouper`]); several
//! integer and string keys number each column's values and then the tuples
//! of value ids ([`super::multi_grouper`]); any other key set (booleans,
//! floats, decimals among the keys) is encoded with `arrow-row` and hashed
//! as bytes. No keys: every row is group 0.
//!
//! How to add a grouper: implement [`Grouper`] (its state key column is
//! whatever the grouper reads back in `group_ids_from_state`; every grouper
//! of one aggregation is of one type, so it need not match the others'),
//! pick it in [`new_grouper`] by key types, and test it against a naive
//! numbering through a state round trip, as `str_grouper`'s tests do.
//!
//! Every grouper of one aggregation hashes with the same seeded hasher, so
//! a group's hash (and so its partition, see [`partition_of`]) is the same
//! in every per-thread partial. Groups leave a grouper as a "state key"
//! column: the `i64` keys themselves, or the `arrow-row` bytes as a binary
//! array, so merging partials never decodes and re-encodes rows.

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, BinaryArray, Int64Array};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::DataType;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use parframe_common::{Error, Result};
use std::hash::BuildHasher;

use super::{IntKind, Kind, KindTag, kind_of};

/// Assigns group ids to key tuples.
pub(crate) trait Grouper: Send + Any {
    /// Appends to `out` the group of every row of `keys` (all of one length
    /// `rows`), creating groups for new keys.
    fn group_ids(&mut self, keys: &[ArrayRef], rows: usize, out: &mut Vec<u32>) -> Result<()>;
    /// The number of groups so far.
    fn num_groups(&self) -> usize;
    /// The key columns, one row per group in id order.
    fn keys(&self) -> Result<Vec<ArrayRef>>;
    /// The hash of every group's key, in id order.
    fn hashes(&self) -> Result<Vec<u64>>;
    /// The state key column of `groups` (`None` without keys).
    fn take_keys(&self, groups: &[u32]) -> Result<Option<ArrayRef>>;
    /// Like `group_ids`, for a state key column from `take_keys` of a
    /// grouper of the same aggregation, with the keys' `hashes`.
    fn group_ids_from_state(
        &mut self,
        key: Option<&ArrayRef>,
        hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()>;
    /// Bytes held, estimated from capacities.
    fn size(&self) -> usize;
    /// Makes room for `groups` more groups whose state keys (from
    /// `take_keys`) hold `key_bytes` (a hint: merging a partition knows its
    /// size).
    fn reserve(&mut self, _groups: usize, _key_bytes: usize) {}
    /// Encodes one chunk's keys (kept until the next call) and appends
    /// every row's hash to `hashes`, so a partitioned partial can route
    /// each row to the grouper of its partition ([`Grouper::group_ids_of`])
    /// without encoding or hashing it twice.
    fn hash_chunk(&mut self, keys: &[ArrayRef], rows: usize, hashes: &mut Vec<u64>) -> Result<()>;
    /// Like `group_ids`, for the rows `sel` of the chunk last given to
    /// `src.hash_chunk` (a grouper of the same aggregation); `hashes` are
    /// that chunk's hashes (indexed by row, not by position in `sel`).
    fn group_ids_of(
        &mut self,
        src: &dyn Grouper,
        sel: &[u32],
        hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()>;
    /// For [`Grouper::group_ids_of`], which reads another grouper's chunk.
    fn as_any(&self) -> &dyn Any;
}

/// The error for a `group_ids_of` source of another grouper type.
pub(super) fn wrong_source() -> Error {
    Error::InvalidArgument("internal: group-by routing between different groupers".into())
}

/// The error for a merge of partial states that carry no key column.
pub(super) fn missing_state_keys() -> Error {
    Error::InvalidArgument("internal: state keys missing".into())
}

/// The hasher shared by the groupers of one aggregation.
pub(crate) type KeyHasher = DefaultHashBuilder;

/// The grouper for keys of these types. `routed`: for the router and the
/// parts of a partitioned partial (see `run::Partial`), which see many
/// groups spread over many parts: there several keys take the row grouper,
/// as [`super::multi_grouper`] explains.
pub(crate) fn new_grouper(
    types: &[DataType],
    hasher: &KeyHasher,
    routed: bool,
) -> Result<Box<dyn Grouper>> {
    Ok(match types {
        [] => Box::new(NoKeys),
        [t] if kind_of(t) == Some(KindTag::Int) && t != &DataType::Boolean => {
            Box::new(IntGrouper::new(t.clone(), hasher.clone()))
        }
        [t] if kind_of(t) == Some(KindTag::Str) => Box::new(super::str_grouper::StrGrouper::new(
            t.clone(),
            hasher.clone(),
        )),
        ts if !routed && ts.iter().all(super::multi_grouper::takes) => Box::new(
            super::multi_grouper::MultiGrouper::new(ts, hasher, super::multi_grouper::MAX_TUPLES)?,
        ),
        _ => Box::new(RowGrouper::new(types, hasher.clone())?),
    })
}

/// The partition (of `1 << bits`) of a group with key hash `h` at
/// recursion `level`: a different mix per level, so a partition that is
/// still too big splits again. Independent of the bits hashbrown uses
/// inside one table, so the tables of one partition stay well spread.
pub(crate) fn partition_of(h: u64, level: u32, bits: u32) -> usize {
    if bits == 0 {
        return 0;
    }
    // splitmix64's finaliser over the hash and the level.
    let mut z = h ^ (u64::from(level) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> (64 - bits)) as usize
}

/// The hash given to the null key of an integer grouper.
pub(super) const NULL_HASH: u64 = 0x5bd1_e995_5bd1_e995;

/// No keys: one group.
struct NoKeys;
impl Grouper for NoKeys {
    fn group_ids(&mut self, _: &[ArrayRef], rows: usize, out: &mut Vec<u32>) -> Result<()> {
        out.extend(std::iter::repeat_n(0, rows));
        Ok(())
    }
    fn num_groups(&self) -> usize {
        1
    }
    fn keys(&self) -> Result<Vec<ArrayRef>> {
        Ok(Vec::new())
    }
    fn hashes(&self) -> Result<Vec<u64>> {
        Ok(vec![0])
    }
    fn take_keys(&self, _: &[u32]) -> Result<Option<ArrayRef>> {
        Ok(None)
    }
    fn group_ids_from_state(
        &mut self,
        _: Option<&ArrayRef>,
        hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        out.extend(std::iter::repeat_n(0, hashes.len()));
        Ok(())
    }
    fn size(&self) -> usize {
        0
    }
    fn hash_chunk(&mut self, _: &[ArrayRef], rows: usize, hashes: &mut Vec<u64>) -> Result<()> {
        hashes.extend(std::iter::repeat_n(0, rows));
        Ok(())
    }
    fn group_ids_of(
        &mut self,
        _: &dyn Grouper,
        sel: &[u32],
        _: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        out.extend(std::iter::repeat_n(0, sel.len()));
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One integer-like key.
pub(super) struct IntGrouper {
    dt: DataType,
    map: HashMap<i64, u32, KeyHasher>,
    keys: Vec<Option<i64>>,
    null_group: Option<u32>,
    /// The chunk of the last `hash_chunk`, as `i64`.
    chunk: Option<Int64Array>,
}

impl IntGrouper {
    pub(super) fn new(dt: DataType, hasher: KeyHasher) -> Self {
        IntGrouper {
            dt,
            map: HashMap::with_hasher(hasher),
            keys: Vec::new(),
            null_group: None,
            chunk: None,
        }
    }

    /// The group of key `v`, created if new.
    fn intern(&mut self, v: Option<i64>) -> u32 {
        let Self {
            map,
            keys,
            null_group,
            ..
        } = self;
        match v {
            None => *null_group.get_or_insert_with(|| {
                keys.push(None);
                (keys.len() - 1) as u32
            }),
            Some(v) => *map.entry(v).or_insert_with(|| {
                keys.push(Some(v));
                (keys.len() - 1) as u32
            }),
        }
    }
}

impl Grouper for IntGrouper {
    fn group_ids(&mut self, keys: &[ArrayRef], rows: usize, out: &mut Vec<u32>) -> Result<()> {
        let Some(k) = keys.first() else {
            out.extend(std::iter::repeat_n(0, rows));
            return Ok(());
        };
        let k = IntKind::read(k)?;
        let a = k.as_primitive::<Int64Type>();
        out.reserve(a.len());
        let Self {
            map,
            keys,
            null_group,
            ..
        } = self;
        let nulls = a.nulls().filter(|n| n.null_count() > 0);
        for (i, &v) in a.values().iter().enumerate() {
            let g = if nulls.is_some_and(|n| n.is_null(i)) {
                *null_group.get_or_insert_with(|| {
                    keys.push(None);
                    (keys.len() - 1) as u32
                })
            } else {
                *map.entry(v).or_insert_with(|| {
                    keys.push(Some(v));
                    (keys.len() - 1) as u32
                })
            };
            out.push(g);
        }
        Ok(())
    }
    fn num_groups(&self) -> usize {
        self.keys.len()
    }
    fn keys(&self) -> Result<Vec<ArrayRef>> {
        Ok(vec![IntKind::build(self.keys.clone(), &self.dt)?])
    }
    fn hashes(&self) -> Result<Vec<u64>> {
        let h = self.map.hasher();
        Ok(self
            .keys
            .iter()
            .map(|k| k.map_or(NULL_HASH, |v| h.hash_one(v)))
            .collect())
    }
    fn take_keys(&self, groups: &[u32]) -> Result<Option<ArrayRef>> {
        let a: Int64Array = groups.iter().map(|&g| self.keys[g as usize]).collect();
        Ok(Some(Arc::new(a)))
    }
    fn group_ids_from_state(
        &mut self,
        key: Option<&ArrayRef>,
        hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let key = key.ok_or_else(missing_state_keys)?;
        self.group_ids(std::slice::from_ref(key), hashes.len(), out)
    }
    fn size(&self) -> usize {
        self.map.capacity() * 13 + self.keys.capacity() * 16
    }
    fn reserve(&mut self, groups: usize, _key_bytes: usize) {
        self.map.reserve(groups);
        self.keys.reserve(groups);
    }
    fn hash_chunk(&mut self, keys: &[ArrayRef], rows: usize, hashes: &mut Vec<u64>) -> Result<()> {
        let Some(k) = keys.first() else {
            hashes.extend(std::iter::repeat_n(NULL_HASH, rows));
            return Ok(());
        };
        let a = IntKind::read(k)?.as_primitive::<Int64Type>().clone();
        let h = self.map.hasher();
        hashes.reserve(a.len());
        match a.nulls().filter(|n| n.null_count() > 0) {
            None => hashes.extend(a.values().iter().map(|v| h.hash_one(v))),
            Some(n) => hashes.extend(a.values().iter().enumerate().map(|(i, v)| {
                if n.is_null(i) {
                    NULL_HASH
                } else {
                    h.hash_one(v)
                }
            })),
        }
        self.chunk = Some(a);
        Ok(())
    }
    fn group_ids_of(
        &mut self,
        src: &dyn Grouper,
        sel: &[u32],
        _: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let src = src.as_any().downcast_ref::<IntGrouper>();
        let Some(a) = src.and_then(|g| g.chunk.as_ref()) else {
            return Err(wrong_source());
        };
        out.reserve(sel.len());
        for &i in sel {
            let i = i as usize;
            let v = a.is_valid(i).then(|| a.value(i));
            out.push(self.intern(v));
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The key rows of a row grouper, in blocks that are never reallocated:
/// growing one buffer of tens of MiB would copy (and page-fault in) every
/// key again at each doubling.
pub(super) struct KeyArena {
    blocks: Vec<Vec<u8>>,
    /// Per group: block, start in the block, length.
    spans: Vec<[u32; 3]>,
}

/// The first block of an arena; each next one is twice the previous, up
/// to [`MAX_BLOCK`] (so small groupers stay small).
const FIRST_BLOCK: usize = 4 << 10;
/// The largest block a push starts. A partitioned partial has one arena
/// per part (64), and one chunk may start a new block in each: with 1 MiB
/// blocks that was up to 64 MiB of fresh, mostly empty capacity per chunk
/// per worker (most of a 64 MiB budget) before the size check could spill.
/// 64 KiB bounds that slack at 4 MiB per partial; a malloc per 64 KiB of
/// keys costs nothing measurable.
const MAX_BLOCK: usize = 64 << 10;

impl KeyArena {
    pub(super) fn new() -> Self {
        KeyArena {
            blocks: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// The bytes of group `g`.
    pub(super) fn get(&self, g: usize) -> &[u8] {
        let [b, start, len] = self.spans[g];
        let start = start as usize;
        &self.blocks[b as usize][start..start + len as usize]
    }

    pub(super) fn len_of(&self, g: usize) -> usize {
        self.spans[g][2] as usize
    }

    /// Appends a key (as the next group).
    pub(super) fn push(&mut self, bytes: &[u8]) -> Result<()> {
        let len = bytes.len();
        if self
            .blocks
            .last()
            .is_none_or(|b| b.capacity() - b.len() < len)
        {
            let next = self
                .blocks
                .last()
                .map_or(FIRST_BLOCK, |b| (b.capacity() * 2).min(MAX_BLOCK));
            self.new_block(next.max(len))?;
        }
        let b = self.blocks.len() - 1;
        let block = &mut self.blocks[b];
        let start = block.len();
        block.extend_from_slice(bytes);
        // Blocks hold at most `u32::MAX` bytes (see `new_block`).
        self.spans.push([b as u32, start as u32, len as u32]);
        Ok(())
    }

    fn new_block(&mut self, bytes: usize) -> Result<()> {
        if bytes > u32::MAX as usize || self.blocks.len() >= u32::MAX as usize {
            return Err(Error::ResourcesExhausted(format!(
                "a group-by key of {bytes} bytes (at most 4 GiB)"
            )));
        }
        self.blocks.push(Vec::with_capacity(bytes));
        Ok(())
    }

    /// Makes room for `groups` more keys of `bytes` in all.
    pub(super) fn reserve(&mut self, groups: usize, bytes: usize) {
        self.spans.reserve(groups);
        let room = self.blocks.last().map_or(0, |b| b.capacity() - b.len());
        if bytes > room && bytes <= u32::MAX as usize {
            // Only fails over 4 GiB, which was just ruled out.
            let _ = self.new_block(bytes);
        }
    }

    pub(super) fn size(&self) -> usize {
        self.blocks.iter().map(Vec::capacity).sum::<usize>()
            + self.blocks.capacity() * std::mem::size_of::<Vec<u8>>()
            + self.spans.capacity() * 12
    }
}

/// Any key set, as `arrow-row` rows hashed as bytes.
pub(super) struct RowGrouper {
    conv: RowConverter,
    rows: KeyArena,
    /// The current chunk's encoded keys, reused so every chunk does not
    /// allocate (and page-fault in) a new buffer.
    scratch: Rows,
    hashes: Vec<u64>,
    table: HashTable<u32>,
    hasher: KeyHasher,
}

impl RowGrouper {
    pub(super) fn new(types: &[DataType], hasher: KeyHasher) -> Result<Self> {
        let conv = RowConverter::new(types.iter().map(|t| SortField::new(t.clone())).collect())?;
        let rows = KeyArena::new();
        let scratch = conv.empty_rows(0, 0);
        Ok(RowGrouper {
            conv,
            rows,
            scratch,
            hashes: Vec::new(),
            table: HashTable::new(),
            hasher,
        })
    }
}

/// The group of `row` (hash `h`) in a row grouper's `rows`, `hashes` and
/// `table`, created if new. The stored hash is compared before the row
/// bytes: a tag collision then rarely touches the (cold) key arena.
fn intern_row(
    rows: &mut KeyArena,
    hashes: &mut Vec<u64>,
    table: &mut HashTable<u32>,
    row: &[u8],
    h: u64,
) -> Result<u32> {
    // A hit is one probe; a new row is inserted without a second one.
    if let Some(&g) = table.find(h, |&g| {
        hashes[g as usize] == h && rows.get(g as usize) == row
    }) {
        return Ok(g);
    }
    let g = hashes.len() as u32;
    rows.push(row)?;
    hashes.push(h);
    table.insert_unique(h, g, |&g| hashes[g as usize]);
    Ok(g)
}

impl Grouper for RowGrouper {
    fn group_ids(&mut self, keys: &[ArrayRef], _rows: usize, out: &mut Vec<u32>) -> Result<()> {
        let Self {
            conv,
            rows,
            scratch,
            hashes,
            table,
            hasher,
        } = self;
        scratch.clear();
        conv.append(scratch, keys)?;
        out.reserve(scratch.num_rows());
        for row in scratch.iter() {
            let h = hasher.hash_one(row.as_ref());
            out.push(intern_row(rows, hashes, table, row.data(), h)?);
        }
        Ok(())
    }
    fn num_groups(&self) -> usize {
        self.hashes.len()
    }
    fn keys(&self) -> Result<Vec<ArrayRef>> {
        let parser = self.conv.parser();
        let rows = (0..self.rows.spans.len()).map(|g| parser.parse(self.rows.get(g)));
        Ok(self.conv.convert_rows(rows)?)
    }
    fn hashes(&self) -> Result<Vec<u64>> {
        Ok(self.hashes.clone())
    }
    fn take_keys(&self, groups: &[u32]) -> Result<Option<ArrayRef>> {
        let bytes: usize = groups.iter().map(|&g| self.rows.len_of(g as usize)).sum();
        if bytes > i32::MAX as usize {
            return Err(Error::ResourcesExhausted(format!(
                "a partition of the group-by holds {bytes} bytes of keys (at most 2 GiB)"
            )));
        }
        let mut data = Vec::with_capacity(bytes);
        let mut offsets = Vec::with_capacity(groups.len() + 1);
        offsets.push(0i32);
        for &g in groups {
            data.extend_from_slice(self.rows.get(g as usize));
            offsets.push(data.len() as i32);
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let a = BinaryArray::try_new(offsets, Buffer::from_vec(data), None)?;
        Ok(Some(Arc::new(a)))
    }
    fn group_ids_from_state(
        &mut self,
        key: Option<&ArrayRef>,
        in_hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let key = key
            .and_then(|k| k.as_binary_opt::<i32>())
            .ok_or_else(missing_state_keys)?;
        out.reserve(key.len());
        let Self {
            rows,
            hashes,
            table,
            ..
        } = self;
        for (i, &h) in in_hashes.iter().enumerate().take(key.len()) {
            out.push(intern_row(rows, hashes, table, key.value(i), h)?);
        }
        Ok(())
    }
    fn size(&self) -> usize {
        self.rows.size()
            + self.scratch.size()
            + self.hashes.capacity() * 8
            + self.table.capacity() * 5
    }
    fn reserve(&mut self, groups: usize, key_bytes: usize) {
        self.rows.reserve(groups, key_bytes);
        self.hashes.reserve(groups);
        let hashes = &self.hashes;
        self.table.reserve(groups, |&g| hashes[g as usize]);
    }
    fn hash_chunk(&mut self, keys: &[ArrayRef], _rows: usize, hashes: &mut Vec<u64>) -> Result<()> {
        let Self {
            conv,
            scratch,
            hasher,
            ..
        } = self;
        scratch.clear();
        conv.append(scratch, keys)?;
        hashes.reserve(scratch.num_rows());
        hashes.extend(scratch.iter().map(|row| hasher.hash_one(row.as_ref())));
        Ok(())
    }
    fn group_ids_of(
        &mut self,
        src: &dyn Grouper,
        sel: &[u32],
        in_hashes: &[u64],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let src = src
            .as_any()
            .downcast_ref::<RowGrouper>()
            .ok_or_else(wrong_source)?;
        let chunk = &src.scratch;
        if sel
            .iter()
            .any(|&i| i as usize >= chunk.num_rows().min(in_hashes.len()))
        {
            return Err(wrong_source());
        }
        out.reserve(sel.len());
        let Self {
            rows,
            hashes,
            table,
            ..
        } = self;
        for &i in sel {
            let i = i as usize;
            let row = chunk.row(i).data();
            out.push(intern_row(rows, hashes, table, row, in_hashes[i])?);
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
    use arrow_array::{Int32Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn int_and_row_groupers_with_nulls() {
        let k: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(3),
            None,
            Some(3),
            Some(1),
            None,
        ]));
        let h = KeyHasher::default();
        let mut g = new_grouper(&[DataType::Int32], &h, false).unwrap();
        let mut ids = Vec::new();
        g.group_ids(std::slice::from_ref(&k), 5, &mut ids).unwrap();
        assert_eq!(ids, vec![0, 1, 0, 2, 1]);
        assert_eq!(
            g.keys().unwrap()[0].as_ref(),
            &Int32Array::from(vec![Some(3), None, Some(1)]) as &dyn Array
        );

        let s: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            Some("a"),
            None,
            Some("b"),
            None,
        ]));
        let mut g = new_grouper(&[DataType::Int32, DataType::Utf8], &h, false).unwrap();
        let mut ids = Vec::new();
        g.group_ids(&[k, s], 5, &mut ids).unwrap();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
        let keys = g.keys().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].null_count(), 2);
    }

    #[test]
    fn key_arena_spans_blocks() {
        let mut a = KeyArena::new();
        let keys: Vec<Vec<u8>> = (0..5000usize)
            .map(|i| vec![(i % 251) as u8; i % 97])
            .chain([vec![7u8; MAX_BLOCK + 3], vec![], vec![1, 2, 3]])
            .collect();
        for (i, k) in keys.iter().enumerate() {
            if i == 100 {
                a.reserve(10, 1 << 16);
            }
            a.push(k).unwrap();
        }
        assert!(a.blocks.len() > 2);
        assert!(a.blocks.iter().all(|b| b.len() <= b.capacity()));
        for (g, k) in keys.iter().enumerate() {
            assert_eq!(a.get(g), k.as_slice());
            assert_eq!(a.len_of(g), k.len());
        }
        assert!(a.size() >= keys.iter().map(Vec::len).sum::<usize>());
    }
}
