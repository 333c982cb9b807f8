//! Running plans (collect, stream, sinks) and the file entry points of
//! [`Context`].

use std::path::Path;
use std::sync::Arc;

use parframe_common::Result;
use parframe_core::{ChunkSink, Table};
use parframe_io::{
    CsvOptions, CsvSink, CsvSource, CsvWriteOptions, IpcSink, IpcSource, IpcWriteOptions,
    ParquetSink, ParquetSource, ParquetWriteOptions,
};

use crate::physical;
use crate::{Context, LazyFrame};

impl LazyFrame {
    /// Runs the plan on the context's pool and gathers the result.
    pub fn collect(&self) -> Result<Table> {
        physical::collect(&self.ctx, &self.plan)
    }

    /// Runs the plan as a stream of chunks, computed a window at a time as
    /// the stream is pulled (memory stays bounded if the caller does not
    /// keep the chunks).
    pub fn stream(&self) -> Result<physical::BatchStream> {
        physical::execute(&self.ctx, &self.plan)
    }

    /// Streams the result into a sink; returns the number of rows written.
    /// On error the sink is dropped unfinished (file sinks then remove
    /// their partial output).
    pub fn sink(&self, mut sink: Box<dyn ChunkSink>) -> Result<u64> {
        let mut rows = 0u64;
        for b in self.stream()? {
            let b = b?;
            rows += b.num_rows() as u64;
            sink.write(&b)?;
        }
        sink.finish()?;
        Ok(rows)
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
