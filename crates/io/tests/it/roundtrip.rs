//! Every supported type, with nulls, through each format and back.

use arrow_schema::DataType;
use parframe_core::ChunkSource;
use parframe_io::{
    CsvOptions, CsvSource, CsvWriteOptions, IpcSource, ParquetCompression, ParquetReadOptions,
    ParquetSource, ParquetWriteOptions, open_source, read_all, write_csv, write_ipc, write_parquet,
};

use crate::common::{all_types, assert_same, tmp};

#[test]
fn parquet_all_types_every_codec() {
    let dir = tempfile::tempdir().unwrap();
    let t = all_types(true);
    for (i, codec) in [
        ParquetCompression::Zstd(3),
        ParquetCompression::Snappy,
        ParquetCompression::Lz4,
        ParquetCompression::None,
    ]
    .into_iter()
    .enumerate()
    {
        let p = tmp(&dir, &format!("t{i}.parquet"));
        let opts = ParquetWriteOptions::default()
            .compression(codec)
            .row_group_rows(4);
        write_parquet(&t, &p, &opts).unwrap();
        let src = ParquetSource::try_new(&p).unwrap();
        assert_eq!(src.partition_count(), 3, "{codec:?}");
        assert_eq!(src.row_group_rows(), vec![4, 4, 2]);
        assert_eq!(src.row_count_hint(), Some(10));
        let back = read_all(&src, None, 3).unwrap();
        assert!(back.chunks().iter().all(|c| c.num_rows() <= 3));
        assert_same(&t, &back);
    }
}

/// Asked for, string columns come back as `Utf8View`, with the same
/// values; every other column as written.
#[test]
fn parquet_reads_strings_as_views_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let t = all_types(true);
    let p = tmp(&dir, "t.parquet");
    write_parquet(&t, &p, &ParquetWriteOptions::default().row_group_rows(4)).unwrap();
    let views = ParquetReadOptions::default().string_views(true);
    let src = ParquetSource::try_new_with_options(&p, &views).unwrap();
    let back = read_all(&src, None, 3).unwrap();
    assert_eq!(back.column_names(), t.column_names());
    for (want, got) in t.schema().fields().iter().zip(back.schema().fields()) {
        let dt = want.data_type();
        let string = matches!(dt, DataType::Utf8 | DataType::LargeUtf8);
        let expected = if string { &DataType::Utf8View } else { dt };
        assert_eq!(got.data_type(), expected, "column {}", want.name());
        let (x, y) = (
            t.column(want.name()).unwrap(),
            back.column(want.name()).unwrap(),
        );
        let y = arrow_cast::cast(&y, dt).unwrap();
        assert_eq!(x.to_data(), y.to_data(), "column {}", want.name());
    }
}

#[test]
fn parquet_default_options() {
    let opts = ParquetWriteOptions::default();
    assert_eq!(opts.compression, ParquetCompression::Zstd(3));
    assert_eq!(opts.row_group_rows, 256 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "bad.parquet");
    let t = all_types(false);
    let e = write_parquet(&t, &p, &opts.compression(ParquetCompression::Zstd(99))).unwrap_err();
    assert!(e.to_string().contains("zstd"), "{e}");
    assert!(!p.exists());
}

#[test]
fn ipc_all_types_partitions_are_batches() {
    let dir = tempfile::tempdir().unwrap();
    let t = all_types(true);
    let p = tmp(&dir, "t.arrow");
    write_ipc(&t, &p).unwrap();
    let src = IpcSource::try_new(&p).unwrap();
    assert_eq!(src.partition_count(), 2);
    let back = read_all(&src, None, 2).unwrap();
    let sizes: Vec<usize> = back.chunks().iter().map(|c| c.num_rows()).collect();
    assert_eq!(sizes, vec![2, 2, 1, 2, 2, 1]);
    assert_same(&t, &back);
    // by extension too
    let back = read_all(open_source(&p).unwrap().as_ref(), None, 1000).unwrap();
    assert_same(&t, &back);
}

#[test]
fn csv_all_types_with_explicit_schema() {
    let dir = tempfile::tempdir().unwrap();
    let t = all_types(false);
    let p = tmp(&dir, "t.csv");
    write_csv(&t, &p, &CsvWriteOptions::default()).unwrap();
    let src = CsvSource::try_new(&p, CsvOptions::default().schema(t.schema().clone())).unwrap();
    assert!(src.has_header(), "the header equals the schema's names");
    let back = read_all(&src, None, 4).unwrap();
    assert_same(&t, &back);
}

#[test]
fn csv_inferred_types() {
    let dir = tempfile::tempdir().unwrap();
    let t = all_types(false)
        .select(&["i64", "f64", "bool", "utf8", "date"])
        .unwrap();
    let p = tmp(&dir, "t.csv");
    write_csv(&t, &p, &CsvWriteOptions::default()).unwrap();
    let src = CsvSource::try_new(&p, CsvOptions::default()).unwrap();
    let types: Vec<DataType> = src
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            DataType::Int64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Utf8,
            DataType::Date32
        ]
    );
    assert_same(&t, &read_all(&src, None, 1024).unwrap());
}

#[test]
fn csv_without_header_and_tab_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    let t = all_types(false).select(&["i32", "utf8"]).unwrap();
    let p = tmp(&dir, "t.tsv");
    write_csv(
        &t,
        &p,
        &CsvWriteOptions::default().delimiter(b'\t').header(false),
    )
    .unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(!text.contains("i32"));
    let src = CsvSource::try_new(
        &p,
        CsvOptions::default()
            .delimiter(b'\t')
            .schema(t.schema().clone()),
    )
    .unwrap();
    assert!(!src.has_header());
    assert_same(&t, &read_all(&src, None, 1024).unwrap());
    // .tsv opens tab separated
    let any = open_source(&p).unwrap();
    assert_eq!(any.schema().fields().len(), 2);
}

#[test]
fn projection_order_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let t = all_types(false);
    let pq = tmp(&dir, "t.parquet");
    let ipc = tmp(&dir, "t.ipc");
    let csv = tmp(&dir, "t.csv");
    write_parquet(&t, &pq, &ParquetWriteOptions::default()).unwrap();
    write_ipc(&t, &ipc).unwrap();
    write_csv(&t, &csv, &CsvWriteOptions::default()).unwrap();
    let csv_src = CsvSource::try_new(
        &csv,
        CsvOptions::default()
            .schema(t.schema().clone())
            .partition_bytes(100),
    )
    .unwrap();
    assert!(csv_src.partition_count() > 1);
    let sources: Vec<Box<dyn ChunkSource>> = vec![
        Box::new(ParquetSource::try_new(&pq).unwrap()),
        Box::new(IpcSource::try_new(&ipc).unwrap()),
        Box::new(csv_src),
    ];
    for src in &sources {
        let back = read_all(src.as_ref(), Some(&[11, 3, 0]), 1024).unwrap();
        assert_eq!(
            back.column_names(),
            vec!["utf8", "i64", "i8"],
            "{}",
            src.describe()
        );
        assert_same(&t.select(&["utf8", "i64", "i8"]).unwrap(), &back);
        // duplicates and a single column
        let back = read_all(src.as_ref(), Some(&[5, 5]), 1024).unwrap();
        assert_eq!(back.column_names(), vec!["u16", "u16"]);
        assert_eq!(back.num_rows(), 10);
        // no column at all still counts rows
        let back = read_all(src.as_ref(), Some(&[]), 3).unwrap();
        assert_eq!(
            (back.num_columns(), back.num_rows()),
            (0, 10),
            "{}",
            src.describe()
        );
        // out of range
        assert!(src.read_partition(0, Some(&[99]), 10).is_err());
    }
}
