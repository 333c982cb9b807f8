//! Batches come back equal, and without a copy.

use arrow_array::{Array, RecordBatch};
use parframe_common::Error;

use crate::common::{assert_buffers_in, mixed_batch, spill, spill_dir};

#[test]
fn batches_round_trip_with_nulls_and_many_types() {
    let (_parent, dir) = spill_dir();
    let batches = vec![
        mixed_batch(0, 1000),
        mixed_batch(1000, 0),
        mixed_batch(1000, 37),
        // Large enough that column buffers bypass the write buffer.
        mixed_batch(5000, 100_000),
    ];
    let file = spill(&dir, &batches);
    assert_eq!(file.rows(), 101_037);
    assert_eq!(file.num_batches(), 4);
    assert_eq!(file.schema(), &batches[0].schema());
    assert_eq!(file.bytes(), std::fs::metadata(file.path()).unwrap().len());

    let reader = file.read().unwrap();
    assert_eq!(reader.num_batches(), 4);
    assert_eq!(reader.len(), 4);
    for (i, expected) in batches.iter().enumerate() {
        assert_eq!(&reader.batch(i).unwrap(), expected, "batch {i} by index");
    }
    let read: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(read, batches);
}

#[test]
fn decoded_buffers_point_into_the_map() {
    let (_parent, dir) = spill_dir();
    let batches = vec![mixed_batch(0, 3000), mixed_batch(3000, 64)];
    let file = spill(&dir, &batches);
    let reader = file.read().unwrap();
    let map = reader.mapped_range();
    assert_eq!(map.len() as u64, file.bytes());
    let mut checked = 0;
    for i in 0..reader.num_batches() {
        let batch = reader.batch(i).unwrap();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            checked += assert_buffers_in(&column.to_data(), &map, field.name());
        }
    }
    // 8 columns, each with at least a values buffer, most with nulls.
    assert!(checked >= 20, "only {checked} buffers checked");
}

#[test]
fn batches_outlive_reader_and_file() {
    let (_parent, dir) = spill_dir();
    let expected = mixed_batch(0, 500);
    let file = spill(&dir, std::slice::from_ref(&expected));
    let path = file.path().to_path_buf();
    let mut reader = file.read().unwrap();
    let batch = reader.next().unwrap().unwrap();
    assert!(reader.next().is_none());
    drop(reader);
    drop(file);
    assert!(!path.exists());
    // The map keeps the (unlinked) data readable.
    assert_eq!(batch, expected);
    assert_eq!(
        batch.column(0).null_count(),
        expected.column(0).null_count()
    );
}

#[test]
fn out_of_range_batch_is_an_invalid_argument() {
    let (_parent, dir) = spill_dir();
    let file = spill(&dir, &[mixed_batch(0, 5)]);
    let err = file.read().unwrap().batch(1).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(err.to_string().contains("has 1 batches"), "{err}");
}

#[test]
fn a_file_without_batches_reads_as_empty() {
    let (_parent, dir) = spill_dir();
    let w = dir.new_file("empty", mixed_batch(0, 0).schema()).unwrap();
    let file = w.finish().unwrap();
    assert_eq!((file.rows(), file.num_batches()), (0, 0));
    assert_eq!(file.read().unwrap().count(), 0);
}

#[test]
fn changing_dictionaries_fail_cleanly() {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{ArrayRef, DictionaryArray, Int32Array, StringArray};

    let dict = |values: Vec<&str>| -> RecordBatch {
        let d: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::new(
            Int32Array::from(vec![0, 1]),
            Arc::new(StringArray::from(values)),
        ));
        RecordBatch::try_from_iter([("d", d)]).unwrap()
    };
    let (_parent, dir) = spill_dir();
    let first = dict(vec!["a", "b"]);
    let mut w = dir.new_file("dict", first.schema()).unwrap();
    w.write(&first).unwrap();
    let path = w.path().to_path_buf();
    match w.write(&dict(vec!["x", "y"])) {
        // Documented limitation: the IPC file format cannot replace a
        // dictionary, and the writer says so (and removes the file).
        Err(err) => {
            assert!(matches!(err, Error::Spill { .. }), "{err:?}");
            assert!(!path.exists());
        }
        // Should arrow learn to handle it, the data must still round-trip.
        Ok(()) => {
            let file = w.finish().unwrap();
            let read: Vec<_> = file.read().unwrap().map(Result::unwrap).collect();
            assert_eq!(read, vec![first, dict(vec!["x", "y"])]);
        }
    }
}
