//! Zero-copy reading of a spill file through a memory map.

use std::fmt;
use std::fs::File;
use std::iter::FusedIterator;
use std::ops::Range;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::Block;
use arrow_ipc::reader::{FileDecoder, read_footer_length};
use arrow_schema::SchemaRef;
use parframe_common::{Error, Result};
use twox_hash::XxHash3_64;

use crate::file::Trailer;
use crate::mmap::map_spill_file;

/// Length of the end of an IPC file: footer length (`i32`) and `ARROW1`.
const IPC_END_LEN: usize = 10;

/// The batches of one [`SpillFile`](crate::SpillFile), decoded from a memory
/// map of it: every column buffer of every batch points into the map, so
/// reading copies nothing and the OS pages data in (and out again) as it is
/// used.
///
/// Get a batch by index with [`batch`](Self::batch), or iterate: the reader
/// is an [`Iterator`] of `Result<RecordBatch>` in file order. The batches
/// keep the map alive on their own, so the reader may be dropped while they
/// are still in use.
///
/// Made by [`SpillFile::read`](crate::SpillFile::read), which checked the
/// file's length and checksum; decoding still validates every batch, so even
/// a checksum collision cannot lead to undefined behaviour.
pub struct SpillReader {
    path: PathBuf,
    schema: SchemaRef,
    /// The whole map: the IPC file and the trailer.
    map: Buffer,
    /// The IPC file part of `map`.
    ipc: Buffer,
    decoder: FileDecoder,
    blocks: Vec<Block>,
    next: usize,
}

impl fmt::Debug for SpillReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpillReader")
            .field("path", &self.path)
            .field("batches", &self.blocks.len())
            .field("mapped_bytes", &self.map.len())
            .field("next", &self.next)
            .finish()
    }
}

impl SpillReader {
    /// Maps `file`, verifies it against `trailer` (the length and checksum
    /// recorded while writing) and reads its IPC footer and dictionaries.
    pub(crate) fn open(
        file: &File,
        path: &Path,
        schema: SchemaRef,
        trailer: Trailer,
        expected_batches: u64,
    ) -> Result<Self> {
        let err = |message: String| Error::Spill {
            path: path.to_path_buf(),
            message,
        };
        let total = trailer
            .ipc_len
            .checked_add(Trailer::LEN)
            .ok_or_else(|| err("impossible recorded length".to_string()))?;
        let ipc_len = usize::try_from(trailer.ipc_len)
            .map_err(|_| err("the file is too large to map on this platform".to_string()))?;
        let map = map_spill_file(file, path, total)?;

        let bytes = map.as_slice();
        let (ipc_bytes, tail) = bytes
            .split_at_checked(ipc_len)
            .ok_or_else(|| err("the map is shorter than the recorded length".to_string()))?;
        if tail != trailer.to_bytes() {
            return Err(err(
                "its integrity trailer does not match what was written (overwritten)".to_string(),
            ));
        }
        let found = XxHash3_64::oneshot(ipc_bytes);
        if found != trailer.checksum {
            return Err(err(format!(
                "checksum mismatch: the data was corrupted on disk \
                 (XXH3-64 {found:016x}, {:016x} when written)",
                trailer.checksum
            )));
        }

        let (version, dictionaries, blocks) = read_footer(ipc_bytes).map_err(&err)?;
        if blocks.len() as u64 != expected_batches {
            return Err(err(format!(
                "its footer lists {} record batches but {expected_batches} were written",
                blocks.len()
            )));
        }

        let ipc = map.slice_with_length(0, ipc_len);
        // Alignment required: a misaligned buffer is an error rather than a
        // silent copy, so every batch really is read in place.
        let mut decoder = FileDecoder::new(schema.clone(), version).with_require_alignment(true);
        for (i, block) in dictionaries.iter().enumerate() {
            let data = block_buffer(&ipc, block).map_err(&err)?;
            decoder
                .read_dictionary(block, &data)
                .map_err(|e| err(format!("cannot decode dictionary {i}: {e}")))?;
        }
        Ok(SpillReader {
            path: path.to_path_buf(),
            schema,
            map,
            ipc,
            decoder,
            blocks,
            next: 0,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema of every batch.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Number of record batches in the file.
    pub fn num_batches(&self) -> usize {
        self.blocks.len()
    }

    /// The batch at `index` (counted from 0), its buffers pointing into the
    /// map. Does not move the iterator.
    ///
    /// Fails with [`Error::InvalidArgument`] when `index` is out of range and
    /// with [`Error::Spill`] when the batch cannot be decoded.
    pub fn batch(&self, index: usize) -> Result<RecordBatch> {
        let Some(block) = self.blocks.get(index) else {
            return Err(Error::InvalidArgument(format!(
                "batch {index} of spill file '{}' does not exist: it has {} batches",
                self.path.display(),
                self.blocks.len()
            )));
        };
        let err = |message: String| Error::Spill {
            path: self.path.clone(),
            message,
        };
        let data = block_buffer(&self.ipc, block).map_err(err)?;
        match self.decoder.read_record_batch(block, &data) {
            Ok(Some(batch)) => Ok(batch),
            Ok(None) => Err(err(format!("block {index} holds no record batch"))),
            Err(e) => Err(err(format!("cannot decode batch {index}: {e}"))),
        }
    }

    /// The addresses of the memory map, `start..end`. Every buffer of every
    /// decoded batch lies inside this range; tests use it to prove that
    /// reading copies nothing.
    pub fn mapped_range(&self) -> Range<usize> {
        let start = self.map.as_ptr() as usize;
        start..start + self.map.len()
    }
}

impl Iterator for SpillReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.blocks.len() {
            return None;
        }
        let batch = self.batch(self.next);
        self.next += 1;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.blocks.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for SpillReader {}

impl FusedIterator for SpillReader {}

/// Reads the IPC footer at the end of `ipc`: the metadata version, the
/// dictionary blocks and the record batch blocks.
fn read_footer(
    ipc: &[u8],
) -> std::result::Result<(arrow_ipc::MetadataVersion, Vec<Block>, Vec<Block>), String> {
    let end_at = ipc
        .len()
        .checked_sub(IPC_END_LEN)
        .ok_or_else(|| "it is too short to be an Arrow IPC file".to_string())?;
    let end: [u8; IPC_END_LEN] = ipc
        .get(end_at..)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| "it is too short to be an Arrow IPC file".to_string())?;
    let footer_len = read_footer_length(end).map_err(|e| format!("bad IPC footer: {e}"))?;
    let footer_bytes = end_at
        .checked_sub(footer_len)
        .and_then(|start| ipc.get(start..end_at))
        .ok_or_else(|| format!("bad IPC footer: length {footer_len} exceeds the file"))?;
    let footer =
        arrow_ipc::root_as_footer(footer_bytes).map_err(|e| format!("bad IPC footer: {e}"))?;
    let dictionaries = footer
        .dictionaries()
        .map(|d| d.iter().copied().collect())
        .unwrap_or_default();
    let blocks = footer
        .recordBatches()
        .map(|b| b.iter().copied().collect())
        .unwrap_or_default();
    Ok((footer.version(), dictionaries, blocks))
}

/// The bytes of one IPC block (message metadata and body), bounds-checked so
/// a bad footer cannot make `slice_with_length` panic.
fn block_buffer(ipc: &Buffer, block: &Block) -> std::result::Result<Buffer, String> {
    let offset = usize::try_from(block.offset()).ok();
    let meta = usize::try_from(block.metaDataLength()).ok();
    let body = usize::try_from(block.bodyLength()).ok();
    let range = offset
        .zip(meta.zip(body))
        .and_then(|(offset, (meta, body))| {
            let len = meta.checked_add(body)?;
            let end = offset.checked_add(len)?;
            (end <= ipc.len()).then_some((offset, len))
        });
    let (offset, len) = range.ok_or_else(|| {
        format!(
            "an IPC block (offset {}, length {} + {}) lies outside the file",
            block.offset(),
            block.metaDataLength(),
            block.bodyLength()
        )
    })?;
    Ok(ipc.slice_with_length(offset, len))
}
