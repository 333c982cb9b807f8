//! Shared test helpers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float32Array, Float64Array, Int8Array, Int16Array,
    Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_schema::{Field, Schema};
use parframe_core::Table;

/// A temporary directory and a file name in it.
pub fn tmp(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// Writes `text` to `name` in `dir`.
pub fn write_text(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = tmp(dir, name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A table with every supported type, nulls in every column, in two chunks.
/// `rich` adds LargeUtf8 and Timestamp(Microsecond) (Parquet and IPC only).
pub fn all_types(rich: bool) -> Table {
    let chunk = |base: i64| -> RecordBatch {
        let n = 5usize;
        let idx: Vec<i64> = (0..n as i64).map(|i| base + i).collect();
        let nul = |i: usize| i % 3 == 1;
        let mut cols: Vec<(&str, ArrayRef)> = vec![
            (
                "i8",
                Arc::new(Int8Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(v as i8 - 3)),
                )),
            ),
            (
                "i16",
                Arc::new(Int16Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(-300 * v as i16)),
                )),
            ),
            (
                "i32",
                Arc::new(Int32Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(i32::MIN + v as i32)),
                )),
            ),
            (
                "i64",
                Arc::new(Int64Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(i64::MAX - v)),
                )),
            ),
            (
                "u8",
                Arc::new(UInt8Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(200 + v as u8)),
                )),
            ),
            (
                "u16",
                Arc::new(UInt16Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(60000 + v as u16)),
                )),
            ),
            (
                "u32",
                Arc::new(UInt32Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(4_000_000_000 + v as u32)),
                )),
            ),
            (
                "u64",
                Arc::new(UInt64Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(u64::MAX - v as u64)),
                )),
            ),
            (
                "f32",
                Arc::new(Float32Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(v as f32 * 0.1 - 1.5)),
                )),
            ),
            (
                "f64",
                Arc::new(Float64Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(v as f64 / 3.0 - 1e10)),
                )),
            ),
            (
                "bool",
                Arc::new(BooleanArray::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(v % 2 == 0)),
                )),
            ),
            (
                "utf8",
                Arc::new(StringArray::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then(|| format!("s,\"{v}\" é"))),
                )),
            ),
            (
                "date",
                Arc::new(Date32Array::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(19000 + v as i32)),
                )),
            ),
        ];
        if rich {
            cols.push((
                "large",
                Arc::new(LargeStringArray::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then(|| format!("L{v}"))),
                )),
            ));
            cols.push((
                "ts",
                Arc::new(TimestampMicrosecondArray::from_iter(
                    idx.iter()
                        .enumerate()
                        .map(|(i, &v)| (!nul(i)).then_some(1_700_000_000_123_456 + v)),
                )),
            ));
        }
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        RecordBatch::try_new(schema, cols.into_iter().map(|(_, a)| a).collect()).unwrap()
    };
    Table::from_batches(vec![chunk(0), chunk(5)]).unwrap()
}

/// Asserts same column names, types and values (chunking may differ).
pub fn assert_same(a: &Table, b: &Table) {
    assert_eq!(a.column_names(), b.column_names());
    for (fa, fb) in a.schema().fields().iter().zip(b.schema().fields()) {
        assert_eq!(fa.data_type(), fb.data_type(), "column {}", fa.name());
    }
    assert_eq!(a.num_rows(), b.num_rows());
    for name in a.column_names() {
        let x = a.column(name).unwrap();
        let y = b.column(name).unwrap();
        assert_eq!(x.to_data(), y.to_data(), "column {name}");
    }
}

/// The path as the error messages print it.
pub fn shown(p: &Path) -> String {
    p.display().to_string()
}
