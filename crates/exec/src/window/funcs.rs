//! The evaluators of the window functions. Each gets consecutive row
//! ranges of a [`Segment`] (the output chunks, in order) and keeps its
//! state (partition, peer group, frame pointers, accumulators) from one
//! range to the next, so a partition spanning many chunks is evaluated in
//! one pass. A new evaluator is made for every segment.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, Float64Array, Int64Array, PrimitiveArray, new_null_array,
};
use arrow_schema::{DataType, Schema, SortOptions};
use arrow_select::interleave::interleave;
use parframe_common::{Error, Result};

use super::frame::{FrameCursor, Parts, Peers, RangeKeySpec};
use super::segment::{Cursor, NullCursor, Segment};
use super::{WindowExpr, WindowFrame, WindowFunction};
use crate::agg::AggFunc;
use crate::aggregate::cast_to;

/// Computes one window column over consecutive ranges of a segment.
pub(crate) trait Evaluator: Send + Sync {
    /// The values of rows `rows` (the next range after the previous call).
    fn eval(&mut self, seg: &Segment, rows: Range<usize>) -> Result<ArrayRef>;
    /// Heap bytes held between calls that grow with the data (deques).
    fn held_bytes(&self) -> usize {
        0
    }
}

/// A window expression resolved against the operator's input schema.
pub(crate) struct Prepared {
    func: WindowFunction,
    frame: WindowFrame,
    /// The argument column's index.
    arg: Option<usize>,
    arg_type: DataType,
    out_type: DataType,
    /// The single order key, for RANGE offsets.
    range_key: Option<RangeKeySpec>,
    /// The default of lag/lead as a one-row array of the column's type.
    default: Option<ArrayRef>,
}

impl Prepared {
    pub(crate) fn new(e: &WindowExpr, schema: &Schema) -> Result<Self> {
        let out_type = e.func.output_type(schema)?;
        let arg = e.func.column().map(|c| schema.index_of(c)).transpose()?;
        let arg_type = arg.map_or(DataType::Null, |i| schema.field(i).data_type().clone());
        let range_key = match e.window.order_by.as_slice() {
            [k] => {
                let col = schema.index_of(&k.column)?;
                Some(RangeKeySpec {
                    col,
                    data_type: schema.field(col).data_type().clone(),
                    descending: k.descending,
                    nulls_first: SortOptions {
                        descending: k.descending,
                        nulls_first: !k.nulls_last,
                    }
                    .nulls_first,
                })
            }
            _ => None,
        };
        let default = match &e.func {
            WindowFunction::Lag { default, .. } | WindowFunction::Lead { default, .. } => {
                Some(match default {
                    Some(d) if !d.is_null() => cast_to(&d.to_array(1), &arg_type)?,
                    _ => new_null_array(&arg_type, 1),
                })
            }
            _ => None,
        };
        Ok(Prepared {
            func: e.func.clone(),
            frame: e.window.effective_frame(),
            arg,
            arg_type,
            out_type,
            range_key,
            default,
        })
    }

    fn arg(&self) -> Result<usize> {
        self.arg.ok_or_else(|| {
            Error::InvalidArgument(format!("internal: {} without its column", self.func))
        })
    }

    /// A fresh evaluator (for one segment).
    pub(crate) fn evaluator(&self) -> Result<Box<dyn Evaluator>> {
        let frame = || FrameCursor::new(self.frame, self.range_key.as_ref());
        Ok(match &self.func {
            WindowFunction::RowNumber
            | WindowFunction::Rank
            | WindowFunction::DenseRank
            | WindowFunction::PercentRank
            | WindowFunction::CumeDist
            | WindowFunction::Ntile(_) => Box::new(Ranking {
                func: self.func.clone(),
                parts: Parts::default(),
                peers: Peers::default(),
                dense: 0,
            }),
            WindowFunction::Lag { offset, .. } | WindowFunction::Lead { offset, .. } => {
                Box::new(Shift {
                    col: self.arg()?,
                    back: matches!(self.func, WindowFunction::Lag { .. }),
                    offset: usize::try_from(*offset).unwrap_or(usize::MAX),
                    default: self
                        .default
                        .clone()
                        .unwrap_or_else(|| new_null_array(&self.arg_type, 1)),
                    parts: Parts::default(),
                })
            }
            WindowFunction::FirstValue {
                ignore_nulls: ign, ..
            } => Box::new(Value::new(
                self.arg()?,
                Pick::First,
                *ign,
                frame(),
                &self.arg_type,
            )),
            WindowFunction::LastValue {
                ignore_nulls: ign, ..
            } => Box::new(Value::new(
                self.arg()?,
                Pick::Last,
                *ign,
                frame(),
                &self.arg_type,
            )),
            WindowFunction::NthValue {
                n,
                ignore_nulls: ign,
                ..
            } => Box::new(Value::new(
                self.arg()?,
                Pick::Nth(usize::try_from(*n).unwrap_or(usize::MAX)),
                *ign,
                frame(),
                &self.arg_type,
            )),
            WindowFunction::Aggregate(a) => self.aggregate(a, frame())?,
        })
    }

    fn aggregate(&self, a: &AggFunc, frame: FrameCursor) -> Result<Box<dyn Evaluator>> {
        let ints = self.arg_type.is_integer();
        let out = self.out_type.clone();
        let running = matches!(self.frame.start, super::FrameBound::UnboundedPreceding);
        Ok(match a {
            AggFunc::CountRows => Box::new(CountRows { frame }),
            AggFunc::Count(_) => Box::new(Sliding::new(
                self.arg()?,
                DataType::Int64,
                frame,
                Count(0),
                out,
            )),
            AggFunc::Sum(c) if ints => Box::new(Sliding::new(
                self.arg()?,
                DataType::Int64,
                frame,
                IntSum {
                    column: c.clone(),
                    ..IntSum::default()
                },
                out,
            )),
            AggFunc::Mean(c) if ints => Box::new(Sliding::new(
                self.arg()?,
                DataType::Int64,
                frame,
                IntMean(IntSum {
                    column: c.clone(),
                    ..IntSum::default()
                }),
                out,
            )),
            AggFunc::Sum(_) => Box::new(Sliding::new(
                self.arg()?,
                DataType::Float64,
                frame,
                FloatSum::default(),
                out,
            )),
            AggFunc::Mean(_) => Box::new(Sliding::new(
                self.arg()?,
                DataType::Float64,
                frame,
                FloatMean(FloatSum::default()),
                out,
            )),
            AggFunc::Var(_) | AggFunc::Std(_) => Box::new(Sliding::new(
                self.arg()?,
                DataType::Float64,
                frame,
                Welford {
                    std: matches!(a, AggFunc::Std(_)),
                    ..Welford::default()
                },
                out,
            )),
            AggFunc::Min(_) | AggFunc::Max(_) if ints => Box::new(Sliding::new(
                self.arg()?,
                DataType::Int64,
                frame,
                Extreme::<Int64Type>::new(matches!(a, AggFunc::Max(_)), running),
                out,
            )),
            AggFunc::Min(_) | AggFunc::Max(_) => Box::new(Sliding::new(
                self.arg()?,
                DataType::Float64,
                frame,
                Extreme::<Float64Type>::new(matches!(a, AggFunc::Max(_)), running),
                out,
            )),
            other => {
                return Err(Error::NotSupported(format!("{other} as a window function")));
            }
        })
    }
}

/// Ranking functions: positions and peer groups, no frame.
struct Ranking {
    func: WindowFunction,
    parts: Parts,
    peers: Peers,
    dense: i64,
}

impl Evaluator for Ranking {
    fn eval(&mut self, seg: &Segment, rows: Range<usize>) -> Result<ArrayRef> {
        let mut ints: Vec<i64> = Vec::new();
        let mut floats: Vec<f64> = Vec::new();
        for i in rows {
            if self.parts.enter(seg, i) {
                self.peers = Peers::default();
                self.dense = 0;
            }
            let (p0, p1) = (self.parts.p0, self.parts.p1);
            self.peers.enter(seg, i, p1);
            if seg.peers.value(i) {
                self.dense += 1;
            }
            let n = (p1 - p0) as i64;
            let (ps, pe) = ((self.peers.start - p0) as i64, (self.peers.end - p0) as i64);
            let r = (i - p0) as i64;
            match &self.func {
                WindowFunction::RowNumber => ints.push(r + 1),
                WindowFunction::Rank => ints.push(ps + 1),
                WindowFunction::DenseRank => ints.push(self.dense),
                WindowFunction::PercentRank => floats.push(if n <= 1 {
                    0.0
                } else {
                    ps as f64 / (n - 1) as f64
                }),
                WindowFunction::CumeDist => floats.push(pe as f64 / n as f64),
                WindowFunction::Ntile(k) => {
                    let k = i64::try_from(*k).unwrap_or(i64::MAX).max(1);
                    let (q, rem) = (n / k, n % k);
                    let big = rem * (q + 1);
                    ints.push(if r < big {
                        r / (q + 1) + 1
                    } else {
                        rem + (r - big) / q.max(1) + 1
                    });
                }
                _ => {}
            }
        }
        Ok(match self.func {
            WindowFunction::PercentRank | WindowFunction::CumeDist => {
                Arc::new(Float64Array::from(floats))
            }
            _ => Arc::new(Int64Array::from(ints)),
        })
    }
}

/// Gathers `(batch, row)` picks from column `col` of the segment's batches;
/// batch index `seg.batches.len()` is `extra` (a default or a null).
fn gather(seg: &Segment, col: usize, extra: &ArrayRef, idx: &[(usize, usize)]) -> Result<ArrayRef> {
    let mut arrays: Vec<&dyn Array> = seg.batches.iter().map(|b| b.column(col).as_ref()).collect();
    arrays.push(extra.as_ref());
    Ok(interleave(&arrays, idx)?)
}

/// `lag` / `lead`.
struct Shift {
    col: usize,
    back: bool,
    offset: usize,
    default: ArrayRef,
    parts: Parts,
}

impl Evaluator for Shift {
    fn eval(&mut self, seg: &Segment, rows: Range<usize>) -> Result<ArrayRef> {
        let dflt = (seg.batches.len(), 0);
        let mut idx = Vec::with_capacity(rows.len());
        for i in rows {
            self.parts.enter(seg, i);
            let t = if self.back {
                i.checked_sub(self.offset).filter(|&t| t >= self.parts.p0)
            } else {
                i.checked_add(self.offset).filter(|&t| t < self.parts.p1)
            };
            idx.push(t.map_or(dflt, |t| seg.locate(t)));
        }
        gather(seg, self.col, &self.default, &idx)
    }
}

#[derive(Clone, Copy)]
enum Pick {
    First,
    Last,
    Nth(usize),
}

/// `first_value`, `last_value`, `nth_value`, with or without IGNORE NULLS.
struct Value {
    col: usize,
    pick: Pick,
    ignore_nulls: bool,
    frame: FrameCursor,
    null: ArrayRef,
    nulls: NullCursor,
    /// IGNORE NULLS state: the scan position (rows before it were looked
    /// at), the last non-null seen, and for `nth` the first non-nulls of
    /// the frame (at most `n`: bounded by the argument).
    scan: usize,
    last: Option<usize>,
    queue: VecDeque<usize>,
}

impl Value {
    fn new(col: usize, pick: Pick, ignore_nulls: bool, frame: FrameCursor, t: &DataType) -> Self {
        Value {
            col,
            pick,
            ignore_nulls,
            frame,
            null: new_null_array(t, 1),
            nulls: NullCursor::new(col),
            scan: 0,
            last: None,
            queue: VecDeque::new(),
        }
    }

    fn pick(&mut self, seg: &Segment, s: usize, e: usize) -> Option<usize> {
        if !self.ignore_nulls {
            return match self.pick {
                Pick::First => (s < e).then_some(s),
                Pick::Last => (s < e).then(|| e - 1),
                Pick::Nth(n) => s.checked_add(n - 1).filter(|&t| t < e),
            };
        }
        match self.pick {
            Pick::First => {
                // The first non-null at or after the start: `scan` never
                // passes one before the end.
                self.scan = self.scan.max(s);
                while self.scan < e && self.nulls.is_null(seg, self.scan) {
                    self.scan += 1;
                }
                (self.scan < e).then_some(self.scan)
            }
            Pick::Last => {
                self.scan = self.scan.max(s);
                while self.scan < e {
                    if !self.nulls.is_null(seg, self.scan) {
                        self.last = Some(self.scan);
                    }
                    self.scan += 1;
                }
                self.last.filter(|&l| l >= s && l < e)
            }
            Pick::Nth(n) => {
                // `queue`: the first (up to `n`) non-null rows of the frame.
                if self.scan < s {
                    self.scan = s;
                    self.queue.clear();
                }
                while self.queue.front().is_some_and(|&f| f < s) {
                    self.queue.pop_front();
                }
                while self.queue.len() < n && self.scan < e {
                    if !self.nulls.is_null(seg, self.scan) {
                        self.queue.push_back(self.scan);
                    }
                    self.scan += 1;
                }
                self.queue.get(n - 1).copied()
            }
        }
    }
}

impl Evaluator for Value {
    fn eval(&mut self, seg: &Segment, rows: Range<usize>) -> Result<ArrayRef> {
        let null = (seg.batches.len(), 0);
        let mut idx = Vec::with_capacity(rows.len());
        for i in rows {
            let (s, e, opened) = self.frame.next(seg, i)?;
            if opened {
                self.scan = s;
                self.last = None;
                self.queue.clear();
            }
            idx.push(self.pick(seg, s, e).map_or(null, |t| seg.locate(t)));
        }
        gather(seg, self.col, &self.null, &idx)
    }
}

/// `count_rows()` over the frame: its size.
struct CountRows {
    frame: FrameCursor,
}

impl Evaluator for CountRows {
    fn eval(&mut self, seg: &Segment, rows: Range<usize>) -> Result<ArrayRef> {
        let mut out = Vec::with_capacity(rows.len());
        for i in rows {
            let (s, e, _) = self.frame.next(seg, i)?;
            out.push((e - s) as i64);
        }
        Ok(Arc::new(Int64Array::from(out)))
    }
}

/// An accumulator over a sliding frame: rows enter at the end and leave at
/// the start, each exactly once, in order.
trait Acc: Send + Sync {
    type In: ArrowPrimitiveType;
    type Out: ArrowPrimitiveType;
    fn add(&mut self, i: usize, v: Option<<Self::In as ArrowPrimitiveType>::Native>);
    fn remove(&mut self, i: usize, v: Option<<Self::In as ArrowPrimitiveType>::Native>);
    fn reset(&mut self);
    fn value(&self) -> Result<Option<<Self::Out as ArrowPrimitiveType>::Native>>;
    fn held_bytes(&self) -> usize {
        0
    }
}

/// An aggregate over each row's frame with an [`Acc`]: O(1) amortized per
/// row, since frame starts and ends only move forward.
struct Sliding<A: Acc> {
    frame: FrameCursor,
    acc: A,
    add: Cursor<A::In>,
    rm: Cursor<A::In>,
    ws: usize,
    we: usize,
    out_type: DataType,
}

impl<A: Acc> Sliding<A> {
    fn new(col: usize, read_as: DataType, frame: FrameCursor, acc: A, out_type: DataType) -> Self {
        Sliding {
            frame,
            acc,
            add: Cursor::new(col, read_as.clone()),
            rm: Cursor::new(col, read_as),
            ws: 0,
            we: 0,
            out_type,
        }
    }
}

impl<A: Acc> Evaluator for Sliding<A> {
    fn eval(&mut self, seg: &Segment, rows: Range<usize>) -> Result<ArrayRef> {
        let mut out = Vec::with_capacity(rows.len());
        for i in rows {
            let (s, e, opened) = self.frame.next(seg, i)?;
            if opened {
                self.acc.reset();
                self.ws = s;
                self.we = s;
            }
            while self.we < e {
                let v = self.add.get(seg, self.we)?;
                self.acc.add(self.we, v);
                self.we += 1;
            }
            while self.ws < s {
                let v = self.rm.get(seg, self.ws)?;
                self.acc.remove(self.ws, v);
                self.ws += 1;
            }
            out.push(self.acc.value()?);
        }
        let arr: ArrayRef = Arc::new(PrimitiveArray::<A::Out>::from_iter(out));
        cast_to(&arr, &self.out_type)
    }

    fn held_bytes(&self) -> usize {
        self.acc.held_bytes()
    }
}

/// `count(col)`: non-null values.
struct Count(i64);

impl Acc for Count {
    type In = Int64Type;
    type Out = Int64Type;
    fn add(&mut self, _: usize, v: Option<i64>) {
        self.0 += i64::from(v.is_some());
    }
    fn remove(&mut self, _: usize, v: Option<i64>) {
        self.0 -= i64::from(v.is_some());
    }
    fn reset(&mut self) {
        self.0 = 0;
    }
    fn value(&self) -> Result<Option<i64>> {
        Ok(Some(self.0))
    }
}

/// Integer sums, exact in `i128`; the result must fit `Int64`.
#[derive(Default)]
struct IntSum {
    column: String,
    sum: i128,
    n: u64,
}

impl Acc for IntSum {
    type In = Int64Type;
    type Out = Int64Type;
    fn add(&mut self, _: usize, v: Option<i64>) {
        if let Some(v) = v {
            self.sum += i128::from(v);
            self.n += 1;
        }
    }
    fn remove(&mut self, _: usize, v: Option<i64>) {
        if let Some(v) = v {
            self.sum -= i128::from(v);
            self.n -= 1;
        }
    }
    fn reset(&mut self) {
        self.sum = 0;
        self.n = 0;
    }
    fn value(&self) -> Result<Option<i64>> {
        if self.n == 0 {
            return Ok(None);
        }
        i64::try_from(self.sum).map(Some).map_err(|_| {
            arrow_schema::ArrowError::ArithmeticOverflow(format!(
                "sum({c}) over a window does not fit in Int64; cast column '{c}' to Float64",
                c = self.column
            ))
            .into()
        })
    }
}

/// Integer means from exact sums.
struct IntMean(IntSum);

impl Acc for IntMean {
    type In = Int64Type;
    type Out = Float64Type;
    fn add(&mut self, i: usize, v: Option<i64>) {
        self.0.add(i, v);
    }
    fn remove(&mut self, i: usize, v: Option<i64>) {
        self.0.remove(i, v);
    }
    fn reset(&mut self) {
        self.0.reset();
    }
    fn value(&self) -> Result<Option<f64>> {
        Ok((self.0.n > 0).then(|| self.0.sum as f64 / self.0.n as f64))
    }
}

/// Float sums that can remove values: finite values in a compensated
/// (Neumaier) sum, NaN and infinities counted apart so removing them
/// restores the sum exactly.
#[derive(Default)]
struct FloatSum {
    sum: f64,
    comp: f64,
    n: u64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
}

impl FloatSum {
    fn put(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn total(&self) -> f64 {
        if self.nan > 0 || (self.pos_inf > 0 && self.neg_inf > 0) {
            f64::NAN
        } else if self.pos_inf > 0 {
            f64::INFINITY
        } else if self.neg_inf > 0 {
            f64::NEG_INFINITY
        } else {
            self.sum + self.comp
        }
    }

    fn count(&mut self, x: f64, by: i64) {
        let c = if x.is_nan() {
            &mut self.nan
        } else if x > 0.0 {
            &mut self.pos_inf
        } else {
            &mut self.neg_inf
        };
        *c = c.wrapping_add_signed(by);
    }
}

impl Acc for FloatSum {
    type In = Float64Type;
    type Out = Float64Type;
    fn add(&mut self, _: usize, v: Option<f64>) {
        if let Some(x) = v {
            self.n += 1;
            if x.is_finite() {
                self.put(x)
            } else {
                self.count(x, 1)
            }
        }
    }
    fn remove(&mut self, _: usize, v: Option<f64>) {
        if let Some(x) = v {
            self.n -= 1;
            if x.is_finite() {
                self.put(-x)
            } else {
                self.count(x, -1)
            }
            if self.n == 0 {
                *self = FloatSum::default();
            }
        }
    }
    fn reset(&mut self) {
        *self = FloatSum::default();
    }
    fn value(&self) -> Result<Option<f64>> {
        Ok((self.n > 0).then(|| self.total()))
    }
}

/// Float means from removable sums.
struct FloatMean(FloatSum);

impl Acc for FloatMean {
    type In = Float64Type;
    type Out = Float64Type;
    fn add(&mut self, i: usize, v: Option<f64>) {
        self.0.add(i, v);
    }
    fn remove(&mut self, i: usize, v: Option<f64>) {
        self.0.remove(i, v);
    }
    fn reset(&mut self) {
        self.0.reset();
    }
    fn value(&self) -> Result<Option<f64>> {
        Ok((self.0.n > 0).then(|| self.0.total() / self.0.n as f64))
    }
}

/// Sample variance (ddof 1) by Welford's update and its inverse.
#[derive(Default)]
struct Welford {
    std: bool,
    n: u64,
    mean: f64,
    m2: f64,
    /// Non-finite values in the frame (the result is NaN while any is in).
    bad: u64,
}

impl Acc for Welford {
    type In = Float64Type;
    type Out = Float64Type;
    fn add(&mut self, _: usize, v: Option<f64>) {
        let Some(x) = v else { return };
        if !x.is_finite() {
            self.bad += 1;
            return;
        }
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }
    fn remove(&mut self, _: usize, v: Option<f64>) {
        let Some(x) = v else { return };
        if !x.is_finite() {
            self.bad -= 1;
            return;
        }
        if self.n <= 1 {
            self.n = 0;
            self.mean = 0.0;
            self.m2 = 0.0;
            return;
        }
        let old = self.mean;
        self.n -= 1;
        self.mean = (old * (self.n + 1) as f64 - x) / self.n as f64;
        self.m2 -= (x - old) * (x - self.mean);
        if self.m2 < 0.0 {
            self.m2 = 0.0;
        }
    }
    fn reset(&mut self) {
        let std = self.std;
        *self = Welford::default();
        self.std = std;
    }
    fn value(&self) -> Result<Option<f64>> {
        let n = self.n + self.bad;
        if n < 2 {
            return Ok(None);
        }
        if self.bad > 0 {
            return Ok(Some(f64::NAN));
        }
        let var = self.m2 / (self.n - 1) as f64;
        Ok(Some(if self.std { var.sqrt() } else { var }))
    }
}

/// Numbers `min`/`max` can compare; NaN is skipped unless the frame holds
/// only NaN (then NaN), as in the group-by.
trait Ordered: Copy + Send + Sync {
    fn nan(&self) -> bool;
    fn better(a: Self, b: Self, max: bool) -> bool;
}

impl Ordered for i64 {
    fn nan(&self) -> bool {
        false
    }
    fn better(a: i64, b: i64, max: bool) -> bool {
        if max { a >= b } else { a <= b }
    }
}

impl Ordered for f64 {
    fn nan(&self) -> bool {
        self.is_nan()
    }
    fn better(a: f64, b: f64, max: bool) -> bool {
        if max { a >= b } else { a <= b }
    }
}

/// `min`/`max`: a monotonic deque of (row, value) over the frame (each row
/// pushed and popped once); just the best value when the frame never
/// loses rows (`UNBOUNDED PRECEDING` starts).
struct Extreme<T: ArrowPrimitiveType> {
    max: bool,
    running: bool,
    deque: VecDeque<(usize, T::Native)>,
    nan: u64,
}

impl<T: ArrowPrimitiveType> Extreme<T> {
    fn new(max: bool, running: bool) -> Self {
        Extreme {
            max,
            running,
            deque: VecDeque::new(),
            nan: 0,
        }
    }
}

impl<T: ArrowPrimitiveType> Acc for Extreme<T>
where
    T::Native: Ordered,
{
    type In = T;
    type Out = T;
    fn add(&mut self, i: usize, v: Option<T::Native>) {
        let Some(x) = v else { return };
        if x.nan() {
            self.nan += 1;
            return;
        }
        if self.running {
            match self.deque.front_mut() {
                Some(f) if !Ordered::better(x, f.1, self.max) => {}
                Some(f) => *f = (i, x),
                None => self.deque.push_back((i, x)),
            }
            return;
        }
        while let Some(&(_, b)) = self.deque.back() {
            if Ordered::better(x, b, self.max) {
                self.deque.pop_back();
            } else {
                break;
            }
        }
        self.deque.push_back((i, x));
    }
    fn remove(&mut self, i: usize, v: Option<T::Native>) {
        let Some(x) = v else { return };
        if x.nan() {
            self.nan -= 1;
            return;
        }
        if self.deque.front().is_some_and(|f| f.0 == i) {
            self.deque.pop_front();
        }
    }
    fn reset(&mut self) {
        self.deque.clear();
        self.nan = 0;
    }
    fn value(&self) -> Result<Option<T::Native>> {
        Ok(match self.deque.front() {
            Some(f) => Some(f.1),
            None if self.nan > 0 => self.nan_value(),
            None => None,
        })
    }
    fn held_bytes(&self) -> usize {
        self.deque.capacity() * std::mem::size_of::<(usize, T::Native)>()
    }
}

impl<T: ArrowPrimitiveType> Extreme<T> {
    fn nan_value(&self) -> Option<T::Native> {
        // Only floats have NaN; reading a NaN back as `T` keeps it.
        let a = Float64Array::from(vec![f64::NAN]);
        let c = arrow_cast::cast(&a, &T::DATA_TYPE).ok()?;
        c.as_any()
            .downcast_ref::<PrimitiveArray<T>>()
            .map(|p| p.value(0))
    }
}
