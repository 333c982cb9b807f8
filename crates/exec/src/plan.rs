//! [`LazyFrame`], the builder users chain operators on: a thin wrapper of
//! `parframe-plan`'s logical plan builders with the context that runs it.
//! Plans are optimized when they run (and when [`LazyFrame::explain`]
//! shows them).

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, SchemaRef};
use parframe_common::{Error, Result, column_not_found};
use parframe_core::row::{ChunkContext, RowFn, RowOptions, check_row_fn, convert_inputs};
use parframe_core::{ChunkSource, Expr, IntoExpr, Table, col};
use parframe_plan::udf::RowUdf;
use parframe_plan::{LogicalPlan, Optimizer};

use crate::Context;
use crate::agg::AggExpr;
use crate::aggregate::run::Aggregator;
use crate::sort::SortKey;
use crate::window::{Window, WindowExpr};

/// A row closure bound to its columns (see [`RowUdf`]).
struct BoundRowFn<M, F> {
    f: F,
    inputs: Vec<String>,
    output: String,
    field: Field,
    casts: Vec<Option<DataType>>,
    options: RowOptions,
    _marker: PhantomData<fn() -> M>,
}

impl<M, F: RowFn<M>> RowUdf for BoundRowFn<M, F> {
    fn inputs(&self) -> &[String] {
        &self.inputs
    }
    fn output(&self) -> &str {
        &self.output
    }
    fn options(&self) -> &RowOptions {
        &self.options
    }
    fn field(&self) -> &Field {
        &self.field
    }
    fn call(&self, batch: &RecordBatch, row_offset: u64) -> Result<ArrayRef> {
        let schema = batch.schema();
        let cols = self
            .inputs
            .iter()
            .map(|n| {
                schema
                    .index_of(n)
                    .map(|i| batch.column(i).clone())
                    .map_err(|_| {
                        column_not_found(n, schema.fields().iter().map(|f| f.name().as_str()))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let cols = convert_inputs(cols, &self.casts)?;
        self.f.call_chunk(
            &cols,
            &ChunkContext {
                inputs: &self.inputs,
                output: &self.output,
                row_offset,
                options: &self.options,
            },
        )
    }
}

pub use parframe_plan::IntoColumnNames;

/// A lazy query: a plan over a source or table, built operator by operator
/// and run by [`LazyFrame::collect`] (or streamed to a file by a `sink_*`).
///
/// Each builder method type-checks against the input schema and returns an
/// error at once, naming the expression and the column types, so a wrong
/// plan fails before any data is read.
///
/// ```
/// use parframe_core::{col, lit, table};
/// use parframe_exec::Context;
///
/// let ctx = Context::builder().threads(2).build()?;
/// let t = table!("x" => [1.0, 2.0, 3.0], "y" => [4.0, 5.0, 6.0])?;
/// let out = ctx
///     .lazy(t)
///     .filter(col("x").gt(lit(1.0)))?
///     .apply("norm", ["x", "y"], |(x, y): (f64, f64)| x.hypot(y))?
///     .collect()?;
/// assert_eq!(out.num_rows(), 2);
/// assert_eq!(out.column_names(), vec!["x", "y", "norm"]);
/// # Ok::<(), parframe_common::Error>(())
/// ```
#[derive(Clone)]
pub struct LazyFrame {
    pub(crate) ctx: Context,
    pub(crate) plan: Arc<LogicalPlan>,
    /// The optimized plan, once computed (shared by clones).
    optimized: Arc<OnceLock<Arc<LogicalPlan>>>,
}

impl fmt::Debug for LazyFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain())
    }
}

impl LazyFrame {
    /// A lazy frame running `plan` (a logical plan built with
    /// [`parframe_plan::LogicalPlan`]'s builders) in `ctx`.
    pub fn from_plan(ctx: Context, plan: Arc<LogicalPlan>) -> Self {
        LazyFrame {
            ctx,
            plan,
            optimized: Arc::new(OnceLock::new()),
        }
    }

    /// This frame's context with another plan.
    pub(crate) fn with_plan(&self, plan: Arc<LogicalPlan>) -> LazyFrame {
        LazyFrame::from_plan(self.ctx.clone(), plan)
    }

    /// The context the plan runs in.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The output schema.
    pub fn schema(&self) -> SchemaRef {
        self.plan.schema()
    }

    /// The logical plan as built (before optimization).
    pub fn logical_plan(&self) -> &Arc<LogicalPlan> {
        &self.plan
    }

    /// The plan that runs: the logical plan after the optimizer's rules
    /// (see [`parframe_plan::optimizer`]).
    pub fn optimized_plan(&self) -> Result<Arc<LogicalPlan>> {
        if let Some(p) = self.optimized.get() {
            return Ok(Arc::clone(p));
        }
        // The rules recurse through the plan: a deep one (nested SQL
        // subqueries) runs on a stack grown for it (virtual memory, touched
        // only as deep as the recursion goes) instead of overflowing.
        let p = stacker::maybe_grow(OPTIMIZER_RED_ZONE, OPTIMIZER_STACK, || {
            Optimizer::default().optimize(&self.plan)
        })?;
        Ok(Arc::clone(self.optimized.get_or_init(|| p)))
    }

    /// The optimized plan as indented text, one operator a line, output
    /// first; scans show the columns they decode and the filters and limit
    /// pushed into them, joins their keys, residual condition and build
    /// side.
    pub fn explain(&self) -> String {
        match self.optimized_plan() {
            Ok(p) => parframe_plan::explain(&p),
            Err(e) => format!(
                "{}(the optimizer failed: {e})\n",
                parframe_plan::explain(&self.plan)
            ),
        }
    }

    /// Keeps the given expressions as the columns of the output: `Expr`s,
    /// or column names (`select(["a", "b"])`; see [`IntoExpr`]).
    pub fn select<E: IntoExpr>(&self, exprs: impl IntoIterator<Item = E>) -> Result<LazyFrame> {
        let exprs = exprs.into_iter().map(IntoExpr::into_expr).collect();
        let plan = LogicalPlan::select(&self.plan, exprs)?;
        Ok(self.with_plan(plan))
    }

    /// Keeps the rows where `predicate` is true (null counts as false).
    pub fn filter(&self, predicate: impl IntoExpr) -> Result<LazyFrame> {
        Ok(self.with_plan(LogicalPlan::filter(&self.plan, predicate.into_expr())?))
    }

    /// Adds (or replaces, by output name) one column.
    pub fn with_column(&self, expr: impl IntoExpr) -> Result<LazyFrame> {
        self.with_columns([expr.into_expr()])
    }

    /// Adds (or replaces, by output name) columns; every expression sees the
    /// input, not the other new columns.
    pub fn with_columns<E: IntoExpr>(
        &self,
        exprs: impl IntoIterator<Item = E>,
    ) -> Result<LazyFrame> {
        let exprs = exprs.into_iter().map(IntoExpr::into_expr).collect();
        let plan = LogicalPlan::with_columns(&self.plan, exprs)?;
        Ok(self.with_plan(plan))
    }

    /// Removes columns.
    pub fn drop(&self, names: impl IntoColumnNames) -> Result<LazyFrame> {
        let names = names.into_column_names();
        let schema = self.plan.schema();
        for n in &names {
            if schema.index_of(n).is_err() {
                return Err(column_not_found(
                    n,
                    schema.fields().iter().map(|f| f.name().as_str()),
                ));
            }
        }
        self.select(
            schema
                .fields()
                .iter()
                .filter(|f| !names.contains(f.name()))
                .map(|f| col(f.name().as_str())),
        )
    }

    /// Renames columns: `rename([("old", "new")])`.
    pub fn rename<'a>(
        &self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<LazyFrame> {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        let schema = self.plan.schema();
        for (old, _) in &pairs {
            if schema.index_of(old).is_err() {
                return Err(column_not_found(
                    old,
                    schema.fields().iter().map(|f| f.name().as_str()),
                ));
            }
        }
        self.select(schema.fields().iter().map(
            |f| match pairs.iter().find(|(o, _)| o == f.name()) {
                Some((_, new)) => col(f.name().as_str()).alias(*new),
                None => col(f.name().as_str()),
            },
        ))
    }

    /// The first `n` rows.
    pub fn limit(&self, n: usize) -> LazyFrame {
        self.slice_plan(0, Some(n))
    }

    /// Every row but the first `n` (SQL `OFFSET n`).
    pub fn offset(&self, n: usize) -> LazyFrame {
        self.slice_plan(n, None)
    }

    /// `len` rows from row `offset` on (SQL `LIMIT len OFFSET offset`).
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::{Context, SortKey};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("x" => [5i64, 3, 9, 1, 7])?;
    /// let out = ctx.lazy(t).sort([SortKey::asc("x")])?.slice(1, 2).collect()?;
    /// assert_eq!(out.num_rows(), 2); // 3 and 5
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn slice(&self, offset: usize, len: usize) -> LazyFrame {
        self.slice_plan(offset, Some(len))
    }

    fn slice_plan(&self, skip: usize, fetch: Option<usize>) -> LazyFrame {
        self.with_plan(LogicalPlan::limit(&self.plan, skip, fetch))
    }

    /// Sorts by one or many columns, stably (rows with equal keys keep their
    /// input order). Keys may be of any type Arrow can order (numbers,
    /// strings, binary, booleans, dates and times, decimals, ...), each
    /// ascending or descending with nulls first or last.
    ///
    /// Chunks are sorted in parallel and k-way merged. When the data does
    /// not fit the context's memory limit, sorted runs are spilled to Arrow
    /// IPC files in the context's spill directory and merged back through
    /// memory maps; the output then streams as it is pulled (through
    /// [`LazyFrame::stream`] or a `sink_*`).
    ///
    /// An unknown column is [`Error::ColumnNotFound`] at once; a key type
    /// that cannot be ordered is [`Error::TypeMismatch`].
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::{Context, SortKey};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("k" => [2i64, 1, 2, 1], "v" => ["a", "b", "c", "d"])?;
    /// let out = ctx.lazy(t).sort([SortKey::desc("k"), SortKey::asc("v")])?.collect()?;
    /// let v = out.select(&["v"])?;
    /// assert_eq!(v.num_rows(), 4);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn sort<K: Into<SortKey>>(&self, keys: impl IntoIterator<Item = K>) -> Result<LazyFrame> {
        self.sort_limit(keys.into_iter().map(Into::into).collect(), None)
    }

    /// The first `k` rows in the order of `keys`, as [`LazyFrame::sort`]
    /// then [`LazyFrame::limit`] would give them (ties in input order), but
    /// without a full sort: each chunk keeps only its `k` first rows and
    /// memory stays `O(k)` per chunk.
    ///
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::{Context, SortKey};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("x" => [5i64, 3, 9, 1, 7])?;
    /// let out = ctx.lazy(t).top_k([SortKey::desc("x")], 2)?.collect()?;
    /// assert_eq!(out.num_rows(), 2);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn top_k<K: Into<SortKey>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        k: usize,
    ) -> Result<LazyFrame> {
        self.sort_limit(keys.into_iter().map(Into::into).collect(), Some(k))
    }

    fn sort_limit(&self, keys: Vec<SortKey>, limit: Option<usize>) -> Result<LazyFrame> {
        Ok(self.with_plan(LogicalPlan::sort(&self.plan, keys, limit)?))
    }

    /// The first `n` rows (alias of [`LazyFrame::limit`]).
    pub fn head(&self, n: usize) -> LazyFrame {
        self.limit(n)
    }

    /// Adds column `output` computed by a Rust closure over the typed values
    /// of `inputs`, row by row, chunks in parallel.
    ///
    /// The closure takes a tuple with one element per input column (or, for
    /// one column, the value itself). See [`parframe_core::row`] for the
    /// supported parameter and return types. A null in a non-`Option`
    /// parameter is an error (see [`LazyFrame::apply_with`] to skip such
    /// rows); a panic becomes [`Error::UserCode`] naming `output` and the row.
    pub fn apply<M, F>(&self, output: &str, inputs: impl IntoColumnNames, f: F) -> Result<LazyFrame>
    where
        F: RowFn<M>,
        M: 'static,
    {
        self.apply_with(output, inputs, RowOptions::default(), f)
    }

    /// [`LazyFrame::apply`] with options.
    pub fn apply_with<M, F>(
        &self,
        output: &str,
        inputs: impl IntoColumnNames,
        options: RowOptions,
        f: F,
    ) -> Result<LazyFrame>
    where
        F: RowFn<M>,
        M: 'static,
    {
        let inputs = inputs.into_column_names();
        let schema = self.plan.schema();
        let fields = inputs
            .iter()
            .map(|n| {
                schema.field_with_name(n).cloned().map_err(|_| {
                    column_not_found(n, schema.fields().iter().map(|f| f.name().as_str()))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (casts, field) = check_row_fn::<M, F>(&fields, output)?;
        let udf = BoundRowFn::<M, F> {
            f,
            inputs,
            output: output.to_string(),
            field,
            casts,
            options,
            _marker: PhantomData,
        };
        Ok(self.with_plan(LogicalPlan::apply(&self.plan, Arc::new(udf))?))
    }

    /// Runs a closure over whole chunks (like Dask's `map_partitions`). The
    /// output schema is found by calling the closure once on an empty chunk,
    /// so it must handle zero rows; every output chunk is checked against it.
    pub fn map_batches<F>(&self, f: F) -> Result<LazyFrame>
    where
        F: Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
    {
        let empty = RecordBatch::new_empty(self.plan.schema());
        let probe =
            parframe_core::row::catch_user_panic(|| f(empty)).map_err(|p| Error::UserCode {
                column: "map_batches".into(),
                row: 0,
                message: format!(
                    "panicked on an empty chunk while finding the output schema: {}",
                    parframe_common::panic_message(p.as_ref())
                ),
            })??;
        self.map_batches_with_schema(probe.schema(), f)
    }

    /// [`LazyFrame::map_batches`] with the output schema given.
    pub fn map_batches_with_schema<F>(&self, schema: SchemaRef, f: F) -> Result<LazyFrame>
    where
        F: Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
    {
        Ok(self.with_plan(LogicalPlan::map_batches(&self.plan, Arc::new(f), schema)?))
    }
}

impl LazyFrame {
    /// Adds window columns (see [`crate::window`]): each expression's
    /// value for every row, over the rows of its partition. Expressions
    /// sharing a partitioning and ordering are computed by one operator in
    /// one pass (their frames may differ); each other window adds one
    /// more. Every expression sees the input columns; a window column
    /// named like an input column replaces it. The output rows come
    /// grouped by partition, in no particular order otherwise.
    ///
    /// Takes window expressions ([`WindowExpr`]: `rank().over(w)`) and
    /// shift, cumulative and rolling expressions
    /// ([`crate::window::SeqExpr`]: `col("v").cum_sum()`,
    /// `col("v").rolling_mean(3).over(["k"])`, in input order unless given
    /// an order; see [`parframe_plan::sequence`]); a list mixing both
    /// kinds converts each with `.into()`.
    ///
    /// ```
    /// use arrow_array::cast::AsArray;
    /// use arrow_array::types::Int64Type;
    /// use parframe_core::{col, table};
    /// use parframe_exec::{Context, SortKey};
    /// use parframe_exec::window::{SequenceExt, Window, rank};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("k" => [1i64, 1, 2], "v" => [5i64, 7, 1])?;
    /// let w = Window::new().partition_by(["k"]).order_by([SortKey::desc("v")]);
    /// let out = ctx.lazy(t.clone()).with_window_columns([rank().over(w)])?.collect()?;
    /// assert_eq!(out.column_names(), vec!["k", "v", "rank"]);
    ///
    /// let out = ctx
    ///     .lazy(t)
    ///     .with_window_columns([col("v").cum_sum().alias("running"), col("v").shift(1)])?
    ///     .collect()?;
    /// assert_eq!(out.column_names(), vec!["k", "v", "running"]);
    /// let ints = |c: &str| -> parframe_common::Result<Vec<Option<i64>>> {
    ///     let a = out.column(c)?;
    ///     Ok(a.as_primitive::<Int64Type>().iter().collect())
    /// };
    /// assert_eq!(ints("running")?, vec![Some(5), Some(12), Some(13)]);
    /// assert_eq!(ints("v")?, vec![None, Some(5), Some(7)]);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn with_window_columns<C: Into<crate::window::WindowColumn>>(
        &self,
        exprs: impl IntoIterator<Item = C>,
    ) -> Result<LazyFrame> {
        use crate::window::WindowColumn;
        let columns: Vec<WindowColumn> = exprs.into_iter().map(Into::into).collect();
        let mut names: Vec<String> = Vec::with_capacity(columns.len());
        for c in &columns {
            let n = match c {
                WindowColumn::Window(e) => e.name.clone(),
                WindowColumn::Sequence(s) => s.output_name(),
            };
            if names.contains(&n) {
                return Err(Error::InvalidArgument(format!(
                    "window columns: '{n}' is produced twice; alias one of them"
                )));
            }
            names.push(n);
        }
        if !columns
            .iter()
            .any(|c| matches!(c, WindowColumn::Sequence(_)))
        {
            return self.window_exprs(columns.into_iter().filter_map(|c| match c {
                WindowColumn::Window(e) => Some(e),
                WindowColumn::Sequence(_) => None,
            }));
        }
        // Shift/cumulative/rolling expressions lower onto window
        // expressions over hidden columns: hidden inputs first, the windows
        // (with the plain window expressions, sharing operators where the
        // windows agree), then the outputs, then the hidden columns go.
        let schema = self.plan.schema();
        let replaced: Vec<String> = columns
            .iter()
            .filter_map(|c| match c {
                WindowColumn::Window(e) => Some(e.name.clone()),
                WindowColumn::Sequence(_) => None,
            })
            .collect();
        let (mut inputs, mut windows, mut outputs, mut hidden) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Plain window expressions first, the lowered ones after them.
        let mut lowered: Vec<WindowExpr> = Vec::new();
        for (tag, c) in columns.into_iter().enumerate() {
            match c {
                WindowColumn::Window(e) => windows.push(e),
                WindowColumn::Sequence(s) => {
                    let copy = s
                        .input_column()
                        .is_some_and(|c| replaced.iter().any(|r| r == c));
                    let l = s.lower(tag, &schema, copy)?;
                    inputs.extend(l.inputs.into_iter().map(|(n, e)| e.alias(n)));
                    lowered.extend(l.windows);
                    outputs.push(l.output);
                    hidden.extend(l.hidden);
                }
            }
        }
        let plain_windows = windows.len();
        windows.extend(lowered);
        let mut lf = self.clone();
        // One window operator sees the input as it comes, so input order
        // holds for every expression when all windows agree. Several
        // windows run one after the other, each seeing the previous one's
        // output (grouped by its partitions): then a hidden row index
        // orders (or breaks ties of) the sequence expressions' windows.
        let mut distinct: Vec<&Window> = Vec::new();
        for w in windows.iter().map(|e| &e.window) {
            if !distinct.iter().any(|d| d.same_ordering(w)) {
                distinct.push(w);
            }
        }
        if distinct.len() > 1 {
            let row = "__pf_seq_row";
            lf = lf.with_row_index(row, 0)?;
            for e in windows.iter_mut().skip(plain_windows) {
                // A `RANGE` frame (rolling over a span) takes whole peer
                // groups, so ties need no order, and its single order key
                // carries the offsets.
                let range = e
                    .window
                    .frame
                    .as_ref()
                    .is_some_and(|f| f.units == parframe_plan::window::FrameUnits::Range);
                if !range {
                    e.window.order_by.push(SortKey::asc(row));
                }
            }
            hidden.push(row.to_string());
        }
        if !inputs.is_empty() {
            lf = lf.with_columns(inputs)?;
        }
        if !windows.is_empty() {
            lf = lf.window_exprs(windows)?;
        }
        lf.with_columns(outputs)?.drop(hidden)
    }

    /// [`LazyFrame::with_window_columns`] for window expressions only.
    fn window_exprs(&self, exprs: impl IntoIterator<Item = WindowExpr>) -> Result<LazyFrame> {
        let mut exprs: Vec<WindowExpr> = exprs.into_iter().collect();
        // Aggregates over expressions read hidden columns computed first
        // (and dropped at the end); numeric aggregates of booleans read them
        // as Int64, as in `GroupBy::agg`.
        let schema = self.plan.schema();
        let mut hidden: Vec<(String, Expr)> = Vec::new();
        for e in &mut exprs {
            let mut inputs = std::mem::take(&mut e.inputs);
            if let parframe_plan::window::WindowFunction::Aggregate(f) = &e.func
                && let Some((f, cast)) = crate::agg::boolean_as_int(f, &inputs, &schema)?
            {
                e.func = parframe_plan::window::WindowFunction::Aggregate(f);
                inputs = cast;
            }
            for (n, x) in inputs {
                if !hidden.iter().any(|(h, _)| h == &n) {
                    hidden.push((n, x));
                }
            }
        }
        if !hidden.is_empty() {
            let names: Vec<String> = hidden.iter().map(|(n, _)| n.clone()).collect();
            let with = self.with_columns(hidden.into_iter().map(|(n, e)| e.alias(n)))?;
            let out = with.window_exprs(exprs)?;
            let keep: Vec<Expr> = out
                .schema()
                .fields()
                .iter()
                .filter(|f| !names.contains(f.name()))
                .map(|f| col(f.name().as_str()))
                .collect();
            return out.select(keep);
        }
        let input = self.plan.schema();
        // Type-check everything against the input, names unique.
        parframe_plan::window::output_schema(&input, &exprs)?;
        let mut groups: Vec<(Window, Vec<WindowExpr>)> = Vec::new();
        for e in exprs {
            match groups.iter_mut().find(|(w, _)| w.same_ordering(&e.window)) {
                Some((_, g)) => g.push(e),
                None => groups.push((e.window.clone(), vec![e])),
            }
        }
        let mut lf = self.clone();
        for (window, exprs) in groups {
            lf = lf.with_plan(LogicalPlan::window(&lf.plan, window, exprs)?);
        }
        Ok(lf)
    }
}

/// A grouping in the making: [`LazyFrame::group_by`] then [`GroupBy::agg`].
#[derive(Clone)]
pub struct GroupBy {
    lf: LazyFrame,
    keys: Vec<Expr>,
    sorted: bool,
}

impl GroupBy {
    /// Sorts the output by the keys (ascending, nulls first). By default
    /// the order of the groups is unspecified.
    pub fn sorted(mut self, yes: bool) -> Self {
        self.sorted = yes;
        self
    }

    /// Alias of [`GroupBy::sorted`], for polars users: the output is sorted
    /// by the keys (not in order of first appearance).
    pub fn maintain_order(self, yes: bool) -> Self {
        self.sorted(yes)
    }

    /// The aggregation: one row per distinct key tuple (null keys form
    /// their own group), with the key columns followed by one column per
    /// aggregate expression. Type-checks now: an aggregate over a column of
    /// the wrong type is [`Error::TypeMismatch`] naming both.
    pub fn agg(&self, aggs: impl IntoIterator<Item = AggExpr>) -> Result<LazyFrame> {
        let aggs: Vec<AggExpr> = aggs.into_iter().collect();
        // Aggregates over expressions read hidden columns computed first.
        let (hidden, aggs) = crate::agg::lower(&aggs, &self.lf.schema())?;
        let mut lf = self.lf.clone();
        let mut computed = Vec::new();
        let mut keys = Vec::new();
        for k in &self.keys {
            match k {
                Expr::Column(n) => keys.push(n.clone()),
                other => {
                    computed.push(other.clone());
                    keys.push(other.output_name());
                }
            }
        }
        computed.extend(hidden.into_iter().map(|(n, e)| e.alias(n)));
        if !computed.is_empty() {
            lf = lf.with_columns(computed)?;
        }
        let plan = LogicalPlan::aggregate(&lf.plan, keys.clone(), aggs.clone(), self.sorted)?;
        // The physical aggregation's own checks, now rather than when run.
        let mut leaves = Vec::new();
        for a in &aggs {
            a.collect_leaves(&mut leaves);
        }
        Aggregator::new(&keys, &leaves, &lf.plan.schema())?;
        Ok(lf.with_plan(plan))
    }
}

impl LazyFrame {
    /// Groups by key expressions (usually columns: `["a", "b"]` or
    /// `[col("a"), col("b")]`);
    /// finish with [`GroupBy::agg`]. Keys may be integers of any width,
    /// booleans, dates, floats or strings (Utf8, LargeUtf8, Utf8View).
    ///
    /// ```
    /// use parframe_core::{col, table};
    /// use parframe_exec::Context;
    /// use parframe_exec::agg::{count_rows, sum};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("k" => [1i64, 2, 1], "v" => [10i64, 20, 30])?;
    /// let out = ctx.lazy(t).group_by([col("k")]).sorted(true).agg([sum("v"), count_rows()])?.collect()?;
    /// assert_eq!(out.num_rows(), 2);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn group_by<E: IntoExpr>(&self, keys: impl IntoIterator<Item = E>) -> GroupBy {
        GroupBy {
            lf: self.clone(),
            keys: keys.into_iter().map(IntoExpr::into_expr).collect(),
            sorted: false,
        }
    }

    /// Aggregates the whole input into one row (no keys). On empty input
    /// counts are 0 and other aggregates null.
    pub fn agg(&self, aggs: impl IntoIterator<Item = AggExpr>) -> Result<LazyFrame> {
        self.group_by(Vec::<Expr>::new()).agg(aggs)
    }

    /// The distinct rows of the given columns (order unspecified).
    pub fn unique(&self, columns: impl IntoColumnNames) -> Result<LazyFrame> {
        self.group_by(columns.into_column_names().into_iter().map(col))
            .agg([])
    }

    /// The distinct rows (over all columns; order unspecified).
    pub fn distinct(&self) -> Result<LazyFrame> {
        let names: Vec<String> = self
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        self.unique(names)
    }
}

impl Context {
    /// A lazy plan over an in-memory table.
    pub fn lazy(&self, table: Table) -> LazyFrame {
        LazyFrame::from_plan(self.clone(), LogicalPlan::table(table))
    }

    /// A lazy plan over any [`ChunkSource`].
    pub fn scan(&self, source: Arc<dyn ChunkSource>) -> LazyFrame {
        LazyFrame::from_plan(self.clone(), LogicalPlan::scan(source))
    }
}

/// Below this much free stack the optimizer runs on a grown stack.
const OPTIMIZER_RED_ZONE: usize = 32 << 20;
/// The stack the optimizer is given then.
const OPTIMIZER_STACK: usize = 256 << 20;
