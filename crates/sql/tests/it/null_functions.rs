//! Null functions and null-aware comparisons: coalesce, ifnull/nvl,
//! nullif, IS [NOT] DISTINCT FROM, and IN lists with nulls — against
//! `Option` code over the same values.

use parframe::prelude::*;

use crate::{error_of, strings};

const A: [Option<i64>; 6] = [Some(1), None, Some(3), None, Some(5), Some(2)];
const B: [Option<i64>; 6] = [Some(1), Some(2), None, None, Some(4), Some(2)];

fn ctx() -> Context {
    let ctx = Context::builder().threads(2).build().unwrap();
    let t = table!("a" => A.to_vec(), "b" => B.to_vec()).unwrap();
    ctx.register_table("n", ctx.lazy(t));
    ctx
}

fn column(expr: &str) -> Vec<String> {
    let q = format!("SELECT {expr} AS r FROM n");
    let t = ctx()
        .sql(&q)
        .and_then(|lf| lf.collect())
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    strings(&t, "r")
}

fn naive<T: ToString>(f: impl Fn(Option<i64>, Option<i64>) -> Option<T>) -> Vec<String> {
    A.iter()
        .zip(B)
        .map(|(&a, b)| f(a, b).map_or("null".to_string(), |v| v.to_string()))
        .collect()
}

#[test]
fn coalesce_ifnull_nullif() {
    assert_eq!(column("coalesce(a, b)"), naive(|a, b| a.or(b)));
    assert_eq!(
        column("coalesce(a, b, -1)"),
        naive(|a, b| a.or(b).or(Some(-1)))
    );
    assert_eq!(column("ifnull(a, 0)"), naive(|a, _| a.or(Some(0))));
    assert_eq!(column("nvl(b, a)"), naive(|a, b| b.or(a)));
    assert_eq!(
        column("nullif(a, b)"),
        naive(|a, b| if a.is_some() && a == b { None } else { a })
    );
}

#[test]
fn distinct_from_treats_null_as_a_value() {
    assert_eq!(column("a IS DISTINCT FROM b"), naive(|a, b| Some(a != b)));
    assert_eq!(
        column("a IS NOT DISTINCT FROM b"),
        naive(|a, b| Some(a == b))
    );
    // `=` is null where either side is.
    assert_eq!(column("a = b"), naive(|a, b| Some(a? == b?)));
}

#[test]
fn in_lists_follow_three_valued_logic() {
    let set = [1i64, 5, 7];
    assert_eq!(
        column("a IN (1, 5, 7)"),
        naive(|a, _| a.map(|a| set.contains(&a)))
    );
    assert_eq!(
        column("a NOT IN (1, 5, 7)"),
        naive(|a, _| a.map(|a| !set.contains(&a)))
    );
    // With a null in the list, a miss is unknown (null), a hit is true.
    assert_eq!(
        column("a IN (1, NULL)"),
        naive(|a, _| a.and_then(|a| if a == 1 { Some(true) } else { None }))
    );
    assert_eq!(
        column("a NOT IN (1, NULL)"),
        naive(|a, _| a.and_then(|a| if a == 1 { Some(false) } else { None }))
    );
    // Items that are expressions compare one by one.
    assert_eq!(
        column("a IN (b, 5)"),
        naive(|a, b| {
            let a = a?;
            if Some(a) == b || a == 5 {
                Some(true)
            } else if b.is_none() {
                None
            } else {
                Some(false)
            }
        })
    );
}

#[test]
fn null_function_errors_name_the_call() {
    let c = ctx();
    let e = error_of(
        c.sql("SELECT nullif(a) FROM n").and_then(|l| l.collect()),
        "nullif",
    );
    assert!(
        e.contains("nullif takes 2 arguments") && e.contains("line 1"),
        "{e}"
    );
    let e = error_of(
        c.sql("SELECT coalesce(a, 'x') FROM n")
            .and_then(|l| l.collect()),
        "coalesce",
    );
    assert!(e.contains("Int64") && e.contains("Utf8"), "{e}");
}
