//! Several files read as one table, and opening files by extension.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, new_null_array};
use arrow_schema::{Field, Schema, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::{ChunkIter, ChunkSource, PartitionColumnStatistics};

use crate::util::{check_read_args, describe_schema, same_fields, with_schema};
use crate::{CsvOptions, CsvSource, IpcSource, ParquetSource};

/// Sources with the same columns, concatenated: the partitions are those
/// of the first source, then those of the second, and so on, so reading
/// them in order gives the files' rows one file after the other.
///
/// The schema is the first source's, with a column nullable when it is
/// nullable in any source.
#[derive(Debug)]
pub struct MultiSource {
    sources: Vec<Arc<dyn ChunkSource>>,
    schema: SchemaRef,
    /// `offsets[k]` is the index of source `k`'s first partition; one more
    /// entry holds the total.
    offsets: Vec<usize>,
}

impl MultiSource {
    /// Concatenates `sources`, which must have the same column names and
    /// types ([`Error::SchemaMismatch`] names the two sources that differ
    /// and their schemas). An empty list is an error.
    pub fn try_new(sources: Vec<Arc<dyn ChunkSource>>) -> Result<MultiSource> {
        let Some(first) = sources.first() else {
            return Err(Error::InvalidArgument(
                "a multi-file source needs at least one source".into(),
            ));
        };
        let first_schema = first.schema();
        let mut nullable: Vec<bool> = first_schema
            .fields()
            .iter()
            .map(|f| f.is_nullable())
            .collect();
        for s in &sources[1..] {
            let schema = s.schema();
            if !same_fields(&schema, &first_schema) {
                return Err(Error::SchemaMismatch(format!(
                    "{} has schema {} but {} has schema {}",
                    s.describe(),
                    describe_schema(&schema),
                    first.describe(),
                    describe_schema(&first_schema)
                )));
            }
            for (n, f) in nullable.iter_mut().zip(schema.fields()) {
                *n |= f.is_nullable();
            }
        }
        let fields: Vec<Field> = first_schema
            .fields()
            .iter()
            .zip(&nullable)
            .map(|(f, &n)| f.as_ref().clone().with_nullable(n))
            .collect();
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            first_schema.metadata().clone(),
        ));
        let mut offsets = Vec::with_capacity(sources.len() + 1);
        let mut total = 0;
        for s in &sources {
            offsets.push(total);
            total += s.partition_count();
        }
        offsets.push(total);
        Ok(MultiSource {
            sources,
            schema,
            offsets,
        })
    }

    /// The sources, in order.
    pub fn sources(&self) -> &[Arc<dyn ChunkSource>] {
        &self.sources
    }
}

impl ChunkSource for MultiSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn describe(&self) -> String {
        const SHOWN: usize = 3;
        let mut parts: Vec<String> = self
            .sources
            .iter()
            .take(SHOWN)
            .map(|s| s.describe())
            .collect();
        if self.sources.len() > SHOWN {
            parts.push(format!("… {} more", self.sources.len() - SHOWN));
        }
        format!("{} files [{}]", self.sources.len(), parts.join(", "))
    }

    fn partition_count(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    fn read_partition(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
    ) -> Result<ChunkIter<'_>> {
        let out_schema = check_read_args(
            &self.describe(),
            &self.schema,
            index,
            self.partition_count(),
            projection,
            chunk_rows,
        )?;
        // The last source whose first partition is <= index (sources without
        // partitions share their offset with the next one).
        let k = self.offsets[..self.sources.len()].partition_point(|&o| o <= index) - 1;
        let inner =
            self.sources[k].read_partition(index - self.offsets[k], projection, chunk_rows)?;
        Ok(Box::new(
            inner.map(move |b| b.and_then(|b| with_schema(b, &out_schema))),
        ))
    }

    fn row_count_hint(&self) -> Option<u64> {
        self.sources.iter().map(|s| s.row_count_hint()).sum()
    }

    /// Each file's statistics, in partition order, as this source's column
    /// type; a file without statistics (or whose values do not convert)
    /// contributes unknown entries.
    fn partition_column_statistics(&self, column: &str) -> Option<PartitionColumnStatistics> {
        let t = self
            .schema
            .field_with_name(column)
            .ok()?
            .data_type()
            .clone();
        let mut mins: Vec<ArrayRef> = Vec::new();
        let mut maxes: Vec<ArrayRef> = Vec::new();
        let mut null_counts = Vec::new();
        let mut row_counts = Vec::new();
        let mut known = false;
        for src in &self.sources {
            let n = src.partition_count();
            let st = src.partition_column_statistics(column).and_then(|st| {
                let conv = |a: &ArrayRef| arrow_cast::cast(a, &t).ok();
                let (lo, hi) = (conv(&st.mins)?, conv(&st.maxes)?);
                (lo.len() == n && hi.len() == n).then_some((lo, hi, st))
            });
            match st {
                Some((lo, hi, st)) => {
                    known = true;
                    mins.push(lo);
                    maxes.push(hi);
                    null_counts.extend(st.null_counts);
                    row_counts.extend(st.row_counts);
                }
                None => {
                    mins.push(new_null_array(&t, n));
                    maxes.push(new_null_array(&t, n));
                    null_counts.extend(std::iter::repeat_n(None, n));
                    row_counts.extend(std::iter::repeat_n(None, n));
                }
            }
        }
        if !known {
            return None;
        }
        let cat = |parts: &[ArrayRef]| {
            let refs: Vec<&dyn arrow_array::Array> = parts.iter().map(|a| a.as_ref()).collect();
            arrow_select::concat::concat(&refs).ok()
        };
        Some(PartitionColumnStatistics {
            mins: cat(&mins)?,
            maxes: cat(&maxes)?,
            null_counts,
            row_counts,
        })
    }
}

/// Opens a file as a source, choosing the reader by extension
/// (case-insensitive): `.csv` (comma separated, header detected), `.tsv`
/// (tab separated), `.parquet` / `.pq`, `.arrow` / `.ipc` / `.feather`
/// (Arrow IPC file format).
pub fn open_source(path: &Path) -> Result<Arc<dyn ChunkSource>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "csv" => Arc::new(CsvSource::try_new(path, CsvOptions::default())?),
        "tsv" => Arc::new(CsvSource::try_new(
            path,
            CsvOptions::default().delimiter(b'\t'),
        )?),
        "parquet" | "pq" => Arc::new(ParquetSource::try_new(path)?),
        "arrow" | "ipc" | "feather" => Arc::new(IpcSource::try_new(path)?),
        _ => {
            return Err(Error::NotSupported(format!(
                "cannot tell the format of '{}' from its extension; expected .csv, .tsv, \
                 .parquet, .pq, .arrow, .ipc or .feather",
                path.display()
            )));
        }
    })
}

/// Opens the files matching `pattern` as one source (see [`MultiSource`]),
/// in name order, each with [`open_source`]. Wildcards `*` (any run of
/// characters) and `?` (one character) are allowed in the file name only,
/// not in directory names: `data/part-*.parquet`. Names starting with `.`
/// match only a pattern starting with `.`. A pattern without wildcards is
/// a single file; no match is [`Error::Io`] (not found) naming the pattern.
pub fn open_sources(pattern: &str) -> Result<Arc<dyn ChunkSource>> {
    let matches = expand_glob(pattern)?;
    match matches.as_slice() {
        [one] => open_source(one),
        _ => {
            let sources = matches
                .iter()
                .map(|p| open_source(p))
                .collect::<Result<Vec<_>>>()?;
            Ok(Arc::new(MultiSource::try_new(sources)?))
        }
    }
}

/// The files matching `pattern`, in name order. Wildcards `*` and `?` may
/// stand in the file name, not in directory names; names starting with `.`
/// match only a pattern starting with `.`. A pattern without wildcards is
/// itself (whether or not it exists: opening it reports a missing file). No
/// match is [`Error::Io`] (not found) naming the pattern.
pub fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>> {
    let path = Path::new(pattern);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let wild_dir = |p: &Path| p.to_string_lossy().contains(['*', '?']);
    if path.parent().is_some_and(wild_dir) {
        return Err(Error::NotSupported(format!(
            "wildcards in directory names ('{pattern}'); only the file name may have them"
        )));
    }
    if !name.contains(['*', '?']) {
        return Ok(vec![path.to_path_buf()]);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut matches: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if file_name.starts_with('.') && !name.starts_with('.') {
            continue;
        }
        let is_file = entry.file_type().map(|t| !t.is_dir()).unwrap_or(false);
        if is_file && wildcard_match(name, file_name) {
            matches.push(dir.join(file_name));
        }
    }
    matches.sort();
    if matches.is_empty() {
        return Err(Error::io(
            pattern,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no file matches the pattern"),
        ));
    }
    Ok(matches)
}

/// Whether `name` matches `pattern` with `*` and `?` wildcards.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and the name position it is retried from.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.csv", "a.csv"));
        assert!(wildcard_match("part-?.pq", "part-1.pq"));
        assert!(!wildcard_match("part-?.pq", "part-10.pq"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("?", ""));
    }

    #[test]
    fn unknown_extension() {
        let e = open_source(Path::new("x.json")).err().unwrap();
        assert!(matches!(e, Error::NotSupported(_)), "{e}");
    }
}
