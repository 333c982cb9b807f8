//! Logical plans and [`LazyFrame`], the builder users chain operators on.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use parframe_common::{Error, Result, column_not_found};
use parframe_core::row::{ChunkContext, RowFn, RowOptions, check_row_fn, convert_inputs};
use parframe_core::{ChunkSource, Expr, Table, col};

use crate::Context;
use crate::agg::{AggExpr, AggFunc, is_key_type};
use crate::aggregate::run::Aggregator;
use crate::join::JoinSpec;
use crate::sort::{SortKey, check_keys, describe_keys};
use crate::window::{Window, WindowExpr};

/// A node of a logical plan. Every node knows its output schema, computed
/// (and type-checked) when the node is built.
#[derive(Clone)]
pub(crate) enum Plan {
    Scan {
        source: Arc<dyn ChunkSource>,
        schema: SchemaRef,
    },
    Table(Table),
    Select {
        input: Arc<Plan>,
        exprs: Vec<Expr>,
        schema: SchemaRef,
    },
    Filter {
        input: Arc<Plan>,
        predicate: Expr,
    },
    WithColumns {
        input: Arc<Plan>,
        exprs: Vec<Expr>,
        schema: SchemaRef,
    },
    Apply {
        input: Arc<Plan>,
        udf: Arc<dyn RowUdf>,
        schema: SchemaRef,
    },
    MapBatches {
        input: Arc<Plan>,
        udf: Arc<BatchUdf>,
        schema: SchemaRef,
    },
    Limit {
        input: Arc<Plan>,
        n: usize,
    },
    /// Hash aggregation (a pipeline breaker): one row per distinct key tuple.
    Aggregate {
        input: Arc<Plan>,
        keys: Vec<String>,
        aggs: Vec<AggExpr>,
        aggregator: Arc<Aggregator>,
        leaves: Vec<AggFunc>,
        sorted: bool,
        schema: SchemaRef,
    },
    /// Sort (a pipeline breaker), keeping only the first `limit` rows when
    /// given (`top_k`). The output schema is the input's.
    Sort {
        input: Arc<Plan>,
        keys: Vec<SortKey>,
        limit: Option<usize>,
    },
    /// A hash join of two inputs (the build side is a pipeline breaker).
    Join(Arc<JoinSpec>),
    /// The rows of several inputs, one after the other.
    Union {
        inputs: Vec<Arc<Plan>>,
        schema: SchemaRef,
    },
    /// One row per element of a list column.
    Explode {
        input: Arc<Plan>,
        column: String,
        schema: SchemaRef,
    },
    /// Window functions sharing one partitioning and ordering (a pipeline
    /// breaker): the input columns plus one column per expression.
    Window {
        input: Arc<Plan>,
        window: Window,
        exprs: Vec<WindowExpr>,
        schema: SchemaRef,
    },
}

/// The closure behind `map_batches`.
pub(crate) type BatchUdf = dyn Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync;

impl Plan {
    pub(crate) fn schema(&self) -> SchemaRef {
        match self {
            Plan::Scan { schema, .. }
            | Plan::Select { schema, .. }
            | Plan::WithColumns { schema, .. }
            | Plan::Apply { schema, .. }
            | Plan::MapBatches { schema, .. }
            | Plan::Aggregate { schema, .. } => schema.clone(),
            Plan::Table(t) => t.schema().clone(),
            Plan::Join(j) => j.schema.clone(),
            Plan::Union { schema, .. }
            | Plan::Explode { schema, .. }
            | Plan::Window { schema, .. } => schema.clone(),
            Plan::Filter { input, .. } | Plan::Limit { input, .. } | Plan::Sort { input, .. } => {
                input.schema()
            }
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Plan::Scan { source, .. } => format!("Scan {}", source.describe()),
            Plan::Table(t) => format!("Table [{} rows, {} chunks]", t.num_rows(), t.num_chunks()),
            Plan::Select { exprs, .. } => format!("Select {}", join_exprs(exprs)),
            Plan::Filter { predicate, .. } => format!("Filter {predicate}"),
            Plan::WithColumns { exprs, .. } => format!("WithColumns {}", join_exprs(exprs)),
            Plan::Apply { udf, .. } => format!(
                "Apply {} <- closure({}){}",
                udf.output(),
                udf.inputs().join(", "),
                if udf.options().skip_nulls {
                    " skip_nulls"
                } else {
                    ""
                }
            ),
            Plan::MapBatches { .. } => "MapBatches <closure>".to_string(),
            Plan::Limit { n, .. } => format!("Limit {n}"),
            Plan::Aggregate {
                keys, aggs, sorted, ..
            } => format!(
                "Aggregate keys=[{}] aggs=[{}]{}",
                keys.join(", "),
                aggs.iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                if *sorted { " sorted" } else { "" }
            ),
            Plan::Sort {
                keys, limit: None, ..
            } => format!("Sort [{}]", describe_keys(keys)),
            Plan::Sort {
                keys,
                limit: Some(k),
                ..
            } => format!("TopK {k} [{}]", describe_keys(keys)),
            Plan::Join(j) => j.describe(),
            Plan::Union { inputs, .. } => format!("Union [{} inputs]", inputs.len()),
            Plan::Explode { column, .. } => format!("Explode {column}"),
            Plan::Window { window, exprs, .. } => format!(
                "Window {window} [{}]",
                exprs
                    .iter()
                    .map(|e| format!("{} AS {}", e.func, e.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    pub(crate) fn input(&self) -> Option<&Arc<Plan>> {
        match self {
            // Joins have two inputs: see `JoinSpec`.
            Plan::Scan { .. } | Plan::Table(_) | Plan::Join(_) | Plan::Union { .. } => None,
            Plan::Explode { input, .. } | Plan::Window { input, .. } => Some(input),
            Plan::Select { input, .. }
            | Plan::Filter { input, .. }
            | Plan::WithColumns { input, .. }
            | Plan::Apply { input, .. }
            | Plan::MapBatches { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Sort { input, .. } => Some(input),
        }
    }

    /// Calls `f` on this node and every node below it, in the order
    /// `explain` prints them.
    pub(crate) fn visit(&self, f: &mut dyn FnMut(&Plan)) {
        f(self);
        for i in self.inputs() {
            i.visit(f);
        }
    }

    /// The nodes this one reads, in `explain` order.
    pub(crate) fn inputs(&self) -> Vec<&Plan> {
        match self {
            Plan::Join(j) => vec![&*j.left, &*j.right],
            _ => self.input().map(|i| &**i).into_iter().collect(),
        }
    }

    /// `explain` into `out` from `depth` on, with `note()` (called once per
    /// node, in order) appended to each node's line in brackets.
    pub(crate) fn explain_with(
        &self,
        out: &mut String,
        depth: usize,
        note: &mut dyn FnMut() -> Option<String>,
    ) {
        self.explain_into(out, depth, None, note);
    }

    fn explain_into(
        &self,
        out: &mut String,
        depth: usize,
        projection: Option<&[String]>,
        note: &mut dyn FnMut() -> Option<String>,
    ) {
        let _ = write!(out, "{}{}", "  ".repeat(depth), self.describe());
        if let (Plan::Scan { .. }, Some(p)) = (self, projection) {
            let _ = write!(out, " columns=[{}]", p.join(", "));
        }
        if let Some(n) = note() {
            let _ = write!(out, "  [{n}]");
        }
        out.push('\n');
        if let Some(i) = self.input() {
            let needed = self.columns_needed_from_input(projection.map(|p| p.to_vec()));
            i.explain_into(out, depth + 1, needed.as_deref(), note);
        }
        if let Plan::Join(j) = self {
            let (l, r) = j.needed_inputs(projection);
            j.left.explain_into(out, depth + 1, l.as_deref(), note);
            j.right.explain_into(out, depth + 1, r.as_deref(), note);
        }
        if let Plan::Union { inputs, .. } = self {
            for i in inputs {
                i.explain_into(out, depth + 1, projection, note);
            }
        }
    }

    /// Given the columns needed from this node's output (`None` = all),
    /// the columns it needs from its input (`None` = all). This is the
    /// projection pushdown rule, one node at a time.
    pub(crate) fn columns_needed_from_input(
        &self,
        needed: Option<Vec<String>>,
    ) -> Option<Vec<String>> {
        let input_schema = self.input()?.schema();
        let mut set: Vec<String> = Vec::new();
        let mut add = |n: &str| {
            if !set.iter().any(|s| s == n) {
                set.push(n.to_string());
            }
        };
        match self {
            Plan::Scan { .. } | Plan::Table(_) | Plan::Join(_) | Plan::Union { .. } => {
                return None;
            }
            Plan::Explode { column, .. } => {
                let needed = needed?;
                needed.iter().for_each(|c| add(c));
                add(column);
            }
            Plan::Select { exprs, .. } => {
                for e in exprs {
                    if needed.as_ref().is_none_or(|n| n.contains(&e.output_name())) {
                        e.columns().iter().for_each(|c| add(c));
                    }
                }
            }
            Plan::Filter { predicate, .. } => {
                let needed = needed?;
                needed.iter().for_each(|c| add(c));
                predicate.columns().iter().for_each(|c| add(c));
            }
            Plan::Sort { keys, .. } => {
                let needed = needed?;
                needed.iter().for_each(|c| add(c));
                keys.iter().for_each(|k| add(&k.column));
            }
            Plan::Limit { .. } => return needed,
            Plan::WithColumns { exprs, .. } => {
                let needed = needed?;
                let produced: HashSet<String> = exprs.iter().map(|e| e.output_name()).collect();
                for n in &needed {
                    if !produced.contains(n) {
                        add(n);
                    }
                }
                for e in exprs {
                    if needed.contains(&e.output_name()) {
                        e.columns().iter().for_each(|c| add(c));
                    }
                }
            }
            Plan::Apply { udf, .. } => {
                let needed = needed?;
                for n in &needed {
                    if n != udf.output() {
                        add(n);
                    }
                }
                udf.inputs().iter().for_each(|c| add(c));
            }
            Plan::MapBatches { .. } => return None,
            Plan::Window { exprs, .. } => {
                let needed = needed?;
                for n in &needed {
                    if !exprs.iter().any(|e| &e.name == n) {
                        add(n);
                    }
                }
                for e in exprs {
                    e.columns().iter().for_each(|c| add(c));
                }
            }
            Plan::Aggregate { keys, leaves, .. } => {
                keys.iter().for_each(|c| add(c));
                leaves.iter().flat_map(|l| l.columns()).for_each(&mut add);
                if set.is_empty() {
                    // count_rows() alone: keep one column so chunks keep their rows.
                    if let Some(f) = input_schema.fields().first() {
                        set.push(f.name().clone());
                    }
                }
            }
        }
        // Keep input order so scans read columns in file order.
        let order: Vec<String> = input_schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| set.contains(n))
            .collect();
        Some(order)
    }
}

fn join_exprs(exprs: &[Expr]) -> String {
    exprs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row closure bound to its columns, type-erased for the plan.
pub(crate) trait RowUdf: Send + Sync {
    fn inputs(&self) -> &[String];
    fn output(&self) -> &str;
    fn options(&self) -> &RowOptions;
    /// Computes the output column for one chunk whose first row is row
    /// `row_offset` of the operator's input.
    fn call(&self, batch: &RecordBatch, row_offset: u64) -> Result<ArrayRef>;
}

struct BoundRowFn<M, F> {
    f: F,
    inputs: Vec<String>,
    output: String,
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

/// Columns given to an operator: `["a", "b"]`, `vec![...]`, `&[..]`, `"a"`.
pub trait IntoColumnNames {
    /// The names.
    fn into_column_names(self) -> Vec<String>;
}

impl<S: AsRef<str>, const N: usize> IntoColumnNames for [S; N] {
    fn into_column_names(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_string()).collect()
    }
}
impl<S: AsRef<str>> IntoColumnNames for &[S] {
    fn into_column_names(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_string()).collect()
    }
}
impl<S: AsRef<str>> IntoColumnNames for Vec<S> {
    fn into_column_names(self) -> Vec<String> {
        self.iter().map(|s| s.as_ref().to_string()).collect()
    }
}
impl IntoColumnNames for &str {
    fn into_column_names(self) -> Vec<String> {
        vec![self.to_string()]
    }
}

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
    pub(crate) plan: Arc<Plan>,
}

impl fmt::Debug for LazyFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain())
    }
}

impl LazyFrame {
    pub(crate) fn new(ctx: Context, plan: Plan) -> Self {
        LazyFrame {
            ctx,
            plan: Arc::new(plan),
        }
    }

    fn then(&self, plan: Plan) -> LazyFrame {
        LazyFrame::new(self.ctx.clone(), plan)
    }

    /// The context the plan runs in.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The output schema.
    pub fn schema(&self) -> SchemaRef {
        self.plan.schema()
    }

    /// The plan as indented text, one operator a line, output first; scans
    /// show the columns they will decode after projection pushdown.
    pub fn explain(&self) -> String {
        let mut s = String::new();
        self.plan.explain_into(&mut s, 0, None, &mut || None);
        s
    }

    /// Keeps the given expressions as the columns of the output.
    pub fn select(&self, exprs: impl IntoIterator<Item = Expr>) -> Result<LazyFrame> {
        let exprs: Vec<Expr> = exprs.into_iter().collect();
        let input = self.plan.schema();
        let mut fields: Vec<Field> = Vec::with_capacity(exprs.len());
        for e in &exprs {
            let f = e.to_field(&input)?;
            if fields.iter().any(|g| g.name() == f.name()) {
                return Err(Error::InvalidArgument(format!(
                    "select produces column '{}' twice; alias one of them",
                    f.name()
                )));
            }
            fields.push(f);
        }
        Ok(self.then(Plan::Select {
            input: self.plan.clone(),
            exprs,
            schema: Arc::new(Schema::new(fields)),
        }))
    }

    /// Keeps the rows where `predicate` is true (null counts as false).
    pub fn filter(&self, predicate: Expr) -> Result<LazyFrame> {
        let f = predicate.to_field(&self.plan.schema())?;
        if f.data_type() != &DataType::Boolean {
            return Err(Error::type_mismatch(
                format!("filter {predicate}"),
                format!("the predicate is {}, not Boolean", f.data_type()),
            ));
        }
        Ok(self.then(Plan::Filter {
            input: self.plan.clone(),
            predicate,
        }))
    }

    /// Adds (or replaces, by output name) one column.
    pub fn with_column(&self, expr: Expr) -> Result<LazyFrame> {
        self.with_columns([expr])
    }

    /// Adds (or replaces, by output name) columns; every expression sees the
    /// input, not the other new columns.
    pub fn with_columns(&self, exprs: impl IntoIterator<Item = Expr>) -> Result<LazyFrame> {
        let exprs: Vec<Expr> = exprs.into_iter().collect();
        let input = self.plan.schema();
        let mut fields: Vec<FieldRef> = input.fields().iter().cloned().collect();
        for e in &exprs {
            let f = Arc::new(e.to_field(&input)?);
            match fields.iter().position(|g| g.name() == f.name()) {
                Some(i) => fields[i] = f,
                None => fields.push(f),
            }
        }
        Ok(self.then(Plan::WithColumns {
            input: self.plan.clone(),
            exprs,
            schema: Arc::new(Schema::new(fields)),
        }))
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
        self.then(Plan::Limit {
            input: self.plan.clone(),
            n,
        })
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
    pub fn sort(&self, keys: impl IntoIterator<Item = SortKey>) -> Result<LazyFrame> {
        self.sort_limit(keys.into_iter().collect(), None)
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
    pub fn top_k(&self, keys: impl IntoIterator<Item = SortKey>, k: usize) -> Result<LazyFrame> {
        self.sort_limit(keys.into_iter().collect(), Some(k))
    }

    fn sort_limit(&self, keys: Vec<SortKey>, limit: Option<usize>) -> Result<LazyFrame> {
        check_keys(&self.plan.schema(), &keys)?;
        Ok(self.then(Plan::Sort {
            input: self.plan.clone(),
            keys,
            limit,
        }))
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
        let (casts, out_field) = check_row_fn::<M, F>(&fields, output)?;
        let mut out_fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
        let out_field = Arc::new(out_field);
        match out_fields.iter().position(|g| g.name() == output) {
            Some(i) => out_fields[i] = out_field,
            None => out_fields.push(out_field),
        }
        let udf = BoundRowFn::<M, F> {
            f,
            inputs,
            output: output.to_string(),
            casts,
            options,
            _marker: PhantomData,
        };
        Ok(self.then(Plan::Apply {
            input: self.plan.clone(),
            udf: Arc::new(udf),
            schema: Arc::new(Schema::new(out_fields)),
        }))
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
            catch_unwind(AssertUnwindSafe(|| f(empty))).map_err(|p| Error::UserCode {
                column: "map_batches".into(),
                row: 0,
                message: format!(
                    "panicked on an empty chunk while finding the output schema: {}",
                    panic_text(p.as_ref())
                ),
            })??;
        self.map_batches_with_schema(probe.schema(), f)
    }

    /// [`LazyFrame::map_batches`] with the output schema given.
    pub fn map_batches_with_schema<F>(&self, schema: SchemaRef, f: F) -> Result<LazyFrame>
    where
        F: Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
    {
        Ok(self.then(Plan::MapBatches {
            input: self.plan.clone(),
            udf: Arc::new(f),
            schema,
        }))
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
    /// ```
    /// use parframe_core::table;
    /// use parframe_exec::{Context, SortKey};
    /// use parframe_exec::window::{Window, rank};
    ///
    /// let ctx = Context::builder().threads(2).build()?;
    /// let t = table!("k" => [1i64, 1, 2], "v" => [5i64, 7, 1])?;
    /// let w = Window::new().partition_by(["k"]).order_by([SortKey::desc("v")]);
    /// let out = ctx.lazy(t).with_window_columns([rank().over(w)])?.collect()?;
    /// assert_eq!(out.column_names(), vec!["k", "v", "rank"]);
    /// # Ok::<(), parframe_common::Error>(())
    /// ```
    pub fn with_window_columns(
        &self,
        exprs: impl IntoIterator<Item = WindowExpr>,
    ) -> Result<LazyFrame> {
        let exprs: Vec<WindowExpr> = exprs.into_iter().collect();
        let input = self.plan.schema();
        // Type-check everything against the input, names unique.
        crate::window::exec::output_schema(&input, &exprs)?;
        let mut groups: Vec<(Window, Vec<WindowExpr>)> = Vec::new();
        for e in exprs {
            match groups.iter_mut().find(|(w, _)| w.same_ordering(&e.window)) {
                Some((_, g)) => g.push(e),
                None => groups.push((e.window.clone(), vec![e])),
            }
        }
        let mut lf = self.clone();
        for (window, exprs) in groups {
            let schema = crate::window::exec::output_schema(&lf.plan.schema(), &exprs)?;
            lf = lf.then(Plan::Window {
                input: lf.plan.clone(),
                window,
                exprs,
                schema,
            });
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
        if !computed.is_empty() {
            lf = lf.with_columns(computed)?;
        }
        let input = lf.plan.schema();
        let mut fields: Vec<Field> = Vec::new();
        let mut push = |f: Field| -> Result<()> {
            if fields.iter().any(|g| g.name() == f.name()) {
                return Err(Error::InvalidArgument(format!(
                    "the aggregation produces column '{}' twice; alias one of them",
                    f.name()
                )));
            }
            fields.push(f);
            Ok(())
        };
        for k in &keys {
            let f = input.field_with_name(k).map_err(|_| {
                column_not_found(k, input.fields().iter().map(|f| f.name().as_str()))
            })?;
            if !is_key_type(f.data_type()) {
                return Err(Error::type_mismatch(
                    format!("group_by({k})"),
                    format!(
                        "key '{k}' is {}; keys must be integers, floats, booleans, dates or strings",
                        f.data_type()
                    ),
                ));
            }
            push(Field::new(k, f.data_type().clone(), true))?;
        }
        let mut leaves = Vec::new();
        for a in &aggs {
            let t = a.output_type(&input)?;
            push(Field::new(a.output_name(), t, true))?;
            a.collect_leaves(&mut leaves);
        }
        let aggregator = Aggregator::new(&keys, &leaves, &input)?;
        Ok(lf.then(Plan::Aggregate {
            input: lf.plan.clone(),
            keys,
            aggs,
            aggregator: Arc::new(aggregator),
            leaves,
            sorted: self.sorted,
            schema: Arc::new(Schema::new(fields)),
        }))
    }
}

impl LazyFrame {
    /// Groups by key expressions (usually columns: `[col("a"), col("b")]`);
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
    pub fn group_by(&self, keys: impl IntoIterator<Item = Expr>) -> GroupBy {
        GroupBy {
            lf: self.clone(),
            keys: keys.into_iter().collect(),
            sorted: false,
        }
    }

    /// Aggregates the whole input into one row (no keys). On empty input
    /// counts are 0 and other aggregates null.
    pub fn agg(&self, aggs: impl IntoIterator<Item = AggExpr>) -> Result<LazyFrame> {
        self.group_by([]).agg(aggs)
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

pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

impl Context {
    /// A lazy plan over an in-memory table.
    pub fn lazy(&self, table: Table) -> LazyFrame {
        LazyFrame::new(self.clone(), Plan::Table(table))
    }

    /// A lazy plan over any [`ChunkSource`].
    pub fn scan(&self, source: Arc<dyn ChunkSource>) -> LazyFrame {
        let schema = source.schema();
        LazyFrame::new(self.clone(), Plan::Scan { source, schema })
    }
}
