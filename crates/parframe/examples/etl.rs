//! The README's main job: generate a trips dataset, then run an ETL
//! pipeline over it — scan Parquet, filter, a typed Rust closure per row
//! (haversine distance), derived columns — streamed to a Parquet file,
//! printing results and timings.
//!
//! `cargo run --release -p parframe --example etl -- [ROWS] [THREADS]`
//! (defaults: 10 million rows, all cores). The data is generated once under
//! `datasets/generated/` and reused.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use parframe::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use parframe::arrow::schema::{DataType, Field, Schema};
use parframe::prelude::*;
use parframe::{ParquetSink, format_bytes};

/// A small deterministic generator (SplitMix64), so the example needs no
/// dependency beyond parframe.
struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const CITIES: [(&str, f64, f64); 6] = [
    ("paris", 48.8566, 2.3522),
    ("london", 51.5074, -0.1278),
    ("berlin", 52.52, 13.405),
    ("madrid", 40.4168, -3.7038),
    ("rome", 41.9028, 12.4964),
    ("oslo", 59.9139, 10.7522),
];

fn generate(path: &PathBuf, rows: usize) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("trip_id", DataType::Int64, false),
        Field::new("city", DataType::Utf8, false),
        Field::new("lat1", DataType::Float64, false),
        Field::new("lon1", DataType::Float64, false),
        Field::new("lat2", DataType::Float64, false),
        Field::new("lon2", DataType::Float64, false),
        Field::new("fare", DataType::Float64, false),
    ]));
    let mut sink = ParquetSink::try_new(path, schema.clone(), ParquetWriteOptions::default())?;
    let mut rng = SplitMix(42);
    let chunk = 256 * 1024;
    let mut start = 0;
    while start < rows {
        let n = chunk.min(rows - start);
        let mut city = Vec::with_capacity(n);
        let (mut a, mut b, mut c, mut d, mut fare) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for _ in 0..n {
            let (name, lat, lon) = CITIES[(rng.next() % CITIES.len() as u64) as usize];
            city.push(name);
            a.push(lat + (rng.unit() - 0.5) * 0.4);
            b.push(lon + (rng.unit() - 0.5) * 0.6);
            c.push(lat + (rng.unit() - 0.5) * 0.4);
            d.push(lon + (rng.unit() - 0.5) * 0.6);
            fare.push((rng.unit() * 60.0 * 100.0).round() / 100.0);
        }
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(
                    start as i64..(start + n) as i64,
                )),
                Arc::new(StringArray::from(city)),
                Arc::new(Float64Array::from(a)),
                Arc::new(Float64Array::from(b)),
                Arc::new(Float64Array::from(c)),
                Arc::new(Float64Array::from(d)),
                Arc::new(Float64Array::from(fare)),
            ],
        )?;
        parframe::ChunkSink::write(&mut sink, &batch)?;
        start += n;
    }
    parframe::ChunkSink::finish(Box::new(sink))
}

fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let h = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6371.0088 * h.sqrt().asin()
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let rows = args
        .next()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(10_000_000, |v| v as usize);
    let mut builder = Context::builder();
    if let Some(t) = args.next().and_then(|s| s.parse().ok()) {
        builder = builder.threads(t);
    }
    let ctx = builder.build()?;

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("datasets"), |root| root.join("datasets"))
        .join("generated");
    std::fs::create_dir_all(&dir).map_err(|e| parframe::Error::io(&dir, e))?;
    let input = dir.join(format!("trips_{rows}.parquet"));
    let output = dir.join(format!("trips_{rows}_long.parquet"));
    if !input.exists() {
        let t = Instant::now();
        generate(&input, rows)?;
        println!(
            "generated {rows} trips into {} in {:.2?}",
            input.display(),
            t.elapsed()
        );
    }
    println!("{ctx:?}");

    let plan = ctx
        .scan_parquet(&input)?
        .filter(col("fare").gt(lit(5.0)))?
        .apply(
            "km",
            ["lat1", "lon1", "lat2", "lon2"],
            |(a, b, c, d): (f64, f64, f64, f64)| haversine_km(a, b, c, d),
        )?
        .apply_with(
            "fare_per_km",
            ["fare", "km"],
            RowOptions::default(),
            |(fare, km): (f64, f64)| if km > 0.1 { Some(fare / km) } else { None },
        )?
        .with_column(col("city").upper().alias("city"))?
        .filter(col("km").gt(lit(20.0)))?
        .select([
            col("trip_id"),
            col("city"),
            col("km"),
            col("fare"),
            col("fare_per_km"),
        ])?;
    println!("\nplan:\n{}", plan.explain());

    let t = Instant::now();
    let written = plan.sink_parquet(&output, ParquetWriteOptions::default())?;
    let elapsed = t.elapsed();
    println!(
        "pipeline: {rows} rows in, {written} rows out to {} in {elapsed:.2?} ({:.1} M rows/s)",
        output.display(),
        rows as f64 / elapsed.as_secs_f64() / 1e6
    );

    let t = Instant::now();
    let sample = ctx.scan_parquet(&output)?.head(5).collect()?;
    println!(
        "\nfirst rows of the output ({:.2?}):\n{}",
        t.elapsed(),
        sample.pretty()?
    );
    println!(
        "peak memory reserved by collect: {}",
        format_bytes(ctx.memory_pool().peak())
    );
    Ok(())
}
