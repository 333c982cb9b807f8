//! Random nullable columns through every format.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parframe_core::Table;
use parframe_io::{
    CsvOptions, CsvSource, CsvWriteOptions, IpcSource, ParquetSource, ParquetWriteOptions,
    read_all, write_csv, write_ipc, write_parquet,
};
use proptest::prelude::*;

use crate::common::{assert_same, tmp};

type Row = (Option<i64>, Option<f64>, Option<String>);

fn table_of(rows: &[Row], chunk: usize) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
    ]));
    let batches = rows
        .chunks(chunk.max(1))
        .map(|c| {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(c.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(Float64Array::from(
                    c.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    c.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
                )),
            ];
            RecordBatch::try_new(schema.clone(), cols).unwrap()
        })
        .collect();
    Table::try_new(schema, batches).unwrap()
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(any::<i64>()),
        proptest::option::of(-1e300f64..1e300),
        // CSV cannot tell an empty string from a null: strings are non-empty.
        proptest::option::of("[a-zA-Z0-9 ,;\"']{1,8}"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_every_format(rows in proptest::collection::vec(row(), 0..60), chunk in 1usize..20) {
        let dir = tempfile::tempdir().unwrap();
        let t = table_of(&rows, chunk);

        let pq = tmp(&dir, "p.parquet");
        write_parquet(&t, &pq, &ParquetWriteOptions::default().row_group_rows(17)).unwrap();
        assert_same(&t, &read_all(&ParquetSource::try_new(&pq).unwrap(), None, 7).unwrap());

        let ipc = tmp(&dir, "p.arrow");
        write_ipc(&t, &ipc).unwrap();
        assert_same(&t, &read_all(&IpcSource::try_new(&ipc).unwrap(), None, 7).unwrap());

        let csv = tmp(&dir, "p.csv");
        write_csv(&t, &csv, &CsvWriteOptions::default()).unwrap();
        let opts = CsvOptions::default().schema(t.schema().clone()).partition_bytes(40);
        let src = CsvSource::try_new(&csv, opts).unwrap();
        assert_same(&t, &read_all(&src, None, 7).unwrap());
    }
}
