//! Micro-benches of the hot kernels that the other benches do not cover:
//! expression evaluation (one chunk at a time, on the calling thread), hash
//! aggregation (whole plans on the context's pool), and spill files
//! (writing a table as IPC, then mapping it back and reading every batch).
//!
//! `cargo bench -p parframe-bench --bench kernels` (about a minute and a
//! half on 2 cores). Data: the seeded G1 table, k = 100, of
//! `PARFRAME_BENCH_ROWS` rows (default 1e6) in 128 Ki-row chunks. Add a
//! criterion filter to run one group: `-- aggregate`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, measurement::WallTime};
use parframe::agg::{count_rows, mean, sum};
use parframe::{Context, Expr, Table, col, lit};
use parframe_bench::groupby_data::g1;
use parframe_spill::SpillDir;

fn rows() -> usize {
    std::env::var("PARFRAME_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(1_000_000, |v| v as usize)
}

const CHUNK: usize = 128 * 1024;

fn quick(g: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(n as u64));
}

/// Expressions prepared once, evaluated chunk by chunk (what a projection
/// or filter does on each thread).
fn bench_expr(c: &mut Criterion, table: &Table) {
    let exprs: [(&str, Expr); 4] = [
        (
            "arith_i64_f64",
            (col("v1") * lit(2i64) + col("v2")).cast(parframe::arrow::schema::DataType::Float64)
                / col("v3"),
        ),
        (
            "predicate_and",
            col("v1").gt(lit(2i64)).and(col("v3").lt(lit(50.0))),
        ),
        ("string_eq", col("id1").eq(lit("id005"))),
        (
            "is_null_or",
            col("id4").is_null().or(col("v2").lt_eq(lit(3i64))),
        ),
    ];
    let mut g = c.benchmark_group("expr_eval");
    quick(&mut g, table.num_rows());
    for (name, e) in exprs {
        let prepared = e.prepare(table.schema()).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                for chunk in table.chunks() {
                    black_box(prepared.evaluate(chunk).unwrap());
                }
            })
        });
    }
    g.finish();
}

/// Group-bys of growing key cardinality and width, on all cores.
fn bench_aggregate(c: &mut Criterion, table: &Table) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ctx = Context::builder()
        .threads(threads)
        .chunk_rows(CHUNK)
        .build()
        .unwrap();
    let lf = ctx.lazy(table.clone());
    let plans = [
        (
            "id1_sum_v1 (100 string keys)",
            lf.group_by([col("id1")]).agg([sum("v1")]).unwrap(),
        ),
        (
            "id4_mean_v3 (100 int keys)",
            lf.group_by([col("id4")]).agg([mean("v3")]).unwrap(),
        ),
        (
            "id3_sum_v1_mean_v3 (N/100 string keys)",
            lf.group_by([col("id3")])
                .agg([sum("v1"), mean("v3")])
                .unwrap(),
        ),
        (
            "id1_id2_id4_count (composite keys)",
            lf.group_by([col("id1"), col("id2"), col("id4")])
                .agg([count_rows()])
                .unwrap(),
        ),
    ];
    let mut g = c.benchmark_group(format!("hash_aggregate_{threads}t"));
    quick(&mut g, table.num_rows());
    for (name, plan) in plans {
        g.bench_function(name, |b| b.iter(|| black_box(plan.collect().unwrap())));
    }
    g.finish();
}

/// Spill files: write the table (uncompressed IPC), then map it and read
/// every batch back, touching one column so the pages are read.
fn bench_spill(c: &mut Criterion, table: &Table) {
    let dir = SpillDir::new().unwrap();
    let bytes: usize = table
        .chunks()
        .iter()
        .map(|b| b.get_array_memory_size())
        .sum();
    let write = |dir: &SpillDir| {
        let mut w = dir.new_file("bench", table.schema().clone()).unwrap();
        for chunk in table.chunks() {
            w.write(chunk).unwrap();
        }
        w.finish().unwrap()
    };
    let mut g = c.benchmark_group("spill");
    quick(&mut g, table.num_rows());
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("write_ipc", |b| b.iter(|| black_box(write(&dir))));
    let file = write(&dir);
    g.bench_function("map_and_read", |b| {
        b.iter(|| {
            let mut rows = 0;
            for batch in file.read().unwrap() {
                let batch = batch.unwrap();
                let id3 = batch.column_by_name("id3").unwrap();
                rows += id3.len() - id3.null_count();
            }
            assert_eq!(black_box(rows), table.num_rows());
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let table = g1(rows(), 100, 0.0, 42, CHUNK).unwrap();
    bench_expr(c, &table);
    bench_aggregate(c, &table);
    bench_spill(c, &table);
}

criterion_group!(kernels, benches);

fn main() {
    kernels();
    Criterion::default().configure_from_args().final_summary();
}
