//! The file-format registry: every format parframe reads and writes, its
//! names and file extensions, named once. Opening a file by its extension
//! (`open_source`, SQL's `FROM 'x.parquet'`, the CLI's inputs), creating a
//! sink for an output path (`LazyFrame::sink_file`, SQL `COPY ... TO`, the
//! CLI's `--output`), hive-partitioned datasets and the error messages
//! listing what is known all come from here.
//!
//! How to add a format:
//! 1. a `ChunkSource` for it (its own module, like `json.rs`) and a sink as
//!    a [`FileSink`](crate::FileSink) over a `RecordBatchWriter` (see
//!    `sink.rs`);
//! 2. a variant of [`FileFormat`], an entry in `FORMATS` (name, aliases,
//!    extensions, the first one written by default), and its arms in
//!    [`FileFormat::open_source`] and [`FileFormat::create_sink`] (the
//!    compiler points at both); its options as a field of
//!    [`ReadOptions`] / [`WriteOptions`];
//! 3. a round trip in `tests/it/formats.rs`; the `names_never_collide`
//!    test below checks the new names.

use std::path::Path;
use std::sync::Arc;

use arrow_schema::SchemaRef;
use parframe_common::{Error, Result};
use parframe_core::{ChunkSink, ChunkSource};

use crate::{
    CsvOptions, CsvSink, CsvSource, CsvWriteOptions, IpcSink, IpcSource, IpcWriteOptions,
    JsonOptions, JsonSink, JsonSource, JsonWriteOptions, ParquetReadOptions, ParquetSink,
    ParquetSource, ParquetWriteOptions,
};

/// A file format parframe reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// CSV (or TSV, by the `.tsv` extension or a delimiter option).
    Csv,
    /// Apache Parquet.
    Parquet,
    /// The Arrow IPC file format (Feather v2).
    Ipc,
    /// Newline-delimited JSON: one object per line.
    Json,
}

/// One registry entry.
struct FormatInfo {
    format: FileFormat,
    /// The name (`FORMAT parquet` in SQL, `--format parquet` in the CLI).
    name: &'static str,
    /// Other names it is known by.
    aliases: &'static [&'static str],
    /// File extensions, lower case, without the dot; the first is the one
    /// written by default.
    extensions: &'static [&'static str],
}

const FORMATS: &[FormatInfo] = &[
    FormatInfo {
        format: FileFormat::Csv,
        name: "csv",
        aliases: &[],
        extensions: &["csv", "tsv"],
    },
    FormatInfo {
        format: FileFormat::Parquet,
        name: "parquet",
        aliases: &[],
        extensions: &["parquet", "pq"],
    },
    FormatInfo {
        format: FileFormat::Ipc,
        name: "ipc",
        aliases: &["arrow", "feather"],
        extensions: &["arrow", "ipc", "feather"],
    },
    FormatInfo {
        format: FileFormat::Json,
        name: "json",
        aliases: &["ndjson", "jsonl"],
        extensions: &["ndjson", "jsonl", "json"],
    },
];

/// Extensions whose files are tab-separated (a CSV option, not a format).
const TAB_SEPARATED: &[&str] = &["tsv"];

fn ext_of(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

impl FileFormat {
    fn info(self) -> &'static FormatInfo {
        // Every variant has an entry (checked by a test); Csv's is first.
        FORMATS
            .iter()
            .find(|i| i.format == self)
            .unwrap_or(&FORMATS[0])
    }

    /// Every format, in registry order.
    pub fn all() -> impl Iterator<Item = FileFormat> {
        FORMATS.iter().map(|i| i.format)
    }

    /// Its name: `csv`, `parquet`, `ipc`, `json`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Its file extensions (lower case, no dot); the first is the default
    /// for files parframe names itself (partitioned writes).
    pub fn extensions(self) -> &'static [&'static str] {
        self.info().extensions
    }

    /// The format of a file extension (case-insensitive, without the dot).
    pub fn from_extension(ext: &str) -> Option<FileFormat> {
        let ext = ext.to_ascii_lowercase();
        FORMATS
            .iter()
            .find(|i| i.extensions.contains(&ext.as_str()))
            .map(|i| i.format)
    }

    /// The format of a path, by its extension.
    pub fn from_path(path: &Path) -> Option<FileFormat> {
        FileFormat::from_extension(&ext_of(path)?)
    }

    /// The format a name stands for: its name, an alias or an extension
    /// (case-insensitive): `parquet`, `pq`, `arrow`, `tsv`, `ndjson`...
    pub fn from_name(name: &str) -> Option<FileFormat> {
        let n = name.to_ascii_lowercase();
        FORMATS
            .iter()
            .find(|i| i.name == n || i.aliases.contains(&n.as_str()))
            .map(|i| i.format)
            .or_else(|| FileFormat::from_extension(&n))
    }

    /// `.csv, .tsv, .parquet, ...`: every known extension, for messages.
    pub fn known_extensions() -> String {
        let all: Vec<String> = FORMATS
            .iter()
            .flat_map(|i| i.extensions.iter().map(|e| format!(".{e}")))
            .collect();
        all.join(", ")
    }

    /// `csv, parquet, ipc, json`: every format name, for messages.
    pub fn known_names() -> String {
        let all: Vec<&str> = FORMATS.iter().map(|i| i.name).collect();
        all.join(", ")
    }

    /// The format of `path` by its extension, or [`Error::NotSupported`]
    /// naming the path and the extensions known.
    pub fn for_path(path: &Path) -> Result<FileFormat> {
        FileFormat::from_path(path).ok_or_else(|| {
            Error::NotSupported(format!(
                "cannot tell the format of '{}' from its extension; expected {}",
                path.display(),
                FileFormat::known_extensions()
            ))
        })
    }

    /// Opens `path` as a source of this format.
    pub fn open_source(self, path: &Path, options: &ReadOptions) -> Result<Arc<dyn ChunkSource>> {
        Ok(match self {
            FileFormat::Csv => Arc::new(CsvSource::try_new(path, options.csv.clone())?),
            FileFormat::Parquet => {
                Arc::new(ParquetSource::try_new_with_options(path, &options.parquet)?)
            }
            FileFormat::Ipc => Arc::new(IpcSource::try_new(path)?),
            FileFormat::Json => Arc::new(JsonSource::try_new(path, options.json.clone())?),
        })
    }

    /// Starts writing `path` in this format (its directory must exist); the
    /// sink writes a temporary file that `finish` renames onto `path`.
    pub fn create_sink(
        self,
        path: &Path,
        schema: SchemaRef,
        options: &WriteOptions,
    ) -> Result<Box<dyn ChunkSink>> {
        Ok(match self {
            FileFormat::Csv => Box::new(CsvSink::try_new(path, schema, options.csv.clone())?),
            FileFormat::Parquet => {
                Box::new(ParquetSink::try_new(path, schema, options.parquet.clone())?)
            }
            FileFormat::Ipc => Box::new(IpcSink::try_new(path, schema, options.ipc.clone())?),
            FileFormat::Json => Box::new(JsonSink::try_new(path, schema, options.json.clone())?),
        })
    }
}

impl std::fmt::Display for FileFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The reading options of every format; each format reads its own field.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// CSV options.
    pub csv: CsvOptions,
    /// JSON options.
    pub json: JsonOptions,
    /// Parquet options.
    pub parquet: ParquetReadOptions,
}

impl ReadOptions {
    /// The defaults for `path`: tab-separated for `.tsv`.
    pub fn for_path(path: &Path) -> ReadOptions {
        let mut o = ReadOptions::default();
        if ext_of(path).is_some_and(|e| TAB_SEPARATED.contains(&e.as_str())) {
            o.csv = o.csv.delimiter(b'\t');
        }
        o
    }
}

/// The writing options of every format; each format reads its own field.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// CSV options.
    pub csv: CsvWriteOptions,
    /// Parquet options.
    pub parquet: ParquetWriteOptions,
    /// Arrow IPC options.
    pub ipc: IpcWriteOptions,
    /// JSON options.
    pub json: JsonWriteOptions,
}

impl WriteOptions {
    /// The defaults for `path`: tab-separated for `.tsv`.
    pub fn for_path(path: &Path) -> WriteOptions {
        let mut o = WriteOptions::default();
        if ext_of(path).is_some_and(|e| TAB_SEPARATED.contains(&e.as_str())) {
            o.csv = o.csv.delimiter(b'\t');
        }
        o
    }
}

/// Opens a file as a source, choosing the reader by extension
/// (case-insensitive; see [`FileFormat`]): `.csv` (comma separated, header
/// detected), `.tsv` (tab separated), `.parquet` / `.pq`, `.arrow` /
/// `.ipc` / `.feather` (Arrow IPC file format), `.ndjson` / `.jsonl` /
/// `.json` (one JSON object per line).
pub fn open_source(path: &Path) -> Result<Arc<dyn ChunkSource>> {
    FileFormat::for_path(path)?.open_source(path, &ReadOptions::for_path(path))
}

/// Starts writing `path` in the format of its extension (see
/// [`FileFormat::create_sink`]).
pub fn create_sink(
    path: &Path,
    schema: SchemaRef,
    options: &WriteOptions,
) -> Result<Box<dyn ChunkSink>> {
    FileFormat::for_path(path)?.create_sink(path, schema, options)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::collections::HashMap;

    /// Every name, alias and extension means one format only, every
    /// variant is registered, and a format's name finds it.
    #[test]
    fn names_never_collide() {
        let mut names: HashMap<&str, FileFormat> = HashMap::new();
        let mut exts: HashMap<&str, FileFormat> = HashMap::new();
        for i in FORMATS {
            for n in std::iter::once(&i.name).chain(i.aliases) {
                assert!(names.insert(n, i.format).is_none(), "name {n} twice");
            }
            for e in i.extensions {
                assert!(exts.insert(e, i.format).is_none(), "extension {e} twice");
                assert_eq!(e.to_ascii_lowercase(), *e);
            }
        }
        // A name that is also an extension means the same format.
        for (n, f) in &names {
            if let Some(g) = exts.get(n) {
                assert_eq!(f, g, "{n}");
            }
        }
        for f in [
            FileFormat::Csv,
            FileFormat::Parquet,
            FileFormat::Ipc,
            FileFormat::Json,
        ] {
            assert_eq!(f.info().format, f);
            assert_eq!(FileFormat::from_name(f.name()), Some(f));
            assert_eq!(FileFormat::from_extension(f.extensions()[0]), Some(f));
        }
        assert_eq!(
            FileFormat::from_path(Path::new("a/B.PQ")),
            Some(FileFormat::Parquet)
        );
        assert_eq!(FileFormat::from_name("TSV"), Some(FileFormat::Csv));
        assert_eq!(FileFormat::from_path(Path::new("x.xlsx")), None);
        assert_eq!(
            ReadOptions::for_path(Path::new("a.TSV")).csv.delimiter,
            b'\t'
        );
        assert_eq!(
            WriteOptions::for_path(Path::new("a.csv")).csv.delimiter,
            b','
        );
    }
}
