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
//!   for an integer or date column with known bounds 1/(max − min + 1)
//!   (1/rows when the rows are fewer), else [`EQ_SELECTIVITY`];
//!   `col < literal` (`<=`, `>`, `>=`) the part of
//!   the column's `[min, max]` below (above) the literal, when both are
//!   known and comparable as numbers (integers, floats, decimals, dates,
//!   timestamps of one unit), values assumed spread evenly; several such
//!   bounds on one column in an `AND` as the one interval they leave
//!   (`d >= a AND d < b` is `(b − a) / (max − min)`, not the product);
//!   other comparisons [`RANGE_SELECTIVITY`]; `!=`
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
//!   which gives `max(|L|, |R|)` for unfiltered inputs); a key whose
//!   range lies within the other key's counts at most the other key's
//!   distinct values in its source before filters (`source_distinct`:
//!   the containment assumption, a foreign key holds no value its
//!   referenced column lacks), so lineitem ⋈ orders keeps lineitem's
//!   rows although `l_orderkey`'s range is four times orders' count, and
//!   lineitem ⋈ (filtered) orders keeps the filtered share; with several key
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
            st.mark_source_distinct();
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
                let da = l.key_distinct(a, r, b).max(1.0);
                let db = r.key_distinct(b, l, a).max(1.0);
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
#[derive(Clone)]
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
        self.distinct_bound(name)
            .unwrap_or_else(|| self.rows.value().unwrap_or(1) as f64)
    }

    /// The distinct count when known; else, for an integer or date column
    /// with known bounds, `max - min + 1` capped by the rows (a nation key
    /// in [0, 24] is not unique over 10^4 suppliers); else `None`.
    fn distinct_bound(&self, name: &str) -> Option<f64> {
        let c = self.column(name)?;
        if let Some(d) = c.distinct.value() {
            return Some(d as f64);
        }
        let n = int_value(c.max.as_ref()?)? - int_value(c.min.as_ref()?)? + 1;
        if n <= 0 {
            return None;
        }
        Some(match self.rows.value() {
            Some(r) => (n as f64).min(r as f64),
            None => n as f64,
        })
    }

    /// Fills in each column's `source_distinct` where the source left it
    /// unknown: its distinct count, else the bound from its range and the
    /// rows ([`Self::distinct_bound`]), before any filter applies.
    fn mark_source_distinct(&mut self) {
        for i in 0..self.columns.len() {
            if self.columns[i].source_distinct.value().is_some() {
                continue;
            }
            let d = self
                .names
                .get(i)
                .and_then(|n| self.distinct_bound(n))
                .map_or(Precision::Unknown, |d| Precision::Estimated(d as u64));
            self.columns[i].source_distinct = d;
        }
    }

    /// The distinct count bound of key `name` joined with key `other` of
    /// `o`: [`Self::distinct_or_rows`], at most the other key's
    /// `source_distinct` when this key's range lies within the other's
    /// (the containment assumption: the key is a foreign key into the
    /// other column, so it holds no values the other's source lacks).
    fn key_distinct(&self, name: &str, o: &Named, other: &str) -> f64 {
        let d = self.distinct_or_rows(name);
        let range = |s: &Named, n: &str| {
            let c = s.column(n)?;
            Some((int_value(c.min.as_ref()?)?, int_value(c.max.as_ref()?)?))
        };
        let cap = match (range(self, name), range(o, other)) {
            (Some((lo, hi)), Some((olo, ohi))) if olo <= lo && hi <= ohi => o
                .column(other)
                .and_then(|c| c.source_distinct.value())
                .map(|v| v as f64),
            _ => None,
        };
        cap.map_or(d, |c| d.min(c.max(1.0)))
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
            BinaryOp::And => and_selectivity(predicate, st),
            BinaryOp::Or => {
                let (a, b) = (selectivity(left, st), selectivity(right, st));
                a + b - a * b
            }
            BinaryOp::Eq => eq_selectivity(left, right, st),
            BinaryOp::NotEq => 1.0 - eq_selectivity(left, right, st),
            BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => {
                range_bound(predicate, st)
                    .and_then(|(c, lo, hi)| interval_fraction(c, lo, hi, st))
                    .unwrap_or(RANGE_SELECTIVITY)
            }
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

/// A number for interpolating in a column's range: `v` as `f64` when it is
/// of `like`'s kind (both integers, floats or decimals; both dates of one
/// type; both timestamps of one unit).
fn number(v: &ScalarValue, like: &ScalarValue) -> Option<f64> {
    use ScalarValue as S;
    let numeric = |x: &ScalarValue| -> Option<f64> {
        match x {
            S::Float32(f) => Some(*f as f64),
            S::Float64(f) => Some(*f),
            S::Decimal128(d, _, scale) => Some(*d as f64 / 10f64.powi(*scale as i32)),
            other => crate::expr_util::integer_value(other).map(|i| i as f64),
        }
    };
    match (v, like) {
        (S::Date32(a), S::Date32(_)) => Some(*a as f64),
        (S::Date64(a), S::Date64(_)) => Some(*a as f64),
        (S::Timestamp(a, u, _), S::Timestamp(_, w, _)) if u == w => Some(*a as f64),
        (S::Date32(_) | S::Date64(_) | S::Timestamp(..), _)
        | (_, S::Date32(_) | S::Date64(_) | S::Timestamp(..)) => None,
        _ => numeric(like).and(numeric(v)),
    }
}

/// `col < lit` (and `<=`, `>`, `>=`, either way round) as the column and
/// the interval it keeps (`lo`, `hi`; `None`: unbounded), in the numbers of
/// [`number`] against the column's min.
fn range_bound<'a>(e: &'a Expr, st: &Named) -> Option<(&'a str, Option<f64>, Option<f64>)> {
    let Expr::Binary { left, op, right } = e else {
        return None;
    };
    let (c, v, below) = match (&**left, &**right) {
        // col < v keeps what is below v.
        (Expr::Column(c), Expr::Literal(v)) => (c, v, matches!(op, BinaryOp::Lt | BinaryOp::LtEq)),
        // v < col keeps what is above v.
        (Expr::Literal(v), Expr::Column(c)) => (c, v, matches!(op, BinaryOp::Gt | BinaryOp::GtEq)),
        _ => return None,
    };
    if !matches!(
        op,
        BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq
    ) {
        return None;
    }
    let min = st.column(c)?.min.as_ref()?;
    let x = number(v, min)?;
    Some(if below {
        (c.as_str(), None, Some(x))
    } else {
        (c.as_str(), Some(x), None)
    })
}

/// The part of `c`'s `[min, max]` inside `[lo, hi]`, when min and max are
/// known numbers.
fn interval_fraction(c: &str, lo: Option<f64>, hi: Option<f64>, st: &Named) -> Option<f64> {
    let col = st.column(c)?;
    let (min, max) = (col.min.as_ref()?, col.max.as_ref()?);
    let (a, b) = (number(min, min)?, number(max, min)?);
    if !(a.is_finite() && b.is_finite()) || b < a {
        return None;
    }
    if b == a {
        let inside = lo.is_none_or(|l| l <= a) && hi.is_none_or(|h| a <= h);
        return Some(if inside { 1.0 } else { 0.0 });
    }
    let l = lo.unwrap_or(a).max(a);
    let h = hi.unwrap_or(b).min(b);
    Some(((h - l) / (b - a)).clamp(0.0, 1.0))
}

/// An `AND`: range bounds on one column become one interval (see the
/// module docs), the other conjuncts multiply.
fn and_selectivity(predicate: &Expr, st: &Named) -> f64 {
    let mut ranges: Vec<(&str, Option<f64>, Option<f64>)> = Vec::new();
    let mut s = 1.0;
    let conjuncts = crate::expr_util::split_conjunction(predicate);
    for c in &conjuncts {
        match range_bound(c, st) {
            Some((col, lo, hi)) => match ranges.iter_mut().find(|r| r.0 == col) {
                Some(r) => {
                    r.1 = match (r.1, lo) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                    r.2 = match (r.2, hi) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => ranges.push((col, lo, hi)),
            },
            None => s *= selectivity(c, st),
        }
    }
    for (col, lo, hi) in ranges {
        s *= interval_fraction(col, lo, hi, st).unwrap_or(RANGE_SELECTIVITY);
    }
    s
}

fn eq_selectivity(left: &Expr, right: &Expr, st: &Named) -> f64 {
    let column = match (left, right) {
        (Expr::Column(c), r) if r.columns().is_empty() => Some(c),
        (l, Expr::Column(c)) if l.columns().is_empty() => Some(c),
        _ => None,
    };
    // Without a distinct count, an integer or date column with known
    // bounds holds at most max - min + 1 values (TPC-H's `p_size = 15`
    // over sizes 1 to 50 keeps about 1/50, not 1/10): the bound the join
    // estimate uses, values assumed spread evenly.
    column
        .and_then(|c| st.distinct_bound(c))
        .filter(|d| *d > 0.0)
        .map_or(EQ_SELECTIVITY, |d| 1.0 / d)
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
    fn equality_on_a_bounded_integer_column() {
        use parframe_core::{col, lit};
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // Sizes 1 to 50 over 200,000 parts: 1/50.
        let n = named(
            Some(ScalarValue::Int32(1)),
            Some(ScalarValue::Int32(50)),
            200_000,
        );
        assert!(close(selectivity(&col("k").eq(lit(15i32)), &n), 0.02));
        assert!(close(selectivity(&col("k").is_in([1i32, 2, 3]), &n), 0.06));
        // More values than rows: 1/rows.
        let n = named(
            Some(ScalarValue::Int64(0)),
            Some(ScalarValue::Int64(1 << 40)),
            1_000,
        );
        assert!(close(selectivity(&col("k").eq(lit(7i64)), &n), 0.001));
        // No bounds, or strings: the default.
        let n = named(None, None, 1_000);
        assert!(close(
            selectivity(&col("k").eq(lit(7i64)), &n),
            EQ_SELECTIVITY
        ));
        let n = named(
            Some(ScalarValue::Utf8("a".into())),
            Some(ScalarValue::Utf8("z".into())),
            1_000,
        );
        assert!(close(
            selectivity(&col("k").eq(lit("q")), &n),
            EQ_SELECTIVITY
        ));
    }

    #[test]
    fn a_foreign_key_holds_no_more_values_than_the_column_it_references() {
        use parframe_core::{col, lit};
        let est = |l: &Named, r: &Named| {
            let (a, b) = (vec!["k".to_string()], vec!["k".to_string()]);
            join_rows(l, r, &a, &b, JoinType::Inner, false)
                .value()
                .unwrap()
        };
        let int = |v: i64| Some(ScalarValue::Int64(v));
        // TPC-H's lineitem (6M rows) and orders (1.5M): order keys in
        // [1, 6M] on both sides, unique in orders.
        let mut lineitem = named(int(1), int(6_000_000), 6_000_000);
        lineitem.mark_source_distinct();
        let mut orders = named(int(1), int(6_000_000), 1_500_000);
        orders.mark_source_distinct();
        // Every line has its order: lineitem's rows, either way round
        // (without the cap, 6M x 1.5M / 6M = 1.5M).
        assert_eq!(est(&lineitem, &orders), 6_000_000);
        assert_eq!(est(&orders, &lineitem), 6_000_000);
        // A quarter of the orders: a quarter of the lines.
        let quarter = orders.clone().filtered(&col("k").lt(lit(1_500_001i64)));
        assert_eq!(quarter.rows.value(), Some(375_000));
        assert_eq!(est(&lineitem, &quarter), 1_500_000);
        // A key whose range is not within the other's is not capped: a
        // key spreading past the referenced column's range is no foreign
        // key of it.
        let mut wide = named(int(0), int(12_000_000), 6_000_000);
        wide.mark_source_distinct();
        assert_eq!(est(&wide, &orders), 1_500_000);
        // Without statistics of the referenced column: as before.
        let bare = named(None, None, 1_500_000);
        assert_eq!(est(&lineitem, &bare), 1_500_000);
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

    #[test]
    fn ranges_interpolate_between_min_and_max() {
        use parframe_core::{col, lit};
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // Days 0..=100.
        let d = named(
            Some(ScalarValue::Date32(0)),
            Some(ScalarValue::Date32(100)),
            1_000,
        );
        let day = |x: i32| Expr::Literal(ScalarValue::Date32(x));
        assert!(close(selectivity(&col("k").lt(day(25)), &d), 0.25));
        assert!(close(selectivity(&col("k").gt_eq(day(90)), &d), 0.1));
        // Literal first: 25 < k keeps what is above 25.
        assert!(close(selectivity(&day(25).lt(col("k")), &d), 0.75));
        // Outside the range: none or all.
        assert!(close(selectivity(&col("k").lt(day(-5)), &d), 0.0));
        assert!(close(selectivity(&col("k").lt_eq(day(500)), &d), 1.0));
        // Two bounds on one column: the interval, not the product.
        let between = col("k").gt_eq(day(20)).and(col("k").lt(day(30)));
        assert!(close(selectivity(&between, &d), 0.1));
        // ... times the other conjuncts.
        let more = between.clone().and(col("k").is_null());
        assert!(close(selectivity(&more, &d), 0.1 * NULL_SELECTIVITY));
        // An empty interval keeps nothing.
        let empty = col("k").gt(day(60)).and(col("k").lt(day(40)));
        assert!(close(selectivity(&empty, &d), 0.0));
        // Decimals against an integer literal, as numbers.
        let m = named(
            Some(ScalarValue::Decimal128(100, 15, 2)),
            Some(ScalarValue::Decimal128(5_100, 15, 2)),
            1_000,
        );
        assert!(close(selectivity(&col("k").lt(lit(26i64)), &m), 0.5));
        // A date column against a number, a string column, unknown bounds:
        // the default.
        assert!(close(
            selectivity(&col("k").lt(lit(5i64)), &d),
            RANGE_SELECTIVITY
        ));
        let s = named(
            Some(ScalarValue::Utf8("a".into())),
            Some(ScalarValue::Utf8("z".into())),
            10,
        );
        assert!(close(
            selectivity(&col("k").lt(lit("m")), &s),
            RANGE_SELECTIVITY
        ));
        let u = named(None, None, 10);
        let both = col("k").gt(lit(1i64)).and(col("k").lt(lit(5i64)));
        assert!(close(
            selectivity(&both, &u),
            RANGE_SELECTIVITY * RANGE_SELECTIVITY
        ));
    }
}
