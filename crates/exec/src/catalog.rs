//! The table catalog of a [`Context`]: names bound to plans, for SQL
//! (`parframe-sql` resolves `FROM name` here) and for sharing plans by name.
//!
//! Names are matched case-insensitively (SQL's unquoted identifiers), so
//! `Trips` and `trips` are one table. The catalog keeps the plan, not the
//! [`LazyFrame`] (which holds its context): a context holding its own
//! frames would never be freed, nor its spill directory removed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use parframe_common::Result;
use parframe_io::CsvOptions;

use crate::{Context, LazyFrame};
use parframe_plan::LogicalPlan as Plan;

/// Named plans; one per context, shared by its clones.
#[derive(Default)]
pub(crate) struct Catalog {
    tables: RwLock<BTreeMap<String, Arc<Plan>>>,
}

fn key(name: &str) -> String {
    name.to_lowercase()
}

impl Context {
    /// Binds `name` to a plan; returns the plan the name had before. A
    /// frame built on another context runs on this one when used from here.
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::Context;
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("x" => [1i64, 2, 3])?;
    /// ctx.register_table("numbers", ctx.lazy(t));
    /// assert_eq!(ctx.table_names(), vec!["numbers"]);
    /// let back = ctx.table("NUMBERS").expect("registered");
    /// assert_eq!(back.collect()?.num_rows(), 3);
    /// assert!(ctx.deregister_table("numbers").is_some());
    /// assert!(ctx.table("numbers").is_none());
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn register_table(&self, name: &str, lf: LazyFrame) -> Option<LazyFrame> {
        let old = self
            .catalog()
            .tables
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key(name), lf.plan);
        old.map(|plan| self.frame(plan))
    }

    /// Binds `name` to a Parquet file (opened now: a missing or corrupt
    /// file is an error here).
    pub fn register_parquet(&self, name: &str, path: impl AsRef<Path>) -> Result<()> {
        let lf = self.scan_parquet(path)?;
        self.register_table(name, lf);
        Ok(())
    }

    /// Binds `name` to a CSV file read with `options`.
    pub fn register_csv(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        options: CsvOptions,
    ) -> Result<()> {
        let lf = self.scan_csv(path, options)?;
        self.register_table(name, lf);
        Ok(())
    }

    /// Binds `name` to an Arrow IPC file.
    pub fn register_ipc(&self, name: &str, path: impl AsRef<Path>) -> Result<()> {
        let lf = self.scan_ipc(path)?;
        self.register_table(name, lf);
        Ok(())
    }

    /// Binds `name` to a file or a glob pattern over file names
    /// (`data/part-*.parquet`), the format taken from the extension
    /// (`.csv`, `.tsv`, `.parquet`/`.pq`, `.arrow`/`.ipc`/`.feather`).
    pub fn register_file(&self, name: &str, path_or_pattern: &str) -> Result<()> {
        let source = parframe_io::open_sources(path_or_pattern)?;
        self.register_table(name, self.scan(source));
        Ok(())
    }

    /// Removes a name from the catalog; returns its plan, if it had one.
    pub fn deregister_table(&self, name: &str) -> Option<LazyFrame> {
        let old = self
            .catalog()
            .tables
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key(name));
        old.map(|plan| self.frame(plan))
    }

    /// The plan bound to `name` (case-insensitive), on this context.
    pub fn table(&self, name: &str) -> Option<LazyFrame> {
        let plan = self
            .catalog()
            .tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key(name))
            .cloned();
        plan.map(|plan| self.frame(plan))
    }

    /// The registered names (lower case), sorted.
    pub fn table_names(&self) -> Vec<String> {
        self.catalog()
            .tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    fn frame(&self, plan: Arc<Plan>) -> LazyFrame {
        LazyFrame::from_plan(self.clone(), plan)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use parframe_core::table;

    #[test]
    fn the_catalog_does_not_keep_its_context_alive() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context::builder()
            .threads(1)
            .spill_dir(dir.path())
            .build()
            .unwrap();
        let spill = ctx.spill_dir().unwrap().path().to_path_buf();
        let t = table!("x" => [1i64, 2]).unwrap();
        assert!(ctx.register_table("t", ctx.lazy(t)).is_none());
        let t2 = table!("y" => [1i64]).unwrap();
        let old = ctx.register_table("T", ctx.lazy(t2)).unwrap();
        assert_eq!(old.schema().field(0).name(), "x");
        drop(old);
        assert!(spill.exists());
        drop(ctx);
        assert!(!spill.exists(), "the context outlived its last clone");
    }
}
