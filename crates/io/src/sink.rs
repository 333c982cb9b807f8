//! [`FileSink`]: the one file sink, generic over the encoder (any arrow
//! [`RecordBatchWriter`]: parquet's `ArrowWriter`, arrow-ipc's
//! `FileWriter`, arrow-json's `LineDelimitedWriter`, parframe's
//! [`CsvWriter`](crate::CsvWriter)). The temporary-file-then-rename
//! discipline, the "failed earlier" state and the mapping of errors to
//! [`Error`]s naming the file live here once.
//!
//! How to add a file format's sink: write (or find) a `RecordBatchWriter`
//! over any `Write`, add `pub type XSink = FileSink<XWriter<SinkOutput>>`
//! with a `try_new(path, schema, options)` that calls [`FileSink::create`],
//! and register the format in `format.rs` (see [`FileFormat`](crate::FileFormat)).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{RecordBatch, RecordBatchWriter};
use arrow_schema::{ArrowError, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::ChunkSink;

use crate::util::{OutputFile, conform_to_sink};

/// Bytes buffered between an encoder and its file.
const WRITE_BUFFER: usize = 1 << 17;

/// The file an encoder of a [`FileSink`] writes to: a buffered temporary
/// file (see [`OutputFile`]). Its I/O errors are also kept in a slot the
/// sink shares, and it flushes its buffer when dropped (when the encoder is
/// closed) into that slot too: a `BufWriter` dropped by an encoder would
/// ignore the error of that last flush, and a full disk would leave a
/// truncated file renamed onto the target. An encoder's error that wraps
/// an I/O error as text (parquet's) is so reported as the I/O error it was.
/// No lock on the write path: the slot is touched only on errors.
#[derive(Debug)]
pub struct SinkOutput {
    file: BufWriter<File>,
    errors: ErrorSlot,
}

/// The first I/O error of a [`SinkOutput`].
type ErrorSlot = Arc<Mutex<Option<std::io::Error>>>;

fn take_error(slot: &ErrorSlot) -> Option<std::io::Error> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

impl SinkOutput {
    fn new(file: File) -> (SinkOutput, ErrorSlot) {
        let errors = ErrorSlot::default();
        (
            SinkOutput {
                file: BufWriter::with_capacity(WRITE_BUFFER, file),
                errors: errors.clone(),
            },
            errors,
        )
    }

    fn record<T>(&self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r {
            let mut slot = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                *slot = Some(std::io::Error::new(e.kind(), e.to_string()));
            }
        }
        r
    }
}

impl Write for SinkOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.file.write(buf);
        self.record(r)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let r = self.file.write_all(buf);
        self.record(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.file.flush();
        self.record(r)
    }
}

impl Drop for SinkOutput {
    fn drop(&mut self) {
        let r = self.file.flush();
        let _ = self.record(r);
    }
}

/// Writes chunks to one file through the encoder `W`.
///
/// The data goes to a fresh temporary file in the target's directory (a
/// unique name, created exclusively: see [`OutputFile`]), renamed onto the
/// target by [`ChunkSink::finish`] once the encoder is closed and the file
/// flushed; on an error, or when the sink is dropped without `finish`, the
/// temporary file is removed: a failed job never leaves a partial file at
/// the target path (and an existing target stays as it was). A target that
/// is not a regular file (a device, a FIFO, `/dev/stdout`) is written
/// directly. After an error every further call fails.
pub struct FileSink<W: RecordBatchWriter + Send> {
    what: &'static str,
    schema: SchemaRef,
    target: PathBuf,
    /// The encoder (which owns the output), the output's error slot, then
    /// the temporary file: dropped in that order.
    state: Option<(W, ErrorSlot, OutputFile)>,
}

impl<W: RecordBatchWriter + Send> std::fmt::Debug for FileSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("format", &self.what)
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish()
    }
}

impl<W: RecordBatchWriter + Send> FileSink<W> {
    /// Starts writing `path` (its directory must exist) with the encoder
    /// `make` builds over the output; `what` names the format in messages
    /// ("CSV", "Parquet").
    pub fn create(
        what: &'static str,
        path: &Path,
        schema: SchemaRef,
        make: impl FnOnce(SinkOutput) -> std::result::Result<W, ArrowError>,
    ) -> Result<FileSink<W>> {
        let target = path.to_path_buf();
        let (temp, file) = OutputFile::create(&target)?;
        let (out, errors) = SinkOutput::new(file);
        let writer = match make(out) {
            Ok(w) => w,
            Err(e) => return Err(map_err(&target, &errors, e)),
        };
        Ok(FileSink {
            what,
            schema,
            target,
            state: Some((writer, errors, temp)),
        })
    }

    /// The file being written.
    pub fn target(&self) -> &Path {
        &self.target
    }

    fn failed(&self) -> Error {
        Error::InvalidArgument(format!(
            "the {} sink for '{}' failed earlier; nothing more can be written",
            self.what,
            self.target.display()
        ))
    }
}

/// An encoder's error on `target` as an [`Error`]: the I/O error under it
/// when the output saw one, else a format error naming the file.
fn map_err(target: &Path, errors: &ErrorSlot, e: ArrowError) -> Error {
    if let Some(io) = take_error(errors) {
        return Error::io(target, io);
    }
    match e {
        ArrowError::IoError(_, source) => Error::io(target, source),
        other => Error::format(target, None, other.to_string()),
    }
}

impl<W: RecordBatchWriter + Send> ChunkSink for FileSink<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let batch = conform_to_sink(batch, &self.schema, &self.target)?;
        let Some((writer, errors, _)) = self.state.as_mut() else {
            return Err(self.failed());
        };
        if let Err(e) = writer.write(&batch) {
            let e = map_err(&self.target, errors, e);
            self.state = None;
            return Err(e);
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let Some((writer, errors, temp)) = self.state.take() else {
            return Err(self.failed());
        };
        // Closing drops the output, which flushes its buffer.
        writer
            .close()
            .map_err(|e| map_err(&self.target, &errors, e))?;
        if let Some(e) = take_error(&errors) {
            return Err(Error::io(&self.target, e));
        }
        temp.commit()
    }
}
