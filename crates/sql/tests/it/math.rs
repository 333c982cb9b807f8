//! Numeric functions: abs, sign, floor, ceil, round, sqrt, cbrt, exp, ln,
//! log10, log2, power — against Rust's f64 and i128 arithmetic, with
//! decimals exact and domain errors named.

use parframe::arrow::schema::DataType;
use parframe::prelude::*;

use crate::{error_of, strings};

const F: [Option<f64>; 7] = [
    Some(2.5),
    Some(-2.5),
    Some(0.0),
    None,
    Some(1234.5678),
    Some(-0.4),
    Some(9.99),
];
const I: [Option<i64>; 7] = [
    Some(7),
    Some(-7),
    Some(0),
    None,
    Some(1250),
    Some(-1),
    Some(99),
];
/// Decimal(6, 2) values in hundredths.
const D: [Option<i64>; 7] = [
    Some(250),
    Some(-250),
    Some(0),
    None,
    Some(123_456),
    Some(-45),
    Some(999),
];

fn ctx() -> Context {
    let ctx = Context::builder().threads(2).build().unwrap();
    let d: Vec<Option<String>> = D
        .iter()
        .map(|v| {
            v.map(|c| {
                format!(
                    "{}{}.{:02}",
                    if c < 0 { "-" } else { "" },
                    c.abs() / 100,
                    c.abs() % 100
                )
            })
        })
        .collect();
    let t = table!("f" => F.to_vec(), "i" => I.to_vec(), "ds" => d).unwrap();
    ctx.register_table("n", ctx.lazy(t));
    ctx
}

fn run(expr: &str) -> (DataType, Vec<String>) {
    let q = format!(
        "SELECT {expr} AS r FROM (SELECT f, i, CAST(ds AS DECIMAL(6, 2)) AS d FROM n) AS x"
    );
    let t = ctx()
        .sql(&q)
        .and_then(|lf| lf.collect())
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    (t.schema().field(0).data_type().clone(), strings(&t, "r"))
}

fn floats(f: impl Fn(f64) -> f64) -> Vec<f64> {
    F.iter().flatten().map(|&x| f(x)).collect()
}

fn parsed(v: &[String]) -> Vec<f64> {
    v.iter()
        .filter(|s| *s != "null")
        .map(|s| s.parse().unwrap())
        .collect()
}

fn ints(f: impl Fn(i64) -> i64) -> Vec<String> {
    I.iter()
        .map(|v| v.map_or("null".into(), |x| f(x).to_string()))
        .collect()
}

/// Hundredths at `scale` digits as decimal text.
fn dec(v: i128, scale: u32) -> String {
    let p = 10i128.pow(scale);
    let sign = if v < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{}", v.abs());
    }
    format!(
        "{sign}{}.{:0w$}",
        v.abs() / p,
        v.abs() % p,
        w = scale as usize
    )
}

fn decs(f: impl Fn(i128) -> i128, scale: u32) -> Vec<String> {
    D.iter()
        .map(|v| v.map_or("null".into(), |x| dec(f(i128::from(x)), scale)))
        .collect()
}

#[test]
fn float_functions_match_f64() {
    for (name, f) in [
        ("abs", f64::abs as fn(f64) -> f64),
        ("floor", f64::floor),
        ("ceil", f64::ceil),
        ("round", f64::round),
        ("cbrt", f64::cbrt),
        ("exp", f64::exp),
    ] {
        let (ty, v) = run(&format!("{name}(f)"));
        assert_eq!(ty, DataType::Float64, "{name}");
        assert_eq!(parsed(&v), floats(f), "{name}");
        assert_eq!(v[3], "null", "{name}");
    }
    let (_, v) = run("round(f, 2)");
    assert_eq!(parsed(&v), floats(|x| (x * 100.0).round() / 100.0));
    let (_, v) = run("power(f, 2)");
    assert_eq!(parsed(&v), floats(|x| x.powf(2.0)));
    let (_, v) = run("sqrt(abs(f))");
    assert_eq!(parsed(&v), floats(|x| x.abs().sqrt()));
    let (_, v) = run("ln(abs(f) + 1)");
    assert_eq!(parsed(&v), floats(|x| (x.abs() + 1.0).ln()));
    let (_, v) = run("sign(f)");
    assert_eq!(
        parsed(&v),
        floats(|x| if x == 0.0 { 0.0 } else { x.signum() })
    );
}

#[test]
fn integer_functions_stay_exact() {
    let (ty, v) = run("abs(i)");
    assert_eq!(ty, DataType::Int64);
    assert_eq!(v, ints(i64::abs));
    assert_eq!(run("sign(i)").1, ints(i64::signum));
    assert_eq!(run("floor(i)").1, ints(|x| x));
    // Half away from zero at tens: 1250 -> 1300, -7 -> -10.
    let round_tens = |x: i64| {
        let q = x / 10;
        let r = x % 10;
        10 * if r.abs() * 2 >= 10 { q + x.signum() } else { q }
    };
    assert_eq!(run("round(i, -1)").1, ints(round_tens));
    let (ty, _) = run("sqrt(i + 7)");
    assert_eq!(ty, DataType::Float64);
}

#[test]
fn decimal_functions_stay_exact() {
    let (ty, v) = run("abs(d)");
    assert_eq!(ty, DataType::Decimal128(6, 2));
    assert_eq!(v, decs(i128::abs, 2));
    let (ty, v) = run("floor(d)");
    assert_eq!(ty, DataType::Decimal128(5, 0));
    assert_eq!(v, decs(|x| x.div_euclid(100), 0));
    assert_eq!(run("ceil(d)").1, decs(|x| -(-x).div_euclid(100), 0));
    let half_away = |x: i128, f: i128| {
        let (q, r) = (x / f, x % f);
        if r.abs() * 2 >= f { q + x.signum() } else { q }
    };
    let (ty, v) = run("round(d, 1)");
    assert_eq!(ty, DataType::Decimal128(6, 1));
    assert_eq!(v, decs(|x| half_away(x, 10), 1));
    let (ty, v) = run("round(d)");
    assert_eq!(ty, DataType::Decimal128(5, 0));
    assert_eq!(v, decs(|x| half_away(x, 100), 0));
    assert_eq!(run("round(d, 5)").1, decs(|x| x, 2));
}

#[test]
fn domain_errors_name_the_expression() {
    let c = ctx();
    for (q, want) in [
        ("SELECT sqrt(f) FROM n", "square root"),
        ("SELECT ln(i) FROM n", "logarithm"),
        ("SELECT log10(f - f) FROM n", "logarithm"),
        ("SELECT round(f, i) FROM n", "constant integer"),
        ("SELECT abs(ds) FROM n", "needs a number"),
    ] {
        let e = error_of(c.sql(q).and_then(|l| l.collect()), q);
        assert!(e.contains(want), "{q}: {e}");
    }
    let e = error_of(
        c.sql("SELECT abs(CAST(-9223372036854775807 - 1 AS BIGINT)) AS r")
            .and_then(|l| l.collect()),
        "abs",
    );
    assert!(e.contains("overflow"), "{e}");
}
