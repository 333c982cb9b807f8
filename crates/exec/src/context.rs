//! [`Context`]: the thread pool, memory budget and settings of a job.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use parframe_common::{ByteSize, Error, Result, format_bytes};
use parframe_spill::{MemoryPool, SpillDir, SpillStats};

pub(crate) use crate::metrics::JobMetrics;
pub use crate::metrics::JobStats;

/// Default rows per chunk: large enough that per-chunk overhead vanishes,
/// small enough that a chunk of a few columns sits in L2/L3 while a
/// pipeline of operators runs over it. 64 Ki rather than 128 Ki rows: the
/// columns a Parquet scan has just decoded are still in the cache when the
/// operators read them (a `Decimal128` column of 64 Ki rows is 1 MiB). On
/// the 2-core machine of the benchmarks (1 MiB of L2 a core), TPC-H Q1 took
/// 22% less time, Q13 19% and Q9 8%; db-benchmark q7 7% more (best of 5,
/// alternating, end to end from Parquet).
pub const DEFAULT_CHUNK_ROWS: usize = 64 * 1024;

/// Settings of a [`Context`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads.
    pub threads: usize,
    /// Target rows per chunk when reading and rechunking.
    pub chunk_rows: usize,
    /// The memory budget in bytes.
    pub memory_limit: u64,
    /// Where spill files go.
    pub spill_dir: PathBuf,
    /// Whether scans hand their filters to sources that evaluate them
    /// while decoding (Parquet: the filters' columns first, then only the
    /// passing rows of the rest; see
    /// [`ChunkSource::read_partition_filtered`](parframe_core::ChunkSource::read_partition_filtered)).
    /// Default `true`.
    pub late_materialization: bool,
    /// The groups past which a worker's partial aggregate goes on
    /// partitioned: its groups split by hash into tables that are merged
    /// in parallel at the end (default [`DEFAULT_PARTITION_GROUPS`]).
    pub partition_groups: usize,
}

/// Default [`Config::partition_groups`]: a flat table of up to this many
/// groups still fits the cache well enough that partitioning costs more
/// than it saves (db-benchmark q5's 10^5 groups took twice the time
/// partitioned).
pub const DEFAULT_PARTITION_GROUPS: usize = 1 << 17;

/// Receives progress of running jobs. Called from worker threads, so keep
/// it cheap; it must be `Send + Sync`.
pub type ProgressCallback = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A snapshot of a job's progress: of one pipeline's scan (a job with a
/// join or a sort runs several pipelines, each reporting its own), and of
/// the rows a sink has written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Input rows read so far.
    pub rows_read: u64,
    /// Input rows to read in total, when the source knows (a Parquet or
    /// IPC footer; not CSV) and every partition is read (none pruned).
    pub rows_total: Option<u64>,
    /// Input partitions finished so far.
    pub partitions_done: u64,
    /// Input partitions in total, when known.
    pub partitions_total: Option<u64>,
    /// Rows written so far by the job's sink (`sink_*`, `COPY`); 0 for a
    /// job without one.
    pub rows_written: u64,
}

/// Builds a [`Context`]. Every setting has a default.
#[derive(Default)]
pub struct ContextBuilder {
    threads: Option<usize>,
    chunk_rows: Option<usize>,
    memory_limit: Option<ByteSize>,
    spill_dir: Option<PathBuf>,
    progress: Option<ProgressCallback>,
    late_materialization: Option<bool>,
    partition_groups: Option<usize>,
}

impl fmt::Debug for ContextBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextBuilder")
            .field("threads", &self.threads)
            .field("chunk_rows", &self.chunk_rows)
            .field("memory_limit", &self.memory_limit)
            .field("spill_dir", &self.spill_dir)
            .field("late_materialization", &self.late_materialization)
            .field("partition_groups", &self.partition_groups)
            .finish()
    }
}

impl ContextBuilder {
    /// Worker threads (default: all cores).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// Target rows per chunk (default [`DEFAULT_CHUNK_ROWS`]).
    pub fn chunk_rows(mut self, n: usize) -> Self {
        self.chunk_rows = Some(n);
        self
    }

    /// The memory budget in bytes (default: 70% of physical memory, or of
    /// the cgroup limit when the process runs in one).
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(ByteSize::Bytes(bytes));
        self
    }

    /// The memory budget as text: `"512MiB"`, `"4GB"`, `"70%"`.
    pub fn memory_limit_str(mut self, s: &str) -> Result<Self> {
        self.memory_limit = Some(ByteSize::parse(s)?);
        Ok(self)
    }

    /// Directory for spill files (default: the OS temp dir).
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Whether scans evaluate their filters while decoding, where the
    /// source can (default `true`; `false` decodes every needed column of
    /// every row, then filters: for comparing the two).
    pub fn late_materialization(mut self, on: bool) -> Self {
        self.late_materialization = Some(on);
        self
    }

    /// The groups past which a partial aggregate goes on partitioned
    /// (default [`DEFAULT_PARTITION_GROUPS`]; small values are for tests
    /// of the partitioned path).
    pub fn partition_groups(mut self, n: usize) -> Self {
        self.partition_groups = Some(n);
        self
    }

    /// A callback receiving progress of running jobs.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Builds the context and starts its thread pool.
    pub fn build(self) -> Result<Context> {
        let threads = match self.threads {
            Some(0) => return Err(Error::InvalidArgument("threads must be at least 1".into())),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let chunk_rows = match self.chunk_rows {
            Some(0) => {
                return Err(Error::InvalidArgument(
                    "chunk_rows must be at least 1".into(),
                ));
            }
            Some(n) => n,
            None => DEFAULT_CHUNK_ROWS,
        };
        let total = available_memory();
        let memory_limit = self
            .memory_limit
            .unwrap_or(ByteSize::Fraction(0.7))
            .resolve(total);
        if memory_limit == 0 {
            return Err(Error::InvalidArgument("memory limit must be > 0".into()));
        }
        let spill_dir = self.spill_dir.unwrap_or_else(std::env::temp_dir);
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("parframe-{id}-{i}"))
            .build()
            .map_err(|e| Error::External {
                context: "starting the thread pool".into(),
                message: e.to_string(),
            })?;
        Ok(Context {
            inner: Arc::new(ContextInner {
                config: Config {
                    threads,
                    chunk_rows,
                    memory_limit,
                    spill_dir,
                    late_materialization: self.late_materialization.unwrap_or(true),
                    partition_groups: self.partition_groups.unwrap_or(DEFAULT_PARTITION_GROUPS),
                },
                pool,
                memory: MemoryPool::new(memory_limit),
                progress: self.progress,
                cancelled: AtomicBool::new(false),
                spill: Mutex::new(None),
                catalog: Default::default(),
            }),
        })
    }
}

/// Owns a named rayon thread pool, the memory budget and the settings; all
/// parallel work of the plans it runs happens on its pool, never on the
/// global one. Cheap to clone.
///
/// ```
/// use parframe_exec::Context;
///
/// let ctx = Context::builder().threads(2).chunk_rows(10_000).build().unwrap();
/// assert_eq!(ctx.config().threads, 2);
/// let name = ctx.install(|| std::thread::current().name().map(str::to_string));
/// assert!(name.unwrap().starts_with("parframe-"));
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    config: Config,
    pool: rayon::ThreadPool,
    memory: MemoryPool,
    progress: Option<ProgressCallback>,
    cancelled: AtomicBool,
    /// Made on first use, under `config.spill_dir`; removed (with any file
    /// left in it) when the context's last clone drops.
    spill: Mutex<Option<SpillDir>>,
    /// Named tables (see `catalog.rs`).
    catalog: crate::catalog::Catalog,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("Context")
            .field("threads", &c.threads)
            .field("chunk_rows", &c.chunk_rows)
            .field("memory_limit", &format_bytes(c.memory_limit))
            .field("spill_dir", &c.spill_dir)
            .finish()
    }
}

impl Context {
    /// A builder with defaults for everything.
    pub fn builder() -> ContextBuilder {
        ContextBuilder::default()
    }

    /// A context with default settings.
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The memory budget.
    pub fn memory_pool(&self) -> &MemoryPool {
        &self.inner.memory
    }

    /// The context's spill directory, made on first use inside
    /// [`Config::spill_dir`] (`parframe-spill-<pid>-<n>`) and removed with
    /// everything in it when the context (its last clone) drops.
    ///
    /// Fails with [`Error::Io`] naming the directory when it cannot be made.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let ctx = parframe_exec::Context::builder().spill_dir(dir.path()).build()?;
    /// let spill = ctx.spill_dir()?;
    /// assert!(spill.path().starts_with(dir.path()));
    /// assert_eq!(ctx.spill_stats().files, 0);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn spill_dir(&self) -> Result<SpillDir> {
        let mut guard = self.inner.spill.lock().map_err(|_| {
            Error::InvalidArgument("internal: spill directory lock poisoned".into())
        })?;
        if let Some(d) = &*guard {
            return Ok(d.clone());
        }
        let d = SpillDir::new_in(&self.inner.config.spill_dir)?;
        *guard = Some(d.clone());
        Ok(d)
    }

    /// What the jobs of this context spilled so far, in total: spill files
    /// written, their bytes and rows (including files since removed). Zero
    /// when nothing spilled.
    pub fn spill_stats(&self) -> SpillStats {
        self.spill_if_made().map(|d| d.stats()).unwrap_or_default()
    }

    /// The spill files of this context currently on disk (zero once every
    /// job has finished or its stream was dropped).
    pub fn spill_live(&self) -> SpillStats {
        self.spill_if_made().map(|d| d.live()).unwrap_or_default()
    }

    fn spill_if_made(&self) -> Option<SpillDir> {
        self.inner.spill.lock().ok().and_then(|g| g.clone())
    }

    /// Runs `f` on this context's thread pool (rayon calls inside `f` use it).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.inner.pool.install(f)
    }

    /// Asks running jobs of this context to stop; they return
    /// [`Error::Cancelled`] at the next chunk boundary. Callable from any thread.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
    }

    /// Clears a previous [`Context::cancel`] so new jobs can run.
    pub fn reset_cancel(&self) {
        self.inner.cancelled.store(false, Ordering::SeqCst);
    }

    pub(crate) fn check_cancelled(&self) -> Result<()> {
        if self.inner.cancelled.load(Ordering::Relaxed) {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    pub(crate) fn catalog(&self) -> &crate::catalog::Catalog {
        &self.inner.catalog
    }

    pub(crate) fn report(&self, p: &Progress) {
        if let Some(cb) = &self.inner.progress {
            cb(p);
        }
    }
}

/// Physical memory, or the cgroup's limit when lower, in bytes.
pub fn available_memory() -> u64 {
    let physical = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(8 << 30);
    cgroup_limit().map_or(physical, |c| c.min(physical))
}

fn cgroup_limit() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    cgroup_limit_in(Path::new("/sys/fs/cgroup"), &own)
}

/// The lowest memory limit on the way from the process's own cgroups
/// (`own`: the text of `/proc/self/cgroup`) up to the root of the
/// hierarchy mounted at `mount` (cgroup v2 `memory.max`, v1
/// `memory/memory.limit_in_bytes`). A process in a child cgroup is bound
/// by every ancestor's limit, and the root's files say nothing of it.
/// `"max"` (v2) or a huge number (v1) mean no limit.
fn cgroup_limit_in(mount: &Path, own: &str) -> Option<u64> {
    let mut dirs: Vec<(PathBuf, &str)> = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if id == "0" && controllers.is_empty() {
            dirs.push((mount.to_path_buf(), rel));
        } else if controllers.split(',').any(|c| c == "memory") {
            dirs.push((mount.join("memory"), rel));
        }
    }
    if dirs.is_empty() {
        // No /proc/self/cgroup: the roots of both hierarchies.
        dirs = vec![(mount.to_path_buf(), ""), (mount.join("memory"), "")];
    }
    let mut limit: Option<u64> = None;
    for (root, rel) in dirs {
        let mut dir = root.join(rel);
        loop {
            for file in ["memory.max", "memory.limit_in_bytes"] {
                if let Ok(s) = std::fs::read_to_string(dir.join(file))
                    && let Ok(v) = s.trim().parse::<u64>()
                    && v < (1 << 60)
                {
                    limit = Some(limit.map_or(v, |l| l.min(v)));
                }
            }
            if dir == root || !dir.pop() {
                break;
            }
        }
    }
    limit
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cgroup_limit_is_the_lowest_on_the_way_to_the_root() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path();
        let write = |rel: &str, v: &str| {
            let dir = m.join(rel);
            std::fs::create_dir_all(&dir).unwrap();
            let file = if rel.starts_with("memory") {
                "memory.limit_in_bytes"
            } else {
                "memory.max"
            };
            std::fs::write(dir.join(file), v).unwrap();
        };
        // v1: the root unlimited, the parent 3 GiB, the process's own 1 GiB.
        write("memory", "9223372036854771712");
        write("memory/jobs", "3221225472");
        write("memory/jobs/bench", "1073741824");
        let v1 = "4:memory:/jobs/bench\n1:cpu:/\n";
        assert_eq!(cgroup_limit_in(m, v1), Some(1 << 30));
        // A child without a limit of its own is bound by its parent's.
        write("memory/jobs/free", "9223372036854771712");
        assert_eq!(cgroup_limit_in(m, "4:memory:/jobs/free"), Some(3 << 30));
        // v2: "max" is no limit.
        write("", "max");
        write("user.slice", "2147483648");
        write("user.slice/run", "max");
        assert_eq!(cgroup_limit_in(m, "0::/user.slice/run\n"), Some(2 << 30));
        assert_eq!(cgroup_limit_in(m, "0::/\n"), None);
    }

    #[test]
    fn defaults_and_errors() {
        let ctx = Context::builder().build().unwrap();
        assert!(ctx.config().threads >= 1);
        assert!(ctx.config().memory_limit > 0);
        assert!(Context::builder().threads(0).build().is_err());
        assert!(Context::builder().chunk_rows(0).build().is_err());
        let ctx = Context::builder()
            .memory_limit_str("64MiB")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(ctx.memory_pool().limit(), 64 << 20);
    }
}
