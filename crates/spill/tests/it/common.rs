//! Test data and helpers shared by the modules.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, ListBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, DictionaryArray, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray,
};
use arrow_data::ArrayData;
use parframe_spill::{SpillDir, SpillFile};

/// A batch of `rows` rows with nulls in most columns and several types:
/// ints, floats, strings, bools, a list, a decimal and a dictionary (the
/// same dictionary in every batch, as the IPC file format requires).
pub fn mixed_batch(start: usize, rows: usize) -> RecordBatch {
    let idx = start..start + rows;
    let i32s: ArrayRef = Arc::new(Int32Array::from_iter(
        idx.clone().map(|i| (i % 7 != 0).then_some(i as i32 - 1000)),
    ));
    let i64s: ArrayRef = Arc::new(Int64Array::from_iter_values(
        idx.clone().map(|i| (i as i64) * 1_000_003),
    ));
    let f64s: ArrayRef = Arc::new(Float64Array::from_iter(
        idx.clone().map(|i| (i % 5 != 0).then_some(i as f64 / 3.0)),
    ));
    let strings: ArrayRef =
        Arc::new(StringArray::from_iter(idx.clone().map(|i| {
            (i % 3 != 0).then(|| format!("value {i} {}", "é".repeat(i % 4)))
        })));
    let bools: ArrayRef = Arc::new(BooleanArray::from_iter(
        idx.clone().map(|i| (i % 11 != 0).then_some(i % 2 == 0)),
    ));
    let mut lists = ListBuilder::new(Int32Builder::new());
    for i in idx.clone() {
        if i % 13 == 0 {
            lists.append_null();
        } else {
            for j in 0..i % 4 {
                lists.values().append_option((j != 2).then_some(j as i32));
            }
            lists.append(true);
        }
    }
    let lists: ArrayRef = Arc::new(lists.finish());
    let decimals: ArrayRef = Arc::new(
        Decimal128Array::from_iter(idx.clone().map(|i| (i % 6 != 0).then_some(i as i128 * 101)))
            .with_precision_and_scale(20, 2)
            .unwrap(),
    );
    let dict_values: ArrayRef = Arc::new(StringArray::from(vec!["red", "green", "blue"]));
    let dict: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::new(
        Int32Array::from_iter(idx.map(|i| (i % 9 != 0).then_some((i % 3) as i32))),
        dict_values,
    ));
    // Explicit nullability, so an empty batch has the schema of the others.
    RecordBatch::try_from_iter_with_nullable([
        ("i32", i32s, true),
        ("i64", i64s, false),
        ("f64", f64s, true),
        ("str", strings, true),
        ("bool", bools, true),
        ("list", lists, true),
        ("dec", decimals, true),
        ("dict", dict, true),
    ])
    .unwrap()
}

/// A spill directory in a fresh temporary parent (kept alive by the
/// returned guard).
pub fn spill_dir() -> (tempfile::TempDir, SpillDir) {
    let parent = tempfile::tempdir().unwrap();
    let dir = SpillDir::new_in(parent.path()).unwrap();
    (parent, dir)
}

/// Writes `batches` to a new spill file.
pub fn spill(dir: &SpillDir, batches: &[RecordBatch]) -> SpillFile {
    let mut w = dir.new_file("test", batches[0].schema()).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap()
}

/// Asserts that every non-empty buffer of `data` and its children lies
/// inside `map`; returns how many buffers were checked.
pub fn assert_buffers_in(data: &ArrayData, map: &Range<usize>, column: &str) -> usize {
    let mut checked = 0;
    let mut check = |ptr: *const u8, len: usize, what: &str| {
        if len == 0 {
            return;
        }
        let start = ptr as usize;
        assert!(
            map.contains(&start) && start + len <= map.end,
            "{column}: {what} buffer at {start:#x}+{len} is outside the map {map:x?}"
        );
        checked += 1;
    };
    for b in data.buffers() {
        check(b.as_ptr(), b.len(), "data");
    }
    if let Some(nulls) = data.nulls() {
        check(nulls.buffer().as_ptr(), nulls.buffer().len(), "null");
    }
    for child in data.child_data() {
        checked += assert_buffers_in(child, map, column);
    }
    checked
}
