//! Set operations.

use crate::{error, run, strings};

#[test]
fn unions() {
    let t = run("SELECT k FROM t UNION ALL SELECT k FROM u ORDER BY 1 DESC LIMIT 3");
    assert_eq!(strings(&t, "k"), ["d", "c", "b"]);
    let t = run("SELECT k, x FROM t UNION SELECT k, x FROM t ORDER BY x");
    assert_eq!(strings(&t, "x"), ["1", "2", "3", "4", "5"]);
    let t = run(
        "SELECT x AS n FROM t UNION ALL SELECT x FROM u UNION ALL SELECT x FROM u WHERE x = 10",
    );
    assert_eq!(t.num_rows(), 9);
    assert_eq!(t.column_names(), vec!["n"]);
    let e = error("SELECT k, x FROM t UNION ALL SELECT k FROM u");
    assert!(e.contains("same number of columns"), "{e}");
    let e = error("SELECT k FROM t UNION ALL SELECT x FROM u");
    assert!(e.contains("cast one of them"), "{e}");
    // Integers and floats widen to one type.
    let t = run("SELECT x FROM t UNION ALL SELECT y FROM t ORDER BY 1 LIMIT 2");
    assert_eq!(strings(&t, "x"), ["1.0", "1.5"]);
}

#[test]
fn intersect_and_except_with_and_without_all() {
    // t.k: a b a c b; u.k: a b d.
    let q = |op: &str| {
        let t = run(&format!("SELECT k FROM t {op} SELECT k FROM u ORDER BY k"));
        strings(&t, "k")
    };
    assert_eq!(q("INTERSECT"), ["a", "b"]);
    assert_eq!(q("EXCEPT"), ["c"]);
    assert_eq!(q("INTERSECT ALL"), ["a", "b"]);
    assert_eq!(q("EXCEPT ALL"), ["a", "b", "c"]);
    let t = run("SELECT k FROM t EXCEPT ALL SELECT k FROM t WHERE x > 2 ORDER BY k");
    assert_eq!(strings(&t, "k"), ["a", "b"]);
    let t = run(
        "SELECT k FROM t INTERSECT ALL SELECT * FROM (VALUES ('a'), ('a'), ('a'), ('c')) v(k) \
         ORDER BY k",
    );
    assert_eq!(strings(&t, "k"), ["a", "a", "c"]);
    // NULLs are equal in set operations.
    let t = run("SELECT CAST(NULL AS INT) AS n INTERSECT SELECT CAST(NULL AS INT)");
    assert_eq!(t.num_rows(), 1);
}
