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
    let e = error("SELECT k FROM t EXCEPT SELECT k FROM u");
    assert!(e.contains("EXCEPT"), "{e}");
}
