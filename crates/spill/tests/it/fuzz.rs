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
use proptest::prelude::*;

use crate::common::{mixed_batch, spill, spill_dir};

fn cases() -> u32 {
    std::env::var("PARFRAME_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: u16, bit: u8 },
    Set { at: u16, byte: u8 },
    Word { at: u16, value: u32 },
    Truncate { at: u16 },
    Append { bytes: Vec<u8> },
    Splice { from: u16, to: u16, len: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let words = prop::sample::select(vec![0u32, 1, 8, 64, 0xffff, 0x7fff_ffff, u32::MAX]);
    prop_oneof![
        (any::<u16>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<u16>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (any::<u16>(), words).prop_map(|(at, value)| Mutation::Word { at, value }),
        any::<u16>().prop_map(|at| Mutation::Truncate { at }),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(|bytes| Mutation::Append { bytes }),
        (any::<u16>(), any::<u16>(), 1u8..128).prop_map(|(from, to, len)| Mutation::Splice {
            from,
            to,
            len
        }),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    let pos = |at: u16, n: usize| (at as usize * n) >> 16;
    let len = data.len();
    match m {
        Mutation::Flip { at, bit } if len > 0 => data[pos(*at, len)] ^= 1 << bit,
        Mutation::Set { at, byte } if len > 0 => data[pos(*at, len)] = *byte,
        Mutation::Word { at, value } if len >= 4 => {
            let p = pos(*at, len - 3);
            data[p..p + 4].copy_from_slice(&value.to_le_bytes());
        }
        Mutation::Truncate { at } => data.truncate(pos(*at, len)),
        Mutation::Append { bytes } => data.extend_from_slice(bytes),
        Mutation::Splice { from, to, len: n } if len > 0 => {
            let f = pos(*from, len);
            let end = (f + *n as usize).min(len);
            let piece = data[f..end].to_vec();
            let t = pos(*to, len - piece.len() + 1);
            data[t..t + piece.len()].copy_from_slice(&piece);
        }
        _ => {}
    }
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
