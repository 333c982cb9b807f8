//! Late materialization: `read_partition_filtered` of Parquet (one file and
//! several) against a naive filter of the rows in Rust.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;
use parframe_core::{ChunkSource, Expr, Table, col, lit};
use parframe_io::{
    DatasetOptions, DatasetSource, MultiSource, ParquetReadOptions, ParquetSource,
    ParquetWriteOptions, write_parquet,
};
use proptest::prelude::*;

use crate::common::{assert_same, tmp};

type Row = (Option<i64>, Option<f64>, Option<String>);

const NAMES: [&str; 3] = ["i", "f", "s"];

fn table_of(rows: &[Row], columns: &[usize]) -> Table {
    let all: [Field; 3] = [
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
    ];
    let schema = Arc::new(Schema::new(
        columns.iter().map(|&c| all[c].clone()).collect::<Vec<_>>(),
    ));
    let cols: Vec<ArrayRef> = columns
        .iter()
        .map(|&c| -> ArrayRef {
            match c {
                0 => Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                1 => Arc::new(Float64Array::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                _ => Arc::new(StringArray::from(
                    rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
                )),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    Table::try_new(schema, vec![batch]).unwrap()
}

/// A filter and its meaning on a row (`None`: null, which drops the row).
#[derive(Debug, Clone)]
enum Filter {
    IGt(i64),
    FLe(f64),
    SNotNull,
    SLt(String),
    /// Reads two columns: `i > 0 OR f < x`.
    IPositiveOrFLt(f64),
}

impl Filter {
    fn expr(&self) -> Expr {
        match self {
            Filter::IGt(t) => col("i").gt(lit(*t)),
            Filter::FLe(x) => col("f").lt_eq(lit(*x)),
            Filter::SNotNull => col("s").is_not_null(),
            Filter::SLt(s) => col("s").lt(lit(s.as_str())),
            Filter::IPositiveOrFLt(x) => col("i").gt(lit(0i64)).or(col("f").lt(lit(*x))),
        }
    }

    fn keeps(&self, r: &Row) -> Option<bool> {
        match self {
            Filter::IGt(t) => r.0.map(|i| i > *t),
            Filter::FLe(x) => r.1.map(|f| f <= *x),
            Filter::SNotNull => Some(r.2.is_some()),
            Filter::SLt(s) => r.2.as_ref().map(|v| v.as_str() < s.as_str()),
            Filter::IPositiveOrFLt(x) => {
                // Kleene OR: true wins over null.
                let a = r.0.map(|i| i > 0);
                let b = r.1.map(|f| f < *x);
                match (a, b) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                }
            }
        }
    }
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(-50i64..50),
        proptest::option::of(-10.0f64..10.0),
        proptest::option::of("[a-e]{0,3}"),
    )
}

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (-60i64..60).prop_map(Filter::IGt),
        (-11.0f64..11.0).prop_map(Filter::FLe),
        Just(Filter::SNotNull),
        "[a-e]{0,2}".prop_map(Filter::SLt),
        (-11.0f64..11.0).prop_map(Filter::IPositiveOrFLt),
    ]
}

/// Every partition of `src` read with `filters`, as one table.
fn read_filtered(
    src: &dyn ChunkSource,
    projection: &[usize],
    filters: &[Expr],
    chunk_rows: usize,
) -> parframe_common::Result<Table> {
    let schema = Arc::new(src.schema().project(projection).unwrap());
    let mut chunks = Vec::new();
    for p in 0..src.partition_count() {
        let it = src
            .read_partition_filtered(p, Some(projection), chunk_rows, filters)?
            .expect("Parquet filters while decoding");
        for b in it {
            let b = b?;
            assert!(b.num_rows() <= chunk_rows, "chunks of at most chunk_rows");
            chunks.push(b);
        }
    }
    Table::try_new(schema, chunks)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The rows every filter keeps, projected, whatever the row groups,
    /// chunk size, projection (in any order, filter columns in it or not)
    /// and filters (several over one column, several columns in one).
    #[test]
    fn filtered_reads_match_a_naive_filter(
        rows in proptest::collection::vec(row(), 0..120),
        filters in proptest::collection::vec(filter(), 1..4),
        projection in proptest::sample::subsequence(vec![0usize, 1, 2], 1..=3).prop_shuffle(),
        group_rows in 1usize..40,
        chunk_rows in 1usize..30,
        split_rows in 1usize..60,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = tmp(&dir, "t.parquet");
        write_parquet(
            &table_of(&rows, &[0, 1, 2]),
            &path,
            &ParquetWriteOptions::default().row_group_rows(group_rows),
        )
        .unwrap();
        let kept: Vec<Row> = rows
            .iter()
            .filter(|r| filters.iter().all(|f| f.keeps(r) == Some(true)))
            .cloned()
            .collect();
        let expected = table_of(&kept, &projection);
        let exprs: Vec<Expr> = filters.iter().map(Filter::expr).collect();

        let src = ParquetSource::try_new(&path).unwrap();
        let got = read_filtered(&src, &projection, &exprs, chunk_rows).unwrap();
        assert_same(&expected, &got);

        // Row groups read as row ranges of at most `split_rows` rows.
        let split = ParquetSource::try_new_with_options(
            &path,
            &ParquetReadOptions::default().split_rows(split_rows),
        )
        .unwrap();
        let ranges: usize = split
            .row_group_rows()
            .iter()
            .map(|&r| (r as usize).div_ceil(split_rows).max(1))
            .sum();
        prop_assert_eq!(split.partition_count(), ranges);
        let counted: u64 = (0..ranges).filter_map(|p| split.partition_row_count(p)).sum();
        prop_assert_eq!(counted, rows.len() as u64);
        let got = read_filtered(&split, &projection, &exprs, chunk_rows).unwrap();
        assert_same(&expected, &got);
        let all = read_filtered(&split, &projection, &[], chunk_rows).unwrap();
        assert_same(&table_of(&rows, &projection), &all);

        // Through a multi-file source: the same rows twice.
        let multi = MultiSource::try_new(vec![
            Arc::new(ParquetSource::try_new(&path).unwrap()) as Arc<dyn ChunkSource>,
            Arc::new(ParquetSource::try_new(&path).unwrap()),
        ])
        .unwrap();
        let got = read_filtered(&multi, &projection, &exprs, chunk_rows).unwrap();
        let twice = table_of(&[kept.clone(), kept].concat(), &projection);
        prop_assert_eq!(got.num_rows(), twice.num_rows());
        let names: Vec<&str> = projection.iter().map(|&c| NAMES[c]).collect();
        prop_assert_eq!(got.column_names(), names);
    }
}

/// An error of a filter comes back as it is, naming the expression, not
/// as the Parquet reader's string.
#[test]
fn a_failing_filter_keeps_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "t.parquet");
    let rows: Vec<Row> = (0..10)
        .map(|i| (Some(i), Some(i as f64), Some(format!("x{i}"))))
        .collect();
    write_parquet(
        &table_of(&rows, &[0, 1, 2]),
        &path,
        &ParquetWriteOptions::default().row_group_rows(4),
    )
    .unwrap();
    let src = ParquetSource::try_new(&path).unwrap();
    // 'x0' is not a number: a strict cast fails.
    let bad = col("s").cast(DataType::Int64).gt(lit(0i64));
    let own = bad
        .evaluate(&table_of(&rows, &[0, 1, 2]).chunks()[0])
        .unwrap_err();
    let got = read_filtered(&src, &[0], &[bad], 8).unwrap_err();
    assert_eq!(got.to_string(), own.to_string());
    assert!(!matches!(got, Error::Format { .. }), "{got:?}");

    // An unknown column is refused when the read starts.
    let err = read_filtered(&src, &[0], &[col("nope").gt(lit(1i64))], 8).unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err:?}");
}

/// A filter of a dataset read: over the files' columns, over the
/// partition column `k` only, or over both (which the dataset leaves to
/// the caller).
#[derive(Debug, Clone)]
enum DatasetFilter {
    File(Filter),
    KeyGt(i64),
    KeyEqOrIPositive(i64),
}

impl DatasetFilter {
    fn expr(&self) -> Expr {
        match self {
            DatasetFilter::File(f) => f.expr(),
            DatasetFilter::KeyGt(t) => col("k").gt(lit(*t)),
            DatasetFilter::KeyEqOrIPositive(t) => col("k").eq(lit(*t)).or(col("i").gt(lit(0i64))),
        }
    }

    fn keeps(&self, k: i64, r: &Row) -> bool {
        match self {
            DatasetFilter::File(f) => f.keeps(r) == Some(true),
            DatasetFilter::KeyGt(t) => k > *t,
            DatasetFilter::KeyEqOrIPositive(t) => k == *t || r.0.is_some_and(|i| i > 0),
        }
    }
}

fn dataset_filter() -> impl Strategy<Value = DatasetFilter> {
    prop_oneof![
        4 => filter().prop_map(DatasetFilter::File),
        2 => (-1i64..3).prop_map(DatasetFilter::KeyGt),
        1 => (0i64..3).prop_map(DatasetFilter::KeyEqOrIPositive),
    ]
}

/// The rows of `chunks` as text, columns `names` (`i`, `f`, `s`, `k`),
/// sorted.
fn row_texts(chunks: &[RecordBatch], names: &[&str]) -> Vec<String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    let mut out = Vec::new();
    for b in chunks {
        for r in 0..b.num_rows() {
            let cells: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(c, n)| {
                    let a = b.column(c);
                    if a.is_null(r) {
                        return "null".to_string();
                    }
                    match *n {
                        "f" => format!("{:?}", a.as_primitive::<Float64Type>().value(r)),
                        "s" => format!("{:?}", a.as_string::<i32>().value(r)),
                        _ => a.as_primitive::<Int64Type>().value(r).to_string(),
                    }
                })
                .collect();
            out.push(cells.join("|"));
        }
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A hive dataset `k=0/`, `k=1/`, `k=2/` (one Parquet file each, the
    /// last without column `f` when `drop_f`), read with filters over the
    /// files' columns, the key, and both: the rows every filter keeps,
    /// whatever the projection; the files filter while decoding unless a
    /// filter reads both kinds of column or a column the file lacks.
    #[test]
    fn dataset_filtered_reads_match_a_naive_filter(
        rows in proptest::collection::vec((0i64..3, row()), 0..120),
        filters in proptest::collection::vec(dataset_filter(), 1..4),
        projection in proptest::sample::subsequence(vec![0usize, 1, 2, 3], 1..=4).prop_shuffle(),
        drop_f in any::<bool>(),
        group_rows in 1usize..40,
        chunk_rows in 1usize..30,
    ) {
        let dir = tempfile::tempdir().unwrap();
        for k in 0..3i64 {
            let mine: Vec<Row> = rows.iter().filter(|r| r.0 == k).map(|r| r.1.clone()).collect();
            let columns: &[usize] = if drop_f && k == 2 { &[0, 2] } else { &[0, 1, 2] };
            let sub = dir.path().join(format!("k={k}"));
            std::fs::create_dir_all(&sub).unwrap();
            write_parquet(
                &table_of(&mine, columns),
                sub.join("part-0.parquet"),
                &ParquetWriteOptions::default().row_group_rows(group_rows),
            )
            .unwrap();
        }
        let src = DatasetSource::try_new(dir.path().to_str().unwrap(), DatasetOptions::default())
            .unwrap();
        prop_assert_eq!(src.schema().fields().len(), 4);
        prop_assert_eq!(src.partition_count(), 3);
        let names: Vec<&str> = projection.iter().map(|&c| ["i", "f", "s", "k"][c]).collect();

        let exprs: Vec<Expr> = filters.iter().map(DatasetFilter::expr).collect();
        let mixed = filters.iter().any(|f| matches!(f, DatasetFilter::KeyEqOrIPositive(_)));
        let reads_f = filters.iter().any(|f| f.expr().columns().iter().any(|c| c == "f"));
        let has_file_filter = filters.iter().any(|f| matches!(f, DatasetFilter::File(_)));
        let all: Vec<usize> = (0..4).collect();
        let mut got = Vec::new();
        for p in 0..3 {
            let key_out = filters.iter().any(|f| matches!(f, DatasetFilter::KeyGt(t) if p as i64 <= *t));
            // Left to the caller: a filter over key and file columns; a
            // file lacking a filter column; nothing of the file to decode
            // but its filters' columns (Parquet's own rule).
            let lacks_f = drop_f && p == 2;
            let decodes_none = projection.iter().all(|&c| c == 3 || (c == 1 && lacks_f));
            let callers = mixed
                || (!key_out && ((lacks_f && reads_f) || (decodes_none && has_file_filter)));
            match src.read_partition_filtered(p, Some(&projection), chunk_rows, &exprs).unwrap() {
                Some(it) => {
                    prop_assert!(!callers, "partition {} filtered by the dataset", p);
                    for b in it {
                        let b = b.unwrap();
                        prop_assert!(b.num_rows() <= chunk_rows);
                        prop_assert_eq!(b.schema().fields().len(), projection.len());
                        got.push(b);
                    }
                    if !key_out {
                        let n = rows.iter().filter(|r| r.0 == p as i64).count() as u64;
                        prop_assert_eq!(src.partition_row_count(p), Some(n));
                    }
                }
                None => {
                    prop_assert!(callers, "partition {} left to the caller", p);
                    // What the executor does then: read and filter.
                    for b in src.read_partition(p, Some(&all), chunk_rows).unwrap() {
                        let mut b = b.unwrap();
                        for e in &exprs {
                            let mask = e.evaluate(&b).unwrap();
                            let mask: &arrow_array::BooleanArray =
                                mask.as_any().downcast_ref().unwrap();
                            // Null drops the row.
                            let mask = match mask.null_count() {
                                0 => mask.clone(),
                                _ => arrow_select::filter::prep_null_mask_filter(mask),
                            };
                            b = arrow_select::filter::filter_record_batch(&b, &mask).unwrap();
                        }
                        got.push(b.project(&projection).unwrap());
                    }
                }
            }
        }
        let kept: Vec<(i64, Row)> = rows
            .iter()
            .map(|(k, r)| {
                let mut r = r.clone();
                if drop_f && *k == 2 {
                    r.1 = None;
                }
                (*k, r)
            })
            .filter(|(k, r)| filters.iter().all(|f| f.keeps(*k, r)))
            .collect();
        let mut expected: Vec<String> = kept
            .iter()
            .map(|(k, r)| {
                names
                    .iter()
                    .map(|n| match *n {
                        "i" => r.0.map_or("null".into(), |v| v.to_string()),
                        "f" => r.1.map_or("null".into(), |v| format!("{v:?}")),
                        "s" => r.2.as_ref().map_or("null".into(), |v| format!("{v:?}")),
                        _ => k.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        expected.sort();
        prop_assert_eq!(row_texts(&got, &names), expected);
    }
}

/// A filter over a column the dataset does not have is refused, naming it.
#[test]
fn a_dataset_filter_over_an_unknown_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("k=1");
    std::fs::create_dir_all(&sub).unwrap();
    let rows: Vec<Row> = vec![(Some(1), Some(1.0), None)];
    write_parquet(
        &table_of(&rows, &[0, 1, 2]),
        sub.join("a.parquet"),
        &ParquetWriteOptions::default(),
    )
    .unwrap();
    let src =
        DatasetSource::try_new(dir.path().to_str().unwrap(), DatasetOptions::default()).unwrap();
    let err = src
        .read_partition_filtered(0, Some(&[0]), 8, &[col("nope").gt(lit(1i64))])
        .err()
        .unwrap();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err:?}");
}
