//! Runs the newcomer example (`examples/newcomer.rs`, the same code) on a
//! generated data set and checks its answers against a naive reference
//! computed from the CSV text.

use std::collections::BTreeMap;

use parframe::arrow::array::cast::AsArray;
use parframe::arrow::array::types::Float64Type;
use parframe::arrow::cast::cast;
use parframe::arrow::schema::DataType;

#[path = "../../examples/newcomer.rs"]
#[allow(dead_code)]
mod example;

fn f64s(t: &parframe::Table, name: &str) -> Vec<Option<f64>> {
    let a = cast(&t.column(name).unwrap(), &DataType::Float64).unwrap();
    a.as_primitive::<Float64Type>().iter().collect()
}

fn strs(t: &parframe::Table, name: &str) -> Vec<String> {
    let a = cast(&t.column(name).unwrap(), &DataType::Utf8).unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|s| s.unwrap_or("").to_string())
        .collect()
}

/// Linear-interpolation quantile of sorted values (polars' default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[test]
fn the_newcomer_job_matches_a_naive_reference() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("out"));
    example::generate(&data, 3_000).unwrap();
    let (by_carrier, busiest) = example::run(&data, &out).unwrap();

    // The reference: the flights kept (air_time present), by airline.
    let text = std::fs::read_to_string(data.join("flights.csv")).unwrap();
    let names = BTreeMap::from([
        ("AA", "American Airlines Inc."),
        ("B6", "JetBlue Airways"),
        ("DL", "Delta Air Lines Inc."),
        ("UA", "United Air Lines Inc."),
    ]);
    let airports = BTreeMap::from([
        ("ATL", "Hartsfield Jackson Atlanta Intl"),
        ("BOS", "General Edward Lawrence Logan Intl"),
        ("LAX", "Los Angeles Intl"),
        ("MIA", "Miami Intl"),
        ("ORD", "Chicago Ohare Intl"),
    ]);
    let mut per_airline: BTreeMap<&str, (u64, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut routes: BTreeMap<(String, String), u64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (arr, carrier, origin, dest, air, dist) = (f[4], f[5], f[6], f[7], f[8], f[9]);
        if air == "NA" {
            continue;
        }
        let e = per_airline.entry(names[carrier]).or_default();
        e.0 += 1;
        if arr != "NA" {
            e.1.push(arr.parse().unwrap());
        }
        e.2.push(dist.parse::<f64>().unwrap() / air.parse::<f64>().unwrap() * 60.0);
        *routes
            .entry((origin.to_string(), airports[dest].to_string()))
            .or_default() += 1;
    }
    let mut want: Vec<_> = per_airline.into_iter().collect();
    want.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));

    assert_eq!(
        strs(&by_carrier, "name"),
        want.iter().map(|w| w.0.to_string()).collect::<Vec<_>>()
    );
    let flights = f64s(&by_carrier, "flights");
    let (median, p90) = (
        f64s(&by_carrier, "median_delay"),
        f64s(&by_carrier, "p90_delay"),
    );
    let (late, speed) = (
        f64s(&by_carrier, "share_late"),
        f64s(&by_carrier, "mean_speed"),
    );
    for (i, (_, (n, delays, speeds))) in want.iter().enumerate() {
        let mut sorted = delays.clone();
        sorted.sort_by(f64::total_cmp);
        let close =
            |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9 * b.abs().max(1.0));
        assert_eq!(flights[i], Some(*n as f64));
        assert!(close(median[i], quantile(&sorted, 0.5)), "{:?}", median[i]);
        assert!(close(p90[i], quantile(&sorted, 0.9)), "{:?}", p90[i]);
        let share = delays.iter().filter(|d| **d > 15.0).count() as f64 / delays.len() as f64;
        assert!(close(late[i], share), "{:?} vs {share}", late[i]);
        let mean = speeds.iter().sum::<f64>() / speeds.len() as f64;
        assert!(close(speed[i], mean), "{:?} vs {mean}", speed[i]);
    }

    // The window question: each origin's three busiest destinations.
    let mut by_origin: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for ((o, a), n) in routes {
        by_origin.entry(o).or_default().push((n, a));
    }
    let mut want_rows = Vec::new();
    for (o, mut v) in by_origin {
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (rank, (n, a)) in v.into_iter().take(3).enumerate() {
            want_rows.push((o.clone(), a, n, rank as u64 + 1));
        }
    }
    let (o, a, n, r) = (
        strs(&busiest, "origin"),
        strs(&busiest, "airport"),
        f64s(&busiest, "n"),
        f64s(&busiest, "rank"),
    );
    let got: Vec<_> = (0..busiest.num_rows())
        .map(|i| {
            (
                o[i].clone(),
                a[i].clone(),
                n[i].unwrap_or(-1.0) as u64,
                r[i].unwrap_or(-1.0) as u64,
            )
        })
        .collect();
    assert_eq!(got, want_rows);

    // The outputs: a CSV and one Parquet directory per origin.
    assert!(out.join("by_carrier.csv").is_file());
    for origin in ["EWR", "JFK", "LGA"] {
        assert!(
            out.join("busiest")
                .join(format!("origin={origin}"))
                .is_dir()
        );
    }
}
