//! Helpers shared by the sources and sinks: argument checks, schema
//! comparison, and the temporary-file-then-rename discipline of the sinks.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{Array, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow_schema::{Schema, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::expr::PreparedExpr;

/// Runs a third-party decoder (arrow-ipc, parquet) over bytes of `path`,
/// turning a panic into [`Error::Format`] naming the file and `location`.
/// Those decoders return errors for most corruptions but assert on a few
/// (buffer alignment in arrow's validation, negative ranges in a Parquet
/// footer; the reader fuzz tests, `tests/it/fuzz.rs`, found them): a
/// corrupt file must be an error, never a crash. The readers check what
/// they can before decoding; this is the backstop. Silent, like
/// [`parframe_core::row::catch_user_panic`] which it uses: the message goes
/// into the error, not to stderr.
pub(crate) fn guard_decoder<T>(
    path: &Path,
    location: Option<String>,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match parframe_core::row::catch_user_panic(f) {
        Ok(r) => r,
        Err(payload) => Err(Error::format(
            path,
            location,
            format!(
                "corrupt file: the decoder failed ({})",
                parframe_common::panic_message(&*payload)
            ),
        )),
    }
}

/// Checks the arguments of `ChunkSource::read_partition` and returns the
/// schema of the chunks it will produce.
pub(crate) fn check_read_args(
    what: &str,
    schema: &SchemaRef,
    index: usize,
    partition_count: usize,
    projection: Option<&[usize]>,
    chunk_rows: usize,
) -> Result<SchemaRef> {
    if index >= partition_count {
        return Err(Error::InvalidArgument(format!(
            "{what} has {partition_count} partitions; partition {index} does not exist"
        )));
    }
    if chunk_rows == 0 {
        return Err(Error::InvalidArgument("chunk_rows must be > 0".into()));
    }
    projected_schema(what, schema, projection)
}

/// The schema of `schema` restricted to `projection` (in that order).
pub(crate) fn projected_schema(
    what: &str,
    schema: &SchemaRef,
    projection: Option<&[usize]>,
) -> Result<SchemaRef> {
    match projection {
        None => Ok(schema.clone()),
        Some(p) => {
            let n = schema.fields().len();
            if let Some(bad) = p.iter().find(|&&i| i >= n) {
                return Err(Error::InvalidArgument(format!(
                    "{what} has {n} columns {}; projection index {bad} is out of range",
                    describe_schema(schema)
                )));
            }
            Ok(Arc::new(schema.project(p)?))
        }
    }
}

/// Same column names and types (nullability and metadata may differ).
pub(crate) fn same_fields(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields().iter())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

/// `(a: Int64, b: Utf8)`: a schema in one line for messages.
pub(crate) fn describe_schema(s: &Schema) -> String {
    let cols: Vec<String> = s
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    format!("({})", cols.join(", "))
}

/// `batch` relabelled with `schema`, which must have the same column names
/// and types; keeps the row count even without columns.
pub(crate) fn with_schema(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if Arc::ptr_eq(batch.schema_ref(), schema) {
        return Ok(batch);
    }
    let rows = batch.num_rows();
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        batch.columns().to_vec(),
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

/// Checks that a chunk given to a sink has the sink's columns, and relabels
/// it with the sink's schema.
pub(crate) fn conform_to_sink(
    batch: &RecordBatch,
    schema: &SchemaRef,
    target: &Path,
) -> Result<RecordBatch> {
    if !same_fields(batch.schema_ref(), schema) {
        return Err(Error::SchemaMismatch(format!(
            "cannot write a chunk with schema {} to '{}', opened for schema {}",
            describe_schema(batch.schema_ref()),
            target.display(),
            describe_schema(schema)
        )));
    }
    with_schema(batch.clone(), schema)
}

/// Refuses a path that is not a regular file (a FIFO, a device such as
/// `/dev/zero`, a socket, or a symlink to one), before opening it: opening
/// a FIFO blocks until a writer comes, and the sources read a file more
/// than once (schema inference, then partitions; Parquet and IPC seek to
/// their footers), which a stream cannot do. A missing file is left to
/// the open that follows, which names it.
pub(crate) fn check_regular_file(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::InvalidArgument(format!(
            "'{}' is a directory, not a file to read",
            path.display()
        ))),
        Ok(m) if !m.is_file() => Err(Error::NotSupported(format!(
            "reading '{}': it is not a regular file (a FIFO, device or socket); \
             parframe reads its inputs more than once (schema inference, then partitions \
             in parallel), so copy a stream to a file first",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// The rows of `batch` that every one of `filters` keeps: true, not false
/// or null.
pub(crate) fn keep_mask(filters: &[PreparedExpr], batch: &RecordBatch) -> Result<BooleanArray> {
    let mut keep: Option<BooleanArray> = None;
    for f in filters {
        let a = f.evaluate(batch)?;
        let b = a
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| Error::type_mismatch("filter", "predicate is not Boolean"))?;
        let b = if b.null_count() > 0 {
            arrow_select::filter::prep_null_mask_filter(b)
        } else {
            b.clone()
        };
        keep = Some(match keep {
            None => b,
            Some(k) => arrow_arith::boolean::and(&k, &b)?,
        });
    }
    Ok(keep.unwrap_or_else(|| BooleanArray::from(vec![true; batch.num_rows()])))
}

/// Splits `batch` into zero-copy slices of at most `chunk_rows` rows.
pub(crate) fn split_batch(batch: RecordBatch, chunk_rows: usize) -> Vec<RecordBatch> {
    let n = batch.num_rows();
    if n <= chunk_rows {
        return vec![batch];
    }
    (0..n)
        .step_by(chunk_rows.max(1))
        .map(|off| batch.slice(off, chunk_rows.min(n - off)))
        .collect()
}

/// A sink's output file while it is being written: the data goes to a
/// fresh temporary file beside the target (`.<name>.<random>.parframe-tmp`,
/// created exclusively by `tempfile`: a unique name, `O_EXCL`, so neither a
/// concurrent job nor a planted symlink can be written through), which
/// [`OutputFile::commit`] renames onto the target. Dropped without a
/// commit, it removes the temporary file, so the target never holds a
/// partial file.
///
/// A target that exists and is not a regular file (a device, a FIFO, a
/// socket; `/dev/stdout`, a symlink to one, is followed) is opened and
/// written in place: renaming a file onto `/dev/null` would replace the
/// device.
///
/// The temporaries of every output file not yet committed are listed in
/// the process, so that a signal handler about to exit (where destructors
/// do not run) can remove them: [`remove_unfinished_outputs`].
///
/// ```
/// use std::io::Write;
/// use parframe_io::OutputFile;
///
/// let dir = tempfile::tempdir()?;
/// let target = dir.path().join("out.txt");
/// let (out, mut file) = OutputFile::create(&target)?;
/// file.write_all(b"done\n")?;
/// drop(file);
/// assert!(!target.exists());
/// out.commit()?;
/// assert_eq!(std::fs::read(&target)?, b"done\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OutputFile {
    /// `None`: the target is written directly.
    tmp: Option<tempfile::TempPath>,
    target: PathBuf,
}

/// Temporaries of the output files not yet committed or dropped.
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn unfinished() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    UNFINISHED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes the temporary files of every [`OutputFile`] (every sink) not
/// yet committed: for a signal handler about to end the process, where
/// destructors do not run. Outputs committed already stay.
pub fn remove_unfinished_outputs() {
    for p in unfinished().drain(..) {
        // Temporary directories of partitioned writes, and files.
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            let _ = std::fs::remove_dir_all(p);
        } else {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl OutputFile {
    /// Creates the temporary file for `target` (or opens `target` itself
    /// when it is not a regular file); write to the returned file, then
    /// [`commit`](Self::commit).
    pub fn create(target: &Path) -> Result<(OutputFile, File)> {
        let Some(name) = target.file_name() else {
            return Err(Error::InvalidArgument(format!(
                "'{}' does not name a file to write",
                target.display()
            )));
        };
        if let Ok(meta) = std::fs::metadata(target)
            && !meta.is_file()
        {
            if meta.is_dir() {
                return Err(Error::InvalidArgument(format!(
                    "'{}' is a directory, not a file to write",
                    target.display()
                )));
            }
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(target)
                .map_err(|e| Error::io(target, e))?;
            return Ok((
                OutputFile {
                    tmp: None,
                    target: target.to_path_buf(),
                },
                file,
            ));
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut prefix = OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".parframe-tmp");
        #[cfg(unix)]
        {
            // As `File::create` would: the umask decides (tempfile's own
            // default, 0600, would make every output private).
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let mut list = unfinished();
        let tmp = builder.tempfile_in(dir).map_err(|e| Error::io(target, e))?;
        let (file, path) = tmp.into_parts();
        list.push(path.to_path_buf());
        drop(list);
        Ok((
            OutputFile {
                tmp: Some(path),
                target: target.to_path_buf(),
            },
            file,
        ))
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the temporary file onto the target (atomically on POSIX file
    /// systems; an existing target is replaced).
    pub fn commit(mut self) -> Result<()> {
        if let Some(tmp) = self.tmp.take() {
            // Under the list's lock: a signal handler removes the
            // temporary either before (and the rename fails) or not at all.
            let mut list = unfinished();
            list.retain(|p| p.as_path() != &*tmp);
            tmp.persist(&self.target)
                .map_err(|e| Error::io(&self.target, e.error))?;
        }
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Some(tmp) = &self.tmp {
            // The `TempPath` removes the file itself.
            unfinished().retain(|p| p.as_path() != &**tmp);
        }
    }
}

/// The directory of a partitioned write while it is being written: a
/// fresh temporary directory beside the target
/// (`.<name>.<random>.parframe-tmp`, created by `tempfile`), which
/// [`OutputDir::commit`] renames onto the target, so readers never see a
/// half-written dataset. Dropped without a commit, it is removed with
/// everything in it; [`remove_unfinished_outputs`] removes it too.
///
/// A URL target (`s3://bucket/ds`) has no rename: each file is an upload
/// that appears whole when it is finished, so a reader listing the prefix
/// during the write sees the finished files; dropped without a commit (a
/// failed job), the files this write finished are deleted. With
/// `overwrite`, the objects that were under the prefix before and that
/// the write did not replace are deleted by the commit.
#[derive(Debug)]
pub(crate) struct OutputDir {
    kind: DirKind,
    target: PathBuf,
}

#[derive(Debug)]
enum DirKind {
    Local(Option<tempfile::TempDir>),
    #[cfg(feature = "object-store")]
    Remote {
        /// Objects under the prefix before the write (kept unless
        /// `overwrite`, else deleted by the commit).
        existing: Vec<String>,
        /// Objects this write finished.
        written: Vec<String>,
        committed: bool,
    },
}

impl OutputDir {
    /// Creates the temporary directory for `target`. A target that is a
    /// file, or a non-empty directory unless `overwrite`, is an error
    /// naming it; its parent must exist.
    pub(crate) fn create(target: &Path, overwrite: bool) -> Result<OutputDir> {
        #[cfg(feature = "object-store")]
        let target = match crate::input::Location::of(target)? {
            crate::input::Location::Local(p) => p,
            crate::input::Location::Url(u) => return OutputDir::create_remote(&u, overwrite),
        };
        // Without object storage every location is local: a plain `let`
        // (clippy rejects a one-arm match).
        #[cfg(not(feature = "object-store"))]
        let crate::input::Location::Local(target) = crate::input::Location::of(target)?;
        let target = target.as_path();
        let Some(name) = target.file_name() else {
            return Err(Error::InvalidArgument(format!(
                "'{}' does not name a directory to write",
                target.display()
            )));
        };
        match std::fs::metadata(target) {
            Ok(m) if !m.is_dir() => {
                return Err(Error::InvalidArgument(format!(
                    "'{}' is a file; a partitioned write needs a directory",
                    target.display()
                )));
            }
            Ok(_) if !overwrite => {
                let mut entries = std::fs::read_dir(target).map_err(|e| Error::io(target, e))?;
                if entries.next().is_some() {
                    return Err(not_empty(target));
                }
            }
            _ => {}
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut prefix = OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let mut list = unfinished();
        let tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".parframe-tmp")
            .tempdir_in(dir)
            .map_err(|e| Error::io(target, e))?;
        list.push(tmp.path().to_path_buf());
        Ok(OutputDir {
            kind: DirKind::Local(Some(tmp)),
            target: target.to_path_buf(),
        })
    }

    #[cfg(feature = "object-store")]
    fn create_remote(url: &str, overwrite: bool) -> Result<OutputDir> {
        let root = url.trim_end_matches('/');
        if crate::object::exists(root)? {
            return Err(Error::InvalidArgument(format!(
                "'{root}' is an object; a partitioned write needs a prefix with no object at it"
            )));
        }
        let existing: Vec<String> = crate::object::list(root)?
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        if !existing.is_empty() && !overwrite {
            return Err(not_empty(Path::new(root)));
        }
        Ok(OutputDir {
            kind: DirKind::Remote {
                existing,
                written: Vec::new(),
                committed: false,
            },
            target: PathBuf::from(root),
        })
    }

    /// The directory to write into (for a URL, the prefix itself).
    pub(crate) fn path(&self) -> &Path {
        match &self.kind {
            DirKind::Local(Some(t)) => t.path(),
            _ => &self.target,
        }
    }

    /// Whether files go to a local directory (which must be created).
    pub(crate) fn is_local(&self) -> bool {
        matches!(self.kind, DirKind::Local(_))
    }

    /// Records a file this write finished (for a URL target: deleted if
    /// the write fails).
    pub(crate) fn finished_file(&mut self, _file: &Path) {
        #[cfg(feature = "object-store")]
        if let DirKind::Remote { written, .. } = &mut self.kind {
            written.push(_file.to_string_lossy().into_owned());
        }
    }

    /// Moves the temporary directory onto the target. An existing target
    /// (empty, or any with `overwrite`) is first renamed aside and removed
    /// after the new one is in place.
    pub(crate) fn commit(mut self) -> Result<()> {
        let tmp = match &mut self.kind {
            DirKind::Local(tmp) => tmp.take(),
            #[cfg(feature = "object-store")]
            DirKind::Remote {
                existing,
                written,
                committed,
            } => {
                *committed = true;
                let new: std::collections::HashSet<&String> = written.iter().collect();
                for old in existing.iter().filter(|u| !new.contains(u)) {
                    crate::object::delete(old)?;
                }
                return Ok(());
            }
        };
        let Some(tmp) = tmp else {
            return Ok(());
        };
        let mut list = unfinished();
        list.retain(|p| p.as_path() != tmp.path());
        let tmp = tmp.keep();
        let mut old: Option<PathBuf> = None;
        if std::fs::symlink_metadata(&self.target).is_ok() {
            let mut aside = tmp.clone().into_os_string();
            aside.push(".old");
            let aside = PathBuf::from(aside);
            if let Err(e) = std::fs::rename(&self.target, &aside) {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(Error::io(&self.target, e));
            }
            old = Some(aside);
        }
        if let Err(e) = std::fs::rename(&tmp, &self.target) {
            // Put the old dataset back.
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &self.target);
            }
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(Error::io(&self.target, e));
        }
        drop(list);
        if let Some(old) = old {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        Ok(())
    }
}

fn not_empty(target: &Path) -> Error {
    Error::io(
        target,
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the directory exists and is not empty (pass overwrite to replace it)",
        ),
    )
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        match &self.kind {
            DirKind::Local(Some(tmp)) => {
                // The `TempDir` removes the directory itself.
                unfinished().retain(|p| p.as_path() != tmp.path());
            }
            DirKind::Local(None) => {}
            #[cfg(feature = "object-store")]
            DirKind::Remote {
                written, committed, ..
            } => {
                if !committed {
                    // Best effort: the job failed already.
                    for u in written {
                        let _ = crate::object::delete(u);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use arrow_array::Int32Array;
    use std::io::Write;

    #[test]
    fn temp_target_removed_unless_committed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let (t, mut f) = OutputFile::create(&target).unwrap();
        f.write_all(b"x").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(f);
        drop(t);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let (t, mut f) = OutputFile::create(&target).unwrap();
        f.write_all(b"y").unwrap();
        drop(f);
        t.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"y");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn special_files_refused_before_opening() {
        let e = check_regular_file(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("zero.csv");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(check_regular_file(&link).is_err());
        assert!(check_regular_file(dir.path()).is_err());
        assert!(check_regular_file(&dir.path().join("missing.csv")).is_ok());
    }

    /// Two writers of one target get different temporaries; the second
    /// does not truncate the first's.
    #[test]
    fn concurrent_writers_do_not_share_a_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let (t1, mut f1) = OutputFile::create(&target).unwrap();
        let (t2, mut f2) = OutputFile::create(&target).unwrap();
        f1.write_all(b"first run\n").unwrap();
        f2.write_all(b"2\n").unwrap();
        drop((f1, f2));
        t2.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"2\n");
        t1.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"first run\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A symlink planted at the old fixed temporary name is not followed.
    #[cfg(unix)]
    #[test]
    fn planted_symlink_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let target = dir.path().join("out.csv");
        std::os::unix::fs::symlink(&victim, dir.path().join(".out.csv.parframe-tmp")).unwrap();
        let (t, mut f) = OutputFile::create(&target).unwrap();
        f.write_all(b"data").unwrap();
        drop(f);
        t.commit().unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&target).unwrap(), b"data");
    }

    /// A device is written in place, not replaced by a regular file.
    #[cfg(unix)]
    #[test]
    fn device_target_written_directly() {
        use std::os::unix::fs::FileTypeExt;
        let dev = Path::new("/dev/null");
        let (t, mut f) = OutputFile::create(dev).unwrap();
        f.write_all(b"gone").unwrap();
        drop(f);
        t.commit().unwrap();
        assert!(std::fs::metadata(dev).unwrap().file_type().is_char_device());
    }

    #[cfg(unix)]
    #[test]
    fn temporaries_follow_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let (t, f) = OutputFile::create(&target).unwrap();
        drop(f);
        t.commit().unwrap();
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&target), mode(&plain));
    }

    #[test]
    fn unfinished_outputs_removed_on_request() {
        let _serial = unfinished_tests();
        let dir = tempfile::tempdir().unwrap();
        let done = dir.path().join("done.csv");
        let (t, f) = OutputFile::create(&done).unwrap();
        drop(f);
        t.commit().unwrap();
        let (t2, mut f2) = OutputFile::create(&dir.path().join("partial.csv")).unwrap();
        f2.write_all(b"half").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        remove_unfinished_outputs();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("done.csv")]);
        drop((t2, f2));
    }

    /// Tests that look at the process-wide list take turns.
    fn unfinished_tests() -> std::sync::MutexGuard<'static, ()> {
        static SERIAL: Mutex<()> = Mutex::new(());
        SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[test]
    fn split_batch_slices() {
        let b = RecordBatch::try_from_iter([(
            "a",
            Arc::new(Int32Array::from((0..10).collect::<Vec<_>>())) as _,
        )])
        .unwrap();
        let sizes: Vec<usize> = split_batch(b.clone(), 4)
            .iter()
            .map(|b| b.num_rows())
            .collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        assert_eq!(split_batch(b, 10).len(), 1);
    }

    #[test]
    fn projection_checked() {
        let s = Arc::new(Schema::new(vec![arrow_schema::Field::new(
            "a",
            arrow_schema::DataType::Int32,
            true,
        )]));
        let e = check_read_args("x", &s, 0, 1, Some(&[3]), 10).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        assert!(check_read_args("x", &s, 1, 1, None, 10).is_err());
        assert!(check_read_args("x", &s, 0, 1, None, 0).is_err());
        assert_eq!(
            check_read_args("x", &s, 0, 1, Some(&[]), 10)
                .unwrap()
                .fields()
                .len(),
            0
        );
    }
}
