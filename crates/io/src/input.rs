//! Where a source's bytes come from: a local file, or an object behind a
//! URL (see `object.rs`). Every source opens its input through [`Input`],
//! so a URL works wherever a path does.
//!
//! How to read a new kind of input: a variant of [`Input`] with a length
//! and a `Read + Seek` over ranges of it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
#[cfg(feature = "object-store")]
use std::sync::Arc;

use parframe_common::{Error, Result};

/// Whether `s` is a URL (`scheme://...`, the scheme at least two
/// characters, so a Windows drive `C:/` is not one).
pub fn is_url(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    scheme.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Where a path points: a local file, or (the `object-store` feature) an
/// object URL. A `file://` URL is its local path (`file:///data/x.csv`,
/// `file://localhost/data/x.csv`; percent escapes decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    Local(PathBuf),
    #[cfg(feature = "object-store")]
    Url(String),
}

impl Location {
    pub(crate) fn of(path: &Path) -> Result<Location> {
        let Some(s) = path.to_str() else {
            return Ok(Location::Local(path.to_path_buf()));
        };
        if !is_url(s) {
            return Ok(Location::Local(path.to_path_buf()));
        }
        if let Some(rest) = s
            .strip_prefix("file://")
            .or_else(|| s.strip_prefix("FILE://"))
        {
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            if !rest.starts_with('/') {
                return Err(Error::InvalidArgument(format!(
                    "'{s}': a file URL names an absolute path (file:///dir/file)"
                )));
            }
            let decoded = percent_encoding::percent_decode_str(rest).decode_utf8_lossy();
            return Ok(Location::Local(PathBuf::from(decoded.as_ref())));
        }
        #[cfg(feature = "object-store")]
        {
            Ok(Location::Url(s.to_string()))
        }
        #[cfg(not(feature = "object-store"))]
        {
            Err(Error::NotSupported(format!(
                "'{s}': this build of parframe has no object storage (the io crate's \
                 `object-store` feature); only file:// URLs and paths work"
            )))
        }
    }
}

/// The bytes a source reads: a local file or a remote object.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    Local(PathBuf),
    #[cfg(feature = "object-store")]
    Remote(Arc<crate::object::RemoteFile>),
}

/// A reader that can also seek.
pub(crate) trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

impl Input {
    /// Opens `path` (a path or URL): a local file must be a regular file
    /// (see `check_regular_file`; a missing one is reported when read),
    /// a remote object must exist (one HEAD request).
    pub(crate) fn open(path: &Path) -> Result<Input> {
        match Location::of(path)? {
            Location::Local(p) => {
                crate::util::check_regular_file(&p)?;
                Ok(Input::Local(p))
            }
            #[cfg(feature = "object-store")]
            Location::Url(u) => Ok(Input::Remote(Arc::new(crate::object::RemoteFile::open(
                &u,
            )?))),
        }
    }

    /// The path or URL, for messages and `path()` accessors.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Input::Local(p) => p,
            #[cfg(feature = "object-store")]
            Input::Remote(r) => Path::new(&r.url),
        }
    }

    /// The size in bytes.
    pub(crate) fn len(&self) -> Result<u64> {
        match self {
            Input::Local(p) => Ok(std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len()),
            #[cfg(feature = "object-store")]
            Input::Remote(r) => Ok(r.size),
        }
    }

    /// A reader over the whole input, at its start.
    pub(crate) fn open_seekable(&self) -> Result<Box<dyn ReadSeek>> {
        match self {
            Input::Local(p) => Ok(Box::new(File::open(p).map_err(|e| Error::io(p, e))?)),
            #[cfg(feature = "object-store")]
            Input::Remote(r) => Ok(Box::new(r.reader(0, r.size))),
        }
    }

    /// A reader of bytes `[start, end)`.
    pub(crate) fn open_range(&self, start: u64, end: u64) -> Result<Box<dyn Read + Send>> {
        match self {
            Input::Local(p) => {
                let mut f = File::open(p).map_err(|e| Error::io(p, e))?;
                f.seek(SeekFrom::Start(start))
                    .map_err(|e| Error::io(p, e))?;
                Ok(Box::new(f.take(end.saturating_sub(start))))
            }
            #[cfg(feature = "object-store")]
            Input::Remote(r) => Ok(Box::new(r.reader(start, end))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn urls_and_file_urls() {
        assert!(is_url("s3://b/k.parquet"));
        assert!(is_url("https://h:9000/x.csv"));
        assert!(is_url("memory:///x"));
        assert!(!is_url("C://x"));
        assert!(!is_url("data/x.csv"));
        assert!(!is_url("a b://x"));
        assert_eq!(
            Location::of(Path::new("file:///tmp/a%20b.csv")).unwrap(),
            Location::Local(PathBuf::from("/tmp/a b.csv"))
        );
        assert_eq!(
            Location::of(Path::new("file://localhost/x.csv")).unwrap(),
            Location::Local(PathBuf::from("/x.csv"))
        );
        assert!(Location::of(Path::new("file://relative.csv")).is_err());
        assert_eq!(
            Location::of(Path::new("x.csv")).unwrap(),
            Location::Local(PathBuf::from("x.csv"))
        );
    }
}
