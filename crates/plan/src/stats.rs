//! Cardinality estimates: [`Statistics`] of every plan node, from what the
//! sources know ([`ChunkSource::statistics`](parframe_core::ChunkSource::statistics):
//! Parquet metadata row counts, in-memory tables exactly) propagated up the
//! plan with the rules below. Join planning orders joins and picks build
//! sides with them.
//!
//! # The estimates
//! - **Scan**: the source's statistics; pushed filters and limit as below.
//! - **Table**: exact row count and per-column null counts.
//! - **Filter**: input rows × the predicate's selectivity, estimated:
//!   `col = literal` 1/distinct when the distinct count is known, else
//!   [`EQ_SELECTIVITY`]; `<`, `<=`, `>`, `>=` [`RANGE_SELECTIVITY`]; `!=`
//!   1 − [`EQ_SELECTIVITY`]; `IS NULL` the null fraction when known, else
//!   [`NULL_SELECTIVITY`]; string matches (`LIKE`, `regexp_like`,
//!   `contains`...) [`MATCH_SELECTIVITY`]; `IN (list)` the list's length
//!   times the selectivity of `col = literal` (at most 1); `AND`
//!   multiplies, `OR` is `a + b − ab`, `NOT` is `1 − s`; literal `true` 1,
//!   `false`/null 0; anything else [`DEFAULT_SELECTIVITY`].
//! - **Select / WithColumns / Apply / MapBatches / Explode**: the input's
//!   rows (map_batches and explode: no longer exact).
//! - **Limit**: `min(rows − skip, fetch)`, exact when the input is.
//! - **Aggregate**: one row without keys; else the product of the keys'
//!   distinct counts when known, capped by the input rows; else the input
//!   rows (an upper bound).
//! - **Sort**: the input's rows, capped by the fetch.
//! - **Join** (equi): `|L| × |R| / max(d(l), d(r))` over the most selective
//!   key pair, where `d` is a key's distinct count; when unknown, for an
//!   integer or date key with a known min and max, `max − min + 1` capped
//!   by its side's rows, else its side's row count (so a key is assumed
//!   unique on the side it comes from: the foreign-key/primary-key case,
//!   which gives `max(|L|, |R|)` for unfiltered inputs); with several key
//!   pairs, also `|L| × |R| / min(c(L), c(R))` when smaller, where `c` is a
//!   side's distinct key combinations (the product of its keys' distinct
//!   counts, at most its rows). Left/right/full joins at least keep their
//!   preserved sides; semi joins `min(|L|, inner)`; anti joins
//!   `max(|L| − inner, |L| / 10)`; a residual filter multiplies by
//!   [`DEFAULT_SELECTIVITY`]. Cross joins: `|L| × |R|`.
//! - **Union**: the sum.

use parframe_core::expr::{BinaryOp, Func};
use parframe_core::{ColumnStatistics, Expr, Precision, ScalarValue, Statistics};

use crate::join::{JoinColumn, JoinType};
use crate::logical::{LogicalPlan, PlanNode};

/// Selectivity of `col = literal` when the distinct count is unknown.
pub const EQ_SELECTIVITY: f64 = 0.1;
/// Selectivity of a range comparison (`<`, `<=`, `>`, `>=`).
pub const RANGE_SELECTIVITY: f64 = 1.0 / 3.0;
/// Selectivity of `IS NULL` when null counts are unknown.
pub const NULL_SELECTIVITY: f64 = 0.1;
/// Selectivity of a string match (`contains`, `starts_with`, `ends_with`).
pub const MATCH_SELECTIVITY: f64 = 0.25;
/// Selectivity of any other predicate.
pub const DEFAULT_SELECTIVITY: f64 = 0.5;

/// The estimated statistics of `plan`'s output.
pub fn statistics(plan: &LogicalPlan) -> Statistics {
    let schema = plan.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    match plan.node() {
        PlanNode::Scan(s) => {
            let full = s.source.schema();
            let mut st = s.source.statistics();
            if st.columns.len() != full.fields().len() {
                st.columns = Vec::new();
            }
            let mut st = Named::new(full.fields().iter().map(|f| f.name().clone()).collect(), st);
            for f in &s.filters {
                st = st.filtered(f);
            }
            if let Some(n) = s.fetch {
                st.rows = cap(st.rows, n as u64);
            }
            st.project(&names)
        }
        PlanNode::Table(t) => {
            let rows = t.table.num_rows() as u64;
            let columns = names
                .iter()
                .map(|n| ColumnStatistics {
                    null_count: t
                        .table
                        .schema()
                        .index_of(n)
                        .map_or(Precision::Unknown, |i| {
                            Precision::Exact(
                                t.table
                                    .chunks()
                                    .iter()
                                    .map(|b| b.column(i).null_count() as u64)
                                    .sum(),
                            )
                        }),
                    ..ColumnStatistics::default()
                })
                .collect();
            Statistics {
                num_rows: Precision::Exact(rows),
                columns,
            }
        }
        PlanNode::Filter { input, predicate } => {
            Named::of(input).filtered(predicate).project(&names)
        }
        PlanNode::Select { input, .. }
        | PlanNode::WithColumns { input, .. }
        | PlanNode::Apply { input, .. }
        | PlanNode::Window { input, .. } => Named::of(input).project(&names),
        PlanNode::RowIndex { input, .. } => Statistics {
            num_rows: statistics(input).num_rows,
            columns: Vec::new(),
        },
        PlanNode::HConcat { inputs } => Statistics {
            num_rows: inputs
                .first()
                .map_or(Precision::Exact(0), |i| statistics(i).num_rows),
            columns: Vec::new(),
        },
        PlanNode::MapBatches { input, .. } | PlanNode::Explode { input, .. } => Statistics {
            num_rows: statistics(input).num_rows.to_estimate(),
            columns: Vec::new(),
        },
        PlanNode::Limit { input, skip, fetch } => {
            let mut st = Named::of(input);
            st.rows = match st.rows {
                Precision::Exact(r) => {
                    Precision::Exact(fetch.map_or(r.saturating_sub(*skip as u64), |f| {
                        r.saturating_sub(*skip as u64).min(f as u64)
                    }))
                }
                Precision::Estimated(r) => {
                    Precision::Estimated(fetch.map_or(r.saturating_sub(*skip as u64), |f| {
                        r.saturating_sub(*skip as u64).min(f as u64)
                    }))
                }
                Precision::Unknown => {
                    fetch.map_or(Precision::Unknown, |f| Precision::Estimated(f as u64))
                }
            };
            st.project(&names)
        }
        PlanNode::Aggregate { input, keys, .. } => {
            let inp = Named::of(input);
            if keys.is_empty() {
                return Statistics {
                    num_rows: Precision::Exact(1),
                    columns: Vec::new(),
                };
            }
            let mut product: Option<f64> = Some(1.0);
            for k in keys {
                product = match (product, inp.column(k).and_then(|c| c.distinct.value())) {
                    (Some(p), Some(d)) => Some(p * d.max(1) as f64),
                    _ => None,
                };
            }
            let rows = match (inp.rows.value(), product) {
                (Some(r), Some(p)) => Precision::Estimated((p as u64).min(r)),
                (Some(r), None) => Precision::Estimated(r),
                (None, _) => Precision::Unknown,
            };
            Statistics {
                num_rows: rows,
                columns: Vec::new(),
            }
        }
        PlanNode::Sort { input, fetch, .. } => {
            let mut st = Named::of(input);
            if let Some(n) = fetch {
                st.rows = cap(st.rows, *n as u64);
            }
            st.project(&names)
        }
        PlanNode::Join(j) => {
            let (l, r) = (Named::of(&j.left), Named::of(&j.right));
            let rows = join_rows(&l, &r, &j.left_on, &j.right_on, j.how, j.filter.is_some());
            let columns = j
                .columns
                .iter()
                .map(|(c, _)| match c {
                    JoinColumn::Left(n) | JoinColumn::Key(n, _) => {
                        l.column(n).cloned().unwrap_or_default()
                    }
                    JoinColumn::Right(n) => r.column(n).cloned().unwrap_or_default(),
                })
                .map(|mut c| {
                    c.distinct = c.distinct.to_estimate();
                    c.null_count = Precision::Unknown;
                    c
                })
                .collect();
            Statistics {
                num_rows: rows,
                columns,
            }
        }
        PlanNode::Union { inputs } => {
            let mut total = Some(0u64);
            let mut exact = true;
            for i in inputs {
                let n = statistics(i).num_rows;
                exact &= matches!(n, Precision::Exact(_));
                total = total.and_then(|t| n.value().map(|v| t.saturating_add(v)));
            }
            Statistics {
                num_rows: match total {
                    Some(t) if exact => Precision::Exact(t),
                    Some(t) => Precision::Estimated(t),
                    None => Precision::Unknown,
                },
                columns: Vec::new(),
            }
        }
    }
}

/// The estimated output rows of `plan` (`None`: unknown).
pub fn estimated_rows(plan: &LogicalPlan) -> Option<u64> {
    statistics(plan).num_rows.value()
}

fn cap(p: Precision, n: u64) -> Precision {
    match p {
        Precision::Exact(v) => Precision::Exact(v.min(n)),
        Precision::Estimated(v) => Precision::Estimated(v.min(n)),
        Precision::Unknown => Precision::Estimated(n),
    }
}

fn join_rows(
    l: &Named,
    r: &Named,
    left_on: &[String],
    right_on: &[String],
    how: JoinType,
    residual: bool,
) -> Precision {
    let (Some(lr), Some(rr)) = (l.rows.value(), r.rows.value()) else {
        return Precision::Unknown;
    };
    let (lf, rf) = (lr as f64, rr as f64);
    let mut inner = if how == JoinType::Cross || left_on.is_empty() {
        lf * rf
    } else {
        left_on
            .iter()
            .zip(right_on)
            .map(|(a, b)| {
                let da = l.distinct_or_rows(a).max(1.0);
                let db = r.distinct_or_rows(b).max(1.0);
                lf * rf / da.max(db)
            })
            .fold(f64::INFINITY, f64::min)
    };
    if left_on.len() > 1 && how != JoinType::Cross {
        // Several keys together: each side holds at most the product of
        // its keys' distinct counts, and at most its rows, of distinct
        // combinations (partsupp's (partkey, suppkey) is unique, however
        // few suppliers there are).
        let combos = |s: &Named, keys: &[String], rows: f64| {
            keys.iter()
                .map(|k| s.distinct_or_rows(k).max(1.0))
                .product::<f64>()
                .min(rows.max(1.0))
        };
        // The smaller count: a foreign key's combinations are at most the
        // referenced side's (lineitem's (partkey, suppkey) pairs are all in
        // partsupp), which the product over lineitem cannot tell.
        let d = combos(l, left_on, lf).min(combos(r, right_on, rf));
        inner = inner.min(lf * rf / d);
    }
    if residual {
        inner *= DEFAULT_SELECTIVITY;
    }
    let est = match how {
        JoinType::Inner | JoinType::Cross => inner,
        JoinType::Left => inner.max(lf),
        JoinType::Right => inner.max(rf),
        JoinType::Full => inner.max(lf).max(rf),
        JoinType::Semi => inner.min(lf),
        JoinType::Anti => (lf - inner.min(lf)).max(lf / 10.0),
    };
    Precision::Estimated(est.max(0.0).min(u64::MAX as f64) as u64)
}

/// Statistics with column names, for passing through by name.
struct Named {
    names: Vec<String>,
    rows: Precision,
    columns: Vec<ColumnStatistics>,
}

impl Named {
    fn new(names: Vec<String>, s: Statistics) -> Self {
        let columns = if s.columns.len() == names.len() {
            s.columns
        } else {
            vec![ColumnStatistics::default(); names.len()]
        };
        Named {
            names,
            rows: s.num_rows,
            columns,
        }
    }

    fn of(plan: &LogicalPlan) -> Self {
        let names = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        Named::new(names, statistics(plan))
    }

    fn column(&self, name: &str) -> Option<&ColumnStatistics> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|i| self.columns.get(i))
    }

    fn distinct_or_rows(&self, name: &str) -> f64 {
        let c = self.column(name);
        let rows = self.rows.value();
        if let Some(d) = c.and_then(|c| c.distinct.value()) {
            return d as f64;
        }
        // An integer or date key holds at most max - min + 1 values: a
        // nation key in [0, 24] is not unique over 10^4 suppliers.
        let range =
            c.and_then(|c| Some(int_value(c.max.as_ref()?)? - int_value(c.min.as_ref()?)? + 1));
        match (range, rows) {
            (Some(n), Some(r)) if n > 0 => (n as f64).min(r as f64),
            (Some(n), None) if n > 0 => n as f64,
            _ => rows.unwrap_or(1) as f64,
        }
    }

    fn filtered(mut self, predicate: &Expr) -> Self {
        let s = selectivity(predicate, &self);
        self.rows = match self.rows.value() {
            Some(r) => Precision::Estimated((r as f64 * s).round() as u64),
            None => Precision::Unknown,
        };
        if let Some(r) = self.rows.value() {
            for c in &mut self.columns {
                c.distinct = match c.distinct.value() {
                    Some(d) => Precision::Estimated(d.min(r)),
                    None => Precision::Unknown,
                };
                c.null_count = c.null_count.to_estimate();
            }
        }
        self
    }

    fn project(self, names: &[String]) -> Statistics {
        let columns = names
            .iter()
            .map(|n| self.column(n).cloned().unwrap_or_default())
            .collect();
        Statistics {
            num_rows: self.rows,
            columns,
        }
    }
}

/// An integer-like statistic as `i128` (dates as days).
fn int_value(v: &ScalarValue) -> Option<i128> {
    match v {
        ScalarValue::Date32(x) => Some(*x as i128),
        other => crate::expr_util::integer_value(other),
    }
}

/// The estimated fraction of rows `predicate` keeps (see the module docs).
#[recursive::recursive]
fn selectivity(predicate: &Expr, st: &Named) -> f64 {
    match predicate {
        Expr::Literal(ScalarValue::Boolean(true)) => 1.0,
        Expr::Literal(_) => 0.0,
        Expr::Alias { expr, .. } => selectivity(expr, st),
        Expr::Not(e) => 1.0 - selectivity(e, st),
        Expr::Binary { left, op, right } => match op {
            BinaryOp::And => selectivity(left, st) * selectivity(right, st),
            BinaryOp::Or => {
                let (a, b) = (selectivity(left, st), selectivity(right, st));
                a + b - a * b
            }
            BinaryOp::Eq => eq_selectivity(left, right, st),
            BinaryOp::NotEq => 1.0 - eq_selectivity(left, right, st),
            BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => RANGE_SELECTIVITY,
            _ => DEFAULT_SELECTIVITY,
        },
        Expr::IsNull(e) | Expr::IsNotNull(e) => {
            let frac = match (&**e, st.rows.value()) {
                (Expr::Column(c), Some(r)) if r > 0 => st
                    .column(c)
                    .and_then(|c| c.null_count.value())
                    .map(|n| n as f64 / r as f64),
                _ => None,
            }
            .unwrap_or(NULL_SELECTIVITY);
            if matches!(predicate, Expr::IsNull(_)) {
                frac
            } else {
                1.0 - frac
            }
        }
        Expr::Str { .. }
        | Expr::Function {
            func: Func::Like { .. } | Func::RegexpLike,
            ..
        } => MATCH_SELECTIVITY,
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            // Each literal as `expr = literal`, at most all rows.
            let one = eq_selectivity(expr, &Expr::Literal(ScalarValue::Null), st);
            let s = (one * list.len() as f64).min(1.0);
            if *negated { 1.0 - s } else { s }
        }
        _ => DEFAULT_SELECTIVITY,
    }
}

fn eq_selectivity(left: &Expr, right: &Expr, st: &Named) -> f64 {
    let column = match (left, right) {
        (Expr::Column(c), r) if r.columns().is_empty() => Some(c),
        (l, Expr::Column(c)) if l.columns().is_empty() => Some(c),
        _ => None,
    };
    column
        .and_then(|c| st.column(c))
        .and_then(|c| c.distinct.value())
        .filter(|d| *d > 0)
        .map_or(EQ_SELECTIVITY, |d| 1.0 / d as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(min: Option<ScalarValue>, max: Option<ScalarValue>, rows: u64) -> Named {
        Named {
            names: vec!["k".into()],
            rows: Precision::Exact(rows),
            columns: vec![ColumnStatistics {
                min,
                max,
                ..Default::default()
            }],
        }
    }

    #[test]
    fn integer_ranges_bound_distinct_counts() {
        // A nation key in [0, 24] over 10^4 rows: 25 values, not 10^4.
        let n = named(
            Some(ScalarValue::Int64(0)),
            Some(ScalarValue::Int64(24)),
            10_000,
        );
        assert_eq!(n.distinct_or_rows("k"), 25.0);
        // A range wider than the rows: the rows.
        let n = named(
            Some(ScalarValue::Int32(1)),
            Some(ScalarValue::Int32(1 << 30)),
            100,
        );
        assert_eq!(n.distinct_or_rows("k"), 100.0);
        // Dates count days.
        let n = named(
            Some(ScalarValue::Date32(0)),
            Some(ScalarValue::Date32(9)),
            1_000,
        );
        assert_eq!(n.distinct_or_rows("k"), 10.0);
        // Unknown bounds or other types: the rows (the key is taken as unique).
        let n = named(None, Some(ScalarValue::Int64(24)), 10_000);
        assert_eq!(n.distinct_or_rows("k"), 10_000.0);
        let n = named(
            Some(ScalarValue::Utf8("a".into())),
            Some(ScalarValue::Utf8("b".into())),
            7,
        );
        assert_eq!(n.distinct_or_rows("k"), 7.0);
    }
}
