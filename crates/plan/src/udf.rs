//! User closures inside plans: row closures (`apply`) and batch closures
//! (`map_batches`). The optimizer treats them as opaque: it knows only the
//! columns a row closure reads and the column it writes, and nothing of a
//! batch closure (which sees and may change every column).

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::Field;
use parframe_common::Result;
use parframe_core::row::RowOptions;

/// A row closure bound to its columns, type-erased for the plan.
pub trait RowUdf: Send + Sync {
    /// The columns it reads.
    fn inputs(&self) -> &[String];
    /// The column it writes (added, or replaced when it exists).
    fn output(&self) -> &str;
    /// The output column's field.
    fn field(&self) -> &Field;
    /// How nulls are handled.
    fn options(&self) -> &RowOptions;
    /// Computes the output column for one chunk whose first row is row
    /// `row_offset` of the operator's input.
    fn call(&self, batch: &RecordBatch, row_offset: u64) -> Result<ArrayRef>;
}

/// The closure behind `map_batches`.
pub type BatchUdf = dyn Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync;
