//! Decimals, temporal values, string and null functions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, Date32Array, Decimal128Array, Int32Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray, StringViewArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use proptest::prelude::*;

use super::*;

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = cols.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn dec(values: Vec<Option<i128>>, p: u8, s: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values)
            .with_precision_and_scale(p, s)
            .unwrap(),
    )
}

fn money() -> RecordBatch {
    batch(vec![
        // 17.00, 36.00, 8.00, null
        (
            "qty",
            dec(vec![Some(1700), Some(3600), Some(800), None], 15, 2),
        ),
        // 0.04, 0.06, 0.10, 0.05
        (
            "disc",
            dec(vec![Some(4), Some(6), Some(10), Some(5)], 15, 2),
        ),
        (
            "price",
            dec(
                vec![Some(2_116_823), Some(4_590_000), Some(99), Some(1)],
                15,
                2,
            ),
        ),
        ("i", Arc::new(Int32Array::from(vec![1, 2, 3, 4]))),
        (
            "f",
            Arc::new(arrow_array::Float64Array::from(vec![0.5, 1.0, 1.5, 2.0])),
        ),
    ])
}

fn decimals(a: &ArrayRef) -> Vec<Option<i128>> {
    a.as_primitive::<Decimal128Type>().iter().collect()
}

fn ty(b: &RecordBatch, e: &Expr) -> DataType {
    e.to_field(b.schema_ref()).unwrap().data_type().clone()
}

#[test]
fn decimal_arithmetic_types_follow_the_sql_rules() {
    let b = money();
    assert_eq!(
        ty(&b, &(col("qty") + col("disc"))),
        DataType::Decimal128(16, 2)
    );
    assert_eq!(
        ty(&b, &(col("qty") * col("disc"))),
        DataType::Decimal128(30, 4)
    );
    assert_eq!(ty(&b, &(lit(1) - col("disc"))), DataType::Decimal128(16, 2));
    // True division: decimals divide as Float64 (DuckDB).
    assert_eq!(ty(&b, &(col("qty") / col("disc"))), DataType::Float64);
    assert_eq!(
        ty(&b, &(col("qty") + col("i"))),
        DataType::Decimal128(16, 2)
    );
    assert_eq!(ty(&b, &(col("qty") * col("f"))), DataType::Float64);
    assert_eq!(ty(&b, &(-col("qty"))), DataType::Decimal128(15, 2));
    // TPC-H Q1: price * (1 - disc) * (1 + tax).
    let e = col("price") * (lit(1) - col("disc")) * (lit(1) + col("disc"));
    assert_eq!(ty(&b, &e), DataType::Decimal128(38, 6));
}

#[test]
fn decimal_arithmetic_values() {
    let b = money();
    let out = (col("price") * (lit(1) - col("disc")))
        .evaluate(&b)
        .unwrap();
    // 21168.23 * 0.96 = 20321.5008
    assert_eq!(
        decimals(&out),
        vec![Some(203_215_008), Some(431_460_000), Some(8910), Some(95)]
    );
    let out = (col("qty") + lit(0.5)).evaluate(&b).unwrap();
    assert_eq!(
        decimals(&out),
        vec![Some(1750), Some(3650), Some(850), None]
    );
    let out = (col("qty") / lit(3)).evaluate(&b).unwrap();
    assert_eq!(out.data_type(), &DataType::Float64);
    let q = out
        .as_primitive::<arrow_array::types::Float64Type>()
        .value(0);
    assert!((q - 17.0 / 3.0).abs() < 1e-12, "{q}");
}

#[test]
fn decimal_comparisons_with_literals_are_exact() {
    let b = money();
    let mask =
        |e: Expr| -> Vec<Option<bool>> { e.evaluate(&b).unwrap().as_boolean().iter().collect() };
    assert_eq!(
        mask(col("qty").lt(lit(24))),
        vec![Some(true), Some(false), Some(true), None]
    );
    // 0.06 is not rounded through a binary float: BETWEEN is exact at both ends.
    assert_eq!(
        mask(col("disc").between(lit(0.05), lit(0.07))),
        vec![Some(false), Some(true), Some(false), Some(true)]
    );
    assert_eq!(
        mask(col("disc").between(lit(0.06 - 0.01), lit(0.06 + 0.01))),
        vec![Some(false), Some(true), Some(false), Some(true)]
    );
    assert_eq!(
        mask(col("disc").eq(lit(0.1))),
        vec![Some(false), Some(false), Some(true), Some(false)]
    );
    // A literal with more digits than the column compares at its own scale.
    assert_eq!(
        mask(col("disc").gt(lit(0.055))),
        vec![Some(false), Some(true), Some(true), Some(false)]
    );
    assert_eq!(
        mask(col("disc").gt(col("f"))),
        vec![Some(false), Some(false), Some(false), Some(false)]
    );
}

#[test]
fn decimal_casts_and_overflow() {
    let b = money();
    let out = col("qty").cast(DataType::Utf8).evaluate(&b).unwrap();
    assert_eq!(out.as_string::<i32>().value(0), "17.00");
    let out = col("qty").cast(DataType::Float64).evaluate(&b).unwrap();
    assert_eq!(
        out.as_primitive::<arrow_array::types::Float64Type>()
            .value(1),
        36.0
    );
    let out = lit("12.345")
        .cast(DataType::Decimal128(10, 3))
        .evaluate(&b)
        .unwrap();
    assert_eq!(decimals(&out)[0], Some(12_345));
    let out = col("i")
        .cast(DataType::Decimal128(5, 2))
        .evaluate(&b)
        .unwrap();
    assert_eq!(decimals(&out)[3], Some(400));
    // Values at the 38-digit cap: overflow is an error naming the expression.
    let big = batch(vec![("x", dec(vec![Some(10i128.pow(37) * 9)], 38, 0))]);
    let e = col("x") + col("x");
    let err = e.evaluate(&big).unwrap_err().to_string();
    assert!(
        err.contains("overflow") && err.contains("col(\"x\")"),
        "{err}"
    );
    let e = col("x") * col("x");
    let err = e.evaluate(&big).unwrap_err().to_string();
    assert!(err.contains("overflow"), "{err}");
    // Invalid literal decimals are plan-time errors.
    let err = lit(ScalarValue::Decimal128(1, 40, 0))
        .to_field(big.schema_ref())
        .unwrap_err();
    assert!(err.to_string().contains("not a valid decimal"), "{err}");
}

#[test]
fn decimal_literals_parse_exactly() {
    assert_eq!(
        ScalarValue::decimal_from_str("-12.340").unwrap(),
        ScalarValue::Decimal128(-12_340, 5, 3)
    );
    assert_eq!(
        ScalarValue::decimal_from_str("0.05").unwrap(),
        ScalarValue::Decimal128(5, 2, 2)
    );
    assert!(ScalarValue::decimal_from_str("1e5").is_err());
    assert_eq!(
        ScalarValue::Decimal128(1234, 5, 2).to_string(),
        "decimal(\"12.34\")"
    );
}

fn pow10(s: u32) -> i128 {
    10i128.pow(s)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `+ - *` of decimals against a naive i128 computation at the result
    /// scale, with nulls; results over the result precision are errors.
    #[test]
    fn decimal_arith_matches_i128(
        a in proptest::collection::vec(proptest::option::weighted(0.9, -10i128.pow(12)..10i128.pow(12)), 1..20),
        b_seed in proptest::collection::vec(-10i128.pow(9)..10i128.pow(9), 20),
        s1 in 0i8..5, s2 in 0i8..5, op in 0u8..3,
    ) {
        let n = a.len();
        let bvals: Vec<Option<i128>> = b_seed[..n].iter().map(|v| Some(*v)).collect();
        let bt = batch(vec![("a", dec(a.clone(), 18, s1)), ("b", dec(bvals.clone(), 12, s2))]);
        let e = match op { 0 => col("a") + col("b"), 1 => col("a") - col("b"), _ => col("a") * col("b") };
        let out = e.evaluate(&bt).unwrap();
        let (p, s) = match out.data_type() { DataType::Decimal128(p, s) => (*p, *s), t => panic!("{t}") };
        let want: Vec<Option<i128>> = a.iter().zip(&bvals).map(|(x, y)| {
            let (x, y) = ((*x)?, (*y)?);
            Some(match op {
                0 => x * pow10((s - s1) as u32) + y * pow10((s - s2) as u32),
                1 => x * pow10((s - s1) as u32) - y * pow10((s - s2) as u32),
                _ => x * y,
            })
        }).collect();
        prop_assert_eq!(decimals(&out), want.clone());
        for v in want.into_iter().flatten() {
            prop_assert!(v.unsigned_abs() < 10u128.pow(u32::from(p)));
        }
    }

    /// Comparisons of decimals of different scales against i128 at a common scale.
    #[test]
    fn decimal_compare_matches_i128(
        a in proptest::collection::vec(proptest::option::of(-10i128.pow(8)..10i128.pow(8)), 1..20),
        b in -10i128.pow(8)..10i128.pow(8),
        s1 in 0i8..4, s2 in 0i8..4,
    ) {
        let bt = batch(vec![("a", dec(a.clone(), 12, s1))]);
        let e = col("a").lt(lit(ScalarValue::Decimal128(b, 10, s2)));
        let out = e.evaluate(&bt).unwrap();
        let s = s1.max(s2);
        let want: Vec<Option<bool>> = a.iter().map(|x| x.map(|x| x * pow10((s - s1) as u32) < b * pow10((s - s2) as u32))).collect();
        prop_assert_eq!(out.as_boolean().iter().collect::<Vec<_>>(), want);
    }
}

fn days(y: i32, m: u32, d: u32) -> i32 {
    (chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
        - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
    .num_days() as i32
}

fn ts_batch() -> RecordBatch {
    let micros = |y, mo, d, h, mi, s| -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
            .and_utc()
            .timestamp_micros()
    };
    batch(vec![
        (
            "d",
            Arc::new(Date32Array::from(vec![
                Some(days(1998, 12, 1)),
                Some(days(2024, 2, 29)),
                None,
            ])),
        ),
        (
            "t",
            Arc::new(
                TimestampMicrosecondArray::from(vec![
                    Some(micros(2013, 1, 1, 10, 30, 15)),
                    Some(micros(2013, 6, 15, 23, 0, 0)),
                    None,
                ])
                .with_timezone("UTC"),
            ),
        ),
    ])
}

#[test]
fn date_arithmetic_and_parts() {
    let b = ts_batch();
    // TPC-H Q1: date '1998-12-01' - interval '90' day.
    let e = col("d") - interval(0, 90, 0);
    let out = e.evaluate(&b).unwrap();
    assert_eq!(out.data_type(), &DataType::Date32);
    assert_eq!(
        out.as_primitive::<arrow_array::types::Date32Type>()
            .value(0),
        days(1998, 9, 2)
    );
    let e = col("d") + interval(1, 0, 0);
    let out = e.evaluate(&b).unwrap();
    assert_eq!(
        out.as_primitive::<arrow_array::types::Date32Type>()
            .value(1),
        days(2024, 3, 29)
    );
    let e = col("d") + lit("1 year");
    let out = e.evaluate(&b).unwrap();
    assert_eq!(
        out.as_primitive::<arrow_array::types::Date32Type>()
            .value(1),
        days(2025, 2, 28)
    );
    let out = col("d").dt().year().evaluate(&b).unwrap();
    assert_eq!(
        out.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(),
        vec![Some(1998), Some(2024), None]
    );
    let out = col("t").dt().hour().evaluate(&b).unwrap();
    assert_eq!(out.as_primitive::<Int64Type>().value(0), 10);
    let out = col("d").dt().weekday().evaluate(&b).unwrap();
    // 1998-12-01 was a Tuesday, 2024-02-29 a Thursday (Sunday = 0).
    assert_eq!(out.as_primitive::<Int64Type>().value(0), 2);
    assert_eq!(out.as_primitive::<Int64Type>().value(1), 4);
    let out = col("d")
        .dt()
        .truncate(TimePart::Month)
        .evaluate(&b)
        .unwrap();
    assert_eq!(
        out.as_primitive::<arrow_array::types::Date32Type>()
            .value(1),
        days(2024, 2, 1)
    );
    let out = col("t")
        .dt()
        .truncate(TimePart::Month)
        .evaluate(&b)
        .unwrap();
    assert_eq!(
        out.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    let s = out.cast_str();
    assert_eq!(s[1].as_deref(), Some("2013-06-01T00:00:00Z"));
    // Comparisons with string literals parse to the column's type.
    let out = col("t")
        .gt_eq(lit("2013-06-01T00:00:00Z"))
        .evaluate(&b)
        .unwrap();
    assert_eq!(
        out.as_boolean().iter().collect::<Vec<_>>(),
        vec![Some(false), Some(true), None]
    );
    // timestamp - timestamp = duration; date - date = duration.
    let e = col("t") - col("t");
    assert_eq!(ty(&b, &e), DataType::Duration(TimeUnit::Microsecond));
    let e = col("d") - col("d");
    assert_eq!(ty(&b, &e), DataType::Duration(TimeUnit::Second));
    let out = make_date(lit(2024), lit(2), lit(29)).evaluate(&b).unwrap();
    assert_eq!(
        out.as_primitive::<arrow_array::types::Date32Type>()
            .value(0),
        days(2024, 2, 29)
    );
    assert!(make_date(lit(2023), lit(2), lit(29)).evaluate(&b).is_err());
    let out = col("t").dt().strftime("%Y/%m/%d %H").evaluate(&b).unwrap();
    assert_eq!(out.as_string::<i32>().value(0), "2013/01/01 10");
    let out = lit("2013-01-01 10:30")
        .str()
        .strptime("%Y-%m-%d %H:%M")
        .evaluate(&b)
        .unwrap();
    assert_eq!(
        out.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    let out = col("t")
        .dt()
        .convert_time_zone("Europe/Oslo")
        .evaluate(&b)
        .unwrap();
    assert_eq!(
        out.cast_str()[0].as_deref(),
        Some("2013-01-01T11:30:15+01:00")
    );
    let err = col("d").dt().hour().and(lit(true)).to_field(b.schema_ref());
    assert!(err.is_err());
}

trait CastStr {
    fn cast_str(&self) -> Vec<Option<String>>;
}
impl CastStr for ArrayRef {
    fn cast_str(&self) -> Vec<Option<String>> {
        let s = arrow_cast::cast(self, &DataType::Utf8).unwrap();
        s.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Extracted parts of dates agree with chrono.
    #[test]
    fn date_parts_match_chrono(d in proptest::collection::vec(proptest::option::of(-50_000i32..50_000), 1..30)) {
        let b = batch(vec![("d", Arc::new(Date32Array::from(d.clone())) as ArrayRef)]);
        use chrono::Datelike;
        let date = |v: i32| chrono::NaiveDate::from_num_days_from_ce_opt(v + 719_163).unwrap();
        let get = |e: Expr| -> Vec<Option<i64>> { e.evaluate(&b).unwrap().as_primitive::<Int64Type>().iter().collect() };
        prop_assert_eq!(get(col("d").dt().year()), d.iter().map(|v| v.map(|v| i64::from(date(v).year()))).collect::<Vec<_>>());
        prop_assert_eq!(get(col("d").dt().month()), d.iter().map(|v| v.map(|v| i64::from(date(v).month()))).collect::<Vec<_>>());
        prop_assert_eq!(get(col("d").dt().ordinal_day()), d.iter().map(|v| v.map(|v| i64::from(date(v).ordinal()))).collect::<Vec<_>>());
        prop_assert_eq!(get(col("d").dt().week()), d.iter().map(|v| v.map(|v| i64::from(date(v).iso_week().week()))).collect::<Vec<_>>());
        let plus = (col("d") + interval(1, 3, 0)).evaluate(&b).unwrap();
        let want: Vec<Option<i32>> = d.iter().map(|v| v.map(|v| {
            let x = date(v).checked_add_months(chrono::Months::new(1)).unwrap() + chrono::Duration::days(3);
            x.num_days_from_ce() - 719_163
        })).collect();
        prop_assert_eq!(plus.as_primitive::<arrow_array::types::Date32Type>().iter().collect::<Vec<_>>(), want);
    }

    /// String functions agree with `str` methods, over all three string types, with nulls.
    #[test]
    fn strings_match_str_methods(
        v in proptest::collection::vec(proptest::option::weighted(0.85, "[a-cé ]{0,8}"), 1..12),
        start in -3i64..6, n in 0i64..6, kind in 0u8..3,
    ) {
        let arr: ArrayRef = match kind {
            0 => Arc::new(StringArray::from(v.clone())),
            1 => Arc::new(LargeStringArray::from(v.clone())),
            _ => Arc::new(StringViewArray::from(v.clone())),
        };
        let b = batch(vec![("s", arr)]);
        let strs = |e: Expr| -> Vec<Option<String>> {
            let out = e.evaluate(&b).unwrap();
            let out = arrow_cast::cast(&out, &DataType::Utf8).unwrap();
            out.as_string::<i32>().iter().map(|x| x.map(str::to_string)).collect()
        };
        let map = |f: &dyn Fn(&str) -> String| -> Vec<Option<String>> { v.iter().map(|x| x.as_deref().map(f)).collect() };
        prop_assert_eq!(strs(col("s").str().replace(lit("a"), lit("xy"))), map(&|s| s.replace('a', "xy")));
        prop_assert_eq!(strs(col("s").str().reverse()), map(&|s| s.chars().rev().collect()));
        prop_assert_eq!(strs(col("s").str().trim()), map(&|s| s.trim().to_string()));
        prop_assert_eq!(strs(col("s").str().ltrim()), map(&|s| s.trim_start().to_string()));
        prop_assert_eq!(strs(col("s").str().left(lit(n))), map(&|s| s.chars().take(n as usize).collect()));
        prop_assert_eq!(strs(col("s").str().substring(lit(start), Some(lit(n)))), map(&|s| {
            // SQL: characters at 1-based positions [start, start + n).
            s.chars().enumerate().filter(|(i, _)| { let p = *i as i64 + 1; p >= start && p < start + n }).map(|(_, c)| c).collect()
        }));
        prop_assert_eq!(strs(col("s").concat(lit("!"))), map(&|s| format!("{s}!")));
        prop_assert_eq!(strs(col("s").str().split_part(lit(" "), lit(2))), map(&|s| s.split(' ').nth(1).unwrap_or("").to_string()));
        let lists = |e: Expr| -> Vec<Option<Vec<String>>> {
            let out = e.evaluate(&b).unwrap();
            out.as_list::<i32>().iter().map(|l| l.map(|l| {
                l.as_string::<i32>().iter().map(|x| x.unwrap_or_default().to_string()).collect()
            })).collect()
        };
        let fields = |f: &dyn Fn(&str) -> Vec<String>| -> Vec<Option<Vec<String>>> { v.iter().map(|x| x.as_deref().map(f)).collect() };
        prop_assert_eq!(lists(col("s").str().split(lit(" "))), fields(&|s| s.split(' ').map(str::to_string).collect()));
        prop_assert_eq!(lists(col("s").str().split(lit(""))), fields(&|s| s.chars().map(String::from).collect()));
        prop_assert_eq!(lists(col("s").str().split(lit(ScalarValue::Null))), vec![None; v.len()]);
        let pos = col("s").str().strpos(lit("b")).evaluate(&b).unwrap();
        let want: Vec<Option<i64>> = v.iter().map(|x| x.as_deref().map(|s| s.find('b').map_or(0, |i| s[..i].chars().count() as i64 + 1))).collect();
        prop_assert_eq!(pos.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(), want);
        let like = col("s").like("%a_c%").evaluate(&b).unwrap();
        let re = regex::Regex::new("^.*a.c.*$").unwrap();
        let want: Vec<Option<bool>> = v.iter().map(|x| x.as_deref().map(|s| re.is_match(s))).collect();
        prop_assert_eq!(like.as_boolean().iter().collect::<Vec<_>>(), want);
    }
}

#[test]
fn like_patterns_of_tpch_and_escapes() {
    let b = batch(vec![(
        "c",
        Arc::new(StringArray::from(vec![
            Some("blithely special requests sleep"),
            Some("PROMO BRUSHED TIN"),
            Some("LARGE POLISHED BRASS"),
            Some("forest green"),
            Some("100% cotton_x"),
            None,
        ])) as ArrayRef,
    )]);
    let m =
        |e: Expr| -> Vec<Option<bool>> { e.evaluate(&b).unwrap().as_boolean().iter().collect() };
    let t = Some(true);
    let f = Some(false);
    assert_eq!(
        m(col("c").like("%special%requests%")),
        vec![t, f, f, f, f, None]
    );
    assert_eq!(m(col("c").like("PROMO%")), vec![f, t, f, f, f, None]);
    assert_eq!(m(col("c").like("%BRASS")), vec![f, f, t, f, f, None]);
    assert_eq!(m(col("c").like("forest%")), vec![f, f, f, t, f, None]);
    assert_eq!(m(col("c").ilike("FOREST%")), vec![f, f, f, t, f, None]);
    assert_eq!(
        m(col("c").like_expr(lit("%!%%!_x"), false, Some('!'))),
        vec![f, f, f, f, t, None]
    );
    assert_eq!(m(col("c").like("%\\%%")), vec![f, f, f, f, t, None]);
}

#[test]
fn regexp_functions() {
    let b = batch(vec![(
        "s",
        Arc::new(StringArray::from(vec![
            Some("abc123def45"),
            Some("xyz"),
            None,
        ])) as ArrayRef,
    )]);
    let out = col("s")
        .str()
        .regexp_replace("[0-9]+", "#")
        .evaluate(&b)
        .unwrap();
    assert_eq!(
        out.as_string::<i32>().iter().collect::<Vec<_>>(),
        vec![Some("abc#def#"), Some("xyz"), None]
    );
    let out = col("s")
        .str()
        .regexp_extract("([a-z]+)([0-9]+)", 2)
        .evaluate(&b)
        .unwrap();
    assert_eq!(
        out.as_string::<i32>().iter().collect::<Vec<_>>(),
        vec![Some("123"), None, None]
    );
    let out = col("s").str().regexp_like("^x").evaluate(&b).unwrap();
    assert_eq!(
        out.as_boolean().iter().collect::<Vec<_>>(),
        vec![Some(false), Some(true), None]
    );
    let err = col("s")
        .str()
        .regexp_like("(")
        .to_field(b.schema_ref())
        .unwrap_err();
    assert!(
        err.to_string().contains("invalid regular expression"),
        "{err}"
    );
    let out = col("s").str().lpad(lit(5), lit("*")).evaluate(&b).unwrap();
    assert_eq!(
        out.as_string::<i32>().iter().collect::<Vec<_>>(),
        vec![Some("abc12"), Some("**xyz"), None]
    );
    let out = concat_ws(lit("-"), [col("s"), lit("k")])
        .evaluate(&b)
        .unwrap();
    assert_eq!(
        out.as_string::<i32>().iter().collect::<Vec<_>>(),
        vec![Some("abc123def45-k"), Some("xyz-k"), Some("k")]
    );
    let err = col("s")
        .str()
        .substring(lit("x"), None)
        .to_field(b.schema_ref())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("substring needs (string, integer[, integer]), got (Utf8, Utf8)"),
        "{err}"
    );
}

#[test]
fn null_functions_and_in_lists() {
    let b = batch(vec![
        (
            "a",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3), None])) as ArrayRef,
        ),
        (
            "b",
            Arc::new(Int64Array::from(vec![Some(1), Some(2), None, None])) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![
                Some("x"),
                Some("y"),
                None,
                Some("z"),
            ])) as ArrayRef,
        ),
    ]);
    let ints = |e: Expr| -> Vec<Option<i64>> {
        e.evaluate(&b)
            .unwrap()
            .as_primitive::<Int64Type>()
            .iter()
            .collect()
    };
    let m =
        |e: Expr| -> Vec<Option<bool>> { e.evaluate(&b).unwrap().as_boolean().iter().collect() };
    assert_eq!(
        ints(coalesce([col("a"), col("b"), lit(0)])),
        vec![Some(1), Some(2), Some(3), Some(0)]
    );
    assert_eq!(
        ints(ifnull(col("a"), lit(9))),
        vec![Some(1), Some(9), Some(3), Some(9)]
    );
    assert_eq!(
        ints(nullif(col("a"), col("b"))),
        vec![None, None, Some(3), None]
    );
    assert_eq!(
        m(col("a").is_distinct_from(col("b"))),
        vec![Some(false), Some(true), Some(true), Some(false)]
    );
    assert_eq!(
        m(col("a").is_not_distinct_from(col("b"))),
        vec![Some(true), Some(false), Some(false), Some(true)]
    );
    assert_eq!(
        m(col("a").is_in([3i64, 5])),
        vec![Some(false), None, Some(true), None]
    );
    assert_eq!(
        m(col("a").is_not_in([3i64, 5])),
        vec![Some(true), None, Some(false), None]
    );
    assert_eq!(
        m(col("s").is_in(["y", "z"])),
        vec![Some(false), Some(true), None, Some(true)]
    );
    // With a null in the list, "not found" is unknown.
    assert_eq!(
        m(col("a").is_in([Some(3i64), None])),
        vec![None, None, Some(true), None]
    );
    // A big list is one hash set, not a chain of ORs.
    let e = col("a").is_in((0..8000i64).map(|v| v * 3));
    assert_eq!(m(e.clone()), vec![Some(false), None, Some(true), None]);
    assert!(e.to_string().len() < 200);
    let err = col("s").is_in([1i64]).to_field(b.schema_ref()).unwrap_err();
    assert!(
        err.to_string().contains("cannot compare Utf8 with Int64"),
        "{err}"
    );
}

#[test]
fn decimals_in_lists() {
    let b = money();
    let m =
        |e: Expr| -> Vec<Option<bool>> { e.evaluate(&b).unwrap().as_boolean().iter().collect() };
    assert_eq!(
        m(col("disc").is_in([0.06, 0.1, 0.055])),
        vec![Some(false), Some(true), Some(true), Some(false)]
    );
}

#[test]
fn try_cast_is_null_where_cast_fails() {
    let b = batch(vec![(
        "s",
        Arc::new(StringArray::from(vec![
            Some("7"),
            Some("x"),
            None,
            Some("300"),
        ])) as ArrayRef,
    )]);
    let out = col("s").try_cast(DataType::Int64).evaluate(&b).unwrap();
    let got: Vec<Option<i64>> = out.as_primitive::<Int64Type>().iter().collect();
    assert_eq!(got, vec![Some(7), None, None, Some(300)]);
    // Out of range: null, where the strict cast is an error.
    let out = col("s").try_cast(DataType::Int8).evaluate(&b).unwrap();
    assert_eq!(out.null_count(), 3);
    assert!(col("s").cast(DataType::Int64).evaluate(&b).is_err());
    // Always nullable, whatever the input.
    let schema = Schema::new(vec![Field::new("i", DataType::Int64, false)]);
    let f = col("i").try_cast(DataType::Int8).to_field(&schema).unwrap();
    assert!(f.is_nullable());
}

/// `IN` of a value drawn from a small domain (so lists hit), by a naive
/// reference: SQL's three-valued logic over arrow's equality (floats by
/// their bits: `NaN` is in a list holding it, `-0.0` is not `0.0`).
fn naive_in<T: PartialEq>(
    rows: &[Option<T>],
    list: &[Option<T>],
    negated: bool,
    eq: impl Fn(&T, &T) -> bool,
) -> Vec<Option<bool>> {
    let has_null = list.iter().any(Option::is_none);
    rows.iter()
        .map(|r| {
            let r = r.as_ref()?;
            if list.iter().flatten().any(|l| eq(r, l)) {
                Some(!negated)
            } else if has_null {
                None
            } else {
                Some(negated)
            }
        })
        .collect()
}

fn in_expr(list: Vec<ScalarValue>, negated: bool) -> Expr {
    let e = col("x");
    if negated {
        e.is_not_in(list)
    } else {
        e.is_in(list)
    }
}

/// Evaluates `x IN list` over `array` sliced from `offset` (a non-zero
/// array offset is what the in-place byte reads must honour).
fn eval_in(
    array: ArrayRef,
    offset: usize,
    list: Vec<ScalarValue>,
    negated: bool,
) -> Vec<Option<bool>> {
    let b = batch(vec![("x", array)]);
    let b = b.slice(offset, b.num_rows() - offset);
    let out = in_expr(list, negated).evaluate(&b).unwrap();
    out.as_boolean().iter().collect()
}

proptest! {
    // Lists of 0..40 literals cross both probes' thresholds (compare
    // literal by literal, hash set).
    #[test]
    fn in_lists_of_integers_and_floats_match_a_naive_reference(
        rows in proptest::collection::vec(proptest::option::weighted(0.9, 0..48i64), 1..200),
        list in proptest::collection::vec(proptest::option::weighted(0.95, 0..48i64), 0..40),
        negated in any::<bool>(),
        offset in 0..3usize,
    ) {
        let offset = offset.min(rows.len() - 1);
        let want = naive_in(&rows[offset..], &list, negated, |a, b| a == b);
        let lits: Vec<ScalarValue> = list.iter().map(|v| ScalarValue::from(*v)).collect();
        let got = eval_in(Arc::new(Int64Array::from(rows.clone())), offset, lits, negated);
        prop_assert_eq!(&got, &want);
        let dates: Vec<Option<i32>> = rows.iter().map(|v| v.map(|v| v as i32)).collect();
        let lits: Vec<ScalarValue> = list
            .iter()
            .map(|v| v.map_or(ScalarValue::Null, |v| ScalarValue::Date32(v as i32)))
            .collect();
        let got = eval_in(Arc::new(Date32Array::from(dates)), offset, lits, negated);
        prop_assert_eq!(&got, &want);
        // Floats: the domain includes NaN and both zeros.
        let float = |v: i64| match v % 8 {
            0 => f64::NAN,
            1 => -0.0,
            2 => 0.0,
            _ => v as f64 / 4.0,
        };
        let frows: Vec<Option<f64>> = rows.iter().map(|v| v.map(float)).collect();
        let flist: Vec<Option<f64>> = list.iter().map(|v| v.map(float)).collect();
        let want = naive_in(&frows[offset..], &flist, negated, |a, b| a.to_bits() == b.to_bits());
        let lits: Vec<ScalarValue> = flist.iter().map(|v| ScalarValue::from(*v)).collect();
        let got = eval_in(Arc::new(arrow_array::Float64Array::from(frows.clone())), offset, lits, negated);
        prop_assert_eq!(&got, &want);
    }

    #[test]
    fn in_lists_of_strings_match_a_naive_reference(
        rows in proptest::collection::vec(proptest::option::weighted(0.9, 0..40u8), 1..200),
        list in proptest::collection::vec(proptest::option::weighted(0.95, 0..40u8), 0..30),
        negated in any::<bool>(),
        offset in 0..3usize,
        layout in 0..3usize,
    ) {
        let offset = offset.min(rows.len() - 1);
        // Short and long (not inlined in a view) strings.
        let text = |v: u8| if v.is_multiple_of(2) { format!("s{v}") } else { format!("a longer string number {v}") };
        let srows: Vec<Option<String>> = rows.iter().map(|v| v.map(text)).collect();
        let slist: Vec<Option<String>> = list.iter().map(|v| v.map(text)).collect();
        let want = naive_in(&srows[offset..], &slist, negated, |a, b| a == b);
        let array: ArrayRef = match layout {
            0 => Arc::new(StringArray::from(srows.clone())),
            1 => Arc::new(LargeStringArray::from(srows.clone())),
            _ => Arc::new(StringViewArray::from(srows.clone())),
        };
        let lits: Vec<ScalarValue> = slist.iter().map(|v| ScalarValue::from(v.clone())).collect();
        let got = eval_in(array, offset, lits, negated);
        prop_assert_eq!(&got, &want);
    }
}
