//! Truncated, corrupted and missing files give `Error::Spill` naming the
//! file, never garbage or a crash.

use std::fs::{self, OpenOptions};
use std::io::Write;

use parframe_common::Error;
use parframe_spill::SpillFile;

use crate::common::{mixed_batch, spill, spill_dir};

/// Reads `file` expecting `Error::Spill` whose text names the file and
/// contains `needle`.
fn assert_unusable(file: &SpillFile, needle: &str) {
    let err = file.read().unwrap_err();
    assert!(matches!(err, Error::Spill { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&file.path().display().to_string()),
        "error does not name the file: {text}"
    );
    assert!(text.contains(needle), "expected '{needle}' in: {text}");
}

fn flip_byte(file: &SpillFile, at: u64) {
    let mut bytes = fs::read(file.path()).unwrap();
    bytes[at as usize] ^= 0x5A;
    fs::write(file.path(), bytes).unwrap();
}

#[test]
fn truncated_file_is_detected() {
    let (_parent, dir) = spill_dir();
    let file = spill(&dir, &[mixed_batch(0, 2000)]);
    let f = OpenOptions::new().write(true).open(file.path()).unwrap();
    f.set_len(file.bytes() - 100).unwrap();
    drop(f);
    assert_unusable(&file, "truncated");
}

#[test]
fn truncated_to_nothing_is_detected() {
    let (_parent, dir) = spill_dir();
    let file = spill(&dir, &[mixed_batch(0, 10)]);
    fs::write(file.path(), b"").unwrap();
    assert_unusable(&file, "0 bytes long");
}

#[test]
fn appended_bytes_are_detected() {
    let (_parent, dir) = spill_dir();
    let file = spill(&dir, &[mixed_batch(0, 10)]);
    let mut f = OpenOptions::new().append(true).open(file.path()).unwrap();
    f.write_all(b"junk").unwrap();
    drop(f);
    assert_unusable(&file, "bytes long");
}

#[test]
fn flipped_data_byte_fails_the_checksum() {
    let (_parent, dir) = spill_dir();
    let file = spill(&dir, &[mixed_batch(0, 2000)]);
    flip_byte(&file, file.bytes() / 2);
    assert_unusable(&file, "checksum mismatch");
}

#[test]
fn flipped_trailer_byte_is_detected() {
    let (_parent, dir) = spill_dir();
    let file = spill(&dir, &[mixed_batch(0, 20)]);
    flip_byte(&file, file.bytes() - 3);
    assert_unusable(&file, "trailer");
}

#[test]
fn any_flipped_byte_is_detected() {
    let (_parent, dir) = spill_dir();
    let file = spill(&dir, &[mixed_batch(0, 50), mixed_batch(50, 7)]);
    let original = fs::read(file.path()).unwrap();
    // Header, schema, dictionary, batches, footer and trailer all covered.
    for at in (0..file.bytes()).step_by(13) {
        flip_byte(&file, at);
        let err = file.read().unwrap_err();
        assert!(matches!(err, Error::Spill { .. }), "byte {at}: {err:?}");
        fs::write(file.path(), &original).unwrap();
    }
    assert_eq!(file.read().unwrap().count(), 2);
}

#[test]
fn missing_file_is_detected() {
    let (_parent, dir) = spill_dir();
    let file = spill(&dir, &[mixed_batch(0, 5)]);
    fs::remove_file(file.path()).unwrap();
    assert_unusable(&file, "cannot open");
}
