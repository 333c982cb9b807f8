//! Gathering output chunks from matched row indices with arrow's `take`.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array, new_null_array,
};
use arrow_schema::{Schema, SchemaRef};
use arrow_select::filter::filter;
use arrow_select::take::take;
use parframe_common::{Result, column_not_found};

use super::{JoinSpec, OutCol};

/// Which rows of one side an output chunk takes.
pub(crate) enum Rows<'a> {
    /// Every row, in order: the columns are reused as they are.
    All,
    /// The rows at these indices (null indices give null rows).
    Take(&'a UInt32Array),
    /// The rows where the mask is true, in order.
    Filter(&'a BooleanArray),
}

/// Builds output chunks of a join from (probe rows, build rows) index
/// pairs, over the projected batches the inputs actually produce.
pub(crate) struct Assembler {
    /// Output columns, as indices into the projected left/right batches.
    layout: Vec<OutCol>,
    schema: SchemaRef,
    probe_is_left: bool,
}

fn index_in(schema: &Schema, name: &str) -> Result<usize> {
    schema
        .index_of(name)
        .map_err(|_| column_not_found(name, schema.fields().iter().map(|f| f.name().as_str())))
}

impl Assembler {
    /// `left`/`right`: the schemas of the projected input batches;
    /// `needed`: the output columns wanted (`None`: all).
    pub(crate) fn new(
        spec: &JoinSpec,
        left: &Schema,
        right: &Schema,
        needed: Option<&[String]>,
        probe_is_left: bool,
    ) -> Result<Self> {
        let (ls, rs) = (spec.left.schema(), spec.right.schema());
        let mut layout = Vec::new();
        let mut keep = Vec::new();
        for (k, (f, c)) in spec.schema.fields().iter().zip(&spec.layout).enumerate() {
            if needed.is_some_and(|n| !n.iter().any(|x| x == f.name())) {
                continue;
            }
            keep.push(k);
            layout.push(match *c {
                OutCol::Left(i) => OutCol::Left(index_in(left, ls.field(i).name())?),
                OutCol::Right(i) => OutCol::Right(index_in(right, rs.field(i).name())?),
                OutCol::Key(a, b) => OutCol::Key(
                    index_in(left, ls.field(a).name())?,
                    index_in(right, rs.field(b).name())?,
                ),
            });
        }
        Ok(Assembler {
            layout,
            schema: Arc::new(spec.schema.project(&keep)?),
            probe_is_left,
        })
    }

    /// One output chunk of `rows` rows: the given rows of the probe and
    /// build sides; a side given as `None` is all nulls. Keys come from the
    /// probe side when present (it always is, except for a full join's
    /// unmatched build rows).
    pub(crate) fn assemble(
        &self,
        probe: Option<(&RecordBatch, Rows<'_>)>,
        build: Option<(&RecordBatch, Rows<'_>)>,
        rows: usize,
    ) -> Result<RecordBatch> {
        let probe_present = probe.is_some();
        let (left, right) = if self.probe_is_left {
            (probe, build)
        } else {
            (build, probe)
        };
        let gather =
            |side: &Option<(&RecordBatch, Rows<'_>)>, i: usize, f: usize| -> Result<ArrayRef> {
                match side {
                    Some((b, Rows::All)) => Ok(b.column(i).clone()),
                    Some((b, Rows::Take(idx))) => Ok(take(b.column(i).as_ref(), *idx, None)?),
                    Some((b, Rows::Filter(mask))) => Ok(filter(b.column(i).as_ref(), mask)?),
                    None => Ok(new_null_array(self.schema.field(f).data_type(), rows)),
                }
            };
        let cols = self
            .layout
            .iter()
            .enumerate()
            .map(|(f, c)| match *c {
                OutCol::Left(i) => gather(&left, i, f),
                OutCol::Right(i) => gather(&right, i, f),
                OutCol::Key(a, b) => {
                    if self.probe_is_left == probe_present {
                        gather(&left, a, f)
                    } else {
                        gather(&right, b, f)
                    }
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let opts = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &opts,
        )?)
    }
}
