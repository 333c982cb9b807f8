//! SELECT, WHERE, LIMIT, DISTINCT, subqueries in FROM, WITH.

use crate::{run, strings};

#[test]
fn select_where_limit() {
    let t = run("SELECT x, y * 2 AS y2 FROM t WHERE x > 1 AND k <> 'c' LIMIT 2");
    assert_eq!(t.column_names(), vec!["x", "y2"]);
    assert_eq!(t.num_rows(), 2);
    let t = run("SELECT * FROM t WHERE k IN ('a', 'c') AND x BETWEEN 1 AND 3");
    assert_eq!(t.num_rows(), 2);
    assert_eq!(t.num_columns(), 3);
    let t = run("SELECT t.x FROM t WHERE k LIKE 'a%' OR upper(k) = 'B'");
    assert_eq!(t.num_rows(), 4);
}

#[test]
fn distinct_subqueries_and_with() {
    let t = run("SELECT DISTINCT k FROM t");
    assert_eq!(t.num_rows(), 3);
    let t = run("SELECT n FROM (SELECT k, count(*) AS n FROM t GROUP BY k) AS s WHERE n > 1");
    assert_eq!(t.num_rows(), 2);
    let t = run("WITH g AS (SELECT k, sum(x) AS s FROM t GROUP BY k) SELECT * FROM g ORDER BY k");
    assert_eq!(strings(&t, "s"), ["4", "7", "4"]);
}

#[test]
fn select_without_from_and_values() {
    let t = run("SELECT 1 + 2 AS three, 'a' AS s");
    assert_eq!(strings(&t, "three"), ["3"]);
    assert_eq!(strings(&t, "s"), ["a"]);
    let t = run("VALUES (1, 'a'), (2, NULL), (3, 'c')");
    assert_eq!(t.column_names(), vec!["column1", "column2"]);
    assert_eq!(strings(&t, "column2"), ["a", "null", "c"]);
    let t = run("SELECT a + b AS s FROM (VALUES (1, 2.5), (2, 3)) AS v(a, b) ORDER BY s DESC");
    assert_eq!(strings(&t, "s"), ["5.0", "3.5"]);
    let t = run("SELECT t.k FROM t JOIN (VALUES (1), (5)) v(x) ON t.x = v.x ORDER BY t.k");
    assert_eq!(strings(&t, "k"), ["a", "b"]);
}

#[test]
fn division_is_true_division_and_slash_slash_is_integer_division() {
    let t = run("SELECT 7 / 2 AS d, 7 // 2 AS i, -7 // 2 AS n, 7.0 / 2 AS f");
    assert_eq!(strings(&t, "d"), ["3.5"]);
    assert_eq!(strings(&t, "i"), ["3"]);
    assert_eq!(strings(&t, "n"), ["-3"]);
    assert_eq!(strings(&t, "f"), ["3.5"]);
    let t = run("SELECT k, sum(x) / count(*) AS m FROM t GROUP BY k ORDER BY k");
    assert_eq!(strings(&t, "m"), ["2.0", "3.5", "4.0"]);
}

#[test]
fn long_in_lists_and_or_chains_do_not_overflow_the_stack() {
    let items: Vec<String> = (0..8000).map(|i| i.to_string()).collect();
    let q = format!(
        "SELECT count(*) AS n FROM t WHERE x IN ({})",
        items.join(", ")
    );
    assert_eq!(strings(&run(&q), "n"), ["5"]);
    let ors: Vec<String> = (0..5000).map(|i| format!("x = {i}")).collect();
    let q = format!("SELECT count(*) AS n FROM t WHERE {}", ors.join(" OR "));
    assert_eq!(strings(&run(&q), "n"), ["5"]);
}

#[test]
fn long_plus_chains_plan_and_run() {
    // (3,000 terms plan too, in 30 s of debug-build type checking in the
    // expression layer, which is quadratic in the depth.)
    let terms: Vec<String> = (0..1000).map(|_| "x".to_string()).collect();
    let q = format!("SELECT sum({}) AS s FROM t", terms.join(" + "));
    let lf = parframe::sql::sql(&crate::ctx(), &q);
    // Planning must not overflow; evaluation of a deep expression is the
    // expression layer's business.
    assert!(lf.is_ok(), "{:?}", lf.err());
}
