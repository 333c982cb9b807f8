//! String and binary views (`Utf8View`, `BinaryView`): what their rows
//! hold, and compacting them before they are kept or spilled.
//!
//! A view array filtered, sliced or gathered from a larger one keeps all
//! of that one's data buffers: `get_array_memory_size` then counts every
//! buffer whole for each array sharing it (a sorted run of slices of one
//! chunk would seem many times its size), `get_slice_memory_size` counts
//! none of them, and the IPC writer writes every buffer whole. The two
//! functions here give the honest measure and the remedy.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::DataType;
use parframe_common::Result;

/// View columns are compacted when their data buffers hold more than this
/// many bytes beyond twice what their rows use.
const VIEW_SLACK: usize = 64 << 10;

/// The views and the data buffer bytes of a view array, or `None` when
/// `a` is not one (`Utf8View`, `BinaryView`).
fn parts(a: &dyn Array) -> Option<(&[u128], usize)> {
    let (views, buffers) = match a.data_type() {
        DataType::Utf8View => {
            let a = a.as_string_view();
            (a.views().as_ref(), a.data_buffers())
        }
        DataType::BinaryView => {
            let a = a.as_binary_view();
            (a.views().as_ref(), a.data_buffers())
        }
        _ => return None,
    };
    Some((views, buffers.iter().map(|b| b.len()).sum()))
}

/// Bytes the rows of `views` point to outside the views (strings longer
/// than 12 bytes; shorter ones are inline).
fn used(views: &[u128]) -> usize {
    views
        .iter()
        .map(|v| *v as u32 as usize)
        .filter(|&len| len > 12)
        .sum()
}

/// The bytes a view array's rows hold: 16 a view, plus the data they
/// point to, at most the data buffers' size (rows pointing many times into
/// one small buffer, such as a decoded dictionary, hold it once). `None`
/// when `a` is not a view array.
pub fn view_bytes(a: &dyn Array) -> Option<u64> {
    let (views, buffers) = parts(a)?;
    Some((16 * views.len() + used(views).min(buffers)) as u64)
}

/// `batch` with its view columns compacted (their data rewritten to only
/// the bytes their rows use, with arrow's `gc`) when their buffers are
/// mostly bytes no row uses, or `None` when no column needs it. Rows
/// pointing many times into a small buffer use more bytes than it holds
/// and keep it as it is.
pub fn compact_views(batch: &RecordBatch) -> Result<Option<RecordBatch>> {
    let mut cols: Option<Vec<ArrayRef>> = None;
    for (i, c) in batch.columns().iter().enumerate() {
        let Some((views, buffers)) = parts(c.as_ref()) else {
            continue;
        };
        if buffers <= 2 * used(views) + VIEW_SLACK {
            continue;
        }
        let compacted: ArrayRef = match c.data_type() {
            DataType::Utf8View => Arc::new(c.as_string_view().gc()),
            _ => Arc::new(c.as_binary_view().gc()),
        };
        cols.get_or_insert_with(|| batch.columns().to_vec())[i] = compacted;
    }
    match cols {
        None => Ok(None),
        Some(cols) => Ok(Some(RecordBatch::try_new_with_options(
            batch.schema(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )?)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::SpillDir;

    /// A view column sliced from a large one is spilled with the bytes its
    /// rows use, not the whole buffers; rows pointing into a small shared
    /// buffer (a decoded dictionary) keep it.
    #[test]
    fn sliced_view_columns_spill_only_their_bytes() {
        use arrow_array::StringViewArray;
        use arrow_array::cast::AsArray;
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new_in(parent.path()).unwrap();
        let long: StringViewArray = (0..100_000)
            .map(|i| Some(format!("a string longer than twelve bytes, number {i}")))
            .collect();
        let sliced =
            RecordBatch::try_from_iter([("s", Arc::new(long.slice(500, 10)) as ArrayRef)]).unwrap();
        let mut w = dir.new_file("views", sliced.schema()).unwrap();
        w.write(&sliced).unwrap();
        let f = w.finish().unwrap();
        assert!(
            f.bytes() < 16 << 10,
            "{} bytes spilled for 10 rows",
            f.bytes()
        );
        let back = f.read().unwrap().batch(0).unwrap();
        assert_eq!(
            back.column(0).as_string_view().iter().collect::<Vec<_>>(),
            sliced.column(0).as_string_view().iter().collect::<Vec<_>>()
        );
        // 100,000 rows over ten distinct strings: one small buffer, kept.
        let few = StringViewArray::from_iter_values(
            (0..10).map(|i| format!("a string longer than twelve bytes, number {i}")),
        );
        let views: Vec<u128> = (0..100_000).map(|i| few.views()[i % 10]).collect();
        let repeated = StringViewArray::new(views.into(), few.data_buffers().to_vec(), None);
        let b = RecordBatch::try_from_iter([("s", Arc::new(repeated) as ArrayRef)]).unwrap();
        assert!(compact_views(&b).unwrap().is_none());
        // Its bytes: the views and the one buffer, not the rows' bytes.
        assert_eq!(
            view_bytes(b.column(0).as_ref()),
            Some(16 * 100_000 + few.data_buffers()[0].len() as u64)
        );
    }
}
