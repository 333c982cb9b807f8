//! Running plans: collect, stream, and the file entry points of [`Context`].

use parframe_common::Result;
use parframe_core::{ChunkSink, Table};

use crate::LazyFrame;
use crate::physical;

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
}
