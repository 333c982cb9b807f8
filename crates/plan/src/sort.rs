//! Sort keys ([`SortKey`]) and their plan-time checks.

use std::fmt;

use arrow_row::{RowConverter, SortField};
use arrow_schema::{Schema, SortOptions};
use parframe_common::{Error, Result, column_not_found};

/// One sort key: a column, its direction and where its nulls go.
///
/// ```
/// use parframe_plan::SortKey;
///
/// let k = SortKey::desc("price").nulls_last(false);
/// assert!(k.descending && !k.nulls_last);
/// assert_eq!(k.to_string(), "price DESC NULLS FIRST");
/// assert_eq!(SortKey::asc("id").to_string(), "id ASC NULLS LAST");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// The column to sort by.
    pub column: String,
    /// Largest first when true.
    pub descending: bool,
    /// Nulls after every value when true, before every value when false
    /// (whatever the direction).
    pub nulls_last: bool,
}

impl SortKey {
    /// Ascending, nulls last.
    pub fn asc(column: impl Into<String>) -> Self {
        SortKey {
            column: column.into(),
            descending: false,
            nulls_last: true,
        }
    }

    /// Descending, nulls last.
    pub fn desc(column: impl Into<String>) -> Self {
        SortKey {
            column: column.into(),
            descending: true,
            nulls_last: true,
        }
    }

    /// Puts nulls last (`true`) or first (`false`).
    pub fn nulls_last(mut self, yes: bool) -> Self {
        self.nulls_last = yes;
        self
    }

    /// The arrow sort options of the key.
    pub fn sort_options(&self) -> SortOptions {
        SortOptions {
            descending: self.descending,
            nulls_first: !self.nulls_last,
        }
    }
}

/// A column name sorts ascending, nulls last: `sort(["a", "b"])`.
impl From<&str> for SortKey {
    fn from(column: &str) -> Self {
        SortKey::asc(column)
    }
}

/// A column name sorts ascending, nulls last.
impl From<String> for SortKey {
    fn from(column: String) -> Self {
        SortKey::asc(column)
    }
}

/// A column name sorts ascending, nulls last.
impl From<&String> for SortKey {
    fn from(column: &String) -> Self {
        SortKey::asc(column.as_str())
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} NULLS {}",
            self.column,
            if self.descending { "DESC" } else { "ASC" },
            if self.nulls_last { "LAST" } else { "FIRST" }
        )
    }
}

/// Checks sort keys against the input schema when the plan is built:
/// unknown columns and key types `arrow-row` cannot encode are errors.
pub fn check_keys(schema: &Schema, keys: &[SortKey]) -> Result<()> {
    if keys.is_empty() {
        return Err(Error::InvalidArgument(
            "sort needs at least one key column".into(),
        ));
    }
    for k in keys {
        let f = schema.field_with_name(&k.column).map_err(|_| {
            column_not_found(&k.column, schema.fields().iter().map(|f| f.name().as_str()))
        })?;
        let field = SortField::new_with_options(f.data_type().clone(), k.sort_options());
        if !RowConverter::supports_fields(&[field]) {
            return Err(Error::type_mismatch(
                format!("sort by {k}"),
                format!(
                    "column '{}' is {}, which cannot be sorted",
                    k.column,
                    f.data_type()
                ),
            ));
        }
    }
    Ok(())
}

/// Joins keys for `explain`.
pub fn describe_keys(keys: &[SortKey]) -> String {
    keys.iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
