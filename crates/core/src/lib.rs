//! The data model of parframe: [`Table`]s made of Arrow `RecordBatch`
//! chunks, [`Expr`]essions evaluated chunk by chunk with arrow kernels, and
//! typed row access ([`RowFn`]) that lets an ordinary Rust closure run over
//! the rows of a chunk at the speed of a hand-written loop.
//!
//! ```
//! use parframe_core::{col, lit, table, Table};
//!
//! let t: Table = table!("city" => ["Oslo", "Lima", "Pune"], "temp" => [3.5, 18.0, 31.2]).unwrap();
//! assert_eq!(t.num_rows(), 3);
//! let hot = (col("temp") * lit(1.8) + lit(32.0)).gt(lit(80.0));
//! let mask = hot.evaluate(&t.chunks()[0]).unwrap();
//! assert_eq!(mask.len(), 3);
//! ```
#![deny(missing_docs)]

pub mod expr;
pub mod row;
pub mod source;
mod table;

pub use expr::{
    CaseBuilder, Expr, Func, IntoExpr, MAX_EXPR_DEPTH, MathFunc, ScalarValue, TimePart, coalesce,
    col, concat, concat_ws, ifnull, interval, lit, make_date, nullif, when,
};
pub use row::{RowFn, RowOptions};
pub use source::{
    ChunkIter, ChunkSink, ChunkSource, ColumnStatistics, PartitionColumnStatistics, Precision,
    Statistics,
};
pub use table::{
    ChunkStorage, IntoArray, Table, array_slice_bytes, distinct_buffer_bytes, held_bytes,
    slice_bytes,
};

/// Re-exports of the arrow crates parframe's API speaks, so users need not
/// pin matching versions themselves.
pub mod arrow {
    pub use arrow_array as array;
    pub use arrow_array::RecordBatch;
    pub use arrow_buffer as buffer;
    pub use arrow_cast as cast;
    pub use arrow_schema as schema;
    pub use arrow_select as select;
}
