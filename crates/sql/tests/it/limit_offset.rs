//! `LIMIT`, `OFFSET`, `LIMIT m, n`: sorted (a top-k of limit + offset
//! rows, then skipped) and unsorted.

use crate::{error, run, strings};

#[test]
fn offset_skips_rows_after_ordering() {
    let t = run("SELECT x FROM t ORDER BY x LIMIT 2 OFFSET 1");
    assert_eq!(strings(&t, "x"), ["2", "3"]);
    let t = run("SELECT x FROM t ORDER BY x DESC OFFSET 3");
    assert_eq!(strings(&t, "x"), ["2", "1"]);
    // MySQL's LIMIT offset, count.
    let t = run("SELECT x FROM t ORDER BY x LIMIT 3, 5");
    assert_eq!(strings(&t, "x"), ["4", "5"]);
    // Past the end: no rows.
    let t = run("SELECT x FROM t ORDER BY x LIMIT 2 OFFSET 10");
    assert_eq!(t.num_rows(), 0);
    // Over a set operation and an aggregation.
    let t = run("SELECT k FROM t UNION SELECT k FROM u ORDER BY k LIMIT 2 OFFSET 1");
    assert_eq!(strings(&t, "k"), ["b", "c"]);
    let t = run("SELECT k, sum(x) AS s FROM t GROUP BY k ORDER BY s DESC, k OFFSET 1");
    assert_eq!(strings(&t, "k"), ["a", "c"]);
}

#[test]
fn offset_without_order_counts_rows() {
    let t = run("SELECT x FROM t LIMIT 2 OFFSET 2");
    assert_eq!(t.num_rows(), 2);
    let t = run("SELECT x FROM t OFFSET 4");
    assert_eq!(t.num_rows(), 1);
    let e = error("SELECT x FROM t LIMIT 1 OFFSET -1");
    assert!(e.contains("row count") && e.contains("line 1"), "{e}");
}
