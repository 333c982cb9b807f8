//! Subqueries: `[NOT] IN (SELECT ...)`, `[NOT] EXISTS`, scalar subqueries
//! (correlated or not), checked against values worked out by hand and, for
//! the null semantics, against a naive row-by-row reference on generated
//! tables with nulls.

use parframe::prelude::*;

use crate::{ctx, error, strings};

fn ints(t: &Table, column: &str) -> Vec<String> {
    strings(t, column)
}

fn run_on(ctx: &Context, sql: &str) -> Table {
    ctx.sql(sql)
        .and_then(|lf| lf.collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn in_and_not_in_subqueries() {
    let c = ctx();
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE k IN (SELECT k FROM u) ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["1", "2", "3", "5"]);
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE k NOT IN (SELECT k FROM u) ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["4"]);
    // Correlated IN: the value and the correlation key together.
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE x * 10 IN (SELECT u.x FROM u WHERE u.k = t.k) ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["1", "2"]);
    // An IN subquery over an aggregate (Q18's form), next to other conditions.
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE x > 1 AND k IN (SELECT k FROM t GROUP BY k HAVING sum(x) > 4) \
         ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["2", "5"]);
    // `*` does not show hidden columns.
    let t = run_on(&c, "SELECT * FROM t WHERE k IN (SELECT k FROM u) AND x < 2");
    assert_eq!(t.column_names(), vec!["k", "x", "y"]);
}

#[test]
fn not_in_follows_sql_null_semantics() {
    let c = ctx();
    // A null in the subquery: `x NOT IN (..., NULL)` is never true.
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE k NOT IN (SELECT column1 FROM (VALUES ('zz'), (NULL)) AS v)",
    );
    assert_eq!(t.num_rows(), 0);
    // An empty subquery: always true, even for a null x.
    let n = table!("v" => [Some(1i64), None, Some(3)]).unwrap();
    c.register_table("n", c.lazy(n));
    let t = run_on(
        &c,
        "SELECT v FROM n WHERE v NOT IN (SELECT x FROM t WHERE x > 100) ORDER BY v",
    );
    assert_eq!(ints(&t, "v"), ["1", "3", "null"]);
    // A non-empty subquery without nulls: a null x is unknown (dropped).
    let t = run_on(
        &c,
        "SELECT v FROM n WHERE v NOT IN (SELECT x FROM t WHERE x > 2)",
    );
    assert_eq!(ints(&t, "v"), ["1"]);
    // IN: a null x never matches.
    let t = run_on(
        &c,
        "SELECT v FROM n WHERE v IN (SELECT x FROM t)  ORDER BY v",
    );
    assert_eq!(ints(&t, "v"), ["1", "3"]);
}

#[test]
fn exists_and_not_exists() {
    let c = ctx();
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k) ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["1", "2", "3", "5"]);
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE NOT EXISTS (SELECT * FROM u WHERE k = t.k) ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["4"]);
    // Correlated conditions beyond equalities (Q21's form).
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE EXISTS (SELECT * FROM u WHERE u.k = t.k AND u.x < t.x * 5) \
         ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["3", "5"]);
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE NOT EXISTS (SELECT * FROM u WHERE u.k = t.k AND u.x < t.x * 5) \
         ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["1", "2", "4"]);
    // Only a non-equality correlation (no keys).
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE EXISTS (SELECT * FROM u WHERE u.x < t.x * 10) ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["2", "3", "4", "5"]);
    // Uncorrelated.
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE x > 25)",
    );
    assert_eq!(t.num_rows(), 5);
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE x > 99)",
    );
    assert_eq!(t.num_rows(), 0);
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE x > 99)",
    );
    assert_eq!(t.num_rows(), 5);
    // A condition of the subquery that reads only its own table filters it.
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k AND u.name = 'bob') \
         ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["2", "5"]);
}

#[test]
fn in_and_exists_as_values() {
    let c = ctx();
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE x = 1 OR k IN (SELECT k FROM u WHERE name = 'bob') ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["1", "2", "5"]);
    let t = run_on(
        &c,
        "SELECT x, k IN (SELECT k FROM u) AS f, \
         EXISTS (SELECT 1 FROM u WHERE u.k = t.k AND u.x > 15) AS e, \
         NOT EXISTS (SELECT 1 FROM u WHERE u.x > t.x * 10) AS ne \
         FROM t ORDER BY x",
    );
    assert_eq!(strings(&t, "f"), ["true", "true", "true", "false", "true"]);
    assert_eq!(
        strings(&t, "e"),
        ["false", "true", "false", "false", "true"]
    );
    assert_eq!(
        strings(&t, "ne"),
        ["false", "false", "true", "true", "true"]
    );
    let n = table!("v" => [Some(1i64), None, Some(3)]).unwrap();
    c.register_table("n", c.lazy(n));
    let t = run_on(
        &c,
        "SELECT v, v NOT IN (SELECT x FROM t WHERE x > 2) AS f, \
         v IN (SELECT column1 FROM (VALUES (1), (NULL)) AS w) AS g FROM n ORDER BY v",
    );
    assert_eq!(strings(&t, "f"), ["true", "false", "null"]);
    assert_eq!(strings(&t, "g"), ["true", "null", "null"]);
}

#[test]
fn scalar_subqueries() {
    let c = ctx();
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE x > (SELECT avg(x) FROM t) ORDER BY x",
    );
    assert_eq!(ints(&t, "x"), ["4", "5"]);
    let t = run_on(
        &c,
        "SELECT x, (SELECT max(x) FROM u) AS m FROM t ORDER BY x",
    );
    assert_eq!(ints(&t, "m"), ["30", "30", "30", "30", "30"]);
    assert_eq!(t.column_names(), vec!["x", "m"]);
    // No rows: null. More than one: an error.
    let t = run_on(
        &c,
        "SELECT (SELECT x FROM u WHERE x > 99) AS v FROM t LIMIT 1",
    );
    assert_eq!(ints(&t, "v"), ["null"]);
    let t = run_on(
        &c,
        "SELECT (SELECT x FROM u WHERE x > 25) AS v FROM t LIMIT 1",
    );
    assert_eq!(ints(&t, "v"), ["30"]);
    let e = error("SELECT x FROM t WHERE x = (SELECT x FROM u)");
    assert!(
        e.contains("more than one row") && e.contains("line 1, column 28"),
        "{e}"
    );
    // In HAVING (Q11's form) and the select list of an aggregation.
    let t = run_on(
        &c,
        "SELECT k, sum(x) AS s FROM t GROUP BY k HAVING sum(x) > (SELECT min(x) FROM t) * 4 \
         ORDER BY k",
    );
    assert_eq!(strings(&t, "k"), ["b"]);
    let t = run_on(
        &c,
        "SELECT k, sum(x) - (SELECT min(x) FROM u) AS d FROM t GROUP BY k ORDER BY k",
    );
    assert_eq!(ints(&t, "d"), ["-6", "-3", "-6"]);
}

#[test]
fn correlated_scalar_subqueries_are_decorrelated() {
    let c = ctx();
    // Q2/Q17's form: compare with an aggregate over the correlated rows.
    let t = run_on(
        &c,
        "SELECT k, x FROM t WHERE x = (SELECT max(x) FROM t AS t2 WHERE t2.k = t.k) ORDER BY k",
    );
    assert_eq!(strings(&t, "k"), ["a", "b", "c"]);
    assert_eq!(ints(&t, "x"), ["3", "5", "4"]);
    let t = run_on(
        &c,
        "SELECT x FROM t WHERE y < (SELECT 0.5 * avg(u.x) FROM u WHERE u.k = t.k) ORDER BY x",
    );
    // a: 5.0 > 1.5, 3.5; b: 10 > 2.5, 5.5; c: no group (null): dropped.
    assert_eq!(ints(&t, "x"), ["1", "2", "3", "5"]);
    // count over no correlated rows is 0.
    let t = run_on(
        &c,
        "SELECT k, (SELECT count(*) FROM u WHERE u.k = t.k) AS n FROM t ORDER BY x",
    );
    assert_eq!(ints(&t, "n"), ["1", "1", "1", "0", "1"]);
    // A lookup without an aggregate: at most one row per outer row.
    let t = run_on(
        &c,
        "SELECT x, (SELECT name FROM u WHERE u.k = t.k) AS n FROM t ORDER BY x",
    );
    assert_eq!(strings(&t, "n"), ["ann", "bob", "ann", "null", "bob"]);
    let t = run_on(
        &c,
        "SELECT name FROM u WHERE x > (SELECT t.x + 8 FROM t WHERE t.k = u.k AND t.x > 2) \
         ORDER BY name",
    );
    assert_eq!(strings(&t, "name"), ["bob"]);
    // Nested: an IN subquery holding a correlated scalar subquery (Q20's form).
    let t = run_on(
        &c,
        "SELECT name FROM u WHERE k IN (SELECT k FROM t WHERE x > (SELECT min(t2.x) FROM t AS t2 \
         WHERE t2.k = t.k)) ORDER BY name",
    );
    assert_eq!(strings(&t, "name"), ["ann", "bob"]);
}

#[test]
fn unsupported_subqueries_name_their_position() {
    let e = error("SELECT k, count(*) FROM t GROUP BY k HAVING k IN (SELECT k FROM u)");
    assert!(
        e.contains("HAVING of an aggregation") && e.contains("line 1, column 45"),
        "{e}"
    );
    let e = error("SELECT x FROM t WHERE x IN (SELECT k, x FROM u)");
    assert!(e.contains("one column"), "{e}");
    let e = error(
        "SELECT x FROM t WHERE x = (SELECT max(x) FROM u WHERE u.k = t.k ORDER BY 1 LIMIT 1)",
    );
    assert!(e.contains("LIMIT in a correlated subquery"), "{e}");
    // A correlated lookup with two rows for a key.
    let e = error("SELECT x, (SELECT t2.y FROM t AS t2 WHERE t2.k = t.k) AS v FROM t");
    assert!(
        e.contains("more than one row") && e.contains("column 12"),
        "{e}"
    );
    let e = error("SELECT x FROM t WHERE x = (SELECT max(u.x) + t.x FROM u WHERE u.k = t.k)");
    assert!(e.contains("outer query in a subquery's select list"), "{e}");
}

/// A small generator (no dependency): a linear congruential sequence.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
    fn column(&mut self, len: usize) -> Vec<Option<i64>> {
        (0..len)
            .map(|_| match self.next(5) {
                0 => None,
                _ => Some(self.next(6) as i64),
            })
            .collect()
    }
}

/// SQL's three-valued `x IN (ys)`.
fn naive_in(x: Option<i64>, ys: &[Option<i64>]) -> Option<bool> {
    if ys.is_empty() {
        return Some(false);
    }
    let x = x?;
    if ys.contains(&Some(x)) {
        return Some(true);
    }
    if ys.iter().any(|y| y.is_none()) {
        None
    } else {
        Some(false)
    }
}

#[test]
fn in_exists_and_scalars_match_a_naive_reference_with_nulls() {
    let mut g = Lcg(7);
    for case in 0..12 {
        let (n_a, n_b) = (1 + g.next(9) as usize, g.next(9) as usize);
        let (ak, av) = (g.column(n_a), g.column(n_a));
        let (bk, bv) = (g.column(n_b), g.column(n_b));
        let ctx = Context::builder().threads(2).build().unwrap();
        let id: Vec<i64> = (0..n_a as i64).collect();
        let a = table!("id" => id, "k" => ak.clone(), "v" => av.clone()).unwrap();
        let b = table!("k" => bk.clone(), "v" => bv.clone()).unwrap();
        ctx.register_table("a", ctx.lazy(a));
        ctx.register_table("b", ctx.lazy(b));
        let ids = |sql: &str| -> Vec<i64> {
            let t = run_on(&ctx, &format!("SELECT id FROM a WHERE {sql} ORDER BY id"));
            strings(&t, "id")
                .iter()
                .map(|s| s.parse().unwrap())
                .collect()
        };
        let expect = |f: &dyn Fn(usize) -> Option<bool>| -> Vec<i64> {
            (0..n_a)
                .filter(|&i| f(i) == Some(true))
                .map(|i| i as i64)
                .collect()
        };
        let ctx_msg = format!("case {case}: a.k={ak:?} a.v={av:?} b.k={bk:?} b.v={bv:?}");
        // Uncorrelated IN / NOT IN.
        assert_eq!(
            ids("v IN (SELECT v FROM b)"),
            expect(&|i| naive_in(av[i], &bv)),
            "{ctx_msg}"
        );
        assert_eq!(
            ids("v NOT IN (SELECT v FROM b)"),
            expect(&|i| naive_in(av[i], &bv).map(|b| !b)),
            "{ctx_msg}"
        );
        // Correlated on k: the subquery's rows are those with b.k = a.k.
        let group = |i: usize| -> Vec<Option<i64>> {
            (0..n_b)
                .filter(|&j| ak[i].is_some() && bk[j] == ak[i])
                .map(|j| bv[j])
                .collect()
        };
        assert_eq!(
            ids("v IN (SELECT b.v FROM b WHERE b.k = a.k)"),
            expect(&|i| naive_in(av[i], &group(i))),
            "{ctx_msg}"
        );
        assert_eq!(
            ids("v NOT IN (SELECT b.v FROM b WHERE b.k = a.k)"),
            expect(&|i| naive_in(av[i], &group(i)).map(|b| !b)),
            "{ctx_msg}"
        );
        assert_eq!(
            ids("EXISTS (SELECT 1 FROM b WHERE b.k = a.k)"),
            expect(&|i| Some(!group(i).is_empty())),
            "{ctx_msg}"
        );
        // The same through mark joins (inside OR).
        assert_eq!(
            ids("id < 0 OR v NOT IN (SELECT b.v FROM b WHERE b.k = a.k)"),
            expect(&|i| naive_in(av[i], &group(i)).map(|b| !b)),
            "{ctx_msg}"
        );
        assert_eq!(
            ids("id < 0 OR v IN (SELECT v FROM b)"),
            expect(&|i| naive_in(av[i], &bv)),
            "{ctx_msg}"
        );
        assert_eq!(
            ids("id < 0 OR NOT EXISTS (SELECT 1 FROM b WHERE b.k = a.k AND b.v > a.v)"),
            expect(&|i| Some(!(0..n_b).any(|j| ak[i].is_some()
                && bk[j] == ak[i]
                && matches!((bv[j], av[i]), (Some(x), Some(y)) if x > y)))),
            "{ctx_msg}"
        );
        assert_eq!(
            ids("NOT EXISTS (SELECT 1 FROM b WHERE b.k = a.k AND b.v > a.v)"),
            expect(&|i| Some(!(0..n_b).any(|j| ak[i].is_some()
                && bk[j] == ak[i]
                && matches!((bv[j], av[i]), (Some(x), Some(y)) if x > y)))),
            "{ctx_msg}"
        );
        // Correlated scalar: v > max(b.v) of the group (null when none).
        assert_eq!(
            ids("v > (SELECT max(b.v) FROM b WHERE b.k = a.k)"),
            expect(&|i| {
                let m = group(i).into_iter().flatten().max();
                match (av[i], m) {
                    (Some(x), Some(m)) => Some(x > m),
                    _ => None,
                }
            }),
            "{ctx_msg}"
        );
        assert_eq!(
            ids("(SELECT count(b.v) FROM b WHERE b.k = a.k) = 0"),
            expect(&|i| Some(group(i).iter().flatten().count() == 0)),
            "{ctx_msg}"
        );
    }
}

#[test]
fn deeply_nested_subqueries_do_not_crash() {
    // A value or a clean error, never a stack overflow (on a test
    // thread's small stack: planning, optimizing and lowering grow it;
    // a few hundred levels still overflow elsewhere on a 2 MiB thread).
    for depth in [40, 100] {
        let q = format!(
            "SELECT {}1{} AS v",
            "(SELECT ".repeat(depth),
            ")".repeat(depth)
        );
        match ctx().sql(&q).and_then(|lf| lf.collect()) {
            Ok(t) => assert_eq!(strings(&t, "v"), ["1"], "depth {depth}"),
            Err(e) => assert!(e.to_string().contains("deep"), "depth {depth}: {e}"),
        }
        let q = format!(
            "SELECT x FROM t WHERE {}",
            vec!["x IN (SELECT x FROM t)"; depth].join(" AND ")
        );
        match ctx().sql(&q).and_then(|lf| lf.collect()) {
            Ok(t) => assert_eq!(t.num_rows(), 5, "depth {depth}"),
            Err(e) => assert!(e.to_string().contains("deep"), "depth {depth}: {e}"),
        }
    }
}
