//! The aggregation driver: per-chunk group ids and state updates, partials
//! split by key hash into "state batches", state batches merged back,
//! finishing into arrays.
//!
//! A state batch holds groups of one partial, one row per group: column 0
//! the key hash (`UInt64`), then the grouper's state key column (none
//! without keys), then each aggregate's state columns. All state batches of
//! an aggregation share one schema ([`Aggregator::state_schema`]), so they
//! can be written to spill files and read back.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{ArrayRef, RecordBatch, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use arrow_select::concat::concat_batches;
use arrow_select::take::take;
use parframe_common::{Error, Result, column_not_found};

use super::groups::{Grouper, KeyHasher, new_grouper, partition_of};
use super::{AggFunc, AggState, UpdateCtx, new_state};

/// What to aggregate: key columns and distinct leaf aggregates, resolved
/// against the input schema.
#[derive(Clone)]
pub(crate) struct Aggregator {
    keys: Vec<String>,
    key_types: Vec<DataType>,
    leaves: Vec<(AggFunc, Vec<String>, Vec<DataType>)>,
    /// Shared by every grouper, so partials agree on partitions.
    hasher: KeyHasher,
    /// The schema of state batches.
    state_schema: SchemaRef,
    /// State columns per leaf aggregate.
    widths: Vec<usize>,
}

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregator")
            .field("keys", &self.keys)
            .field("leaves", &self.leaves)
            .finish()
    }
}

/// One partial aggregation: a grouper and one state per leaf aggregate
/// (the groups of one hash partition when the partial is partitioned).
pub(crate) struct Part {
    grouper: Box<dyn Grouper>,
    states: Vec<Box<dyn AggState>>,
    ids: Vec<u32>,
}

/// Partitions (as a power of two) of a partitioned partial. The same
/// partition function as the in-memory merge's (`MERGE_BITS`), and a
/// spill's partition (fewer bits at level 0) is a range of these.
pub(crate) const PART_BITS: u32 = 6;

/// A worker's partial aggregation: one [`Part`] (flat), or, once it holds
/// many groups ([`Aggregator::partition`]), one per hash partition
/// (`1 << PART_BITS`) with rows routed by their key hash as chunks are
/// folded. With many groups most rows make new groups: one table per
/// partition keeps each table small (probes and growth stay in cache),
/// and the merge takes each partition of one partial over as it is
/// instead of re-inserting every group.
pub(crate) struct Partial {
    parts: Vec<Part>,
    /// When partitioned: encodes and hashes each chunk's keys once, for
    /// the parts' groupers to read.
    router: Option<Box<dyn Grouper>>,
    /// Scratch of routing: the chunk's hashes and each part's rows.
    hashes: Vec<u64>,
    sel: Vec<Vec<u32>>,
}

impl Part {
    /// Bytes held by the grouper and the states (estimated from capacities).
    fn size(&self) -> usize {
        self.grouper.size()
            + self.ids.capacity() * 4
            + self.states.iter().map(|s| s.size()).sum::<usize>()
    }
}

fn field_type(schema: &Schema, name: &str) -> Result<DataType> {
    schema
        .field_with_name(name)
        .map(|f| f.data_type().clone())
        .map_err(|_| column_not_found(name, schema.fields().iter().map(|f| f.name().as_str())))
}

fn column(batch: &RecordBatch, name: &str) -> Result<ArrayRef> {
    let schema = batch.schema_ref();
    schema
        .index_of(name)
        .map(|i| batch.column(i).clone())
        .map_err(|_| column_not_found(name, schema.fields().iter().map(|f| f.name().as_str())))
}

impl Aggregator {
    pub(crate) fn new(keys: &[String], leaves: &[AggFunc], schema: &Schema) -> Result<Self> {
        let key_types = keys
            .iter()
            .map(|k| field_type(schema, k))
            .collect::<Result<Vec<_>>>()?;
        let leaves = leaves
            .iter()
            .map(|f| {
                let cols: Vec<String> = f.columns().iter().map(|c| c.to_string()).collect();
                let types = cols
                    .iter()
                    .map(|c| field_type(schema, c))
                    .collect::<Result<Vec<_>>>()?;
                Ok((f.clone(), cols, types))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut a = Aggregator {
            keys: keys.to_vec(),
            key_types,
            leaves,
            hasher: KeyHasher::default(),
            state_schema: Arc::new(Schema::empty()),
            widths: Vec::new(),
        };
        // Fail now, not on the first chunk, for unsupported types; an empty
        // partial also gives the state batch layout.
        let empty = a.new_part(false)?;
        let mut fields = vec![Field::new("hash", DataType::UInt64, false)];
        if let Some(k) = empty.grouper.take_keys(&[])? {
            fields.push(Field::new("key", k.data_type().clone(), true));
        }
        for (i, s) in empty.states.into_iter().enumerate() {
            let cols = s.to_arrow(0)?;
            a.widths.push(cols.len());
            for (j, c) in cols.iter().enumerate() {
                fields.push(Field::new(format!("s{i}_{j}"), c.data_type().clone(), true));
            }
        }
        a.state_schema = Arc::new(Schema::new(fields));
        Ok(a)
    }

    /// The schema of this aggregation's state batches.
    pub(crate) fn state_schema(&self) -> &SchemaRef {
        &self.state_schema
    }

    pub(crate) fn new_partial(&self) -> Result<Partial> {
        Ok(Partial::flat(self.new_part(false)?))
    }

    /// An empty part; `routed`: of a partitioned partial (see
    /// [`new_grouper`]).
    fn new_part(&self, routed: bool) -> Result<Part> {
        Ok(Part {
            grouper: new_grouper(&self.key_types, &self.hasher, routed)?,
            states: self
                .leaves
                .iter()
                .map(|(f, _, t)| new_state(f, t))
                .collect::<Result<Vec<_>>>()?,
            ids: Vec::new(),
        })
    }

    /// Whether `p` is flat with more than `min_groups` groups, so it
    /// should go on partitioned ([`Aggregator::partition`]).
    pub(crate) fn wants_partition(&self, p: &Partial, min_groups: usize) -> bool {
        p.router.is_none() && !self.keys.is_empty() && p.num_groups() > min_groups
    }

    /// Turns a flat partial into a partitioned one (see [`Partial`]); a
    /// no-op on a partitioned partial or one without keys. Holds about
    /// twice the partial while it runs.
    pub(crate) fn partition(&self, p: &mut Partial) -> Result<()> {
        if p.router.is_some() || self.keys.is_empty() {
            return Ok(());
        }
        let Some(flat) = p.parts.pop() else {
            return Ok(());
        };
        let batches = self.split_part(flat, PART_BITS, 0)?;
        let mut parts = Vec::with_capacity(batches.len());
        for b in batches {
            let mut part = Partial::flat(self.new_part(true)?);
            self.reserve_for(&mut part, std::slice::from_ref(&b));
            self.merge_state(&mut part, &b)?;
            parts.extend(part.parts);
        }
        p.parts = parts;
        p.router = Some(new_grouper(&self.key_types, &self.hasher, true)?);
        p.sel = vec![Vec::new(); 1 << PART_BITS];
        Ok(())
    }

    /// Folds one chunk into `p`; `row_base` orders chunks (see [`UpdateCtx`]).
    pub(crate) fn update(&self, p: &mut Partial, batch: &RecordBatch, row_base: u64) -> Result<()> {
        let keys = self
            .keys
            .iter()
            .map(|k| column(batch, k))
            .collect::<Result<Vec<_>>>()?;
        let ctx = UpdateCtx { row_base };
        let args = self
            .leaves
            .iter()
            .map(|(_, cols, _)| cols.iter().map(|c| column(batch, c)).collect())
            .collect::<Result<Vec<Vec<ArrayRef>>>>()?;
        let Some(router) = p.router.as_mut() else {
            let [part] = p.parts.as_mut_slice() else {
                return Err(bad_partial());
            };
            part.ids.clear();
            part.grouper
                .group_ids(&keys, batch.num_rows(), &mut part.ids)?;
            let n = part.grouper.num_groups();
            for (a, state) in args.iter().zip(part.states.iter_mut()) {
                state.update(a, &part.ids, n, ctx)?;
            }
            return Ok(());
        };
        // Partitioned: route every row to its partition's part; each part
        // sees its rows' arguments gathered, in chunk order (positions for
        // `first`/`last` stay ordered: the k-th routed row of a chunk gets
        // `row_base + k`, still below the next chunk's `row_base`).
        p.hashes.clear();
        router.hash_chunk(&keys, batch.num_rows(), &mut p.hashes)?;
        for s in p.sel.iter_mut() {
            s.clear();
        }
        for (i, &h) in p.hashes.iter().enumerate() {
            if let Some(s) = p.sel.get_mut(partition_of(h, 0, PART_BITS)) {
                s.push(i as u32);
            }
        }
        for (part, sel) in p.parts.iter_mut().zip(&p.sel) {
            if sel.is_empty() {
                continue;
            }
            part.ids.clear();
            part.grouper
                .group_ids_of(router.as_ref(), sel, &p.hashes, &mut part.ids)?;
            let n = part.grouper.num_groups();
            let idx = (!args.iter().all(Vec::is_empty)).then(|| UInt32Array::from(sel.clone()));
            for (a, state) in args.iter().zip(part.states.iter_mut()) {
                let taken = match &idx {
                    Some(idx) if !a.is_empty() => a
                        .iter()
                        .map(|c| take(c.as_ref(), idx, None))
                        .collect::<std::result::Result<Vec<_>, _>>()?,
                    _ => Vec::new(),
                };
                state.update(&taken, &part.ids, n, ctx)?;
            }
        }
        Ok(())
    }

    /// Splits `p` into `1 << bits` state batches by the partition of each
    /// group's key hash at `level` (batch `i` holds partition `i`).
    pub(crate) fn split(&self, p: Partial, bits: u32, level: u32) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::with_capacity(1 << bits);
        self.split_each(p, bits, level, |b| {
            out.push(b);
            Ok(())
        })?;
        Ok(out)
    }

    /// Like [`Aggregator::split`], handing each partition's batch to `f` as
    /// soon as it is made, so a spill holds one partition's copy at a time.
    pub(crate) fn split_each(
        &self,
        p: Partial,
        bits: u32,
        level: u32,
        mut f: impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let Partial {
            mut parts, router, ..
        } = p;
        if router.is_none() {
            let flat = parts.pop().ok_or_else(bad_partial)?;
            return self.split_part_each(flat, bits, level, f);
        }
        if level == 0 && bits <= PART_BITS {
            // Partition `i` of `bits` is the run of parts whose index
            // starts with `i`'s bits: one partition's copy at a time.
            let run = 1usize << (PART_BITS - bits);
            let mut parts = parts.into_iter();
            for _ in 0..1usize << bits {
                let mut batches = Vec::with_capacity(run);
                for part in parts.by_ref().take(run) {
                    batches.extend(self.split_part(part, 0, 0)?);
                }
                f(concat_batches(&self.state_schema, &batches)?)?;
            }
            return Ok(());
        }
        // Another partition function: split every part (holds a copy of
        // the whole partial; partitioned partials are only split at level 0).
        let mut out: Vec<Vec<RecordBatch>> = vec![Vec::new(); 1 << bits];
        for part in parts {
            for (i, b) in self.split_part(part, bits, level)?.into_iter().enumerate() {
                out[i].push(b);
            }
        }
        for batches in out {
            f(concat_batches(&self.state_schema, &batches)?)?;
        }
        Ok(())
    }

    /// Like [`Aggregator::split`] for one part.
    fn split_part(&self, p: Part, bits: u32, level: u32) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::with_capacity(1 << bits);
        self.split_part_each(p, bits, level, |b| {
            out.push(b);
            Ok(())
        })?;
        Ok(out)
    }

    /// Like [`Aggregator::split_each`] for one part.
    fn split_part_each(
        &self,
        p: Part,
        bits: u32,
        level: u32,
        mut f: impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let Part {
            grouper, states, ..
        } = p;
        let n = grouper.num_groups();
        let hashes = grouper.hashes()?;
        let parts = 1usize << bits;
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); parts];
        if bits == 0 {
            members[0] = (0..n as u32).collect();
        } else {
            for (g, &h) in hashes.iter().enumerate() {
                members[partition_of(h, level, bits)].push(g as u32);
            }
        }
        let mut state_cols: Vec<ArrayRef> = Vec::new();
        for s in states {
            state_cols.extend(s.to_arrow(n)?);
        }
        for m in members {
            let mut cols: Vec<ArrayRef> = Vec::with_capacity(self.state_schema.fields().len());
            cols.push(Arc::new(UInt64Array::from_iter_values(
                m.iter().map(|&g| hashes[g as usize]),
            )));
            cols.extend(grouper.take_keys(&m)?);
            if bits == 0 {
                cols.extend(state_cols.iter().cloned());
            } else {
                let idx = UInt32Array::from(m);
                for c in &state_cols {
                    cols.push(take(c.as_ref(), &idx, None)?);
                }
            }
            f(RecordBatch::try_new(self.state_schema.clone(), cols)?)?;
        }
        Ok(())
    }

    /// Makes room in `p` for the groups of these state batches (an upper
    /// bound: some may already be there).
    pub(crate) fn reserve_for(&self, p: &mut Partial, batches: &[RecordBatch]) {
        let has_key = self.state_schema.fields().len() > 1 + self.widths.iter().sum::<usize>();
        let (mut groups, mut key_bytes) = (0, 0);
        for b in batches {
            groups += b.num_rows();
            if let Some(k) = has_key
                .then(|| b.column(1).as_binary_opt::<i32>())
                .flatten()
            {
                key_bytes += k.value_data().len();
            }
        }
        if let [part] = p.parts.as_mut_slice() {
            part.grouper.reserve(groups, key_bytes);
        }
    }

    /// Merges a state batch (from [`Aggregator::split`] of any partial of
    /// this aggregation) into `p`.
    pub(crate) fn merge_state(&self, p: &mut Partial, batch: &RecordBatch) -> Result<()> {
        let bad = || Error::InvalidArgument("internal: malformed group-by state batch".into());
        if batch.num_columns() != self.state_schema.fields().len() {
            return Err(bad());
        }
        let hashes = batch
            .column(0)
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(bad)?
            .values();
        let has_key = self.state_schema.fields().len() > 1 + self.widths.iter().sum::<usize>();
        let key = has_key.then(|| batch.column(1));
        // Only flat partials take state batches (merges and spill
        // partitions start from a new partial or from one part).
        let [p] = p.parts.as_mut_slice() else {
            return Err(bad_partial());
        };
        p.ids.clear();
        p.grouper.group_ids_from_state(key, hashes, &mut p.ids)?;
        let n = p.grouper.num_groups();
        let mut at = 1 + usize::from(has_key);
        for (state, &w) in p.states.iter_mut().zip(&self.widths) {
            state.merge_arrow(&batch.columns()[at..at + w], &p.ids, n)?;
            at += w;
        }
        Ok(())
    }

    /// The state batch of all groups of a partial (for a merge into a
    /// partial of the same partition).
    pub(crate) fn state_batch(&self, p: Partial) -> Result<RecordBatch> {
        let mut batches = Vec::new();
        self.split_each(p, 0, 0, |b| {
            batches.push(b);
            Ok(())
        })?;
        Ok(concat_batches(&self.state_schema, &batches)?)
    }

    /// The key columns and one array per leaf aggregate of a flat partial
    /// (a partitioned one is flattened first).
    pub(crate) fn finish(&self, mut p: Partial) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>, usize)> {
        if p.router.is_some() {
            let b = self.state_batch(p)?;
            p = self.new_partial()?;
            self.reserve_for(&mut p, std::slice::from_ref(&b));
            self.merge_state(&mut p, &b)?;
        }
        let p = p.parts.pop().ok_or_else(bad_partial)?;
        let n = p.grouper.num_groups();
        let keys = p.grouper.keys()?;
        let aggs = p
            .states
            .into_iter()
            .map(|s| s.finish(n))
            .collect::<Result<Vec<_>>>()?;
        Ok((keys, aggs, n))
    }
}

fn bad_partial() -> Error {
    Error::InvalidArgument("internal: malformed group-by partial".into())
}

impl Partial {
    fn flat(part: Part) -> Self {
        Partial {
            parts: vec![part],
            router: None,
            hashes: Vec::new(),
            sel: Vec::new(),
        }
    }

    /// Whether rows are routed to one part per hash partition.
    pub(crate) fn is_partitioned(&self) -> bool {
        self.router.is_some()
    }

    /// Groups so far.
    pub(crate) fn num_groups(&self) -> usize {
        self.parts.iter().map(|p| p.grouper.num_groups()).sum()
    }

    /// Bytes held by the groupers, the states and the routing scratch
    /// (estimated from capacities).
    pub(crate) fn size(&self) -> usize {
        self.parts.iter().map(Part::size).sum::<usize>()
            + self.router.as_ref().map_or(0, |r| r.size())
            + self.hashes.capacity() * 8
            + self.sel.iter().map(|s| s.capacity() * 4).sum::<usize>()
    }

    /// The partitions of a partitioned partial (`1 << PART_BITS` flat
    /// partials, partition `i` at index `i`), or `Err` with the partial
    /// back when it is flat.
    pub(crate) fn into_partitions(self) -> std::result::Result<Vec<Partial>, Partial> {
        if self.router.is_none() {
            return Err(self);
        }
        Ok(self.parts.into_iter().map(Partial::flat).collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{Float64Array, Int32Array, StringArray};
    use arrow_cast::display::array_value_to_string;

    /// Rows of a finished partition as sorted strings.
    fn rows(done: Vec<(Vec<ArrayRef>, Vec<ArrayRef>, usize)>) -> Vec<String> {
        let mut out = Vec::new();
        for (keys, aggs, n) in done {
            for i in 0..n {
                let cells: Vec<String> = keys
                    .iter()
                    .chain(&aggs)
                    .map(|a| array_value_to_string(a, i).unwrap())
                    .collect();
                out.push(cells.join("|"));
            }
        }
        out.sort();
        out
    }

    /// `rows` rows in chunks of `chunk`: an i32 key with nulls (`k` values),
    /// a string key with nulls, and a float value.
    fn chunks(rows: usize, chunk: usize, k: i32) -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("v", DataType::Float64, true),
        ]));
        let mut out = Vec::new();
        let mut start = 0;
        while start < rows {
            let end = (start + chunk).min(rows);
            let r = start as i32..end as i32;
            let a: Int32Array = r.clone().map(|i| (i % 7 != 3).then_some(i % k)).collect();
            let s: StringArray = r
                .clone()
                .map(|i| (i % 5 != 1).then(|| format!("s{}", i % 3)))
                .collect();
            let v: Float64Array = r.map(|i| (i % 4 != 0).then_some(f64::from(i))).collect();
            let cols: Vec<ArrayRef> = vec![Arc::new(a), Arc::new(s), Arc::new(v)];
            out.push(RecordBatch::try_new(schema.clone(), cols).unwrap());
            start = end;
        }
        (schema, out)
    }

    fn leaves() -> Vec<AggFunc> {
        vec![
            AggFunc::Sum("v".into()),
            AggFunc::CountRows,
            AggFunc::First("v".into()),
            AggFunc::Last("v".into()),
            AggFunc::Median("v".into()),
        ]
    }

    /// Folds `batches` into one partial (partitioned after the first chunk
    /// when `partition`), then finishes it through its partitions, through
    /// a spill-style split, and as one partial: all must agree with a flat
    /// partial.
    fn check(keys: &[&str], rows_n: usize, chunk: usize, k: i32) {
        let (schema, batches) = chunks(rows_n, chunk, k);
        let keys: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        let agg = Aggregator::new(&keys, &leaves(), &schema).unwrap();
        let fold = |partition: bool| {
            let mut p = agg.new_partial().unwrap();
            let mut pos = 0;
            for b in &batches {
                agg.update(&mut p, b, pos).unwrap();
                pos += b.num_rows() as u64;
                if partition {
                    agg.partition(&mut p).unwrap();
                }
            }
            p
        };
        let expected = rows(vec![agg.finish(fold(false)).unwrap()]);
        assert_eq!(
            expected.len(),
            fold(false).num_groups(),
            "one row per group"
        );

        // Through the partitions, as the in-memory merge does.
        let p = fold(true);
        assert_eq!(p.is_partitioned(), !keys.is_empty() && rows_n > 0);
        assert_eq!(p.num_groups(), expected.len());
        let done = match p.into_partitions() {
            Ok(ps) => ps.into_iter().map(|q| agg.finish(q).unwrap()).collect(),
            Err(p) => vec![agg.finish(p).unwrap()],
        };
        assert_eq!(rows(done), expected);

        // Through spill partitions (fewer bits) merged back one by one.
        let mut done = Vec::new();
        agg.split_each(fold(true), 5, 0, |b| {
            // Empty partitions are skipped, as when read back.
            if b.num_rows() == 0 {
                return Ok(());
            }
            let mut m = agg.new_partial()?;
            agg.reserve_for(&mut m, std::slice::from_ref(&b));
            agg.merge_state(&mut m, &b)?;
            done.push(agg.finish(m)?);
            Ok(())
        })
        .unwrap();
        assert_eq!(rows(done), expected);

        // Re-split at another level, and finished whole.
        let mut done = Vec::new();
        for b in agg.split(fold(true), 2, 1).unwrap() {
            if b.num_rows() == 0 {
                continue;
            }
            let mut m = agg.new_partial().unwrap();
            agg.merge_state(&mut m, &b).unwrap();
            done.push(agg.finish(m).unwrap());
        }
        assert_eq!(rows(done), expected);
        assert_eq!(rows(vec![agg.finish(fold(true)).unwrap()]), expected);

        // Two partials merged into the one with more groups.
        let (first, second) = batches.split_at(batches.len() / 2);
        let mut a = agg.new_partial().unwrap();
        let mut b = agg.new_partial().unwrap();
        let mut pos = 0;
        for (p, bs) in [(&mut a, first), (&mut b, second)] {
            for batch in bs {
                agg.update(p, batch, pos).unwrap();
                pos += batch.num_rows() as u64;
                agg.partition(p).unwrap();
            }
        }
        let b = agg.state_batch(b).unwrap();
        let mut done = Vec::new();
        match a.into_partitions() {
            Ok(ps) => {
                for (i, mut q) in ps.into_iter().enumerate() {
                    let mut part = Vec::new();
                    for j in 0..b.num_rows() {
                        let h = b.column(0).as_primitive::<UInt64Type>().value(j);
                        if partition_of(h, 0, PART_BITS) == i {
                            part.push(j as u32);
                        }
                    }
                    let idx = UInt32Array::from(part);
                    let cols = b
                        .columns()
                        .iter()
                        .map(|c| take(c.as_ref(), &idx, None).unwrap())
                        .collect();
                    let mine = RecordBatch::try_new(b.schema(), cols).unwrap();
                    agg.merge_state(&mut q, &mine).unwrap();
                    done.push(agg.finish(q).unwrap());
                }
            }
            Err(mut a) => {
                agg.merge_state(&mut a, &b).unwrap();
                done.push(agg.finish(a).unwrap());
            }
        }
        assert_eq!(rows(done), expected);
    }

    #[test]
    fn partitioned_partials_match_flat_ones() {
        // Composite keys with nulls (arrow-row grouper), many groups.
        check(&["a", "s"], 3000, 256, 1000);
        // One integer key with nulls: every row its own group.
        check(&["a"], 2000, 100, i32::MAX);
        // One group (plus the null group), and no keys at all.
        check(&["a"], 500, 64, 1);
        check(&[], 500, 64, 1);
        // A string key alone, and no rows.
        check(&["s"], 100, 7, 1);
        check(&["a", "s"], 0, 7, 1);
    }
}
