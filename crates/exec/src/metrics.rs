//! Statistics of a job and of each of its operators: rows, time, what
//! they spilled and the largest reservation they held.
//!
//! A job's [`JobMetrics`] is the root of a small tree: every operator gets
//! a scope of its own ([`JobMetrics::operator`]) with the same methods, and
//! what an operator records in its scope is added to the job's totals too.
//! Operator code takes a `&JobMetrics` and need not know which it has.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use parframe_common::format_bytes;
use parframe_spill::SpillStats;

use parframe_plan::{LogicalPlan, NodeId};

/// Statistics of one job (a `collect`, `stream` or `sink` of a plan): what
/// its operators spilled, the most memory one of them reserved, and the
/// figures of each operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStats {
    /// Spill files written by the job's operators: files, bytes, rows.
    pub spilled: SpillStats,
    /// The largest reservation one operator of the job held at once, in
    /// bytes (the pool's [`MemoryPool::peak`](parframe_spill::MemoryPool::peak)
    /// covers all jobs together).
    pub peak_reserved: u64,
    /// One entry per operator that ran, in plan order (the order of
    /// [`LazyFrame::explain`](crate::LazyFrame::explain)); operators that
    /// are not plan nodes (the final `Collect`) come first.
    pub operators: Vec<OperatorStats>,
}

/// The figures of one operator of a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorStats {
    /// The plan node it ran: its position in the plan's pre-order (the
    /// lines of [`LazyFrame::explain`](crate::LazyFrame::explain), counted
    /// from 0). `None` for operators that are not plan nodes.
    pub node: Option<usize>,
    /// The plan node's id (see [`NodeId`]). `None` for operators that are
    /// not plan nodes.
    pub id: Option<NodeId>,
    /// What it is, as `explain` names it.
    pub name: String,
    /// Rows it received (for a scan: none).
    pub rows_in: u64,
    /// Rows it produced.
    pub rows_out: u64,
    /// Time its own work took, summed over the threads that did it (so it
    /// can exceed the wall time of a parallel job).
    pub busy: Duration,
    /// For pipeline breakers (sort, aggregate, join, collect): wall time
    /// from when they started pulling their input until their output was
    /// done, which includes the operators below them.
    pub elapsed: Duration,
    /// Spill files it wrote.
    pub spilled: SpillStats,
    /// The largest reservation it held, in bytes.
    pub peak_reserved: u64,
}

impl fmt::Display for OperatorStats {
    // The figures, without the name: `rows 10 -> 4, busy 1.2 ms, ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rows_in == 0 {
            // A scan or table: nothing comes in.
            write!(f, "rows {}", self.rows_out)?;
        } else {
            write!(f, "rows {} -> {}", self.rows_in, self.rows_out)?;
        }
        if !self.busy.is_zero() {
            write!(f, ", busy {}", duration(self.busy))?;
        }
        if !self.elapsed.is_zero() {
            write!(f, ", elapsed {}", duration(self.elapsed))?;
        }
        if self.peak_reserved > 0 {
            write!(f, ", peak reserved {}", format_bytes(self.peak_reserved))?;
        }
        if self.spilled.files > 0 {
            write!(
                f,
                ", spilled {} files, {}, {} rows",
                self.spilled.files,
                format_bytes(self.spilled.bytes),
                self.spilled.rows
            )?;
        }
        Ok(())
    }
}

fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1000.0)
    }
}

impl JobStats {
    /// The statistics of plan node `node` (its pre-order position).
    pub fn operator(&self, node: usize) -> Option<&OperatorStats> {
        self.operators.iter().find(|o| o.node == Some(node))
    }
}

/// The counters behind [`JobStats`] (at the root) and [`OperatorStats`]
/// (in an operator's scope).
#[derive(Debug, Default)]
pub(crate) struct JobMetrics {
    files: AtomicU64,
    bytes: AtomicU64,
    rows: AtomicU64,
    peak: AtomicU64,
    rows_in: AtomicU64,
    rows_out: AtomicU64,
    busy_nanos: AtomicU64,
    elapsed_nanos: AtomicU64,
    /// What it is; empty at the root.
    name: String,
    node: Option<usize>,
    id: Option<NodeId>,
    /// The job, for an operator's scope.
    parent: Option<Arc<JobMetrics>>,
    /// At the root: the plan's nodes (addresses) in pre-order, nodes built
    /// under another node's name, and the operators' scopes.
    tree: Mutex<Tree>,
}

/// Numbers `plan`'s nodes in pre-order from `next` on, noting each node's
/// inputs in `children`; returns `plan`'s number.
fn number(plan: &LogicalPlan, next: &mut usize, children: &mut [Vec<usize>]) -> usize {
    let me = *next;
    *next += 1;
    for i in plan.inputs() {
        let c = number(i, next, children);
        if let Some(list) = children.get_mut(me) {
            list.push(c);
        }
    }
    me
}

#[derive(Debug, Default)]
struct Tree {
    /// The plan's node ids in pre-order.
    nodes: Vec<NodeId>,
    /// The inputs of each node, by number.
    children: Vec<Vec<usize>>,
    operators: Vec<Arc<JobMetrics>>,
}

impl JobMetrics {
    /// The metrics of a job running `plan`.
    pub(crate) fn for_plan(plan: &LogicalPlan) -> Arc<JobMetrics> {
        let mut nodes = Vec::new();
        plan.visit(&mut |p| nodes.push(p.id()));
        let mut children = vec![Vec::new(); nodes.len()];
        let mut next = 0;
        number(plan, &mut next, &mut children);
        Arc::new(JobMetrics {
            tree: Mutex::new(Tree {
                nodes,
                children,
                ..Tree::default()
            }),
            ..JobMetrics::default()
        })
    }

    fn root(&self) -> &JobMetrics {
        match &self.parent {
            Some(p) => p.root(),
            None => self,
        }
    }

    fn root_arc(self: &Arc<Self>) -> Arc<JobMetrics> {
        match &self.parent {
            Some(p) => p.root_arc(),
            None => Arc::clone(self),
        }
    }

    /// A new scope for the operator running plan node `plan`.
    pub(crate) fn operator(self: &Arc<Self>, plan: &LogicalPlan) -> Arc<JobMetrics> {
        let root = self.root_arc();
        let node = {
            let tree = root.tree.lock().unwrap_or_else(PoisonError::into_inner);
            tree.nodes.iter().position(|n| *n == plan.id())
        };
        root.add_operator(node, Some(plan.id()), parframe_plan::describe(plan))
    }

    /// A scope that records nowhere (figures an operator keeps for a node
    /// that reports them elsewhere).
    pub(crate) fn detached() -> Arc<JobMetrics> {
        Arc::new(JobMetrics::default())
    }

    /// A new scope for an operator that is not a plan node (`Collect`).
    pub(crate) fn extra_operator(self: &Arc<Self>, name: &str) -> Arc<JobMetrics> {
        self.root_arc().add_operator(None, None, name.to_string())
    }

    fn add_operator(
        self: &Arc<Self>,
        node: Option<usize>,
        id: Option<NodeId>,
        name: String,
    ) -> Arc<JobMetrics> {
        let m = Arc::new(JobMetrics {
            name,
            node,
            id,
            parent: Some(Arc::clone(self)),
            ..JobMetrics::default()
        });
        self.tree
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .operators
            .push(Arc::clone(&m));
        m
    }

    pub(crate) fn add_spill(&self, s: SpillStats) {
        self.files.fetch_add(s.files, Ordering::Relaxed);
        self.bytes.fetch_add(s.bytes, Ordering::Relaxed);
        self.rows.fetch_add(s.rows, Ordering::Relaxed);
        if let Some(p) = &self.parent {
            p.add_spill(s);
        }
    }

    pub(crate) fn note_reserved(&self, bytes: u64) {
        self.peak.fetch_max(bytes, Ordering::Relaxed);
        if let Some(p) = &self.parent {
            p.note_reserved(bytes);
        }
    }

    /// Adds rows received, rows produced and busy time.
    pub(crate) fn add_work(&self, rows_in: u64, rows_out: u64, busy: Duration) {
        self.rows_in.fetch_add(rows_in, Ordering::Relaxed);
        self.rows_out.fetch_add(rows_out, Ordering::Relaxed);
        self.busy_nanos
            .fetch_add(busy.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Adds wall time of a pipeline breaker.
    pub(crate) fn add_elapsed(&self, d: Duration) {
        self.elapsed_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    fn operator_stats(&self) -> OperatorStats {
        OperatorStats {
            node: self.node,
            id: self.id,
            name: self.name.clone(),
            rows_in: self.rows_in.load(Ordering::Relaxed),
            rows_out: self.rows_out.load(Ordering::Relaxed),
            busy: Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed)),
            elapsed: Duration::from_nanos(self.elapsed_nanos.load(Ordering::Relaxed)),
            spilled: self.spill_stats(),
            peak_reserved: self.peak.load(Ordering::Relaxed),
        }
    }

    fn spill_stats(&self) -> SpillStats {
        SpillStats {
            files: self.files.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
        }
    }

    /// The job's statistics (call it on the root).
    pub(crate) fn stats(&self) -> JobStats {
        let root = self.root();
        let tree = root.tree.lock().unwrap_or_else(PoisonError::into_inner);
        let mut operators: Vec<OperatorStats> =
            tree.operators.iter().map(|o| o.operator_stats()).collect();
        // One entry per node: a node built twice (not done today) would add up.
        operators.sort_by_key(|o| o.node.map_or(0, |n| n + 1));
        let mut merged: Vec<OperatorStats> = Vec::with_capacity(operators.len());
        for o in operators {
            match merged.last_mut() {
                Some(m) if m.node.is_some() && m.node == o.node => {
                    m.rows_in += o.rows_in;
                    m.rows_out += o.rows_out;
                    m.busy += o.busy;
                    m.elapsed += o.elapsed;
                    m.spilled += o.spilled;
                    m.peak_reserved = m.peak_reserved.max(o.peak_reserved);
                }
                _ => merged.push(o),
            }
        }
        // Pipeline breakers and joins count what their inputs produced.
        let rows_out: Vec<(usize, u64)> = merged
            .iter()
            .filter_map(|o| o.node.map(|n| (n, o.rows_out)))
            .collect();
        // A node without figures of its own (a limit that became a top-k
        // below it) passes on what its inputs produced.
        fn produced(n: usize, rows_out: &[(usize, u64)], children: &[Vec<usize>]) -> u64 {
            match rows_out.iter().find(|(m, _)| *m == n) {
                Some((_, r)) => *r,
                None => children.get(n).map_or(0, |kids| {
                    kids.iter().map(|&c| produced(c, rows_out, children)).sum()
                }),
            }
        }
        for o in merged.iter_mut().filter(|o| o.rows_in == 0) {
            let Some(kids) = o.node.and_then(|n| tree.children.get(n)) else {
                continue;
            };
            o.rows_in = kids
                .iter()
                .map(|&c| produced(c, &rows_out, &tree.children))
                .sum();
        }
        JobStats {
            spilled: root.spill_stats(),
            peak_reserved: root.peak.load(Ordering::Relaxed),
            operators: merged,
        }
    }
}

/// `explain` with each node's figures from `stats` after it, and the
/// operators outside the plan (the final `Collect`) on top.
pub(crate) fn annotate(plan: &LogicalPlan, stats: &JobStats) -> String {
    let mut out = String::new();
    for o in stats.operators.iter().filter(|o| o.node.is_none()) {
        let _ = writeln!(out, "{}  [{o}]", o.name);
    }
    let depth = usize::from(!out.is_empty());
    let mut next = 0usize;
    parframe_plan::explain_with(plan, &mut out, depth, &mut |_| {
        let node = next;
        next += 1;
        stats.operator(node).map(|o| o.to_string())
    });
    out
}

/// The job in one line: peak reservation and what was spilled.
pub(crate) fn summary(stats: &JobStats) -> String {
    format!(
        "peak reservation of one operator {}; spilled {} files, {}, {} rows",
        format_bytes(stats.peak_reserved),
        stats.spilled.files,
        format_bytes(stats.spilled.bytes),
        stats.spilled.rows
    )
}
