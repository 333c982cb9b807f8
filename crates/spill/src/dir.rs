//! The per-process spill directory and its statistics.

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::iter::Sum;
use std::ops::{Add, AddAssign};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_schema::SchemaRef;
use parframe_common::{Error, Result};

use crate::writer::SpillWriter;

/// Every spill directory's name starts with this, followed by
/// `<pid>-<counter>`.
pub(crate) const DIR_PREFIX: &str = "parframe-spill-";

/// Beside each spill directory `D` lies its lock file `D.lock`, locked
/// (an advisory `flock`) for the life of the directory.
const LOCK_SUFFIX: &str = ".lock";

/// Suffixes for directories made by this process, so two [`SpillDir`]s of one
/// process never collide.
static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// How many files, bytes and rows: of one spill file, or summed over a
/// directory or an operator.
///
/// `bytes` counts whole files on disk (Arrow IPC data plus parframe's
/// 24-byte integrity trailer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SpillStats {
    /// Number of spill files.
    pub files: u64,
    /// Bytes in those files.
    pub bytes: u64,
    /// Rows in those files.
    pub rows: u64,
}

impl Add for SpillStats {
    type Output = SpillStats;

    fn add(self, rhs: SpillStats) -> SpillStats {
        SpillStats {
            files: self.files + rhs.files,
            bytes: self.bytes + rhs.bytes,
            rows: self.rows + rhs.rows,
        }
    }
}

impl AddAssign for SpillStats {
    fn add_assign(&mut self, rhs: SpillStats) {
        *self = *self + rhs;
    }
}

impl Sum for SpillStats {
    fn sum<I: Iterator<Item = SpillStats>>(iter: I) -> SpillStats {
        iter.fold(SpillStats::default(), Add::add)
    }
}

/// Three counters that move together.
#[derive(Default)]
struct StatCounters {
    files: AtomicU64,
    bytes: AtomicU64,
    rows: AtomicU64,
}

impl StatCounters {
    fn add(&self, s: SpillStats) {
        self.files.fetch_add(s.files, Ordering::Relaxed);
        self.bytes.fetch_add(s.bytes, Ordering::Relaxed);
        self.rows.fetch_add(s.rows, Ordering::Relaxed);
    }

    fn sub(&self, s: SpillStats) {
        self.files.fetch_sub(s.files, Ordering::Relaxed);
        self.bytes.fetch_sub(s.bytes, Ordering::Relaxed);
        self.rows.fetch_sub(s.rows, Ordering::Relaxed);
    }

    fn get(&self) -> SpillStats {
        SpillStats {
            files: self.files.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
        }
    }
}

/// The shared state of a spill directory. Writers and files hold an `Arc` of
/// it, so the directory outlives every file in it; it is removed when the
/// last of [`SpillDir`], [`SpillWriter`] and [`SpillFile`](crate::SpillFile)
/// drops.
pub(crate) struct DirInner {
    path: PathBuf,
    lock_path: PathBuf,
    /// Holds the directory's lock until the directory is removed (the OS
    /// releases it if the process dies).
    _lock: File,
    next_file: AtomicU64,
    written: StatCounters,
    live: StatCounters,
}

impl DirInner {
    /// Records a finished file.
    pub(crate) fn file_finished(&self, s: SpillStats) {
        self.written.add(s);
        self.live.add(s);
    }

    /// Records a finished file removed from disk.
    pub(crate) fn file_removed(&self, s: SpillStats) {
        self.live.sub(s);
    }
}

impl Drop for DirInner {
    fn drop(&mut self) {
        // Nothing to report to from a destructor; a leftover directory is
        // removed by the next process's stale-directory cleanup. The lock
        // file goes last, while still locked, so no cleaner sees the
        // directory unlocked before it is gone.
        let _ = fs::remove_dir_all(&self.path);
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// A private directory for one process's spill files, removed with
/// everything in it when dropped.
///
/// Named `parframe-spill-<pid>-<n>` inside a parent directory (the OS temp
/// directory by default), with a lock file `parframe-spill-<pid>-<n>.lock`
/// beside it that the process holds an advisory lock on (`flock`) for the
/// life of the directory. Creating one first removes the spill directories
/// that dead processes left behind ([`SpillDir::remove_stale_in`]): those
/// whose lock file nobody holds. The OS releases a lock when its process
/// dies, however it dies, so a directory is never taken for stale while its
/// process runs, even one in another PID namespace (a container sharing
/// `/tmp`), where process ids say nothing.
///
/// Cheap to clone: clones share the directory and its counters. Spill files
/// and writers keep the directory alive, so it is removed when the last
/// `SpillDir` clone, [`SpillWriter`] and [`SpillFile`](crate::SpillFile) of it
/// has dropped.
///
/// ```
/// use parframe_spill::SpillDir;
///
/// let parent = std::env::temp_dir();
/// let dir = SpillDir::new_in(&parent).unwrap();
/// let path = dir.path().to_path_buf();
/// assert!(path.is_dir());
/// drop(dir);
/// assert!(!path.exists());
/// ```
#[derive(Clone)]
pub struct SpillDir {
    inner: Arc<DirInner>,
}

impl fmt::Debug for SpillDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpillDir")
            .field("path", &self.inner.path)
            .field("written", &self.stats())
            .field("live", &self.live())
            .finish()
    }
}

impl SpillDir {
    /// A new spill directory in the OS temp directory
    /// ([`std::env::temp_dir`]).
    pub fn new() -> Result<Self> {
        Self::new_in(std::env::temp_dir())
    }

    /// A new spill directory inside `parent` (which must exist).
    ///
    /// First removes stale spill directories in `parent` (see
    /// [`remove_stale_in`](Self::remove_stale_in)). The new directory is
    /// private to the user (mode `0700` on Unix), its lock file `0600`.
    ///
    /// Fails with [`Error::Io`] naming the directory when it cannot be made.
    pub fn new_in(parent: impl AsRef<Path>) -> Result<Self> {
        let parent = parent.as_ref();
        Self::remove_stale_in(parent);
        let pid = std::process::id();
        // A name can be taken by another process with our pid (in another
        // PID namespace), or by a cleaner racing us: skip to the next.
        let mut last_err = None;
        for _ in 0..64 {
            let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
            let name = format!("{DIR_PREFIX}{pid}-{n}");
            let path = parent.join(&name);
            let lock_path = parent.join(format!("{name}{LOCK_SUFFIX}"));
            let lock = match take_lock(&lock_path) {
                Ok(Some(f)) => f,
                Ok(None) => continue,
                Err(e) => return Err(Error::io(lock_path, e)),
            };
            match create_private_dir(&path) {
                Ok(()) => {
                    return Ok(SpillDir {
                        inner: Arc::new(DirInner {
                            path,
                            lock_path,
                            _lock: lock,
                            next_file: AtomicU64::new(0),
                            written: StatCounters::default(),
                            live: StatCounters::default(),
                        }),
                    });
                }
                Err(e) => {
                    let _ = fs::remove_file(&lock_path);
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        last_err = Some((path, e));
                    } else {
                        return Err(Error::io(path, e));
                    }
                }
            }
        }
        let (path, e) = last_err.unwrap_or_else(|| {
            (
                parent.to_path_buf(),
                io::Error::other("no free spill directory name"),
            )
        });
        Err(Error::io(path, e))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Removes the directory, everything in it and its lock file at once,
    /// whoever still holds it: for a signal handler about to end the
    /// process, where destructors do not run. Best effort.
    pub fn remove_now(&self) {
        let _ = fs::remove_dir_all(&self.inner.path);
        let _ = fs::remove_file(&self.inner.lock_path);
    }

    /// Removes the spill directories in `parent` that their processes left
    /// behind: each `parframe-spill-*` directory whose lock file
    /// (`<name>.lock`) can be locked, so no live process holds it. A
    /// directory without a lock file (being made, or made by an older
    /// version) is left alone. Returns how many were removed.
    ///
    /// Best effort: errors (a directory we may not remove, a race with
    /// another process cleaning up) are ignored. [`new_in`](Self::new_in)
    /// calls it; call it at start-up to clean up even when nothing spills.
    pub fn remove_stale_in(parent: impl AsRef<Path>) -> usize {
        let parent = parent.as_ref();
        let Ok(entries) = fs::read_dir(parent) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(dir_name) = name
                .to_str()
                .and_then(|n| n.strip_suffix(LOCK_SUFFIX))
                .filter(|n| pid_of_dir_name(n).is_some())
            else {
                continue;
            };
            // `file_type` does not follow symlinks: only plain lock files.
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let Ok(lock) = File::open(entry.path()) else {
                continue;
            };
            if lock.try_lock().is_err() {
                continue; // Held: its process is alive.
            }
            let dir = parent.join(dir_name);
            if fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                if fs::remove_dir_all(&dir).is_err() {
                    continue;
                }
                removed += 1;
            }
            let _ = fs::remove_file(entry.path());
        }
        removed
    }

    /// Starts a new spill file for batches of `schema`. `purpose` (an
    /// operator name such as `"sort run"`) goes into the file name, to make
    /// a directory listing readable.
    ///
    /// Fails with [`Error::Spill`] naming the file when it cannot be created
    /// or its IPC header cannot be written.
    pub fn new_file(&self, purpose: &str, schema: SchemaRef) -> Result<SpillWriter> {
        let n = self.inner.next_file.fetch_add(1, Ordering::Relaxed);
        let path = self
            .inner
            .path
            .join(format!("{n:06}-{}.arrow", sanitize(purpose)));
        SpillWriter::create(Arc::clone(&self.inner), path, schema)
    }

    /// Totals over every spill file finished in this directory since it was
    /// made, including files since removed: files created, bytes written,
    /// rows written. Files whose writing failed or was abandoned are not
    /// counted.
    pub fn stats(&self) -> SpillStats {
        self.inner.written.get()
    }

    /// Totals over the finished spill files currently on disk (files live).
    pub fn live(&self) -> SpillStats {
        self.inner.live.get()
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &Arc<DirInner> {
        &self.inner
    }
}

/// Keeps `[A-Za-z0-9_-]`, replaces the rest with `_`, at most 40 characters.
fn sanitize(purpose: &str) -> String {
    let s: String = purpose
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "spill".to_string() } else { s }
}

/// Creates the lock file `path` (which must not exist) and locks it.
/// `None`: the name is taken, or a cleaner removed the file before we
/// locked it (the lock is only good on the file at `path`).
fn take_lock(path: &Path) -> io::Result<Option<File>> {
    let mut options = File::options();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(e),
    };
    if file.try_lock().is_err() {
        return Ok(None);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ours = file.metadata()?;
        match fs::symlink_metadata(path) {
            Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => {}
            _ => return Ok(None),
        }
    }
    Ok(Some(file))
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// The pid in a spill directory's name, `parframe-spill-<pid>-<n>`.
pub(crate) fn pid_of_dir_name(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(DIR_PREFIX)?;
    let (pid, suffix) = rest.split_once('-')?;
    if suffix.is_empty() {
        return None;
    }
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names_parse() {
        assert_eq!(pid_of_dir_name("parframe-spill-42-0"), Some(42));
        assert_eq!(pid_of_dir_name("parframe-spill-42-"), None);
        assert_eq!(pid_of_dir_name("parframe-spill-x-1"), None);
        assert_eq!(pid_of_dir_name("parframe-spill-42"), None);
        assert_eq!(pid_of_dir_name("other-42-1"), None);
    }

    #[test]
    fn purposes_are_sanitized() {
        assert_eq!(sanitize("sort run"), "sort_run");
        assert_eq!(sanitize("../../etc"), "______etc");
        assert_eq!(sanitize(""), "spill");
        assert_eq!(sanitize(&"a".repeat(100)).len(), 40);
    }

    #[test]
    fn stats_add_up() {
        let a = SpillStats {
            files: 1,
            bytes: 10,
            rows: 3,
        };
        let total: SpillStats = [a, a, a].into_iter().sum();
        assert_eq!(
            total,
            SpillStats {
                files: 3,
                bytes: 30,
                rows: 9
            }
        );
    }

    #[test]
    fn two_dirs_of_one_process_differ() {
        let parent = tempfile::tempdir().unwrap();
        let a = SpillDir::new_in(parent.path()).unwrap();
        let b = SpillDir::new_in(parent.path()).unwrap();
        assert_ne!(a.path(), b.path());
        let (pa, pb) = (a.path().to_path_buf(), b.path().to_path_buf());
        drop(a);
        assert!(!pa.exists());
        assert!(pb.exists());
    }

    #[cfg(unix)]
    #[test]
    fn dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let d = SpillDir::new_in(parent.path()).unwrap();
        let mode = fs::metadata(d.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let schema = std::sync::Arc::new(arrow_schema::Schema::empty());
        let w = d.new_file("t", schema).unwrap();
        let f = w.finish().unwrap();
        let mode = fs::metadata(f.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "spill file mode {mode:o}");
    }

    #[test]
    fn missing_parent_is_an_io_error_naming_it() {
        let parent = tempfile::tempdir().unwrap();
        let missing = parent.path().join("nope");
        let err = SpillDir::new_in(&missing).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
