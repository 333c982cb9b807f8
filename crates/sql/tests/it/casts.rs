//! `CAST` (strict) and `TRY_CAST` / `SAFE_CAST` (null on failure).

use crate::{error, run, strings};

#[test]
fn try_cast_gives_null_where_cast_fails() {
    let t = run(
        "SELECT TRY_CAST(column1 AS BIGINT) AS i, TRY_CAST(column1 AS DOUBLE) AS f \
         FROM (VALUES ('12'), ('x'), (NULL), ('3.5')) AS v",
    );
    assert_eq!(strings(&t, "i"), ["12", "null", "null", "null"]);
    assert_eq!(strings(&t, "f"), ["12.0", "null", "null", "3.5"]);
    // Out of range for the type: null too.
    let t = run("SELECT TRY_CAST(x * 100 AS TINYINT) AS s FROM t ORDER BY x");
    assert_eq!(strings(&t, "s"), ["100", "null", "null", "null", "null"]);
    // SAFE_CAST is the same; plain CAST is an error.
    let t = run("SELECT SAFE_CAST('nope' AS INT) AS n");
    assert_eq!(strings(&t, "n"), ["null"]);
    let e = error("SELECT CAST(k AS BIGINT) FROM t");
    assert!(e.to_lowercase().contains("cast"), "{e}");
    // In a filter.
    let t = run("SELECT k FROM t WHERE TRY_CAST(k AS INT) IS NULL ORDER BY x");
    assert_eq!(t.num_rows(), 5);
}
