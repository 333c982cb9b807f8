//! Frame bounds row by row: `(start, end)` (end exclusive) of the frame of
//! each row, both non-decreasing within a partition for every frame SQL
//! allows, so they are found with forward-moving pointers in O(1)
//! amortized per row.

use arrow_arith::numeric;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, IntervalMonthDayNano};
use arrow_array::{Array, Int64Array, IntervalMonthDayNanoArray, Scalar};
use arrow_schema::{DataType, TimeUnit};
use parframe_common::{Error, Result};

use super::segment::{F64Cursor, Segment};
use super::{FrameBound, FrameUnits, WindowFrame, is_range_temporal};
use crate::aggregate::cast_to;

/// Which partition of the segment row `i` is in, and whether `i` opens it.
#[derive(Default)]
pub(crate) struct Parts {
    next: usize,
    /// Start and end of the current partition.
    pub(crate) p0: usize,
    pub(crate) p1: usize,
}

impl Parts {
    /// Moves to row `i` (rows are visited in order); true when `i` is the
    /// first row of a partition.
    #[inline]
    pub(crate) fn enter(&mut self, seg: &Segment, i: usize) -> bool {
        let mut opened = false;
        while self.next + 1 < seg.parts.len() && seg.parts[self.next] <= i {
            self.p0 = seg.parts[self.next];
            self.p1 = seg.parts[self.next + 1];
            self.next += 1;
            opened = true;
        }
        opened && self.p0 == i
    }
}

/// The peer group (rows with equal order keys) of row `i`.
#[derive(Default)]
pub(crate) struct Peers {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Peers {
    /// Moves to row `i` of the partition ending at `p1`.
    #[inline]
    pub(crate) fn enter(&mut self, seg: &Segment, i: usize, p1: usize) {
        if seg.peers.value(i) {
            self.start = i;
        }
        if self.end <= i {
            self.end = i + 1;
            while self.end < p1 && !seg.peers.value(self.end) {
                self.end += 1;
            }
        }
    }
}

/// A forward-moving pointer to the first row of a peer group, for
/// `GROUPS` frames: the groups it asks for never decrease within a
/// partition, so it passes over each row once.
#[derive(Default)]
struct GroupPtr {
    /// The first row of peer group `grp` of the partition (or its end).
    row: usize,
    grp: usize,
}

impl GroupPtr {
    fn reset(&mut self, p0: usize) {
        self.row = p0;
        self.grp = 0;
    }

    /// The first row of peer group `g` of the partition ending at `p1`, or
    /// `p1` when it has fewer groups.
    fn first_row(&mut self, seg: &Segment, g: usize, p1: usize) -> usize {
        while self.grp < g && self.row < p1 {
            self.row += 1;
            while self.row < p1 && !seg.peers.value(self.row) {
                self.row += 1;
            }
            self.grp += 1;
        }
        self.row
    }
}

/// The single order key of a `RANGE` frame with offsets.
#[derive(Clone)]
pub(crate) struct RangeKeySpec {
    /// Column index.
    pub(crate) col: usize,
    pub(crate) data_type: DataType,
    pub(crate) descending: bool,
    pub(crate) nulls_first: bool,
}

/// A position on the order key, oriented so that it ascends in window
/// order: a number (numeric keys, as `f64`) or an instant (temporal keys,
/// exact, in the comparison type's unit). Only values of one kind are
/// ever compared.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Pos {
    F(f64),
    I(i128),
}

/// Sequential access to a temporal order key as `i64` in its comparison
/// type (dates as microsecond timestamps, so that `date - INTERVAL '12'
/// HOUR` keeps its hours, as it does in an expression), optionally shifted
/// by an interval with arrow's own date arithmetic (calendar months; days
/// in the key's time zone).
struct TemporalCursor {
    col: usize,
    as_type: DataType,
    /// Add (true) or subtract the interval.
    shift: Option<(bool, IntervalMonthDayNano)>,
    /// Round a moved key that falls between two units up instead of down.
    /// arrow truncates `key ± interval` to the key's unit; for a bound
    /// that keeps keys at or above the target, the first whole unit above
    /// a fractional target is the exact one.
    ceil: bool,
    lo: usize,
    hi: usize,
    arr: Option<Int64Array>,
}

impl TemporalCursor {
    /// `ceil`: the bound keeps keys at or above the moved key.
    fn new(
        col: usize,
        key: &DataType,
        shift: Option<(bool, IntervalMonthDayNano)>,
        ceil: bool,
    ) -> Self {
        let as_type = match key {
            DataType::Date32 | DataType::Date64 => DataType::Timestamp(TimeUnit::Microsecond, None),
            other => other.clone(),
        };
        let unit_ns: i64 = match &as_type {
            DataType::Timestamp(TimeUnit::Second, _) => 1_000_000_000,
            DataType::Timestamp(TimeUnit::Millisecond, _) => 1_000_000,
            DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
            _ => 1,
        };
        // Months and days move by whole days; only the nanoseconds can
        // leave a fraction of the unit.
        let ceil = ceil && shift.is_some_and(|(_, iv)| iv.nanoseconds % unit_ns != 0);
        TemporalCursor {
            col,
            as_type,
            shift,
            ceil,
            lo: 0,
            hi: 0,
            arr: None,
        }
    }

    fn load(&mut self, seg: &Segment, i: usize) -> Result<()> {
        let (j, _) = seg.locate(i);
        let a = cast_to(seg.batches[j].column(self.col), &self.as_type)?;
        let a = match self.shift {
            None => a,
            Some((add, iv)) => {
                let iv = Scalar::new(IntervalMonthDayNanoArray::from_value(iv, 1));
                let r = if add {
                    numeric::add(&a, &iv)
                } else {
                    numeric::sub(&a, &iv)
                };
                r.map_err(|e| {
                    Error::InvalidArgument(format!(
                        "window frame: the order key {} the frame's interval is out of range \
                         ({e})",
                        if add { "plus" } else { "minus" }
                    ))
                })?
            }
        };
        let a = cast_to(&a, &DataType::Int64)?;
        self.arr = Some(a.as_primitive::<Int64Type>().clone());
        self.lo = seg.offsets[j];
        self.hi = seg.offsets[j + 1];
        Ok(())
    }

    #[inline]
    fn get(&mut self, seg: &Segment, i: usize) -> Result<Option<i64>> {
        if i < self.lo || i >= self.hi || self.arr.is_none() {
            self.load(seg, i)?;
        }
        let Some(a) = &self.arr else {
            return Ok(None);
        };
        let k = i - self.lo;
        Ok(a.is_valid(k)
            .then(|| a.value(k).saturating_add(i64::from(self.ceil))))
    }
}

/// Reads order-key positions.
enum Keys {
    Number(F64Cursor),
    Temporal(TemporalCursor),
}

impl Keys {
    fn new(spec: &RangeKeySpec) -> Self {
        if is_range_temporal(&spec.data_type) {
            Keys::Temporal(TemporalCursor::new(spec.col, &spec.data_type, None, false))
        } else {
            Keys::Number(F64Cursor::new(spec.col, DataType::Float64))
        }
    }

    /// The position of row `i` (`None`: a null key); `desc` negates it.
    #[inline]
    fn get(&mut self, seg: &Segment, i: usize, desc: bool) -> Result<Option<Pos>> {
        Ok(match self {
            Keys::Number(c) => c.get(seg, i)?.map(|v| Pos::F(if desc { -v } else { v })),
            Keys::Temporal(c) => c.get(seg, i)?.map(|v| {
                let v = i128::from(v);
                Pos::I(if desc { -v } else { v })
            }),
        })
    }
}

/// Key access of a `RANGE` frame with offsets.
struct RangeKey {
    /// The key of the current row, and the keys the two pointers read.
    cur: Keys,
    at_start: Keys,
    at_end: Keys,
    /// Interval bounds: the current row's key moved by the start's and the
    /// end's interval.
    start_target: Option<TemporalCursor>,
    end_target: Option<TemporalCursor>,
    /// A descending key (positions are negated, so they ascend).
    desc: bool,
    nulls_first: bool,
    /// The rows of the partition with a non-null key.
    nn: (usize, usize),
}

impl RangeKey {
    /// Moves a frame pointer (`ptr`, read through the start's keys or the
    /// end's) forward, never back, within the non-null rows, past every
    /// key below `t` (and equal to it, when `past_equal`); the new value.
    fn advance(
        &mut self,
        ptr: &mut usize,
        start: bool,
        seg: &Segment,
        t: Pos,
        past_equal: bool,
    ) -> Result<usize> {
        let keys = if start {
            &mut self.at_start
        } else {
            &mut self.at_end
        };
        *ptr = (*ptr).max(self.nn.0);
        while *ptr < self.nn.1 {
            match keys.get(seg, *ptr, self.desc)? {
                Some(v) if v < t || (past_equal && v == t) => *ptr += 1,
                _ => break,
            }
        }
        Ok(*ptr)
    }

    fn new(spec: &RangeKeySpec, frame: &WindowFrame) -> Self {
        // In window order, PRECEDING moves towards smaller keys of an
        // ascending key and towards larger ones of a descending key.
        // The start keeps the keys at or above its target in window order:
        // at or above it for an ascending key, at or below for a
        // descending one (and the end the other way round).
        let target = |b: FrameBound, start: bool| {
            let (following, iv) = match b {
                FrameBound::PrecedingInterval(iv) => (false, iv),
                FrameBound::FollowingInterval(iv) => (true, iv),
                _ => return None,
            };
            Some(TemporalCursor::new(
                spec.col,
                &spec.data_type,
                Some((following != spec.descending, iv)),
                start != spec.descending,
            ))
        };
        RangeKey {
            cur: Keys::new(spec),
            at_start: Keys::new(spec),
            at_end: Keys::new(spec),
            start_target: target(frame.start, true),
            end_target: target(frame.end, false),
            desc: spec.descending,
            nulls_first: spec.nulls_first,
            nn: (0, 0),
        }
    }

    /// Where bound `b` of row `i` lies on the key (`None`: the row's key
    /// is null, so the bound is its peers, the null rows).
    fn target(
        &mut self,
        seg: &Segment,
        i: usize,
        b: FrameBound,
        start: bool,
    ) -> Result<Option<Pos>> {
        let moved = |c: &mut Option<TemporalCursor>, desc: bool| -> Result<Option<Pos>> {
            match c {
                Some(c) => Ok(c.get(seg, i)?.map(|v| {
                    let v = i128::from(v);
                    Pos::I(if desc { -v } else { v })
                })),
                None => Err(Error::InvalidArgument(
                    "internal: a RANGE interval bound without its key".into(),
                )),
            }
        };
        Ok(match b {
            FrameBound::Preceding(n) | FrameBound::Following(n) => {
                let n = if matches!(b, FrameBound::Preceding(_)) {
                    -n
                } else {
                    n
                };
                match self.cur.get(seg, i, self.desc)? {
                    Some(Pos::F(k)) => Some(Pos::F(k + n)),
                    Some(Pos::I(_)) => {
                        return Err(Error::InvalidArgument(
                            "internal: a numeric RANGE offset over a temporal key".into(),
                        ));
                    }
                    None => None,
                }
            }
            _ if start => moved(&mut self.start_target, self.desc)?,
            _ => moved(&mut self.end_target, self.desc)?,
        })
    }
}

/// Computes each row's frame.
pub(crate) struct FrameCursor {
    frame: WindowFrame,
    pub(crate) parts: Parts,
    peers: Peers,
    range: Option<RangeKey>,
    s_ptr: usize,
    e_ptr: usize,
    /// `GROUPS` frames: the current row's peer group (counted from 0 in
    /// its partition) and the pointers to the frame's first groups.
    group: usize,
    s_grp: GroupPtr,
    e_grp: GroupPtr,
}

impl FrameCursor {
    /// `key`: the single order key, read when the frame is a `RANGE` with
    /// offsets.
    pub(crate) fn new(frame: WindowFrame, key: Option<&RangeKeySpec>) -> Self {
        let offsets = frame.start.is_offset() || frame.end.is_offset();
        let range = match (frame.units, offsets, key) {
            (FrameUnits::Range, true, Some(spec)) => Some(RangeKey::new(spec, &frame)),
            _ => None,
        };
        FrameCursor {
            frame,
            parts: Parts::default(),
            peers: Peers::default(),
            range,
            s_ptr: 0,
            e_ptr: 0,
            group: 0,
            s_grp: GroupPtr::default(),
            e_grp: GroupPtr::default(),
        }
    }

    /// The frame of row `i` (rows visited in order) as `start..end`, and
    /// whether `i` opens a partition.
    pub(crate) fn next(&mut self, seg: &Segment, i: usize) -> Result<(usize, usize, bool)> {
        let opened = self.parts.enter(seg, i);
        let (p0, p1) = (self.parts.p0, self.parts.p1);
        if opened {
            self.s_ptr = p0;
            self.e_ptr = p0;
            self.peers = Peers::default();
            if let Some(rk) = &mut self.range {
                rk.nn = (p0, p1);
                if rk.nulls_first {
                    while rk.nn.0 < p1 && rk.cur.get(seg, rk.nn.0, false)?.is_none() {
                        rk.nn.0 += 1;
                    }
                } else {
                    while rk.nn.1 > p0 && rk.cur.get(seg, rk.nn.1 - 1, false)?.is_none() {
                        rk.nn.1 -= 1;
                    }
                }
                self.s_ptr = rk.nn.0;
                self.e_ptr = rk.nn.0;
            }
        }
        self.peers.enter(seg, i, p1);
        let (ps, pe) = (self.peers.start, self.peers.end);
        if self.frame.units == FrameUnits::Groups {
            if opened {
                self.group = 0;
                self.s_grp.reset(p0);
                self.e_grp.reset(p0);
            } else if seg.peers.value(i) {
                self.group += 1;
            }
            let (start, end) = self.groups_frame(seg, p0, p1, ps, pe);
            return Ok((start, end, opened));
        }
        let rows = self.frame.units == FrameUnits::Rows;
        let off = |n: f64| n as usize;
        let start = match self.frame.start {
            FrameBound::UnboundedPreceding => p0,
            FrameBound::CurrentRow if rows => i,
            FrameBound::CurrentRow => ps,
            FrameBound::Preceding(n) if rows => i.saturating_sub(off(n)).max(p0),
            FrameBound::Following(n) if rows => i.saturating_add(off(n)).min(p1),
            b @ (FrameBound::Preceding(_)
            | FrameBound::Following(_)
            | FrameBound::PrecedingInterval(_)
            | FrameBound::FollowingInterval(_)) => match &mut self.range {
                Some(rk) => match rk.target(seg, i, b, true)? {
                    // The first row whose key is at least `t`.
                    Some(t) => rk.advance(&mut self.s_ptr, true, seg, t, false)?,
                    // A null key: its peers (the null rows).
                    None => ps,
                },
                None => ps,
            },
            FrameBound::UnboundedFollowing => p1,
        };
        let end = match self.frame.end {
            FrameBound::UnboundedFollowing => p1,
            FrameBound::CurrentRow if rows => i + 1,
            FrameBound::CurrentRow => pe,
            FrameBound::Preceding(n) if rows => (i + 1).saturating_sub(off(n)).max(p0),
            FrameBound::Following(n) if rows => i.saturating_add(off(n)).saturating_add(1).min(p1),
            b @ (FrameBound::Preceding(_)
            | FrameBound::Following(_)
            | FrameBound::PrecedingInterval(_)
            | FrameBound::FollowingInterval(_)) => match &mut self.range {
                Some(rk) => match rk.target(seg, i, b, false)? {
                    // The first row whose key is above `t`.
                    Some(t) => rk.advance(&mut self.e_ptr, false, seg, t, true)?,
                    None => pe,
                },
                None => pe,
            },
            FrameBound::UnboundedPreceding => p0,
        };
        let start = start.clamp(p0, p1);
        let end = end.clamp(start, p1);
        Ok((start, end, opened))
    }

    /// The frame of a `GROUPS` frame's row in peer group `self.group`,
    /// whose peers are `ps..pe`, in the partition `p0..p1`.
    fn groups_frame(
        &mut self,
        seg: &Segment,
        p0: usize,
        p1: usize,
        ps: usize,
        pe: usize,
    ) -> (usize, usize) {
        let g = self.group;
        // Offsets are whole, non-negative and finite (checked by the plan);
        // the cast saturates beyond the partition anyway.
        let off = |n: f64| n as usize;
        let start = match self.frame.start {
            FrameBound::UnboundedPreceding => p0,
            FrameBound::CurrentRow => ps,
            FrameBound::Preceding(n) => self.s_grp.first_row(seg, g.saturating_sub(off(n)), p1),
            FrameBound::Following(n) => self.s_grp.first_row(seg, g.saturating_add(off(n)), p1),
            FrameBound::UnboundedFollowing => p1,
            // Refused by the plan (intervals need RANGE).
            FrameBound::PrecedingInterval(_) | FrameBound::FollowingInterval(_) => ps,
        };
        // The end is exclusive: the first row of the group after the last
        // one in the frame (`n PRECEDING` with `n > g`: before the
        // partition, an empty frame).
        let end = match self.frame.end {
            FrameBound::UnboundedFollowing => p1,
            FrameBound::CurrentRow => pe,
            FrameBound::Preceding(n) => match (g + 1).checked_sub(off(n)) {
                Some(t) => self.e_grp.first_row(seg, t, p1),
                None => p0,
            },
            FrameBound::Following(n) => {
                self.e_grp
                    .first_row(seg, g.saturating_add(off(n)).saturating_add(1), p1)
            }
            FrameBound::UnboundedPreceding => p0,
            FrameBound::PrecedingInterval(_) | FrameBound::FollowingInterval(_) => pe,
        };
        let start = start.clamp(p0, p1);
        (start, end.clamp(start, p1))
    }
}
