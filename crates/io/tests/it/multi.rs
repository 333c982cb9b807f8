//! Several files as one source.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use parframe_common::Error;
use parframe_core::{ChunkSource, Table, table};
use parframe_io::{
    CsvWriteOptions, MultiSource, ParquetSource, ParquetWriteOptions, open_source, open_sources,
    read_all, write_csv, write_ipc, write_parquet,
};

use crate::common::tmp;

fn part(from: i64, n: i64) -> Table {
    table!(
        "id" => (from..from + n).collect::<Vec<i64>>(),
        "name" => (from..from + n).map(|i| format!("n{i}")).collect::<Vec<String>>()
    )
    .unwrap()
}

#[test]
fn concatenates_partitions_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = tmp(&dir, "a.parquet");
    let b = tmp(&dir, "b.parquet");
    let opts = ParquetWriteOptions::default().row_group_rows(3);
    write_parquet(&part(0, 7), &a, &opts).unwrap();
    write_parquet(&part(7, 5), &b, &opts).unwrap();
    let sa: Arc<dyn ChunkSource> = Arc::new(ParquetSource::try_new(&a).unwrap());
    let sb: Arc<dyn ChunkSource> = Arc::new(ParquetSource::try_new(&b).unwrap());
    let m = MultiSource::try_new(vec![sa, sb]).unwrap();
    assert_eq!(m.partition_count(), 3 + 2);
    assert_eq!(m.row_count_hint(), Some(12));
    assert!(m.describe().contains("a.parquet") && m.describe().contains("b.parquet"));
    let t = read_all(&m, Some(&[0]), 100).unwrap();
    let ids = t.column("id").unwrap();
    assert_eq!(
        ids.as_primitive::<Int64Type>().values().to_vec(),
        (0..12).collect::<Vec<_>>()
    );
}

#[test]
fn mixes_formats_with_equal_columns() {
    let dir = tempfile::tempdir().unwrap();
    let a = tmp(&dir, "a.csv");
    let b = tmp(&dir, "b.arrow");
    write_csv(&part(0, 3), &a, &CsvWriteOptions::default()).unwrap();
    write_ipc(&part(3, 2), &b).unwrap();
    let m = MultiSource::try_new(vec![open_source(&a).unwrap(), open_source(&b).unwrap()]).unwrap();
    // the IPC file has non-nullable columns, the CSV nullable ones
    assert!(m.schema().fields().iter().all(|f| f.is_nullable()));
    let t = read_all(&m, None, 100).unwrap();
    assert_eq!(t.num_rows(), 5);
    assert_eq!(m.row_count_hint(), None);
}

#[test]
fn schema_mismatch_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = tmp(&dir, "a.parquet");
    let b = tmp(&dir, "b.parquet");
    write_parquet(&part(0, 2), &a, &ParquetWriteOptions::default()).unwrap();
    let other = table!("id" => [1.5f64], "name" => ["x"]).unwrap();
    write_parquet(&other, &b, &ParquetWriteOptions::default()).unwrap();
    let e =
        MultiSource::try_new(vec![open_source(&a).unwrap(), open_source(&b).unwrap()]).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch(_)), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("a.parquet") && text.contains("b.parquet"),
        "{text}"
    );
    assert!(
        text.contains("id: Float64") && text.contains("id: Int64"),
        "{text}"
    );
    assert!(MultiSource::try_new(vec![]).is_err());
}

#[test]
fn glob_patterns() {
    let dir = tempfile::tempdir().unwrap();
    for (i, from) in [0i64, 4, 8].iter().enumerate() {
        let p = tmp(&dir, &format!("part-{i}.parquet"));
        write_parquet(&part(*from, 4), &p, &ParquetWriteOptions::default()).unwrap();
    }
    std::fs::write(tmp(&dir, "notes.txt"), "x").unwrap();
    let pattern = format!("{}/part-*.parquet", dir.path().display());
    let src = open_sources(&pattern).unwrap();
    assert_eq!(src.partition_count(), 3);
    let t = read_all(src.as_ref(), None, 100).unwrap();
    let ids = t.column("id").unwrap();
    assert_eq!(
        ids.as_primitive::<Int64Type>().values().to_vec(),
        (0..12).collect::<Vec<_>>()
    );
    let one = open_sources(&format!("{}/part-?.parquet", dir.path().display())).unwrap();
    assert_eq!(one.partition_count(), 3);
    let e = open_sources(&format!("{}/*.csv", dir.path().display())).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    let single = open_sources(&format!("{}/part-1.parquet", dir.path().display())).unwrap();
    assert_eq!(single.row_count_hint(), Some(4));
}
