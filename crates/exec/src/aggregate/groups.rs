//! Groupers: key columns in, dense group ids out. A single integer-like key
//! (any integer width, dates, times) uses a hash map on `i64`; any other key
//! set (strings, booleans, several columns) is encoded with `arrow-row` and
//! hashed as bytes. No keys: every row is group 0.

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::DataType;
use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use parframe_common::Result;
use std::hash::BuildHasher;

use super::{IntKind, Kind, KindTag, kind_of};

/// Assigns group ids to key tuples.
pub(crate) trait Grouper: Send {
    /// Appends to `out` the group of every row of `keys` (all of one length
    /// `rows`), creating groups for new keys.
    fn group_ids(&mut self, keys: &[ArrayRef], rows: usize, out: &mut Vec<u32>) -> Result<()>;
    /// The number of groups so far.
    fn num_groups(&self) -> usize;
    /// The key columns, one row per group in id order.
    fn keys(&self) -> Result<Vec<ArrayRef>>;
}

/// The grouper for keys of these types.
pub(crate) fn new_grouper(types: &[DataType]) -> Result<Box<dyn Grouper>> {
    Ok(match types {
        [] => Box::new(NoKeys),
        [t] if kind_of(t) == Some(KindTag::Int) && t != &DataType::Boolean => {
            Box::new(IntGrouper::new(t.clone()))
        }
        _ => Box::new(RowGrouper::new(types)?),
    })
}

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
}

/// One integer-like key.
struct IntGrouper {
    dt: DataType,
    map: HashMap<i64, u32>,
    keys: Vec<Option<i64>>,
    null_group: Option<u32>,
}

impl IntGrouper {
    fn new(dt: DataType) -> Self {
        IntGrouper {
            dt,
            map: HashMap::new(),
            keys: Vec::new(),
            null_group: None,
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
}

/// Any key set, as `arrow-row` rows hashed as bytes.
struct RowGrouper {
    conv: RowConverter,
    rows: Rows,
    hashes: Vec<u64>,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl RowGrouper {
    fn new(types: &[DataType]) -> Result<Self> {
        let conv = RowConverter::new(types.iter().map(|t| SortField::new(t.clone())).collect())?;
        let rows = conv.empty_rows(0, 0);
        Ok(RowGrouper {
            conv,
            rows,
            hashes: Vec::new(),
            table: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
        })
    }
}

impl Grouper for RowGrouper {
    fn group_ids(&mut self, keys: &[ArrayRef], _rows: usize, out: &mut Vec<u32>) -> Result<()> {
        let new_rows = self.conv.convert_columns(keys)?;
        out.reserve(new_rows.num_rows());
        let Self {
            rows,
            hashes,
            table,
            hasher,
            ..
        } = self;
        for row in new_rows.iter() {
            let h = hasher.hash_one(row.as_ref());
            let entry = table.entry(h, |&g| rows.row(g as usize) == row, |&g| hashes[g as usize]);
            let g = match entry {
                Entry::Occupied(e) => *e.get(),
                Entry::Vacant(e) => {
                    let g = hashes.len() as u32;
                    e.insert(g);
                    hashes.push(h);
                    rows.push(row);
                    g
                }
            };
            out.push(g);
        }
        Ok(())
    }
    fn num_groups(&self) -> usize {
        self.hashes.len()
    }
    fn keys(&self) -> Result<Vec<ArrayRef>> {
        Ok(self.conv.convert_rows(self.rows.iter())?)
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
        let mut g = new_grouper(&[DataType::Int32]).unwrap();
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
        let mut g = new_grouper(&[DataType::Int32, DataType::Utf8]).unwrap();
        let mut ids = Vec::new();
        g.group_ids(&[k, s], 5, &mut ids).unwrap();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
        let keys = g.keys().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].null_count(), 2);
    }
}
