//! Window functions against a naive per-partition reference: every
//! function and frame kind, with nulls, ties, empty and giant partitions,
//! in memory and at budgets that force spilling.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array};
use parframe_core::{ScalarValue, Table, col, lit};
use proptest::prelude::*;

use super::*;
use crate::agg::{AggFunc, count, count_rows, max, mean, min, std, sum, var};
use crate::{Context, SortKey};

/// One input row.
#[derive(Debug, Clone)]
struct Row {
    k: Option<i64>,
    o: Option<i64>,
    v: Option<i64>,
    f: Option<f64>,
}

fn table(rows: &[Row]) -> Table {
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows.len() as i64));
    let k: ArrayRef = Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.k)));
    let o: ArrayRef = Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.o)));
    let v: ArrayRef = Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.v)));
    let f: ArrayRef = Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.f)));
    Table::from_columns(vec![
        ("id".into(), id),
        ("k".into(), k),
        ("o".into(), o),
        ("v".into(), v),
        ("f".into(), f),
    ])
    .unwrap()
}

/// A value of a result cell, for comparison.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    I(i64),
    F(f64),
}

fn close(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::F(x), Cell::F(y)) => {
            (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-6 * (1.0 + x.abs().max(y.abs()))
        }
        _ => a == b,
    }
}

/// The naive reference: the partition's rows sorted (stably, input order
/// on ties) and every function computed from its definition.
struct Reference<'a> {
    rows: &'a [Row],
    window: &'a Window,
}

impl Reference<'_> {
    fn order_key(&self, i: usize) -> Vec<(Option<i64>, bool, bool)> {
        self.window
            .order_by
            .iter()
            .map(|k| {
                let v = match k.column.as_str() {
                    "o" => self.rows[i].o,
                    "id" => Some(i as i64),
                    "v" => self.rows[i].v,
                    c => panic!("order column {c}"),
                };
                (v, k.descending, k.nulls_last)
            })
            .collect()
    }

    fn cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        for ((x, desc, nl), (y, _, _)) in self.order_key(a).into_iter().zip(self.order_key(b)) {
            let c = match (x, y) {
                (None, None) => Equal,
                (None, Some(_)) => {
                    if nl {
                        Greater
                    } else {
                        Less
                    }
                }
                (Some(_), None) => {
                    if nl {
                        Less
                    } else {
                        Greater
                    }
                }
                (Some(x), Some(y)) => {
                    if desc {
                        y.cmp(&x)
                    } else {
                        x.cmp(&y)
                    }
                }
            };
            if c != Equal {
                return c;
            }
        }
        Equal
    }

    /// Partitions, each as row ids in window order.
    fn partitions(&self) -> Vec<Vec<usize>> {
        let mut keys: Vec<Option<i64>> = Vec::new();
        let mut parts: Vec<Vec<usize>> = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            let key = if self.window.partition_by.is_empty() {
                None
            } else {
                r.k
            };
            match keys.iter().position(|k| *k == key) {
                Some(p) => parts[p].push(i),
                None => {
                    keys.push(key);
                    parts.push(vec![i]);
                }
            }
        }
        for p in &mut parts {
            p.sort_by(|&a, &b| self.cmp(a, b));
        }
        parts
    }

    /// The frame of position `r` of `part`, as positions.
    fn frame(&self, part: &[usize], r: usize, frame: WindowFrame) -> std::ops::Range<usize> {
        let n = part.len();
        if frame.units == FrameUnits::Rows {
            // Counted directly (the filter below is O(n) per row).
            let at = |b: FrameBound, end: bool| -> i64 {
                match b {
                    FrameBound::UnboundedPreceding => 0,
                    FrameBound::UnboundedFollowing => n as i64,
                    FrameBound::CurrentRow => r as i64 + i64::from(end),
                    FrameBound::Preceding(a) => r as i64 - a as i64 + i64::from(end),
                    FrameBound::Following(a) => r as i64 + a as i64 + i64::from(end),
                    other => panic!("{other} in a ROWS frame"),
                }
            };
            let s = at(frame.start, false).clamp(0, n as i64);
            let e = at(frame.end, true).clamp(s, n as i64);
            return s as usize..e as usize;
        }
        if frame.units == FrameUnits::Groups {
            // Peer group of each position: the number of key changes before it.
            let mut groups = vec![0i64; n];
            for x in 1..n {
                groups[x] = groups[x - 1] + i64::from(!self.cmp(part[x - 1], part[x]).is_eq());
            }
            let group = |j: usize| groups[j];
            let g = group(r);
            let at = |b: FrameBound| -> i64 {
                match b {
                    FrameBound::UnboundedPreceding => i64::MIN,
                    FrameBound::UnboundedFollowing => i64::MAX,
                    FrameBound::CurrentRow => g,
                    FrameBound::Preceding(a) => g - a as i64,
                    FrameBound::Following(a) => g + a as i64,
                    other => panic!("{other} in a GROUPS frame"),
                }
            };
            let (lo, hi) = (at(frame.start), at(frame.end));
            let inside: Vec<usize> = (0..n).filter(|&j| (lo..=hi).contains(&group(j))).collect();
            return match (inside.first(), inside.last()) {
                (Some(&a), Some(&b)) => a..b + 1,
                _ => 0..0,
            };
        }
        let peers = |r: usize| -> (usize, usize) {
            let s = (0..=r)
                .rev()
                .take_while(|&j| self.cmp(part[j], part[r]).is_eq())
                .last()
                .unwrap_or(r);
            let e = (r..n)
                .take_while(|&j| self.cmp(part[j], part[r]).is_eq())
                .last()
                .unwrap_or(r);
            (s, e + 1)
        };
        let (ps, pe) = peers(r);
        let key = |j: usize| -> Option<f64> {
            let k = &self.window.order_by[0];
            let v = self.rows[part[j]].o? as f64;
            Some(if k.descending { -v } else { v })
        };
        let rows = frame.units == FrameUnits::Rows;
        let nulls_last = self.window.order_by.first().is_some_and(|k| k.nulls_last);
        let start_ok = |j: usize| -> bool {
            match frame.start {
                FrameBound::UnboundedPreceding => true,
                FrameBound::CurrentRow => j >= if rows { r } else { ps },
                FrameBound::Preceding(a) if rows => j as f64 >= r as f64 - a,
                FrameBound::Following(b) if rows => j as f64 >= r as f64 + b,
                FrameBound::Preceding(a) | FrameBound::Following(a) => match key(r) {
                    None => j >= ps,
                    Some(v) => {
                        let t = if matches!(frame.start, FrameBound::Preceding(_)) {
                            v - a
                        } else {
                            v + a
                        };
                        // Null keys sort after (nulls last) or before every value.
                        key(j).map_or(nulls_last, |kj| kj >= t)
                    }
                },
                FrameBound::UnboundedFollowing => false,
                other => panic!("{other}: intervals are tested in `intervals`"),
            }
        };
        let end_ok = |j: usize| -> bool {
            match frame.end {
                FrameBound::UnboundedFollowing => true,
                FrameBound::CurrentRow => j < if rows { r + 1 } else { pe },
                FrameBound::Preceding(a) if rows => j as f64 <= r as f64 - a,
                FrameBound::Following(b) if rows => j as f64 <= r as f64 + b,
                FrameBound::Preceding(a) | FrameBound::Following(a) => match key(r) {
                    None => j < pe,
                    Some(v) => {
                        let t = if matches!(frame.end, FrameBound::Preceding(_)) {
                            v - a
                        } else {
                            v + a
                        };
                        key(j).map_or(!nulls_last, |kj| kj <= t)
                    }
                },
                FrameBound::UnboundedPreceding => false,
                other => panic!("{other}: intervals are tested in `intervals`"),
            }
        };
        let inside: Vec<usize> = (0..n).filter(|&j| start_ok(j) && end_ok(j)).collect();
        match (inside.first(), inside.last()) {
            (Some(&a), Some(&b)) => a..b + 1,
            _ => 0..0,
        }
    }

    /// Expected value per row id.
    fn eval(&self, func: &WindowFunction, frame: WindowFrame) -> Vec<Cell> {
        let mut out = vec![Cell::Null; self.rows.len()];
        let ival = |i: usize, c: &str| -> Option<i64> {
            match c {
                "v" => self.rows[i].v,
                "o" => self.rows[i].o,
                "k" => self.rows[i].k,
                "id" => Some(i as i64),
                _ => panic!("{c}"),
            }
        };
        let fval = |i: usize| self.rows[i].f;
        for part in self.partitions() {
            let n = part.len();
            // Peer groups, once per partition.
            let mut firsts = vec![0; n];
            let mut lasts = vec![0; n];
            let mut denses = vec![0i64; n];
            for r in 0..n {
                let new = r == 0 || !self.cmp(part[r - 1], part[r]).is_eq();
                firsts[r] = if new { r } else { firsts[r - 1] };
                denses[r] = if r == 0 {
                    1
                } else {
                    denses[r - 1] + i64::from(new)
                };
            }
            for r in (0..n).rev() {
                let new = r + 1 == n || !self.cmp(part[r + 1], part[r]).is_eq();
                lasts[r] = if new { r } else { lasts[r + 1] };
            }
            let first_peer = |r: usize| firsts[r];
            let last_peer = |r: usize| lasts[r];
            let mut memo: std::collections::HashMap<(usize, usize), Cell> = Default::default();
            for r in 0..n {
                let id = part[r];
                let cell = match func {
                    WindowFunction::RowNumber => Cell::I(r as i64 + 1),
                    WindowFunction::Rank => Cell::I(first_peer(r) as i64 + 1),
                    WindowFunction::DenseRank => Cell::I(denses[r]),
                    WindowFunction::PercentRank => Cell::F(if n <= 1 {
                        0.0
                    } else {
                        first_peer(r) as f64 / (n - 1) as f64
                    }),
                    WindowFunction::CumeDist => Cell::F((last_peer(r) + 1) as f64 / n as f64),
                    WindowFunction::Ntile(k) => {
                        let k = *k as usize;
                        let (q, rem) = (n / k, n % k);
                        let mut bucket = 0;
                        let mut at = 0;
                        for b in 0..k {
                            let size = q + usize::from(b < rem);
                            if r < at + size {
                                bucket = b + 1;
                                break;
                            }
                            at += size;
                        }
                        Cell::I(bucket as i64)
                    }
                    WindowFunction::Lag {
                        column,
                        offset,
                        default,
                    }
                    | WindowFunction::Lead {
                        column,
                        offset,
                        default,
                    } => {
                        let back = matches!(func, WindowFunction::Lag { .. });
                        let t = if back {
                            r.checked_sub(*offset as usize)
                        } else {
                            Some(r + *offset as usize).filter(|&t| t < n)
                        };
                        match t {
                            Some(t) => ival(part[t], column).map_or(Cell::Null, Cell::I),
                            None => match default {
                                Some(ScalarValue::Int64(d)) => Cell::I(*d),
                                _ => Cell::Null,
                            },
                        }
                    }
                    WindowFunction::FirstValue {
                        column,
                        ignore_nulls,
                    }
                    | WindowFunction::LastValue {
                        column,
                        ignore_nulls,
                    }
                    | WindowFunction::NthValue {
                        column,
                        ignore_nulls,
                        ..
                    } => {
                        // Frames repeat (a whole partition's, a peer group's):
                        // computed once per span.
                        let fr = self.frame(&part, r, frame);
                        let span = (fr.start, fr.len());
                        if let Some(c) = memo.get(&span) {
                            out[id] = c.clone();
                            continue;
                        }
                        let mut vals: Vec<Option<i64>> =
                            fr.map(|j| ival(part[j], column)).collect();
                        if *ignore_nulls {
                            vals.retain(Option::is_some);
                        }
                        let pick = match func {
                            WindowFunction::FirstValue { .. } => vals.first().copied(),
                            WindowFunction::LastValue { .. } => vals.last().copied(),
                            WindowFunction::NthValue { n, .. } => {
                                vals.get(*n as usize - 1).copied()
                            }
                            _ => unreachable!(),
                        };
                        let cell = pick.flatten().map_or(Cell::Null, Cell::I);
                        memo.insert(span, cell.clone());
                        cell
                    }
                    WindowFunction::Aggregate(a) => {
                        let fr = self.frame(&part, r, frame);
                        let span = (fr.start, fr.len());
                        if let Some(c) = memo.get(&span) {
                            out[id] = c.clone();
                            continue;
                        }
                        let ints: Vec<i64> =
                            fr.clone().filter_map(|j| self.rows[part[j]].v).collect();
                        let floats: Vec<f64> = fr.clone().filter_map(|j| fval(part[j])).collect();
                        let cell = match a {
                            AggFunc::CountRows => Cell::I(fr.len() as i64),
                            AggFunc::Count(_) => Cell::I(ints.len() as i64),
                            AggFunc::Sum(c) if c == "v" => {
                                if ints.is_empty() {
                                    Cell::Null
                                } else {
                                    Cell::I(ints.iter().sum())
                                }
                            }
                            AggFunc::Sum(_) => {
                                if floats.is_empty() {
                                    Cell::Null
                                } else {
                                    Cell::F(floats.iter().sum())
                                }
                            }
                            AggFunc::Mean(_) => {
                                if floats.is_empty() {
                                    Cell::Null
                                } else {
                                    Cell::F(floats.iter().sum::<f64>() / floats.len() as f64)
                                }
                            }
                            AggFunc::Min(_) => {
                                ints.iter().min().map_or(Cell::Null, |x| Cell::I(*x))
                            }
                            AggFunc::Max(_) => {
                                ints.iter().max().map_or(Cell::Null, |x| Cell::I(*x))
                            }
                            AggFunc::Var(_) | AggFunc::Std(_) => {
                                if floats.len() < 2 {
                                    Cell::Null
                                } else {
                                    let m = floats.iter().sum::<f64>() / floats.len() as f64;
                                    let v = floats.iter().map(|x| (x - m).powi(2)).sum::<f64>()
                                        / (floats.len() - 1) as f64;
                                    Cell::F(if matches!(a, AggFunc::Std(_)) {
                                        v.sqrt()
                                    } else {
                                        v
                                    })
                                }
                            }
                            other => panic!("{other}"),
                        };
                        memo.insert(span, cell.clone());
                        cell
                    }
                };
                out[id] = cell;
            }
        }
        out
    }
}

fn cells(a: &ArrayRef) -> Vec<Cell> {
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                Cell::Null
            } else if let Some(x) = a.as_primitive_opt::<Int64Type>() {
                Cell::I(x.value(i))
            } else if let Some(x) = a.as_primitive_opt::<Float64Type>() {
                Cell::F(x.value(i))
            } else {
                panic!("unexpected type {}", a.data_type())
            }
        })
        .collect()
}

/// Every function, over `window` with `frame` for the frame-aware ones.
fn all_functions(window: &Window, frame: WindowFrame) -> Vec<WindowExpr> {
    let w = window.clone();
    let wf = window.clone().frame(frame);
    let agg = |a: crate::agg::AggExpr, name: &str| a.over(wf.clone()).unwrap().alias(name);
    vec![
        row_number().over(w.clone()).alias("row_number"),
        rank().over(w.clone()).alias("rank"),
        dense_rank().over(w.clone()).alias("dense_rank"),
        percent_rank().over(w.clone()).alias("percent_rank"),
        cume_dist().over(w.clone()).alias("cume_dist"),
        ntile(3).over(w.clone()).alias("ntile"),
        lag("v", 1, None).over(w.clone()).alias("lag"),
        lead("v", 2, Some(ScalarValue::Int64(-1)))
            .over(w.clone())
            .alias("lead"),
        first_value("v").over(wf.clone()).alias("first"),
        first_value("v")
            .ignore_nulls()
            .over(wf.clone())
            .alias("first_in"),
        last_value("v").over(wf.clone()).alias("last"),
        last_value("v")
            .ignore_nulls()
            .over(wf.clone())
            .alias("last_in"),
        nth_value("v", 2).over(wf.clone()).alias("nth"),
        nth_value("v", 2)
            .ignore_nulls()
            .over(wf.clone())
            .alias("nth_in"),
        agg(count_rows(), "count_rows"),
        agg(count("v"), "count"),
        agg(sum("v"), "sum"),
        agg(sum("f"), "sumf"),
        agg(mean("f"), "mean"),
        agg(min("v"), "min"),
        agg(max("v"), "max"),
        agg(var("f"), "var"),
        agg(std("f"), "std"),
    ]
}

/// Runs every function and compares each column with the reference.
fn check(ctx: &Context, rows: &[Row], window: &Window, frame: WindowFrame) -> crate::JobStats {
    check_exprs(ctx, rows, window, frame, all_functions(window, frame))
}

fn check_exprs(
    ctx: &Context,
    rows: &[Row],
    window: &Window,
    frame: WindowFrame,
    exprs: Vec<WindowExpr>,
) -> crate::JobStats {
    let (out, stats) = ctx
        .lazy(table(rows))
        .with_window_columns(exprs.clone())
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert_eq!(out.num_rows(), rows.len());
    if rows.is_empty() {
        return stats;
    }
    let ids = cells(
        &arrow_select::concat::concat(
            &out.column_chunks("id")
                .unwrap()
                .iter()
                .map(|a| a.as_ref())
                .collect::<Vec<_>>(),
        )
        .unwrap(),
    );
    let reference = Reference { rows, window };
    for e in &exprs {
        let got = out.column(&e.name).unwrap();
        let got = cells(&got);
        let want = reference.eval(&e.func, e.window.effective_frame());
        for (pos, id) in ids.iter().enumerate() {
            let Cell::I(id) = id else { panic!() };
            let w = &want[*id as usize];
            assert!(
                close(&got[pos], w),
                "{} over {window} {frame}: row id {id}: got {:?}, want {w:?}\nrows: {rows:?}",
                e.name,
                got[pos]
            );
        }
    }
    stats
}

fn row_strategy(keys: i64, orders: i64) -> impl Strategy<Value = Row> {
    (
        prop::option::weighted(0.9, 0..keys),
        prop::option::weighted(0.85, 0..orders),
        prop::option::weighted(0.8, -50i64..50),
        prop::option::weighted(0.8, -1000i32..1000),
    )
        .prop_map(|(k, o, v, f)| Row {
            k,
            o,
            v,
            f: f.map(|x| f64::from(x) / 8.0),
        })
}

fn frame_strategy() -> impl Strategy<Value = WindowFrame> {
    use FrameBound::*;
    let n = || 0u8..4;
    prop_oneof![
        Just(WindowFrame::whole()),
        Just(WindowFrame::running()),
        Just(WindowFrame::range(UnboundedPreceding, CurrentRow)),
        Just(WindowFrame::range(CurrentRow, UnboundedFollowing)),
        (n(), n()).prop_map(|(a, b)| WindowFrame::rows(Preceding(a.into()), Following(b.into()))),
        (n(), n()).prop_map(|(a, b)| {
            let (a, b) = (a.max(b), a.min(b));
            WindowFrame::rows(Preceding(a.into()), Preceding(b.into()))
        }),
        n().prop_map(|b| WindowFrame::rows(CurrentRow, Following(b.into()))),
        (n(), n()).prop_map(|(a, b)| WindowFrame::range(Preceding(a.into()), Following(b.into()))),
        n().prop_map(|a| WindowFrame::range(Preceding(a.into()), CurrentRow)),
        n().prop_map(|b| WindowFrame::range(UnboundedPreceding, Following(b.into()))),
        (n(), n()).prop_map(|(a, b)| WindowFrame::groups(Preceding(a.into()), Following(b.into()))),
        (n(), n()).prop_map(|(a, b)| {
            let (a, b) = (a.max(b), a.min(b));
            WindowFrame::groups(Preceding(a.into()), Preceding(b.into()))
        }),
        (n(), n()).prop_map(|(a, b)| {
            let (a, b) = (a.min(b), a.max(b));
            WindowFrame::groups(Following(a.into()), Following(b.into()))
        }),
        n().prop_map(|b| WindowFrame::groups(CurrentRow, Following(b.into()))),
        n().prop_map(|a| WindowFrame::groups(Preceding(a.into()), UnboundedFollowing)),
    ]
}

fn window_strategy() -> impl Strategy<Value = Window> {
    (any::<bool>(), any::<bool>(), any::<bool>(), 0u8..3).prop_map(|(part, desc, nl, tie)| {
        let key = if desc {
            SortKey::desc("o")
        } else {
            SortKey::asc("o")
        }
        .nulls_last(nl);
        let w = if part {
            Window::new().partition_by(["k"])
        } else {
            Window::new()
        };
        match tie {
            // Order by `o` only: ties, and RANGE offsets apply.
            0 | 1 => w.order_by([key]),
            // Unique order: (o, id).
            _ => w.order_by([key, SortKey::asc("id")]),
        }
    })
}

fn ctx(threads: usize, chunk_rows: usize, limit: Option<u64>) -> Context {
    let mut b = Context::builder().threads(threads).chunk_rows(chunk_rows);
    if let Some(l) = limit {
        b = b.memory_limit(l);
    }
    b.build().unwrap()
}

fn range_ok(w: &Window, f: &WindowFrame) -> bool {
    let offsets = matches!(f.start, FrameBound::Preceding(_) | FrameBound::Following(_))
        || matches!(f.end, FrameBound::Preceding(_) | FrameBound::Following(_));
    !(f.units == FrameUnits::Range && offsets && w.order_by.len() != 1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn every_function_matches_reference_in_memory(
        rows in prop::collection::vec(row_strategy(4, 6), 0..60),
        window in window_strategy(),
        frame in frame_strategy(),
        threads in 1usize..3,
        chunk in 1usize..20,
    ) {
        prop_assume!(range_ok(&window, &frame));
        check(&ctx(threads, chunk, None), &rows, &window, frame);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Without partition keys and without order: one partition, input order.
    #[test]
    fn unordered_whole_input(
        rows in prop::collection::vec(row_strategy(3, 5), 0..50),
        frame in frame_strategy(),
    ) {
        let w = Window::new();
        let frame = if frame.units == FrameUnits::Rows { frame } else { WindowFrame::whole() };
        check(&ctx(2, 7, None), &rows, &w, frame);
    }
}

/// Bytes of the table's Arrow data.
fn data_size(rows: &[Row]) -> u64 {
    table(rows).memory_size() as u64
}

fn spill_case(rows: &[Row], window: &Window, frame: WindowFrame, divisor: u64, full: bool) {
    let size = data_size(rows);
    let limit = size / divisor;
    let c = ctx(2, 32, Some(limit));
    let exprs = if full {
        all_functions(window, frame)
    } else {
        // The functions whose reference is cheap on large partitions.
        let w = window.clone();
        let wf = window.clone().frame(frame);
        vec![
            row_number().over(w.clone()).alias("row_number"),
            rank().over(w.clone()).alias("rank"),
            dense_rank().over(w.clone()).alias("dense_rank"),
            cume_dist().over(w.clone()).alias("cume_dist"),
            ntile(7).over(w.clone()).alias("ntile"),
            lag("v", 3, None).over(w.clone()).alias("lag"),
            lead("v", 1, Some(ScalarValue::Int64(0)))
                .over(w.clone())
                .alias("lead"),
            last_value("v")
                .ignore_nulls()
                .over(wf.clone())
                .alias("last_in"),
            sum("v").over(wf.clone()).unwrap().alias("sum"),
            max("v").over(wf.clone()).unwrap().alias("max"),
            mean("f").over(wf.clone()).unwrap().alias("mean"),
        ]
    };
    let stats = check_exprs(&c, rows, window, frame, exprs);
    assert!(
        stats.spilled.files > 0,
        "budget {limit} of {size}: nothing spilled"
    );
    assert!(c.memory_pool().peak() <= limit);
    assert_eq!(c.memory_pool().used(), 0, "reservations left behind");
    assert_eq!(c.spill_live().files, 0, "spill files left behind");
}

fn big_rows(n: usize, keys: i64, seed: u64) -> Vec<Row> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| Row {
            k: (rng.random_range(0..20) > 0).then(|| rng.random_range(0..keys)),
            o: (rng.random_range(0..20) > 0).then(|| rng.random_range(0..200)),
            v: (rng.random_range(0..10) > 0).then(|| rng.random_range(-100..100)),
            f: (rng.random_range(0..10) > 0).then(|| f64::from(rng.random_range(-800..800)) / 8.0),
        })
        .collect()
}

#[test]
fn spills_at_a_tenth_of_the_data() {
    use FrameBound::*;
    let rows = big_rows(8_000, 40, 1);
    let w = Window::new()
        .partition_by(["k"])
        .order_by([SortKey::asc("o")]);
    spill_case(
        &rows,
        &w,
        WindowFrame::range(Preceding(3.0), Following(2.0)),
        10,
        true,
    );
    let w = Window::new()
        .partition_by(["k"])
        .order_by([SortKey::desc("o"), SortKey::asc("id")]);
    spill_case(
        &rows,
        &w,
        WindowFrame::rows(Preceding(5.0), Following(3.0)),
        10,
        true,
    );
}

#[test]
fn spills_at_a_hundredth_of_the_data() {
    use FrameBound::*;
    let rows = big_rows(60_000, 200, 5);
    let w = Window::new()
        .partition_by(["k"])
        .order_by([SortKey::asc("o"), SortKey::asc("id")]);
    spill_case(
        &rows,
        &w,
        WindowFrame::rows(Preceding(4.0), CurrentRow),
        100,
        false,
    );
}

/// One partition holding every row, at a tenth and a hundredth of the
/// data's size: the partition cannot be held, so it is written to a spill
/// file as it arrives and evaluated from the file's memory map.
#[test]
fn one_giant_partition_spills() {
    use FrameBound::*;
    let rows = big_rows(30_000, 1, 2)
        .into_iter()
        .map(|r| Row { k: Some(0), ..r })
        .collect::<Vec<_>>();
    let w = Window::new()
        .partition_by(["k"])
        .order_by([SortKey::asc("o").nulls_last(false), SortKey::asc("id")]);
    spill_case(&rows, &w, WindowFrame::whole(), 10, false);
    spill_case(&rows, &w, WindowFrame::whole(), 100, false);
    let w = Window::new().order_by([SortKey::desc("o"), SortKey::asc("id")]);
    spill_case(
        &rows,
        &w,
        WindowFrame::rows(Preceding(20.0), Following(5.0)),
        100,
        false,
    );
    // The reference computes GROUPS frames in O(n) per row: fewer rows.
    let w = Window::new().order_by([SortKey::desc("o")]);
    spill_case(
        &rows[..3_000],
        &w,
        WindowFrame::groups(Preceding(2.0), Following(1.0)),
        10,
        false,
    );
}

#[test]
fn errors_name_the_problem() {
    let c = ctx(2, 16, None);
    let lf = c.lazy(table(&big_rows(10, 3, 3)));
    let w = Window::new().order_by([SortKey::asc("o"), SortKey::asc("id")]);
    let bad = sum("v")
        .over(w.clone().frame(WindowFrame::range(
            FrameBound::Preceding(1.0),
            FrameBound::CurrentRow,
        )))
        .unwrap();
    let e = lf.with_window_columns([bad]).unwrap_err().to_string();
    assert!(e.contains("exactly one ORDER BY key"), "{e}");
    let e = lf
        .with_window_columns([lag("nope", 1, None).over(w.clone())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
    let e = lf
        .with_window_columns([ntile(0).over(w.clone())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("ntile(0)"), "{e}");
    assert!((sum("v") + sum("f")).over(w).is_err());
}

#[test]
fn explain_and_stats_show_the_window() {
    let c = ctx(2, 16, None);
    let w = Window::new()
        .partition_by(["k"])
        .order_by([SortKey::desc("v")]);
    let lf = c
        .lazy(table(&big_rows(100, 3, 4)))
        .with_window_columns([row_number().over(w).alias("rn")])
        .unwrap();
    assert!(
        lf.explain()
            .starts_with("Window (PARTITION BY k ORDER BY v DESC NULLS LAST) [row_number() AS rn]"),
        "{}",
        lf.explain()
    );
    let (_, stats) = lf.collect_with_stats().unwrap();
    let op = stats.operator(0).unwrap();
    assert_eq!(op.rows_out, 100);
}

/// (partition key, row number, order key) of the rows a top-k keeps,
/// sorted: what any correct top-k gives whatever it does with ties.
fn topk_triples(t: &Table, order: &str) -> Vec<(Option<i64>, i64, Option<i64>)> {
    let b = t.to_batch().unwrap();
    let k = b.column_by_name("k").unwrap().as_primitive::<Int64Type>();
    let rn = b.column_by_name("rn").unwrap().as_primitive::<Int64Type>();
    let o = b.column_by_name(order).unwrap().as_primitive::<Int64Type>();
    let opt =
        |a: &arrow_array::PrimitiveArray<Int64Type>, i: usize| a.is_valid(i).then(|| a.value(i));
    let mut out: Vec<_> = (0..b.num_rows())
        .map(|i| (opt(k, i), rn.value(i), opt(o, i)))
        .collect();
    out.sort();
    out
}

fn topk_case(ctx: &Context, rows: &[Row], window: &Window, k: i64) {
    let lf = ctx
        .lazy(table(rows))
        .with_window_columns([row_number().over(window.clone()).alias("rn")])
        .unwrap()
        .filter(col("rn").lt_eq(lit(k)))
        .unwrap();
    assert!(
        lf.explain().contains(&format!("top {k} per partition")),
        "{}",
        lf.explain()
    );
    let fast = lf.collect().unwrap();
    // The general operator: no optimizer rules at all.
    let general = lf
        .collect_with_optimizer(&parframe_plan::Optimizer::with_rules(vec![]))
        .unwrap();
    assert_eq!(fast.schema(), general.schema());
    let order = window.order_by.first().map_or("v", |s| s.column.as_str());
    assert_eq!(topk_triples(&fast, order), topk_triples(&general, order));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 30, ..ProptestConfig::default() })]

    /// `row_number() <= k` through the heap top-k gives the rows of the
    /// general window operator (up to ties), in memory and at budgets that
    /// push it onto the general operator midway; with one order key (kept
    /// as a narrow key) and with two (18 bytes of row encoding: boxed).
    #[test]
    fn window_top_k_matches_the_general_operator(
        rows in prop::collection::vec(row_strategy(6, 8), 0..120),
        desc in any::<bool>(),
        wide in any::<bool>(),
        nulls_last in any::<bool>(),
        partitioned in any::<bool>(),
        // Flat slots up to 16 per partition, growing heaps above.
        k in prop_oneof![0i64..4, 15i64..19],
        threads in 1usize..3,
        chunk in 1usize..20,
    ) {
        let key = if desc { SortKey::desc("o") } else { SortKey::asc("o") }.nulls_last(nulls_last);
        let w = if wide {
            Window::new().order_by([key, SortKey::asc("v")])
        } else {
            Window::new().order_by([key])
        };
        let w = if partitioned { w.partition_by(["k"]) } else { w };
        topk_case(&ctx(threads, chunk, None), &rows, &w, k);
    }
}

/// `rows` with `row_number() OVER w AS rn`, kept where `rn <= k`.
fn top_rows(c: &Context, rows: &[Row], w: Window, k: i64) -> crate::LazyFrame {
    c.lazy(table(rows))
        .with_window_columns([row_number().over(w).alias("rn")])
        .unwrap()
        .filter(col("rn").lt_eq(lit(k)))
        .unwrap()
}

/// With a budget far below k rows per partition, the top-k hands its rows
/// and the rest of the input to the general operator, which spills; the
/// answer is the same and the pool stays within its limit.
#[test]
fn window_top_k_over_budget_falls_back_and_spills() {
    let rows = big_rows(30_000, 5_000, 11);
    // A tenth of the data: far below the ~15,000 rows the heaps would keep.
    // (A twentieth left the general operator's sort too little beside
    // what the other thread's operators held at that moment, now and then:
    // a resources-exhausted error, not a wrong answer.)
    let limit = data_size(&rows) / 10;
    let c = ctx(2, 512, Some(limit));
    let w = Window::new()
        .partition_by(["k"])
        .order_by([SortKey::desc("o")]);
    topk_case(&c, &rows, &w, 3);
    assert!(c.memory_pool().peak() <= limit);
    // In memory the heap holds it all: nothing spills.
    let c = ctx(2, 512, None);
    let (out, stats) = top_rows(&c, &rows, w, 3).collect_with_stats().unwrap();
    assert!(out.num_rows() > 3_000);
    assert_eq!(stats.spilled.files, 0);
}

/// The top-k charges what it holds, not every row that ever entered a
/// heap: a long input whose kept rows fit the budget easily (two rows of a
/// thousand partitions) stays on the fast path and spills nothing, though
/// the rows that entered and were pushed out again (about ten per
/// partition and worker) would not fit together.
#[test]
fn window_top_k_charges_what_it_keeps() {
    let rows = big_rows(200_000, 1_000, 5);
    let limit = data_size(&rows) / 10;
    let c = ctx(2, 512, Some(limit));
    let w = Window::new()
        .partition_by(["k"])
        .order_by([SortKey::desc("v")]);
    topk_case(&c, &rows, &w, 2);
    let (out, stats) = top_rows(&c, &rows, w, 2).collect_with_stats().unwrap();
    assert_eq!(out.num_rows(), 2 * 1_001);
    assert_eq!(stats.spilled.files, 0);
    assert!(c.memory_pool().peak() <= limit);
}

/// `RANGE` frames with interval offsets over a date key, against a naive
/// reference that moves each row's date by the interval with chrono
/// (calendar months, then days, then the time of day).
mod intervals {
    use super::*;
    use arrow_array::Date32Array;
    use arrow_array::types::IntervalMonthDayNano;
    use chrono::{Days, Months, NaiveDate, NaiveDateTime, TimeDelta};

    fn epoch() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(1970, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    }

    fn at(d: i32) -> NaiveDateTime {
        epoch() + TimeDelta::days(i64::from(d))
    }

    fn shift(t: NaiveDateTime, iv: IntervalMonthDayNano, forward: bool) -> NaiveDateTime {
        let m = Months::new(iv.months as u32);
        let d = Days::new(iv.days as u64);
        let ns = TimeDelta::nanoseconds(iv.nanoseconds);
        if forward {
            t.checked_add_months(m)
                .unwrap()
                .checked_add_days(d)
                .unwrap()
                + ns
        } else {
            t.checked_sub_months(m)
                .unwrap()
                .checked_sub_days(d)
                .unwrap()
                - ns
        }
    }

    /// `(partition, date, value)` rows; the frame from `start` to `end`.
    fn naive(
        rows: &[(i64, Option<i32>, Option<i64>)],
        desc: bool,
        nulls_last: bool,
        start: FrameBound,
        end: FrameBound,
    ) -> Vec<(i64, Option<i64>)> {
        rows.iter()
            .map(|&(k, d, _)| {
                let inside: Vec<Option<i64>> = rows
                    .iter()
                    .filter(|r| r.0 == k)
                    .filter(|r| {
                        // Null keys are peers, placed before (nulls first)
                        // or after every date; offsets of a null row stop
                        // at its peers.
                        let unbounded_lo = start == FrameBound::UnboundedPreceding;
                        let unbounded_hi = end == FrameBound::UnboundedFollowing;
                        let (me, them) = match (d, r.1) {
                            (None, None) => return true,
                            (None, Some(_)) => {
                                return (unbounded_lo || !nulls_last)
                                    && (unbounded_hi || nulls_last);
                            }
                            (Some(_), None) => {
                                return (unbounded_lo || nulls_last)
                                    && (unbounded_hi || !nulls_last);
                            }
                            (Some(d), Some(e)) => (at(d), at(e)),
                        };
                        // In window order PRECEDING is towards smaller
                        // dates of an ascending key.
                        let lower_ok = match start {
                            FrameBound::UnboundedPreceding => true,
                            FrameBound::CurrentRow => {
                                if desc {
                                    them <= me
                                } else {
                                    them >= me
                                }
                            }
                            FrameBound::PrecedingInterval(iv) => {
                                if desc {
                                    them <= shift(me, iv, true)
                                } else {
                                    them >= shift(me, iv, false)
                                }
                            }
                            FrameBound::FollowingInterval(iv) => {
                                if desc {
                                    them <= shift(me, iv, false)
                                } else {
                                    them >= shift(me, iv, true)
                                }
                            }
                            other => panic!("{other}"),
                        };
                        let upper_ok = match end {
                            FrameBound::UnboundedFollowing => true,
                            FrameBound::CurrentRow => {
                                if desc {
                                    them >= me
                                } else {
                                    them <= me
                                }
                            }
                            FrameBound::PrecedingInterval(iv) => {
                                if desc {
                                    them >= shift(me, iv, true)
                                } else {
                                    them <= shift(me, iv, false)
                                }
                            }
                            FrameBound::FollowingInterval(iv) => {
                                if desc {
                                    them >= shift(me, iv, false)
                                } else {
                                    them <= shift(me, iv, true)
                                }
                            }
                            other => panic!("{other}"),
                        };
                        lower_ok && upper_ok
                    })
                    .map(|r| r.2)
                    .collect();
                let vals: Vec<i64> = inside.iter().flatten().copied().collect();
                (
                    inside.len() as i64,
                    (!vals.is_empty()).then(|| vals.iter().sum()),
                )
            })
            .collect()
    }

    fn interval_strategy() -> impl Strategy<Value = IntervalMonthDayNano> {
        (
            0i32..3,
            0i32..40,
            prop_oneof![Just(0i64), Just(43_200_000_000_000i64), Just(1)],
        )
            .prop_map(|(m, d, ns)| IntervalMonthDayNano::new(m, d, ns))
    }

    fn bound_strategy(start: bool) -> impl Strategy<Value = FrameBound> {
        let edge = if start {
            FrameBound::UnboundedPreceding
        } else {
            FrameBound::UnboundedFollowing
        };
        prop_oneof![
            Just(edge),
            Just(FrameBound::CurrentRow),
            interval_strategy().prop_map(FrameBound::PrecedingInterval),
            interval_strategy().prop_map(FrameBound::FollowingInterval),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn interval_range_frames_match_calendar_arithmetic(
            rows in prop::collection::vec(
                (0i64..3, prop::option::weighted(0.9, 10_950i32..11_900), prop::option::weighted(0.9, -50i64..50)),
                0..50,
            ),
            desc in any::<bool>(),
            nulls_last in any::<bool>(),
            start in bound_strategy(true),
            end in bound_strategy(false),
            threads in 1usize..3,
            chunk in 1usize..12,
        ) {
            let frame = WindowFrame::range(start, end);
            let key = if desc { SortKey::desc("d") } else { SortKey::asc("d") }.nulls_last(nulls_last);
            let w = Window::new().partition_by(["k"]).order_by([key]).frame(frame);
            let id: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows.len() as i64));
            let k: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0)));
            let d: ArrayRef = Arc::new(Date32Array::from_iter(rows.iter().map(|r| r.1)));
            let v: ArrayRef = Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.2)));
            let t = Table::from_columns(vec![
                ("id".into(), id), ("k".into(), k), ("d".into(), d), ("v".into(), v),
            ]).unwrap();
            let lf = ctx(threads, chunk, None).lazy(t).with_window_columns([
                count_rows().over(w.clone()).unwrap().alias("n"),
                sum("v").over(w).unwrap().alias("s"),
            ]);
            // A frame whose start comes after its end is refused when planned.
            let lf = match lf {
                Ok(lf) => lf,
                Err(e) => {
                    prop_assert!(e.to_string().contains("start comes after the end"), "{e}");
                    return Ok(());
                }
            };
            let out = lf.collect().unwrap();
            let want = naive(&rows, desc, nulls_last, start, end);
            let b = out.to_batch().unwrap();
            let ids = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
            let n = b.column_by_name("n").unwrap().as_primitive::<Int64Type>();
            let s = b.column_by_name("s").unwrap().as_primitive::<Int64Type>();
            for r in 0..b.num_rows() {
                let id = ids.value(r) as usize;
                let got = (n.value(r), s.is_valid(r).then(|| s.value(r)));
                prop_assert_eq!(got, want[id], "row id {} {:?} {}", id, rows[id], frame);
            }
        }
    }

    /// Days of an interval are days of the key's time zone: across the
    /// switch to summer time in Paris (2024-03-31), a day is 23 hours.
    #[test]
    fn interval_days_follow_the_time_zone() {
        use arrow_array::TimestampMicrosecondArray;
        let us = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_micros()
        };
        // 11:30 and 12:00 in Paris the day before, noon on the day.
        let ts = TimestampMicrosecondArray::from(vec![
            us("2024-03-30T10:30:00Z"),
            us("2024-03-30T11:00:00Z"),
            us("2024-03-31T10:00:00Z"),
        ])
        .with_timezone("Europe/Paris");
        let t = Table::from_columns(vec![("t".into(), Arc::new(ts) as ArrayRef)]).unwrap();
        let frame = |iv| {
            Window::new()
                .order_by([SortKey::asc("t")])
                .frame(WindowFrame::range(
                    FrameBound::PrecedingInterval(iv),
                    FrameBound::CurrentRow,
                ))
        };
        let out = ctx(1, 16, None)
            .lazy(t)
            .with_window_columns([
                count_rows()
                    .over(frame(IntervalMonthDayNano::new(0, 1, 0)))
                    .unwrap()
                    .alias("day"),
                count_rows()
                    .over(frame(IntervalMonthDayNano::new(
                        0,
                        0,
                        24 * 3_600_000_000_000,
                    )))
                    .unwrap()
                    .alias("hours"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        let b = out.to_batch().unwrap();
        let col = |n: &str| -> Vec<i64> {
            b.column_by_name(n)
                .unwrap()
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        };
        // Noon minus one Paris day is noon the day before (11:30 is out);
        // minus 24 hours is 11:00 the day before (both are in).
        assert_eq!(col("day"), [1, 2, 2]);
        assert_eq!(col("hours"), [1, 2, 3]);
    }

    #[test]
    fn interval_offsets_need_a_temporal_key_and_numbers_a_numeric_one() {
        let c = ctx(1, 16, None);
        let t = Table::from_columns(vec![
            (
                "i".into(),
                Arc::new(Int64Array::from(vec![1i64, 2])) as ArrayRef,
            ),
            (
                "d".into(),
                Arc::new(Date32Array::from(vec![1, 2])) as ArrayRef,
            ),
        ])
        .unwrap();
        let iv = FrameBound::PrecedingInterval(IntervalMonthDayNano::new(0, 1, 0));
        let over = |key: &str, frame: WindowFrame| {
            c.lazy(t.clone())
                .with_window_columns([count_rows()
                    .over(Window::new().order_by([SortKey::asc(key)]).frame(frame))
                    .unwrap()
                    .alias("n")])
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let e = over("i", WindowFrame::range(iv, FrameBound::CurrentRow));
        assert!(
            e.contains("need a date or timestamp ORDER BY key; 'i' is Int64"),
            "{e}"
        );
        let e = over(
            "d",
            WindowFrame::range(FrameBound::Preceding(1.0), FrameBound::CurrentRow),
        );
        assert!(e.contains("write an interval"), "{e}");
        let e = over("d", WindowFrame::rows(iv, FrameBound::CurrentRow));
        assert!(e.contains("need a RANGE frame"), "{e}");
        let neg = FrameBound::PrecedingInterval(IntervalMonthDayNano::new(0, -1, 0));
        let e = over("d", WindowFrame::range(neg, FrameBound::CurrentRow));
        assert!(e.contains("must not be negative"), "{e}");
        let e = c
            .lazy(t.clone())
            .with_window_columns([count_rows()
                .over(Window::new().frame(WindowFrame::groups(
                    FrameBound::Preceding(1.0),
                    FrameBound::CurrentRow,
                )))
                .unwrap()
                .alias("n")])
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains("GROUPS frames need an ORDER BY"), "{e}");
    }
}

/// Partition keys longer than the top-k's inline keys (kept on the heap)
/// and short ones side by side give the general operator's rows.
#[test]
fn window_top_k_with_long_and_short_string_keys() {
    use arrow_array::StringArray;
    let n = 3_000usize;
    let keys: Vec<String> = (0..n)
        .map(|i| {
            let p = i % 37;
            if p % 2 == 0 {
                format!("partition-with-a-long-name-{p:040}")
            } else {
                format!("p{p}")
            }
        })
        .collect();
    let o: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 101).collect();
    let t = Table::from_columns(vec![
        ("k".into(), Arc::new(StringArray::from(keys)) as ArrayRef),
        ("o".into(), Arc::new(Int64Array::from(o)) as ArrayRef),
    ])
    .unwrap();
    let c = ctx(2, 64, None);
    let w = Window::new()
        .partition_by(["k"])
        .order_by([SortKey::desc("o")]);
    let lf = c
        .lazy(t)
        .with_window_columns([row_number().over(w).alias("rn")])
        .unwrap()
        .filter(col("rn").lt_eq(lit(3i64)))
        .unwrap();
    assert!(
        lf.explain().contains("top 3 per partition"),
        "{}",
        lf.explain()
    );
    let triples = |t: &Table| {
        let b = t.to_batch().unwrap();
        let k = b.column_by_name("k").unwrap().as_string::<i32>();
        let rn = b.column_by_name("rn").unwrap().as_primitive::<Int64Type>();
        let o = b.column_by_name("o").unwrap().as_primitive::<Int64Type>();
        let mut v: Vec<(String, i64, i64)> = (0..b.num_rows())
            .map(|i| (k.value(i).to_string(), rn.value(i), o.value(i)))
            .collect();
        v.sort();
        v
    };
    let fast = triples(&lf.collect().unwrap());
    let general = triples(
        &lf.collect_with_optimizer(&parframe_plan::Optimizer::with_rules(vec![]))
            .unwrap(),
    );
    assert_eq!(fast.len(), 37 * 3);
    assert_eq!(fast, general);
}
