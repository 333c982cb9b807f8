//! Sorting the h2o.ai G1 table by `id3` ascending, `v3` descending (the
//! sort of the memory/spill issue), in memory, and as an external sort
//! under a memory budget of a quarter of the data.
//!
//! `cargo bench -p parframe-bench --bench sort`. Set `PARFRAME_BENCH_ROWS`
//! to change the size (default 10 million; `1e6` for a quick run). The
//! output is streamed and dropped chunk by chunk (not collected), as a sink
//! would consume it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use parframe::{Context, SortKey, Table};
use parframe_bench::groupby_data::g1;

fn rows() -> usize {
    std::env::var("PARFRAME_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(10_000_000, |v| v as usize)
}

const CHUNK: usize = 128 * 1024;

/// Runs the sort to the end, dropping the output chunks; returns the rows.
fn sort_rows(ctx: &Context, table: &Table) -> usize {
    ctx.lazy(table.clone())
        .sort([SortKey::asc("id3"), SortKey::desc("v3")])
        .unwrap()
        .stream()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum()
}

fn bench_sort(c: &mut Criterion) {
    let n = rows();
    let table = g1(n, 100, 0.0, 42, CHUNK).unwrap();
    let data_bytes: usize = table
        .chunks()
        .iter()
        .map(|b| b.get_array_memory_size())
        .sum();
    let mut g = c.benchmark_group("sort_id3_asc_v3_desc");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let in_memory = Context::builder()
        .threads(threads)
        .chunk_rows(CHUNK)
        .build()
        .unwrap();
    g.bench_function(format!("in_memory_{threads}t"), |b| {
        b.iter(|| assert_eq!(black_box(sort_rows(&in_memory, &table)), n))
    });
    let external = Context::builder()
        .threads(threads)
        .chunk_rows(CHUNK)
        .memory_limit((data_bytes / 4) as u64)
        .build()
        .unwrap();
    g.bench_function(format!("external_quarter_budget_{threads}t"), |b| {
        b.iter(|| assert_eq!(black_box(sort_rows(&external, &table)), n))
    });
    g.finish();
    eprintln!(
        "external sort: {} of data, limit {}, pool peak {}, spilled {:?}",
        parframe::format_bytes(data_bytes as u64),
        parframe::format_bytes(external.memory_pool().limit()),
        parframe::format_bytes(external.memory_pool().peak()),
        external.spill_stats()
    );
}

criterion_group!(benches, bench_sort);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
