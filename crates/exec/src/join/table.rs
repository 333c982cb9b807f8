//! Join keys and the build side's hash table.
//!
//! Keys are hashed once per row. A single integer-like key (any integer
//! width, booleans, dates, times, timestamps) is read as `i64` and compared
//! as such; anything else (several keys, strings, binary, decimals) is
//! encoded with `arrow-row` and compared as bytes. Rows with a null in any
//! key get no hash table entry, so they never match.
//!
//! Unique single integer keys that span a narrow range skip hashing: a
//! direct-address table maps `key - min` to the build row (`Dense`).
//!
//! The table is split into partitions by hash bits that neither the
//! partition's own table (low bits, and the top seven as tags) nor a grace
//! partitioning at another seed relies on, so the partitions are built in
//! parallel without locks and probes go straight to one of them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::DataType;
use foldhash::quality::FixedState;
use hashbrown::{HashSet, HashTable};
use parframe_common::{Error, Result};
use rayon::prelude::*;
use std::hash::BuildHasher;

/// End of a chain of rows with equal keys.
const NONE: u32 = u32::MAX;
/// Rows hashed per task when hashing in parallel.
const HASH_TASK_ROWS: usize = 1 << 15;

/// How the keys of one join are represented.
pub(crate) struct KeyCodec {
    /// `None`: a cross join (no keys: every row matches every row).
    kind: Option<KeyKind>,
}

enum KeyKind {
    Int,
    Rows(RowConverter),
}

/// The keys of one batch, ready for hashing and comparing.
pub(crate) enum Keys {
    None,
    Int(ScalarBuffer<i64>),
    Rows(Rows),
}

/// The hasher of one level of partitioning: level 0 is the in-memory
/// table, grace partitioning uses levels 1, 2, ...
pub(crate) fn hasher(level: u32) -> FixedState {
    FixedState::with_seed(
        0x9e37_79b9_7f4a_7c15 ^ u64::from(level).wrapping_mul(0xbf58_476d_1ce4_e5b9),
    )
}

/// The partition (of `parts`, a power of two) that `hash` falls in. Bits
/// 40.. are used: hashbrown takes its bucket index from the low bits and
/// its tags from the top seven.
pub(crate) fn partition_of(hash: u64, parts: usize) -> usize {
    ((hash >> 40) as usize) & (parts - 1)
}

fn int_like(dt: &DataType) -> bool {
    dt.is_integer()
        || matches!(
            dt,
            DataType::Boolean
                | DataType::Date32
                | DataType::Date64
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Timestamp(_, _)
                | DataType::Duration(_)
        )
}

/// A key column as `i64`s: zero-copy for 8-byte types, widened for
/// narrower ones. Any injective mapping works, since both sides of a join
/// have the same key type.
fn int_values(a: &ArrayRef) -> Result<ScalarBuffer<i64>> {
    if let DataType::Boolean = a.data_type() {
        let b = a.as_boolean();
        return Ok((0..b.len()).map(|i| i64::from(b.value(i))).collect());
    }
    let data = a.to_data();
    let buf = data
        .buffers()
        .first()
        .ok_or_else(|| Error::InvalidArgument("internal: a key column without values".into()))?
        .clone();
    let (off, len) = (data.offset(), data.len());
    Ok(match a.data_type().primitive_width() {
        Some(8) => ScalarBuffer::<i64>::new(buf, off, len),
        Some(4) => ScalarBuffer::<i32>::new(buf, off, len)
            .iter()
            .map(|&v| i64::from(v))
            .collect(),
        Some(2) => ScalarBuffer::<i16>::new(buf, off, len)
            .iter()
            .map(|&v| i64::from(v))
            .collect(),
        Some(1) => ScalarBuffer::<i8>::new(buf, off, len)
            .iter()
            .map(|&v| i64::from(v))
            .collect(),
        _ => {
            return Err(Error::InvalidArgument(format!(
                "internal: {} is not an integer-like key",
                a.data_type()
            )));
        }
    })
}

impl KeyCodec {
    pub(crate) fn new(types: &[DataType]) -> Result<Self> {
        let kind = match types {
            [] => None,
            [t] if int_like(t) => Some(KeyKind::Int),
            _ => Some(KeyKind::Rows(RowConverter::new(
                types.iter().map(|t| SortField::new(t.clone())).collect(),
            )?)),
        };
        Ok(KeyCodec { kind })
    }

    /// The keys of `cols` and which rows have no null key (`None`: all).
    pub(crate) fn encode(&self, cols: &[ArrayRef]) -> Result<(Keys, Option<NullBuffer>)> {
        let valid = cols.iter().fold(None, |acc: Option<NullBuffer>, c| {
            NullBuffer::union(acc.as_ref(), c.logical_nulls().as_ref())
        });
        let keys = match &self.kind {
            None => Keys::None,
            Some(KeyKind::Int) => Keys::Int(int_values(&cols[0])?),
            Some(KeyKind::Rows(conv)) => Keys::Rows(conv.convert_columns(cols)?),
        };
        Ok((keys, valid))
    }
}

impl Keys {
    fn hash(&self, h: &FixedState, i: usize) -> u64 {
        match self {
            Keys::None => 0,
            Keys::Int(v) => h.hash_one(v[i]),
            Keys::Rows(r) => h.hash_one(r.row(i).as_ref()),
        }
    }

    /// Every row's hash at `level`, computed in parallel.
    pub(crate) fn hashes(&self, level: u32, rows: usize) -> Vec<u64> {
        let h = hasher(level);
        let mut out = vec![0u64; rows];
        out.par_chunks_mut(HASH_TASK_ROWS)
            .enumerate()
            .for_each(|(t, chunk)| {
                let base = t * HASH_TASK_ROWS;
                for (j, o) in chunk.iter_mut().enumerate() {
                    *o = self.hash(&h, base + j);
                }
            });
        out
    }

    /// Bytes held by the encoded keys (zero for zero-copy integer keys is
    /// not assumed: widened keys are fresh memory).
    pub(crate) fn size(&self) -> usize {
        match self {
            Keys::None => 0,
            Keys::Int(v) => v.len() * 8,
            Keys::Rows(r) => r.size(),
        }
    }
}

/// An entry of a partition's table: the key (integer keys) or the hash
/// (row keys), and the first of the key's rows, both as a partition row
/// (to follow the chain) and as a build row (so a unique key costs one
/// random memory access, not three).
#[derive(Clone, Copy)]
struct Entry {
    tag: u64,
    head: u32,
    head_row: u32,
}

struct Part {
    /// Build rows of this partition, ascending.
    rows: Vec<u32>,
    /// `next[j]`: the partition row after `j` with the same key, or NONE.
    next: Vec<u32>,
    table: HashTable<Entry>,
}

/// A direct-address table of unique integer keys that span a small range:
/// slot `k - min` holds one more than the build row of key `k`, or 0. A
/// lookup is one memory access, where a hash table needs a hash, its
/// control bytes and an entry (two cache misses on a large build side).
/// Dense integer keys (surrogate ids, row numbers, dates) are common, so
/// this is worth a scan of the keys to find out.
struct Dense {
    min: i64,
    slots: Vec<u32>,
}

/// Dense tables are built when the keys span at most this many slots a
/// build row (plus a constant, for tiny build sides): four bytes a slot
/// stay below the hash table's own size per row.
const DENSE_SLOTS_PER_ROW: u64 = 4;

impl Dense {
    /// The table of `keys` (`valid`: rows without null keys), or `None`
    /// when the keys span too wide a range or some key occurs twice (chains
    /// of equal keys are the hash table's job).
    fn build(keys: &ScalarBuffer<i64>, valid: Option<&NullBuffer>) -> Option<Self> {
        let n = keys.len();
        let ok = |i: usize| valid.is_none_or(|v| v.is_valid(i));
        let (min, max) = (0..n)
            .into_par_iter()
            .with_min_len(HASH_TASK_ROWS)
            .filter(|&i| ok(i))
            .map(|i| (keys[i], keys[i]))
            .reduce(|| (i64::MAX, i64::MIN), |a, b| (a.0.min(b.0), a.1.max(b.1)));
        if min > max {
            return None;
        }
        let span = u64::try_from(i128::from(max) - i128::from(min) + 1).ok()?;
        if span > DENSE_SLOTS_PER_ROW * n as u64 + 256 {
            return None;
        }
        // Zeroed memory comes from the OS as it is touched.
        let mut slots = vec![0u32; usize::try_from(span).ok()?];
        // Each task owns a range of slots and reads every key, writing
        // those in its range: plain stores, no atomics (a compare-exchange
        // a row serializes the cache misses). Reading the keys again is
        // cheap next to the random writes.
        let tasks = rayon::current_num_threads().clamp(1, 16);
        let per = slots.len().div_ceil(tasks).max(1);
        let unique = slots
            .par_chunks_mut(per)
            .enumerate()
            .try_for_each(|(t, own)| {
                let lo = (t * per) as u64;
                for (i, &k) in keys.iter().enumerate() {
                    let at = Self::offset(k, min).wrapping_sub(lo);
                    if at < own.len() as u64 && ok(i) {
                        let slot = &mut own[at as usize];
                        if *slot != 0 {
                            return Err(());
                        }
                        *slot = i as u32 + 1;
                    }
                }
                Ok(())
            });
        unique.is_ok().then_some(Dense { min, slots })
    }

    /// The slot of key `k`, or a number at least `slots.len()` for a key
    /// out of range. With `min` and `min + slots.len() - 1` both `i64`s,
    /// the wrapping difference read as `u64` is below `slots.len()` exactly
    /// for keys in that range.
    #[inline]
    fn offset(k: i64, min: i64) -> u64 {
        k.wrapping_sub(min) as u64
    }

    #[inline]
    fn get(&self, k: i64) -> Option<u32> {
        let r = *self.slots.get(Self::offset(k, self.min) as usize)?;
        r.checked_sub(1)
    }
}

/// The build side of a join: its rows, their keys and the hash table.
pub(crate) struct BuiltTable {
    pub(crate) batch: RecordBatch,
    keys: Keys,
    /// A direct-address table replacing `parts` (unique dense integer keys).
    dense: Option<Box<Dense>>,
    parts: Vec<Part>,
    /// Rows matched so far, a bit each (when tracked).
    matched: Option<Vec<AtomicU64>>,
    /// Whether some key occurs on more than one row.
    pub(crate) has_duplicates: bool,
}

/// Bytes a table over `rows` rows needs beyond the batch and its keys:
/// hashes while building, row lists, chains and table entries.
pub(crate) fn table_overhead(rows: usize) -> u64 {
    rows as u64 * 48
}

impl BuiltTable {
    /// Hashes `batch` on the columns `key_idx`, in parallel on the current
    /// rayon pool. `track_matches`: remember which rows matched (full joins).
    pub(crate) fn build(
        batch: RecordBatch,
        key_idx: &[usize],
        codec: &KeyCodec,
        threads: usize,
        track_matches: bool,
    ) -> Result<Self> {
        let n = batch.num_rows();
        if u32::try_from(n).is_err() {
            return Err(Error::ResourcesExhausted(format!(
                "the build side of a join holds {n} rows in one partition; at most {} are supported",
                u32::MAX - 1
            )));
        }
        let cols: Vec<ArrayRef> = key_idx.iter().map(|&i| batch.column(i).clone()).collect();
        let (keys, valid) = codec.encode(&cols)?;
        let matched =
            track_matches.then(|| (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect());
        if matches!(keys, Keys::None) {
            return Ok(BuiltTable {
                batch,
                keys,
                dense: None,
                parts: Vec::new(),
                matched,
                has_duplicates: n > 1,
            });
        }
        if let Keys::Int(k) = &keys
            && let Some(dense) = Dense::build(k, valid.as_ref())
        {
            return Ok(BuiltTable {
                batch,
                keys,
                dense: Some(Box::new(dense)),
                parts: Vec::new(),
                matched,
                has_duplicates: false,
            });
        }
        let hashes = keys.hashes(0, n);
        let nparts = if n < (1 << 16) {
            1
        } else {
            (threads * 8).next_power_of_two().min(256)
        };
        // Rows of each partition, gathered in parallel over row ranges and
        // concatenated in order.
        let task = n.div_ceil(threads.max(1) * 4).max(4096);
        let lists: Vec<Vec<Vec<u32>>> = (0..n.div_ceil(task))
            .into_par_iter()
            .map(|t| {
                let mut l: Vec<Vec<u32>> = (0..nparts).map(|_| Vec::new()).collect();
                for i in t * task..((t + 1) * task).min(n) {
                    if valid.as_ref().is_none_or(|v| v.is_valid(i)) {
                        l[partition_of(hashes[i], nparts)].push(i as u32);
                    }
                }
                l
            })
            .collect();
        let parts_rows: Vec<Vec<u32>> = (0..nparts)
            .into_par_iter()
            .map(|p| {
                let len = lists.iter().map(|l| l[p].len()).sum();
                let mut rows = Vec::with_capacity(len);
                for l in &lists {
                    rows.extend_from_slice(&l[p]);
                }
                rows
            })
            .collect();
        drop(lists);
        let built: Vec<(Part, bool)> = parts_rows
            .into_par_iter()
            .map(|rows| build_part(rows, &keys, &hashes))
            .collect();
        let has_duplicates = built.iter().any(|(_, d)| *d);
        Ok(BuiltTable {
            batch,
            keys,
            dense: None,
            parts: built.into_iter().map(|(p, _)| p).collect(),
            matched,
            has_duplicates,
        })
    }

    /// Bytes held beyond the batch.
    pub(crate) fn overhead(&self) -> u64 {
        let parts: usize = self
            .parts
            .iter()
            .map(|p| p.rows.capacity() * 8 + p.table.capacity() * 17)
            .sum();
        let dense = self.dense.as_ref().map_or(0, |d| d.slots.capacity() * 4);
        (self.keys.size() + parts + dense) as u64
    }

    pub(crate) fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Calls `f(i, build_row)` for each build row matching probe row `i`,
    /// for every row of the probe `keys` (`valid`: rows without null keys),
    /// in probe row order then build row order.
    pub(crate) fn probe(
        &self,
        keys: &Keys,
        valid: Option<&NullBuffer>,
        rows: usize,
        f: impl FnMut(usize, u32),
    ) {
        self.probe_from(keys, valid, rows, ProbePos::START, usize::MAX, f);
    }

    /// [`probe`](Self::probe) from `pos` on, stopping after `limit` calls
    /// of `f`: returns where to resume, [`ProbePos::done`] once every probe
    /// row has been visited. So a probe row matching millions of build rows
    /// (a low-cardinality key, a cross join) is joined a bounded slice of
    /// pairs at a time.
    pub(crate) fn probe_from(
        &self,
        keys: &Keys,
        valid: Option<&NullBuffer>,
        rows: usize,
        pos: ProbePos,
        limit: usize,
        mut f: impl FnMut(usize, u32),
    ) -> ProbePos {
        let mut left = limit;
        let mut i = pos.row;
        let ok = |i: usize| valid.is_none_or(|v| v.is_valid(i));
        if matches!(self.keys, Keys::None) {
            // Cross joins: every row matches; `next` is the build row.
            let m = self.batch.num_rows() as u32;
            let mut j = if pos.next == NONE { 0 } else { pos.next };
            while i < rows {
                while j < m {
                    if left == 0 {
                        return ProbePos {
                            row: i,
                            part: 0,
                            next: j,
                        };
                    }
                    f(i, j);
                    left -= 1;
                    j += 1;
                }
                j = 0;
                i += 1;
            }
            return ProbePos::done(rows);
        }
        if let (Keys::Int(pk), Some(dense)) = (keys, &self.dense) {
            while i < rows {
                if left == 0 {
                    return ProbePos::at(i);
                }
                if let Some(r) = dense.get(pk[i])
                    && ok(i)
                {
                    f(i, r);
                    left -= 1;
                }
                i += 1;
            }
            return ProbePos::done(rows);
        }
        // Without duplicate keys every chain is one row long.
        let dups = self.has_duplicates;
        if pos.next != NONE {
            // The rest of a chain cut short by the last call.
            if let Some(part) = self.parts.get(pos.part as usize)
                && let Some(next) = part.walk(pos.next, i, &mut left, &mut f)
            {
                return ProbePos {
                    row: i,
                    part: pos.part,
                    next,
                };
            }
            i += 1;
        }
        let h = hasher(0);
        let nparts = self.parts.len();
        while i < rows {
            if left == 0 {
                return ProbePos::at(i);
            }
            if ok(i) {
                let (p, found) = match (keys, &self.keys) {
                    (Keys::Int(pk), Keys::Int(_)) => {
                        let k = pk[i];
                        let hash = h.hash_one(k);
                        let p = partition_of(hash, nparts);
                        (p, self.parts[p].table.find(hash, |e| e.tag == k as u64))
                    }
                    (Keys::Rows(pr), Keys::Rows(br)) => {
                        let row = pr.row(i);
                        let hash = h.hash_one(row.as_ref());
                        let p = partition_of(hash, nparts);
                        let found = self.parts[p].table.find(hash, |e| {
                            e.tag == hash && br.row(e.head_row as usize) == row
                        });
                        (p, found)
                    }
                    _ => return ProbePos::done(rows),
                };
                if let Some(e) = found {
                    f(i, e.head_row);
                    left -= 1;
                    let part = &self.parts[p];
                    let next = if dups {
                        part.next[e.head as usize]
                    } else {
                        NONE
                    };
                    if next != NONE
                        && let Some(next) = part.walk(next, i, &mut left, &mut f)
                    {
                        return ProbePos {
                            row: i,
                            part: p as u32,
                            next,
                        };
                    }
                }
            }
            i += 1;
        }
        ProbePos::done(rows)
    }

    /// Marks build rows as matched (full joins, and semi and anti joins
    /// built on their left side).
    pub(crate) fn mark(&self, rows: &[u32]) {
        if let Some(m) = &self.matched {
            for &r in rows {
                m[r as usize / 64].fetch_or(1 << (r % 64), Ordering::Relaxed);
            }
        }
    }

    /// Build rows never matched, ascending.
    pub(crate) fn unmatched(&self) -> Vec<u32> {
        self.rows_marked(false)
    }

    /// Build rows matched at least once, ascending.
    pub(crate) fn matched(&self) -> Vec<u32> {
        self.rows_marked(true)
    }

    fn rows_marked(&self, marked: bool) -> Vec<u32> {
        let Some(m) = &self.matched else {
            return Vec::new();
        };
        (0..self.batch.num_rows() as u32)
            .filter(|&r| {
                (m[r as usize / 64].load(Ordering::Relaxed) & (1 << (r % 64)) != 0) == marked
            })
            .collect()
    }
}

impl Part {
    /// Calls `f(i, row)` for the build rows of a chain from partition row
    /// `j` on, while `left` allows; returns the partition row to resume
    /// from when `left` ran out first.
    #[inline]
    fn walk(
        &self,
        mut j: u32,
        i: usize,
        left: &mut usize,
        f: &mut impl FnMut(usize, u32),
    ) -> Option<u32> {
        while j != NONE {
            if *left == 0 {
                return Some(j);
            }
            f(i, self.rows[j as usize]);
            *left -= 1;
            j = self.next[j as usize];
        }
        None
    }
}

/// Where a [`BuiltTable::probe_from`] stopped: the probe row, and the
/// next of its matches to visit (a partition row of a chain, or for cross
/// joins a build row; `NONE`: from its first match).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProbePos {
    pub(crate) row: usize,
    part: u32,
    next: u32,
}

impl ProbePos {
    /// The first match of the first row.
    pub(crate) const START: ProbePos = ProbePos {
        row: 0,
        part: 0,
        next: NONE,
    };

    fn at(row: usize) -> Self {
        ProbePos {
            row,
            part: 0,
            next: NONE,
        }
    }

    /// Past the last of `rows` probe rows: nothing left.
    pub(crate) fn done(rows: usize) -> Self {
        ProbePos::at(rows)
    }
}

fn build_part(rows: Vec<u32>, keys: &Keys, hashes: &[u64]) -> (Part, bool) {
    let h = hasher(0);
    let mut next = vec![NONE; rows.len()];
    let mut table: HashTable<Entry> = HashTable::with_capacity(rows.len());
    let mut dup = false;
    // Backwards, so each chain lists its rows in ascending order.
    for j in (0..rows.len()).rev() {
        let r = rows[j] as usize;
        let hash = hashes[r];
        let (tag, found) = match keys {
            Keys::Int(v) => {
                let k = v[r] as u64;
                (k, table.find_mut(hash, |e| e.tag == k))
            }
            Keys::Rows(rs) => {
                let row = rs.row(r);
                (
                    hash,
                    table.find_mut(hash, |e| {
                        e.tag == hash && rs.row(e.head_row as usize) == row
                    }),
                )
            }
            Keys::None => (0, None),
        };
        match found {
            Some(e) => {
                next[j] = e.head;
                e.head = j as u32;
                e.head_row = r as u32;
                dup = true;
            }
            None => {
                let rehash = |e: &Entry| match keys {
                    Keys::Int(_) => h.hash_one(e.tag as i64),
                    _ => e.tag,
                };
                table.insert_unique(
                    hash,
                    Entry {
                        tag,
                        head: j as u32,
                        head_row: r as u32,
                    },
                    rehash,
                );
            }
        }
    }
    (Part { rows, next, table }, dup)
}

/// Keys seen so far on the streamed side, to check a "one" side of a
/// validated join that is not the build side. Sharded by hash to keep
/// threads apart.
pub(crate) struct SeenKeys {
    ints: Vec<Mutex<HashSet<i64>>>,
    rows: Vec<Mutex<HashSet<Box<[u8]>>>>,
}

impl SeenKeys {
    pub(crate) fn new() -> Self {
        SeenKeys {
            ints: (0..64).map(|_| Mutex::new(HashSet::new())).collect(),
            rows: (0..64).map(|_| Mutex::new(HashSet::new())).collect(),
        }
    }

    /// Adds the valid keys of a batch; returns the row of the first key
    /// already seen.
    pub(crate) fn add(
        &self,
        keys: &Keys,
        valid: Option<&NullBuffer>,
        rows: usize,
    ) -> Option<usize> {
        let h = hasher(0);
        let poisoned = || Some(0);
        for i in 0..rows {
            if !valid.is_none_or(|v| v.is_valid(i)) {
                continue;
            }
            let hash = keys.hash(&h, i);
            let shard = partition_of(hash, 64);
            let fresh = match keys {
                Keys::Int(v) => match self.ints[shard].lock() {
                    Ok(mut s) => s.insert(v[i]),
                    Err(_) => return poisoned(),
                },
                Keys::Rows(r) => match self.rows[shard].lock() {
                    Ok(mut s) => s.insert(r.row(i).as_ref().into()),
                    Err(_) => return poisoned(),
                },
                Keys::None => true,
            };
            if !fresh {
                return Some(i);
            }
        }
        None
    }
}
