//! Frame bounds row by row: `(start, end)` (end exclusive) of the frame of
//! each row, both non-decreasing within a partition for every frame SQL
//! allows, so they are found with forward-moving pointers in O(1)
//! amortized per row.

use arrow_schema::DataType;
use parframe_common::Result;

use super::segment::{F64Cursor, Segment};
use super::{FrameBound, FrameUnits, WindowFrame};

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

/// Key access of a `RANGE` frame with offsets.
struct RangeKey {
    /// The key of the current row, and the keys the two pointers read.
    cur: F64Cursor,
    at_start: F64Cursor,
    at_end: F64Cursor,
    /// -1 for a descending key (the key is negated, so it ascends).
    sign: f64,
    nulls_first: bool,
    /// The rows of the partition with a non-null key.
    nn: (usize, usize),
}

/// Computes each row's frame.
pub(crate) struct FrameCursor {
    frame: WindowFrame,
    pub(crate) parts: Parts,
    peers: Peers,
    range: Option<RangeKey>,
    s_ptr: usize,
    e_ptr: usize,
}

impl FrameCursor {
    /// `key`: the order key column (index, descending, nulls first) when the
    /// frame is a `RANGE` with offsets.
    pub(crate) fn new(frame: WindowFrame, key: Option<(usize, bool, bool)>) -> Self {
        let offsets = matches!(
            frame.start,
            FrameBound::Preceding(_) | FrameBound::Following(_)
        ) || matches!(
            frame.end,
            FrameBound::Preceding(_) | FrameBound::Following(_)
        );
        let range = match (frame.units, offsets, key) {
            (FrameUnits::Range, true, Some((col, desc, nulls_first))) => Some(RangeKey {
                cur: F64Cursor::new(col, DataType::Float64),
                at_start: F64Cursor::new(col, DataType::Float64),
                at_end: F64Cursor::new(col, DataType::Float64),
                sign: if desc { -1.0 } else { 1.0 },
                nulls_first,
                nn: (0, 0),
            }),
            _ => None,
        };
        FrameCursor {
            frame,
            parts: Parts::default(),
            peers: Peers::default(),
            range,
            s_ptr: 0,
            e_ptr: 0,
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
                    while rk.nn.0 < p1 && rk.cur.get(seg, rk.nn.0)?.is_none() {
                        rk.nn.0 += 1;
                    }
                } else {
                    while rk.nn.1 > p0 && rk.cur.get(seg, rk.nn.1 - 1)?.is_none() {
                        rk.nn.1 -= 1;
                    }
                }
                self.s_ptr = rk.nn.0;
                self.e_ptr = rk.nn.0;
            }
        }
        self.peers.enter(seg, i, p1);
        let (ps, pe) = (self.peers.start, self.peers.end);
        let rows = self.frame.units == FrameUnits::Rows;
        let off = |n: f64| n as usize;
        let key = match &mut self.range {
            Some(rk) => rk.cur.get(seg, i)?.map(|v| v * rk.sign),
            None => None,
        };
        let start = match self.frame.start {
            FrameBound::UnboundedPreceding => p0,
            FrameBound::CurrentRow if rows => i,
            FrameBound::CurrentRow => ps,
            FrameBound::Preceding(n) if rows => i.saturating_sub(off(n)).max(p0),
            FrameBound::Following(n) if rows => i.saturating_add(off(n)).min(p1),
            FrameBound::Preceding(n) | FrameBound::Following(n) => {
                let target = match (self.frame.start, key) {
                    (_, None) => None,
                    (FrameBound::Preceding(_), Some(k)) => Some(k - n),
                    (_, Some(k)) => Some(k + n),
                };
                match (target, &mut self.range) {
                    (Some(t), Some(rk)) => {
                        // The first row whose key is at least `t`.
                        self.s_ptr = self.s_ptr.max(rk.nn.0);
                        while self.s_ptr < rk.nn.1 {
                            match rk.at_start.get(seg, self.s_ptr)? {
                                Some(v) if v * rk.sign < t => self.s_ptr += 1,
                                _ => break,
                            }
                        }
                        self.s_ptr
                    }
                    // A null key: its peers (the null rows).
                    _ => ps,
                }
            }
            FrameBound::UnboundedFollowing => p1,
        };
        let end = match self.frame.end {
            FrameBound::UnboundedFollowing => p1,
            FrameBound::CurrentRow if rows => i + 1,
            FrameBound::CurrentRow => pe,
            FrameBound::Preceding(n) if rows => (i + 1).saturating_sub(off(n)).max(p0),
            FrameBound::Following(n) if rows => i.saturating_add(off(n)).saturating_add(1).min(p1),
            FrameBound::Preceding(n) | FrameBound::Following(n) => {
                let target = match (self.frame.end, key) {
                    (_, None) => None,
                    (FrameBound::Preceding(_), Some(k)) => Some(k - n),
                    (_, Some(k)) => Some(k + n),
                };
                match (target, &mut self.range) {
                    (Some(t), Some(rk)) => {
                        // The first row whose key is above `t`.
                        self.e_ptr = self.e_ptr.max(rk.nn.0);
                        while self.e_ptr < rk.nn.1 {
                            match rk.at_end.get(seg, self.e_ptr)? {
                                Some(v) if v * rk.sign <= t => self.e_ptr += 1,
                                _ => break,
                            }
                        }
                        self.e_ptr
                    }
                    _ => pe,
                }
            }
            FrameBound::UnboundedPreceding => p0,
        };
        let start = start.clamp(p0, p1);
        let end = end.clamp(start, p1);
        Ok((start, end, opened))
    }
}
