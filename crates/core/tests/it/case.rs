//! `CASE WHEN` (`when(..).when(..).otherwise(..)`): unit checks and a
//! property test against a naive row loop over random nullable columns
//! split in random chunks.

use std::sync::Arc;

use parframe_common::Error;
use parframe_core::arrow::array::{ArrayRef, BooleanArray, Int32Array, Int64Array, StringArray};
use parframe_core::arrow::schema::DataType;
use parframe_core::{Table, col, lit, when};
use proptest::prelude::*;

use crate::common::*;

type Opt<T> = Option<T>;

fn table_of(
    a: &[Opt<i32>],
    b: &[Opt<i32>],
    c: &[Opt<i64>],
    p: &[Opt<bool>],
    chunk: usize,
) -> Table {
    Table::from_columns(vec![
        (
            "a".into(),
            Arc::new(Int32Array::from(a.to_vec())) as ArrayRef,
        ),
        (
            "b".into(),
            Arc::new(Int32Array::from(b.to_vec())) as ArrayRef,
        ),
        (
            "c".into(),
            Arc::new(Int64Array::from(c.to_vec())) as ArrayRef,
        ),
        (
            "p".into(),
            Arc::new(BooleanArray::from(p.to_vec())) as ArrayRef,
        ),
    ])
    .unwrap()
    .rechunk(chunk)
    .unwrap()
}

fn small() -> Table {
    table_of(
        &[Some(1), Some(5), None, Some(9)],
        &[Some(2), Some(2), Some(2), None],
        &[Some(10), Some(20), Some(30), Some(40)],
        &[Some(true), None, Some(false), Some(true)],
        4,
    )
}

#[test]
fn first_true_branch_wins_and_null_condition_is_false() {
    let t = small();
    let e = when(col("p"), lit(1))
        .when(col("a").gt(lit(0)), lit(2))
        .otherwise(lit(3));
    assert_eq!(
        e.to_string(),
        "CASE WHEN col(\"p\") THEN 1 WHEN (col(\"a\") > 0) THEN 2 ELSE 3 END"
    );
    assert_eq!(e.output_name(), "p");
    assert_eq!(e.columns(), vec!["p".to_string(), "a".to_string()]);
    let out = eval_table(&t, &e).unwrap();
    assert_eq!(out.data_type(), &DataType::Int32);
    assert_eq!(i32s(&out), vec![Some(1), Some(2), Some(3), Some(1)]);
}

#[test]
fn end_gives_null_default_and_values_are_coerced() {
    let t = small();
    // Int32 column and Int64 column meet at Int64; the default is null.
    let e = when(col("p"), col("a"))
        .when(col("a").lt(lit(6)), col("c"))
        .end();
    let f = e.to_field(t.schema()).unwrap();
    assert_eq!(f.data_type(), &DataType::Int64);
    assert!(f.is_nullable());
    assert_eq!(
        i64s(&eval_table(&t, &e).unwrap()),
        vec![Some(1), Some(20), None, Some(9)]
    );
    // A weak literal adopts the column's type; a float makes it Float64.
    let e = when(col("p"), col("a")).otherwise(lit(0));
    assert_eq!(
        e.to_field(t.schema()).unwrap().data_type(),
        &DataType::Int32
    );
    let e = when(col("p"), col("a")).otherwise(lit(0.5));
    assert_eq!(
        e.to_field(t.schema()).unwrap().data_type(),
        &DataType::Float64
    );
    // All-literal CASE folds to a literal and broadcasts.
    let e = when(lit(false), lit(1)).when(lit(true), lit(2)).end();
    assert_eq!(i32s(&eval_table(&t, &e).unwrap()), vec![Some(2); 4]);
    // Strings.
    let e = when(col("p"), lit("yes")).otherwise(lit("no"));
    assert_eq!(
        strs(&eval_table(&t, &e).unwrap()),
        ["yes", "no", "no", "yes"]
            .map(|s| Some(s.to_string()))
            .to_vec()
    );
}

#[test]
fn type_errors_name_the_case() {
    let t = small();
    let err = when(col("a"), lit(1))
        .end()
        .to_field(t.schema())
        .unwrap_err();
    assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("CASE WHEN col(\"a\") THEN 1 END"), "{msg}");
    assert!(msg.contains("must be Boolean, got Int32"), "{msg}");

    let err = when(col("p"), col("a"))
        .otherwise(lit("x"))
        .to_field(t.schema())
        .unwrap_err();
    assert!(matches!(err, Error::TypeMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("no common type: Int32 and Utf8"),
        "{err}"
    );

    let err = when(col("p"), col("nope"))
        .end()
        .to_field(t.schema())
        .unwrap_err();
    assert!(matches!(err, Error::ColumnNotFound { .. }), "{err}");
}

#[test]
fn string_column_default() {
    let t = Table::from_columns(vec![
        (
            "s".into(),
            Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])) as ArrayRef,
        ),
        (
            "p".into(),
            Arc::new(BooleanArray::from(vec![Some(true), Some(true), None])) as ArrayRef,
        ),
    ])
    .unwrap();
    let e = when(col("p"), lit("hit")).otherwise(col("s"));
    assert_eq!(
        strs(&eval_table(&t, &e).unwrap()),
        vec![Some("hit".into()), Some("hit".into()), Some("c".into())]
    );
}

proptest! {
    #[test]
    fn case_matches_row_loop(
        rows in proptest::collection::vec(
            (
                proptest::option::of(-5i32..5),
                proptest::option::of(-5i32..5),
                proptest::option::of(any::<i64>()),
                proptest::option::of(any::<bool>()),
            ),
            0..60,
        ),
        chunk in 1usize..17,
        with_default in any::<bool>(),
    ) {
        let a: Vec<_> = rows.iter().map(|r| r.0).collect();
        let b: Vec<_> = rows.iter().map(|r| r.1).collect();
        let c: Vec<_> = rows.iter().map(|r| r.2).collect();
        let p: Vec<_> = rows.iter().map(|r| r.3).collect();
        let t = table_of(&a, &b, &c, &p, chunk);
        let builder = when(col("p"), col("a"))
            .when(col("a").gt(col("b")), col("c"))
            .when(col("b").eq(lit(0)), lit(-1));
        let e = if with_default { builder.otherwise(col("b")) } else { builder.end() };
        let want: Vec<Opt<i64>> = rows
            .iter()
            .map(|&(a, b, c, p)| {
                if p == Some(true) {
                    a.map(i64::from)
                } else if matches!((a, b), (Some(x), Some(y)) if x > y) {
                    c
                } else if b == Some(0) {
                    Some(-1)
                } else if with_default {
                    b.map(i64::from)
                } else {
                    None
                }
            })
            .collect();
        let got = eval_table(&t, &e).unwrap();
        prop_assert_eq!(got.data_type(), &DataType::Int64);
        prop_assert_eq!(i64s(&got), want, "{}", e);
    }
}
