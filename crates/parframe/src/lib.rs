//! **parframe**: parallel, memory-bounded dataframes on Apache Arrow, for
//! Rust ETL jobs on one machine.
//!
//! Tables are lists of Arrow `RecordBatch` chunks; plans ([`LazyFrame`])
//! stream those chunks through fused operators on a [`Context`]'s own rayon
//! pool. The centrepiece is [`LazyFrame::apply`]: an ordinary, typed Rust
//! closure over the values of a row, run in parallel at the speed of a
//! hand-written loop.
//!
//! ```
//! use parframe::prelude::*;
//!
//! # fn main() -> parframe::Result<()> {
//! let dir = tempfile::tempdir().map_err(|e| parframe::Error::io("tempdir", e))?;
//! let input = dir.path().join("trips.parquet");
//! let output = dir.path().join("long_trips.parquet");
//! let trips = table!(
//!     "id" => [1i64, 2, 3],
//!     "lat1" => [48.85, 51.50, 40.71], "lon1" => [2.35, -0.12, -74.00],
//!     "lat2" => [51.50, 48.85, 40.73], "lon2" => [-0.12, 2.35, -73.99],
//! )?;
//! write_parquet(&trips, &input, &ParquetWriteOptions::default())?;
//!
//! let ctx = Context::builder().threads(2).build()?;
//! let rows = ctx
//!     .scan_parquet(&input)?
//!     .filter(col("id").gt(lit(1i64)))?
//!     .apply("km", ["lat1", "lon1", "lat2", "lon2"], |(a, b, c, d): (f64, f64, f64, f64)| {
//!         let (p1, p2) = (a.to_radians(), c.to_radians());
//!         let h = ((p2 - p1) / 2.0).sin().powi(2)
//!             + p1.cos() * p2.cos() * ((d - b).to_radians() / 2.0).sin().powi(2);
//!         2.0 * 6371.0 * h.sqrt().asin()
//!     })?
//!     .filter(col("km").gt(lit(100.0)))?
//!     .sink_parquet(&output, ParquetWriteOptions::default())?;
//! assert_eq!(rows, 1); // London -> Paris; the New York trip is short
//! # Ok(())
//! # }
//! ```
//!
//! The crates behind the facade: `parframe-common` (errors, sizes),
//! `parframe-spill` (memory budget), `parframe-core` (tables, expressions,
//! typed rows), `parframe-io` (CSV, Parquet, IPC), `parframe-exec` (context,
//! plans, execution), `parframe-sql` (SQL onto plans: [`sql`]).
//!
//! SQL and the Rust API compose: register frames or files as tables on the
//! context, query them with [`SqlContext::sql`] (in the prelude), and keep
//! building on the resulting [`LazyFrame`]:
//!
//! ```
//! use parframe::prelude::*;
//!
//! # fn main() -> parframe::Result<()> {
//! let ctx = Context::builder().threads(2).build()?;
//! ctx.register_table("t", ctx.lazy(table!("k" => ["a", "b", "a"], "v" => [1i64, 2, 3])?));
//! let out = ctx
//!     .sql("SELECT k, sum(v) AS total FROM t GROUP BY k")?
//!     .filter(col("total").gt(lit(2i64)))?
//!     .collect()?;
//! assert_eq!(out.num_rows(), 1);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod datasets;

#[cfg(feature = "polars")]
pub mod polars;

pub use parframe_common::{ByteSize, Error, Result, format_bytes, parse_byte_size};
pub use parframe_core::expr::{
    BinaryOp, CaseBuilder, DtNamespace, Func, StrNamespace, StringFunc, TimePart, coalesce, concat,
    concat_ws, date, decimal, ifnull, interval, make_date, nullif,
};
pub use parframe_core::row::{self, RowOptions};
pub use parframe_core::{
    ChunkIter, ChunkSink, ChunkSource, Expr, IntoArray, IntoExpr, MAX_EXPR_DEPTH, RowFn,
    ScalarValue, Table, arrow, col, lit, table, when,
};
pub use parframe_exec::agg::{self, AggExpr, AggFunc, AggregateExt};
/// Window functions: [`window::Window`], [`window::AggOver`] (`sum("v").over(w)`).
pub use parframe_exec::window;
pub use parframe_exec::{
    AsofOptions, AsofStrategy, BuildSide, JoinOptions, JoinType, JoinValidation,
};
pub use parframe_exec::{
    BatchStream, Config, Context, ContextBuilder, DEFAULT_CHUNK_ROWS, DEFAULT_PARTITION_GROUPS,
    IntoColumnNames, JobStats, LazyFrame, OperatorStats, Progress, SpillStats,
};
pub use parframe_exec::{GroupBy, SortKey};
pub use parframe_io::{
    CsvOptions, CsvSink, CsvSource, CsvWriteOptions, CsvWriter, DatasetOptions, DatasetSource,
    FileFormat, FileSink, IpcSink, IpcSource, IpcWriteOptions, JsonOptions, JsonSink, JsonSource,
    JsonWriteOptions, MultiSource, ParquetCompression, ParquetReadOptions, ParquetSink,
    ParquetSource, ParquetWriteOptions, PartitionedSink, PartitionedWriteOptions, ReadOptions,
    WriteOptions, create_sink, expand_glob, open_source, open_sources, write_csv, write_ipc,
    write_json, write_parquet,
};
pub use parframe_io::{OutputFile, is_url, remove_unfinished_outputs};
/// Object storage: a store configured in code for a URL prefix
/// ([`register_object_store`]), the `object_store` crate it takes, and the
/// bounds of remote reads and uploads. URLs (`s3://`, `gs://`, `az://`,
/// `http(s)://`, `file://`) work wherever a path does.
pub use parframe_io::{
    REMOTE_BLOCK_MAX, UPLOAD_PART_BYTES, UPLOAD_PARTS_IN_FLIGHT, install_crypto, object_store,
    register_object_store,
};
pub use parframe_spill::{MemoryPool, Reservation, SpillDir};

/// SQL: [`SqlContext::sql`] (`ctx.sql("SELECT ...")`), the function
/// registry ([`sql::functions`]).
pub use parframe_sql as sql;
pub use parframe_sql::SqlContext;

/// The names most programs need: `use parframe::prelude::*;`.
///
/// Frames and expressions (`Context`, `LazyFrame`, `col`, `lit`, `when`,
/// `coalesce`, [`IntoExpr`]), sort keys, the aggregate functions (`sum`,
/// `mean`, `count_rows`...) and [`AggregateExt`] (the same as `Expr`
/// methods: `col("x").sum()`), windows (`Window`, `AggOver`,
/// `row_number`, `rank`) and [`window::SequenceExt`] (`col("v").cum_sum()`,
/// `shift`, `diff`, `rolling_mean`...), join types, I/O options, and Arrow's
/// `DataType`.
pub mod prelude {
    pub use crate::agg::{
        AggExpr, AggregateExt, count, count_rows, first, last, max, mean, median, min, n_unique,
        quantile, std, sum, var,
    };
    pub use crate::arrow::schema::DataType;
    pub use crate::window::{
        AggOver, SequenceExt, Window, WindowColumn, dense_rank, lag, lead, rank, row_number,
    };
    pub use crate::{
        AsofOptions, AsofStrategy, Context, CsvOptions, CsvWriteOptions, Error, Expr, IntoExpr,
        JoinOptions, JoinType, LazyFrame, ParquetCompression, ParquetWriteOptions, Result,
        RowOptions, SortKey, SqlContext, Table, coalesce, col, lit, table, when, write_csv,
        write_ipc, write_parquet,
    };
}
