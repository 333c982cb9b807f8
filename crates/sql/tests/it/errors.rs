//! Errors name the construct and its position.

use parframe::Error;
use parframe::sql::SqlContext as _;

use crate::{ctx, error};

#[test]
fn errors_name_the_construct_and_position() {
    let e = error("SELECT nope FROM t");
    assert!(
        e.contains("column 'nope' not found") && e.contains("line 1, column 8"),
        "{e}"
    );
    let e = error("SELECT k, x FROM t GROUP BY k");
    assert!(e.contains("'x' must appear in GROUP BY"), "{e}");
    let e = error("SELECT FROM WHERE");
    assert!(e.contains("SQL syntax error"), "{e}");
    let e = error("SELECT * FROM unknown_table");
    assert!(
        e.contains("unknown table 'unknown_table'") && e.contains("t, u"),
        "{e}"
    );
    let e = error("SELECT x FROM t WHERE sum(x) > 1");
    assert!(e.contains("WHERE"), "{e}");
    let e = error("SELECT soundex(k) FROM t");
    assert!(
        e.contains("'soundex'") && e.contains("aggregates: count"),
        "{e}"
    );
    let e = error("SELECT k FROM t WHERE k LIKE ANY ('a_c')");
    assert!(e.contains("LIKE ANY"), "{e}");
}

#[test]
fn errors_are_the_sql_variant_with_line_and_column() {
    match ctx().sql("SELECT x,\n  nope FROM t") {
        Err(Error::Sql {
            message,
            line,
            column,
        }) => {
            assert!(message.contains("'nope' not found"), "{message}");
            assert_eq!((line, column), (Some(2), Some(3)));
        }
        other => panic!("expected Error::Sql, got {other:?}"),
    }
    match ctx().sql("SELECT * FROM t WHERE x > )") {
        Err(Error::Sql { message, line, .. }) => {
            assert!(message.starts_with("SQL syntax error"), "{message}");
            assert_eq!(line, Some(1), "{message}");
        }
        other => panic!("expected Error::Sql, got {other:?}"),
    }
    match ctx().sql("") {
        Err(Error::Sql { message, .. }) => assert!(message.contains("empty"), "{message}"),
        other => panic!("expected Error::Sql, got {other:?}"),
    }
}
