//! Row-level apply against a hand-written loop (and polars' vectorised
//! expression with `--features polars`): haversine distance over four f64
//! columns.
//!
//! `cargo bench -p parframe-bench --bench apply` (add `--features polars`
//! for the polars line). Set `PARFRAME_BENCH_ROWS` to change the size
//! (default 10 million). Prints the ratios at the end.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use parframe::Context;
use parframe_bench::{coordinates, haversine, haversine_hand_loop};

fn rows() -> usize {
    std::env::var("PARFRAME_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(10_000_000, |v| v as usize)
}

const CHUNK: usize = 128 * 1024;

fn bench_apply(c: &mut Criterion) {
    let n = rows();
    let table = coordinates(n, CHUNK, 42).unwrap();
    let mut g = c.benchmark_group("haversine");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("hand_loop_1t", |b| {
        b.iter(|| black_box(haversine_hand_loop(&table)))
    });
    for threads in [1, 2] {
        let ctx = Context::builder()
            .threads(threads)
            .chunk_rows(CHUNK)
            .build()
            .unwrap();
        let lf = ctx
            .lazy(table.clone())
            .apply(
                "km",
                ["lat1", "lon1", "lat2", "lon2"],
                |(a, b, c, d): (f64, f64, f64, f64)| haversine(a, b, c, d),
            )
            .unwrap()
            .select([parframe::col("km")])
            .unwrap();
        g.bench_function(format!("apply_{threads}t"), |b| {
            b.iter(|| black_box(lf.collect().unwrap()))
        });
    }
    #[cfg(feature = "polars")]
    {
        let df = polars_side::frame(&table);
        g.bench_function("polars_expr", |b| {
            b.iter(|| black_box(polars_side::haversine(&df)))
        });
    }
    g.finish();
}

#[cfg(feature = "polars")]
mod polars_side {
    use arrow_array::Float64Array;
    use parframe::Table;
    use polars::prelude::*;

    pub fn frame(t: &Table) -> DataFrame {
        let cols: Vec<Column> = ["lat1", "lon1", "lat2", "lon2"]
            .iter()
            .map(|n| {
                let a = t.column(n).unwrap();
                let a = a.as_any().downcast_ref::<Float64Array>().unwrap();
                Column::new((*n).into(), a.values().to_vec())
            })
            .collect();
        DataFrame::new(t.num_rows(), cols).unwrap()
    }

    pub fn haversine(df: &DataFrame) -> DataFrame {
        let rad = |c: &str| col(c) * lit(std::f64::consts::PI / 180.0);
        let half = |e: Expr| (e / lit(2.0)).sin();
        let a = half(rad("lat2") - rad("lat1")).pow(2)
            + rad("lat1").cos() * rad("lat2").cos() * half(rad("lon2") - rad("lon1")).pow(2);
        let km = lit(2.0 * parframe_bench::EARTH_RADIUS_KM) * a.sqrt().arcsin();
        df.clone()
            .lazy()
            .select([km.alias("km")])
            .collect()
            .unwrap()
    }
}

fn estimate(name: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let candidates = [
        format!("{dir}/criterion/haversine/{name}/new/estimates.json"),
        format!("../{dir}/criterion/haversine/{name}/new/estimates.json"),
    ];
    for p in candidates {
        if let Ok(s) = std::fs::read_to_string(&p) {
            // {"mean":{"confidence_interval":...,"point_estimate":123.4,...
            let i = s.find("\"point_estimate\":")?;
            let rest = &s[i + 17..];
            let end = rest.find([',', '}'])?;
            return rest[..end].trim().parse().ok();
        }
    }
    None
}

fn print_ratios() {
    let hand = estimate("hand_loop_1t");
    let a1 = estimate("apply_1t");
    let a2 = estimate("apply_2t");
    let pl = estimate("polars_expr");
    println!(
        "\nhaversine over {} rows (criterion mean estimates):",
        rows()
    );
    if let (Some(h), Some(a1)) = (hand, a1) {
        println!("  apply 1 thread / hand loop      = {:.3}x", a1 / h);
    }
    if let (Some(a1), Some(a2)) = (a1, a2) {
        println!("  speed-up 2 threads over 1       = {:.3}x", a1 / a2);
    }
    if let (Some(a2), Some(p)) = (a2, pl) {
        println!("  apply 2 threads / polars expr   = {:.3}x", a2 / p);
    }
}

criterion_group!(benches, bench_apply);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios();
}
