//! A finished spill file and its integrity trailer.

use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::SchemaRef;
use parframe_common::{Error, Result};

use crate::dir::{DirInner, SpillStats};
use crate::reader::SpillReader;

/// What parframe appends after the Arrow IPC file, 24 bytes, little-endian:
/// the IPC file's length (`u64`), the XXH3-64 hash of those bytes (`u64`),
/// and the magic `PFSPILL1`.
///
/// The [`SpillFile`] keeps the same two numbers in memory, and those are what
/// a read is checked against: the trailer on disk only has to agree. It
/// makes a stray file self-describing (and checkable by a future tool) at
/// the cost of 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer {
    /// Length of the Arrow IPC file that precedes the trailer.
    pub(crate) ipc_len: u64,
    /// XXH3-64 (seed 0) of those `ipc_len` bytes.
    pub(crate) checksum: u64,
}

impl Trailer {
    pub(crate) const LEN: u64 = 24;
    const MAGIC: [u8; 8] = *b"PFSPILL1";

    pub(crate) fn to_bytes(self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&self.ipc_len.to_le_bytes());
        out[8..16].copy_from_slice(&self.checksum.to_le_bytes());
        out[16..].copy_from_slice(&Self::MAGIC);
        out
    }
}

/// A finished spill file: Arrow IPC batches on disk, owned by this value and
/// removed from disk when it drops.
///
/// It remembers the file's length and checksum, so [`read`](Self::read)
/// detects a truncated or corrupted file and reports [`Error::Spill`]
/// instead of decoding garbage.
pub struct SpillFile {
    dir: Arc<DirInner>,
    path: PathBuf,
    schema: SchemaRef,
    rows: u64,
    batches: u64,
    trailer: Trailer,
}

impl fmt::Debug for SpillFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpillFile")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .field("batches", &self.batches)
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl SpillFile {
    pub(crate) fn new(
        dir: Arc<DirInner>,
        path: PathBuf,
        schema: SchemaRef,
        rows: u64,
        batches: u64,
        trailer: Trailer,
    ) -> Self {
        let file = SpillFile {
            dir,
            path,
            schema,
            rows,
            batches,
            trailer,
        };
        file.dir.file_finished(file.stats());
        file
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema of every batch in the file.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Total rows over all batches.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Number of record batches.
    pub fn num_batches(&self) -> u64 {
        self.batches
    }

    /// Size of the file on disk in bytes (the IPC data plus the 24-byte
    /// trailer).
    pub fn bytes(&self) -> u64 {
        self.trailer.ipc_len + Trailer::LEN
    }

    /// This file's statistics: one file, its bytes and rows.
    pub fn stats(&self) -> SpillStats {
        SpillStats {
            files: 1,
            bytes: self.bytes(),
            rows: self.rows,
        }
    }

    /// Maps the file into memory and returns a reader whose batches point
    /// into the map (no copy: the OS pages the data in, and out under memory
    /// pressure, as the batches are used).
    ///
    /// Before decoding anything it checks that the file has the length that
    /// was written and that its bytes hash to the checksum computed while
    /// writing (XXH3-64, one pass over the file), so a truncated, missing or
    /// corrupted file gives [`Error::Spill`] naming the file.
    ///
    /// The reader and the batches it returns keep the map alive and do not
    /// borrow this `SpillFile`; on Unix they stay valid even after the
    /// `SpillFile` drops and removes the file (the OS frees the disk space
    /// when the last map goes).
    ///
    /// # Hazard
    /// The file must not be modified while it is mapped: a truncation by
    /// another process would make reads fault (`SIGBUS`). This is sound
    /// because the file is our own: created exclusively by this process in
    /// its private spill directory and never opened for writing after
    /// [`SpillWriter::finish`](crate::SpillWriter::finish).
    pub fn read(&self) -> Result<SpillReader> {
        let file = File::open(&self.path).map_err(|e| Error::Spill {
            path: self.path.clone(),
            message: format!("cannot open it: {e}"),
        })?;
        SpillReader::open(
            &file,
            &self.path,
            Arc::clone(&self.schema),
            self.trailer,
            self.batches,
        )
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        // A failure (the file already gone) leaves nothing to do; the
        // directory's removal sweeps up anything left.
        let _ = fs::remove_file(&self.path);
        self.dir.file_removed(self.stats());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_layout() {
        let t = Trailer {
            ipc_len: 0x0102,
            checksum: 0xAABB,
        };
        let b = t.to_bytes();
        assert_eq!(b.len() as u64, Trailer::LEN);
        assert_eq!(&b[..2], &[0x02, 0x01]);
        assert_eq!(&b[8..10], &[0xBB, 0xAA]);
        assert_eq!(&b[16..], b"PFSPILL1");
    }
}
