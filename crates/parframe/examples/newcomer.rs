//! The newcomer's ETL job, as a polars user would write it on day one:
//! flights CSV with `NA` nulls → a typed closure → two left joins →
//! group-bys with expression aggregates → a window question → CSV and a
//! hive-partitioned Parquet dataset, under a 64 MiB memory limit.
//!
//! `cargo run -p parframe --example newcomer -- [DATA_DIR] [OUT_DIR]`: reads
//! `flights.csv`, `airlines.csv` and `airports.csv` (nycflights13's columns)
//! from `DATA_DIR`, or generates a small synthetic set when none is given.
//! CI runs the same code (`crates/parframe/tests/it/newcomer.rs`);
//! `--generate DIR ROWS` only writes the synthetic set (for
//! `benches/scripts/newcomer.sh`, the same job against polars).
#![allow(missing_docs)]

use std::path::{Path, PathBuf};

use parframe::prelude::*;

/// The job: returns (carrier summary, busiest routes per origin).
pub fn run(data: &Path, out: &Path) -> Result<(Table, Table)> {
    let ctx = Context::builder().memory_limit(64 << 20).build()?;
    let csv = || CsvOptions::default().null_values(["NA"]);
    let flights = ctx
        .scan_csv(data.join("flights.csv"), csv())?
        .filter(col("air_time").is_not_null())?
        .with_column((col("distance") / col("air_time") * 60).alias("speed"))?
        .apply("status", ["arr_delay"], |d: Option<i64>| match d {
            Some(d) if d > 15 => "late",
            Some(_) => "on time",
            None => "diverted",
        })?;
    let airlines = ctx.scan_csv(data.join("airlines.csv"), csv())?;
    let airports = ctx
        .scan_csv(data.join("airports.csv"), csv())?
        .rename([("name", "airport")])?;
    let joined = flights
        .join(&airlines, ["carrier"], ["carrier"], JoinType::Left)?
        .join(&airports, ["dest"], ["faa"], JoinType::Left)?;

    let by_carrier = joined
        .group_by(["name"])
        .agg([
            count_rows().alias("flights"),
            col("arr_delay").median().alias("median_delay"),
            col("arr_delay").quantile(0.9).alias("p90_delay"),
            col("arr_delay").gt(15).mean().alias("share_late"),
            col("speed").mean().alias("mean_speed"),
        ])?
        .sort([SortKey::desc("flights"), SortKey::asc("name")])?;

    // Window question: each origin's three busiest destinations.
    let by_origin = Window::new()
        .partition_by(["origin"])
        .order_by([SortKey::desc("n"), SortKey::asc("airport")]);
    let busiest = joined
        .group_by(["origin", "airport"])
        .agg([
            count_rows().alias("n"),
            col("dep_delay").mean().alias("dep_delay"),
        ])?
        .with_window_columns([row_number().over(by_origin).alias("rank")])?
        .filter(col("rank").lt_eq(3))?
        .sort(["origin", "rank"])?;

    // Each plan runs once; the results are small, written from memory.
    let (by_carrier, busiest) = (by_carrier.collect()?, busiest.collect()?);
    std::fs::create_dir_all(out)?;
    write_csv(
        &by_carrier,
        out.join("by_carrier.csv"),
        &CsvWriteOptions::default(),
    )?;
    ctx.lazy(busiest.clone()).sink_parquet_partitioned(
        out.join("busiest"),
        &["origin"],
        Default::default(),
    )?;
    Ok((by_carrier, busiest))
}

/// A small synthetic nycflights13 (deterministic; `NA` for missing values).
pub fn generate(dir: &Path, rows: usize) -> Result<()> {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir)?;
    let (carriers, dests) = (
        ["AA", "B6", "DL", "UA"],
        ["ATL", "BOS", "LAX", "MIA", "ORD"],
    );
    let mut f =
        String::from("year,month,day,dep_delay,arr_delay,carrier,origin,dest,air_time,distance\n");
    let mut x: u64 = 7;
    for i in 0..rows {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (x >> 33) as i64;
        let (dep, arr) = (r % 60 - 10, r % 90 - 25);
        let arr = if i % 37 == 0 {
            "NA".to_string()
        } else {
            arr.to_string()
        };
        let air = if i % 53 == 0 {
            "NA".to_string()
        } else {
            (60 + r % 300).to_string()
        };
        let (c, d) = (carriers[(r % 4) as usize], dests[((r >> 3) % 5) as usize]);
        let o = ["JFK", "LGA", "EWR"][(r >> 7) as usize % 3];
        let _ = writeln!(
            f,
            "2013,{},{},{dep},{arr},{c},{o},{d},{air},{}",
            1 + i % 12,
            1 + i % 28,
            200 + r % 2500
        );
    }
    let io = |p: PathBuf, s: &str| std::fs::write(&p, s).map_err(|e| Error::io(p, e));
    io(dir.join("flights.csv"), &f)?;
    io(
        dir.join("airlines.csv"),
        "carrier,name\nAA,American Airlines Inc.\nB6,JetBlue Airways\nDL,Delta Air Lines Inc.\nUA,United Air Lines Inc.\n",
    )?;
    io(
        dir.join("airports.csv"),
        "faa,name,tz\nATL,Hartsfield Jackson Atlanta Intl,-5\nBOS,General Edward Lawrence Logan Intl,-5\nLAX,Los Angeles Intl,-8\nMIA,Miami Intl,-5\nORD,Chicago Ohare Intl,-6\n",
    )
}

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    // `--generate DIR ROWS`: only write a synthetic data set (benchmarks).
    if args.first().is_some_and(|a| a.as_os_str() == "--generate") {
        let (dir, rows) = (
            args.get(1),
            args.get(2).and_then(|r| r.to_str()?.parse().ok()),
        );
        let (Some(dir), Some(rows)) = (dir, rows) else {
            return Err(Error::InvalidArgument(
                "usage: newcomer --generate DIR ROWS".into(),
            ));
        };
        return generate(dir, rows);
    }
    let tmp = std::env::temp_dir().join("parframe-newcomer");
    let data = match args.first() {
        Some(d) => d.clone(),
        None => {
            generate(&tmp.join("data"), 20_000)?;
            tmp.join("data")
        }
    };
    let out = args.get(1).cloned().unwrap_or_else(|| tmp.join("out"));
    let start = std::time::Instant::now();
    let (by_carrier, busiest) = run(&data, &out)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{by_carrier}\n{busiest}\nwritten to {} (job: {secs:.3} s)",
        out.display()
    );
    Ok(())
}
