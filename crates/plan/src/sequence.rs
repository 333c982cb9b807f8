//! Shift, cumulative and rolling expressions (polars' `shift`, `diff`,
//! `cum_sum`, `cum_min`, `cum_max`, `cum_count`, `rolling_sum`,
//! `rolling_mean`, `rolling_min`, `rolling_max`, and the `rolling_*_by`
//! forms over a time span): sugar that lowers onto the window machinery
//! ([`crate::window`]), no operator of its own.
//!
//! ```
//! use parframe_core::col;
//! use parframe_plan::window::{SequenceExt, WindowFunction};
//!
//! let running = col("v").cum_sum();                    // over all rows, input order
//! let per_key = col("v").rolling_mean(3).over(["k"]);  // per partition of k
//! let ordered = col("v").diff(1).over(["k"]).order_by(["t"]).alias("dv");
//! let by_time = col("v").rolling_mean_by("t", "3d").over(["k"]); // the last 3 days
//! # let _ = (running, per_key, ordered, by_time);
//! ```
//!
//! # Rolling over a time span
//! `rolling_*_by(by, window)` aggregates, for each row, the rows of its
//! partition whose `by` value lies in `(t - window, t]` (`t` the row's own
//! value; polars' default `closed="right"`), rows with the same `by` value
//! included. The rows are taken in `by` order (any [`SeqExpr::order_by`]
//! is replaced). `window` is a polars duration: integers with units `ns`,
//! `us`, `ms`, `s`, `m`, `h`, `d`, `w`, summed (`"1d12h"`), for a
//! `Timestamp` (any unit and zone), `Date32` (whole days) or `Date64` `by`;
//! `"5i"` (an index count) for an integer `by`. Calendar units (`mo`, `q`,
//! `y`) are refused: their length varies. Rows whose `by` is null form one
//! window of their own. `min_samples` defaults to 1, as polars'. The
//! window compares `by` as `f64`, so nanosecond timestamps are compared to
//! about 0.25 µs at today's dates (microseconds and coarser exactly).
//!
//! # Order
//! Without [`SeqExpr::order_by`] the rows are taken **in input order**, as
//! polars does: over the whole frame when there is no
//! [`SeqExpr::over`], else within each partition. The window for that has
//! no order key at all, so the window operator does not sort (with
//! partitions it only groups rows by a hash of the keys, keeping their
//! input order within each group). Input order is the order in which the
//! plan's input produces rows: a file's order, a table's, or whatever the
//! operators before give (a sort's order; a hash `group_by`'s order is
//! arbitrary unless it keeps order). With `order_by` the rows of each
//! partition are taken in that order instead (ties in input order).
//!
//! Output rows: without `over` the frame comes out in input order (the
//! whole input is one partition: held under the memory budget, or spilled
//! and read back, as any window partition). With `over` the rows come
//! grouped by partition, input order within each, like every window column
//! (see `LazyFrame::with_window_columns`); polars keeps the rows in place,
//! so sort afterwards by a `with_row_index` column when the original
//! positions matter.
//!
//! # Nulls (as polars)
//! `shift` moves nulls like values; `diff` is null where either value is;
//! `cum_sum`/`cum_min`/`cum_max` skip nulls and are null at a null row;
//! `cum_count` counts the non-null values so far (never null, `Int64`);
//! `rolling_*` are null unless the window holds at least
//! [`SeqExpr::min_samples`] non-null values (default: the window size, as
//! polars), else the aggregate of those values. Booleans count as 0/1 for
//! the sums, means, minima and maxima.
//!
//! # Types
//! `shift` keeps the type; `diff` is the type of `x - x`; `cum_sum` and
//! `rolling_sum` are `Int64` for integers (overflow is an error) and
//! `Float64` for floats; `rolling_mean` is `Float64`; `cum_min`, `cum_max`,
//! `rolling_min` and `rolling_max` keep the (numeric) type.
//!
//! # How to add one
//! Add a [`SeqFunc`] variant, its method on [`SequenceExt`], and its
//! lowering in [`SeqExpr::lower`]: the window expressions it needs (over
//! [`SeqExpr`]'s window, any frame) and the expression that combines their
//! hidden columns into the output; then a case in the naive reference of
//! `parframe-exec`'s `window/sequence_tests.rs`.

use arrow_schema::{DataType, Schema};
use parframe_common::{Error, Result};
use parframe_core::{Expr, IntoExpr, ScalarValue, col, lit, when};

use crate::IntoColumnNames;
use crate::agg::AggFunc;
use crate::sort::SortKey;
use crate::window::{FrameBound, Window, WindowExpr, WindowFrame, WindowFunction};

/// The aggregate of a rolling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollingAgg {
    /// Sum.
    Sum,
    /// Arithmetic mean (`Float64`).
    Mean,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
}

/// What a [`SeqExpr`] computes.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqFunc {
    /// The value `n` rows before (`n < 0`: `-n` rows after), null where
    /// there is none.
    Shift(i64),
    /// The value minus the one `n` rows before (`n < 0`: after).
    Diff(i64),
    /// Running sum.
    CumSum,
    /// Running minimum.
    CumMin,
    /// Running maximum.
    CumMax,
    /// Running count of non-null values.
    CumCount,
    /// An aggregate over the current row and the `size - 1` before it.
    Rolling {
        /// The aggregate.
        agg: RollingAgg,
        /// Rows in the window (at least 1).
        size: usize,
        /// Non-null values needed for a non-null result.
        min_samples: usize,
    },
    /// An aggregate over the rows whose `by` value is in `(t - window, t]`
    /// (see the [module docs](self#rolling-over-a-time-span)).
    RollingBy {
        /// The aggregate.
        agg: RollingAgg,
        /// The column whose values the window spans.
        by: String,
        /// The span, as polars writes durations (`"3d"`, `"90m"`, `"5i"`).
        window: String,
        /// Non-null values needed for a non-null result.
        min_samples: usize,
    },
}

impl SeqFunc {
    /// polars' name of the function (`cum_sum`, `rolling_mean`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            SeqFunc::Shift(_) => "shift",
            SeqFunc::Diff(_) => "diff",
            SeqFunc::CumSum => "cum_sum",
            SeqFunc::CumMin => "cum_min",
            SeqFunc::CumMax => "cum_max",
            SeqFunc::CumCount => "cum_count",
            SeqFunc::Rolling { agg, .. } => match agg {
                RollingAgg::Sum => "rolling_sum",
                RollingAgg::Mean => "rolling_mean",
                RollingAgg::Min => "rolling_min",
                RollingAgg::Max => "rolling_max",
            },
            SeqFunc::RollingBy { agg, .. } => match agg {
                RollingAgg::Sum => "rolling_sum_by",
                RollingAgg::Mean => "rolling_mean_by",
                RollingAgg::Min => "rolling_min_by",
                RollingAgg::Max => "rolling_max_by",
            },
        }
    }
}

/// A shift, cumulative or rolling expression (see the [module
/// docs](self)): built by [`SequenceExt`] (`col("v").cum_sum()`), refined
/// with [`over`](Self::over), [`order_by`](Self::order_by) and
/// [`alias`](Self::alias), added to a frame by
/// `LazyFrame::with_window_columns`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqExpr {
    /// The function.
    pub func: SeqFunc,
    /// What it is computed over.
    pub input: Expr,
    /// Partition keys (none: all rows).
    pub partition_by: Vec<String>,
    /// Order within a partition (none: input order).
    pub order_by: Vec<SortKey>,
    /// The output column's name (`None`: the input's name, as polars).
    pub name: Option<String>,
}

/// What a [`SeqExpr`] lowers to: hidden input columns to add first (name,
/// expression), window expressions (hidden outputs), then the output
/// expression over those, and every hidden name to drop at the end.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// Hidden input columns computed before the window.
    pub inputs: Vec<(String, Expr)>,
    /// The window expressions (named by hidden names).
    pub windows: Vec<WindowExpr>,
    /// The output column, computed after the window (aliased).
    pub output: Expr,
    /// Hidden columns to drop once the output is computed.
    pub hidden: Vec<String>,
}

impl SeqExpr {
    fn new(func: SeqFunc, input: Expr) -> Self {
        SeqExpr {
            func,
            input,
            partition_by: Vec::new(),
            order_by: Vec::new(),
            name: None,
        }
    }

    /// Computes it within each partition of `columns` (polars' `over`).
    pub fn over(mut self, columns: impl IntoColumnNames) -> Self {
        self.partition_by = columns.into_column_names();
        self
    }

    /// Takes the rows of each partition in the order of `keys` instead of
    /// input order (ties keep input order).
    pub fn order_by<K: Into<SortKey>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.order_by = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Names the output column.
    pub fn alias(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// For `rolling_*`: the non-null values a window needs for a non-null
    /// result (at least 1; the default is the window size, 1 for the
    /// `_by` forms). Other functions are returned unchanged.
    pub fn min_samples(mut self, n: usize) -> Self {
        if let SeqFunc::Rolling { min_samples, .. } | SeqFunc::RollingBy { min_samples, .. } =
            &mut self.func
        {
            *min_samples = n;
        }
        self
    }

    /// The output column's name.
    pub fn output_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.input.output_name())
    }

    /// The input column this reads directly, when the input is a column
    /// (maybe aliased): no hidden copy is needed then.
    pub fn input_column(&self) -> Option<&str> {
        match &self.input {
            Expr::Column(c) => Some(c),
            Expr::Alias { expr, .. } => match expr.as_ref() {
                Expr::Column(c) => Some(c),
                _ => None,
            },
            _ => None,
        }
    }

    /// Lowers onto window expressions over `schema` (the frame it is added
    /// to); `tag` makes the hidden names unique within one call, and
    /// `copy_input` forces the input into a hidden column even when it is
    /// a column (when another window column of the same call replaces it).
    pub fn lower(&self, tag: usize, schema: &Schema, copy_input: bool) -> Result<Lowered> {
        let what = || format!("{}({})", self.func.name(), self.input);
        let field = self.input.to_field(schema)?;
        let boolean = field.data_type() == &DataType::Boolean;
        let numeric_use = matches!(
            self.func,
            SeqFunc::CumSum
                | SeqFunc::CumMin
                | SeqFunc::CumMax
                | SeqFunc::Rolling { .. }
                | SeqFunc::RollingBy { .. }
        );
        let mut inputs = Vec::new();
        let mut hidden = Vec::new();
        let cast = boolean && numeric_use;
        let x = match self.input_column() {
            Some(c) if !(copy_input || cast) => c.to_string(),
            _ => {
                let n = format!("__pf_seq{tag}_in");
                let e = if cast {
                    self.input.clone().cast(DataType::Int64)
                } else {
                    self.input.clone()
                };
                inputs.push((n.clone(), e));
                hidden.push(n.clone());
                n
            }
        };
        // A rolling window over a time span orders by the span's column,
        // as a hidden integer copy (the frame's offsets are in its units).
        let by_key = match &self.func {
            SeqFunc::RollingBy { by, window, .. } => {
                let (key, span) = span_key(by, window, schema, &what)?;
                let n = format!("__pf_seq{tag}_by");
                inputs.push((n.clone(), key));
                hidden.push(n.clone());
                Some((n, span))
            }
            _ => None,
        };
        let order_by = match &by_key {
            Some((n, _)) => vec![SortKey::asc(n.as_str())],
            None => self.order_by.clone(),
        };
        let window = |frame: Option<WindowFrame>| Window {
            partition_by: self.partition_by.clone(),
            order_by: order_by.clone(),
            frame,
        };
        let w_name = format!("__pf_seq{tag}_w");
        let null = || lit(ScalarValue::Null);
        let running = WindowFrame::running();
        let agg_over = |f: AggFunc, frame: WindowFrame, name: &str| {
            WindowFunction::Aggregate(f)
                .over(window(Some(frame)))
                .alias(name)
        };
        let mut windows = Vec::new();
        let output = match &self.func {
            SeqFunc::Shift(0) => col(x.as_str()),
            SeqFunc::Diff(0) => col(x.as_str()) - col(x.as_str()),
            SeqFunc::Shift(n) | SeqFunc::Diff(n) => {
                let offset = n.unsigned_abs();
                let f = if *n > 0 {
                    WindowFunction::Lag {
                        column: x.clone(),
                        offset,
                        default: None,
                    }
                } else {
                    WindowFunction::Lead {
                        column: x.clone(),
                        offset,
                        default: None,
                    }
                };
                windows.push(f.over(window(None)).alias(w_name.as_str()));
                match self.func {
                    SeqFunc::Diff(_) => col(x.as_str()) - col(w_name.as_str()),
                    _ => col(w_name.as_str()),
                }
            }
            SeqFunc::CumSum | SeqFunc::CumMin | SeqFunc::CumMax => {
                let f = match self.func {
                    SeqFunc::CumSum => AggFunc::Sum(x.clone()),
                    SeqFunc::CumMin => AggFunc::Min(x.clone()),
                    _ => AggFunc::Max(x.clone()),
                };
                windows.push(agg_over(f, running, &w_name));
                when(col(x.as_str()).is_null(), null()).otherwise(col(w_name.as_str()))
            }
            SeqFunc::CumCount => {
                windows.push(agg_over(AggFunc::Count(x.clone()), running, &w_name));
                col(w_name.as_str())
            }
            SeqFunc::Rolling {
                agg, min_samples, ..
            }
            | SeqFunc::RollingBy {
                agg, min_samples, ..
            } => {
                if *min_samples == 0 {
                    return Err(Error::InvalidArgument(format!(
                        "{}: min_samples must be at least 1",
                        what()
                    )));
                }
                let frame = match (&self.func, &by_key) {
                    (SeqFunc::Rolling { size, .. }, _) => {
                        if *size == 0 {
                            return Err(Error::InvalidArgument(format!(
                                "{}: the window size must be at least 1",
                                what()
                            )));
                        }
                        WindowFrame::rows(
                            FrameBound::Preceding((*size - 1) as f64),
                            FrameBound::CurrentRow,
                        )
                    }
                    // `(t - span, t]` over integer keys is `[t - span + 1,
                    // t]`; CURRENT ROW takes the row's peers (equal keys).
                    (_, Some((_, span))) => WindowFrame::range(
                        FrameBound::Preceding((span - 1) as f64),
                        FrameBound::CurrentRow,
                    ),
                    _ => {
                        return Err(Error::InvalidArgument(format!(
                            "internal: {} without its span",
                            what()
                        )));
                    }
                };
                let f = match agg {
                    RollingAgg::Sum => AggFunc::Sum(x.clone()),
                    RollingAgg::Mean => AggFunc::Mean(x.clone()),
                    RollingAgg::Min => AggFunc::Min(x.clone()),
                    RollingAgg::Max => AggFunc::Max(x.clone()),
                };
                let n_name = format!("__pf_seq{tag}_n");
                windows.push(agg_over(f, frame, &w_name));
                windows.push(agg_over(AggFunc::Count(x.clone()), frame, &n_name));
                hidden.push(n_name.clone());
                let enough = col(n_name.as_str()).gt_eq(lit(*min_samples as i64));
                when(enough, col(w_name.as_str())).otherwise(null())
            }
        };
        if !windows.is_empty() {
            hidden.push(w_name);
        }
        Ok(Lowered {
            inputs,
            windows,
            output: output.alias(self.output_name()),
            hidden,
        })
    }
}

impl std::fmt::Display for SeqExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let args = match &self.func {
            SeqFunc::Shift(n) | SeqFunc::Diff(n) => format!("{}, {n}", self.input),
            SeqFunc::Rolling {
                size, min_samples, ..
            } => format!("{}, {size}, min_samples={min_samples}", self.input),
            SeqFunc::RollingBy {
                by,
                window,
                min_samples,
                ..
            } => format!(
                "{}, by={by}, window={window:?}, min_samples={min_samples}",
                self.input
            ),
            _ => self.input.to_string(),
        };
        write!(f, "{}({args})", self.func.name())?;
        let w = Window {
            partition_by: self.partition_by.clone(),
            order_by: self.order_by.clone(),
            frame: None,
        };
        if !w.partition_by.is_empty() || !w.order_by.is_empty() {
            write!(f, " OVER {w}")?;
        }
        write!(f, " AS {}", self.output_name())
    }
}

/// A column `LazyFrame::with_window_columns` adds: a window expression
/// (`rank().over(w)`, `sum("v").over(w)?`) or a shift/cumulative/rolling
/// one (`col("v").cum_sum()`). Both convert with `Into`, so a list of one
/// kind needs nothing; mix the kinds with `.into()`.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowColumn {
    /// A window function over a window.
    Window(WindowExpr),
    /// A shift, cumulative or rolling expression.
    Sequence(SeqExpr),
}

impl From<WindowExpr> for WindowColumn {
    fn from(e: WindowExpr) -> Self {
        WindowColumn::Window(e)
    }
}

impl From<SeqExpr> for WindowColumn {
    fn from(e: SeqExpr) -> Self {
        WindowColumn::Sequence(e)
    }
}

/// Shift, cumulative and rolling functions as methods on expressions
/// (polars' names; see the [module docs](self) for order, nulls and
/// types).
///
/// ```
/// use parframe_core::col;
/// use parframe_plan::window::SequenceExt;
///
/// assert_eq!(col("v").cum_sum().output_name(), "v");
/// assert_eq!(col("v").shift(1).alias("prev").output_name(), "prev");
/// ```
pub trait SequenceExt: IntoExpr + Sized {
    /// The value `n` rows before (`n < 0`: `-n` rows after); null where
    /// there is no such row.
    fn shift(self, n: i64) -> SeqExpr {
        SeqExpr::new(SeqFunc::Shift(n), self.into_expr())
    }
    /// The value minus the one `n` rows before (`n < 0`: after).
    fn diff(self, n: i64) -> SeqExpr {
        SeqExpr::new(SeqFunc::Diff(n), self.into_expr())
    }
    /// Running sum (null at null rows).
    fn cum_sum(self) -> SeqExpr {
        SeqExpr::new(SeqFunc::CumSum, self.into_expr())
    }
    /// Running minimum (null at null rows).
    fn cum_min(self) -> SeqExpr {
        SeqExpr::new(SeqFunc::CumMin, self.into_expr())
    }
    /// Running maximum (null at null rows).
    fn cum_max(self) -> SeqExpr {
        SeqExpr::new(SeqFunc::CumMax, self.into_expr())
    }
    /// Running count of non-null values.
    fn cum_count(self) -> SeqExpr {
        SeqExpr::new(SeqFunc::CumCount, self.into_expr())
    }
    /// Sum over the row and the `window_size - 1` rows before it.
    fn rolling_sum(self, window_size: usize) -> SeqExpr {
        rolling(self.into_expr(), RollingAgg::Sum, window_size)
    }
    /// Mean over the row and the `window_size - 1` rows before it.
    fn rolling_mean(self, window_size: usize) -> SeqExpr {
        rolling(self.into_expr(), RollingAgg::Mean, window_size)
    }
    /// Minimum over the row and the `window_size - 1` rows before it.
    fn rolling_min(self, window_size: usize) -> SeqExpr {
        rolling(self.into_expr(), RollingAgg::Min, window_size)
    }
    /// Maximum over the row and the `window_size - 1` rows before it.
    fn rolling_max(self, window_size: usize) -> SeqExpr {
        rolling(self.into_expr(), RollingAgg::Max, window_size)
    }
    /// Sum over the rows whose `by` is in `(t - window, t]` (`window` a
    /// polars duration such as `"3d"`; see the [module
    /// docs](self#rolling-over-a-time-span)).
    fn rolling_sum_by(self, by: &str, window: &str) -> SeqExpr {
        rolling_by(self.into_expr(), RollingAgg::Sum, by, window)
    }
    /// Mean over the rows whose `by` is in `(t - window, t]`.
    fn rolling_mean_by(self, by: &str, window: &str) -> SeqExpr {
        rolling_by(self.into_expr(), RollingAgg::Mean, by, window)
    }
    /// Minimum over the rows whose `by` is in `(t - window, t]`.
    fn rolling_min_by(self, by: &str, window: &str) -> SeqExpr {
        rolling_by(self.into_expr(), RollingAgg::Min, by, window)
    }
    /// Maximum over the rows whose `by` is in `(t - window, t]`.
    fn rolling_max_by(self, by: &str, window: &str) -> SeqExpr {
        rolling_by(self.into_expr(), RollingAgg::Max, by, window)
    }
}

impl SequenceExt for Expr {}

fn rolling_by(input: Expr, agg: RollingAgg, by: &str, window: &str) -> SeqExpr {
    SeqExpr::new(
        SeqFunc::RollingBy {
            agg,
            by: by.to_string(),
            window: window.to_string(),
            min_samples: 1,
        },
        input,
    )
}

/// A polars duration (`"3d"`, `"1h30m"`, `"5i"`): nanoseconds, or an index
/// count (`i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    Nanos(i128),
    Index(i64),
}

fn parse_span(text: &str) -> std::result::Result<Span, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty duration".into());
    }
    let (mut nanos, mut index, mut rest) = (0i128, None::<i64>, t);
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("'{rest}' does not start with a number"));
        }
        let n: i128 = rest[..digits]
            .parse()
            .map_err(|_| format!("'{}' is too large", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let per: i128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            "w" => 7 * 86_400 * 1_000_000_000,
            "i" | "" => {
                let n = i64::try_from(n).map_err(|_| format!("{n}i is too large"))?;
                index = Some(index.unwrap_or(0).saturating_add(n));
                continue;
            }
            "mo" | "q" | "y" => {
                return Err(format!(
                    "'{unit}' is a calendar unit whose length varies; use days or weeks"
                ));
            }
            other => {
                return Err(format!(
                    "unknown unit '{other}' (ns, us, ms, s, m, h, d, w, i)"
                ));
            }
        };
        nanos = nanos.saturating_add(n.saturating_mul(per));
    }
    match index {
        Some(_) if nanos != 0 => Err("an index count (i) cannot mix with time units".into()),
        Some(i) => Ok(Span::Index(i)),
        None => Ok(Span::Nanos(nanos)),
    }
}

/// The hidden order key of a rolling window over `by` (its values as
/// `Int64` in `by`'s own units) and the window's span in those units.
fn span_key(
    by: &str,
    window: &str,
    schema: &Schema,
    what: &dyn Fn() -> String,
) -> Result<(Expr, i64)> {
    use arrow_schema::TimeUnit;
    let bad = |why: String| Error::InvalidArgument(format!("{}: window {window:?}: {why}", what()));
    let field = schema.field_with_name(by).map_err(|_| {
        parframe_common::column_not_found(by, schema.fields().iter().map(|f| f.name().as_str()))
    })?;
    let span = parse_span(window).map_err(bad)?;
    let per_unit: Option<i128> = match field.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => Some(1_000_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Date64 => Some(1_000_000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Some(1_000),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => Some(1),
        DataType::Date32 => Some(86_400 * 1_000_000_000),
        t if t.is_integer() => None,
        t => {
            return Err(Error::InvalidArgument(format!(
                "{}: '{by}' is {t}; a rolling window over a span needs a timestamp, \
                 date or integer column",
                what()
            )));
        }
    };
    let units: i128 = match (span, per_unit) {
        (Span::Nanos(ns), Some(per)) => {
            if ns % per != 0 {
                return Err(bad(format!(
                    "not a whole number of '{by}' units ({})",
                    field.data_type()
                )));
            }
            ns / per
        }
        (Span::Index(i), None) => i128::from(i),
        (Span::Nanos(_), None) => {
            return Err(bad(format!(
                "'{by}' is an integer column: give the span as a count, e.g. \"5i\""
            )));
        }
        (Span::Index(_), Some(_)) => {
            return Err(bad(format!(
                "'{by}' is {}: give the span in time units, e.g. \"3d\"",
                field.data_type()
            )));
        }
    };
    if units <= 0 {
        return Err(bad("the span must be positive".into()));
    }
    let units = i64::try_from(units).map_err(|_| bad("the span is too large".into()))?;
    Ok((col(by).cast(DataType::Int64), units))
}

fn rolling(input: Expr, agg: RollingAgg, size: usize) -> SeqExpr {
    SeqExpr::new(
        SeqFunc::Rolling {
            agg,
            size,
            min_samples: size,
        },
        input,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Field;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("v", DataType::Int64, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("s", DataType::Utf8, true),
        ])
    }

    #[test]
    fn lowering_uses_columns_directly_and_hides_the_rest() {
        let s = schema();
        let l = col("v").cum_sum().over(["k"]).lower(0, &s, false).unwrap();
        assert!(l.inputs.is_empty());
        assert_eq!(l.windows.len(), 1);
        assert_eq!(l.windows[0].window.partition_by, vec!["k".to_string()]);
        assert_eq!(l.windows[0].window.frame, Some(WindowFrame::running()));
        assert_eq!(l.output.output_name(), "v");
        let l = (col("v") * 2).rolling_mean(3).lower(1, &s, false).unwrap();
        assert_eq!(l.inputs.len(), 1);
        assert_eq!(l.windows.len(), 2);
        assert_eq!(l.hidden.len(), 3);
        // Booleans are summed as 0/1.
        let l = col("b").cum_sum().lower(2, &s, false).unwrap();
        assert_eq!(l.inputs[0].1, col("b").cast(DataType::Int64));
        // shift(0) is the value itself, no window.
        assert!(
            col("v")
                .shift(0)
                .lower(3, &s, false)
                .unwrap()
                .windows
                .is_empty()
        );
    }

    #[test]
    fn bad_arguments_are_errors_naming_the_function() {
        let s = schema();
        let e = col("v").rolling_sum(0).lower(0, &s, false).unwrap_err();
        assert!(e.to_string().contains("rolling_sum"), "{e}");
        let e = col("v")
            .rolling_max(2)
            .min_samples(0)
            .lower(0, &s, false)
            .unwrap_err();
        assert!(e.to_string().contains("min_samples"), "{e}");
        assert!(col("nope").cum_max().lower(0, &s, false).is_err());
    }

    #[test]
    fn spans_parse_as_polars_writes_them() {
        const S: i128 = 1_000_000_000;
        assert_eq!(parse_span("3d"), Ok(Span::Nanos(3 * 86_400 * S)));
        assert_eq!(parse_span("1h30m"), Ok(Span::Nanos(5_400 * S)));
        assert_eq!(parse_span("2w1ns"), Ok(Span::Nanos(14 * 86_400 * S + 1)));
        assert_eq!(parse_span("250ms"), Ok(Span::Nanos(250_000_000)));
        assert_eq!(parse_span("10us"), Ok(Span::Nanos(10_000)));
        assert_eq!(parse_span("5i"), Ok(Span::Index(5)));
        assert_eq!(parse_span("7"), Ok(Span::Index(7)));
        for bad in ["", "d", "3x", "1mo", "2y", "3i1d", "1d-2h"] {
            assert!(parse_span(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_span_converts_to_the_by_columns_units() {
        use arrow_schema::TimeUnit;
        let s = Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("d", DataType::Date32, true),
            Field::new("i", DataType::Int32, true),
        ]);
        let what = || "rolling_sum_by(v)".to_string();
        assert_eq!(span_key("ts", "2s", &s, &what).unwrap().1, 2_000);
        assert_eq!(span_key("d", "2w", &s, &what).unwrap().1, 14);
        assert_eq!(span_key("i", "3i", &s, &what).unwrap().1, 3);
        let e = span_key("ts", "1500us", &s, &what).unwrap_err().to_string();
        assert!(e.contains("whole number"), "{e}");
        let e = span_key("d", "36h", &s, &what).unwrap_err().to_string();
        assert!(e.contains("whole number"), "{e}");
    }
}
