//! CASE.

use parframe::arrow::array::cast::AsArray;
use parframe::arrow::array::types::Int64Type;

use crate::{error, run};

#[test]
fn case_when_forms() {
    let t = run(
        "SELECT CASE WHEN x < 2 THEN 'lo' WHEN x < 4 THEN 'mid' ELSE 'hi' END AS band, \
         CASE k WHEN 'a' THEN x * 10 WHEN 'b' THEN 0 END AS s FROM t",
    );
    assert_eq!(t.column_names(), vec!["band", "s"]);
    let c = t.chunks()[0].clone();
    let band: Vec<_> = c.column(0).as_string::<i32>().iter().collect();
    assert_eq!(
        band,
        vec![Some("lo"), Some("mid"), Some("mid"), Some("hi"), Some("hi")]
    );
    let s: Vec<_> = c.column(1).as_primitive::<Int64Type>().iter().collect();
    assert_eq!(s, vec![Some(10), Some(0), Some(30), None, Some(0)]);
    let t =
        run("SELECT k, sum(CASE WHEN x > 2 THEN 1 ELSE 0 END) AS n FROM t GROUP BY k ORDER BY k");
    assert_eq!(t.num_rows(), 3);
    let e = error("SELECT CASE WHEN x THEN 1 END FROM t");
    assert!(e.contains("must be Boolean"), "{e}");
}
