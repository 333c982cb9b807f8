//! Hash joins: inner, left, right, full, semi, anti and cross, in parallel
//! on the context's pool, spilling to memory-mapped Arrow files when the
//! build side does not fit the memory budget.
//!
//! # How a join runs
//! 1. **Build.** One input (the *build side*: the right one for left, full,
//!    semi and anti joins, the left one for right joins, the smaller one for
//!    inner joins when sizes are known, else the right one) is read whole
//!    under a reservation and hashed in parallel into a table split into
//!    partitions by key hash (single integer-like keys are hashed as `i64`;
//!    other keys as `arrow-row` rows). Unique integer keys spanning a range
//!    of at most a few slots a row get a direct-address table instead (one
//!    memory access a lookup). On a large build side, string and binary
//!    columns headed for the output are held as views, which gather at one
//!    memory access a row; output columns keep their input types.
//! 2. **Probe.** The other input streams through chunk by chunk, a window of
//!    chunks at a time on every thread; each chunk's matches become output
//!    chunks at once, gathered with arrow's `take`.
//! 3. **Spill (grace hash join).** When the build side does not fit its
//!    reservation, both inputs are hash-partitioned into spill files (Arrow
//!    IPC, read back zero-copy through memory maps) and joined partition by
//!    partition; a partition still too large is split again with another
//!    hash seed. A partition that cannot be split (one key holding more rows
//!    than fit: skew) is joined block by block: as many of its build rows as
//!    fit at a time, the probe partition streamed past each block, with a
//!    bitmap of matched probe rows carried across blocks.
//!
//! # Semantics
//! - Null keys never match (SQL semantics). Rows with a null key are kept
//!   by outer joins (with nulls on the other side) and by anti joins.
//! - Key columns must have equal types on both sides; cast one side first.
//! - Key columns are coalesced: the output holds each key once, named as on
//!   the left, with the value of whichever side the row came from (unless
//!   [`JoinOptions::coalesce_keys`] says otherwise). Right columns whose
//!   names clash with left ones get a suffix (`_right` by default).
//! - Semi and anti joins return the left columns only.
//! - Output order is unspecified.
//!
//! ```
//! use parframe_core::table;
//! use parframe_exec::{Context, JoinType};
//!
//! let ctx = Context::builder().threads(2).build()?;
//! let orders = ctx.lazy(table!("customer" => [1i64, 2, 2, 3], "amount" => [10.0, 20.0, 5.0, 7.5])?);
//! let customers = ctx.lazy(table!("id" => [1i64, 2], "name" => ["ann", "bob"])?);
//! let joined = orders
//!     .join(&customers, ["customer"], ["id"], JoinType::Inner)?
//!     .sort([parframe_exec::SortKey::asc("amount")])?
//!     .collect()?;
//! assert_eq!(joined.column_names(), vec!["customer", "amount", "name"]);
//! assert_eq!(joined.num_rows(), 3);
//! # Ok::<(), parframe_common::Error>(())
//! ```

mod exec;
mod output;
mod table;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parframe_common::{Error, Result, column_not_found};

use crate::plan::{IntoColumnNames, LazyFrame, Plan};

pub(crate) use exec::run_join;

/// Which rows a join keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinType {
    /// Pairs of rows whose keys are equal.
    Inner,
    /// Every left row, with the matching right rows or nulls.
    Left,
    /// Every right row, with the matching left rows or nulls.
    Right,
    /// Every row of both sides, matched where keys are equal.
    Full,
    /// Left rows that have at least one match (left columns only).
    Semi,
    /// Left rows that have no match (left columns only).
    Anti,
    /// Every pair of rows (no keys).
    Cross,
}

impl JoinType {
    fn name(self) -> &'static str {
        match self {
            JoinType::Inner => "inner",
            JoinType::Left => "left",
            JoinType::Right => "right",
            JoinType::Full => "full",
            JoinType::Semi => "semi",
            JoinType::Anti => "anti",
            JoinType::Cross => "cross",
        }
    }
}

impl fmt::Display for JoinType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A check of key multiplicity, made while the join runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JoinValidation {
    /// No check (the default).
    #[default]
    ManyToMany,
    /// Keys are unique on both sides.
    OneToOne,
    /// Keys are unique on the left side.
    OneToMany,
    /// Keys are unique on the right side.
    ManyToOne,
}

impl JoinValidation {
    fn left_unique(self) -> bool {
        matches!(self, JoinValidation::OneToOne | JoinValidation::OneToMany)
    }
    fn right_unique(self) -> bool {
        matches!(self, JoinValidation::OneToOne | JoinValidation::ManyToOne)
    }
}

/// Which input is hashed (held in memory); the other one is streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BuildSide {
    /// The right side, except the left side for right joins and the
    /// smaller side of an inner join when both sizes are known up front.
    #[default]
    Auto,
    /// The left side (inner and right joins only).
    Left,
    /// The right side (all joins but right joins).
    Right,
}

/// Settings of a join beyond its keys and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinOptions {
    suffix: String,
    validate: JoinValidation,
    build_side: BuildSide,
    coalesce: bool,
}

impl Default for JoinOptions {
    fn default() -> Self {
        JoinOptions {
            suffix: "_right".to_string(),
            validate: JoinValidation::ManyToMany,
            build_side: BuildSide::Auto,
            coalesce: true,
        }
    }
}

impl JoinOptions {
    /// The defaults: suffix `_right`, no validation, automatic build side.
    pub fn new() -> Self {
        Self::default()
    }
    /// The suffix added to right column names that clash with left ones.
    pub fn suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = suffix.into();
        self
    }
    /// Checks key multiplicity while joining; a violation is an error.
    pub fn validate(mut self, v: JoinValidation) -> Self {
        self.validate = v;
        self
    }
    /// Chooses which side is held in memory.
    pub fn build_side(mut self, side: BuildSide) -> Self {
        self.build_side = side;
        self
    }
    /// Whether key columns are merged into one column per key pair (the
    /// default), or kept from both sides like any other column (SQL's
    /// `JOIN ... ON`, where a left join's right key is null when nothing
    /// matched).
    pub fn coalesce_keys(mut self, yes: bool) -> Self {
        self.coalesce = yes;
        self
    }
}

/// Where an output column comes from: an index into the left or right
/// input's schema, or a key pair (coalesced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutCol {
    Left(usize),
    Right(usize),
    Key(usize, usize),
}

/// A join node of a plan.
pub(crate) struct JoinSpec {
    pub(crate) left: Arc<Plan>,
    pub(crate) right: Arc<Plan>,
    pub(crate) left_on: Vec<String>,
    pub(crate) right_on: Vec<String>,
    pub(crate) how: JoinType,
    pub(crate) options: JoinOptions,
    pub(crate) layout: Vec<OutCol>,
    pub(crate) schema: SchemaRef,
}

impl JoinSpec {
    pub(crate) fn describe(&self) -> String {
        let mut s = format!("Join {}", self.how);
        if self.how != JoinType::Cross {
            let on: Vec<String> = self
                .left_on
                .iter()
                .zip(&self.right_on)
                .map(|(l, r)| format!("{l} = {r}"))
                .collect();
            s.push_str(&format!(" on [{}]", on.join(", ")));
        }
        if self.options.validate != JoinValidation::ManyToMany {
            s.push_str(&format!(" validate={:?}", self.options.validate));
        }
        s
    }

    /// The columns each input must produce for the output columns `needed`
    /// (`None`: all): the keys plus what the output takes from that side,
    /// in input order.
    pub(crate) fn needed_inputs(
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
        // Keep one column so chunks keep their row counts (cross joins).
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
}

/// Whether a key column type can be joined on.
fn joinable(dt: &DataType) -> bool {
    use DataType::*;
    matches!(
        dt,
        Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Date32
            | Date64
            | Time32(_)
            | Time64(_)
            | Timestamp(_, _)
            | Duration(_)
            | Decimal128(_, _)
            | Utf8
            | LargeUtf8
            | Utf8View
            | Binary
            | LargeBinary
            | BinaryView
            | FixedSizeBinary(_)
    )
}

fn key_indices(schema: &Schema, keys: &[String]) -> Result<Vec<usize>> {
    keys.iter()
        .map(|k| {
            schema
                .index_of(k)
                .map_err(|_| column_not_found(k, schema.fields().iter().map(|f| f.name().as_str())))
        })
        .collect()
}

/// Checks the keys and works out the output columns and schema.
fn plan_join(
    left: &Schema,
    right: &Schema,
    left_on: &[String],
    right_on: &[String],
    how: JoinType,
    options: &JoinOptions,
) -> Result<(Vec<OutCol>, SchemaRef)> {
    if how == JoinType::Cross {
        if !left_on.is_empty() || !right_on.is_empty() {
            return Err(Error::InvalidArgument(
                "a cross join takes no keys (use an inner join to join on keys)".into(),
            ));
        }
    } else {
        if left_on.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "a {how} join needs at least one key column (or use a cross join)"
            )));
        }
        if left_on.len() != right_on.len() {
            return Err(Error::InvalidArgument(format!(
                "a join needs as many left keys as right keys: [{}] vs [{}]",
                left_on.join(", "),
                right_on.join(", ")
            )));
        }
    }
    let lk = key_indices(left, left_on)?;
    let rk = key_indices(right, right_on)?;
    for ((&a, &b), (ln, rn)) in lk.iter().zip(&rk).zip(left_on.iter().zip(right_on)) {
        let (ta, tb) = (left.field(a).data_type(), right.field(b).data_type());
        if !joinable(ta) {
            return Err(Error::type_mismatch(
                format!("join key '{ln}'"),
                format!("cannot join on a column of type {ta}"),
            ));
        }
        if ta != tb {
            return Err(Error::type_mismatch(
                format!("join on {ln} = {rn}"),
                format!(
                    "the key types differ ({ta} on the left, {tb} on the right); \
                     cast one side first, e.g. with_column(col(\"{rn}\").cast(DataType::{ta:?}))"
                ),
            ));
        }
    }
    if !matches!(options.build_side, BuildSide::Auto) {
        let ok = match options.build_side {
            BuildSide::Left => matches!(how, JoinType::Inner | JoinType::Right | JoinType::Cross),
            BuildSide::Right => how != JoinType::Right,
            BuildSide::Auto => true,
        };
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "a {how} join cannot build its hash table from the {} side",
                if options.build_side == BuildSide::Left {
                    "left"
                } else {
                    "right"
                }
            )));
        }
    }
    let mut layout = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    for (i, f) in left.fields().iter().enumerate() {
        match lk.iter().position(|&k| k == i).filter(|_| options.coalesce) {
            Some(p) => {
                layout.push(OutCol::Key(i, rk[p]));
                // Right and full joins take keys from the right side too.
                let nullable = f.is_nullable() || right.field(rk[p]).is_nullable();
                fields.push(f.as_ref().clone().with_nullable(nullable));
            }
            None => {
                layout.push(OutCol::Left(i));
                let nullable = f.is_nullable() || matches!(how, JoinType::Right | JoinType::Full);
                fields.push(f.as_ref().clone().with_nullable(nullable));
            }
        }
    }
    if !matches!(how, JoinType::Semi | JoinType::Anti) {
        for (i, f) in right.fields().iter().enumerate() {
            if options.coalesce && rk.contains(&i) {
                continue;
            }
            let mut name = f.name().clone();
            while fields.iter().any(|g| g.name() == &name) {
                name.push_str(&options.suffix);
            }
            layout.push(OutCol::Right(i));
            let nullable = f.is_nullable() || matches!(how, JoinType::Left | JoinType::Full);
            fields.push(f.as_ref().clone().with_name(name).with_nullable(nullable));
        }
    }
    Ok((layout, Arc::new(Schema::new(fields))))
}

impl LazyFrame {
    /// Joins `other` on `left_on` (columns of this frame) equal to
    /// `right_on` (columns of `other`), keeping rows as `how` says. See the
    /// [module docs](crate::join) for the semantics (nulls never match,
    /// keys coalesced, `_right` suffix) and how it spills.
    ///
    /// Errors at once for unknown columns, different key types (cast one
    /// side first) or a key count mismatch.
    pub fn join(
        &self,
        other: &LazyFrame,
        left_on: impl IntoColumnNames,
        right_on: impl IntoColumnNames,
        how: JoinType,
    ) -> Result<LazyFrame> {
        self.join_with(other, left_on, right_on, how, JoinOptions::default())
    }

    /// [`join`](Self::join) with options: column suffix, validation of key
    /// multiplicity, build side.
    pub fn join_with(
        &self,
        other: &LazyFrame,
        left_on: impl IntoColumnNames,
        right_on: impl IntoColumnNames,
        how: JoinType,
        options: JoinOptions,
    ) -> Result<LazyFrame> {
        let left_on = left_on.into_column_names();
        let right_on = right_on.into_column_names();
        let (layout, schema) = plan_join(
            &self.plan.schema(),
            &other.plan.schema(),
            &left_on,
            &right_on,
            how,
            &options,
        )?;
        Ok(LazyFrame::new(
            self.ctx.clone(),
            Plan::Join(Arc::new(JoinSpec {
                left: Arc::clone(&self.plan),
                right: Arc::clone(&other.plan),
                left_on,
                right_on,
                how,
                options,
                layout,
                schema,
            })),
        ))
    }

    /// Every pair of rows of this frame and `other` (a cartesian product).
    pub fn cross_join(&self, other: &LazyFrame) -> Result<LazyFrame> {
        self.join(
            other,
            Vec::<String>::new(),
            Vec::<String>::new(),
            JoinType::Cross,
        )
    }
}
