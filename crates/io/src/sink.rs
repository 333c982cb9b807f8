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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{RecordBatch, RecordBatchWriter};
use arrow_schema::{ArrowError, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::ChunkSink;

use crate::input::Location;
use crate::util::{OutputFile, conform_to_sink};

/// Bytes buffered between an encoder and its file. The encoders write
/// whole pages or batches (Parquet also buffers 8 KiB of its own), so a
/// small buffer costs no syscalls worth counting, and a partitioned write
/// keeps one per open file: 128 KiB was 13 MB for 100 partitions.
const WRITE_BUFFER: usize = 32 << 10;

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
    file: BufWriter<Dest>,
    errors: ErrorSlot,
    /// Bytes taken so far, shared with the sink ([`ChunkSink::bytes_written`]).
    written: Arc<AtomicU64>,
}

/// Where a [`SinkOutput`]'s bytes go.
#[derive(Debug)]
enum Dest {
    /// The temporary file of an [`OutputFile`].
    File(File),
    /// An object upload (shared with the sink, which finishes it).
    #[cfg(feature = "object-store")]
    Remote(crate::object::SharedUpload),
}

impl Write for Dest {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Dest::File(f) => f.write(buf),
            #[cfg(feature = "object-store")]
            Dest::Remote(u) => {
                crate::object::lock(u).write(buf)?;
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Dest::File(f) => f.flush(),
            // Parts are sent as they fill; the rest when the sink finishes.
            #[cfg(feature = "object-store")]
            Dest::Remote(_) => Ok(()),
        }
    }
}

/// What a [`FileSink`] commits when it finishes: a temporary file renamed
/// onto the target, or an upload completed.
#[derive(Debug)]
enum Target {
    Local(OutputFile),
    #[cfg(feature = "object-store")]
    Remote(crate::object::SharedUpload),
}

impl Target {
    /// Starts the output for `path` (a path or a URL).
    fn create(path: &Path) -> Result<(Target, PathBuf, Dest)> {
        match Location::of(path)? {
            Location::Local(p) => {
                let (temp, file) = OutputFile::create(&p)?;
                Ok((Target::Local(temp), p, Dest::File(file)))
            }
            #[cfg(feature = "object-store")]
            Location::Url(u) => {
                let upload = Arc::new(Mutex::new(crate::object::Upload::create(&u)?));
                Ok((
                    Target::Remote(upload.clone()),
                    PathBuf::from(u),
                    Dest::Remote(upload),
                ))
            }
        }
    }

    fn commit(self) -> Result<()> {
        match self {
            Target::Local(temp) => temp.commit(),
            #[cfg(feature = "object-store")]
            Target::Remote(u) => crate::object::lock(&u).finish(),
        }
    }
}

/// The first I/O error of a [`SinkOutput`].
type ErrorSlot = Arc<Mutex<Option<std::io::Error>>>;

fn take_error(slot: &ErrorSlot) -> Option<std::io::Error> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

impl SinkOutput {
    fn new(file: Dest) -> (SinkOutput, ErrorSlot, Arc<AtomicU64>) {
        let errors = ErrorSlot::default();
        let written = Arc::new(AtomicU64::new(0));
        (
            SinkOutput {
                file: BufWriter::with_capacity(WRITE_BUFFER, file),
                errors: errors.clone(),
                written: written.clone(),
            },
            errors,
            written,
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
        if let Ok(n) = &r {
            self.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        self.record(r)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let r = self.file.write_all(buf);
        if r.is_ok() {
            self.written.fetch_add(buf.len() as u64, Ordering::Relaxed);
        }
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
///
/// A URL target (`s3://bucket/out.parquet`; see `object.rs`) is an
/// upload: one PUT for an object smaller than
/// [`UPLOAD_PART_BYTES`](crate::UPLOAD_PART_BYTES), else a multipart
/// upload of parts of that size, at most
/// [`UPLOAD_PARTS_IN_FLIGHT`](crate::UPLOAD_PARTS_IN_FLIGHT) in flight.
/// Either way the object appears whole when `finish` completes it; a sink
/// dropped unfinished aborts the upload.
pub struct FileSink<W: RecordBatchWriter + Send> {
    what: &'static str,
    schema: SchemaRef,
    target: PathBuf,
    /// The encoder (which owns the output), the output's error slot, then
    /// the temporary file or upload: dropped in that order (an upload is
    /// aborted when both the output and this are dropped unfinished).
    state: Option<(W, ErrorSlot, Target)>,
    /// Bytes the encoder has written to the output.
    written: Arc<AtomicU64>,
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
    /// Starts writing `path` (its directory must exist; or a URL:
    /// `s3://bucket/out.parquet`, written as an upload that completes when
    /// the sink finishes) with the encoder `make` builds over the output;
    /// `what` names the format in messages ("CSV", "Parquet").
    pub fn create(
        what: &'static str,
        path: &Path,
        schema: SchemaRef,
        make: impl FnOnce(SinkOutput) -> std::result::Result<W, ArrowError>,
    ) -> Result<FileSink<W>> {
        let (temp, target, dest) = Target::create(path)?;
        let (out, errors, written) = SinkOutput::new(dest);
        let writer = match make(out) {
            Ok(w) => w,
            Err(e) => return Err(map_err(&target, &errors, e)),
        };
        Ok(FileSink {
            what,
            schema,
            target,
            state: Some((writer, errors, temp)),
            written,
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

/// What an encoder holds before writing it out, for
/// [`ChunkSink::buffered_bytes`]. A new format's writer implements it
/// (the default, 0, is right for one that writes each batch through).
pub trait EncoderMemory {
    /// Bytes buffered in the encoder.
    fn encoder_bytes(&self) -> u64 {
        0
    }
    /// Writes the buffered data out.
    fn flush_encoder(&mut self) -> std::result::Result<(), arrow_schema::ArrowError> {
        Ok(())
    }
    /// Bytes the encoder has written, its own write buffer included, when
    /// it counts them (Parquet keeps 8 KiB of its own before the output
    /// sees them); `None`: the bytes the output has taken.
    fn encoded_bytes(&self) -> Option<u64> {
        None
    }
}

impl<W: RecordBatchWriter + Send + EncoderMemory> ChunkSink for FileSink<W> {
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

    fn buffered_bytes(&self) -> u64 {
        self.state.as_ref().map_or(0, |(w, _, _)| w.encoder_bytes())
    }

    fn bytes_written(&self) -> u64 {
        self.state
            .as_ref()
            .and_then(|(w, _, _)| w.encoded_bytes())
            .unwrap_or_else(|| self.written.load(Ordering::Relaxed))
    }

    fn flush_buffered(&mut self) -> Result<()> {
        let Some((writer, errors, _)) = self.state.as_mut() else {
            return Err(self.failed());
        };
        if let Err(e) = writer.flush_encoder() {
            let e = map_err(&self.target, errors, e);
            self.state = None;
            return Err(e);
        }
        Ok(())
    }
}
