//! Writing record batches to a spill file.

use std::fmt;
use std::fs::{self, File};
use std::hash::Hasher;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::MetadataVersion;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_schema::{ArrowError, SchemaRef};
use parframe_common::{Error, Result};
use twox_hash::XxHash3_64;

use crate::dir::DirInner;
use crate::file::{SpillFile, Trailer};

/// Buffer between the IPC encoder and the file. Small, because grace
/// partitioning keeps many writers open at once and this memory is outside
/// the pool; column buffers larger than this go to the file directly.
const WRITE_BUFFER: usize = 64 * 1024;

/// Alignment of every IPC message and buffer in a spill file: 64 bytes, as
/// the Arrow spec recommends, so any type can be read in place from the map.
const ALIGNMENT: usize = 64;

/// Where the encoded bytes go: the spill file, or in tests a writer that
/// fails on purpose.
pub(crate) type Sink = Box<dyn Write + Send>;

/// Passes bytes on to the sink, hashing and counting the ones it accepted.
struct HashingWriter {
    sink: Sink,
    hasher: XxHash3_64,
    written: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.sink.write(buf)?;
        let accepted = buf.get(..n).unwrap_or(buf);
        self.hasher.write(accepted);
        self.written += accepted.len() as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// The state of a writer that has not finished or failed.
struct Open {
    ipc: FileWriter<BufWriter<HashingWriter>>,
    rows: u64,
    batches: u64,
}

/// Writes [`RecordBatch`]es of one schema to a new spill file: Arrow IPC file
/// format, uncompressed, 64-byte aligned, followed by an integrity trailer.
///
/// Made by [`SpillDir::new_file`](crate::SpillDir::new_file). Call
/// [`finish`](Self::finish) to get the [`SpillFile`]. A writer dropped
/// without `finish`, or one whose write failed, removes its file.
///
/// Not meant to be shared between threads; use one writer per thread (they
/// may all write into one [`SpillDir`](crate::SpillDir)).
pub struct SpillWriter {
    dir: Arc<DirInner>,
    path: PathBuf,
    schema: SchemaRef,
    /// `None` once finished, or after a failed write.
    open: Option<Open>,
}

impl fmt::Debug for SpillWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpillWriter")
            .field("path", &self.path)
            .field("rows", &self.rows())
            .field("batches", &self.num_batches())
            .field("failed", &self.open.is_none())
            .finish()
    }
}

impl SpillWriter {
    /// Creates the file at `path` (which must not exist yet) and writes the
    /// IPC header.
    pub(crate) fn create(dir: Arc<DirInner>, path: PathBuf, schema: SchemaRef) -> Result<Self> {
        // `create_new`: never reuse (or follow a symlink to) an existing file,
        // which is part of why mapping the file later is sound.
        // Mode 0600: spill data is the user's data (the directory is 0700
        // too, but a file should not rely on that).
        let mut options = File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|e| Error::Spill {
            message: format!("cannot create the spill file: {}", describe_io(&e)),
            path: path.clone(),
        })?;
        Self::with_sink(dir, path, schema, Box::new(file))
    }

    /// Like [`create`](Self::create), with the bytes going to `sink` instead
    /// of a file this function opens. `path` is still the file that is
    /// removed on failure and handed to the [`SpillFile`]; tests use this to
    /// inject write failures.
    pub(crate) fn with_sink(
        dir: Arc<DirInner>,
        path: PathBuf,
        schema: SchemaRef,
        sink: Sink,
    ) -> Result<Self> {
        let hashing = HashingWriter {
            sink,
            hasher: XxHash3_64::new(),
            written: 0,
        };
        let started =
            IpcWriteOptions::try_new(ALIGNMENT, false, MetadataVersion::V5).and_then(|options| {
                FileWriter::try_new_with_options(
                    BufWriter::with_capacity(WRITE_BUFFER, hashing),
                    &schema,
                    options,
                )
            });
        match started {
            Ok(ipc) => Ok(SpillWriter {
                dir,
                path,
                schema,
                open: Some(Open {
                    ipc,
                    rows: 0,
                    batches: 0,
                }),
            }),
            Err(e) => {
                let _ = fs::remove_file(&path);
                Err(write_failed(&path, &e))
            }
        }
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema every batch must have.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.open.as_ref().map_or(0, |o| o.rows)
    }

    /// Batches written so far.
    pub fn num_batches(&self) -> u64 {
        self.open.as_ref().map_or(0, |o| o.batches)
    }

    /// Bytes handed to the file so far (some may still sit in the write
    /// buffer until [`finish`](Self::finish)).
    pub fn bytes_written(&self) -> u64 {
        self.open
            .as_ref()
            .map_or(0, |o| o.ipc.get_ref().get_ref().written)
    }

    /// Appends a batch.
    ///
    /// Fails with [`Error::SchemaMismatch`] (the writer stays usable) when
    /// the batch's fields differ from the writer's schema, and with
    /// [`Error::Spill`] naming the file when writing fails (for example
    /// when the disk is full): then the partial file is removed and every
    /// later call fails.
    ///
    /// Dictionary-encoded columns must keep the same dictionary in every
    /// batch of one file (the IPC file format has no dictionary
    /// replacement); a batch with a different dictionary fails as above.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.check_schema(batch)?;
        let Some(open) = self.open.as_mut() else {
            return Err(self.already_failed());
        };
        let compacted = crate::views::compact_views(batch)?;
        match open.ipc.write(compacted.as_ref().unwrap_or(batch)) {
            Ok(()) => {
                open.rows += batch.num_rows() as u64;
                open.batches += 1;
                Ok(())
            }
            Err(e) => Err(self.fail(&e)),
        }
    }

    /// Writes the IPC footer and the integrity trailer, closes the file and
    /// returns it as a [`SpillFile`] that owns it.
    ///
    /// Fails like [`write`](Self::write), removing the file.
    pub fn finish(mut self) -> Result<SpillFile> {
        let Some(open) = self.open.take() else {
            return Err(self.already_failed());
        };
        let Open {
            mut ipc,
            rows,
            batches,
        } = open;
        let finished = ipc
            .finish()
            .and_then(|()| ipc.into_inner())
            .and_then(|buf| {
                buf.into_inner()
                    .map_err(|e| ArrowError::from(e.into_error()))
            });
        let mut hashing = match finished {
            Ok(h) => h,
            Err(e) => return Err(self.fail(&e)),
        };
        let trailer = Trailer {
            ipc_len: hashing.written,
            checksum: hashing.hasher.finish(),
        };
        let closed = hashing
            .sink
            .write_all(&trailer.to_bytes())
            .and_then(|()| hashing.sink.flush());
        if let Err(e) = closed {
            return Err(self.fail(&ArrowError::from(e)));
        }
        // Close the file before anyone maps it.
        drop(hashing);
        let path = std::mem::take(&mut self.path);
        Ok(SpillFile::new(
            Arc::clone(&self.dir),
            path,
            Arc::clone(&self.schema),
            rows,
            batches,
            trailer,
        ))
    }

    /// The batch must have the writer's column types; names may differ, and
    /// a nullable column may go into a non-nullable field if it holds no
    /// nulls. Batches read back carry the writer's schema.
    fn check_schema(&self, batch: &RecordBatch) -> Result<()> {
        let fields = self.schema.fields();
        let columns = batch.columns();
        let mismatch = |what: String| {
            Err(Error::SchemaMismatch(format!(
                "batch written to spill file '{}': {what}",
                self.path.display()
            )))
        };
        if columns.len() != fields.len() {
            return mismatch(format!(
                "it has {} columns but the file holds {}",
                columns.len(),
                fields.len()
            ));
        }
        for (field, column) in fields.iter().zip(columns) {
            if !field.data_type().equals_datatype(column.data_type()) {
                return mismatch(format!(
                    "column '{}' is {} but the file holds {}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                ));
            }
            if !field.is_nullable() && column.null_count() > 0 {
                return mismatch(format!(
                    "column '{}' has nulls but the file's field is not nullable",
                    field.name()
                ));
            }
        }
        Ok(())
    }

    fn already_failed(&self) -> Error {
        Error::Spill {
            path: self.path.clone(),
            message: "an earlier write to this spill file failed and it was removed".to_string(),
        }
    }

    /// Drops the writer state, removes the partial file and describes `e`.
    fn fail(&mut self, e: &ArrowError) -> Error {
        // Close the file before removing it (matters on Windows).
        drop(self.open.take());
        let _ = fs::remove_file(&self.path);
        write_failed(&self.path, e)
    }
}

impl Drop for SpillWriter {
    fn drop(&mut self) {
        // Unfinished (abandoned or failed): the file is useless. After
        // `finish` the path was moved to the SpillFile and is empty here.
        if let Some(open) = self.open.take() {
            drop(open);
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The error for a failed write to the spill file at `path`.
fn write_failed(path: &Path, e: &ArrowError) -> Error {
    let cause = match e {
        ArrowError::IoError(_, io) => describe_io(io),
        other => other.to_string(),
    };
    Error::Spill {
        path: path.to_path_buf(),
        message: format!("writing it failed: {cause}; the partial file was removed"),
    }
}

/// An I/O error, with advice when the disk is full.
fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => format!(
            "{e}: the disk (or quota) holding the spill directory is full; \
             free space there or choose another spill directory"
        ),
        io::ErrorKind::FileTooLarge => {
            format!("{e}: the file exceeds the file-size limit; lower the spill batch size")
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;
    use crate::SpillDir;

    fn batch(rows: usize) -> RecordBatch {
        let a: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows as i64));
        let s: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("row {i}")),
        ));
        RecordBatch::try_from_iter([("a", a), ("s", s)]).unwrap()
    }

    /// Accepts `budget` bytes, then fails like a full disk.
    struct FullAfter {
        file: File,
        budget: usize,
    }

    impl Write for FullAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::Error::from(io::ErrorKind::StorageFull));
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            self.file.write(&buf[..n])
        }

        fn flush(&mut self) -> io::Result<()> {
            self.file.flush()
        }
    }

    fn writer_full_after(dir: &SpillDir, budget: usize) -> Result<SpillWriter> {
        let path = dir.path().join("injected.arrow");
        let file = File::create_new(&path).unwrap();
        SpillWriter::with_sink(
            Arc::clone(dir.inner()),
            path,
            batch(0).schema(),
            Box::new(FullAfter { file, budget }),
        )
    }

    fn dir_is_empty(dir: &SpillDir) -> bool {
        fs::read_dir(dir.path()).unwrap().next().is_none()
    }

    #[test]
    fn disk_full_while_writing_removes_the_partial_file() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new_in(parent.path()).unwrap();
        let mut w = writer_full_after(&dir, 4096).unwrap();
        let path = w.path().to_path_buf();
        assert!(path.exists());
        // Large enough to pass the write buffer and hit the sink.
        let err = w.write(&batch(100_000)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Spill { .. }), "{err:?}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("disk (or quota)"), "{text}");
        assert!(text.contains("partial file was removed"), "{text}");
        assert!(!path.exists());
        // Later calls fail too, and nothing was counted.
        let again = w.write(&batch(1)).unwrap_err().to_string();
        assert!(again.contains("earlier write"), "{again}");
        assert!(w.finish().is_err());
        assert!(dir_is_empty(&dir));
        assert_eq!(dir.stats(), crate::SpillStats::default());
    }

    #[test]
    fn disk_full_at_finish_removes_the_partial_file() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new_in(parent.path()).unwrap();
        // Room for the header and the (buffered) small batch, not the rest.
        let mut w = writer_full_after(&dir, 700).unwrap();
        w.write(&batch(3)).unwrap();
        let err = w.finish().unwrap_err().to_string();
        assert!(err.contains("injected.arrow"), "{err}");
        assert!(err.contains("full"), "{err}");
        assert!(dir_is_empty(&dir));
    }

    #[test]
    fn disk_full_at_header_removes_the_file() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new_in(parent.path()).unwrap();
        // The header is buffered, so the failure shows when it is flushed:
        // with a zero budget, at the first write that passes the buffer.
        let mut w = writer_full_after(&dir, 0).unwrap();
        let err = w.write(&batch(100_000)).unwrap_err().to_string();
        assert!(err.contains("full"), "{err}");
        assert!(dir_is_empty(&dir));
    }

    /// The kernel's own ENOSPC, from /dev/full.
    #[cfg(target_os = "linux")]
    #[test]
    fn dev_full_gives_a_clear_error() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new_in(parent.path()).unwrap();
        let path = dir.path().join("devfull.arrow");
        File::create_new(&path).unwrap();
        let Ok(full) = File::options().write(true).open("/dev/full") else {
            eprintln!("no /dev/full; skipped");
            return;
        };
        let mut w = SpillWriter::with_sink(
            Arc::clone(dir.inner()),
            path,
            batch(0).schema(),
            Box::new(full),
        )
        .unwrap();
        let err = w.write(&batch(100_000)).unwrap_err().to_string();
        assert!(err.contains("No space left on device"), "{err}");
        assert!(err.contains("devfull.arrow"), "{err}");
        assert!(dir_is_empty(&dir));
    }

    #[test]
    fn dropping_an_unfinished_writer_removes_the_file() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new_in(parent.path()).unwrap();
        let mut w = dir.new_file("abandoned", batch(0).schema()).unwrap();
        w.write(&batch(10)).unwrap();
        let path = w.path().to_path_buf();
        assert!(path.exists());
        drop(w);
        assert!(!path.exists());
        assert_eq!(dir.stats().files, 0);
    }

    #[test]
    fn wrong_schema_is_refused_and_the_writer_stays_usable() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new_in(parent.path()).unwrap();
        let mut w = dir.new_file("t", batch(0).schema()).unwrap();
        let other = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .unwrap();
        let err = w.write(&other).unwrap_err();
        assert!(matches!(err, Error::SchemaMismatch(_)), "{err:?}");
        w.write(&batch(2)).unwrap();
        let f = w.finish().unwrap();
        assert_eq!(f.rows(), 2);
    }

    #[test]
    fn nullability_and_names_may_differ_types_may_not() {
        let parent = tempfile::tempdir().unwrap();
        let dir = SpillDir::new_in(parent.path()).unwrap();
        let nullable = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let strict = Arc::new(Schema::new(vec![Field::new("b", DataType::Int64, false)]));
        let no_nulls = RecordBatch::try_new(
            Arc::clone(&strict),
            vec![Arc::new(Int64Array::from(vec![1, 2]))],
        )
        .unwrap();
        let with_nulls = RecordBatch::try_new(
            Arc::clone(&nullable),
            vec![Arc::new(Int64Array::from(vec![Some(1), None]))],
        )
        .unwrap();

        let mut w = dir.new_file("nullable", Arc::clone(&nullable)).unwrap();
        w.write(&no_nulls).unwrap();
        w.write(&with_nulls).unwrap();
        let f = w.finish().unwrap();
        let read: Vec<_> = f.read().unwrap().map(Result::unwrap).collect();
        assert_eq!(
            read[0].schema(),
            nullable,
            "read back with the file's schema"
        );
        assert_eq!(read[1], with_nulls);

        let mut w = dir.new_file("strict", strict).unwrap();
        w.write(&no_nulls).unwrap();
        let err = w.write(&with_nulls).unwrap_err().to_string();
        assert!(err.contains("column 'b' has nulls"), "{err}");
        let strings =
            RecordBatch::try_from_iter([("b", Arc::new(StringArray::from(vec!["x"])) as ArrayRef)])
                .unwrap();
        let err = w.write(&strings).unwrap_err().to_string();
        assert!(
            err.contains("column 'b' is Utf8 but the file holds Int64"),
            "{err}"
        );
        assert_eq!(w.finish().unwrap().rows(), 2);
    }

    #[test]
    fn streamed_hash_equals_oneshot_hash() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut h = XxHash3_64::new();
        for chunk in data.chunks(777) {
            h.write(chunk);
        }
        assert_eq!(h.finish(), XxHash3_64::oneshot(&data));
    }
}
