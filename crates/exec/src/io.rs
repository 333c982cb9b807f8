//! Running plans (collect, stream, sinks) and the file entry points of
//! [`Context`].

use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use parframe_common::{Error, Result};
use parframe_core::{ChunkSink, Table};
use parframe_io::{
    CsvOptions, CsvSink, CsvSource, CsvWriteOptions, DatasetOptions, DatasetSource, IpcSink,
    IpcSource, IpcWriteOptions, ParquetSink, ParquetSource, ParquetWriteOptions, PartitionedSink,
    PartitionedWriteOptions, WriteOptions,
};

use crate::physical;
use crate::{Context, JobStats, LazyFrame};

impl LazyFrame {
    /// Runs the plan on the context's pool and gathers the result.
    pub fn collect(&self) -> Result<Table> {
        physical::collect(&self.ctx, &*self.optimized_plan()?).map(|(t, _)| t)
    }

    /// [`LazyFrame::collect`] with the plan optimized by `optimizer`
    /// instead of the default rules (`Optimizer::with_rules(vec![])` runs
    /// the plan as written: what tests compare the optimizer against).
    pub fn collect_with_optimizer(&self, optimizer: &parframe_plan::Optimizer) -> Result<Table> {
        let plan = optimizer.optimize(&self.plan)?;
        physical::collect(&self.ctx, &plan).map(|(t, _)| t)
    }

    /// [`LazyFrame::collect`], also returning the job's statistics (what
    /// it spilled, the largest reservation an operator held).
    pub fn collect_with_stats(&self) -> Result<(Table, JobStats)> {
        physical::collect(&self.ctx, &*self.optimized_plan()?)
    }

    /// Runs the plan to the end (discarding its output) and returns the plan
    /// as [`explain`](Self::explain) draws it, each operator annotated with
    /// what it did: rows in and out, time, peak reservation, spill files.
    /// A first line sums up the job.
    ///
    /// ```
    /// use parframe_core::{col, lit, table};
    /// use parframe_exec::{Context, SortKey};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("a" => [3i64, 1, 2, 5])?;
    /// let report = ctx
    ///     .lazy(t)
    ///     .filter(col("a").gt(lit(1i64)))?
    ///     .sort([SortKey::asc("a")])?
    ///     .explain_analyze()?;
    /// assert!(report.contains("Filter (col(\"a\") > 1)  [rows 4 -> 3"), "{report}");
    /// assert!(report.contains("Sort [a ASC NULLS LAST]  [rows 3 -> 3"), "{report}");
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn explain_analyze(&self) -> Result<String> {
        let start = std::time::Instant::now();
        let mut stream = self.stream()?;
        let mut rows = 0u64;
        for b in stream.by_ref() {
            rows += b?.num_rows() as u64;
        }
        let stats = stream.stats();
        Ok(format!(
            "{rows} rows in {:.3} s; {}\n{}",
            start.elapsed().as_secs_f64(),
            crate::metrics::summary(&stats),
            self.explain_stats(&stats)
        ))
    }

    /// [`explain`](Self::explain) annotated with the figures of a job that
    /// ran this plan (from [`collect_with_stats`](Self::collect_with_stats),
    /// [`sink_with_stats`](Self::sink_with_stats) or
    /// [`BatchStream::stats`](crate::BatchStream::stats)).
    pub fn explain_stats(&self, stats: &JobStats) -> String {
        match self.optimized_plan() {
            Ok(p) => crate::metrics::annotate(&p, stats),
            Err(_) => crate::metrics::annotate(&self.plan, stats),
        }
    }

    /// Runs the plan as a stream of chunks, computed a window at a time as
    /// the stream is pulled (memory stays bounded if the caller does not
    /// keep the chunks).
    pub fn stream(&self) -> Result<physical::BatchStream> {
        physical::execute(&self.ctx, &*self.optimized_plan()?)
    }

    /// Streams the result into a sink; returns the number of rows written.
    ///
    /// The sink encodes on a thread of its own while the pool computes the
    /// next window of chunks, so a slow encoder (Parquet with zstd) and the
    /// operators overlap. On error the sink is dropped unfinished (file sinks
    /// then remove their partial output).
    pub fn sink(&self, sink: Box<dyn ChunkSink>) -> Result<u64> {
        self.sink_with_stats(sink).map(|(rows, _)| rows)
    }

    /// [`LazyFrame::sink`], also returning the job's statistics.
    pub fn sink_with_stats(&self, sink: Box<dyn ChunkSink>) -> Result<(u64, JobStats)> {
        let mut stream = self.stream()?;
        let progress = stream.progress_handle();
        let ctx = &self.ctx;
        // One chunk of slack keeps both sides busy: the stream's window
        // (held under its reservation) is the producer's buffer. Chunks in
        // the channel are outside any reservation, so it stays short (four
        // chunks here held ~40 MB of a 64 MiB Parquet copy's 105 MB peak).
        let (tx, rx) = std::sync::mpsc::sync_channel::<Option<RecordBatch>>(1);
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> Result<u64> {
                let mut sink = sink;
                let mut rows = 0u64;
                for msg in rx {
                    match msg {
                        Some(b) => {
                            rows += b.num_rows() as u64;
                            sink.write(&b)?;
                            // The scan's latest snapshot with the rows written.
                            let snapshot = {
                                let mut p = progress
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                p.rows_written = rows;
                                *p
                            };
                            ctx.report(&snapshot);
                        }
                        // The plan failed: drop the sink unfinished so no
                        // partial file is left behind.
                        None => return Err(Error::Cancelled),
                    }
                }
                sink.finish()?;
                Ok(rows)
            });
            let mut produced: Result<()> = Ok(());
            for b in stream.by_ref() {
                match b {
                    Ok(b) => {
                        if tx.send(Some(b)).is_err() {
                            // The writer failed; its error is reported below.
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(None);
                        produced = Err(e);
                        break;
                    }
                }
            }
            drop(tx);
            let written = writer.join().map_err(|p| Error::UserCode {
                column: "sink".into(),
                row: 0,
                message: parframe_common::panic_message(p.as_ref()),
            })?;
            produced?;
            Ok((written?, stream.stats()))
        })
    }

    /// Streams the result to a CSV file; returns the rows written.
    pub fn sink_csv(&self, path: impl AsRef<Path>, options: CsvWriteOptions) -> Result<u64> {
        self.sink(Box::new(CsvSink::try_new(path, self.schema(), options)?))
    }

    /// Streams the result to a Parquet file; returns the rows written.
    pub fn sink_parquet(
        &self,
        path: impl AsRef<Path>,
        options: ParquetWriteOptions,
    ) -> Result<u64> {
        self.sink(Box::new(ParquetSink::try_new(
            path,
            self.schema(),
            options,
        )?))
    }

    /// [`LazyFrame::sink_parquet`], also returning the job's statistics
    /// (rows, bytes and peak memory per operator, spills).
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::Context;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let ctx = Context::builder().threads(2).build()?;
    /// let lf = ctx.lazy(table!("x" => [1i64, 2, 3])?);
    /// let (rows, stats) = lf.sink_parquet_with_stats(dir.path().join("x.parquet"), Default::default())?;
    /// assert_eq!(rows, 3);
    /// assert!(!stats.operators.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sink_parquet_with_stats(
        &self,
        path: impl AsRef<Path>,
        options: ParquetWriteOptions,
    ) -> Result<(u64, JobStats)> {
        self.sink_with_stats(Box::new(ParquetSink::try_new(
            path,
            self.schema(),
            options,
        )?))
    }

    /// [`LazyFrame::sink_file`], also returning the job's statistics.
    pub fn sink_file_with_stats(
        &self,
        path: impl AsRef<Path>,
        options: &WriteOptions,
    ) -> Result<(u64, JobStats)> {
        self.sink_with_stats(parframe_io::create_sink(
            path.as_ref(),
            self.schema(),
            options,
        )?)
    }

    /// Streams the result to a file in the format of its extension (the
    /// [`FileFormat`](parframe_io::FileFormat) registry: `.csv`, `.tsv`,
    /// `.parquet`, `.arrow`, `.ndjson`...), each format with its field of
    /// `options`; returns the rows written.
    pub fn sink_file(&self, path: impl AsRef<Path>, options: &WriteOptions) -> Result<u64> {
        self.sink(parframe_io::create_sink(
            path.as_ref(),
            self.schema(),
            options,
        )?)
    }

    /// Streams the result into a hive-partitioned dataset `dir/k1=v1/.../
    /// part-00000.<ext>` (see [`PartitionedSink`]): one directory per
    /// distinct value of the columns `by`, which the files leave out; the
    /// dataset appears at `dir` only when the whole write succeeded.
    /// Returns the rows written.
    ///
    /// ```
    /// use parframe_core::{col, lit, table};
    /// use parframe_exec::Context;
    /// use parframe_io::PartitionedWriteOptions;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let out = dir.path().join("sales");
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("year" => [2023i64, 2024, 2024], "amount" => [1.0, 2.5, 4.0])?;
    /// ctx.lazy(t).sink_partitioned(&out, &["year"], PartitionedWriteOptions::default())?;
    /// assert!(out.join("year=2024/part-00000.parquet").exists());
    ///
    /// let back = ctx.scan_dataset(out.to_str().unwrap(), Default::default())?;
    /// let n = back.filter(col("year").eq(lit(2024i64)))?.collect()?.num_rows();
    /// assert_eq!(n, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sink_partitioned(
        &self,
        dir: impl AsRef<Path>,
        by: &[&str],
        mut options: PartitionedWriteOptions,
    ) -> Result<u64> {
        // The rows waiting for their files and the open files' encoders
        // are held to a quarter of the budget (the rest is the scan's and
        // the operators'), reserved for the whole write so the stream's
        // window and the operators see the rest only; over it, the sink
        // writes out the partitions with the most rows waiting.
        if options.max_buffered_bytes.is_none() {
            options.max_buffered_bytes = Some(self.ctx.config().memory_limit / 4);
        }
        if options.finish_threads.is_none() {
            options.finish_threads = Some(self.ctx.config().threads);
        }
        let mut held = self
            .ctx
            .memory_pool()
            .reservation("partitioned write buffers");
        if let Some(bound) = options.max_buffered_bytes
            && bound <= self.ctx.memory_pool().limit()
        {
            // Not granted (another job holds the pool): the bound still
            // holds, only without being counted.
            let _ = held.try_grow(bound);
        }
        let rows = self.sink(Box::new(PartitionedSink::try_new(
            dir,
            self.schema(),
            by,
            options,
        )?));
        drop(held);
        rows
    }

    /// [`sink_partitioned`](Self::sink_partitioned) into Parquet files
    /// written with `options`.
    pub fn sink_parquet_partitioned(
        &self,
        dir: impl AsRef<Path>,
        by: &[&str],
        options: ParquetWriteOptions,
    ) -> Result<u64> {
        let write = WriteOptions {
            parquet: options,
            ..WriteOptions::default()
        };
        self.sink_partitioned(
            dir,
            by,
            PartitionedWriteOptions::default().write_options(write),
        )
    }

    /// Streams the result to an Arrow IPC file; returns the rows written.
    pub fn sink_ipc(&self, path: impl AsRef<Path>) -> Result<u64> {
        self.sink(Box::new(IpcSink::try_new(
            path,
            self.schema(),
            IpcWriteOptions::default(),
        )?))
    }
}

impl Context {
    /// A lazy scan of a CSV file: byte ranges decode in parallel and only
    /// the columns the plan uses are parsed.
    pub fn scan_csv(&self, path: impl AsRef<Path>, options: CsvOptions) -> Result<LazyFrame> {
        Ok(self.scan(Arc::new(CsvSource::try_new(path, options)?)))
    }

    /// A lazy scan of a Parquet file: row groups decode in parallel and
    /// only the columns the plan uses are read.
    pub fn scan_parquet(&self, path: impl AsRef<Path>) -> Result<LazyFrame> {
        Ok(self.scan(Arc::new(ParquetSource::try_new(path)?)))
    }

    /// A lazy scan of a dataset: a directory tree (or glob) of files with
    /// hive `key=value` directories as columns; filters on those columns
    /// skip the other directories' files unopened (see [`DatasetSource`]).
    pub fn scan_dataset(&self, path: &str, options: DatasetOptions) -> Result<LazyFrame> {
        Ok(self.scan(Arc::new(DatasetSource::try_new(path, options)?)))
    }

    /// A lazy scan of an Arrow IPC file.
    pub fn scan_ipc(&self, path: impl AsRef<Path>) -> Result<LazyFrame> {
        Ok(self.scan(Arc::new(IpcSource::try_new(path)?)))
    }

    /// Reads a whole CSV file, in parallel.
    pub fn read_csv(&self, path: impl AsRef<Path>, options: CsvOptions) -> Result<Table> {
        self.scan_csv(path, options)?.collect()
    }

    /// Reads a whole Parquet file, in parallel.
    pub fn read_parquet(&self, path: impl AsRef<Path>) -> Result<Table> {
        self.scan_parquet(path)?.collect()
    }

    /// Reads a whole Arrow IPC file, in parallel.
    pub fn read_ipc(&self, path: impl AsRef<Path>) -> Result<Table> {
        self.scan_ipc(path)?.collect()
    }
}
