//! Read-only memory maps of spill files, wrapped as Arrow [`Buffer`]s.
//!
//! This module holds all of parframe's `unsafe` code: mapping a file and
//! handing the mapped bytes to Arrow without a copy.
//!
//! # The hazard
//! A memory map shows the file's *current* content. If anything truncates or
//! rewrites the file while it is mapped, reads of the mapped bytes can see
//! changed data, or fault with `SIGBUS` for pages past a new end of file.
//! Rust's guarantees for `&[u8]` do not hold for such a map.
//!
//! We map only our own spill files: created with `create_new` (so never a
//! file or symlink that was already there) in a directory that this process
//! made private (mode `0700` on Unix), written once, closed, and never opened
//! for writing again. Nothing in parframe modifies a spill file after
//! [`SpillWriter::finish`](crate::SpillWriter::finish), so the map stays what
//! was written. Another process running as the same user (or root) that
//! edits files in our spill directory breaks this; that is outside what
//! parframe can defend against, as it is for any program using memory maps.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_buffer::Buffer;
use memmap2::Mmap;
use parframe_common::{Error, Result};

/// Maps the whole of `file` (at `path`) read-only and returns the map as one
/// Arrow [`Buffer`] that keeps the map alive for as long as any slice of it
/// (and so any array decoded from it) lives.
///
/// The file must be exactly `expected_len` bytes long, otherwise this fails
/// with [`Error::Spill`] before mapping.
///
/// # Hazard
/// The file must not be modified or truncated while the returned buffer (or
/// anything sliced from it) is alive; see the [module docs](self). Callers
/// pass only finished spill files that parframe owns and never writes again.
pub(crate) fn map_spill_file(file: &File, path: &Path, expected_len: u64) -> Result<Buffer> {
    let spill_err = |message: String| Error::Spill {
        path: path.to_path_buf(),
        message,
    };
    let on_disk = file
        .metadata()
        .map_err(|e| spill_err(format!("cannot stat the file: {e}")))?
        .len();
    if on_disk != expected_len {
        return Err(spill_err(format!(
            "the file is {on_disk} bytes long but {expected_len} were written \
             (truncated or overwritten)"
        )));
    }
    if expected_len == 0 {
        // Never produced by our writer (a spill file holds at least the IPC
        // header, footer and trailer); an empty map is not worth supporting.
        return Err(spill_err("the file is empty".to_string()));
    }

    // SAFETY: `Mmap::map` is unsafe because the map aliases a file that other
    // code could change while it is mapped (see the module docs). This file is
    // a finished spill file that this process created with `create_new` in its
    // own private spill directory and never opens for writing again; it is
    // only removed (unlinked) when its `SpillFile` drops, which leaves
    // existing maps valid on Unix. So the mapped bytes do not change while
    // the map lives.
    let mmap = unsafe { Mmap::map(file) }
        .map_err(|e| spill_err(format!("cannot memory-map the file: {e}")))?;
    if mmap.len() as u64 != expected_len {
        return Err(spill_err(format!(
            "the map is {} bytes long but the file has {expected_len} (changed while mapping)",
            mmap.len()
        )));
    }

    let len = mmap.len();
    let ptr = NonNull::new(mmap.as_ptr().cast_mut())
        .ok_or_else(|| spill_err("the memory map returned a null address".to_string()))?;
    let owner: Arc<Mmap> = Arc::new(mmap);
    // SAFETY: `ptr` is the start of the live map owned by `owner`, and the map
    // is valid for reads of `len` bytes (checked just above). The Buffer holds
    // `owner` (an `Arc`), so the map is unmapped only after the Buffer and
    // every slice of it are dropped. Arrow never writes through an immutable
    // `Buffer` (and `Buffer::into_mutable` refuses custom allocations), which
    // matters because the map is read-only. The bytes do not change while
    // mapped, for the reasons given on the `Mmap::map` call above.
    let buffer = unsafe { Buffer::from_custom_allocation(ptr, len, owner) };
    Ok(buffer)
}
