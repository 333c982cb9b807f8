//! Window functions: `OVER (PARTITION BY ... ORDER BY ... frame)`, named
//! windows, `QUALIFY`, windows over an aggregation; values checked against
//! a naive per-partition computation.

use parframe::prelude::*;

use crate::{ctx, error, strings};

fn run_on(ctx: &Context, sql: &str) -> Table {
    ctx.sql(sql)
        .and_then(|lf| lf.collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `sql` ordered by `x` (the input's unique key), one column as text.
fn by_x(sql: &str, column: &str) -> Vec<String> {
    let t = run_on(&ctx(), &format!("{sql} ORDER BY x"));
    strings(&t, column)
}

// t: k = a b a c b, x = 1 2 3 4 5, y = 1.5 2.5 3.5 4.5 5.5

#[test]
fn ranking_functions() {
    let q = |f: &str| by_x(&format!("SELECT x, {f} AS r FROM t"), "r");
    assert_eq!(
        q("row_number() OVER (PARTITION BY k ORDER BY x DESC)"),
        ["2", "2", "1", "1", "1"]
    );
    assert_eq!(q("rank() OVER (ORDER BY k)"), ["1", "3", "1", "5", "3"]);
    assert_eq!(
        q("dense_rank() OVER (ORDER BY k)"),
        ["1", "2", "1", "3", "2"]
    );
    assert_eq!(q("ntile(2) OVER (ORDER BY x)"), ["1", "1", "1", "2", "2"]);
    assert_eq!(
        q("percent_rank() OVER (ORDER BY k)"),
        ["0.0", "0.5", "0.0", "1.0", "0.5"]
    );
    assert_eq!(
        q("cume_dist() OVER (ORDER BY k)"),
        ["0.4", "0.8", "0.4", "1.0", "0.8"]
    );
}

#[test]
fn offsets_and_values() {
    let q = |f: &str| by_x(&format!("SELECT x, {f} AS r FROM t"), "r");
    assert_eq!(
        q("lag(x) OVER (PARTITION BY k ORDER BY x)"),
        ["null", "null", "1", "null", "2"]
    );
    assert_eq!(
        q("lead(x, 1, 0) OVER (PARTITION BY k ORDER BY x)"),
        ["3", "5", "0", "0", "0"]
    );
    assert_eq!(
        q("lag(x * 10, 2) OVER (ORDER BY x)"),
        ["null", "null", "10", "20", "30"]
    );
    assert_eq!(
        q("first_value(x) OVER (PARTITION BY k ORDER BY x DESC)"),
        ["3", "5", "3", "4", "5"]
    );
    assert_eq!(
        q(
            "last_value(x) OVER (PARTITION BY k ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND \
           UNBOUNDED FOLLOWING)"
        ),
        ["3", "5", "3", "4", "5"]
    );
    assert_eq!(
        q("nth_value(x, 2) OVER (ORDER BY x)"),
        ["null", "2", "2", "2", "2"]
    );
}

#[test]
fn aggregate_windows_with_frames() {
    let q = |f: &str| by_x(&format!("SELECT x, {f} AS r FROM t"), "r");
    assert_eq!(q("sum(x) OVER (PARTITION BY k)"), ["4", "7", "4", "4", "7"]);
    assert_eq!(q("sum(x) OVER (ORDER BY x)"), ["1", "3", "6", "10", "15"]);
    assert_eq!(
        q("sum(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)"),
        ["3", "6", "9", "12", "9"]
    );
    assert_eq!(
        q("count(*) OVER (ORDER BY x RANGE BETWEEN 2 PRECEDING AND CURRENT ROW)"),
        ["1", "2", "3", "3", "3"]
    );
    assert_eq!(
        q("max(y) OVER (ORDER BY x ROWS 1 PRECEDING)"),
        ["1.5", "2.5", "3.5", "4.5", "5.5"]
    );
    assert_eq!(
        q("avg(x) OVER (PARTITION BY k)"),
        ["2.0", "3.5", "2.0", "4.0", "3.5"]
    );
    // Each row against its group's mean, an expression around the window.
    assert_eq!(
        q("x - avg(x) OVER (PARTITION BY k)"),
        ["-1.0", "-1.5", "1.0", "0.0", "1.5"]
    );
}

#[test]
fn groups_frames_count_peer_groups() {
    let q = |f: &str| by_x(&format!("SELECT x, {f} AS r FROM t"), "r");
    // Peer groups by k: a = {1, 3}, b = {2, 5}, c = {4}.
    assert_eq!(
        q("count(*) OVER (ORDER BY k GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW)"),
        ["2", "4", "2", "3", "4"]
    );
    assert_eq!(
        q("sum(x) OVER (ORDER BY k GROUPS BETWEEN 1 FOLLOWING AND 1 FOLLOWING)"),
        ["7", "4", "7", "null", "4"]
    );
    assert_eq!(
        q("sum(x) OVER (ORDER BY k DESC GROUPS 1 PRECEDING)"),
        ["11", "11", "11", "4", "11"]
    );
}

#[test]
fn range_frames_over_dates_take_intervals() {
    let ctx = ctx();
    let dates = "(VALUES (DATE '2024-01-31', 1), (DATE '2024-02-29', 2), \
                 (DATE '2024-03-01', 3), (DATE '2024-03-31', 4)) v(d, x)";
    let q = |f: &str| {
        let t = run_on(&ctx, &format!("SELECT x, {f} AS r FROM {dates} ORDER BY x"));
        strings(&t, "r")
    };
    // Calendar months: 2024-03-31 minus a month is 2024-02-29, so that
    // row's frame holds 02-29, 03-01 and 03-31 (30 days would stop at
    // 03-01).
    assert_eq!(
        q("count(*) OVER (ORDER BY d RANGE BETWEEN INTERVAL '1' MONTH PRECEDING AND CURRENT ROW)"),
        ["1", "2", "2", "3"]
    );
    assert_eq!(
        q("count(*) OVER (ORDER BY d RANGE BETWEEN INTERVAL '30' DAY PRECEDING AND CURRENT ROW)"),
        ["1", "2", "3", "2"]
    );
    // A descending key: PRECEDING is towards later dates.
    assert_eq!(
        q("sum(x) OVER (ORDER BY d DESC RANGE BETWEEN CURRENT ROW AND INTERVAL '1 day' FOLLOWING)"),
        ["1", "2", "5", "4"]
    );
    // A sub-day interval over dates keeps its hours (d - 12 hours is the
    // day before at noon, after that day's date).
    assert_eq!(
        q("count(*) OVER (ORDER BY d RANGE BETWEEN INTERVAL '12' HOUR PRECEDING AND CURRENT ROW)"),
        ["1", "1", "1", "1"]
    );
    assert_eq!(
        q("count(*) OVER (ORDER BY d RANGE BETWEEN INTERVAL '36' HOUR PRECEDING AND CURRENT ROW)"),
        ["1", "1", "2", "1"]
    );
    let t = run_on(
        &ctx,
        &format!(
            "EXPLAIN SELECT count(*) OVER (ORDER BY d RANGE BETWEEN INTERVAL '1 month 2 days' \
             PRECEDING AND CURRENT ROW) FROM {dates}"
        ),
    );
    let plan = strings(&t, t.schema().field(0).name()).join("\n");
    assert!(
        plan.contains("RANGE BETWEEN INTERVAL '1 months 2 days' PRECEDING AND CURRENT ROW"),
        "{plan}"
    );
}

#[test]
fn named_windows_qualify_and_aggregations() {
    let t = run_on(
        &ctx(),
        "SELECT x, sum(x) OVER w AS s, row_number() OVER w AS rn FROM t \
         WINDOW w AS (PARTITION BY k ORDER BY x) ORDER BY x",
    );
    assert_eq!(strings(&t, "s"), ["1", "2", "4", "4", "7"]);
    assert_eq!(strings(&t, "rn"), ["1", "1", "2", "1", "2"]);
    // The largest x per k (db-benchmark q8's form).
    let t = run_on(
        &ctx(),
        "SELECT k, x FROM t QUALIFY row_number() OVER (PARTITION BY k ORDER BY x DESC) = 1 \
         ORDER BY k",
    );
    assert_eq!(strings(&t, "x"), ["3", "5", "4"]);
    // Over the output of GROUP BY, after HAVING.
    let t = run_on(
        &ctx(),
        "SELECT k, sum(x) AS s, rank() OVER (ORDER BY sum(x) DESC) AS r FROM t GROUP BY k \
         HAVING count(*) > 1 ORDER BY k",
    );
    assert_eq!(strings(&t, "k"), ["a", "b"]);
    assert_eq!(strings(&t, "r"), ["2", "1"]);
    let t = run_on(
        &ctx(),
        "SELECT k, sum(x) AS s FROM t GROUP BY k QUALIFY rank() OVER (ORDER BY sum(x)) = 1 \
         ORDER BY k",
    );
    assert_eq!(strings(&t, "k"), ["a", "c"]);
}

#[test]
fn windows_match_a_naive_reference() {
    // Partitions of 1..=n rows, values with ties and nulls.
    let n = 40usize;
    let k: Vec<i64> = (0..n as i64).map(|i| (i * 7) % 5).collect();
    let o: Vec<i64> = (0..n as i64).map(|i| (i * 13) % 11).collect();
    let v: Vec<Option<i64>> = (0..n as i64)
        .map(|i| if i % 6 == 0 { None } else { Some((i * 5) % 9) })
        .collect();
    let id: Vec<i64> = (0..n as i64).collect();
    let ctx = Context::builder().threads(2).build().unwrap();
    let t = table!("id" => id, "k" => k.clone(), "o" => o.clone(), "v" => v.clone()).unwrap();
    ctx.register_table("w", ctx.lazy(t));
    let out = run_on(
        &ctx,
        "SELECT id, \
           sum(v) OVER (PARTITION BY k ORDER BY o, id ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING) \
             AS s, \
           count(v) OVER (PARTITION BY k) AS c, \
           rank() OVER (PARTITION BY k ORDER BY o) AS r, \
           lag(v, 1) OVER (PARTITION BY k ORDER BY o, id) AS l \
         FROM w ORDER BY id",
    );
    let got = |c: &str| strings(&out, c);
    let text = |x: Option<i64>| x.map_or("null".to_string(), |x| x.to_string());
    let mut s = Vec::new();
    let mut c = Vec::new();
    let mut r = Vec::new();
    let mut l = Vec::new();
    for i in 0..n {
        // The partition of row i, ordered by (o, id).
        let mut part: Vec<usize> = (0..n).filter(|&j| k[j] == k[i]).collect();
        part.sort_by_key(|&j| (o[j], j));
        let pos = part.iter().position(|&j| j == i).unwrap();
        let lo = pos.saturating_sub(2);
        let hi = (pos + 1).min(part.len() - 1);
        let vals: Vec<i64> = part[lo..=hi].iter().filter_map(|&j| v[j]).collect();
        s.push(if vals.is_empty() {
            None
        } else {
            Some(vals.iter().sum())
        });
        c.push(Some(part.iter().filter(|&&j| v[j].is_some()).count() as i64));
        r.push(Some(
            1 + part.iter().filter(|&&j| o[j] < o[i]).count() as i64,
        ));
        l.push(if pos == 0 { None } else { v[part[pos - 1]] });
    }
    let s: Vec<String> = s.into_iter().map(text).collect();
    let c: Vec<String> = c.into_iter().map(text).collect();
    let r: Vec<String> = r.into_iter().map(text).collect();
    let l: Vec<String> = l.into_iter().map(text).collect();
    assert_eq!(got("s"), s);
    assert_eq!(got("c"), c);
    assert_eq!(got("r"), r);
    assert_eq!(got("l"), l);
}

#[test]
fn unsupported_windows_name_their_position() {
    let e = error("SELECT sum(x) OVER (GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t");
    assert!(e.contains("GROUPS frames need an ORDER BY"), "{e}");
    let e = error(
        "SELECT count(*) OVER (ORDER BY x RANGE BETWEEN INTERVAL '1' DAY PRECEDING AND CURRENT ROW) FROM t",
    );
    assert!(
        e.contains("need a date or timestamp ORDER BY key; 'x' is Int64"),
        "{e}"
    );
    let e =
        error("SELECT count(*) OVER (ORDER BY x RANGE BETWEEN y PRECEDING AND CURRENT ROW) FROM t");
    assert!(
        e.contains("a number or an INTERVAL literal") && e.contains("line 1"),
        "{e}"
    );
    let e = error("SELECT lag(x, y) OVER (ORDER BY x) FROM t");
    assert!(e.contains("whole number") && e.contains("column 15"), "{e}");
    let e = error("SELECT upper(k) OVER (ORDER BY x) FROM t");
    assert!(e.contains("cannot take OVER"), "{e}");
    let e = error("SELECT sum(x) OVER nope FROM t");
    assert!(e.contains("unknown window 'nope'"), "{e}");
    let e = error("SELECT x FROM t WHERE row_number() OVER (ORDER BY x) = 1");
    assert!(e.contains("window"), "{e}");
}
