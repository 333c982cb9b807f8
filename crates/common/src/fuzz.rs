//! Byte-level mutations for the fuzz tests of the file and spill readers
//! (the `fuzz` feature; a dev-dependency of the crates that fuzz). A
//! [`ByteMutation`] names its positions as fractions of the input's length,
//! so one mutation applies to any input and proptest shrinks it well.
//!
//! ```
//! use parframe_common::fuzz::{ByteMutation, apply};
//! let mut data = b"a,b\n1,2\n".to_vec();
//! apply(&mut data, &ByteMutation::Truncate { at: 1 << 15 });
//! assert_eq!(data, b"a,b\n");
//! ```

use proptest::prelude::*;

/// One change to a byte string.
#[derive(Debug, Clone)]
pub enum ByteMutation {
    /// Flip bit `bit` of one byte.
    Flip {
        /// Where (1/65536ths of the length).
        at: u16,
        /// Which bit.
        bit: u8,
    },
    /// Set one byte.
    Set {
        /// Where (1/65536ths of the length).
        at: u16,
        /// The new value.
        byte: u8,
    },
    /// Write a 4-byte little-endian value (a length, an offset).
    Word {
        /// Where (1/65536ths of the length).
        at: u16,
        /// The value.
        value: u32,
    },
    /// Cut the input there.
    Truncate {
        /// Where (1/65536ths of the length).
        at: u16,
    },
    /// Remove up to `len` bytes.
    Delete {
        /// Where (1/65536ths of the length).
        at: u16,
        /// How many.
        len: u8,
    },
    /// Insert bytes (at the end when `at` is `u16::MAX`).
    Insert {
        /// Where (1/65536ths of the length).
        at: u16,
        /// What.
        bytes: Vec<u8>,
    },
    /// Copy up to `len` bytes from one place over another.
    Splice {
        /// From where (1/65536ths of the length).
        from: u16,
        /// To where (1/65536ths of the length).
        to: u16,
        /// How many.
        len: u8,
    },
}

/// Values a corrupted length or offset likely takes.
const WORDS: &[u32] = &[
    0,
    1,
    8,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    u32::MAX,
];

/// Mutations whose set and inserted bytes are drawn from `special` half of
/// the time (bytes with a meaning to the reader under test) and from all
/// bytes otherwise.
pub fn byte_mutation(special: &'static [u8]) -> impl Strategy<Value = ByteMutation> {
    let byte = move || prop_oneof![prop::sample::select(special), any::<u8>()];
    prop_oneof![
        (any::<u16>(), 0u8..8).prop_map(|(at, bit)| ByteMutation::Flip { at, bit }),
        (any::<u16>(), byte()).prop_map(|(at, byte)| ByteMutation::Set { at, byte }),
        (any::<u16>(), prop::sample::select(WORDS))
            .prop_map(|(at, value)| ByteMutation::Word { at, value }),
        any::<u16>().prop_map(|at| ByteMutation::Truncate { at }),
        (any::<u16>(), 1u8..64).prop_map(|(at, len)| ByteMutation::Delete { at, len }),
        (any::<u16>(), prop::collection::vec(byte(), 1..16))
            .prop_map(|(at, bytes)| ByteMutation::Insert { at, bytes }),
        (any::<u16>(), any::<u16>(), 1u8..128).prop_map(|(from, to, len)| ByteMutation::Splice {
            from,
            to,
            len
        }),
    ]
}

/// The byte position `at` (a fraction) stands for in `len` bytes.
fn position(at: u16, len: usize) -> usize {
    (at as usize * len) >> 16
}

/// Applies `m` to `data` (a mutation that does not fit, such as a flip
/// of an empty input, changes nothing).
pub fn apply(data: &mut Vec<u8>, m: &ByteMutation) {
    let len = data.len();
    match m {
        ByteMutation::Flip { at, bit } if len > 0 => data[position(*at, len)] ^= 1 << (bit % 8),
        ByteMutation::Set { at, byte } if len > 0 => data[position(*at, len)] = *byte,
        ByteMutation::Word { at, value } if len >= 4 => {
            let p = position(*at, len - 3);
            data[p..p + 4].copy_from_slice(&value.to_le_bytes());
        }
        ByteMutation::Truncate { at } => data.truncate(position(*at, len)),
        ByteMutation::Delete { at, len: n } => {
            let p = position(*at, len);
            let end = (p + *n as usize).min(len);
            data.drain(p..end);
        }
        ByteMutation::Insert { at, bytes } => {
            let p = if *at == u16::MAX {
                len
            } else {
                position(*at, len + 1)
            };
            data.splice(p..p, bytes.iter().copied());
        }
        ByteMutation::Splice { from, to, len: n } if len > 0 => {
            let f = position(*from, len);
            let end = (f + *n as usize).min(len);
            let piece = data[f..end].to_vec();
            let t = position(*to, len - piece.len() + 1);
            data[t..t + piece.len()].copy_from_slice(&piece);
        }
        _ => {}
    }
}
