//! `collect` of a result larger than the budget: a resident head, a
//! spilled tail read back through memory maps, files kept while the table
//! lives.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use parframe_core::{Table, col, lit, table};
use parframe_exec::collect::RESIDENT_SHARE;
use parframe_exec::{Context, SortKey};

fn data(rows: i64) -> Table {
    table!(
        "id" => (0..rows).collect::<Vec<_>>(),
        "s" => (0..rows).map(|i| format!("value {}", i * 7919 % 1000)).collect::<Vec<_>>(),
    )
    .unwrap()
}

fn ctx(limit: u64, spill: &std::path::Path) -> Context {
    Context::builder()
        .threads(2)
        .chunk_rows(1000)
        .memory_limit(limit)
        .spill_dir(spill)
        .build()
        .unwrap()
}

fn ids(t: &Table) -> Vec<i64> {
    t.chunks()
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

#[test]
fn collect_over_budget_spills_the_tail_and_keeps_files_while_the_table_lives() {
    let input = data(50_000);
    let plan = |c: &Context| {
        c.lazy(input.clone())
            .with_column((col("id") * lit(2i64)).alias("twice"))
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let big = ctx(1 << 30, dir.path());
    let want = plan(&big).collect().unwrap();
    assert_eq!(want.num_spilled_chunks(), 0);
    // What the result holds in memory: its own buffers (the output shares
    // the input's), counted once.
    let need = want.resident_bytes() as u64;
    assert!(need < 2 * want.to_batch().unwrap().get_array_memory_size() as u64);

    let limit = need / 10;
    let small = ctx(limit, dir.path());
    let (got, stats) = plan(&small).collect_with_stats().unwrap();
    // Same rows, same order, same values.
    let batch = |t: &Table| t.to_batch().unwrap();
    assert_eq!(batch(&got), batch(&want));

    // A resident head within its share of the budget, a spilled tail.
    assert!(got.num_spilled_chunks() > 0);
    assert!(got.chunk_storage()[0].is_spilled() == (got.resident_bytes() == 0));
    assert!(got.resident_bytes() as u64 <= (limit as f64 * RESIDENT_SHARE) as u64);
    assert_eq!(got.reserved_bytes(), got.resident_bytes() as u64);
    assert_eq!(small.memory_pool().used(), got.reserved_bytes());
    assert!(got.spilled_bytes() as u64 > need / 2, "{got:?}");
    assert!(
        stats.spilled.files >= 1 && stats.spilled.bytes > 0,
        "{stats:?}"
    );
    assert_eq!(
        stats.spilled.rows as usize,
        got.chunks()
            .iter()
            .zip(got.chunk_storage())
            .filter(|(_, s)| s.is_spilled())
            .map(|(c, _)| c.num_rows())
            .sum::<usize>()
    );

    // Later operators read spilled chunks as ordinary batches, also with
    // the small budget (the sort spills runs of its own).
    let filtered = small
        .lazy(got.clone())
        .filter(col("id").gt_eq(lit(49_990i64)))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(ids(&filtered), (49_990..50_000).collect::<Vec<_>>());
    let sorted: Vec<RecordBatch> = small
        .lazy(got.clone())
        .sort([SortKey::desc("id")])
        .unwrap()
        .stream()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let first = sorted[0].column(0).as_primitive::<Int64Type>().value(0);
    assert_eq!(first, 49_999);
    drop(sorted);
    drop(filtered);

    // Slices keep the files alive; the last table to drop removes them.
    let files = small.spill_live().files;
    assert!(files >= 1);
    let tail = got.tail(10).select(&["id"]).unwrap();
    drop(got);
    assert_eq!(small.spill_live().files, files);
    assert_eq!(ids(&tail), (49_990..50_000).collect::<Vec<_>>());
    assert!(tail.spilled_bytes() > 0);
    drop(tail);
    assert_eq!(small.spill_live().files, 0);
    assert_eq!(small.memory_pool().used(), 0);
    let spill_dir = small.spill_dir().unwrap();
    assert_eq!(std::fs::read_dir(spill_dir.path()).unwrap().count(), 0);
}

#[test]
fn collect_within_budget_is_resident_and_holds_its_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(1 << 30, dir.path());
    let t = c.lazy(data(3000)).collect().unwrap();
    assert_eq!((t.num_spilled_chunks(), t.spilled_bytes()), (0, 0));
    assert_eq!(c.memory_pool().used(), t.resident_bytes() as u64);
    let clone = t.clone();
    drop(t);
    assert!(c.memory_pool().used() > 0);
    drop(clone);
    assert_eq!(c.memory_pool().used(), 0);
    assert_eq!(c.spill_stats().files, 0);
}
