//! The logical plan: [`LogicalPlan`] nodes, each with a stable [`NodeId`]
//! and an output schema derived (and type-checked) when the node is built.
//!
//! Nodes are immutable and shared (`Arc`); optimizer rules build new trees,
//! reusing untouched subtrees. A rewritten node keeps its id when it still
//! stands for the same operator the user wrote (a filter moved below a
//! join keeps the filter's id), so statistics of a run can be related to
//! what was written.
//!
//! # How to add a node
//! Add a variant to [`PlanNode`], its schema rule to `derive_schema`, its
//! inputs to [`LogicalPlan::inputs`] / [`LogicalPlan::with_inputs`], its
//! line to `describe` (in `explain.rs`), its estimate to `stats.rs`, then
//! teach each rule in `optimizer/` what it may do with it (the compiler
//! points at every `match`) and lower it in `parframe-exec`'s `physical.rs`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};
use parframe_common::{Error, Result, column_not_found};
use parframe_core::{ChunkSource, Expr, Table};

use crate::agg::{AggExpr, is_key_type};
use crate::join::{
    BuildSide, JoinColumn, JoinOptions, JoinType, OutCol, check_build_side, join_columns,
    join_layout,
};
use crate::sort::{SortKey, check_keys};
use crate::udf::{BatchUdf, RowUdf};
use crate::window::{Window, WindowExpr};

/// The identity of a plan node, unique in the process. Rules that move or
/// rewrite a node keep its id; nodes a rule creates get new ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u64);

impl NodeId {
    /// A fresh id.
    pub fn fresh() -> NodeId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NodeId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A scan of a [`ChunkSource`] with what the optimizer pushed into it.
#[derive(Clone)]
pub struct ScanNode {
    /// The source.
    pub source: Arc<dyn ChunkSource>,
    /// The columns to produce (names, in source order); `None`: all.
    pub projection: Option<Vec<String>>,
    /// Conjuncts every produced row satisfies, evaluated per chunk as it is
    /// read (they may use columns outside `projection`).
    pub filters: Vec<Expr>,
    /// At most this many rows (after `filters`).
    pub fetch: Option<usize>,
}

/// An in-memory table, optionally projected.
#[derive(Clone)]
pub struct TableNode {
    /// The table.
    pub table: Table,
    /// The columns to produce (names, in table order); `None`: all.
    pub projection: Option<Vec<String>>,
}

/// A join of two inputs.
#[derive(Clone)]
pub struct JoinNode {
    /// The left input (the probe side unless the build side says otherwise).
    pub left: Arc<LogicalPlan>,
    /// The right input.
    pub right: Arc<LogicalPlan>,
    /// Key columns of the left input (empty for a cross join).
    pub left_on: Vec<String>,
    /// Key columns of the right input, pairwise equal to `left_on`.
    pub right_on: Vec<String>,
    /// Which rows are kept.
    pub how: JoinType,
    /// Suffix, validation, build side (as the user asked), key coalescing.
    pub options: JoinOptions,
    /// The build side the optimizer chose when the options say
    /// [`BuildSide::Auto`] (`None`: not planned; see [`JoinNode::builds_left`]).
    pub planned_build: Option<BuildSide>,
    /// The output columns: where each comes from, and its name.
    pub columns: Vec<(JoinColumn, String)>,
    /// A residual condition a pair of rows must also satisfy to match
    /// (part of the join condition: for outer joins a row failing it is
    /// kept unmatched, not dropped).
    pub filter: Option<JoinFilter>,
    /// `columns` as indices into the current input schemas.
    pub layout: Vec<OutCol>,
    /// The output schema (the node's schema).
    pub schema: SchemaRef,
}

impl JoinNode {
    /// The columns each input must produce for the output columns `needed`
    /// (`None`: all): the keys, the residual's columns, plus what the output
    /// takes from that side, in input order. An input keeps at least one column so chunks keep
    /// their row counts (cross joins).
    pub fn needed_inputs(
        &self,
        needed: Option<&[String]>,
    ) -> (Option<Vec<String>>, Option<Vec<String>>) {
        let Some(needed) = needed else {
            return (None, None);
        };
        let ls = self.left.schema();
        let rs = self.right.schema();
        let mut l = vec![false; ls.fields().len()];
        let mut r = vec![false; rs.fields().len()];
        for k in &self.left_on {
            if let Ok(i) = ls.index_of(k) {
                l[i] = true;
            }
        }
        for k in &self.right_on {
            if let Ok(i) = rs.index_of(k) {
                r[i] = true;
            }
        }
        // The residual reads its columns from the pairs, output or not.
        for (c, _) in self.filter.iter().flat_map(|f| &f.columns) {
            match c {
                JoinColumn::Left(n) => {
                    if let Ok(i) = ls.index_of(n) {
                        l[i] = true;
                    }
                }
                JoinColumn::Right(n) => {
                    if let Ok(i) = rs.index_of(n) {
                        r[i] = true;
                    }
                }
                JoinColumn::Key(a, b) => {
                    if let (Ok(i), Ok(j)) = (ls.index_of(a), rs.index_of(b)) {
                        l[i] = true;
                        r[j] = true;
                    }
                }
            }
        }
        for (f, c) in self.schema.fields().iter().zip(&self.layout) {
            if !needed.iter().any(|n| n == f.name()) {
                continue;
            }
            match *c {
                OutCol::Left(i) => l[i] = true,
                OutCol::Right(i) => r[i] = true,
                OutCol::Key(a, b) => {
                    l[a] = true;
                    r[b] = true;
                }
            }
        }
        if !l.iter().any(|&x| x) && !l.is_empty() {
            l[0] = true;
        }
        if !r.iter().any(|&x| x) && !r.is_empty() {
            r[0] = true;
        }
        let names = |s: &Schema, keep: &[bool]| -> Vec<String> {
            s.fields()
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(f, _)| f.name().clone())
                .collect()
        };
        (Some(names(&ls, &l)), Some(names(&rs, &r)))
    }

    /// Whether the left input is the build side: as the options say, else
    /// as the optimizer planned, else the right side (the left one for
    /// right joins).
    pub fn builds_left(&self) -> bool {
        match (self.options.build(), self.planned_build) {
            (BuildSide::Left, _) | (BuildSide::Auto, Some(BuildSide::Left)) => true,
            (BuildSide::Right, _) | (BuildSide::Auto, Some(BuildSide::Right)) => false,
            (BuildSide::Auto, _) => self.how == JoinType::Right,
        }
    }
}

/// The residual condition of a join: an expression over input columns of
/// both sides, under the names it uses.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinFilter {
    /// The condition (Boolean).
    pub expr: Expr,
    /// The columns it reads: which input column each name is.
    pub columns: Vec<(JoinColumn, String)>,
}

impl JoinFilter {
    /// A filter over the pair schema of `left` and `right`: every left
    /// column under its name, then every right column under its name, with
    /// `suffix` appended while it clashes with a left one.
    pub fn over_pair(expr: Expr, left: &Schema, right: &Schema, suffix: &str) -> Result<Self> {
        let mut names: Vec<(JoinColumn, String)> = left
            .fields()
            .iter()
            .map(|f| (JoinColumn::Left(f.name().clone()), f.name().clone()))
            .collect();
        for f in right.fields() {
            let mut name = f.name().clone();
            while names.iter().any(|(_, g)| g == &name) {
                name.push_str(suffix);
            }
            names.push((JoinColumn::Right(f.name().clone()), name));
        }
        let used = expr.columns();
        for c in &used {
            if !names.iter().any(|(_, n)| n == c) {
                return Err(column_not_found(c, names.iter().map(|(_, n)| n.as_str())));
            }
        }
        let columns = names
            .into_iter()
            .filter(|(_, n)| used.contains(n))
            .collect();
        Ok(JoinFilter { expr, columns })
    }

    /// The schema the condition is evaluated over (its columns in order),
    /// from the current input schemas.
    pub fn schema(&self, left: &Schema, right: &Schema) -> Result<SchemaRef> {
        let mut fields = Vec::with_capacity(self.columns.len());
        for (c, name) in &self.columns {
            let (s, n) = match c {
                JoinColumn::Left(n) | JoinColumn::Key(n, _) => (left, n),
                JoinColumn::Right(n) => (right, n),
            };
            let f = s
                .field_with_name(n)
                .map_err(|_| column_not_found(n, s.fields().iter().map(|f| f.name().as_str())))?;
            fields.push(f.clone().with_name(name).with_nullable(true));
        }
        Ok(Arc::new(Schema::new(fields)))
    }
}

/// The operators of a logical plan.
#[derive(Clone)]
pub enum PlanNode {
    /// Reads a source.
    Scan(ScanNode),
    /// Reads an in-memory table.
    Table(TableNode),
    /// Keeps the given expressions as the output columns.
    Select {
        /// The input.
        input: Arc<LogicalPlan>,
        /// One expression per output column.
        exprs: Vec<Expr>,
    },
    /// Keeps the rows where the predicate is true.
    Filter {
        /// The input.
        input: Arc<LogicalPlan>,
        /// A Boolean expression (null counts as false).
        predicate: Expr,
    },
    /// Adds or replaces columns (each expression sees the input only).
    WithColumns {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The new columns.
        exprs: Vec<Expr>,
    },
    /// A row closure adding or replacing one column.
    Apply {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The closure.
        udf: Arc<dyn RowUdf>,
    },
    /// A closure over whole chunks, with a declared output schema.
    MapBatches {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The closure.
        udf: Arc<BatchUdf>,
        /// Its output schema.
        schema: SchemaRef,
    },
    /// Skips `skip` rows, then keeps at most `fetch` rows (`None`: all).
    Limit {
        /// The input.
        input: Arc<LogicalPlan>,
        /// Rows skipped first (SQL `OFFSET`).
        skip: usize,
        /// Rows kept after that (SQL `LIMIT`).
        fetch: Option<usize>,
    },
    /// Hash aggregation: one row per distinct key tuple.
    Aggregate {
        /// The input.
        input: Arc<LogicalPlan>,
        /// Group-by key columns.
        keys: Vec<String>,
        /// Aggregate expressions, one output column each.
        aggs: Vec<AggExpr>,
        /// Whether the output is sorted by the keys.
        sorted: bool,
    },
    /// A stable sort, keeping the first `fetch` rows when given (top-k).
    Sort {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The keys.
        keys: Vec<SortKey>,
        /// At most this many rows.
        fetch: Option<usize>,
    },
    /// A join (cross joins are joins of type [`JoinType::Cross`]).
    Join(JoinNode),
    /// The rows of several inputs, one after the other.
    Union {
        /// The inputs (same column names and types).
        inputs: Vec<Arc<LogicalPlan>>,
    },
    /// One row per element of a list column.
    Explode {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The list column.
        column: String,
    },
    /// Window functions sharing one partitioning and ordering (their
    /// frames may differ): the input's columns plus one column per
    /// expression (see [`crate::window::output_schema`]). Output rows come
    /// grouped by partition, in no particular order otherwise.
    Window {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The partitioning and ordering every expression shares.
        window: Window,
        /// The window expressions, one output column each.
        exprs: Vec<WindowExpr>,
        /// A top-k per partition: set (by the `window_topk` rule) only when
        /// the one expression is `row_number()` and whatever reads the
        /// node keeps only rows numbered `<= fetch`; the node may then
        /// produce just those.
        fetch: Option<usize>,
    },
    /// A row number column first, then the input's columns: `offset`,
    /// `offset + 1`, ... (`Int64`) in the order the input produces rows.
    RowIndex {
        /// The input.
        input: Arc<LogicalPlan>,
        /// The new column's name.
        name: String,
        /// The first row's number.
        offset: i64,
    },
    /// Frames side by side: every input's columns, row `i` of the output
    /// made of row `i` of each input. The inputs must have the same number
    /// of rows (an error when they do not) and distinct column names.
    HConcat {
        /// The inputs.
        inputs: Vec<Arc<LogicalPlan>>,
    },
}

/// A node of a logical plan with its id and output schema.
#[derive(Clone)]
pub struct LogicalPlan {
    id: NodeId,
    node: PlanNode,
    schema: SchemaRef,
}

impl fmt::Debug for LogicalPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::explain::explain(self))
    }
}

impl LogicalPlan {
    /// A node with a fresh id; derives and checks its schema.
    pub fn new(node: PlanNode) -> Result<Arc<LogicalPlan>> {
        Self::with_id(NodeId::fresh(), node)
    }

    /// A node with the given id (a rewrite of that node).
    pub fn with_id(id: NodeId, mut node: PlanNode) -> Result<Arc<LogicalPlan>> {
        let schema = derive_schema(&mut node)?;
        Ok(Arc::new(LogicalPlan { id, node, schema }))
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The operator.
    pub fn node(&self) -> &PlanNode {
        &self.node
    }

    /// The output schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The nodes this one reads, in `explain` order.
    pub fn inputs(&self) -> Vec<&Arc<LogicalPlan>> {
        match &self.node {
            PlanNode::Scan(_) | PlanNode::Table(_) => vec![],
            PlanNode::Select { input, .. }
            | PlanNode::Filter { input, .. }
            | PlanNode::WithColumns { input, .. }
            | PlanNode::Apply { input, .. }
            | PlanNode::MapBatches { input, .. }
            | PlanNode::Limit { input, .. }
            | PlanNode::Aggregate { input, .. }
            | PlanNode::Sort { input, .. }
            | PlanNode::Explode { input, .. }
            | PlanNode::RowIndex { input, .. }
            | PlanNode::Window { input, .. } => vec![input],
            PlanNode::Join(j) => vec![&j.left, &j.right],
            PlanNode::Union { inputs } | PlanNode::HConcat { inputs } => inputs.iter().collect(),
        }
    }

    /// The single input of a one-input node.
    pub fn input(&self) -> Option<&Arc<LogicalPlan>> {
        match &self.node {
            PlanNode::Join(_) | PlanNode::Union { .. } | PlanNode::HConcat { .. } => None,
            _ => self.inputs().into_iter().next(),
        }
    }

    /// The same node (same id) over new inputs (as many as
    /// [`inputs`](Self::inputs) returns, in that order); its schema is
    /// derived again.
    pub fn with_inputs(&self, inputs: Vec<Arc<LogicalPlan>>) -> Result<Arc<LogicalPlan>> {
        let mut node = self.node.clone();
        let mut it = inputs.into_iter();
        let mut next = || {
            it.next()
                .ok_or_else(|| Error::InvalidArgument("internal: too few plan inputs".into()))
        };
        match &mut node {
            PlanNode::Scan(_) | PlanNode::Table(_) => {}
            PlanNode::Select { input, .. }
            | PlanNode::Filter { input, .. }
            | PlanNode::WithColumns { input, .. }
            | PlanNode::Apply { input, .. }
            | PlanNode::MapBatches { input, .. }
            | PlanNode::Limit { input, .. }
            | PlanNode::Aggregate { input, .. }
            | PlanNode::Sort { input, .. }
            | PlanNode::Explode { input, .. }
            | PlanNode::RowIndex { input, .. }
            | PlanNode::Window { input, .. } => *input = next()?,
            PlanNode::Join(j) => {
                j.left = next()?;
                j.right = next()?;
            }
            PlanNode::Union { inputs } | PlanNode::HConcat { inputs } => {
                for i in inputs.iter_mut() {
                    *i = next()?;
                }
            }
        }
        LogicalPlan::with_id(self.id, node)
    }

    /// Calls `f` on this node and every node below it, in `explain` order.
    pub fn visit(&self, f: &mut dyn FnMut(&LogicalPlan)) {
        f(self);
        for i in self.inputs() {
            i.visit(f);
        }
    }

    /// Rebuilds the tree bottom-up, replacing each node by `f(node)` after
    /// its inputs were rewritten.
    pub fn transform_up(
        self: &Arc<Self>,
        f: &mut dyn FnMut(Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>>,
    ) -> Result<Arc<LogicalPlan>> {
        let inputs = self.inputs();
        let node = if inputs.is_empty() {
            Arc::clone(self)
        } else {
            let new: Vec<Arc<LogicalPlan>> = inputs
                .iter()
                .map(|i| i.transform_up(f))
                .collect::<Result<_>>()?;
            if new.iter().zip(&inputs).all(|(a, b)| Arc::ptr_eq(a, b)) {
                Arc::clone(self)
            } else {
                self.with_inputs(new)?
            }
        };
        f(node)
    }

    // ---- builders: each checks its arguments against the input schema ----

    /// A scan of a whole source.
    pub fn scan(source: Arc<dyn ChunkSource>) -> Arc<LogicalPlan> {
        let schema = source.schema();
        Arc::new(LogicalPlan {
            id: NodeId::fresh(),
            node: PlanNode::Scan(ScanNode {
                source,
                projection: None,
                filters: Vec::new(),
                fetch: None,
            }),
            schema,
        })
    }

    /// An in-memory table.
    pub fn table(table: Table) -> Arc<LogicalPlan> {
        let schema = table.schema().clone();
        Arc::new(LogicalPlan {
            id: NodeId::fresh(),
            node: PlanNode::Table(TableNode {
                table,
                projection: None,
            }),
            schema,
        })
    }

    /// `select`.
    pub fn select(input: &Arc<LogicalPlan>, exprs: Vec<Expr>) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::Select {
            input: Arc::clone(input),
            exprs,
        })
    }

    /// `filter`.
    pub fn filter(input: &Arc<LogicalPlan>, predicate: Expr) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::Filter {
            input: Arc::clone(input),
            predicate,
        })
    }

    /// `with_columns`.
    pub fn with_columns(input: &Arc<LogicalPlan>, exprs: Vec<Expr>) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::WithColumns {
            input: Arc::clone(input),
            exprs,
        })
    }

    /// A row closure.
    pub fn apply(input: &Arc<LogicalPlan>, udf: Arc<dyn RowUdf>) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::Apply {
            input: Arc::clone(input),
            udf,
        })
    }

    /// A batch closure with its output schema.
    pub fn map_batches(
        input: &Arc<LogicalPlan>,
        udf: Arc<BatchUdf>,
        schema: SchemaRef,
    ) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::MapBatches {
            input: Arc::clone(input),
            udf,
            schema,
        })
    }

    /// Skip `skip` rows, then keep at most `fetch`.
    pub fn limit(input: &Arc<LogicalPlan>, skip: usize, fetch: Option<usize>) -> Arc<LogicalPlan> {
        Arc::new(LogicalPlan {
            id: NodeId::fresh(),
            node: PlanNode::Limit {
                input: Arc::clone(input),
                skip,
                fetch,
            },
            schema: input.schema(),
        })
    }

    /// An aggregation over key columns.
    pub fn aggregate(
        input: &Arc<LogicalPlan>,
        keys: Vec<String>,
        aggs: Vec<AggExpr>,
        sorted: bool,
    ) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::Aggregate {
            input: Arc::clone(input),
            keys,
            aggs,
            sorted,
        })
    }

    /// A sort, keeping the first `fetch` rows when given.
    pub fn sort(
        input: &Arc<LogicalPlan>,
        keys: Vec<SortKey>,
        fetch: Option<usize>,
    ) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::Sort {
            input: Arc::clone(input),
            keys,
            fetch,
        })
    }

    /// An equi-join (or a cross join with no keys), with an optional
    /// residual condition over the output columns.
    pub fn join(
        left: &Arc<LogicalPlan>,
        right: &Arc<LogicalPlan>,
        left_on: Vec<String>,
        right_on: Vec<String>,
        how: JoinType,
        options: JoinOptions,
        filter: Option<JoinFilter>,
    ) -> Result<Arc<LogicalPlan>> {
        let columns = join_columns(
            &left.schema(),
            &right.schema(),
            &left_on,
            &right_on,
            how,
            &options,
        )?;
        Self::new(PlanNode::Join(JoinNode {
            left: Arc::clone(left),
            right: Arc::clone(right),
            left_on,
            right_on,
            how,
            options,
            planned_build: None,
            columns,
            filter,
            layout: Vec::new(),
            schema: Arc::new(Schema::empty()),
        }))
    }

    /// `UNION ALL` of inputs with the same columns.
    pub fn union(inputs: Vec<Arc<LogicalPlan>>) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::Union { inputs })
    }

    /// Window columns over `input`; every expression must partition and
    /// order like `window` (see [`Window::same_ordering`]).
    pub fn window(
        input: &Arc<LogicalPlan>,
        window: Window,
        exprs: Vec<WindowExpr>,
    ) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::Window {
            input: Arc::clone(input),
            window,
            exprs,
            fetch: None,
        })
    }

    /// A row number column `name` first (see [`PlanNode::RowIndex`]).
    pub fn row_index(
        input: &Arc<LogicalPlan>,
        name: &str,
        offset: i64,
    ) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::RowIndex {
            input: Arc::clone(input),
            name: name.to_string(),
            offset,
        })
    }

    /// Frames side by side (see [`PlanNode::HConcat`]).
    pub fn hconcat(inputs: Vec<Arc<LogicalPlan>>) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::HConcat { inputs })
    }

    /// `explode` of a list column.
    pub fn explode(input: &Arc<LogicalPlan>, column: &str) -> Result<Arc<LogicalPlan>> {
        Self::new(PlanNode::Explode {
            input: Arc::clone(input),
            column: column.to_string(),
        })
    }
}

fn project_names(schema: &Schema, names: &[String]) -> Result<SchemaRef> {
    let idx = names
        .iter()
        .map(|n| {
            schema
                .index_of(n)
                .map_err(|_| column_not_found(n, schema.fields().iter().map(|f| f.name().as_str())))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(schema.project(&idx)?))
}

fn check_boolean(e: &Expr, schema: &Schema, what: &str) -> Result<()> {
    let f = e.to_field(schema)?;
    if f.data_type() != &DataType::Boolean {
        return Err(Error::type_mismatch(
            format!("{what} {e}"),
            format!("the predicate is {}, not Boolean", f.data_type()),
        ));
    }
    Ok(())
}

/// The output schema of `node`, with every check of its arguments. Join
/// nodes also get their index layout here.
fn derive_schema(node: &mut PlanNode) -> Result<SchemaRef> {
    Ok(match node {
        PlanNode::Scan(s) => {
            let full = s.source.schema();
            for f in &s.filters {
                check_boolean(f, &full, "filter")?;
            }
            match &s.projection {
                None => full,
                Some(p) => project_names(&full, p)?,
            }
        }
        PlanNode::Table(t) => match &t.projection {
            None => t.table.schema().clone(),
            Some(p) => project_names(t.table.schema(), p)?,
        },
        PlanNode::Select { input, exprs } => {
            let input = input.schema();
            let mut fields: Vec<Field> = Vec::with_capacity(exprs.len());
            for e in exprs.iter() {
                let f = e.to_field(&input)?;
                if fields.iter().any(|g| g.name() == f.name()) {
                    return Err(Error::InvalidArgument(format!(
                        "select produces column '{}' twice; alias one of them",
                        f.name()
                    )));
                }
                fields.push(f);
            }
            Arc::new(Schema::new(fields))
        }
        PlanNode::Filter { input, predicate } => {
            let s = input.schema();
            check_boolean(predicate, &s, "filter")?;
            s
        }
        PlanNode::WithColumns { input, exprs } => {
            let input = input.schema();
            let mut fields: Vec<FieldRef> = input.fields().iter().cloned().collect();
            for e in exprs.iter() {
                let f = Arc::new(e.to_field(&input)?);
                match fields.iter().position(|g| g.name() == f.name()) {
                    Some(i) => fields[i] = f,
                    None => fields.push(f),
                }
            }
            Arc::new(Schema::new(fields))
        }
        PlanNode::Apply { input, udf } => {
            let schema = input.schema();
            for n in udf.inputs() {
                if schema.index_of(n).is_err() {
                    return Err(column_not_found(
                        n,
                        schema.fields().iter().map(|f| f.name().as_str()),
                    ));
                }
            }
            let mut fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
            let out = Arc::new(udf.field().clone());
            match fields.iter().position(|g| g.name() == udf.output()) {
                Some(i) => fields[i] = out,
                None => fields.push(out),
            }
            Arc::new(Schema::new(fields))
        }
        PlanNode::MapBatches { schema, .. } => schema.clone(),
        PlanNode::Limit { input, .. } => input.schema(),
        PlanNode::Aggregate {
            input, keys, aggs, ..
        } => {
            let input = input.schema();
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
            for k in keys.iter() {
                let f = input.field_with_name(k).map_err(|_| {
                    column_not_found(k, input.fields().iter().map(|f| f.name().as_str()))
                })?;
                if !is_key_type(f.data_type()) {
                    return Err(Error::type_mismatch(
                        format!("group_by({k})"),
                        format!(
                            "key '{k}' is {}; keys must be integers, floats, decimals, booleans, dates or strings",
                            f.data_type()
                        ),
                    ));
                }
                push(Field::new(k, f.data_type().clone(), true))?;
            }
            for a in aggs.iter() {
                let t = a.output_type(&input)?;
                push(Field::new(a.output_name(), t, true))?;
            }
            Arc::new(Schema::new(fields))
        }
        PlanNode::Sort { input, keys, .. } => {
            let s = input.schema();
            check_keys(&s, keys)?;
            s
        }
        PlanNode::Join(j) => {
            check_build_side(j.how, j.options.build())?;
            if let Some(b) = j.planned_build {
                check_build_side(j.how, b)?;
            }
            let (ls, rs) = (j.left.schema(), j.right.schema());
            for (s, keys) in [(&ls, &j.left_on), (&rs, &j.right_on)] {
                for k in keys {
                    if s.index_of(k).is_err() {
                        return Err(column_not_found(
                            k,
                            s.fields().iter().map(|f| f.name().as_str()),
                        ));
                    }
                }
            }
            let (layout, schema) = join_layout(&ls, &rs, &j.columns, j.how)?;
            if let Some(f) = &j.filter {
                check_boolean(&f.expr, f.schema(&ls, &rs)?.as_ref(), "join condition")?;
            }
            j.layout = layout;
            j.schema = schema.clone();
            schema
        }
        PlanNode::Union { inputs } => {
            let schemas: Vec<SchemaRef> = inputs.iter().map(|i| i.schema()).collect();
            union_schema(&schemas)?
        }
        PlanNode::Explode { input, column } => {
            let input = input.schema();
            let (idx, field) = input.column_with_name(column).ok_or_else(|| {
                column_not_found(column, input.fields().iter().map(|f| f.name().as_str()))
            })?;
            let item = match field.data_type() {
                DataType::List(f) | DataType::LargeList(f) => f.clone(),
                other => {
                    return Err(Error::type_mismatch(
                        format!("explode '{column}'"),
                        format!("the column is {other}, not a list"),
                    ));
                }
            };
            let mut fields: Vec<Field> =
                input.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields[idx] = Field::new(column.as_str(), item.data_type().clone(), true);
            Arc::new(Schema::new(fields))
        }
        PlanNode::Window {
            input,
            window,
            exprs,
            fetch,
        } => {
            if fetch.is_some()
                && !(exprs.len() == 1
                    && matches!(exprs[0].func, crate::window::WindowFunction::RowNumber))
            {
                return Err(Error::InvalidArgument(
                    "internal: a window top-k (fetch) needs exactly one row_number()".into(),
                ));
            }
            if let Some(e) = exprs.iter().find(|e| !e.window.same_ordering(window)) {
                return Err(Error::InvalidArgument(format!(
                    "internal: window expression {e} does not share the node's window {window}"
                )));
            }
            crate::window::output_schema(&input.schema(), exprs)?
        }
        PlanNode::RowIndex { input, name, .. } => {
            let input = input.schema();
            if input.index_of(name).is_ok() {
                return Err(Error::InvalidArgument(format!(
                    "with_row_index: the frame already has a column '{name}'; choose another name"
                )));
            }
            let mut fields: Vec<FieldRef> =
                vec![Arc::new(Field::new(name.as_str(), DataType::Int64, false))];
            fields.extend(input.fields().iter().cloned());
            Arc::new(Schema::new(fields))
        }
        PlanNode::HConcat { inputs } => {
            if inputs.is_empty() {
                return Err(Error::InvalidArgument(
                    "concat_horizontal needs at least one frame".into(),
                ));
            }
            let mut fields: Vec<FieldRef> = Vec::new();
            for (k, i) in inputs.iter().enumerate() {
                for f in i.schema().fields() {
                    if fields.iter().any(|g| g.name() == f.name()) {
                        return Err(Error::InvalidArgument(format!(
                            "concat_horizontal: column '{}' of frame {k} is also in an earlier \
                             frame; rename or drop one of them",
                            f.name()
                        )));
                    }
                    fields.push(f.clone());
                }
            }
            Arc::new(Schema::new(fields))
        }
    })
}

/// The schema of frames stacked on each other: the first one's, with a
/// column nullable if it is in any input. Every input must have the same
/// column names, in the same order, with the same types.
pub fn union_schema(schemas: &[SchemaRef]) -> Result<SchemaRef> {
    let Some(first) = schemas.first() else {
        return Err(Error::InvalidArgument(
            "concat needs at least one frame".into(),
        ));
    };
    let mut fields: Vec<Field> = first.fields().iter().map(|f| f.as_ref().clone()).collect();
    for (k, s) in schemas.iter().enumerate().skip(1) {
        let names = |s: &Schema| {
            s.fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if s.fields().len() != fields.len()
            || s.fields()
                .iter()
                .zip(&fields)
                .any(|(a, b)| a.name() != b.name())
        {
            return Err(Error::SchemaMismatch(format!(
                "concat: frame {k} has the columns ({}) but frame 0 has ({}); \
                 select or rename them to match",
                names(s),
                names(first)
            )));
        }
        for (f, g) in fields.iter_mut().zip(s.fields()) {
            if f.data_type() != g.data_type() {
                return Err(Error::type_mismatch(
                    format!("concat, column '{}'", f.name()),
                    format!(
                        "frame 0 has {} but frame {k} has {}; cast one of them",
                        f.data_type(),
                        g.data_type()
                    ),
                ));
            }
            if g.is_nullable() {
                *f = f.clone().with_nullable(true);
            }
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}
