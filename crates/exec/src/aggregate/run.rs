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

/// One partial aggregation: a grouper and one state per leaf aggregate.
pub(crate) struct Partial {
    grouper: Box<dyn Grouper>,
    states: Vec<Box<dyn AggState>>,
    ids: Vec<u32>,
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
        let empty = a.new_partial()?;
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
        Ok(Partial {
            grouper: new_grouper(&self.key_types, &self.hasher)?,
            states: self
                .leaves
                .iter()
                .map(|(f, _, t)| new_state(f, t))
                .collect::<Result<Vec<_>>>()?,
            ids: Vec::new(),
        })
    }

    /// Folds one chunk into `p`; `row_base` orders chunks (see [`UpdateCtx`]).
    pub(crate) fn update(&self, p: &mut Partial, batch: &RecordBatch, row_base: u64) -> Result<()> {
        let keys = self
            .keys
            .iter()
            .map(|k| column(batch, k))
            .collect::<Result<Vec<_>>>()?;
        p.ids.clear();
        p.grouper.group_ids(&keys, batch.num_rows(), &mut p.ids)?;
        let n = p.grouper.num_groups();
        let ctx = UpdateCtx { row_base };
        for ((_, cols, _), state) in self.leaves.iter().zip(p.states.iter_mut()) {
            let args = cols
                .iter()
                .map(|c| column(batch, c))
                .collect::<Result<Vec<_>>>()?;
            state.update(&args, &p.ids, n, ctx)?;
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
            grouper, states, ..
        } = p;
        let n = grouper.num_groups();
        let hashes = grouper.hashes();
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
        p.grouper.reserve(groups, key_bytes);
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

    /// The key columns and one array per leaf aggregate.
    pub(crate) fn finish(&self, p: Partial) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>, usize)> {
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

impl Partial {
    /// Groups so far.
    pub(crate) fn num_groups(&self) -> usize {
        self.grouper.num_groups()
    }

    /// Bytes held by the grouper and the states (estimated from capacities).
    pub(crate) fn size(&self) -> usize {
        self.grouper.size()
            + self.ids.capacity() * 4
            + self.states.iter().map(|s| s.size()).sum::<usize>()
    }
}
