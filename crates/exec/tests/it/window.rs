//! Pipeline windows: chunks waiting to be pulled are held under the memory
//! pool, and a window shrinks to fit its share of the pool.

use parframe_core::{Table, col, lit, slice_bytes, table};
use parframe_exec::Context;

fn data(rows: i64) -> Table {
    table!(
        "id" => (0..rows).collect::<Vec<_>>(),
        "s" => (0..rows).map(|i| format!("a longer text value {i}")).collect::<Vec<_>>(),
    )
    .unwrap()
}

fn ctx(limit: u64) -> Context {
    Context::builder()
        .threads(2)
        .chunk_rows(1000)
        .memory_limit(limit)
        .build()
        .unwrap()
}

#[test]
fn waiting_chunks_are_reserved_and_released() {
    let c = ctx(1 << 30);
    let mut stream = c
        .lazy(data(20_000))
        .filter(col("id").gt_eq(lit(0i64)))
        .unwrap()
        .stream()
        .unwrap();
    let first = stream.next().unwrap().unwrap();
    assert_eq!(first.num_rows(), 1000);
    // The rest of the window waits in the stream, under the pool.
    let held = c.memory_pool().used();
    assert!(held >= slice_bytes(&first), "{held}");
    let rows: usize = stream.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows + first.num_rows(), 20_000);
    assert_eq!(c.memory_pool().used(), 0);
}

#[test]
fn windows_shrink_to_their_share_of_a_small_pool() {
    let unit = {
        let c = ctx(1 << 30);
        let b = c
            .lazy(data(1000))
            .stream()
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        slice_bytes(&b)
    };
    // A pool of 16 units gives a window one unit (its share is 1/16):
    // the window is then one unit per thread, not four.
    let c = ctx(16 * unit);
    let stream = c
        .lazy(data(40_000))
        .filter(col("id").gt_eq(lit(0i64)))
        .unwrap()
        .stream()
        .unwrap();
    let mut most_waiting = 0;
    let mut rows = 0;
    for b in stream {
        rows += b.unwrap().num_rows();
        most_waiting = most_waiting.max(c.memory_pool().used());
    }
    assert_eq!(rows, 40_000);
    assert!(most_waiting > 0);
    assert!(
        c.memory_pool().peak() <= 2 * unit + unit / 2,
        "peak {} for units of {unit} bytes",
        c.memory_pool().peak()
    );
}
