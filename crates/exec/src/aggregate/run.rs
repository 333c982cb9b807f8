//! The aggregation driver: per-chunk group ids and state updates, merging
//! partials, finishing into arrays.

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use parframe_common::{Result, column_not_found};

use super::groups::{Grouper, new_grouper};
use super::{AggFunc, AggState, UpdateCtx, new_state};

/// What to aggregate: key columns and distinct leaf aggregates, resolved
/// against the input schema.
#[derive(Debug, Clone)]
pub(crate) struct Aggregator {
    keys: Vec<String>,
    key_types: Vec<DataType>,
    leaves: Vec<(AggFunc, Vec<String>, Vec<DataType>)>,
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
        let a = Aggregator {
            keys: keys.to_vec(),
            key_types,
            leaves,
        };
        // Fail now, not on the first chunk, for unsupported types.
        a.new_partial()?;
        Ok(a)
    }

    pub(crate) fn new_partial(&self) -> Result<Partial> {
        Ok(Partial {
            grouper: new_grouper(&self.key_types)?,
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

    /// Merges `b` into `a`.
    pub(crate) fn merge(&self, a: &mut Partial, b: Partial) -> Result<()> {
        let keys = b.grouper.keys()?;
        let rows = b.grouper.num_groups();
        let mut mapping = Vec::with_capacity(rows);
        a.grouper.group_ids(&keys, rows, &mut mapping)?;
        let n = a.grouper.num_groups();
        for (sa, sb) in a.states.iter_mut().zip(b.states) {
            sa.merge(sb, &mapping, n)?;
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
