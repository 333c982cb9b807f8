//! Gathering output chunks from matched row indices with arrow's `take`.
//!
//! # Views on large build sides
//! The build side's rows are gathered in probe order, that is at random.
//! A string column gathered as `Utf8` costs three cache misses a row on a
//! build side larger than the cache (arrow's `take` reads the offsets
//! once to size the output and again to copy, then the bytes). So a large
//! build side holds its string and binary payload columns as views
//! (`Utf8View`/`BinaryView`, built once while concatenating the build
//! chunks): gathering a view is one 16-byte read, and strings of up to 12
//! bytes live inside their view. Each gathered chunk is then cast back to
//! the column's declared type, a sequential pass over memory just written.
//!
//! The output keeps the types of the inputs: a `Utf8` column stays `Utf8`,
//! whatever the join does inside. Handing out views instead would save the
//! cast back, but would change the schema under a user's feet depending on
//! the size of an input (and views are not what every consumer of a
//! `Utf8` column, an IPC or CSV writer, an FFI peer, expects).

use std::sync::Arc;

use arrow_array::builder::GenericByteViewBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{BinaryViewType, ByteViewType, StringViewType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, OffsetSizeTrait, RecordBatch, RecordBatchOptions, UInt32Array,
    new_null_array,
};
use arrow_cast::cast;
use arrow_schema::{DataType, Schema, SchemaRef};
use arrow_select::filter::{FilterBuilder, FilterPredicate};
use arrow_select::take::take;
use parframe_common::{Error, Result, column_not_found};

/// The view type a build-side column of type `dt` can be held as.
pub(crate) fn view_type(dt: &DataType) -> Option<DataType> {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 => Some(DataType::Utf8View),
        DataType::Binary | DataType::LargeBinary => Some(DataType::BinaryView),
        _ => None,
    }
}

/// The chunks `parts` of a string or binary column of type `dt` (`rows`
/// rows in all) as one view array. Values are copied into fresh views (and
/// the bytes of those longer than 12 into fresh buffers), so the result
/// holds no chunk alive.
pub(crate) fn to_views(parts: &[&dyn Array], dt: &DataType, rows: usize) -> Result<ArrayRef> {
    fn fill<T: ByteViewType + ?Sized>(
        b: &mut GenericByteViewBuilder<T>,
        values: impl Iterator<Item = Option<impl AsRef<T::Native>>>,
    ) -> Result<()> {
        for v in values {
            match v {
                Some(v) => b.try_append_value(v)?,
                None => b.append_null(),
            }
        }
        Ok(())
    }
    fn strings<O: OffsetSizeTrait>(parts: &[&dyn Array], rows: usize) -> Result<ArrayRef> {
        let mut b = GenericByteViewBuilder::<StringViewType>::with_capacity(rows);
        for p in parts {
            fill(&mut b, p.as_string::<O>().iter())?;
        }
        Ok(Arc::new(b.finish()))
    }
    fn binaries<O: OffsetSizeTrait>(parts: &[&dyn Array], rows: usize) -> Result<ArrayRef> {
        let mut b = GenericByteViewBuilder::<BinaryViewType>::with_capacity(rows);
        for p in parts {
            fill(&mut b, p.as_binary::<O>().iter())?;
        }
        Ok(Arc::new(b.finish()))
    }
    if parts.iter().any(|p| p.data_type() != dt) {
        return Err(Error::InvalidArgument(format!(
            "internal: build chunks of a {dt} column disagree on its type"
        )));
    }
    match dt {
        DataType::Utf8 => strings::<i32>(parts, rows),
        DataType::LargeUtf8 => strings::<i64>(parts, rows),
        DataType::Binary => binaries::<i32>(parts, rows),
        DataType::LargeBinary => binaries::<i64>(parts, rows),
        _ => Err(Error::InvalidArgument(format!(
            "internal: a {dt} column cannot be held as views"
        ))),
    }
}

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

/// [`Rows`] ready to gather every column of a batch.
enum Prepared<'a> {
    All,
    Take(&'a UInt32Array),
    Filter(FilterPredicate),
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
    pub(crate) fn assemble<'a>(
        &self,
        probe: Option<(&'a RecordBatch, Rows<'a>)>,
        build: Option<(&'a RecordBatch, Rows<'a>)>,
        rows: usize,
    ) -> Result<RecordBatch> {
        let probe_present = probe.is_some();
        let (left, right) = if self.probe_is_left {
            (probe, build)
        } else {
            (build, probe)
        };
        // A mask is read once for all the columns it filters.
        let prepare = |side: Option<(&'a RecordBatch, Rows<'a>)>| match side {
            Some((b, Rows::Filter(mask))) => Some((
                b,
                Prepared::Filter(FilterBuilder::new(mask).optimize().build()),
            )),
            Some((b, Rows::All)) => Some((b, Prepared::All)),
            Some((b, Rows::Take(idx))) => Some((b, Prepared::Take(idx))),
            None => None,
        };
        let (left, right) = (prepare(left), prepare(right));
        let gather =
            |side: &Option<(&RecordBatch, Prepared<'_>)>, i: usize, f: usize| -> Result<ArrayRef> {
                let dt = self.schema.field(f).data_type();
                let out = match side {
                    Some((b, Prepared::All)) => b.column(i).clone(),
                    Some((b, Prepared::Take(idx))) => take(b.column(i).as_ref(), *idx, None)?,
                    Some((b, Prepared::Filter(p))) => p.filter(b.column(i).as_ref())?,
                    None => return Ok(new_null_array(dt, rows)),
                };
                // A build column held as views goes back to its type.
                if view_type(dt).as_ref() == Some(out.data_type()) {
                    Ok(cast(&out, dt)?)
                } else {
                    Ok(out)
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
