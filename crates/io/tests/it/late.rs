//! Late materialization: `read_partition_filtered` of Parquet (one file and
//! several) against a naive filter of the rows in Rust.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;
use parframe_core::{ChunkSource, Expr, Table, col, lit};
use parframe_io::{MultiSource, ParquetSource, ParquetWriteOptions, write_parquet};
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
