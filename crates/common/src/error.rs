//! The error type of every parframe crate.

use std::fmt;
use std::path::PathBuf;

use arrow_schema::ArrowError;

/// Result alias used across parframe.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in parframe, phrased for the user: each
/// variant says what was wrong, and names the column, file or row involved.
///
/// `Debug` prints the same message as `Display`, so a
/// `fn main() -> parframe::Result<()>` that fails shows
/// `Error: column 'x' not found; available columns: [a, b]` rather than
/// the variant's fields. Match on the variants to tell errors apart.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A column name that is not in the schema; lists what is.
    #[error("column '{name}' not found; available columns: [{available}]")]
    ColumnNotFound {
        /// The name that was asked for.
        name: String,
        /// The columns that exist, comma separated.
        available: String,
    },
    /// An expression or operator was applied to columns of the wrong type.
    /// Raised while a plan is built, before any data is read.
    #[error("type error in {context}: {message}")]
    TypeMismatch {
        /// The expression or operator, as the user wrote it.
        context: String,
        /// What types were found and what was expected.
        message: String,
    },
    /// Two schemas that must agree do not (concatenation, `map_batches` output...).
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),
    /// An argument outside its allowed range or form.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An operating-system I/O failure on a named file (an empty path when
    /// the error came through `?` from a `std::io::Error`, with no file).
    #[error("I/O error{}: {source}", io_path(path))]
    Io {
        /// The file or directory involved (empty when unknown).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file whose content could not be decoded (malformed CSV, corrupt Parquet...).
    #[error("cannot read '{path}'{}: {message}", location.as_deref().map(|l| format!(" at {l}")).unwrap_or_default())]
    Format {
        /// The file involved.
        path: PathBuf,
        /// Where in the file, e.g. "line 17, column 'price'", when known.
        location: Option<String>,
        /// What was wrong.
        message: String,
    },
    /// A user closure (apply, map_batches) panicked or returned an error.
    #[error("user code failed while computing '{column}' at row {row}: {message}")]
    UserCode {
        /// The output column (or operator) the closure computes.
        column: String,
        /// The row index inside the input table (counted from 0).
        row: u64,
        /// The panic message or returned error.
        message: String,
    },
    /// A null value in a column the closure takes as non-`Option`.
    #[error(
        "column '{column}' has a null at row {row}, but the closure takes a non-Option value; \
         take Option<_> for that column, or ask apply to skip rows with nulls"
    )]
    UnexpectedNull {
        /// The input column holding the null.
        column: String,
        /// The row index inside the input table (counted from 0).
        row: u64,
    },
    /// The memory budget cannot hold what an operator needs, even after spilling.
    #[error("resources exhausted: {0}")]
    ResourcesExhausted(String),
    /// A spill file is missing, truncated or corrupt.
    #[error("spill file '{path}' is unusable: {message}")]
    Spill {
        /// The spill file.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// The job was cancelled by the user.
    #[error("the job was cancelled")]
    Cancelled,
    /// A feature that parframe does not offer (yet); names the construct.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// A SQL statement that cannot be planned: a syntax error, an unknown
    /// table, column or function, a construct not supported; with the line
    /// and column (1-based) of the construct in the query when known.
    #[error("{message}{}", sql_position(*line, *column))]
    Sql {
        /// What is wrong, naming the construct.
        message: String,
        /// The line of the construct in the query (1-based), when known.
        line: Option<u64>,
        /// The column of the construct in its line (1-based), when known.
        column: Option<u64>,
    },
    /// An error raised by an Arrow kernel that none of the variants above describes.
    #[error("arrow error: {0}")]
    Arrow(#[from] ArrowError),
    /// An error from a library outside arrow (Parquet, polars...), with context.
    #[error("{context}: {message}")]
    External {
        /// What parframe was doing.
        context: String,
        /// The library's message.
        message: String,
    },
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// ` on 'path'`, or nothing for an unknown (empty) path.
fn io_path(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        String::new()
    } else {
        format!(" on '{}'", path.display())
    }
}

/// `?` on a `std::io::Error` in a function returning [`Result`]: an
/// [`Error::Io`] without a path (prefer [`Error::io`], which names the file).
impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::Io {
            path: PathBuf::new(),
            source,
        }
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A type error raised while building a plan.
    pub fn type_mismatch(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::TypeMismatch {
            context: context.into(),
            message: message.into(),
        }
    }

    /// A SQL error at a position of the query (`None`: unknown).
    pub fn sql(message: impl Into<String>, position: Option<(u64, u64)>) -> Self {
        Error::Sql {
            message: message.into(),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
        }
    }

    /// A file that could not be decoded.
    pub fn format(
        path: impl Into<PathBuf>,
        location: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Format {
            path: path.into(),
            location,
            message: message.into(),
        }
    }
}

fn sql_position(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" (at line {l}, column {c})"),
        (Some(l), None) => format!(" (at line {l})"),
        _ => String::new(),
    }
}

/// Builds [`Error::ColumnNotFound`] listing the columns of `available`.
pub fn column_not_found<'a>(name: &str, available: impl IntoIterator<Item = &'a str>) -> Error {
    Error::ColumnNotFound {
        name: name.to_string(),
        available: available.into_iter().collect::<Vec<_>>().join(", "),
    }
}

/// Returns early with [`Error::InvalidArgument`] built from a format string.
#[macro_export]
macro_rules! invalid_arg {
    ($($arg:tt)*) => {
        return Err($crate::Error::InvalidArgument(format!($($arg)*)))
    };
}

/// Returns early with [`Error::NotSupported`] built from a format string.
#[macro_export]
macro_rules! not_supported {
    ($($arg:tt)*) => {
        return Err($crate::Error::NotSupported(format!($($arg)*)))
    };
}

/// Returns early with [`Error::TypeMismatch`]: `type_err!(context, "fmt", args..)`.
#[macro_export]
macro_rules! type_err {
    ($ctx:expr, $($arg:tt)*) => {
        return Err($crate::Error::type_mismatch($ctx.to_string(), format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_not_found_lists_available() {
        let e = column_not_found("x", ["a", "b"]);
        assert_eq!(
            e.to_string(),
            "column 'x' not found; available columns: [a, b]"
        );
    }

    #[test]
    fn format_error_names_location() {
        let e = Error::format("a.csv", Some("line 3".into()), "bad int");
        assert_eq!(e.to_string(), "cannot read 'a.csv' at line 3: bad int");
        let e = Error::format("a.csv", None, "bad int");
        assert_eq!(e.to_string(), "cannot read 'a.csv': bad int");
    }

    #[test]
    fn sql_error_shows_its_position() {
        let e = Error::sql("column 'x' not found", Some((2, 7)));
        assert_eq!(e.to_string(), "column 'x' not found (at line 2, column 7)");
        assert_eq!(Error::sql("empty", None).to_string(), "empty");
    }

    fn bails() -> Result<()> {
        invalid_arg!("n must be > {}", 0)
    }

    #[test]
    fn macros_bail() {
        assert_eq!(
            bails().unwrap_err().to_string(),
            "invalid argument: n must be > 0"
        );
    }

    #[test]
    fn debug_reads_like_display_and_io_errors_convert() {
        let e = column_not_found("x", ["a"]);
        assert_eq!(format!("{e:?}"), e.to_string());
        fn read() -> Result<Vec<u8>> {
            Ok(std::fs::read("/nonexistent/parframe/file")?)
        }
        let e = read().unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
        assert!(e.to_string().starts_with("I/O error: "), "{e}");
        let named = Error::io("a.csv", std::io::Error::other("boom"));
        assert_eq!(named.to_string(), "I/O error on 'a.csv': boom");
    }
}
