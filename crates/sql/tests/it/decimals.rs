//! Decimals in SQL: numeric literals with a point are exact decimals,
//! CAST to DECIMAL(p, s), the SQL precision/scale rules, decimal sums,
//! and `/` with a decimal being a DOUBLE (as in DuckDB) — values checked
//! against i128 arithmetic on the unscaled numbers.

use parframe::arrow::schema::DataType;
use parframe::prelude::*;

use crate::{error_of, strings};

/// Prices in cents and quantities.
const CENTS: [i64; 6] = [1999, 5, 100000, 12345, 0, 77];
const QTY: [i64; 6] = [3, 17, 1, 40, 9, 2];

fn ctx() -> Context {
    let ctx = Context::builder().threads(2).build().unwrap();
    let price: Vec<String> = CENTS
        .iter()
        .map(|c| format!("{}.{:02}", c / 100, c % 100))
        .collect();
    let t = table!("p" => price, "q" => QTY.to_vec()).unwrap();
    ctx.register_table("items", ctx.lazy(t));
    ctx
}

fn query(q: &str) -> Table {
    ctx()
        .sql(q)
        .and_then(|lf| lf.collect())
        .unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn typed(q: &str) -> (DataType, Vec<String>) {
    let t = query(q);
    let name = t.column_names()[0].to_string();
    let ty = t.schema().field(0).data_type().clone();
    (ty, strings(&t, &name))
}

/// `v` (unscaled) at `scale` as text.
fn text(v: i128, scale: u32) -> String {
    let p = 10i128.pow(scale);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.abs();
    if scale == 0 {
        return format!("{sign}{a}");
    }
    format!("{sign}{}.{:0width$}", a / p, a % p, width = scale as usize)
}

const PRICES: &str = "(SELECT CAST(p AS DECIMAL(15, 2)) AS p, q FROM items) AS x";

#[test]
fn literals_with_a_point_are_exact_decimals() {
    let (ty, v) = typed("SELECT 0.06 - 0.01 AS r");
    assert_eq!(ty, DataType::Decimal128(3, 2));
    assert_eq!(v, vec!["0.05"]);
    // 0.1 + 0.2 is exactly 0.3 (it would not be in binary floats).
    let (_, v) = typed("SELECT 0.1 + 0.2 = 0.3 AS r");
    assert_eq!(v, vec!["true"]);
    let (ty, _) = typed("SELECT 1e3 AS r");
    assert_eq!(ty, DataType::Float64);
    let (ty, _) = typed("SELECT 7 AS r");
    assert_eq!(ty, DataType::Int64);
}

#[test]
fn arithmetic_follows_the_precision_and_scale_rules() {
    // price * (1 - 0.05) * quantity: scale 2 + 2 = 4.
    let (ty, v) = typed(&format!("SELECT p * (1 - 0.05) * q AS r FROM {PRICES}"));
    assert!(matches!(ty, DataType::Decimal128(_, 4)), "{ty}");
    let want: Vec<String> = CENTS
        .iter()
        .zip(QTY)
        .map(|(&c, q)| text(i128::from(c) * 95 * i128::from(q), 4))
        .collect();
    assert_eq!(v, want);
    let (ty, v) = typed(&format!("SELECT p + 0.005 AS r FROM {PRICES}"));
    assert_eq!(ty, DataType::Decimal128(17, 3));
    let want: Vec<String> = CENTS
        .iter()
        .map(|&c| text(i128::from(c) * 10 + 5, 3))
        .collect();
    assert_eq!(v, want);
    // Comparisons meet at the larger scale, exactly.
    let (_, v) = typed(&format!("SELECT p < 0.06 AS r FROM {PRICES}"));
    let want: Vec<String> = CENTS.iter().map(|&c| (c < 6).to_string()).collect();
    assert_eq!(v, want);
    let (_, v) = typed(&format!(
        "SELECT p BETWEEN 0.05 AND 19.99 AS r FROM {PRICES}"
    ));
    let want: Vec<String> = CENTS
        .iter()
        .map(|&c| (5..=1999).contains(&c).to_string())
        .collect();
    assert_eq!(v, want);
}

#[test]
fn sums_stay_exact_and_division_is_double() {
    let (ty, v) = typed(&format!("SELECT sum(p * q) AS r FROM {PRICES}"));
    assert_eq!(ty, DataType::Decimal128(38, 2));
    let total: i128 = CENTS
        .iter()
        .zip(QTY)
        .map(|(&c, q)| i128::from(c) * i128::from(q))
        .sum();
    assert_eq!(v, vec![text(total, 2)]);
    let (ty, v) = typed(&format!("SELECT sum(p) / sum(q) AS r FROM {PRICES}"));
    assert_eq!(ty, DataType::Float64);
    let want = CENTS.iter().sum::<i64>() as f64 / 100.0 / QTY.iter().sum::<i64>() as f64;
    let got: f64 = v[0].parse().unwrap();
    assert!((got - want).abs() < 1e-12 * want, "{got} vs {want}");
    let (ty, _) = typed(&format!("SELECT avg(p) AS r FROM {PRICES}"));
    assert_eq!(ty, DataType::Float64);
}

#[test]
fn casts_to_decimal_check_their_type_and_range() {
    let (ty, v) = typed("SELECT CAST('12.345' AS DECIMAL(10, 3)) AS r");
    assert_eq!(ty, DataType::Decimal128(10, 3));
    assert_eq!(v, vec!["12.345"]);
    let (ty, _) = typed("SELECT CAST(1 AS NUMERIC(50, 10)) AS r");
    assert_eq!(ty, DataType::Decimal256(50, 10));
    let (ty, _) = typed("SELECT CAST(1 AS DECIMAL) AS r");
    assert_eq!(ty, DataType::Decimal128(18, 3));
    let c = ctx();
    let e = error_of(
        c.sql("SELECT CAST(1 AS DECIMAL(80, 2)) AS r")
            .and_then(|l| l.collect()),
        "cast",
    );
    assert!(e.contains("DECIMAL(80, 2)") && e.contains("line 1"), "{e}");
    let e = error_of(
        c.sql("SELECT CAST(p AS DECIMAL(3, 2)) AS r FROM items")
            .and_then(|l| l.collect()),
        "cast",
    );
    assert!(!e.is_empty(), "{e}");
}

#[test]
fn decimals_are_group_join_and_sort_keys() {
    let both = "(SELECT CAST(p AS DECIMAL(15, 2)) AS p FROM items \
                UNION ALL SELECT CAST(p AS DECIMAL(15, 2)) AS p FROM items) AS x";
    let t = query(&format!(
        "SELECT p, count(*) AS n FROM {both} GROUP BY p ORDER BY p DESC"
    ));
    let mut sorted = CENTS.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let want: Vec<String> = sorted.iter().map(|&c| text(i128::from(c), 2)).collect();
    assert_eq!(strings(&t, "p"), want);
    assert_eq!(strings(&t, "n"), vec!["2"; CENTS.len()]);
    let t = query(
        "SELECT a.q AS q FROM (SELECT CAST(p AS DECIMAL(15, 2)) AS p, q FROM items) AS a \
         JOIN (SELECT CAST(p AS DECIMAL(15, 2)) AS p2 FROM items) AS b ON a.p = b.p2 ORDER BY q",
    );
    let mut q = QTY.to_vec();
    q.sort_unstable();
    let want: Vec<String> = q.iter().map(|v| v.to_string()).collect();
    assert_eq!(strings(&t, "q"), want);
}
