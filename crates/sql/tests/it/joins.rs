//! Joins.

use crate::{error, run, strings};

#[test]
fn joins() {
    let t = run("SELECT t.x, u.name FROM t JOIN u ON t.k = u.k ORDER BY t.x");
    assert_eq!(t.column_names(), vec!["x", "name"]);
    assert_eq!(strings(&t, "x"), ["1", "2", "3", "5"]);
    assert_eq!(strings(&t, "name"), ["ann", "bob", "ann", "bob"]);
    // LEFT JOIN ... ON keeps the right key: null where nothing matched.
    let t =
        run("SELECT a.x, b.k AS bk, b.x AS bx FROM t a LEFT JOIN u b ON a.k = b.k ORDER BY a.x");
    assert_eq!(strings(&t, "bk"), ["a", "b", "a", "null", "b"]);
    assert_eq!(strings(&t, "bx"), ["10", "20", "10", "null", "20"]);
    // USING merges the key: unqualified k is fine.
    let t = run("SELECT k, count(*) AS n FROM t FULL JOIN u USING (k) GROUP BY k ORDER BY k");
    assert_eq!(strings(&t, "k"), ["a", "b", "c", "d"]);
    assert_eq!(strings(&t, "n"), ["2", "2", "1", "1"]);
    let t = run("SELECT u.* FROM t RIGHT JOIN u ON t.k = u.k AND t.x = u.x");
    assert_eq!(t.column_names(), vec!["k_right", "name", "x_right"]);
    assert_eq!(t.num_rows(), 3);
    let t = run("SELECT * FROM t SEMI JOIN u ON t.k = u.k");
    assert_eq!(t.num_rows(), 4);
    let t = run("SELECT * FROM t ANTI JOIN u ON u.k = t.k");
    assert_eq!(strings(&t, "k"), ["c"]);
    let t = run("SELECT count(*) AS n FROM t, u");
    assert_eq!(strings(&t, "n"), ["15"]);
    let t = run("SELECT count(*) AS n FROM t CROSS JOIN u WHERE t.x > u.x / 10");
    assert_eq!(strings(&t, "n"), ["9"]);
}

#[test]
fn join_errors() {
    let e = error("SELECT x FROM t JOIN u ON t.k = u.k");
    assert!(
        e.contains("'x' is ambiguous") && e.contains("t.x or u.x"),
        "{e}"
    );
    let e = error("SELECT 1 FROM t JOIN u ON t.k = u.x");
    assert!(e.contains("key types differ"), "{e}");
    let e = error("SELECT 1 FROM t JOIN u");
    assert!(e.contains("needs ON or USING"), "{e}");
    let e = error("SELECT t.nope FROM t JOIN u USING (k)");
    assert!(e.contains("'nope' not found in table 't'"), "{e}");
}

#[test]
fn outer_join_conditions_decide_matches() {
    // A condition on the preserved side of a LEFT JOIN decides which left
    // rows match; the others stay, with nulls.
    let t = run("SELECT t.x, u.x AS ux FROM t LEFT JOIN u ON t.k = u.k AND t.x = 1 ORDER BY t.x");
    assert_eq!(strings(&t, "x"), ["1", "2", "3", "4", "5"]);
    assert_eq!(strings(&t, "ux"), ["10", "null", "null", "null", "null"]);
    // Over both tables, in a FULL JOIN: unmatched rows of both sides stay.
    let t = run(
        "SELECT t.x, u.x AS ux FROM t FULL JOIN u ON t.k = u.k AND t.x * 10 <= u.x \
         ORDER BY t.x NULLS LAST, ux",
    );
    assert_eq!(strings(&t, "x"), ["1", "2", "3", "4", "5", "null"]);
    assert_eq!(
        strings(&t, "ux"),
        ["10", "20", "null", "null", "null", "30"]
    );
    // A RIGHT JOIN with a condition on its right (preserved) table.
    let t = run(
        "SELECT t.x, u.x AS ux FROM t RIGHT JOIN u ON t.k = u.k AND u.x > 15 \
         ORDER BY ux, t.x",
    );
    assert_eq!(strings(&t, "x"), ["null", "2", "5", "null"]);
    assert_eq!(strings(&t, "ux"), ["10", "20", "20", "30"]);
    // SEMI and ANTI joins with a condition over both tables.
    let t = run("SELECT x FROM t SEMI JOIN u ON t.k = u.k AND u.x > t.x * 5 ORDER BY x");
    assert_eq!(strings(&t, "x"), ["1", "2"]);
    let t = run("SELECT x FROM t ANTI JOIN u ON t.k = u.k AND u.x > t.x * 5 ORDER BY x");
    assert_eq!(strings(&t, "x"), ["3", "4", "5"]);
}

#[test]
fn natural_joins() {
    // t and u share k and x: no row has both equal.
    let t = run("SELECT count(*) AS n FROM t NATURAL JOIN u");
    assert_eq!(strings(&t, "n"), ["0"]);
    let t = run("SELECT k, name FROM t NATURAL JOIN (SELECT k, name FROM u) v ORDER BY name, k");
    assert_eq!(strings(&t, "name"), ["ann", "ann", "bob", "bob"]);
    // Nothing in common: a cross join.
    let t = run("SELECT count(*) AS n FROM t NATURAL JOIN (SELECT name FROM u) v");
    assert_eq!(strings(&t, "n"), ["15"]);
}

#[test]
fn join_on_any_predicate() {
    // Equalities are keys, the rest filters where the join allows.
    let t = run("SELECT count(*) AS n FROM t JOIN u ON t.x < u.x / 10");
    assert_eq!(strings(&t, "n"), ["3"]);
    let t = run("SELECT t.x FROM t JOIN u ON t.k = u.k AND t.x > 1 AND u.name <> 'ann' ORDER BY 1");
    assert_eq!(strings(&t, "x"), ["2", "5"]);
    // LEFT JOIN: a condition on the right table filters the right input,
    // so unmatched left rows stay (TPC-H Q13's form).
    let t = run(
        "SELECT t.x, u.name FROM t LEFT JOIN u ON t.k = u.k AND u.name NOT LIKE '%o%' \
         ORDER BY t.x",
    );
    assert_eq!(strings(&t, "name"), ["ann", "null", "ann", "null", "null"]);
    let t = run("SELECT u.name, t.x FROM t RIGHT JOIN u ON t.k = u.k AND t.x > 2 ORDER BY u.name");
    assert_eq!(strings(&t, "x"), ["3", "5", "null"]);
    let t = run("SELECT x FROM t SEMI JOIN u ON t.k = u.k AND t.x > 2 AND u.x < 25 ORDER BY x");
    assert_eq!(strings(&t, "x"), ["3", "5"]);
    let t = run("SELECT x FROM t ANTI JOIN u ON t.k = u.k AND u.x > 15 ORDER BY x");
    assert_eq!(strings(&t, "x"), ["1", "3", "4"]);
}
