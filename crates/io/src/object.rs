//! Object storage: `s3://`, `gs://`, `az://` (`abfs://`, `adl://`),
//! `http(s)://` and `memory://` URLs, through the `object_store` crate,
//! wherever a file path is taken (the `object-store` feature, on by
//! default). `file://` URLs are local paths and need no feature (see
//! `input.rs`).
//!
//! - Stores come from one process-wide [`DefaultObjectStoreRegistry`]:
//!   a URL is resolved to the store registered for the longest prefix of
//!   it ([`register_object_store`]), or to one built on first use from the
//!   URL and the standard environment variables (`AWS_ACCESS_KEY_ID`,
//!   `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//!   `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...; `GOOGLE_SERVICE_ACCOUNT`,
//!   ...; `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, ...),
//!   then kept for the process.
//! - Reads are ranged: Parquet reads its footer, then per row group only
//!   the column chunks a scan projects (parquet's `ParquetObjectReader`);
//!   CSV, NDJSON and IPC read through [`RemoteReader`], a `Read + Seek`
//!   over ranged GETs of at most [`REMOTE_BLOCK_MAX`] bytes, one block held
//!   at a time.
//! - Writes are [`Upload`]s: buffered up to [`UPLOAD_PART_BYTES`], then a
//!   multipart upload with at most [`UPLOAD_PARTS_IN_FLIGHT`] parts in
//!   flight; nothing is visible at the URL until the upload completes, and
//!   an upload dropped unfinished (an error, a cancelled job) is aborted.
//!
//! The engine is synchronous (rayon workers call `read_partition`, a sink's
//! `write`), the stores are async. They meet in one small multi-threaded
//! tokio runtime owned by this module, started on first use: its worker
//! threads drive the HTTP connections, and callers block on one future at
//! a time ([`block_on`]). One runtime rather than one per call, because
//! building a runtime starts threads and the HTTP client's connection pool
//! lives on it (a runtime per call would reconnect, and re-sign TLS, for
//! every request); a small one, because the work on it is waiting on the
//! network, while decoding stays on the callers' (rayon's) threads.
//!
//! How to add a scheme: `object_store` decides which URLs it understands
//! (`ObjectStoreScheme`); a store of your own (another crate's, or one
//! configured in code) is registered for a URL prefix with
//! [`register_object_store`].

use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, LazyLock, Mutex, Once, OnceLock, PoisonError};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::registry::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use parframe_common::{Error, Result};

/// Worker threads of the I/O runtime: they only wait on sockets.
const IO_THREADS: usize = 2;

/// The largest ranged GET of a [`RemoteReader`] (and so the most it holds);
/// blocks start at [`REMOTE_BLOCK_FIRST`] and double, so reading a small
/// file or the first lines of a big one fetches little.
pub const REMOTE_BLOCK_MAX: usize = 8 << 20;

/// Bytes fetched from the end of a Parquet object to read its footer in
/// one request when the metadata fits (most files' does).
const PARQUET_FOOTER_HINT: usize = 64 << 10;

/// The first ranged GET of a [`RemoteReader`].
const REMOTE_BLOCK_FIRST: usize = 256 << 10;

/// The size of an upload's parts, and so of its buffer: an object smaller
/// than this is written with one PUT; a larger one as a multipart upload of
/// parts of this size (S3 wants at least 5 MiB per part but the last).
pub const UPLOAD_PART_BYTES: usize = 8 << 20;

/// Parts of one upload sent at once; a writer waits for one to finish
/// before buffering more, so an upload holds at most
/// `(1 + UPLOAD_PARTS_IN_FLIGHT) * UPLOAD_PART_BYTES` bytes.
pub const UPLOAD_PARTS_IN_FLIGHT: usize = 2;

static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(IO_THREADS)
                .thread_name("parframe-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            Error::io(
                "",
                std::io::Error::other(format!("cannot start the object-store I/O runtime: {e}")),
            )
        })
}

/// Runs `f` to completion on the I/O runtime, blocking the calling thread.
/// Called from inside another tokio runtime (an async program calling
/// parframe), where blocking would panic, it blocks a scoped thread instead.
pub(crate) fn block_on<F>(f: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(rt.block_on(f));
    }
    std::thread::scope(|s| s.spawn(move || rt.block_on(f)).join()).map_err(|_| {
        Error::io(
            "",
            std::io::Error::other("an object-store request panicked"),
        )
    })
}

static REGISTRY: LazyLock<DefaultObjectStoreRegistry> = LazyLock::new(|| {
    install_crypto();
    DefaultObjectStoreRegistry::new()
});

/// Prepares the process for building object stores: rustls needs one
/// crypto provider per process, and parframe's reqwest is built without
/// one (its default, aws-lc-rs, is a large C build), so this installs
/// ring's, unless the program installed one already. parframe calls it
/// before it builds a store; call it yourself before building a store of
/// the re-exported [`object_store`](crate::object_store) crate (an HTTP
/// client built before it panics: "No rustls crypto provider").
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn parse_url(url: &str) -> Result<url::Url> {
    url::Url::parse(url)
        .map_err(|e| Error::InvalidArgument(format!("'{url}' is not a valid URL: {e}")))
}

/// Uses `store` for every URL starting with `url` (a scheme and authority,
/// and optionally a path: `s3://bucket`, `s3://bucket/prefix`,
/// `https://host:9000`), replacing the store built from the environment
/// for it; the longest registered prefix wins. For stores configured in
/// code (endpoints, credentials, retries, an in-memory store in tests) or
/// of other crates.
///
/// ```
/// use std::sync::Arc;
/// use parframe_io::object_store::memory::InMemory;
///
/// // Before building a store that talks HTTP (S3, GCS, Azure):
/// parframe_io::install_crypto();
///
/// parframe_io::register_object_store("s3://doc-example-bucket", Arc::new(InMemory::new()))?;
/// # Ok::<(), parframe_common::Error>(())
/// ```
pub fn register_object_store(url: &str, store: Arc<dyn ObjectStore>) -> Result<()> {
    install_crypto();
    let u = parse_url(url)?;
    let _replaced = REGISTRY.register(u, store);
    Ok(())
}

/// A URL as its store, the object's path in it, and the URL of the store's
/// root (`s3://bucket`), to name listed objects with.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) path: ObjectPath,
    pub(crate) root: String,
}

impl Resolved {
    /// The URL of an object of this store.
    pub(crate) fn url_of(&self, location: &ObjectPath) -> String {
        format!("{}/{}", self.root, location.as_ref())
    }
}

/// The store and path of `url`.
pub(crate) fn resolve(url: &str) -> Result<Resolved> {
    let u = parse_url(url)?;
    let (store, path) = REGISTRY.resolve(&u).map_err(|_| {
        // The registry says only "not found"; building the store again
        // says why (an unknown scheme, a missing setting).
        let why = match object_store::parse_url_opts(&u, std::env::vars()) {
            Err(e) => e.to_string(),
            Ok(_) => "no object store for it".to_string(),
        };
        Error::NotSupported(format!(
            "reading or writing '{url}': {why} (URLs: s3://, gs://, az://, http(s)://, \
             file://, memory://)"
        ))
    })?;
    let full = u.path().trim_end_matches('/');
    let keep = full.len().saturating_sub(path.as_ref().len());
    let root = format!(
        "{}{}",
        &u[..url::Position::AfterPort],
        full[..keep].trim_end_matches('/')
    );
    Ok(Resolved { store, path, root })
}

/// An object store error on `url` as an [`Error::Io`] naming it (a missing
/// object is `NotFound`, as a missing file is).
pub(crate) fn store_err(url: &str, e: object_store::Error) -> Error {
    use std::io::ErrorKind;
    let kind = match &e {
        object_store::Error::NotFound { .. } => ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => ErrorKind::PermissionDenied,
        _ => ErrorKind::Other,
    };
    let text = match &e {
        object_store::Error::NotFound { .. } => "no such object".to_string(),
        other => other.to_string(),
    };
    Error::io(url, std::io::Error::new(kind, text))
}

fn io_err(e: object_store::Error) -> std::io::Error {
    let kind = match &e {
        object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, e.to_string())
}

/// One object to read: its URL, store, path and size (from a HEAD or a
/// listing).
#[derive(Debug)]
pub(crate) struct RemoteFile {
    pub(crate) url: String,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) path: ObjectPath,
    pub(crate) size: u64,
}

impl RemoteFile {
    /// Looks `url` up (one HEAD request); a missing object is
    /// [`Error::Io`] `NotFound` naming it.
    pub(crate) fn open(url: &str) -> Result<RemoteFile> {
        let r = resolve(url)?;
        let meta = block_on(r.store.head(&r.path))?.map_err(|e| store_err(url, e))?;
        Ok(RemoteFile {
            url: url.to_string(),
            store: r.store,
            path: r.path,
            size: meta.size,
        })
    }

    /// A reader of bytes `[start, end)`, positioned at `start`.
    pub(crate) fn reader(self: &Arc<Self>, start: u64, end: u64) -> RemoteReader {
        RemoteReader {
            file: self.clone(),
            pos: start,
            end: end.min(self.size),
            buf: Bytes::new(),
            buf_start: 0,
            next_block: REMOTE_BLOCK_FIRST,
        }
    }

    /// parquet's async reader of the object (ranged GETs).
    pub(crate) fn parquet_reader(&self) -> ParquetStoreReader {
        ParquetStoreReader {
            store: self.store.clone(),
            path: self.path.clone(),
            size: self.size,
        }
    }
}

/// parquet's `AsyncFileReader` over an object: each request parquet makes
/// (the footer, a row group's projected column chunks, which parquet
/// coalesces) is one ranged GET (`get_ranges` merges close ranges too).
/// Written here because parquet 60 deprecates its `ParquetObjectReader`
/// in favour of exactly this; the footer is fetched with one suffix
/// request of [`PARQUET_FOOTER_HINT`] bytes (a second one when the
/// metadata is larger).
pub(crate) struct ParquetStoreReader {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    size: u64,
}

fn parquet_store_err(e: object_store::Error) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(io_err(e)))
}

impl parquet::arrow::async_reader::AsyncFileReader for ParquetStoreReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<Bytes>> {
        Box::pin(async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(parquet_store_err)
        })
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        Box::pin(async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(parquet_store_err)
        })
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a parquet::arrow::arrow_reader::ArrowReaderOptions>,
    ) -> futures::future::BoxFuture<
        'a,
        parquet::errors::Result<Arc<parquet::file::metadata::ParquetMetaData>>,
    > {
        Box::pin(async move {
            let size = self.size;
            let md = parquet::file::metadata::ParquetMetaDataReader::new()
                .with_prefetch_hint(Some(PARQUET_FOOTER_HINT))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(md))
        })
    }
}

/// `Read + Seek` over a range of an object by ranged GETs: a read outside
/// the block held fetches the next block (256 KiB at first, doubling up to
/// [`REMOTE_BLOCK_MAX`], or the read's own size when larger), so a
/// sequential read holds one block and a seek costs nothing until the
/// next read. Reads stop at the range's end.
#[derive(Debug)]
pub(crate) struct RemoteReader {
    file: Arc<RemoteFile>,
    pos: u64,
    end: u64,
    buf: Bytes,
    buf_start: u64,
    next_block: usize,
}

impl Read for RemoteReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.end || out.is_empty() {
            return Ok(0);
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos >= buf_end {
            let want = (self.next_block.max(out.len()) as u64).min(self.end - self.pos);
            let range = self.pos..self.pos + want;
            self.buf = Bytes::new();
            let f = &self.file;
            self.buf = block_on(f.store.get_range(&f.path, range))
                .map_err(|e| std::io::Error::other(e.to_string()))?
                .map_err(io_err)?;
            self.buf_start = self.pos;
            self.next_block = (self.next_block * 2).min(REMOTE_BLOCK_MAX);
            if self.buf.is_empty() {
                return Ok(0);
            }
        }
        let at = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - at);
        out[..n].copy_from_slice(&self.buf[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.file.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let Some(new) = new else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the object",
            ));
        };
        // A jump away from the block held (a footer, a probe for a line
        // start) starts small again.
        if new < self.buf_start || new >= self.buf_start + self.buf.len() as u64 {
            self.next_block = REMOTE_BLOCK_FIRST;
        }
        self.pos = new;
        Ok(new)
    }
}

/// Every object under `url` taken as a directory (`url/...`, at any depth),
/// as `(url, size)` in name order.
pub(crate) fn list(url: &str) -> Result<Vec<(String, u64)>> {
    let r = resolve(url)?;
    let prefix = (!r.path.as_ref().is_empty()).then_some(&r.path);
    let metas: Vec<object_store::ObjectMeta> =
        block_on(r.store.list(prefix).try_collect())?.map_err(|e| store_err(url, e))?;
    let mut out: Vec<(String, u64)> = metas
        .into_iter()
        .map(|m| (r.url_of(&m.location), m.size))
        .collect();
    out.sort();
    Ok(out)
}

/// Whether an object exists at exactly `url` (`Ok(false)` when missing).
pub(crate) fn exists(url: &str) -> Result<bool> {
    let r = resolve(url)?;
    match block_on(r.store.head(&r.path))? {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(store_err(url, e)),
    }
}

/// Deletes the object at `url`.
pub(crate) fn delete(url: &str) -> Result<()> {
    let r = resolve(url)?;
    block_on(r.store.delete(&r.path))?.map_err(|e| store_err(url, e))
}

/// Where an [`Upload`] is.
enum UploadState {
    /// Bytes so far, less than one part: written with one PUT at the end.
    Buffering(Vec<u8>),
    /// A multipart upload under way.
    Parts(WriteMultipart),
    /// Completed, aborted, or failed.
    Done,
}

/// An object being written (see the module docs): nothing is visible at
/// the URL until [`Upload::finish`]; dropped unfinished, a multipart
/// upload is aborted (its parts deleted). Memory: at most one part
/// buffered plus [`UPLOAD_PARTS_IN_FLIGHT`] parts being sent.
pub(crate) struct Upload {
    url: String,
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    state: UploadState,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload").field("url", &self.url).finish()
    }
}

impl Upload {
    /// Starts writing `url` (no request is made until data comes).
    pub(crate) fn create(url: &str) -> Result<Upload> {
        let r = resolve(url)?;
        if r.path.as_ref().is_empty() {
            return Err(Error::InvalidArgument(format!(
                "'{url}' does not name an object to write"
            )));
        }
        Ok(Upload {
            url: url.to_string(),
            store: r.store,
            path: r.path,
            state: UploadState::Buffering(Vec::new()),
        })
    }

    /// Appends `data`.
    pub(crate) fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        let rt = runtime().map_err(|e| std::io::Error::other(e.to_string()))?;
        while !data.is_empty() {
            match &mut self.state {
                UploadState::Done => {
                    return Err(std::io::Error::other(format!(
                        "the upload of '{}' is over",
                        self.url
                    )));
                }
                UploadState::Buffering(buf) => {
                    let room = UPLOAD_PART_BYTES - buf.len();
                    if data.len() < room {
                        buf.extend_from_slice(data);
                        return Ok(());
                    }
                    // One part's worth: switch to a multipart upload.
                    buf.extend_from_slice(&data[..room]);
                    data = &data[room..];
                    let first = Bytes::from(std::mem::take(buf));
                    let (store, path) = (self.store.clone(), self.path.clone());
                    let started = block_on(async move { store.put_multipart(&path).await })
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    let upload = match started {
                        Ok(u) => u,
                        Err(e) => {
                            self.state = UploadState::Done;
                            return Err(io_err(e));
                        }
                    };
                    let mut parts = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART_BYTES);
                    let _in_runtime = rt.enter();
                    parts.put(first);
                    self.state = UploadState::Parts(parts);
                }
                UploadState::Parts(parts) => {
                    // Back pressure: wait for a part in flight to finish
                    // before buffering one more.
                    let waited = block_on(parts.wait_for_capacity(UPLOAD_PARTS_IN_FLIGHT))
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    if let Err(e) = waited {
                        self.abort();
                        return Err(io_err(e));
                    }
                    let n = data.len().min(UPLOAD_PART_BYTES);
                    let _in_runtime = rt.enter();
                    parts.write(&data[..n]);
                    data = &data[n..];
                }
            }
        }
        Ok(())
    }

    /// Completes the upload: the object appears at the URL whole.
    pub(crate) fn finish(&mut self) -> Result<()> {
        let url = self.url.clone();
        match std::mem::replace(&mut self.state, UploadState::Done) {
            UploadState::Done => Err(Error::io(
                &url,
                std::io::Error::other("the upload failed earlier"),
            )),
            UploadState::Buffering(buf) => {
                let (store, path) = (self.store.clone(), self.path.clone());
                block_on(async move { store.put(&path, PutPayload::from(buf)).await })?
                    .map(|_| ())
                    .map_err(|e| store_err(&url, e))
            }
            UploadState::Parts(parts) => block_on(parts.finish())?
                .map(|_| ())
                .map_err(|e| store_err(&url, e)),
        }
    }

    /// Abandons the upload (a multipart upload's parts are deleted).
    pub(crate) fn abort(&mut self) {
        if let UploadState::Parts(parts) = std::mem::replace(&mut self.state, UploadState::Done) {
            // Best effort: an upload left behind is invisible (and bucket
            // lifecycle rules expire incomplete uploads).
            let _ = block_on(parts.abort());
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.abort();
    }
}

/// An [`Upload`] shared by the encoder's output (which writes it) and the
/// sink (which finishes it once the encoder is closed).
pub(crate) type SharedUpload = Arc<Mutex<Upload>>;

/// Locks a shared upload (a panic while it was held leaves it usable: the
/// state machine is never half-updated).
pub(crate) fn lock(u: &SharedUpload) -> std::sync::MutexGuard<'_, Upload> {
    u.lock().unwrap_or_else(PoisonError::into_inner)
}
