//! Splitting a CSV file into byte ranges that start at record starts.
//!
//! A newline inside a quoted field is data, not the end of a record, so
//! a boundary cannot be found by looking for the next `\n` after a target
//! offset: a range could start inside a quoted field whose text looks like
//! records (and would silently read them as such). Whether a newline is
//! quoted depends on everything before it, so the ranges are planned by
//! one sequential pass over the file that tracks the quoting state the way
//! the CSV parser (csv-core, under arrow-csv) does: a quote opens a quoted
//! field only at the start of a field, `""` inside one is an escaped
//! quote, and any other quote is a literal byte.
//!
//! The pass jumps with `memchr` from one quote or newline to the next (and
//! inside a quoted field from quote to quote), so it runs at about memory
//! speed; its cost is one extra read of the file when it is opened.
//! Written by hand: arrow-csv and csv-core parse records but offer no
//! boundary search over a byte range.

use std::io::Read;

/// Quoting state between two bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside quotes.
    Out,
    /// Inside a quoted field.
    Quoted,
    /// Inside a quoted field, just after a quote: `""` (an escaped quote)
    /// or the end of the quoted part, decided by the next byte.
    QuoteSeen,
}

/// Block size of the sequential pass.
const BLOCK: usize = 1 << 20;

/// The start offsets of the ranges of `[0, len)`: 0, then for each target
/// `k * step` (moved forward past the previous boundary) the offset just
/// after the first record-ending newline at or after `target - 1`.
/// `quote`: the quote byte; `delimiter`: the field delimiter.
pub(super) fn range_starts(
    file: &mut dyn Read,
    len: u64,
    step: u64,
    delimiter: u8,
    quote: u8,
) -> std::io::Result<Vec<u64>> {
    let mut starts = vec![0u64];
    if len == 0 || step >= len {
        return Ok(starts);
    }
    let mut buf = vec![0u8; BLOCK];
    let mut state = State::Out;
    // The byte before the current position (a newline at the file start:
    // the first byte starts a field).
    let mut prev = b'\n';
    let mut base = 0u64;
    let mut target = step;
    loop {
        let got = read_full(file, &mut buf)?;
        if got == 0 {
            return Ok(starts);
        }
        let block = &buf[..got];
        let mut i = 0;
        while i < got {
            match state {
                State::Out => {
                    let Some(j) = memchr::memchr2(b'\n', quote, &block[i..]).map(|j| i + j) else {
                        break;
                    };
                    let before = if j > i { block[j - 1] } else { prev };
                    if block[j] == b'\n' {
                        let next = base + j as u64 + 1;
                        if next >= target && next < len {
                            starts.push(next);
                            target = next + step;
                            if target >= len {
                                return Ok(starts);
                            }
                        }
                    } else if matches!(before, b'\n' | b'\r') || before == delimiter {
                        state = State::Quoted;
                    }
                    i = j + 1;
                }
                State::Quoted => match memchr::memchr(quote, &block[i..]) {
                    Some(j) => {
                        state = State::QuoteSeen;
                        i += j + 1;
                    }
                    None => i = got,
                },
                State::QuoteSeen => {
                    if block[i] == quote {
                        state = State::Quoted;
                        i += 1;
                    } else {
                        // The quoted part ended; this byte is read outside.
                        state = State::Out;
                    }
                }
            }
        }
        prev = block[got - 1];
        base += got as u64;
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn starts(text: &str, step: u64) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        std::fs::write(&p, text).unwrap();
        let mut f = std::fs::File::open(&p).unwrap();
        range_starts(&mut f, text.len() as u64, step, b',', b'"').unwrap()
    }

    #[test]
    fn boundaries_skip_quoted_newlines() {
        // Records start at 0, 4, 20 and 24: the second holds a quoted
        // field with newlines and an escaped quote.
        let text = "a,b\n1,\"x\n2,y\n3,\"\"z\"\n4,w\n5,v\n";
        let s = starts(text, 2);
        for &b in &s[1..] {
            assert_eq!(text.as_bytes()[b as usize - 1], b'\n');
        }
        assert_eq!(s, vec![0, 4, 20, 24]);
    }

    #[test]
    fn literal_quotes_inside_fields_do_not_open_quotes() {
        let text = "a,b\n5'3\",x\n1,y\n2,z\n";
        assert_eq!(starts(text, 1), vec![0, 4, 11, 15]);
    }

    #[test]
    fn quote_state_carries_across_blocks() {
        // A quoted field spanning a block boundary, full of newlines.
        let mut text = String::from("id,t\n1,\"");
        while text.len() < BLOCK + 100 {
            text.push_str("9,fake\n");
        }
        text.push_str("\"\n2,real\n");
        let s = starts(&text, 10);
        assert_eq!(s, vec![0, (text.len() - 7) as u64]);
    }
}
