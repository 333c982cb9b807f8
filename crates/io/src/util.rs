//! Helpers shared by the sources and sinks: argument checks, schema
//! comparison, and the temporary-file-then-rename discipline of the sinks.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{Schema, SchemaRef};
use parframe_common::{Error, Result};

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

/// A sink's output file while it is being written: the data goes to
/// `.<name>.parframe-tmp` beside the target, which [`TempTarget::commit`]
/// renames onto the target. Dropped without a commit, it removes the
/// temporary file, so the target never holds a partial file.
#[derive(Debug)]
pub(crate) struct TempTarget {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl TempTarget {
    /// Creates the temporary file for `target`.
    pub(crate) fn create(target: &Path) -> Result<(TempTarget, File)> {
        let Some(name) = target.file_name() else {
            return Err(Error::InvalidArgument(format!(
                "'{}' does not name a file to write",
                target.display()
            )));
        };
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(".parframe-tmp");
        let tmp = target.with_file_name(tmp_name);
        let file = File::create(&tmp).map_err(|e| Error::io(target, e))?;
        Ok((
            TempTarget {
                tmp,
                target: target.to_path_buf(),
                committed: false,
            },
            file,
        ))
    }

    /// The final path.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the temporary file onto the target (atomically on POSIX file
    /// systems; an existing target is replaced).
    pub(crate) fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempTarget {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the file may already be gone.
            let _ = std::fs::remove_file(&self.tmp);
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
        let (t, mut f) = TempTarget::create(&target).unwrap();
        f.write_all(b"x").unwrap();
        assert!(dir.path().join(".out.bin.parframe-tmp").exists());
        drop(f);
        drop(t);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let (t, mut f) = TempTarget::create(&target).unwrap();
        f.write_all(b"y").unwrap();
        drop(f);
        t.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"y");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
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
