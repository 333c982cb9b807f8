//! [`Table`]: a schema and a list of Arrow `RecordBatch` chunks.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, RecordBatchOptions, StringArray, UInt8Array, UInt16Array, UInt32Array,
    UInt64Array, new_empty_array,
};
use arrow_schema::{Field, Schema, SchemaRef};
use parframe_common::{Error, Result, column_not_found};
use parframe_spill::{Reservation, SpillFile};

/// Where the data of one chunk of a [`Table`] lives.
#[derive(Debug, Clone, Default)]
pub enum ChunkStorage {
    /// In memory (heap-allocated Arrow buffers).
    #[default]
    Resident,
    /// In a spill file: the chunk's buffers point into a read-only memory
    /// map of it, so the OS pages the data in when it is read and may drop
    /// those pages again under memory pressure. The `Arc` keeps the file on
    /// disk while any table chunk from it lives; the last one to drop
    /// removes the file.
    Spilled(Arc<SpillFile>),
}

impl ChunkStorage {
    /// Whether the chunk lives in a spill file.
    pub fn is_spilled(&self) -> bool {
        matches!(self, ChunkStorage::Spilled(_))
    }
}

/// An immutable table: a schema plus Arrow `RecordBatch` chunks that all
/// share it. Cloning is cheap (the chunks are reference counted), and
/// operators work chunk by chunk, in parallel.
///
/// A chunk is either resident or spilled ([`ChunkStorage`]); both are
/// ordinary `RecordBatch`es to whoever reads them. A table made by
/// `collect` also holds the memory reservation of its resident chunks, so
/// the budget stays charged for as long as the data lives (the table, its
/// clones, and tables derived from it without copying, which share its
/// buffers).
#[derive(Clone)]
pub struct Table {
    schema: SchemaRef,
    chunks: Arc<Vec<RecordBatch>>,
    /// One entry per chunk, in the same order.
    storage: Arc<Vec<ChunkStorage>>,
    /// Reservations for the resident memory this table shares.
    held: Vec<Arc<Reservation>>,
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("rows", &self.num_rows())
            .field("chunks", &self.num_chunks())
            .field("spilled_chunks", &self.num_spilled_chunks())
            .field("schema", &self.schema)
            .finish()
    }
}

impl Table {
    /// A table from chunks that must all have `schema` (field names and
    /// types; metadata may differ). Empty chunks are dropped.
    pub fn try_new(schema: SchemaRef, chunks: Vec<RecordBatch>) -> Result<Self> {
        let chunks = chunks
            .into_iter()
            .map(|c| (c, ChunkStorage::Resident))
            .collect();
        Self::try_new_stored(schema, chunks, None)
    }

    /// A table from chunks with their [`ChunkStorage`], holding
    /// `reservation` (the memory of the resident chunks, from the pool
    /// that accounts for it) until the table and everything sharing its
    /// chunks drop. Chunks must all have `schema`, as for
    /// [`Table::try_new`]; empty chunks are dropped.
    pub fn try_new_stored(
        schema: SchemaRef,
        chunks: Vec<(RecordBatch, ChunkStorage)>,
        reservation: Option<Reservation>,
    ) -> Result<Self> {
        let mut kept = Vec::with_capacity(chunks.len());
        let mut storage = Vec::with_capacity(chunks.len());
        for (i, (c, st)) in chunks.into_iter().enumerate() {
            if !same_fields(c.schema_ref(), &schema) {
                return Err(Error::SchemaMismatch(format!(
                    "chunk {i} has schema {} but the table has {}",
                    describe_schema(c.schema_ref()),
                    describe_schema(&schema)
                )));
            }
            if c.num_rows() > 0 {
                // One schema object for all chunks, so later checks are pointer-cheap.
                let c = if Arc::ptr_eq(c.schema_ref(), &schema) {
                    c
                } else {
                    // Revalidates nullability against the table's schema; the
                    // row count survives chunks without columns.
                    let opts = RecordBatchOptions::new().with_row_count(Some(c.num_rows()));
                    RecordBatch::try_new_with_options(schema.clone(), c.columns().to_vec(), &opts)?
                };
                kept.push(c);
                storage.push(st);
            }
        }
        Ok(Table {
            schema,
            chunks: Arc::new(kept),
            storage: Arc::new(storage),
            held: reservation.map(Arc::new).into_iter().collect(),
        })
    }

    /// A table from chunks, taking the schema of the first one.
    /// Fails on an empty list (the schema would be unknown): use
    /// [`Table::empty`] for that.
    pub fn from_batches(chunks: Vec<RecordBatch>) -> Result<Self> {
        let schema = chunks.first().map(|c| c.schema()).ok_or_else(|| {
            Error::InvalidArgument("from_batches needs at least one chunk".into())
        })?;
        Self::try_new(schema, chunks)
    }

    /// A table with no rows.
    pub fn empty(schema: SchemaRef) -> Self {
        Table {
            schema,
            chunks: Arc::new(Vec::new()),
            storage: Arc::new(Vec::new()),
            held: Vec::new(),
        }
    }

    /// A one-chunk table from named columns of equal length.
    pub fn from_columns(columns: Vec<(String, ArrayRef)>) -> Result<Self> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, a)| Field::new(n, a.data_type().clone(), a.null_count() > 0))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays = columns.into_iter().map(|(_, a)| a).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        Self::try_new(schema, vec![batch])
    }

    /// The schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The chunks.
    pub fn chunks(&self) -> &[RecordBatch] {
        &self.chunks
    }

    /// Number of chunks.
    pub fn num_chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.chunks.iter().map(|c| c.num_rows()).sum()
    }

    /// Number of columns.
    pub fn num_columns(&self) -> usize {
        self.schema.fields().len()
    }

    /// Column names in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    /// Bytes of the chunks' Arrow data: [`resident_bytes`](Self::resident_bytes)
    /// plus [`spilled_bytes`](Self::spilled_bytes).
    pub fn memory_size(&self) -> usize {
        self.resident_bytes() + self.spilled_bytes()
    }

    /// Where each chunk lives, in chunk order.
    pub fn chunk_storage(&self) -> &[ChunkStorage] {
        &self.storage
    }

    /// Number of chunks that live in spill files.
    pub fn num_spilled_chunks(&self) -> usize {
        self.storage.iter().filter(|s| s.is_spilled()).count()
    }

    /// Bytes held in memory by the resident chunks' Arrow buffers, each
    /// allocation counted once (chunks sliced from one buffer share it).
    pub fn resident_bytes(&self) -> usize {
        let mut seen = HashSet::new();
        self.chunks
            .iter()
            .zip(self.storage.iter())
            .filter(|(_, s)| !s.is_spilled())
            .map(|(c, _)| distinct_buffer_bytes(c, &mut seen))
            .sum()
    }

    /// Bytes of the spilled chunks' data in their spill files (what reading
    /// all of them would page in).
    pub fn spilled_bytes(&self) -> usize {
        self.chunks
            .iter()
            .zip(self.storage.iter())
            .filter(|(_, s)| s.is_spilled())
            .map(|(c, _)| slice_bytes(c) as usize)
            .sum()
    }

    /// Bytes of memory budget this table (with the tables sharing its
    /// chunks) holds reserved: what `collect` reserved for the resident
    /// chunks. Zero for tables built from batches directly.
    pub fn reserved_bytes(&self) -> u64 {
        self.held.iter().map(|r| r.size()).sum()
    }

    /// A table of other chunks that share (slices or projections of) this
    /// table's buffers: keeps this table's spill files and reservations.
    fn derived(
        &self,
        schema: SchemaRef,
        chunks: Vec<(RecordBatch, ChunkStorage)>,
    ) -> Result<Table> {
        let mut t = Table::try_new_stored(schema, chunks, None)?;
        t.held = self.held.clone();
        Ok(t)
    }

    /// The index of a column, or an error listing the columns there are.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.schema
            .index_of(name)
            .map_err(|_| column_not_found(name, self.column_names()))
    }

    /// One column as a single array (chunks concatenated).
    pub fn column(&self, name: &str) -> Result<ArrayRef> {
        let i = self.column_index(name)?;
        let parts: Vec<&dyn arrow_array::Array> =
            self.chunks.iter().map(|c| c.column(i).as_ref()).collect();
        if parts.is_empty() {
            return Ok(new_empty_array(self.schema.field(i).data_type()));
        }
        if parts.len() == 1 {
            return Ok(self.chunks[0].column(i).clone());
        }
        Ok(arrow_select::concat::concat(&parts)?)
    }

    /// One column as its per-chunk arrays, without copying.
    pub fn column_chunks(&self, name: &str) -> Result<Vec<ArrayRef>> {
        let i = self.column_index(name)?;
        Ok(self.chunks.iter().map(|c| c.column(i).clone()).collect())
    }

    /// A table of the named columns, in that order.
    pub fn select(&self, names: &[&str]) -> Result<Table> {
        let idx = names
            .iter()
            .map(|n| self.column_index(n))
            .collect::<Result<Vec<_>>>()?;
        let schema = Arc::new(self.schema.project(&idx)?);
        let chunks = self
            .chunks
            .iter()
            .zip(self.storage.iter())
            .map(|(c, s)| Ok((c.project(&idx)?, s.clone())))
            .collect::<Result<Vec<_>>>()?;
        self.derived(schema, chunks)
    }

    /// The table with its columns cast to the types of `schema` (same
    /// column names, in order), for example string views read from
    /// Parquet back to `Utf8`. A value that does not convert is an error
    /// naming the column, never a silent null.
    pub fn cast(&self, schema: &SchemaRef) -> Result<Table> {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if names != self.column_names() {
            return Err(Error::SchemaMismatch(format!(
                "cannot cast columns [{}] to [{}]",
                self.column_names().join(", "),
                names.join(", ")
            )));
        }
        let opts = arrow_cast::CastOptions {
            safe: false,
            ..Default::default()
        };
        let chunks = self
            .chunks
            .iter()
            .zip(self.storage.iter())
            .map(|(c, s)| {
                let cols = c
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(a, f)| {
                        arrow_cast::cast_with_options(a, f.data_type(), &opts).map_err(|e| {
                            Error::InvalidArgument(format!(
                                "cannot cast column '{}' to {}: {e}",
                                f.name(),
                                f.data_type()
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let opts =
                    arrow_array::RecordBatchOptions::new().with_row_count(Some(c.num_rows()));
                Ok((
                    RecordBatch::try_new_with_options(schema.clone(), cols, &opts)?,
                    s.clone(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.derived(schema.clone(), chunks)
    }

    /// All rows as one `RecordBatch` (copies unless there is one chunk).
    pub fn to_batch(&self) -> Result<RecordBatch> {
        match self.chunks.len() {
            0 => Ok(RecordBatch::new_empty(self.schema.clone())),
            1 => Ok(self.chunks[0].clone()),
            _ => Ok(arrow_select::concat::concat_batches(
                &self.schema,
                self.chunks.iter(),
            )?),
        }
    }

    /// Rows `offset..offset+len` (clamped to the table), zero-copy.
    pub fn slice(&self, offset: usize, len: usize) -> Table {
        let mut out = Vec::new();
        let mut skip = offset;
        let mut left = len;
        for (c, st) in self.chunks.iter().zip(self.storage.iter()) {
            if left == 0 {
                break;
            }
            let n = c.num_rows();
            if skip >= n {
                skip -= n;
                continue;
            }
            let take = (n - skip).min(left);
            out.push((c.slice(skip, take), st.clone()));
            skip = 0;
            left -= take;
        }
        let (chunks, storage) = out.into_iter().unzip();
        Table {
            schema: self.schema.clone(),
            chunks: Arc::new(chunks),
            storage: Arc::new(storage),
            held: self.held.clone(),
        }
    }

    /// The first `n` rows.
    pub fn head(&self, n: usize) -> Table {
        self.slice(0, n)
    }

    /// The last `n` rows.
    pub fn tail(&self, n: usize) -> Table {
        let rows = self.num_rows();
        self.slice(rows.saturating_sub(n), n)
    }

    /// The same rows in chunks of `chunk_rows` rows (the last may be shorter).
    /// Slices without copying where a chunk is split, and concatenates small
    /// neighbours where they are merged.
    pub fn rechunk(&self, chunk_rows: usize) -> Result<Table> {
        if chunk_rows == 0 {
            return Err(Error::InvalidArgument("chunk_rows must be > 0".into()));
        }
        let mut out = Vec::new();
        let mut pending: Vec<(RecordBatch, ChunkStorage)> = Vec::new();
        let mut pending_rows = 0;
        for (c, st) in self.chunks.iter().zip(self.storage.iter()) {
            let mut off = 0;
            while off < c.num_rows() {
                let take = (c.num_rows() - off).min(chunk_rows - pending_rows);
                pending.push((c.slice(off, take), st.clone()));
                pending_rows += take;
                off += take;
                if pending_rows == chunk_rows {
                    out.push(merge(&self.schema, &mut pending)?);
                    pending_rows = 0;
                }
            }
        }
        if pending_rows > 0 {
            out.push(merge(&self.schema, &mut pending)?);
        }
        self.derived(self.schema.clone(), out)
    }

    /// Rows of all tables, one after the other; schemas must agree.
    pub fn concat(tables: &[Table]) -> Result<Table> {
        let first = tables
            .first()
            .ok_or_else(|| Error::InvalidArgument("concat needs at least one table".into()))?;
        let mut chunks = Vec::new();
        let mut held: Vec<Arc<Reservation>> = Vec::new();
        for (i, t) in tables.iter().enumerate() {
            if !same_fields(t.schema(), first.schema()) {
                return Err(Error::SchemaMismatch(format!(
                    "table {i} has schema {} but table 0 has {}",
                    describe_schema(t.schema()),
                    describe_schema(first.schema())
                )));
            }
            chunks.extend(t.chunks.iter().cloned().zip(t.storage.iter().cloned()));
            for r in &t.held {
                if !held.iter().any(|h| Arc::ptr_eq(h, r)) {
                    held.push(Arc::clone(r));
                }
            }
        }
        let mut out = Table::try_new_stored(first.schema.clone(), chunks, None)?;
        out.held = held;
        Ok(out)
    }

    /// The table drawn as text, all rows.
    pub fn pretty(&self) -> Result<String> {
        Ok(arrow_cast::pretty::pretty_format_batches(&self.chunks)?.to_string())
    }

    /// The table drawn as text; when longer than `max_rows`, the first and last
    /// rows with a row count between them.
    pub fn pretty_limited(&self, max_rows: usize) -> Result<String> {
        let rows = self.num_rows();
        if rows <= max_rows {
            let mut s = if rows == 0 {
                describe_schema(&self.schema)
            } else {
                self.pretty()?
            };
            s.push_str(&format!("\n{rows} rows"));
            return Ok(s);
        }
        let half = (max_rows / 2).max(1);
        let head = self.head(half);
        let tail = self.tail(half);
        let top = arrow_cast::pretty::pretty_format_batches(head.chunks())?.to_string();
        let bottom = arrow_cast::pretty::pretty_format_batches(tail.chunks())?.to_string();
        Ok(format!(
            "{top}\n… {} more rows …\n{bottom}\n{rows} rows",
            rows - 2 * half
        ))
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pretty_limited(20) {
            Ok(s) => f.write_str(&s),
            Err(e) => write!(f, "<table: {e}>"),
        }
    }
}

/// One chunk of `pending`: a slice keeps its storage, a concatenation is
/// a new resident copy.
fn merge(
    schema: &SchemaRef,
    pending: &mut Vec<(RecordBatch, ChunkStorage)>,
) -> Result<(RecordBatch, ChunkStorage)> {
    let b = if pending.len() == 1 {
        pending[0].clone()
    } else {
        let batches = pending.iter().map(|(b, _)| b);
        (
            arrow_select::concat::concat_batches(schema, batches)?,
            ChunkStorage::Resident,
        )
    };
    pending.clear();
    Ok(b)
}

/// Bytes of the Arrow allocations `batch`'s arrays (with their children
/// and null bitmaps) point into, each counted once: allocations whose start
/// address is already in `seen` are skipped, the others are added to it.
///
/// `RecordBatch::get_array_memory_size` counts a buffer shared by several
/// arrays or chunks once per use, so a table of slices of one big chunk
/// would seem many times its size; passing one `seen` over all chunks of a
/// table gives the memory they really hold.
pub fn distinct_buffer_bytes(batch: &RecordBatch, seen: &mut HashSet<usize>) -> usize {
    let mut total = 0;
    let mut stack: Vec<_> = batch.columns().iter().map(|a| a.to_data()).collect();
    while let Some(data) = stack.pop() {
        let nulls = data.nulls().map(|n| n.buffer());
        for b in data.buffers().iter().chain(nulls) {
            if seen.insert(b.data_ptr().as_ptr() as usize) {
                total += b.capacity();
            }
        }
        stack.extend(data.child_data().iter().cloned());
    }
    total
}

/// The bytes a chunk's arrays cover. Unlike `get_array_memory_size`, this
/// does not count the whole allocation a buffer points into, which for a
/// slice of a larger chunk is the whole chunk and for a chunk read from a
/// spill file is the whole memory map: it is what copying the chunk would
/// allocate, and what a stream holding it adds to memory.
///
/// A view column (`Utf8View`, `BinaryView`) counts its views and the bytes
/// they point to, at most its data buffers ([`parframe_spill::view_bytes`]).
pub fn slice_bytes(c: &RecordBatch) -> u64 {
    c.columns()
        .iter()
        .map(|a| array_slice_bytes(a.as_ref()))
        .sum()
}

/// [`slice_bytes`] of one array.
pub fn array_slice_bytes(a: &dyn arrow_array::Array) -> u64 {
    parframe_spill::view_bytes(a).unwrap_or_else(|| {
        a.to_data()
            .get_slice_memory_size()
            .unwrap_or_else(|_| a.get_array_memory_size()) as u64
    })
}

/// The bytes a chunk made for itself (by a `take` or a `concat`) holds:
/// its arrays' whole allocations, except that a view column counts what
/// its rows use ([`parframe_spill::view_bytes`]), not once more every data
/// buffer it shares with other chunks.
pub fn held_bytes(c: &RecordBatch) -> u64 {
    c.columns()
        .iter()
        .map(|a| parframe_spill::view_bytes(a.as_ref()).unwrap_or(a.get_array_memory_size() as u64))
        .sum()
}

/// Same column names and types (nullability and metadata may differ: a
/// chunk without nulls is still a valid chunk of a nullable column).
pub(crate) fn same_fields(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields().iter())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

/// `(a: Int64, b: Utf8)`: a schema in one line for messages.
pub fn describe_schema(s: &Schema) -> String {
    let cols: Vec<String> = s
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    format!("({})", cols.join(", "))
}

/// Values that become an Arrow array; used by [`table!`](crate::table) and
/// [`Table::from_columns`]-style construction from plain Rust vectors.
pub trait IntoArray {
    /// The array.
    fn into_array(self) -> ArrayRef;
}

macro_rules! into_array_prim {
    ($($t:ty => $arr:ty),*) => {$(
        impl IntoArray for Vec<$t> {
            fn into_array(self) -> ArrayRef { Arc::new(<$arr>::from(self)) }
        }
        impl IntoArray for Vec<Option<$t>> {
            fn into_array(self) -> ArrayRef { Arc::new(<$arr>::from(self)) }
        }
        impl<const N: usize> IntoArray for [$t; N] {
            fn into_array(self) -> ArrayRef { Arc::new(<$arr>::from(self.to_vec())) }
        }
        impl<const N: usize> IntoArray for [Option<$t>; N] {
            fn into_array(self) -> ArrayRef { Arc::new(<$arr>::from(self.to_vec())) }
        }
    )*};
}
into_array_prim!(
    i8 => Int8Array, i16 => Int16Array, i32 => Int32Array, i64 => Int64Array,
    u8 => UInt8Array, u16 => UInt16Array, u32 => UInt32Array, u64 => UInt64Array,
    f32 => Float32Array, f64 => Float64Array, bool => BooleanArray,
    &str => StringArray, String => StringArray
);

impl IntoArray for ArrayRef {
    fn into_array(self) -> ArrayRef {
        self
    }
}

/// Builds a one-chunk [`Table`] from column names and Rust values:
/// `table!("a" => [1i64, 2], "b" => vec![Some("x"), None])`.
/// Returns `Result<Table>` (columns must have equal lengths).
#[macro_export]
macro_rules! table {
    ($($name:expr => $values:expr),+ $(,)?) => {
        $crate::Table::from_columns(vec![
            $(($name.to_string(), $crate::IntoArray::into_array($values))),+
        ])
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::Array;

    fn sample() -> Table {
        let a = crate::table!("a" => (0..10i64).collect::<Vec<_>>()).unwrap();
        let b = crate::table!("a" => (10..25i64).collect::<Vec<_>>()).unwrap();
        Table::concat(&[a, b]).unwrap()
    }

    #[test]
    fn rows_and_chunks() {
        let t = sample();
        assert_eq!((t.num_rows(), t.num_chunks(), t.num_columns()), (25, 2, 1));
    }

    #[test]
    fn slice_across_chunks() {
        let t = sample().slice(8, 5);
        let col = t.column("a").unwrap();
        let v = col.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(v.values().to_vec(), vec![8, 9, 10, 11, 12]);
        assert_eq!(sample().slice(30, 5).num_rows(), 0);
        assert_eq!(sample().tail(3).column("a").unwrap().len(), 3);
    }

    #[test]
    fn rechunk_sizes() {
        let t = sample().rechunk(7).unwrap();
        let sizes: Vec<usize> = t.chunks().iter().map(|c| c.num_rows()).collect();
        assert_eq!(sizes, vec![7, 7, 7, 4]);
        let v = t.column("a").unwrap();
        let v = v.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(v.values().to_vec(), (0..25).collect::<Vec<_>>());
        assert!(sample().rechunk(0).is_err());
    }

    #[test]
    fn missing_column_lists_available() {
        let err = sample().column("b").unwrap_err().to_string();
        assert_eq!(err, "column 'b' not found; available columns: [a]");
    }

    #[test]
    fn concat_checks_schema() {
        let a = crate::table!("a" => [1i64]).unwrap();
        let b = crate::table!("a" => [1.0f64]).unwrap();
        let err = Table::concat(&[a, b]).unwrap_err().to_string();
        assert!(err.contains("a: Float64"), "{err}");
    }

    #[test]
    fn table_macro_and_pretty() {
        let t = crate::table!("s" => vec![Some("x"), None], "n" => [1i32, 2]).unwrap();
        assert!(t.schema().field(0).is_nullable());
        let s = t.pretty().unwrap();
        assert!(s.contains("| x |"), "{s}");
        let long = sample().pretty_limited(4).unwrap();
        assert!(
            long.contains("21 more rows") && long.ends_with("25 rows"),
            "{long}"
        );
    }

    #[test]
    fn cast_converts_every_chunk_and_names_what_fails() {
        use arrow_schema::DataType;
        let t =
            crate::table!("s" => vec![Some("1"), None, Some("30")], "n" => [1i32, 2, 3]).unwrap();
        let t = Table::concat(&[t.clone(), t]).unwrap();
        let to = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8View, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let c = t.cast(&to).unwrap();
        assert_eq!(c.schema().as_ref(), to.as_ref());
        assert_eq!(c.num_chunks(), 2);
        let back = c.cast(t.schema()).unwrap();
        assert_eq!(back.chunks(), t.chunks());
        let ints = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Int8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        assert_eq!(
            t.cast(&ints)
                .unwrap()
                .column("s")
                .unwrap()
                .as_any()
                .downcast_ref::<arrow_array::Int8Array>()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(1), None, Some(30), Some(1), None, Some(30)]
        );
        let bad = crate::table!("s" => ["x"], "n" => [1i32]).unwrap();
        let err = bad.cast(&ints).unwrap_err().to_string();
        assert!(err.contains("column 's'"), "{err}");
        let err = t.cast(&Arc::new(Schema::new(vec![Field::new(
            "n",
            DataType::Int64,
            true,
        )])));
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("cannot cast columns [s, n] to [n]")
        );
    }

    #[test]
    fn select_reorders() {
        let t = crate::table!("a" => [1i64], "b" => [2i64]).unwrap();
        assert_eq!(
            t.select(&["b", "a"]).unwrap().column_names(),
            vec!["b", "a"]
        );
        assert!(t.select(&["zz"]).is_err());
    }
}
