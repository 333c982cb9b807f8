//! Stacking frames with the same columns (`concat`, `union`), and
//! `explode` of list columns.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, OffsetSizeTrait, RecordBatch, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use arrow_select::take::take;
use parframe_common::{Error, Result};

use crate::Context;
use crate::context::JobMetrics;
use crate::physical::{BatchStream, child_stream};
use crate::plan::LazyFrame;
use parframe_plan::LogicalPlan;

impl LazyFrame {
    /// The rows of `frames`, one frame after the other (SQL `UNION ALL`).
    /// The frames must have the same column names, in order, and types.
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::{Context, LazyFrame};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let a = ctx.lazy(table!("x" => [1i64, 2])?);
    /// let b = ctx.lazy(table!("x" => [3i64])?);
    /// assert_eq!(LazyFrame::concat(&[a, b])?.collect()?.num_rows(), 3);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn concat(frames: &[LazyFrame]) -> Result<LazyFrame> {
        let Some(first) = frames.first() else {
            return Err(Error::InvalidArgument(
                "concat needs at least one frame".into(),
            ));
        };
        let plan = LogicalPlan::union(frames.iter().map(|f| Arc::clone(&f.plan)).collect())?;
        Ok(first.with_plan(plan))
    }

    /// Frames side by side (polars' `concat(how="horizontal")`): the
    /// columns of every frame, row `i` of the result made of row `i` of
    /// each. The frames must have the same number of rows (else an error
    /// naming the shorter frame, raised when its end is reached) and
    /// distinct column names (else an error naming the column). The frames
    /// are read in step, so each must produce its rows in a fixed order
    /// (a file, a table, a sort; not a hash `group_by`).
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::{Context, LazyFrame};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let a = ctx.lazy(table!("x" => [1i64, 2, 3])?);
    /// let b = ctx.lazy(table!("y" => ["a", "b", "c"])?);
    /// let both = LazyFrame::concat_horizontal(&[a.clone(), b])?.collect()?;
    /// assert_eq!(both.column_names(), vec!["x", "y"]);
    /// let short = ctx.lazy(table!("z" => [1i64])?);
    /// assert!(LazyFrame::concat_horizontal(&[a, short])?.collect().is_err());
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn concat_horizontal(frames: &[LazyFrame]) -> Result<LazyFrame> {
        let Some(first) = frames.first() else {
            return Err(Error::InvalidArgument(
                "concat_horizontal needs at least one frame".into(),
            ));
        };
        let plan = LogicalPlan::hconcat(frames.iter().map(|f| Arc::clone(&f.plan)).collect())?;
        Ok(first.with_plan(plan))
    }

    /// A row number column `name` first: `offset`, `offset + 1`, ...
    /// (`Int64`, never null) in the order the frame produces its rows (a
    /// file's or table's order, a sort's; a hash `group_by`'s order is
    /// arbitrary). Streams: a counter numbers the chunks as they come, in
    /// order. A name the frame already has is an error.
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::Context;
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = ctx.lazy(table!("x" => ["a", "b"])?).with_row_index("i", 1)?.collect()?;
    /// assert_eq!(t.column_names(), vec!["i", "x"]);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn with_row_index(&self, name: &str, offset: i64) -> Result<LazyFrame> {
        Ok(self.with_plan(LogicalPlan::row_index(&self.plan, name, offset)?))
    }

    /// This frame's rows followed by `other`'s (see [`concat`](Self::concat)).
    pub fn union(&self, other: &LazyFrame) -> Result<LazyFrame> {
        LazyFrame::concat(&[self.clone(), other.clone()])
    }

    /// One row per element of the list column `column`, the other columns
    /// repeated; an empty or null list gives one row with a null element
    /// (as polars does).
    pub fn explode(&self, column: &str) -> Result<LazyFrame> {
        Ok(self.with_plan(LogicalPlan::explode(&self.plan, column)?))
    }
}

/// Rows of one list column exploded (see [`LazyFrame::explode`]).
pub(crate) fn explode_batch(batch: &RecordBatch, column: &str) -> Result<RecordBatch> {
    let idx = batch.schema_ref().index_of(column)?;
    let list = batch.column(idx);
    let (rows, values, items) = match list.data_type() {
        DataType::List(_) => explode_indices(list.as_list::<i32>()),
        DataType::LargeList(_) => explode_indices(list.as_list::<i64>()),
        other => {
            return Err(Error::type_mismatch(
                format!("explode '{column}'"),
                format!("the column is {other}, not a list"),
            ));
        }
    };
    let rows = UInt32Array::from(rows);
    let mut fields: Vec<Field> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let cols = batch
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| -> Result<ArrayRef> {
            if i == idx {
                let out = take(items.as_ref(), &values, None)?;
                fields[i] = Field::new(column, out.data_type().clone(), true);
                Ok(out)
            } else {
                Ok(take(c.as_ref(), &rows, None)?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// For each output row: the input row it repeats, and the list element it
/// holds (null for an empty or null list); and the list's elements.
fn explode_indices<O: OffsetSizeTrait>(
    list: &arrow_array::GenericListArray<O>,
) -> (Vec<u32>, UInt64Array, ArrayRef) {
    let offsets = list.value_offsets();
    let mut rows = Vec::with_capacity(list.values().len().max(list.len()));
    let mut values: Vec<Option<u64>> = Vec::with_capacity(rows.capacity());
    for i in 0..list.len() {
        let (s, e) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
        if list.is_null(i) || s == e {
            rows.push(i as u32);
            values.push(None);
        } else {
            for j in s..e {
                rows.push(i as u32);
                values.push(Some(j as u64));
            }
        }
    }
    (rows, UInt64Array::from(values), list.values().clone())
}

/// The inputs of a `concat`, run one after the other: each one's
/// pipelines are built only when the previous one is exhausted, so a
/// pipeline breaker in a later input does not hold memory early.
pub(crate) struct ConcatStream {
    ctx: Context,
    job: Arc<JobMetrics>,
    plans: VecDeque<Arc<LogicalPlan>>,
    needed: Option<Vec<String>>,
    schema: SchemaRef,
    current: Option<Box<BatchStream>>,
}

impl ConcatStream {
    pub(crate) fn new(
        ctx: &Context,
        job: &Arc<JobMetrics>,
        inputs: &[Arc<LogicalPlan>],
        schema: &SchemaRef,
        needed: Option<Vec<String>>,
    ) -> Result<Self> {
        let schema = match &needed {
            None => schema.clone(),
            Some(n) => {
                let idx: Vec<usize> = (0..schema.fields().len())
                    .filter(|&i| n.iter().any(|c| c == schema.field(i).name()))
                    .collect();
                Arc::new(schema.project(&idx)?)
            }
        };
        Ok(ConcatStream {
            ctx: ctx.clone(),
            job: Arc::clone(job),
            plans: inputs.iter().cloned().collect(),
            needed,
            schema,
            current: None,
        })
    }
}

impl Iterator for ConcatStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(s) = self.current.as_mut() {
                match s.next() {
                    Some(Ok(b)) => {
                        // Inputs may carry extra columns, or nullability
                        // that differs: settle on the union's schema.
                        let cols: Result<Vec<ArrayRef>> = self
                            .schema
                            .fields()
                            .iter()
                            .map(|f| Ok(b.column(b.schema_ref().index_of(f.name())?).clone()))
                            .collect();
                        return Some(
                            cols.and_then(|c| Ok(RecordBatch::try_new(self.schema.clone(), c)?)),
                        );
                    }
                    Some(Err(e)) => return Some(Err(e)),
                    None => self.current = None,
                }
            }
            let plan = self.plans.pop_front()?;
            match child_stream(&self.ctx, &self.job, &plan, self.needed.clone()) {
                Ok(s) => self.current = Some(Box::new(s)),
                Err(e) => {
                    self.plans.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Adds a row number column first (see [`LazyFrame::with_row_index`]):
/// the input comes in order, so a counter numbers it.
pub(crate) struct RowIndexStream {
    input: BatchStream,
    name: String,
    next: i64,
}

impl RowIndexStream {
    pub(crate) fn new(input: BatchStream, name: &str, offset: i64) -> Self {
        RowIndexStream {
            input,
            name: name.to_string(),
            next: offset,
        }
    }

    fn number(&mut self, b: RecordBatch) -> Result<RecordBatch> {
        let n = b.num_rows() as i64;
        let end = self.next.checked_add(n).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "with_row_index '{}': the row numbers pass i64::MAX after {}",
                self.name, self.next
            ))
        })?;
        let index: ArrayRef = Arc::new(arrow_array::Int64Array::from_iter_values(self.next..end));
        self.next = end;
        let mut fields = vec![Arc::new(Field::new(
            self.name.as_str(),
            DataType::Int64,
            false,
        ))];
        fields.extend(b.schema_ref().fields().iter().cloned());
        let mut cols = vec![index];
        cols.extend(b.columns().iter().cloned());
        let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            cols,
            &opts,
        )?)
    }
}

impl Iterator for RowIndexStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.input.next()?;
        Some(b.and_then(|b| self.number(b)))
    }
}

/// Frames side by side (see [`LazyFrame::concat_horizontal`]): the inputs
/// are pulled in step, each output chunk made of the same rows of every
/// input (chunks are sliced where their boundaries differ, zero-copy).
/// Holds at most one chunk per input.
pub(crate) struct HConcatStream {
    inputs: Vec<BatchStream>,
    /// The current chunk of each input and how many of its rows are used.
    current: Vec<Option<(RecordBatch, usize)>>,
    /// Rows taken from each input so far.
    rows: Vec<u64>,
    chunk_rows: usize,
    done: bool,
}

impl HConcatStream {
    pub(crate) fn new(inputs: Vec<BatchStream>, chunk_rows: usize) -> Self {
        let n = inputs.len();
        HConcatStream {
            inputs,
            current: vec![None; n],
            rows: vec![0; n],
            chunk_rows: chunk_rows.max(1),
            done: false,
        }
    }

    /// Makes sure input `k` has a chunk with rows left; `false` at its end.
    fn fill(&mut self, k: usize) -> Result<bool> {
        loop {
            if let Some((b, used)) = &self.current[k]
                && *used < b.num_rows()
            {
                return Ok(true);
            }
            match self.inputs[k].next() {
                Some(b) => self.current[k] = Some((b?, 0)),
                None => {
                    self.current[k] = None;
                    return Ok(false);
                }
            }
        }
    }

    fn next_chunk(&mut self) -> Result<Option<RecordBatch>> {
        let n = self.inputs.len();
        let mut has = Vec::with_capacity(n);
        for k in 0..n {
            has.push(self.fill(k)?);
        }
        if has.iter().all(|h| !h) {
            return Ok(None);
        }
        if let Some(short) = has.iter().position(|h| !h) {
            let long = has.iter().position(|h| *h).unwrap_or(0);
            return Err(Error::InvalidArgument(format!(
                "concat_horizontal: frame {short} has {} rows but frame {long} has more; the \
                 frames must have the same number of rows",
                self.rows[short]
            )));
        }
        let mut len = self.chunk_rows;
        for (b, used) in self.current.iter().flatten() {
            len = len.min(b.num_rows() - used);
        }
        let mut fields: Vec<arrow_schema::FieldRef> = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (k, cur) in self.current.iter_mut().enumerate() {
            if let Some((b, used)) = cur {
                let part = b.slice(*used, len);
                *used += len;
                self.rows[k] += len as u64;
                fields.extend(part.schema_ref().fields().iter().cloned());
                cols.extend(part.columns().iter().cloned());
            }
        }
        let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(len));
        Ok(Some(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            cols,
            &opts,
        )?))
    }
}

impl Iterator for HConcatStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_chunk() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::types::Int64Type;
    use arrow_array::{Int64Array, LargeListArray, ListArray, StringArray};
    use parframe_core::{Table, col, lit, table};
    use proptest::prelude::*;

    use super::*;
    use crate::agg;

    fn ctx() -> Context {
        Context::builder().threads(2).chunk_rows(3).build().unwrap()
    }

    fn ints(t: &Table, name: &str) -> Vec<Option<i64>> {
        t.chunks()
            .iter()
            .flat_map(|c| {
                let a = c.column(c.schema().index_of(name).unwrap());
                a.as_primitive::<Int64Type>().iter().collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn concat_runs_inputs_in_order_with_pushdown() {
        let c = ctx();
        let a = c.lazy(table!("x" => [1i64, 2], "s" => ["a", "b"]).unwrap());
        let b = c
            .lazy(table!("x" => [3i64, 4, 5], "s" => ["c", "d", "e"]).unwrap())
            .filter(col("x").gt(lit(3i64)))
            .unwrap();
        let g = c
            .lazy(table!("x" => [7i64, 7, 9], "s" => ["f", "g", "h"]).unwrap())
            .group_by([col("x")])
            .sorted(true)
            .agg([agg::first("s").alias("s")])
            .unwrap();
        let all = LazyFrame::concat(&[a.clone(), b, g]).unwrap();
        assert!(
            all.explain().starts_with("Union [3 inputs]"),
            "{}",
            all.explain()
        );
        let t = all.collect().unwrap();
        assert_eq!(ints(&t, "x"), [1, 2, 4, 5, 7, 9].map(Some));
        let only = all.select([col("x")]).unwrap().collect().unwrap();
        assert_eq!(only.column_names(), vec!["x"]);
        assert_eq!(only.num_rows(), 6);
        let u = a
            .union(&a)
            .unwrap()
            .agg([agg::sum("x")])
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(ints(&u, "x"), [Some(6)]);
    }

    #[test]
    fn concat_checks_schemas() {
        let c = ctx();
        let a = c.lazy(table!("x" => [1i64], "s" => ["a"]).unwrap());
        let b = c.lazy(table!("s" => ["a"], "x" => [1i64]).unwrap());
        let e = LazyFrame::concat(&[a.clone(), b]).unwrap_err().to_string();
        assert!(e.contains("frame 1 has the columns (s, x)"), "{e}");
        let d = c.lazy(table!("x" => [1.0], "s" => ["a"]).unwrap());
        let e = a.union(&d).unwrap_err().to_string();
        assert!(e.contains("column 'x'") && e.contains("Float64"), "{e}");
        assert!(LazyFrame::concat(&[]).is_err());
    }

    fn list_table(lists: &[Option<Vec<i64>>]) -> Table {
        let l = ListArray::from_iter_primitive::<Int64Type, _, _>(lists.iter().map(|o| {
            o.as_ref()
                .map(|v| v.iter().map(|x| Some(*x)).collect::<Vec<_>>())
        }));
        let id = Int64Array::from_iter_values(0..lists.len() as i64);
        let name = StringArray::from_iter_values((0..lists.len()).map(|i| format!("r{i}")));
        let b = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(id) as ArrayRef),
            ("l", Arc::new(l) as ArrayRef),
            ("name", Arc::new(name) as ArrayRef),
        ])
        .unwrap();
        Table::from_batches(vec![b]).unwrap()
    }

    #[test]
    fn explode_lists_empty_and_null() {
        let c = ctx();
        let t = list_table(&[Some(vec![1, 2]), None, Some(vec![]), Some(vec![3])]);
        let out = c.lazy(t).explode("l").unwrap().collect().unwrap();
        assert_eq!(out.column_names(), vec!["id", "l", "name"]);
        assert_eq!(ints(&out, "id"), [0, 0, 1, 2, 3].map(Some));
        assert_eq!(ints(&out, "l"), [Some(1), Some(2), None, None, Some(3)]);
        let large = LargeListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(5), None]),
            Some(vec![]),
        ]);
        let t = Table::from_batches(vec![
            RecordBatch::try_from_iter(vec![("l", Arc::new(large) as ArrayRef)]).unwrap(),
        ])
        .unwrap();
        let out = c.lazy(t).explode("l").unwrap().collect().unwrap();
        assert_eq!(ints(&out, "l"), [Some(5), None, None]);
        let e = c
            .lazy(table!("x" => [1i64]).unwrap())
            .explode("x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a list"), "{e}");
    }

    proptest! {
        #[test]
        fn explode_matches_a_loop(
            lists in prop::collection::vec(
                prop::option::weighted(0.8, prop::collection::vec(-5i64..5, 0..4)),
                0..30,
            )
        ) {
            let mut want_id = Vec::new();
            let mut want_l = Vec::new();
            for (i, l) in lists.iter().enumerate() {
                match l {
                    Some(v) if !v.is_empty() => {
                        for x in v {
                            want_id.push(Some(i as i64));
                            want_l.push(Some(*x));
                        }
                    }
                    _ => {
                        want_id.push(Some(i as i64));
                        want_l.push(None);
                    }
                }
            }
            let out = ctx().lazy(list_table(&lists)).explode("l").unwrap().collect().unwrap();
            prop_assert_eq!(ints(&out, "id"), want_id);
            prop_assert_eq!(ints(&out, "l"), want_l);
        }
    }
}
