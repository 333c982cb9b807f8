//! Expression behaviour through the public API, on tables built with `table!`.

use parframe_common::Error;
use parframe_core::arrow::schema::DataType;
use parframe_core::expr::{BinaryOp, ScalarValue};
use parframe_core::{Expr, Table, col, lit, table};

use crate::common::*;

fn people() -> Table {
    table!(
        "name" => vec![Some("Ada"), Some("bob"), None, Some("Chloé")],
        "age" => vec![Some(36i32), None, Some(7), Some(51)],
        "score" => [1.5f32, 2.0, -0.5, 10.0],
        "id" => [1i64, 2, 3, 4],
        "vip" => vec![Some(true), Some(false), None, Some(false)],
    )
    .unwrap()
}

#[test]
fn unknown_column_error_lists_columns() {
    let t = people();
    let err = (col("age") + col("agee")).to_field(t.schema()).unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }));
    assert_eq!(
        err.to_string(),
        "column 'agee' not found; available columns: [name, age, score, id, vip]"
    );
    // Evaluation reports the same.
    let err = col("nope").evaluate(&t.chunks()[0]).unwrap_err();
    assert!(err.to_string().starts_with("column 'nope' not found"));
}

#[test]
fn type_mismatch_names_expression_and_types() {
    let t = people();
    let err = (col("name") + lit(1)).to_field(t.schema()).unwrap_err();
    let Error::TypeMismatch { context, message } = &err else {
        panic!("expected a type mismatch, got {err:?}");
    };
    assert_eq!(context, "(col(\"name\") + 1)");
    assert!(
        message.contains("Utf8") && message.contains("Int32"),
        "{message}"
    );
    assert_eq!(
        err.to_string(),
        "type error in (col(\"name\") + 1): cannot add Utf8 and Int32: \
         arithmetic needs integer, float or decimal operands (or temporal ones)"
    );

    let err = col("name").gt(col("id")).to_field(t.schema()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "type error in (col(\"name\") > col(\"id\")): cannot compare Utf8 with Int64"
    );
    let err = col("age").or(col("vip")).to_field(t.schema()).unwrap_err();
    assert!(
        err.to_string()
            .contains("or needs Boolean operands, got Int32 and Boolean")
    );
    let err = col("id").upper().to_field(t.schema()).unwrap_err();
    assert!(
        err.to_string()
            .contains("upper needs a string operand, got Int64")
    );
}

#[test]
fn output_fields() {
    let t = people();
    let f = (col("age") * lit(2)).to_field(t.schema()).unwrap();
    assert_eq!(
        (f.name().as_str(), f.data_type()),
        ("age", &DataType::Int32)
    );
    assert!(f.is_nullable());
    let f = (col("score") * lit(2.0))
        .alias("s2")
        .to_field(t.schema())
        .unwrap();
    assert_eq!(
        (f.name().as_str(), f.data_type()),
        ("s2", &DataType::Float32)
    );
    let f = (col("id") + col("age")).to_field(t.schema()).unwrap();
    assert_eq!((f.name().as_str(), f.data_type()), ("id", &DataType::Int64));
    let f = lit(3).to_field(t.schema()).unwrap();
    assert_eq!((f.name().as_str(), f.is_nullable()), ("literal", false));
    let f = col("name").str_len().to_field(t.schema()).unwrap();
    assert_eq!(f.data_type(), &DataType::Int32);
    let f = col("id")
        .cast(DataType::Float64)
        .to_field(t.schema())
        .unwrap();
    assert_eq!(f.data_type(), &DataType::Float64);
}

#[test]
fn evaluates_over_many_chunks() {
    let t = people().rechunk(1).unwrap();
    assert_eq!(t.num_chunks(), 4);
    let out = eval_table(&t, &(col("age") + lit(1))).unwrap();
    assert_eq!(i32s(&out), vec![Some(37), None, Some(8), Some(52)]);
    let out = eval_table(&t, &col("name").lower()).unwrap();
    let want = [Some("ada"), Some("bob"), None, Some("chloé")];
    assert_eq!(strs(&out), want.map(|s| s.map(String::from)).to_vec());
    // Kleene: null AND true is null, null AND false is false.
    let out = eval_table(&t, &col("age").gt(lit(10)).and(col("vip").not())).unwrap();
    assert_eq!(
        bools(&out),
        vec![Some(false), None, Some(false), Some(true)]
    );
    let out = eval_table(&t, &lit("x")).unwrap();
    assert_eq!(strs(&out), vec![Some("x".to_string()); 4]);
}

#[test]
fn filter_style_predicates() {
    let t = people();
    let p = col("name")
        .starts_with("C")
        .or(col("name").contains("o"))
        .and(col("age").is_not_null());
    let out = eval_table(&t, &p).unwrap();
    assert_eq!(
        bools(&out),
        vec![Some(false), Some(false), None, Some(true)]
    );
    let out = eval_table(&t, &col("score").lt_eq(lit(1.5))).unwrap();
    assert_eq!(
        bools(&out),
        vec![Some(true), Some(false), Some(true), Some(false)]
    );
    let out = eval_table(&t, &col("id").not_eq(lit(2u8))).unwrap();
    assert_eq!(
        bools(&out),
        vec![Some(true), Some(false), Some(true), Some(true)]
    );
}

#[test]
fn division_by_zero_is_an_error_naming_the_expression() {
    let t = table!("a" => [10i64, 20], "b" => [2i64, 0]).unwrap();
    let err = eval_table(&t, &col("a").div_trunc(col("b"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument: division by zero in (col(\"a\") // col(\"b\"))"
    );
    // True division of integers is a float: IEEE infinity, as in polars.
    let out = eval_table(&t, &(col("a") / col("b"))).unwrap();
    let v = f64s(&out);
    assert_eq!(v[0], Some(5.0));
    assert!(v[1].is_some_and(f64::is_infinite));
    let out = eval_table(&t, &col("a").div_trunc(lit(3))).unwrap();
    assert_eq!(i64s(&out), vec![Some(3), Some(6)]);
}

#[test]
fn scalar_values() {
    assert_eq!(ScalarValue::from(3u16).data_type(), DataType::UInt16);
    assert_eq!(ScalarValue::from("a"), ScalarValue::Utf8("a".into()));
    assert_eq!(
        ScalarValue::from(String::from("a")).data_type(),
        DataType::Utf8
    );
    assert_eq!(ScalarValue::from(Some(1.5f32)), ScalarValue::Float32(1.5));
    assert_eq!(ScalarValue::from(None::<&str>), ScalarValue::Null);
    assert_eq!(ScalarValue::from(true).to_array(3).len(), 3);
    let s = ScalarValue::from(2i8).to_scalar();
    let (array, is_scalar) = parframe_core::arrow::array::Datum::get(&s);
    assert!(is_scalar);
    assert_eq!(array.len(), 1);
}

#[test]
fn expressions_are_plain_data() {
    let e = col("a") + lit(1);
    let Expr::Binary { op, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*op, BinaryOp::Add);
    assert_eq!(e.clone(), e);
    assert_eq!(e.columns(), vec!["a"]);
}
