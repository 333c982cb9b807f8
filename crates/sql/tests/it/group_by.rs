//! GROUP BY, HAVING, aggregates.

use crate::{run, strings};

#[test]
fn group_by_forms() {
    let t = run(
        "SELECT k, sum(x) AS s, count(*) AS n, avg(y) + 1 AS m FROM t GROUP BY k HAVING sum(x) > 3",
    );
    assert_eq!(t.column_names(), vec!["k", "s", "n", "m"]);
    assert_eq!(t.num_rows(), 3);
    let t = run("SELECT k, max(x) - min(x) AS r FROM t GROUP BY 1");
    assert_eq!(t.num_rows(), 3);
    let t = run("SELECT x % 2 AS parity, count(DISTINCT k) FROM t GROUP BY parity");
    assert_eq!(t.num_rows(), 2);
    assert_eq!(t.column_names(), vec!["parity", "count(DISTINCT k)"]);
    let t = run("SELECT sum(x * 2) AS s2, median(y), quantile_cont(y, 0.5) FROM t");
    assert_eq!(t.num_rows(), 1);
}

#[test]
fn filter_clause_and_distinct_mixed_with_others() {
    let t = run(
        "SELECT k, count(*) FILTER (WHERE x > 1) AS n, sum(x) FILTER (WHERE y < 5) AS s, \
         count(DISTINCT x) AS d, count(*) AS all_rows FROM t GROUP BY k ORDER BY k",
    );
    assert_eq!(strings(&t, "n"), ["1", "2", "1"]);
    assert_eq!(strings(&t, "s"), ["4", "2", "4"]);
    assert_eq!(strings(&t, "d"), ["2", "2", "1"]);
    assert_eq!(strings(&t, "all_rows"), ["2", "2", "1"]);
}

#[test]
fn group_by_all_rollup_cube_and_grouping_sets() {
    let t = run("SELECT k, sum(x) AS s FROM t GROUP BY ALL ORDER BY k");
    assert_eq!(strings(&t, "s"), ["4", "7", "4"]);
    let t = run(
        "SELECT k, x % 2 AS odd, sum(x) AS s FROM t GROUP BY ROLLUP (k, x % 2) \
         ORDER BY k NULLS LAST, odd NULLS LAST",
    );
    // (k, odd) groups, then per k, then the total.
    assert_eq!(
        strings(&t, "k"),
        ["a", "a", "b", "b", "b", "c", "c", "null"]
    );
    assert_eq!(strings(&t, "s"), ["4", "4", "2", "5", "7", "4", "4", "15"]);
    let t = run("SELECT k, count(*) AS n FROM t GROUP BY CUBE (k) ORDER BY k NULLS FIRST");
    assert_eq!(strings(&t, "n"), ["5", "2", "2", "1"]);
    let t = run(
        "SELECT k, x, count(*) AS n FROM t GROUP BY GROUPING SETS ((k), (x), ()) \
         HAVING count(*) > 1 ORDER BY n, k",
    );
    assert_eq!(strings(&t, "n"), ["2", "2", "5"]);
    let t = run("SELECT k, sum(x) AS s FROM t GROUP BY k WITH ROLLUP ORDER BY s");
    assert_eq!(strings(&t, "s"), ["4", "4", "7", "15"]);
}
