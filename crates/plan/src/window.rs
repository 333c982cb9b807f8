//! The logical side of window functions: window specifications
//! ([`Window`]: partitioning, ordering, frame), the functions
//! ([`WindowFunction`]) and named window expressions ([`WindowExpr`]), with
//! their type checks and the output schema of a window node
//! ([`output_schema`]). `parframe-exec` evaluates them (`parframe_exec::window`
//! re-exports everything here and documents the execution, with examples);
//! the plan node is [`crate::PlanNode::Window`].
//!
//! # How to add a window function
//! Add a [`WindowFunction`] variant, its name, column and type check here
//! ([`WindowFunction::name`], [`WindowFunction::column`],
//! [`WindowFunction::output_type`]), then its evaluator in
//! `parframe-exec`'s `window/funcs.rs` and the naive reference in
//! `window/tests.rs` there.

use std::fmt;

use arrow_array::types::IntervalMonthDayNano;
use arrow_schema::{DataType, Field, Schema};
use parframe_common::{Error, Result, column_not_found};
use parframe_core::ScalarValue;

use crate::IntoColumnNames;
use crate::agg::{AggExpr, AggFunc};
use crate::sort::SortKey;

pub use crate::sequence::{RollingAgg, SeqExpr, SeqFunc, SequenceExt, WindowColumn};

fn is_numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating()
}

/// Order key types whose `RANGE` offsets are intervals.
pub fn is_range_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
    )
}

/// How a frame's offsets count: rows, or values of the order key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameUnits {
    /// `ROWS`: offsets count rows.
    Rows,
    /// `RANGE`: offsets are distances in the single order key (numbers
    /// for a numeric key, intervals for a date or timestamp key);
    /// `CURRENT ROW` means the row and its peers.
    Range,
    /// `GROUPS`: offsets count peer groups (runs of rows with equal order
    /// keys); `CURRENT ROW` means the row and its peers, `1 PRECEDING` the
    /// peer group before the row's. Needs an `ORDER BY`.
    Groups,
}

/// One end of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameBound {
    /// The first row of the partition.
    UnboundedPreceding,
    /// `n` rows (ROWS) or a key distance of `n` (RANGE) before the row.
    Preceding(f64),
    /// The row itself (ROWS) or the first/last of its peers (RANGE).
    CurrentRow,
    /// `n` rows (ROWS) or a key distance of `n` (RANGE) after the row.
    Following(f64),
    /// The last row of the partition.
    UnboundedFollowing,
    /// `RANGE INTERVAL '7' DAY PRECEDING` over a date or timestamp key:
    /// the rows whose key is at least the row's key minus the interval
    /// (for an ascending key), the difference computed as `key - INTERVAL`
    /// is in an expression: calendar months, days in the key's time zone.
    PrecedingInterval(IntervalMonthDayNano),
    /// `RANGE INTERVAL '7' DAY FOLLOWING`: up to the row's key plus the
    /// interval (ascending key).
    FollowingInterval(IntervalMonthDayNano),
}

impl FrameBound {
    fn rank(&self) -> u8 {
        match self {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::Preceding(_) | FrameBound::PrecedingInterval(_) => 1,
            FrameBound::CurrentRow => 2,
            FrameBound::Following(_) | FrameBound::FollowingInterval(_) => 3,
            FrameBound::UnboundedFollowing => 4,
        }
    }
}

impl fmt::Display for FrameBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameBound::UnboundedPreceding => write!(f, "UNBOUNDED PRECEDING"),
            FrameBound::Preceding(n) => write!(f, "{n} PRECEDING"),
            FrameBound::CurrentRow => write!(f, "CURRENT ROW"),
            FrameBound::Following(n) => write!(f, "{n} FOLLOWING"),
            FrameBound::UnboundedFollowing => write!(f, "UNBOUNDED FOLLOWING"),
            FrameBound::PrecedingInterval(iv) => write!(f, "{} PRECEDING", IntervalText(iv)),
            FrameBound::FollowingInterval(iv) => write!(f, "{} FOLLOWING", IntervalText(iv)),
        }
    }
}

impl FrameBound {
    /// Whether this bound is an offset (a number or an interval).
    pub fn is_offset(&self) -> bool {
        matches!(
            self,
            FrameBound::Preceding(_)
                | FrameBound::Following(_)
                | FrameBound::PrecedingInterval(_)
                | FrameBound::FollowingInterval(_)
        )
    }

    /// The interval of an interval offset.
    pub fn interval(&self) -> Option<IntervalMonthDayNano> {
        match self {
            FrameBound::PrecedingInterval(iv) | FrameBound::FollowingInterval(iv) => Some(*iv),
            _ => None,
        }
    }
}

/// An interval as SQL text: `INTERVAL '1 months 2 days 0.5 seconds'`.
struct IntervalText<'a>(&'a IntervalMonthDayNano);

impl fmt::Display for IntervalText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let iv = self.0;
        let mut parts = Vec::new();
        if iv.months != 0 {
            parts.push(format!("{} months", iv.months));
        }
        if iv.days != 0 {
            parts.push(format!("{} days", iv.days));
        }
        if iv.nanoseconds != 0 || parts.is_empty() {
            let (s, ns) = (
                iv.nanoseconds / 1_000_000_000,
                iv.nanoseconds % 1_000_000_000,
            );
            if ns == 0 {
                parts.push(format!("{s} seconds"));
            } else {
                let frac = format!("{:09}", ns.unsigned_abs());
                parts.push(format!("{s}.{} seconds", frac.trim_end_matches('0')));
            }
        }
        write!(f, "INTERVAL '{}'", parts.join(" "))
    }
}

/// The rows around the current one an aggregate or value function sees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowFrame {
    /// Rows or range.
    pub units: FrameUnits,
    /// Where the frame starts.
    pub start: FrameBound,
    /// Where it ends (inclusive).
    pub end: FrameBound,
}

impl WindowFrame {
    /// `ROWS BETWEEN start AND end`.
    pub fn rows(start: FrameBound, end: FrameBound) -> Self {
        WindowFrame {
            units: FrameUnits::Rows,
            start,
            end,
        }
    }

    /// `RANGE BETWEEN start AND end`.
    pub fn range(start: FrameBound, end: FrameBound) -> Self {
        WindowFrame {
            units: FrameUnits::Range,
            start,
            end,
        }
    }

    /// `GROUPS BETWEEN start AND end`: offsets count peer groups.
    pub fn groups(start: FrameBound, end: FrameBound) -> Self {
        WindowFrame {
            units: FrameUnits::Groups,
            start,
            end,
        }
    }

    /// The whole partition.
    pub fn whole() -> Self {
        Self::rows(
            FrameBound::UnboundedPreceding,
            FrameBound::UnboundedFollowing,
        )
    }

    /// `ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`.
    pub fn running() -> Self {
        Self::rows(FrameBound::UnboundedPreceding, FrameBound::CurrentRow)
    }

    fn units_name(&self) -> &'static str {
        match self.units {
            FrameUnits::Rows => "ROWS",
            FrameUnits::Range => "RANGE",
            FrameUnits::Groups => "GROUPS",
        }
    }

    fn check(&self, order_by: &[SortKey], schema: &Schema) -> Result<()> {
        use FrameBound::*;
        if matches!(self.start, UnboundedFollowing) || matches!(self.end, UnboundedPreceding) {
            return Err(Error::InvalidArgument(format!(
                "window frame {self}: a frame cannot start at UNBOUNDED FOLLOWING or end at \
                 UNBOUNDED PRECEDING"
            )));
        }
        if self.start.rank() > self.end.rank() {
            return Err(Error::InvalidArgument(format!(
                "window frame {self}: the start comes after the end"
            )));
        }
        for b in [self.start, self.end] {
            if let Preceding(n) | Following(n) = b
                && (!n.is_finite() || n < 0.0)
            {
                return Err(Error::InvalidArgument(format!(
                    "window frame {self}: offsets must be finite and not negative"
                )));
            }
            if let (FrameUnits::Rows | FrameUnits::Groups, Preceding(n) | Following(n)) =
                (self.units, b)
                && n.fract() != 0.0
            {
                return Err(Error::InvalidArgument(format!(
                    "window frame {self}: {} offsets must be whole numbers",
                    self.units_name()
                )));
            }
        }
        if self.units == FrameUnits::Groups && order_by.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "window frame {self}: GROUPS frames need an ORDER BY (peer groups are rows \
                 with equal order keys)"
            )));
        }
        let intervals = self.start.interval().is_some() || self.end.interval().is_some();
        for iv in [self.start.interval(), self.end.interval()]
            .into_iter()
            .flatten()
        {
            if iv.months < 0 || iv.days < 0 || iv.nanoseconds < 0 {
                return Err(Error::InvalidArgument(format!(
                    "window frame {self}: interval offsets must not be negative"
                )));
            }
        }
        if intervals && self.units != FrameUnits::Range {
            return Err(Error::InvalidArgument(format!(
                "window frame {self}: interval offsets need a RANGE frame ({} offsets count \
                 rows or peer groups)",
                self.units_name()
            )));
        }
        let offsets = self.start.is_offset() || self.end.is_offset();
        if self.units == FrameUnits::Range && offsets {
            let [k] = order_by else {
                return Err(Error::InvalidArgument(format!(
                    "window frame {self}: RANGE with an offset needs exactly one ORDER BY key, \
                     got {}",
                    order_by.len()
                )));
            };
            let f = schema.field_with_name(&k.column).map_err(|_| {
                column_not_found(&k.column, schema.fields().iter().map(|f| f.name().as_str()))
            })?;
            let temporal = is_range_temporal(f.data_type());
            if intervals && !temporal {
                return Err(Error::type_mismatch(
                    format!("window frame {self}"),
                    format!(
                        "interval offsets need a date or timestamp ORDER BY key; '{}' is {}",
                        k.column,
                        f.data_type()
                    ),
                ));
            }
            let numbers = matches!(self.start, Preceding(_) | Following(_))
                || matches!(self.end, Preceding(_) | Following(_));
            if numbers && !is_numeric(f.data_type()) {
                let hint = if temporal {
                    " (over a date or timestamp key, write an interval: INTERVAL '7' DAY)"
                } else {
                    ""
                };
                return Err(Error::type_mismatch(
                    format!("window frame {self}"),
                    format!(
                        "RANGE offsets that are numbers need a numeric ORDER BY key; '{}' is \
                         {}{hint}",
                        k.column,
                        f.data_type()
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Display for WindowFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} BETWEEN {} AND {}",
            self.units_name(),
            self.start,
            self.end
        )
    }
}

/// A window specification: `PARTITION BY`, `ORDER BY` and the frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Window {
    /// Partition key columns (none: one partition of all rows).
    pub partition_by: Vec<String>,
    /// Order within a partition.
    pub order_by: Vec<SortKey>,
    /// The frame; `None` is SQL's default (see the module docs).
    pub frame: Option<WindowFrame>,
}

impl Window {
    /// One partition of all rows, no order, default frame.
    pub fn new() -> Self {
        Window::default()
    }

    /// Sets the partition keys.
    pub fn partition_by(mut self, columns: impl IntoColumnNames) -> Self {
        self.partition_by = columns.into_column_names();
        self
    }

    /// Sets the order keys.
    pub fn order_by<K: Into<SortKey>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.order_by = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the frame.
    pub fn frame(mut self, frame: WindowFrame) -> Self {
        self.frame = Some(frame);
        self
    }

    /// The frame that applies: the one given, else SQL's default.
    pub fn effective_frame(&self) -> WindowFrame {
        match self.frame {
            Some(f) => f,
            None if self.order_by.is_empty() => WindowFrame::whole(),
            None => WindowFrame::range(FrameBound::UnboundedPreceding, FrameBound::CurrentRow),
        }
    }

    /// The sort that evaluating this window needs: partition keys, then
    /// order keys.
    pub fn sort_keys(&self) -> Vec<SortKey> {
        let mut keys: Vec<SortKey> = self
            .partition_by
            .iter()
            .map(|c| SortKey::asc(c.as_str()))
            .collect();
        keys.extend(self.order_by.iter().cloned());
        keys
    }

    /// Whether two windows partition and order the same way (they may share
    /// one operator even if their frames differ).
    pub fn same_ordering(&self, other: &Window) -> bool {
        self.partition_by == other.partition_by && self.order_by == other.order_by
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.partition_by.is_empty() {
            parts.push(format!("PARTITION BY {}", self.partition_by.join(", ")));
        }
        if !self.order_by.is_empty() {
            parts.push(format!(
                "ORDER BY {}",
                crate::sort::describe_keys(&self.order_by)
            ));
        }
        if let Some(fr) = &self.frame {
            parts.push(fr.to_string());
        }
        write!(f, "({})", parts.join(" "))
    }
}

/// What a window expression computes for each row.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowFunction {
    /// 1, 2, 3, ... in partition order (`Int64`).
    RowNumber,
    /// The row number of the first peer (gaps after ties, `Int64`).
    Rank,
    /// Peer groups numbered without gaps (`Int64`).
    DenseRank,
    /// `(rank - 1) / (rows - 1)`, 0 for a one-row partition (`Float64`).
    PercentRank,
    /// Rows up to and including the last peer, over the partition's rows
    /// (`Float64`).
    CumeDist,
    /// The bucket `1..=n` of the row when the partition is split into `n`
    /// buckets as equal as possible, the first ones one row larger (`Int64`).
    Ntile(u64),
    /// The value `offset` rows before, or `default` (null when `None`).
    Lag {
        /// The column.
        column: String,
        /// How many rows back.
        offset: u64,
        /// The value where there is no such row.
        default: Option<ScalarValue>,
    },
    /// The value `offset` rows after, or `default` (null when `None`).
    Lead {
        /// The column.
        column: String,
        /// How many rows ahead.
        offset: u64,
        /// The value where there is no such row.
        default: Option<ScalarValue>,
    },
    /// The first value of the frame.
    FirstValue {
        /// The column.
        column: String,
        /// Skip nulls (`IGNORE NULLS`).
        ignore_nulls: bool,
    },
    /// The last value of the frame.
    LastValue {
        /// The column.
        column: String,
        /// Skip nulls (`IGNORE NULLS`).
        ignore_nulls: bool,
    },
    /// The `n`-th value (from 1) of the frame.
    NthValue {
        /// The column.
        column: String,
        /// Which value, from 1.
        n: u64,
        /// Count only non-null values (`IGNORE NULLS`).
        ignore_nulls: bool,
    },
    /// An aggregate over the frame: `count_rows`, `count`, `sum`, `mean`,
    /// `min`, `max`, `var`, `std`.
    Aggregate(AggFunc),
}

impl WindowFunction {
    /// `IGNORE NULLS` for `first_value`, `last_value` and `nth_value`
    /// (other functions are returned unchanged).
    pub fn ignore_nulls(mut self) -> Self {
        match &mut self {
            WindowFunction::FirstValue { ignore_nulls, .. }
            | WindowFunction::LastValue { ignore_nulls, .. }
            | WindowFunction::NthValue { ignore_nulls, .. } => *ignore_nulls = true,
            _ => {}
        }
        self
    }

    /// The function evaluated over `window`.
    pub fn over(self, window: Window) -> WindowExpr {
        let name = self.default_name();
        WindowExpr {
            func: self,
            window,
            name,
            inputs: Vec::new(),
        }
    }

    /// The name of the function (`row_number`, `sum`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            WindowFunction::RowNumber => "row_number",
            WindowFunction::Rank => "rank",
            WindowFunction::DenseRank => "dense_rank",
            WindowFunction::PercentRank => "percent_rank",
            WindowFunction::CumeDist => "cume_dist",
            WindowFunction::Ntile(_) => "ntile",
            WindowFunction::Lag { .. } => "lag",
            WindowFunction::Lead { .. } => "lead",
            WindowFunction::FirstValue { .. } => "first_value",
            WindowFunction::LastValue { .. } => "last_value",
            WindowFunction::NthValue { .. } => "nth_value",
            WindowFunction::Aggregate(a) => a.name(),
        }
    }

    fn default_name(&self) -> String {
        match self {
            WindowFunction::Lag { column, .. }
            | WindowFunction::Lead { column, .. }
            | WindowFunction::FirstValue { column, .. }
            | WindowFunction::LastValue { column, .. }
            | WindowFunction::NthValue { column, .. } => format!("{}_{column}", self.name()),
            WindowFunction::Aggregate(a) => match a.columns().first() {
                Some(c) => format!("{}_{c}", a.name()),
                None => a.name().to_string(),
            },
            other => other.name().to_string(),
        }
    }

    /// The input column, if any.
    pub fn column(&self) -> Option<&str> {
        match self {
            WindowFunction::Lag { column, .. }
            | WindowFunction::Lead { column, .. }
            | WindowFunction::FirstValue { column, .. }
            | WindowFunction::LastValue { column, .. }
            | WindowFunction::NthValue { column, .. } => Some(column),
            WindowFunction::Aggregate(a) => a.columns().first().copied(),
            _ => None,
        }
    }

    /// Whether the frame matters to this function.
    pub fn uses_frame(&self) -> bool {
        matches!(
            self,
            WindowFunction::FirstValue { .. }
                | WindowFunction::LastValue { .. }
                | WindowFunction::NthValue { .. }
                | WindowFunction::Aggregate(_)
        )
    }

    /// Type-checks against the input schema, giving the output type.
    pub fn output_type(&self, schema: &Schema) -> Result<DataType> {
        let input = |c: &str| -> Result<DataType> {
            schema
                .field_with_name(c)
                .map(|f| f.data_type().clone())
                .map_err(|_| column_not_found(c, schema.fields().iter().map(|f| f.name().as_str())))
        };
        Ok(match self {
            WindowFunction::RowNumber | WindowFunction::Rank | WindowFunction::DenseRank => {
                DataType::Int64
            }
            WindowFunction::PercentRank | WindowFunction::CumeDist => DataType::Float64,
            WindowFunction::Ntile(n) => {
                if *n == 0 {
                    return Err(Error::InvalidArgument(
                        "ntile(0): the number of buckets must be at least 1".into(),
                    ));
                }
                DataType::Int64
            }
            WindowFunction::Lag {
                column, default, ..
            }
            | WindowFunction::Lead {
                column, default, ..
            } => {
                let t = input(column)?;
                if let Some(d) = default
                    && !d.is_null()
                    && !arrow_cast::can_cast_types(&d.data_type(), &t)
                {
                    return Err(Error::type_mismatch(
                        format!("{}({column}, .., {d})", self.name()),
                        format!(
                            "the default is {}, which cannot become the column's {t}",
                            d.data_type()
                        ),
                    ));
                }
                t
            }
            WindowFunction::NthValue { n: 0, column, .. } => {
                return Err(Error::InvalidArgument(format!(
                    "nth_value({column}, 0): n counts from 1"
                )));
            }
            WindowFunction::FirstValue { column, .. }
            | WindowFunction::LastValue { column, .. }
            | WindowFunction::NthValue { column, .. } => input(column)?,
            WindowFunction::Aggregate(a) => {
                let t = a.output_type(schema)?;
                match a {
                    AggFunc::CountRows
                    | AggFunc::Count(_)
                    | AggFunc::Sum(_)
                    | AggFunc::Mean(_)
                    | AggFunc::Var(_)
                    | AggFunc::Std(_) => {}
                    AggFunc::Min(c) | AggFunc::Max(c) => {
                        if !is_numeric(&input(c)?) {
                            return Err(Error::NotSupported(format!(
                                "{a} as a window function: min/max over a window need a \
                                 numeric column; '{c}' is {t}"
                            )));
                        }
                    }
                    other => {
                        return Err(Error::NotSupported(format!(
                            "{other} as a window function (supported: count, sum, mean, min, \
                             max, var, std)"
                        )));
                    }
                }
                t
            }
        })
    }
}

impl fmt::Display for WindowFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ign = |yes: &bool| if *yes { " IGNORE NULLS" } else { "" };
        match self {
            WindowFunction::Ntile(n) => write!(f, "ntile({n})"),
            WindowFunction::Lag {
                column,
                offset,
                default,
            }
            | WindowFunction::Lead {
                column,
                offset,
                default,
            } => match default {
                Some(d) => write!(f, "{}({column}, {offset}, {d})", self.name()),
                None => write!(f, "{}({column}, {offset})", self.name()),
            },
            WindowFunction::FirstValue {
                column,
                ignore_nulls,
            }
            | WindowFunction::LastValue {
                column,
                ignore_nulls,
            } => write!(f, "{}({column}){}", self.name(), ign(ignore_nulls)),
            WindowFunction::NthValue {
                column,
                n,
                ignore_nulls,
            } => write!(f, "nth_value({column}, {n}){}", ign(ignore_nulls)),
            WindowFunction::Aggregate(a) => write!(f, "{a}"),
            other => write!(f, "{}()", other.name()),
        }
    }
}

/// A window function over a window, named: one output column.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowExpr {
    /// What is computed.
    pub func: WindowFunction,
    /// Over which rows.
    pub window: Window,
    /// The output column's name.
    pub name: String,
    /// Hidden input columns to compute before the window (name,
    /// expression): the arguments of an aggregate over an expression
    /// (`(col("a") * col("b")).sum().over(w)`). `LazyFrame`'s
    /// `with_window_columns` adds them and drops them afterwards.
    pub inputs: Vec<(String, parframe_core::Expr)>,
}

impl WindowExpr {
    /// Renames the output column.
    pub fn alias(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Type-checks against the input schema, giving the output field.
    pub fn to_field(&self, schema: &Schema) -> Result<Field> {
        for c in &self.window.partition_by {
            schema.field_with_name(c).map_err(|_| {
                column_not_found(c, schema.fields().iter().map(|f| f.name().as_str()))
            })?;
        }
        crate::sort::check_keys(schema, &self.window.sort_keys()).or_else(|e| {
            if self.window.sort_keys().is_empty() {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        if self.func.uses_frame() {
            self.window
                .effective_frame()
                .check(&self.window.order_by, schema)?;
        }
        let t = self.func.output_type(schema)?;
        Ok(Field::new(&self.name, t, true))
    }

    /// The input columns it reads (keys and argument).
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = self.window.partition_by.clone();
        out.extend(self.window.order_by.iter().map(|k| k.column.clone()));
        out.extend(self.func.column().map(str::to_string));
        out
    }
}

impl fmt::Display for WindowExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} OVER {} AS {}", self.func, self.window, self.name)
    }
}

/// `.over(window)` for aggregates: `sum("v").over(w)?`.
pub trait AggOver {
    /// This aggregate as a window function over `window`.
    fn over(self, window: Window) -> Result<WindowExpr>;
}

impl AggOver for AggExpr {
    /// This aggregate as a window function over `window`, named by its
    /// alias if it has one (else `sum_v` for `sum("v")`, and for an
    /// aggregate over an expression `sum_` and the expression's name). An
    /// aggregate over an expression reads it from a hidden column (see
    /// [`WindowExpr::inputs`]). Only a single
    /// aggregate, optionally aliased, can be a window function: arithmetic
    /// over aggregates is [`Error::NotSupported`] (compute each aggregate
    /// with `over` and combine them with `with_column`).
    fn over(self, window: Window) -> Result<WindowExpr> {
        let (inner, alias) = match self {
            AggExpr::Alias { expr, name } => (*expr, Some(name)),
            other => (other, None),
        };
        let (func, inputs, computed) = match inner {
            AggExpr::Agg(f) => (f, Vec::new(), None),
            AggExpr::Computed { func, inputs, name } => {
                let default = format!("{}_{name}", func.name());
                (func, inputs, Some(default))
            }
            other => return Err(not_single(&other)),
        };
        let mut e = WindowFunction::Aggregate(func).over(window);
        e.inputs = inputs;
        Ok(match alias.or(computed) {
            Some(a) => e.alias(a),
            None => e,
        })
    }
}

fn not_single(e: &AggExpr) -> Error {
    Error::NotSupported(format!(
        "{e:?} over a window: only a single aggregate can be a window function; compute each \
         with over() and combine the columns with with_column"
    ))
}

/// `row_number()`.
pub fn row_number() -> WindowFunction {
    WindowFunction::RowNumber
}
/// `rank()`.
pub fn rank() -> WindowFunction {
    WindowFunction::Rank
}
/// `dense_rank()`.
pub fn dense_rank() -> WindowFunction {
    WindowFunction::DenseRank
}
/// `percent_rank()`.
pub fn percent_rank() -> WindowFunction {
    WindowFunction::PercentRank
}
/// `cume_dist()`.
pub fn cume_dist() -> WindowFunction {
    WindowFunction::CumeDist
}
/// `ntile(n)`.
pub fn ntile(n: u64) -> WindowFunction {
    WindowFunction::Ntile(n)
}
/// `lag(column, offset, default)`.
pub fn lag(column: &str, offset: u64, default: Option<ScalarValue>) -> WindowFunction {
    WindowFunction::Lag {
        column: column.to_string(),
        offset,
        default,
    }
}
/// `lead(column, offset, default)`.
pub fn lead(column: &str, offset: u64, default: Option<ScalarValue>) -> WindowFunction {
    WindowFunction::Lead {
        column: column.to_string(),
        offset,
        default,
    }
}
/// `first_value(column)`.
pub fn first_value(column: &str) -> WindowFunction {
    WindowFunction::FirstValue {
        column: column.to_string(),
        ignore_nulls: false,
    }
}
/// `last_value(column)`.
pub fn last_value(column: &str) -> WindowFunction {
    WindowFunction::LastValue {
        column: column.to_string(),
        ignore_nulls: false,
    }
}
/// `nth_value(column, n)` (n from 1).
pub fn nth_value(column: &str, n: u64) -> WindowFunction {
    WindowFunction::NthValue {
        column: column.to_string(),
        n,
        ignore_nulls: false,
    }
}

/// The output schema of a window node: the input's columns, then one
/// column per expression (a window column named like an input column
/// replaces it in place). Names must be unique among the expressions.
pub fn output_schema(input: &Schema, exprs: &[WindowExpr]) -> Result<arrow_schema::SchemaRef> {
    let mut fields: Vec<arrow_schema::FieldRef> = input.fields().iter().cloned().collect();
    for e in exprs {
        let f: arrow_schema::FieldRef = std::sync::Arc::new(e.to_field(input)?);
        if exprs.iter().filter(|x| x.name == e.name).count() > 1 {
            return Err(Error::InvalidArgument(format!(
                "window columns: '{}' is produced twice; alias one of them",
                e.name
            )));
        }
        match fields.iter().position(|g| g.name() == f.name()) {
            Some(i) => fields[i] = f,
            None => fields.push(f),
        }
    }
    Ok(std::sync::Arc::new(Schema::new(fields)))
}
