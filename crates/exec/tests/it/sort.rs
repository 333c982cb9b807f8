//! Sort and top_k against a naive stable `Vec::sort_by` reference, in
//! memory and spilling (external sort with a tiny memory budget).

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;
use parframe_core::{Table, table};
use parframe_exec::{Context, LazyFrame, SortKey};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One row of the test table: the row id and the three key columns.
#[derive(Debug, Clone)]
struct Row {
    id: i64,
    i: Option<i64>,
    f: Option<f64>,
    s: Option<String>,
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
    ]))
}

/// The rows as a table cut into chunks of the given sizes (the rest in
/// one last chunk).
fn to_table(rows: &[Row], cuts: &[usize]) -> Table {
    let mut chunks = Vec::new();
    let mut off = 0;
    let mut sizes = cuts.iter().copied();
    while off < rows.len() {
        let n = sizes
            .next()
            .unwrap_or(rows.len())
            .clamp(1, rows.len() - off);
        let part = &rows[off..off + n];
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(part.iter().map(|r| r.id))),
            Arc::new(Int64Array::from_iter(part.iter().map(|r| r.i))),
            Arc::new(Float64Array::from_iter(part.iter().map(|r| r.f))),
            Arc::new(StringArray::from_iter(part.iter().map(|r| r.s.as_deref()))),
        ];
        chunks.push(RecordBatch::try_new(schema(), cols).unwrap());
        off += n;
    }
    Table::try_new(schema(), chunks).unwrap()
}

fn cmp_key(a: &Row, b: &Row, k: &SortKey) -> Ordering {
    fn values<T>(
        x: Option<T>,
        y: Option<T>,
        k: &SortKey,
        f: impl Fn(T, T) -> Ordering,
    ) -> Ordering {
        match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) if k.nulls_last => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) if k.nulls_last => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) if k.descending => f(x, y).reverse(),
            (Some(x), Some(y)) => f(x, y),
        }
    }
    match k.column.as_str() {
        "i" => values(a.i, b.i, k, |x, y| x.cmp(&y)),
        "f" => values(a.f, b.f, k, |x, y| x.total_cmp(&y)),
        "s" => values(a.s.as_deref(), b.s.as_deref(), k, |x, y| x.cmp(y)),
        other => panic!("no column {other}"),
    }
}

/// The row ids in reference order: a stable sort of the input.
fn reference(rows: &[Row], keys: &[SortKey]) -> Vec<i64> {
    let mut sorted = rows.to_vec();
    sorted.sort_by(|a, b| {
        keys.iter()
            .map(|k| cmp_key(a, b, k))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    sorted.iter().map(|r| r.id).collect()
}

/// Pulls the plan's stream to the end (no `collect`, whose reservation a
/// tiny budget could not hold) and returns its ids and batches.
fn run_ids(lf: &LazyFrame) -> (Vec<i64>, Vec<RecordBatch>) {
    let batches: Vec<RecordBatch> = lf.stream().unwrap().map(|b| b.unwrap()).collect();
    let ids = batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
            c.values().to_vec()
        })
        .collect();
    (ids, batches)
}

fn ctx(chunk_rows: usize, memory_limit: u64) -> Context {
    Context::builder()
        .threads(2)
        .chunk_rows(chunk_rows)
        .memory_limit(memory_limit)
        .build()
        .unwrap()
}

fn row_strategy() -> impl Strategy<Value = (Option<i64>, Option<f64>, Option<String>)> {
    let f = prop_oneof![
        6 => (-5i32..5).prop_map(|v| v as f64 / 2.0),
        1 => Just(f64::NAN),
        1 => Just(-0.0f64),
        1 => Just(f64::INFINITY),
    ];
    (
        prop::option::weighted(0.8, -4i64..4),
        prop::option::weighted(0.8, f),
        prop::option::weighted(0.8, "[a-c]{0,3}"),
    )
}

fn key_strategy() -> impl Strategy<Value = Vec<SortKey>> {
    let key = (
        prop::sample::select(vec!["i", "f", "s"]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(c, desc, nl)| {
            let k = if desc {
                SortKey::desc(c)
            } else {
                SortKey::asc(c)
            };
            k.nulls_last(nl)
        });
    prop::collection::vec(key, 1..=3)
}

fn rows_of(v: Vec<(Option<i64>, Option<f64>, Option<String>)>) -> Vec<Row> {
    v.into_iter()
        .enumerate()
        .map(|(n, (i, f, s))| Row {
            id: n as i64,
            i,
            f,
            s,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn sort_matches_stable_reference(
        data in prop::collection::vec(row_strategy(), 0..300),
        keys in key_strategy(),
        cuts in prop::collection::vec(1usize..80, 0..6),
        chunk_rows in 1usize..64,
    ) {
        let rows = rows_of(data);
        let lf = ctx(chunk_rows, 1 << 30).lazy(to_table(&rows, &cuts)).sort(keys.clone()).unwrap();
        let (ids, _) = run_ids(&lf);
        prop_assert_eq!(ids, reference(&rows, &keys));
    }

    #[test]
    fn external_sort_matches_stable_reference(
        data in prop::collection::vec(row_strategy(), 0..400),
        keys in key_strategy(),
        chunk_rows in 4usize..32,
    ) {
        let rows = rows_of(data);
        // A budget of a few chunks: most inputs spill several runs.
        let c = ctx(chunk_rows, 24 << 10);
        let lf = c.lazy(to_table(&rows, &[chunk_rows])).sort(keys.clone()).unwrap();
        let (ids, _) = run_ids(&lf);
        prop_assert_eq!(ids, reference(&rows, &keys));
        prop_assert_eq!(c.spill_live().files, 0);
        prop_assert_eq!(c.memory_pool().used(), 0);
        prop_assert!(c.memory_pool().peak() <= c.memory_pool().limit());
    }

    #[test]
    fn top_k_is_the_head_of_the_sort(
        data in prop::collection::vec(row_strategy(), 0..300),
        keys in key_strategy(),
        k in 0usize..40,
        chunk_rows in 1usize..64,
    ) {
        let rows = rows_of(data);
        let c = ctx(chunk_rows, 1 << 30);
        let lf = c.lazy(to_table(&rows, &[]));
        let (top, _) = run_ids(&lf.top_k(keys.clone(), k).unwrap());
        let mut expected = reference(&rows, &keys);
        expected.truncate(k);
        prop_assert_eq!(&top, &expected);
        // sort + limit becomes a top_k too.
        let (limited, _) = run_ids(&lf.sort(keys).unwrap().limit(k));
        prop_assert_eq!(limited, expected);
    }
}

/// Deterministic data for the external sort: ids, ints with nulls and
/// repeats, strings of varied length, floats.
fn big_rows(n: usize, seed: u64) -> Vec<Row> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|id| Row {
            id: id as i64,
            i: (!rng.random_bool(0.05)).then(|| rng.random_range(0..500)),
            f: (!rng.random_bool(0.05)).then(|| rng.random_range(-1e3..1e3)),
            s: (!rng.random_bool(0.05)).then(|| {
                let len = rng.random_range(0..16);
                (0..len)
                    .map(|_| rng.random_range(b'a'..=b'e') as char)
                    .collect()
            }),
        })
        .collect()
}

#[test]
fn external_sort_spills_within_budget_and_cleans_up() {
    let rows = big_rows(100_000, 7);
    let chunk = 1000;
    let table = to_table(&rows, &[chunk]);
    let data_bytes: usize = table
        .chunks()
        .iter()
        .map(|c| c.get_array_memory_size())
        .sum();
    let keys = vec![
        SortKey::asc("s"),
        SortKey::desc("i").nulls_last(false),
        SortKey::asc("f"),
    ];

    // In memory: no spill.
    let big = ctx(chunk, 1 << 30);
    let (mem_ids, mem_batches) = run_ids(&big.lazy(table.clone()).sort(keys.clone()).unwrap());
    assert_eq!(mem_ids, reference(&rows, &keys));
    assert_eq!(big.spill_stats().files, 0);

    // A budget of a tenth of the data.
    let limit = (data_bytes / 10) as u64;
    let spill_parent = tempfile::tempdir().unwrap();
    let small = Context::builder()
        .threads(2)
        .chunk_rows(chunk)
        .memory_limit(limit)
        .spill_dir(spill_parent.path())
        .build()
        .unwrap();
    let mut stream = small
        .lazy(table)
        .sort(keys.clone())
        .unwrap()
        .stream()
        .unwrap();
    // Run generation is done when the stream starts: runs are on disk.
    let live = small.spill_live();
    assert!(live.files > 1, "{live:?}");
    let mut batches = Vec::new();
    for b in stream.by_ref() {
        batches.push(b.unwrap());
    }
    let stats = stream.stats();
    drop(stream);
    eprintln!(
        "external sort: {data_bytes} B of data, limit {limit} B, pool peak {} B, {stats:?}",
        small.memory_pool().peak()
    );

    let concat =
        |bs: &[RecordBatch]| arrow_select::concat::concat_batches(&bs[0].schema(), bs).unwrap();
    assert_eq!(concat(&batches), concat(&mem_batches));
    assert!(batches.iter().all(|b| b.num_rows() <= chunk));

    // Spill statistics: of the job and of the context.
    assert!(stats.spilled.files >= 1, "{stats:?}");
    assert!(stats.spilled.rows >= 100_000, "{stats:?}");
    assert!(stats.spilled.bytes > 0);
    assert_eq!(small.spill_stats(), stats.spilled);
    assert!(stats.peak_reserved <= limit);

    // Nothing left on disk, nothing left reserved.
    assert_eq!(small.spill_live().files, 0);
    let dir = small.spill_dir().unwrap();
    assert!(dir.path().starts_with(spill_parent.path()));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert_eq!(small.memory_pool().used(), 0);

    // Memory: the reservations never passed the budget. (VmHWM of this
    // shared test process mixes every concurrently running test and the
    // in-memory reference above, so it says nothing about this sort; the
    // pool's peak is what the operator promised to respect. What it holds
    // outside the pool is listed in the sort module's docs: a window of
    // input chunks, the chunks being sorted and the output window.)
    assert!(small.memory_pool().peak() <= limit);
    assert!(small.memory_pool().peak() > limit / 2);
    let path = dir.path().to_path_buf();
    drop(dir);
    drop(small);
    assert!(!path.exists());
}

#[test]
fn sort_then_select_projects_after_sorting() {
    let c = ctx(2, 1 << 30);
    let t = table!("k" => [3i64, 1, 2], "v" => ["c", "a", "b"], "w" => [0i64, 0, 0]).unwrap();
    let out = c
        .lazy(t)
        .sort([SortKey::asc("k")])
        .unwrap()
        .select([parframe_core::col("v")])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.column_names(), vec!["v"]);
    let all: Vec<String> = out
        .chunks()
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(all, vec!["a", "b", "c"]);
}

#[test]
fn plan_time_errors_and_explain() {
    let c = ctx(4, 1 << 30);
    let lf = c.lazy(table!("a" => [1i64], "b" => [1.5]).unwrap());
    let err = lf.sort([SortKey::asc("nope")]).unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(matches!(
        lf.top_k([SortKey::asc("zz")], 3).unwrap_err(),
        Error::ColumnNotFound { .. }
    ));
    assert!(matches!(
        lf.sort(Vec::<SortKey>::new()).unwrap_err(),
        Error::InvalidArgument(_)
    ));
    let e = lf
        .sort([SortKey::asc("a"), SortKey::desc("b").nulls_last(false)])
        .unwrap()
        .explain();
    assert!(
        e.starts_with("Sort [a ASC NULLS LAST, b DESC NULLS FIRST]\n  Table"),
        "{e}"
    );
    let e = lf.top_k([SortKey::desc("b")], 5).unwrap().explain();
    assert!(e.starts_with("TopK 5 [b DESC NULLS LAST]"), "{e}");
}

#[test]
fn empty_input_and_floats() {
    let c = ctx(3, 1 << 30);
    let t = table!("x" => [2.0, f64::NAN, -1.0, 0.5]).unwrap();
    let lf = c.lazy(t);
    let out = lf
        .filter(parframe_core::col("x").lt(parframe_core::lit(-100.0)))
        .unwrap()
        .sort([SortKey::asc("x")])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), 0);
    let out = lf.sort([SortKey::desc("x")]).unwrap().collect().unwrap();
    let xs: Vec<f64> = out
        .chunks()
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Float64Type>().values().to_vec())
        .collect();
    assert!(xs[0].is_nan());
    assert_eq!(&xs[1..], &[2.0, 0.5, -1.0]);
    let (t, stats) = lf
        .top_k([SortKey::asc("x")], 0)
        .unwrap()
        .collect_with_stats()
        .unwrap();
    assert_eq!(t.num_rows(), 0);
    assert_eq!(stats.spilled.files, 0);
}

#[test]
fn a_chunk_larger_than_the_budget_is_a_clear_error() {
    let rows = big_rows(5000, 1);
    let c = ctx(5000, 16 << 10);
    let err = c
        .lazy(to_table(&rows, &[5000]))
        .sort([SortKey::asc("i")])
        .unwrap()
        .stream()
        .err()
        .unwrap();
    assert!(matches!(err, Error::ResourcesExhausted(_)), "{err}");
    assert!(err.to_string().contains("raise the memory limit"), "{err}");
    assert_eq!(c.memory_pool().used(), 0);
}

/// `t` sorted by `k` on 2 threads under `limit` bytes (and `chunk_rows`
/// when given), with the job's statistics.
fn sort_by_k_within(
    t: Table,
    limit: u64,
    chunk_rows: Option<usize>,
) -> (Table, parframe_exec::JobStats) {
    let mut b = Context::builder().threads(2).memory_limit(limit);
    if let Some(n) = chunk_rows {
        b = b.chunk_rows(n);
    }
    let c = b.build().unwrap();
    c.lazy(t)
        .sort([SortKey::asc("k")])
        .unwrap()
        .collect_with_stats()
        .unwrap()
}

#[test]
fn a_chunk_larger_than_the_budget_is_sorted_in_slices() {
    // One 40_000-row chunk needs more than the whole budget to sort: it is
    // cut into slices that fit, each spilled as a run, and merged.
    let rows = 40_000i64;
    let t = table!(
        "k" => (0..rows).map(|i| (i * 7919) % rows).collect::<Vec<_>>(),
        "s" => (0..rows).map(|i| format!("value number {i}")).collect::<Vec<_>>(),
    )
    .unwrap();
    let (out, stats) = sort_by_k_within(t, 3 << 20, Some(rows as usize));
    assert_eq!(out.num_rows(), rows as usize);
    assert!(stats.spilled.files >= 1, "{stats:?}");
    let k: Vec<i64> = out
        .chunks()
        .iter()
        .flat_map(|b| {
            b.column_by_name("k")
                .unwrap()
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert!(k.into_iter().eq(0..rows));
}

/// Chunks sliced from one large `Utf8View` array share all of its data
/// buffers: the sort counts (and spills) what each chunk's rows use, not
/// every shared buffer once per chunk (which made even a small slice seem
/// larger than the budget), and gives the rows back in order.
#[test]
fn view_chunks_sharing_one_buffer_sort_within_the_budget() {
    use arrow_array::StringViewArray;
    let rows = 200_000usize;
    let keys: Vec<i64> = (0..rows as i64).map(|i| (i * 7919) % rows as i64).collect();
    let k = Int64Array::from(keys);
    let s: StringViewArray = (0..rows)
        .map(|i| Some(format!("a string of more than twelve bytes {i}")))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("s", DataType::Utf8View, true),
    ]));
    let whole = RecordBatch::try_new(schema.clone(), vec![Arc::new(k), Arc::new(s)]).unwrap();
    let chunks: Vec<RecordBatch> = (0..rows)
        .step_by(4096)
        .map(|o| whole.slice(o, 4096.min(rows - o)))
        .collect();
    let t = Table::try_new(schema, chunks).unwrap();
    let (out, stats) = sort_by_k_within(t, 8 << 20, None);
    // About 12 MB of rows under 8 MiB: a few runs. Counting the shared
    // buffer once per chunk made every chunk a run of its own (14).
    assert!(
        (1..=6).contains(&stats.spilled.files),
        "{:?}",
        stats.spilled
    );
    assert!(
        stats.spilled.bytes < 64 << 20,
        "{} bytes spilled",
        stats.spilled.bytes
    );
    let mut row_of = vec![0usize; rows];
    for i in 0..rows {
        row_of[(i * 7919) % rows] = i;
    }
    let mut want = 0i64;
    for b in out.chunks() {
        let k = b.column_by_name("k").unwrap().as_primitive::<Int64Type>();
        let s = b.column_by_name("s").unwrap().as_string_view();
        for (k, s) in k.values().iter().zip(s.iter()) {
            assert_eq!(*k, want);
            let i = row_of[want as usize];
            assert_eq!(
                s,
                Some(format!("a string of more than twelve bytes {i}").as_str())
            );
            want += 1;
        }
    }
    assert_eq!(want, rows as i64);
}
