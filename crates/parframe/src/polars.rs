//! Zero-copy conversion between parframe [`Table`]s and polars
//! [`DataFrame`]s, through the [Arrow C data interface]; behind the `polars`
//! cargo feature (polars 0.55).
//!
//! ```
//! use parframe::polars::{TablePolarsExt, from_polars, to_polars};
//! use parframe::{Table, table};
//!
//! # fn main() -> parframe::Result<()> {
//! let t = table!("id" => [1i64, 2, 3], "name" => ["a", "b", "c"], "x" => [0.5, 1.5, 2.5])?;
//! let df = to_polars(&t)?; // or t.to_polars()?
//! assert_eq!(df.shape(), (3, 3));
//! let back = from_polars(&df)?; // or Table::from_polars(&df)?
//! assert_eq!(back.num_rows(), 3);
//! assert_eq!(back.column_names(), vec!["id", "name", "x"]);
//! # Ok(())
//! # }
//! ```
//!
//! **What is shared.** Buffers cross the C data interface without copies:
//! numbers, booleans, validity bitmaps and the views and data buffers of
//! `Utf8View` / `BinaryView` columns (polars' string layout). A parframe
//! `Utf8` / `LargeUtf8` (`Binary` / `LargeBinary`) column is first turned
//! into `Utf8View` (`BinaryView`) for polars: the string bytes stay shared,
//! only the 16-byte views are computed. Chunks map to polars chunks one to
//! one; when a `DataFrame`'s columns are chunked differently, every column
//! is sliced (not copied) at all the columns' chunk boundaries, as Arrow
//! record batches need aligned columns.
//!
//! **Types.** Null, boolean, every integer and float width, strings, binary,
//! dates, times, timestamps, durations, decimals, and lists / structs of
//! those. Anything else (polars categoricals and enums, 128-bit integers,
//! objects; Arrow dictionaries, unions, maps) is an [`Error::NotSupported`]
//! naming the column and its type. Which polars types exist depends on the
//! polars features your build enables: with parframe's default set, 8- and
//! 16-bit integers and temporal types need polars' `dtype-i8`, `dtype-u8`,
//! `dtype-i16`, `dtype-u16`, `dtype-date`... (enable them on your own
//! `polars` dependency; cargo unifies the features).
//!
//! [Arrow C data interface]: https://arrow.apache.org/docs/format/CDataInterface.html

use std::borrow::Cow;
use std::sync::Arc;

use ::polars::prelude::{Column, CompatLevel, DataFrame, PlSmallStr, PolarsError, Series};
use arrow_array::{
    Array, ArrayRef, RecordBatch, RecordBatchOptions, make_array, new_empty_array, new_null_array,
};
use arrow_schema::{DataType, Schema};
use parframe_common::{Error, Result};
use parframe_core::Table;

/// Converts a polars [`DataFrame`] into a [`Table`] without copying column
/// data: one chunk per polars chunk; columns chunked differently are split
/// (sliced, not copied) at every column's chunk boundaries.
///
/// Errors with [`Error::NotSupported`] naming the column for a type without
/// an Arrow mapping in parframe (categorical, enum, 128-bit integers...).
pub fn from_polars(df: &DataFrame) -> Result<Table> {
    let height = df.height();
    let mut fields = Vec::with_capacity(df.width());
    let mut columns: Vec<Vec<ArrayRef>> = Vec::with_capacity(df.width());
    for column in df.columns() {
        let name = column.name().as_str();
        let series = column.as_materialized_series();
        let not_supported = |why: &str| {
            Error::NotSupported(format!(
                "column '{name}' has polars type {}, which has no parframe (Arrow) mapping{why}",
                series.dtype()
            ))
        };
        let pl_type = series
            .dtype()
            .try_to_arrow(CompatLevel::newest())
            .map_err(|e| not_supported(&format!(": {e}")))?;
        let pl_field = polars_arrow::datatypes::Field::new(name.into(), pl_type, true);
        let field =
            ffi::field_from_polars(&pl_field).map_err(|e| not_supported(&format!(": {e}")))?;
        if !is_supported(field.data_type()) {
            return Err(not_supported(&format!(
                " (Arrow type {}); cast it first, e.g. categoricals to String",
                field.data_type()
            )));
        }
        let mut chunks = Vec::with_capacity(series.n_chunks());
        for i in 0..series.n_chunks() {
            let array = series
                .to_arrow_with_field(i, Cow::Borrowed(&pl_field), true)
                .map_err(|e| polars_err(&format!("exporting column '{name}'"), e))?;
            if field.data_type() == &DataType::Null {
                // Nothing to share; and polars exports a validity buffer for
                // null arrays, which arrow-rs' importer rejects.
                chunks.push(new_null_array(&DataType::Null, array.len()));
                continue;
            }
            let data = ffi::array_from_polars(array, field.data_type())?;
            chunks.push(make_array(data));
        }
        fields.push(field);
        columns.push(chunks);
    }
    let schema = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    if columns.is_empty() {
        if height > 0 {
            let opts = RecordBatchOptions::new().with_row_count(Some(height));
            batches.push(RecordBatch::try_new_with_options(
                schema.clone(),
                vec![],
                &opts,
            )?);
        }
    } else {
        for cols in align(&columns, height)? {
            batches.push(RecordBatch::try_new(schema.clone(), cols)?);
        }
    }
    Table::try_new(schema, batches)
}

/// Converts a [`Table`] into a polars [`DataFrame`] without copying column
/// data: one polars chunk per table chunk. `Utf8` / `LargeUtf8` columns
/// become polars `String` columns sharing the string bytes (only the views
/// are built); `Binary` / `LargeBinary` likewise.
///
/// Errors with [`Error::NotSupported`] naming the column for a type polars
/// cannot hold (dictionaries, unions, maps...), or that the polars build
/// leaves out (8- and 16-bit integers, dates... without polars' `dtype-*`
/// features).
pub fn to_polars(table: &Table) -> Result<DataFrame> {
    let schema = table.schema();
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        let name = field.name();
        if !is_supported(field.data_type()) {
            return Err(Error::NotSupported(format!(
                "column '{name}' has type {}, which has no polars mapping",
                field.data_type()
            )));
        }
        let mut arrays: Vec<ArrayRef> = table
            .chunks()
            .iter()
            .map(|batch| batch.column(i).clone())
            .collect();
        if arrays.is_empty() {
            arrays.push(new_empty_array(field.data_type()));
        }
        let mut chunks = Vec::with_capacity(arrays.len());
        for array in arrays {
            let array = to_view(&array)?;
            let chunk = ffi::array_to_polars(&array.to_data()).map_err(|e| match e {
                Error::External { message, .. } => Error::NotSupported(format!(
                    "column '{name}' of type {} cannot be handed to polars: {message}",
                    field.data_type()
                )),
                other => other,
            })?;
            chunks.push(chunk);
        }
        let series =
            Series::from_arrow_chunks(PlSmallStr::from_str(name), chunks).map_err(|e| {
                Error::NotSupported(format!(
                    "column '{name}' of type {} cannot become a polars column in this build \
                 (polars needs the matching dtype feature, e.g. dtype-u8, dtype-date): {e}",
                    field.data_type()
                ))
            })?;
        columns.push(Column::from(series));
    }
    DataFrame::new(table.num_rows(), columns)
        .map_err(|e| polars_err("building the polars DataFrame", e))
}

/// `Table::from_polars(&df)` and `table.to_polars()`: [`from_polars`] and
/// [`to_polars`] as methods of [`Table`].
pub trait TablePolarsExt: Sized {
    /// See [`from_polars`].
    fn from_polars(df: &DataFrame) -> Result<Self>;
    /// See [`to_polars`].
    fn to_polars(&self) -> Result<DataFrame>;
}

impl TablePolarsExt for Table {
    fn from_polars(df: &DataFrame) -> Result<Self> {
        from_polars(df)
    }
    fn to_polars(&self) -> Result<DataFrame> {
        to_polars(self)
    }
}

/// Cuts the columns (each a list of chunks of `height` rows in all) at the
/// union of their chunk boundaries: one list of aligned arrays per batch.
fn align(columns: &[Vec<ArrayRef>], height: usize) -> Result<Vec<Vec<ArrayRef>>> {
    let mut cuts: Vec<usize> = Vec::new();
    for chunks in columns {
        let len: usize = chunks.iter().map(|c| c.len()).sum();
        if len != height {
            return Err(Error::SchemaMismatch(format!(
                "a polars column has {len} rows, the DataFrame {height}"
            )));
        }
        let mut end = 0;
        for c in chunks {
            end += c.len();
            cuts.push(end);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.retain(|c| *c > 0);
    let mut batches: Vec<Vec<ArrayRef>> = vec![Vec::with_capacity(columns.len()); cuts.len()];
    for chunks in columns {
        // Every cut falls on or inside one chunk; walk both in step.
        let (mut chunk, mut chunk_start, mut start) = (0, 0, 0);
        for (batch, end) in batches.iter_mut().zip(&cuts) {
            while chunks
                .get(chunk)
                .is_some_and(|c| chunk_start + c.len() <= start)
            {
                chunk_start += chunks[chunk].len();
                chunk += 1;
            }
            let c = chunks.get(chunk).ok_or_else(|| {
                Error::SchemaMismatch("polars column chunks end before the DataFrame".into())
            })?;
            batch.push(c.slice(start - chunk_start, end - start));
            start = *end;
        }
    }
    Ok(batches)
}

fn polars_err(context: &str, e: PolarsError) -> Error {
    Error::External {
        context: context.to_string(),
        message: e.to_string(),
    }
}

/// Whether `dt` crosses between parframe and polars.
fn is_supported(dt: &DataType) -> bool {
    use DataType as D;
    match dt {
        D::Null
        | D::Boolean
        | D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::Float16
        | D::Float32
        | D::Float64
        | D::Utf8
        | D::LargeUtf8
        | D::Utf8View
        | D::Binary
        | D::LargeBinary
        | D::BinaryView
        | D::Date32
        | D::Date64
        | D::Time32(_)
        | D::Time64(_)
        | D::Timestamp(..)
        | D::Duration(_)
        | D::Decimal128(..) => true,
        D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _) => is_supported(f.data_type()),
        D::Struct(fields) => fields.iter().all(|f| is_supported(f.data_type())),
        _ => false,
    }
}

/// Polars keeps strings as views: turn offset-based strings and binaries
/// into views that point into the same bytes.
fn to_view(array: &ArrayRef) -> Result<ArrayRef> {
    let target = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
        DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
        _ => return Ok(array.clone()),
    };
    Ok(arrow_cast::cast(array, &target)?)
}

/// The only `unsafe` of the facade: moving arrays between polars' and
/// arrow-rs' implementations of the Arrow C data interface.
///
/// It cannot live in `parframe-spill` (the crate that owns the workspace's
/// other `unsafe`, memory maps): it needs polars, an optional dependency of
/// the facade only.
mod ffi {
    #![allow(unsafe_code)]

    use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi_and_data_type, to_ffi};
    use arrow_data::ArrayData;
    use arrow_schema::{DataType, Field};
    use parframe_common::{Error, Result};
    use polars_arrow::ffi::{ArrowArray, ArrowSchema};

    fn external(context: &str, message: impl ToString) -> Error {
        Error::External {
            context: context.to_string(),
            message: message.to_string(),
        }
    }

    /// The arrow-rs field of a polars field, through an `ArrowSchema`.
    pub(super) fn field_from_polars(field: &polars_arrow::datatypes::Field) -> Result<Field> {
        let c_schema: ArrowSchema = polars_arrow::ffi::export_field_to_c(field);
        // SAFETY: `ArrowSchema` (polars) and `FFI_ArrowSchema` (arrow-rs) are
        // both `#[repr(C)]` definitions of the C data interface's
        // `struct ArrowSchema` (same fields, order and types; `transmute`
        // checks the sizes). The value moves: its release callback, set by
        // polars' exporter, is called exactly once, by arrow-rs' `Drop`.
        let c_schema = unsafe { std::mem::transmute::<ArrowSchema, FFI_ArrowSchema>(c_schema) };
        Field::try_from(&c_schema).map_err(Error::from)
    }

    /// Moves a polars array into arrow-rs; `data_type` must be the type of
    /// `array` (from [`field_from_polars`] of the field it was exported with).
    pub(super) fn array_from_polars(
        array: Box<dyn polars_arrow::array::Array>,
        data_type: &DataType,
    ) -> Result<ArrayData> {
        let c_array: ArrowArray = polars_arrow::ffi::export_array_to_c(array);
        // SAFETY: `ArrowArray` (polars) and `FFI_ArrowArray` (arrow-rs) are
        // both `#[repr(C)]` definitions of the C data interface's
        // `struct ArrowArray`; the value (and its release callback) moves.
        let c_array = unsafe { std::mem::transmute::<ArrowArray, FFI_ArrowArray>(c_array) };
        // SAFETY: `c_array` was just filled by polars' exporter, which follows
        // the C data interface; `data_type` is its type (the caller exported
        // the array with the field that `data_type` was imported from).
        // arrow-rs keeps `c_array` alive, and so polars' buffers, as long as
        // any imported buffer lives; it validates the buffers' sizes.
        unsafe { from_ffi_and_data_type(c_array, data_type.clone()) }.map_err(Error::from)
    }

    /// Hands an arrow-rs array to polars.
    pub(super) fn array_to_polars(data: &ArrayData) -> Result<Box<dyn polars_arrow::array::Array>> {
        let (c_array, c_schema) = to_ffi(data)?;
        // SAFETY: same layouts as above, in the other direction; both values
        // move with their release callbacks, set by arrow-rs' exporter.
        let c_schema = unsafe { std::mem::transmute::<FFI_ArrowSchema, ArrowSchema>(c_schema) };
        // SAFETY: as above.
        let c_array = unsafe { std::mem::transmute::<FFI_ArrowArray, ArrowArray>(c_array) };
        // SAFETY: `c_schema` was just filled by arrow-rs' exporter, following
        // the C data interface.
        let field = unsafe { polars_arrow::ffi::import_field_from_c(&c_schema) }
            .map_err(|e| external("importing an Arrow schema into polars", e))?;
        // SAFETY: `c_array` was filled by arrow-rs' exporter for `data`, whose
        // type `field` describes; polars keeps `c_array` (and so the arrow-rs
        // buffers it references) alive as long as the imported array lives.
        unsafe { polars_arrow::ffi::import_array_from_c(c_array, field.dtype().clone()) }
            .map_err(|e| external("importing an Arrow array into polars", e))
    }
}
