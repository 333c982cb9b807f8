//! Several files read as one table, and glob patterns.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, new_null_array};
use arrow_schema::{Field, Schema, SchemaRef};
use parframe_common::{Error, Result};
use parframe_core::{ChunkIter, ChunkSource, Expr, PartitionColumnStatistics};

use crate::format::open_source;
use crate::input::Location;
use crate::util::{check_read_args, describe_schema, same_fields, with_schema};

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
                    "{} has schema {} but {} has schema {} (to read files of different \
                     columns as one table, matched by name, use read_parquet(..., \
                     union_by_name = true) in SQL or DatasetOptions::union_by_name)",
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

    /// Checks a read of partition `index` and finds it: the schema of its
    /// chunks and the source it is in (the last source whose first
    /// partition is <= index; sources without partitions share their
    /// offset with the next one).
    fn locate(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
    ) -> Result<(SchemaRef, usize)> {
        let out_schema = check_read_args(
            &self.describe(),
            &self.schema,
            index,
            self.partition_count(),
            projection,
            chunk_rows,
        )?;
        let k = self.offsets[..self.sources.len()].partition_point(|&o| o <= index) - 1;
        Ok((out_schema, k))
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
        let (out_schema, k) = self.locate(index, projection, chunk_rows)?;
        let inner =
            self.sources[k].read_partition(index - self.offsets[k], projection, chunk_rows)?;
        Ok(Box::new(
            inner.map(move |b| b.and_then(|b| with_schema(b, &out_schema))),
        ))
    }

    /// The file's own late materialization, when its columns are this
    /// source's (names and types; only nullability may differ), so that the
    /// filters mean the same there.
    fn read_partition_filtered(
        &self,
        index: usize,
        projection: Option<&[usize]>,
        chunk_rows: usize,
        filters: &[Expr],
    ) -> Result<Option<ChunkIter<'_>>> {
        let (out_schema, k) = self.locate(index, projection, chunk_rows)?;
        let inner = self.sources[k].schema();
        let same = inner.fields().len() == self.schema.fields().len()
            && inner
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Ok(None);
        }
        let Some(chunks) = self.sources[k].read_partition_filtered(
            index - self.offsets[k],
            projection,
            chunk_rows,
            filters,
        )?
        else {
            return Ok(None);
        };
        Ok(Some(Box::new(chunks.map(move |b| {
            b.and_then(|b| with_schema(b, &out_schema))
        }))))
    }

    fn partition_row_count(&self, index: usize) -> Option<u64> {
        if index >= self.partition_count() {
            return None;
        }
        let k = self.offsets[..self.sources.len()].partition_point(|&o| o <= index) - 1;
        self.sources[k].partition_row_count(index - self.offsets[k])
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

/// Opens the files matching `pattern` as one source (see [`MultiSource`]),
/// in name order, each with [`open_source`]. A directory, or a glob whose
/// files sit in hive `key=value` directories, is a
/// [`DatasetSource`](crate::DatasetSource) (key columns, files opened only
/// when read). See [`expand_glob`] for the
/// wildcards (`*`, `?`, `[...]`, and `**` for any depth of directories:
/// `data/**/*.parquet`). A pattern without wildcards is a single file; no
/// match is [`Error::Io`] (not found) naming the pattern.
pub fn open_sources(pattern: &str) -> Result<Arc<dyn ChunkSource>> {
    if let Some(dataset) = crate::dataset::open_if_dataset(pattern)? {
        return Ok(dataset);
    }
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

/// Whether `pattern` has glob wildcards (`*`, `?` or `[`).
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The files matching `pattern`, in name order, by the `glob` crate:
/// `*` (any run of characters but `/`), `?` (one character), `[abc]` /
/// `[!a-z]` (one of / none of), and `**` as a whole path component (any
/// number of directories, none included): `logs/2024-*/**/*.parquet`.
/// Names starting with `.` (hidden files and directories, and the
/// temporaries of unfinished sinks) match only a pattern component that
/// starts with `.`. Directories are never matches. A pattern without
/// wildcards, or naming an existing file, is itself (whether or not it exists: opening it reports a
/// missing file). No match is [`Error::Io`] (not found) naming the
/// pattern; a bad pattern (`a/**b`) is [`Error::InvalidArgument`].
///
/// A URL pattern (`s3://bucket/logs/**/*.parquet`) lists the objects under
/// its part without wildcards (one listing, at any depth) and matches their
/// URLs the same way; a `file://` pattern is its local path.
pub fn expand_glob(pattern: &str) -> Result<Vec<PathBuf>> {
    let local: String;
    let pattern = match Location::of(Path::new(pattern))? {
        Location::Local(p) if p.as_os_str() != pattern => {
            local = p.to_string_lossy().into_owned();
            local.as_str()
        }
        Location::Local(_) => pattern,
        #[cfg(feature = "object-store")]
        Location::Url(u) => return expand_url_glob(&u),
    };
    // An existing file is itself, wildcard characters or not
    // (`data[1].csv`).
    if !is_glob(pattern) || std::fs::metadata(pattern).is_ok_and(|m| m.is_file()) {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let options = glob_options();
    let matcher = glob::Pattern::new(pattern).map_err(|e| bad_glob(pattern, e))?;
    // The walk starts at the longest directory prefix without wildcards;
    // it is written here rather than with `glob::glob` because glob 0.3
    // never lists a hidden name (even for a pattern `.*`) and panics on a
    // name that is not UTF-8. Matching is `glob::Pattern`'s.
    let path = Path::new(pattern);
    let mut base = PathBuf::new();
    let mut rest: Vec<String> = Vec::new();
    for c in path.components() {
        let text = c.as_os_str().to_string_lossy();
        if rest.is_empty() && !is_glob(&text) {
            base.push(c);
        } else {
            rest.push(text.into_owned());
        }
    }
    let walk = GlobWalk {
        matcher: &matcher,
        options,
        max_depth: if rest.iter().any(|c| c == "**") {
            usize::MAX
        } else {
            rest.len()
        },
        hidden: rest.iter().any(|c| c.starts_with('.')),
    };
    let start = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base.clone()
    };
    let mut matches: Vec<PathBuf> = Vec::new();
    walk.visit(&start, base.as_os_str().is_empty(), 1, &mut matches)?;
    matches.sort();
    if matches.is_empty() {
        return Err(Error::io(
            pattern,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no file matches the pattern"),
        ));
    }
    Ok(matches)
}

fn glob_options() -> glob::MatchOptions {
    glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    }
}

fn bad_glob(pattern: &str, e: glob::PatternError) -> Error {
    Error::InvalidArgument(format!(
        "bad glob pattern '{pattern}' at character {}: {}",
        e.pos, e.msg
    ))
}

/// The part of a URL pattern before the path component holding its first
/// wildcard (`s3://b/logs/2024-*/x` gives `s3://b/logs`), and the rest.
#[cfg(feature = "object-store")]
pub(crate) fn url_glob_base(pattern: &str) -> (&str, &str) {
    let first = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
    match pattern[..first].rfind('/') {
        Some(slash) => (&pattern[..slash], &pattern[slash + 1..]),
        None => (pattern, ""),
    }
}

/// Whether a path below a listing's base has a component starting with
/// one of `marks` (hidden names, unfinished writes, `_SUCCESS` files).
#[cfg(feature = "object-store")]
pub(crate) fn has_marked_component(rel: &str, marks: &[char]) -> bool {
    rel.split('/').any(|c| c.starts_with(marks))
}

/// [`expand_glob`] of a URL: one listing under the base, matched.
#[cfg(feature = "object-store")]
fn expand_url_glob(pattern: &str) -> Result<Vec<PathBuf>> {
    if !is_glob(pattern) {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let matcher = glob::Pattern::new(pattern).map_err(|e| bad_glob(pattern, e))?;
    let (base, rest) = url_glob_base(pattern);
    let hidden = rest.split('/').any(|c| c.starts_with('.'));
    let mut matches: Vec<PathBuf> = Vec::new();
    for (url, _) in crate::object::list(base)? {
        let rel = url.get(base.len()..).unwrap_or("").trim_start_matches('/');
        if !hidden && has_marked_component(rel, &['.']) {
            continue;
        }
        if matcher.matches_with(&url, glob_options()) {
            matches.push(PathBuf::from(url));
        }
    }
    if matches.is_empty() {
        return Err(Error::io(
            pattern,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no object matches the pattern",
            ),
        ));
    }
    Ok(matches)
}

/// A directory walk for [`expand_glob`].
struct GlobWalk<'a> {
    matcher: &'a glob::Pattern,
    options: glob::MatchOptions,
    /// Path components below the base a match can have.
    max_depth: usize,
    /// Whether hidden names are visited (the pattern has a component
    /// starting with `.`; the matcher decides which ones match).
    hidden: bool,
}

impl GlobWalk<'_> {
    /// Visits the entries of `dir` (`depth` components below the base);
    /// `relative`: the base is the current directory, and matches are
    /// named without a leading `./`.
    fn visit(
        &self,
        dir: &Path,
        relative: bool,
        depth: usize,
        out: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            // A base that does not exist matches nothing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && depth == 1 => return Ok(()),
            Err(e) => return Err(Error::io(dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name();
            if !self.hidden && name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = if relative {
                PathBuf::from(&name)
            } else {
                dir.join(&name)
            };
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            // Symbolic links are followed to files, never into
            // directories (no loops).
            let is_dir = kind.is_dir();
            let is_file = !is_dir && std::fs::metadata(&path).is_ok_and(|m| !m.is_dir());
            if is_file && self.matcher.matches_path_with(&path, self.options) {
                out.push(path);
            } else if is_dir && depth < self.max_depth {
                self.visit(&path, false, depth + 1, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn globs_with_double_star_and_hidden_names() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "a.csv",
            "b.csv",
            "part-1.pq",
            "part-10.pq",
            "x/c.csv",
            "x/y/d.csv",
            ".hidden/e.csv",
            "x/.f.csv",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "a\n1\n").unwrap();
        }
        let names = |pat: &str| -> Vec<String> {
            expand_glob(&format!("{}/{pat}", d.display()))
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(d).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(names("*.csv"), ["a.csv", "b.csv"]);
        assert_eq!(names("part-?.pq"), ["part-1.pq"]);
        assert_eq!(names("part-[0-9]*.pq"), ["part-1.pq", "part-10.pq"]);
        assert_eq!(
            names("**/*.csv"),
            ["a.csv", "b.csv", "x/c.csv", "x/y/d.csv"]
        );
        assert_eq!(names("x/**/*.csv"), ["x/c.csv", "x/y/d.csv"]);
        assert_eq!(names("*/*.csv"), ["x/c.csv"]);
        assert_eq!(names("x/.*.csv"), ["x/.f.csv"]);
        let none = expand_glob(&format!("{}/*.json", d.display())).unwrap_err();
        assert!(none.to_string().contains("no file matches"), "{none}");
        let bad = expand_glob(&format!("{}/**x/*.csv", d.display())).unwrap_err();
        assert!(matches!(bad, Error::InvalidArgument(_)), "{bad}");
    }

    #[test]
    fn unknown_extension() {
        let e = open_source(Path::new("x.xlsx")).err().unwrap();
        assert!(matches!(e, Error::NotSupported(_)), "{e}");
        assert!(e.to_string().contains(".ndjson"), "{e}");
    }
}
