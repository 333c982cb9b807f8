//! Mutation fuzzing of the spill-file reader (#15 item 16): a spill file
//! changed in any way (bits flipped, bytes set, cut, grown, a range copied
//! over another) reads as `Error::Spill` naming the file, or, when the
//! changes cancel out, as the batches written; never as other data, never
//! a panic. The inputs are made by the spill writer itself (a spill file
//! only ever comes from it), so there is no checked-in corpus here.
//!
//! `PARFRAME_FUZZ_CASES` (default 64) sets the cases per run; failures are
//! kept under `proptest-regressions/`.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};

use parframe_common::Error;
use parframe_common::fuzz::{ByteMutation, apply, byte_mutation};
use proptest::prelude::*;

use crate::common::{mixed_batch, spill, spill_dir};

fn cases() -> u32 {
    std::env::var("PARFRAME_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn mutation() -> impl Strategy<Value = ByteMutation> {
    // Any byte may matter in a binary file.
    byte_mutation(&[0, 0xff])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn fuzz_spill_reader(
        sizes in prop::collection::vec(0usize..300, 1..4),
        ms in prop::collection::vec(mutation(), 1..6),
    ) {
        let (_parent, dir) = spill_dir();
        let mut start = 0;
        let batches: Vec<_> = sizes
            .iter()
            .map(|&n| {
                start += n;
                mixed_batch(start - n, n)
            })
            .collect();
        let file = spill(&dir, &batches);
        let original = fs::read(file.path()).unwrap();
        let mut data = original.clone();
        for m in &ms {
            apply(&mut data, m);
        }
        fs::write(file.path(), &data).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            file.read().and_then(|r| r.collect::<parframe_common::Result<Vec<_>>>())
        }));
        match outcome {
            Err(_) => return Err(TestCaseError::fail(format!("{ms:?} panicked the reader"))),
            Ok(Ok(read)) => {
                prop_assert_eq!(&data, &original, "a changed file read as data");
                prop_assert_eq!(read, batches);
            }
            Ok(Err(e)) => {
                prop_assert!(matches!(e, Error::Spill { .. }), "{:?}", e);
                prop_assert!(e.to_string().contains(&file.path().display().to_string()), "{}", e);
            }
        }
    }
}
