//! Join types and options, and the output layout of a join (which input
//! column each output column comes from, and its name).

use std::fmt;
use std::sync::Arc;

use arrow_schema::{DataType, Schema, SchemaRef};
use parframe_common::{Error, Result, column_not_found};

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
    /// The lower-case name (`inner`, `left`, ...).
    pub fn name(self) -> &'static str {
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

    /// Whether the output holds the right input's columns.
    pub fn keeps_right_columns(self) -> bool {
        !matches!(self, JoinType::Semi | JoinType::Anti)
    }

    /// Whether every left row reaches the output (nulls for no match).
    pub fn preserves_left(self) -> bool {
        matches!(self, JoinType::Left | JoinType::Full | JoinType::Anti)
    }

    /// Whether every right row reaches the output (nulls for no match).
    pub fn preserves_right(self) -> bool {
        matches!(self, JoinType::Right | JoinType::Full)
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
    /// Whether the left keys must be unique.
    pub fn left_unique(self) -> bool {
        matches!(self, JoinValidation::OneToOne | JoinValidation::OneToMany)
    }
    /// Whether the right keys must be unique.
    pub fn right_unique(self) -> bool {
        matches!(self, JoinValidation::OneToOne | JoinValidation::ManyToOne)
    }
}

/// Which input is hashed (held in memory); the other one is streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BuildSide {
    /// Chosen by the optimizer (the `join_planning` rule): the smaller side
    /// of an inner or cross join when statistics tell, else the right side
    /// (the left side for right joins).
    #[default]
    Auto,
    /// The left side (inner, cross and right joins only).
    Left,
    /// The right side (all joins but right joins).
    Right,
}

/// Settings of a join beyond its keys and type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// The suffix for clashing right column names.
    pub fn suffix_str(&self) -> &str {
        &self.suffix
    }
    /// The multiplicity check.
    pub fn validation(&self) -> JoinValidation {
        self.validate
    }
    /// The build side asked for (or chosen by the optimizer).
    pub fn build(&self) -> BuildSide {
        self.build_side
    }
    /// Whether key pairs are coalesced into one column.
    pub fn coalesces_keys(&self) -> bool {
        self.coalesce
    }
}

/// Where an output column comes from: an index into the left or right
/// input's schema, or a key pair (coalesced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutCol {
    /// Column `i` of the left input.
    Left(usize),
    /// Column `i` of the right input.
    Right(usize),
    /// The coalesced key pair (left column, right column).
    Key(usize, usize),
}

/// Where an output column comes from, by input column names (which stay
/// valid when optimizer rules prune the inputs' other columns).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JoinColumn {
    /// A column of the left input.
    Left(String),
    /// A column of the right input.
    Right(String),
    /// A coalesced key pair: (left column, right column).
    Key(String, String),
}

/// Whether a key column type can be joined on.
pub fn joinable(dt: &DataType) -> bool {
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

/// Checks a join's keys, type and options against its inputs and works out
/// its output columns (named, in output order).
pub fn join_columns(
    left: &Schema,
    right: &Schema,
    left_on: &[String],
    right_on: &[String],
    how: JoinType,
    options: &JoinOptions,
) -> Result<Vec<(JoinColumn, String)>> {
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
    check_build_side(how, options.build_side)?;
    let mut out: Vec<(JoinColumn, String)> = Vec::new();
    for (i, f) in left.fields().iter().enumerate() {
        match lk.iter().position(|&k| k == i).filter(|_| options.coalesce) {
            Some(p) => out.push((
                JoinColumn::Key(f.name().clone(), right.field(rk[p]).name().clone()),
                f.name().clone(),
            )),
            None => out.push((JoinColumn::Left(f.name().clone()), f.name().clone())),
        }
    }
    if how.keeps_right_columns() {
        for (i, f) in right.fields().iter().enumerate() {
            if options.coalesce && rk.contains(&i) {
                continue;
            }
            let mut name = f.name().clone();
            while out.iter().any(|(_, g)| g == &name) {
                name.push_str(&options.suffix);
            }
            out.push((JoinColumn::Right(f.name().clone()), name));
        }
    }
    Ok(out)
}

/// Errors when a join of type `how` cannot build from `side`.
pub fn check_build_side(how: JoinType, side: BuildSide) -> Result<()> {
    let ok = match side {
        BuildSide::Left => matches!(
            how,
            JoinType::Inner | JoinType::Right | JoinType::Cross | JoinType::Semi | JoinType::Anti
        ),
        BuildSide::Right => how != JoinType::Right,
        BuildSide::Auto => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "a {how} join cannot build its hash table from the {} side",
            if side == BuildSide::Left {
                "left"
            } else {
                "right"
            }
        )))
    }
}

/// The output schema and index layout of named join columns over the
/// (current) input schemas. Nullability follows the join type.
pub fn join_layout(
    left: &Schema,
    right: &Schema,
    columns: &[(JoinColumn, String)],
    how: JoinType,
) -> Result<(Vec<OutCol>, SchemaRef)> {
    let find = |s: &Schema, n: &str| -> Result<usize> {
        s.index_of(n)
            .map_err(|_| column_not_found(n, s.fields().iter().map(|f| f.name().as_str())))
    };
    let mut layout = Vec::with_capacity(columns.len());
    let mut fields = Vec::with_capacity(columns.len());
    for (c, name) in columns {
        match c {
            JoinColumn::Left(n) => {
                let i = find(left, n)?;
                let f = left.field(i);
                let nullable = f.is_nullable() || how.preserves_right();
                layout.push(OutCol::Left(i));
                fields.push(f.clone().with_name(name).with_nullable(nullable));
            }
            JoinColumn::Right(n) => {
                let i = find(right, n)?;
                let f = right.field(i);
                let nullable = f.is_nullable() || how.preserves_left();
                layout.push(OutCol::Right(i));
                fields.push(f.clone().with_name(name).with_nullable(nullable));
            }
            JoinColumn::Key(a, b) => {
                let (i, j) = (find(left, a)?, find(right, b)?);
                let f = left.field(i);
                // Right and full joins take keys from the right side too.
                let nullable = f.is_nullable() || right.field(j).is_nullable();
                layout.push(OutCol::Key(i, j));
                fields.push(f.clone().with_name(name).with_nullable(nullable));
            }
        }
    }
    Ok((layout, Arc::new(Schema::new(fields))))
}
