//! polars interop (`--features polars`): round trips and shared buffers.

use std::sync::Arc;

use ::polars::prelude::{Column, DataFrame, DataType as PlType, NamedFrom, Series};
use parframe::arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, NullArray, StringArray,
    StringViewArray, UInt8Array, UInt32Array,
};
use parframe::arrow::schema::{DataType, Field, Schema};
use parframe::polars::{TablePolarsExt, from_polars, to_polars};
use parframe::{Error, Table};

fn sample() -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("i64", DataType::Int64, true),
        Field::new("i32", DataType::Int32, true),
        Field::new("u32", DataType::UInt32, true),
        Field::new("f64", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("sv", DataType::Utf8View, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("n", DataType::Null, true),
    ]));
    let chunk = |off: i64| -> Vec<ArrayRef> {
        vec![
            Arc::new(Int64Array::from(vec![Some(off), None, Some(off + 2)])),
            Arc::new(Int32Array::from(vec![Some(1), Some(2), None])),
            Arc::new(UInt32Array::from(vec![None, Some(7), Some(u32::MAX)])),
            Arc::new(Float64Array::from(vec![Some(0.5), Some(f64::NAN), None])),
            Arc::new(StringArray::from(vec![
                Some("a string longer than twelve bytes"),
                None,
                Some("é"),
            ])),
            Arc::new(StringViewArray::from(vec![
                None,
                Some("short"),
                Some("another string longer than twelve bytes"),
            ])),
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            Arc::new(NullArray::new(3)),
        ]
    };
    let batches = vec![
        parframe::arrow::RecordBatch::try_new(schema.clone(), chunk(0)).unwrap(),
        parframe::arrow::RecordBatch::try_new(schema.clone(), chunk(10)).unwrap(),
    ];
    Table::try_new(schema, batches).unwrap()
}

#[test]
fn round_trip_keeps_values_nulls_and_chunks() {
    let t = sample();
    let df = to_polars(&t).unwrap();
    assert_eq!(df.shape(), (6, 8));
    let dtypes: Vec<PlType> = df.dtypes();
    assert_eq!(
        dtypes,
        vec![
            PlType::Int64,
            PlType::Int32,
            PlType::UInt32,
            PlType::Float64,
            PlType::String,
            PlType::String,
            PlType::Boolean,
            PlType::Null
        ]
    );
    assert_eq!(df.column("i64").unwrap().null_count(), 2);
    assert_eq!(df.column("s").unwrap().n_chunks(), 2);

    let back = Table::from_polars(&df).unwrap();
    assert_eq!(back.num_rows(), 6);
    assert_eq!(back.num_chunks(), 2);
    // Strings come back as views (polars' layout); everything else as it was.
    for (orig, got) in t.schema().fields().iter().zip(back.schema().fields()) {
        assert_eq!(orig.name(), got.name());
        let want = match orig.data_type() {
            DataType::Utf8 => DataType::Utf8View,
            other => other.clone(),
        };
        assert_eq!(got.data_type(), &want, "{}", orig.name());
    }
    for name in ["i64", "i32", "u32", "b", "n", "sv"] {
        let a = t.column(name).unwrap();
        let b = back.column(name).unwrap();
        assert_eq!(a.to_data(), b.to_data(), "{name}");
    }
    // NaN != NaN, so compare the f64 column value by value.
    let f = back.column("f64").unwrap();
    let f = f.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(f.value(0), 0.5);
    assert!(f.value(1).is_nan());
    assert!(f.is_null(2));
    let s = back.column("s").unwrap();
    let s = s.as_any().downcast_ref::<StringViewArray>().unwrap();
    let want = StringArray::from(vec![
        Some("a string longer than twelve bytes"),
        None,
        Some("é"),
    ]);
    for i in 0..3 {
        assert_eq!(s.is_null(i), want.is_null(i));
        if !want.is_null(i) {
            assert_eq!(s.value(i), want.value(i));
        }
    }
}

#[test]
fn polars_frame_round_trip() {
    let df = DataFrame::new(
        3,
        vec![
            Column::new("x".into(), [1.5f64, 2.5, 3.5]),
            Column::new("k".into(), ["a", "bb", "a much longer string value"]),
            Column::new("b".into(), [Some(true), None, Some(false)]),
            Column::new("i".into(), [Some(1i64), None, Some(3)]),
        ],
    )
    .unwrap();
    let t = from_polars(&df).unwrap();
    assert_eq!(t.num_rows(), 3);
    assert_eq!(t.column_names(), vec!["x", "k", "b", "i"]);
    let df2 = t.to_polars().unwrap();
    assert!(df.equals_missing(&df2));
}

#[test]
fn float_buffers_are_shared_both_ways() {
    // polars -> parframe
    let s = Series::new("x".into(), (0..1000).map(f64::from).collect::<Vec<_>>());
    let pl_ptr = s.f64().unwrap().cont_slice().unwrap().as_ptr();
    let df = DataFrame::new(1000, vec![Column::from(s)]).unwrap();
    let t = from_polars(&df).unwrap();
    let col = t.column("x").unwrap();
    let arr = col.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(arr.values().as_ptr(), pl_ptr);

    // parframe -> polars
    let arr = Float64Array::from((0..1000).map(f64::from).collect::<Vec<_>>());
    let pf_ptr = arr.values().as_ptr();
    let t = Table::from_columns(vec![("y".to_string(), Arc::new(arr) as ArrayRef)]).unwrap();
    let df = to_polars(&t).unwrap();
    let y = df.column("y").unwrap().as_materialized_series();
    assert_eq!(y.f64().unwrap().cont_slice().unwrap().as_ptr(), pf_ptr);

    // and back again: still the same bytes
    let t2 = from_polars(&df).unwrap();
    let col = t2.column("y").unwrap();
    let arr = col.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(arr.values().as_ptr(), pf_ptr);
}

#[test]
fn string_bytes_are_shared() {
    let long = "a value that is longer than twelve bytes";
    let arr = StringArray::from(vec![long; 100]);
    let bytes_ptr = arr.value_data().as_ptr();
    let t = Table::from_columns(vec![("s".to_string(), Arc::new(arr) as ArrayRef)]).unwrap();
    let df = to_polars(&t).unwrap();
    let back = from_polars(&df).unwrap();
    let col = back.column("s").unwrap();
    let sv = col.as_any().downcast_ref::<StringViewArray>().unwrap();
    assert_eq!(sv.value(99), long);
    assert!(
        sv.data_buffers().iter().any(|b| b.as_ptr() == bytes_ptr),
        "the string bytes were copied"
    );
}

#[test]
fn unsupported_types_name_the_column() {
    use parframe::arrow::array::DictionaryArray;
    use parframe::arrow::array::types::Int32Type;
    let dict: DictionaryArray<Int32Type> = vec!["a", "b", "a"].into_iter().collect();
    let t = Table::from_columns(vec![("cat".to_string(), Arc::new(dict) as ArrayRef)]).unwrap();
    let err = to_polars(&t).unwrap_err();
    assert!(matches!(err, Error::NotSupported(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("'cat'") && msg.contains("Dictionary"), "{msg}");

    // UInt8 exists in Arrow and polars, but not in this polars build (no
    // `dtype-u8` feature): also NotSupported, naming the column.
    let t = Table::from_columns(vec![(
        "small".to_string(),
        Arc::new(UInt8Array::from(vec![1u8, 2])) as ArrayRef,
    )])
    .unwrap();
    let err = to_polars(&t).unwrap_err();
    assert!(matches!(err, Error::NotSupported(_)), "{err}");
    assert!(err.to_string().contains("'small'"), "{err}");
}

#[test]
fn empty_and_zero_width_frames() {
    let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
    let t = Table::empty(schema);
    let df = to_polars(&t).unwrap();
    assert_eq!(df.shape(), (0, 1));
    let back = from_polars(&df).unwrap();
    assert_eq!(back.num_rows(), 0);
    assert_eq!(back.column_names(), vec!["a"]);

    let df = DataFrame::new(4, vec![]).unwrap();
    let t = from_polars(&df).unwrap();
    assert_eq!((t.num_rows(), t.num_columns()), (4, 0));
}
