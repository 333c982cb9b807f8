//! Random nullable int and string columns over several batches round-trip.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use proptest::prelude::*;

use crate::common::{assert_buffers_in, spill, spill_dir};

type Rows = Vec<(Option<i64>, Option<String>)>;

fn to_batch(rows: &Rows) -> RecordBatch {
    let ints: ArrayRef = Arc::new(rows.iter().map(|r| r.0).collect::<Int64Array>());
    let strings: ArrayRef = Arc::new(rows.iter().map(|r| r.1.as_deref()).collect::<StringArray>());
    RecordBatch::try_from_iter_with_nullable([("i", ints, true), ("s", strings, true)]).unwrap()
}

fn batches() -> impl Strategy<Value = Vec<Rows>> {
    let row = (
        proptest::option::of(any::<i64>()),
        proptest::option::of("[a-zé0-9 ]{0,20}"),
    );
    prop::collection::vec(prop::collection::vec(row, 0..200), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_batches_round_trip(data in batches()) {
        let (_parent, dir) = spill_dir();
        let expected: Vec<RecordBatch> = data.iter().map(to_batch).collect();
        let file = spill(&dir, &expected);
        let rows: usize = data.iter().map(Vec::len).sum();
        prop_assert_eq!(file.rows(), rows as u64);

        let reader = file.read().unwrap();
        let map = reader.mapped_range();
        for (i, want) in expected.iter().enumerate() {
            let got = reader.batch(i).unwrap();
            prop_assert_eq!(&got, want);
            for (f, c) in got.schema().fields().iter().zip(got.columns()) {
                assert_buffers_in(&c.to_data(), &map, f.name());
            }
        }
        let read: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        prop_assert_eq!(read, expected);
        let path = file.path().to_path_buf();
        drop(file);
        prop_assert!(!path.exists());
    }
}
