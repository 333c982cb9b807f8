#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int16Type, Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Int8Array, Int32Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray, StringViewArray, UInt8Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;

use super::plan::common_numeric;
use super::*;

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = cols.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn sample() -> RecordBatch {
    batch(vec![
        (
            "i32",
            Arc::new(Int32Array::from(vec![Some(1), None, Some(-3), Some(40)])),
        ),
        ("i64", Arc::new(Int64Array::from(vec![10, 20, 30, 40]))),
        ("i8", Arc::new(Int8Array::from(vec![1, 2, 3, 4]))),
        ("u8", Arc::new(UInt8Array::from(vec![250, 2, 3, 4]))),
        ("u64", Arc::new(UInt64Array::from(vec![1, 2, 3, u64::MAX]))),
        (
            "f32",
            Arc::new(arrow_array::Float32Array::from(vec![0.5, 1.5, -2.0, 8.0])),
        ),
        (
            "f64",
            Arc::new(arrow_array::Float64Array::from(vec![0.5, 1.5, -2.0, 8.0])),
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![
                Some("Apple"),
                Some("baNana"),
                None,
                Some("Straße"),
            ])),
        ),
        (
            "b",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])),
        ),
        (
            "d",
            Arc::new(Date32Array::from(vec![0, 19_782, 19_783, -1])),
        ),
    ])
}

fn ty(e: Expr) -> DataType {
    e.to_field(&sample().schema()).unwrap().data_type().clone()
}

fn eval(e: Expr) -> ArrayRef {
    let b = sample();
    let out = e.evaluate(&b).unwrap();
    assert_eq!(out.len(), b.num_rows());
    assert_eq!(out.data_type(), &ty(e));
    out
}

fn bools(a: &ArrayRef) -> Vec<Option<bool>> {
    a.as_boolean().iter().collect()
}

#[test]
fn display_reads_like_code() {
    assert_eq!((col("a") + lit(1)).to_string(), "(col(\"a\") + 1)");
    assert_eq!(
        col("s").contains("x").to_string(),
        "col(\"s\").contains(\"x\")"
    );
    assert_eq!(
        col("a").cast(DataType::Float64).to_string(),
        "cast(col(\"a\") AS Float64)"
    );
    let e = col("a")
        .gt(lit(1.0))
        .and(col("b").is_null().not())
        .alias("k");
    assert_eq!(
        e.to_string(),
        "((col(\"a\") > 1.0) & col(\"b\").is_null().not()).alias(\"k\")"
    );
    assert_eq!((-col("x")).to_string(), "-col(\"x\")");
    assert_eq!(lit("q\"").to_string(), "\"q\\\"\"");
    assert_eq!(lit(None::<i32>).to_string(), "null");
    assert_eq!(
        col("s").str_len().upper().to_string(),
        "col(\"s\").str_len().upper()"
    );
}

#[test]
fn output_names_follow_polars() {
    assert_eq!(col("a").output_name(), "a");
    assert_eq!((col("a") + col("b")).output_name(), "a");
    assert_eq!((lit(1) + col("b")).output_name(), "b");
    assert_eq!((lit(1) + lit(2)).output_name(), "literal");
    assert_eq!(col("a").alias("z").output_name(), "z");
    assert_eq!((lit(1) + col("a").alias("z")).output_name(), "z");
    assert_eq!(col("s").lower().output_name(), "s");
}

#[test]
fn columns_are_distinct_in_order() {
    let e = (col("b") + col("a")).gt(col("b")).and(col("c").is_null());
    assert_eq!(e.columns(), vec!["b", "a", "c"]);
    assert!(lit(1).columns().is_empty());
    assert!(lit(1).alias("x").is_literal());
    assert!(!(lit(1) + lit(2)).is_literal());
}

#[test]
fn numeric_coercion_table() {
    use DataType::*;
    let cases = [
        (Int8, Int16, Int16),
        (UInt8, UInt32, UInt32),
        (Int8, UInt8, Int16),
        (Int32, UInt32, Int64),
        (UInt16, Int64, Int64),
        (Int64, UInt64, Int64),
        (Float32, Float64, Float64),
        (Int16, Float32, Float32),
        (Int32, Float32, Float64),
        (UInt64, Float64, Float64),
    ];
    for (a, b, want) in cases {
        assert_eq!(common_numeric(&a, &b), want, "{a} with {b}");
        assert_eq!(common_numeric(&b, &a), want, "{b} with {a}");
    }
}

#[test]
fn literals_adapt_to_columns() {
    assert_eq!(ty(col("i32") + lit(1)), DataType::Int32);
    assert_eq!(ty(lit(1i64) + col("i32")), DataType::Int32);
    assert_eq!(ty(col("i8") + lit(1000)), DataType::Int32);
    assert_eq!(ty(col("u8") + lit(-1)), DataType::Int32);
    assert_eq!(ty(col("u8").lt(lit(200))), DataType::Boolean);
    assert_eq!(ty(col("f32") * lit(2.0)), DataType::Float32);
    assert_eq!(ty(col("i64") * lit(0.5)), DataType::Float64);
    assert_eq!(ty(col("i8") + -lit(5)), DataType::Int8);
    assert_eq!(ty(col("i8") + (lit(1) + lit(2))), DataType::Int8);
    // An explicit cast pins the literal's type.
    assert_eq!(
        ty(col("i32") + lit(1).cast(DataType::Int64)),
        DataType::Int64
    );
    // Columns do not adapt to each other.
    assert_eq!(ty(col("i32") + col("i8")), DataType::Int32);
    assert_eq!(ty(col("i32") + col("u64")), DataType::Int64);
    assert_eq!(ty(lit(1) + lit(2.5)), DataType::Float64);
}

#[test]
fn arithmetic_values() {
    let out = eval(col("i32") + lit(1));
    let v: Vec<Option<i32>> = out.as_primitive::<Int32Type>().iter().collect();
    assert_eq!(v, vec![Some(2), None, Some(-2), Some(41)]);

    let out = eval(col("i64").div_trunc(lit(7)) % lit(3));
    assert_eq!(
        out.as_primitive::<Int64Type>().values().to_vec(),
        vec![1, 2, 1, 2]
    );

    let out = eval(col("i8") - col("u8"));
    assert_eq!(
        out.as_primitive::<Int16Type>().values().to_vec(),
        vec![-249, 0, 0, 0]
    );

    let out = eval(-col("f32") * lit(2.0));
    assert_eq!(
        out.as_primitive::<Float32Type>().values().to_vec(),
        vec![-1.0, -3.0, 4.0, -16.0]
    );

    let out = eval(col("i32") / lit(2.0));
    let v: Vec<Option<f64>> = out.as_primitive::<Float64Type>().iter().collect();
    assert_eq!(v, vec![Some(0.5), None, Some(-1.5), Some(20.0)]);

    let out = eval(col("i64") + lit(None::<i64>));
    assert_eq!(out.data_type(), &DataType::Int64);
    assert_eq!(out.null_count(), 4);
}

#[test]
fn integer_errors_name_the_expression() {
    let b = sample();
    let err = col("i64")
        .div_trunc(col("i8") - lit(1))
        .evaluate(&b)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert_eq!(
        err.to_string(),
        "invalid argument: division by zero in (col(\"i64\") // (col(\"i8\") - 1))"
    );
    // `//` takes integers only.
    let err = col("f64").div_trunc(lit(2)).evaluate(&b).unwrap_err();
    assert!(
        err.to_string()
            .contains("div_trunc (//) needs integer operands"),
        "{err}"
    );
    let err = (col("i64") % lit(0)).evaluate(&b).unwrap_err().to_string();
    assert!(
        err.contains("division by zero in (col(\"i64\") % 0)"),
        "{err}"
    );
    let err = (col("i8") * lit(100)).evaluate(&b).unwrap_err().to_string();
    assert!(err.contains("overflow in (col(\"i8\") * 100)"), "{err}");
    // u64::MAX does not fit the common Int64.
    let err = (col("u64") + col("i64"))
        .evaluate(&b)
        .unwrap_err()
        .to_string();
    assert!(err.contains("(col(\"u64\") + col(\"i64\"))"), "{err}");
    // Folded at plan time.
    let err = lit(1)
        .div_trunc(lit(0))
        .to_field(&b.schema())
        .unwrap_err()
        .to_string();
    assert!(err.contains("division by zero in (1 // 0)"), "{err}");
    // True division of integer literals folds to a float.
    assert_eq!(ty(lit(7) / lit(2)), DataType::Float64);
    // Floats follow IEEE.
    let out = eval(col("f64") / lit(0));
    assert!(out.as_primitive::<Float64Type>().value(0).is_infinite());
}

#[test]
fn type_errors() {
    let s = sample().schema();
    let err = (col("s") + lit(1)).to_field(&s).unwrap_err();
    match &err {
        Error::TypeMismatch { context, message } => {
            assert_eq!(context, "(col(\"s\") + 1)");
            assert!(message.contains("cannot add Utf8 and Int32"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let cases: Vec<(Expr, &str)> = vec![
        (col("s").gt(lit(1)), "cannot compare Utf8 with Int32"),
        (
            col("i32").and(col("b")),
            "and needs Boolean operands, got Int32 and Boolean",
        ),
        (!col("s"), "not needs a Boolean operand, got Utf8"),
        (-col("u8"), "cannot negate UInt8"),
        (
            col("i32").contains("x"),
            "contains needs a string operand, got Int32",
        ),
        (col("b") * lit(2), "cannot multiply Boolean by Int32"),
        (
            col("d").eq(lit("not a date")),
            "cannot convert \"not a date\" to Date32",
        ),
        (
            col("i32").cast(DataType::Struct(Default::default())),
            "cannot cast Int32 to Struct",
        ),
    ];
    for (e, want) in cases {
        let msg = e.to_field(&s).unwrap_err().to_string();
        assert!(msg.contains(want), "{e}: {msg}");
        assert!(msg.contains(&e.to_string()), "{e}: {msg}");
    }
    // The innermost failing node is named.
    let msg = ((col("s") - lit(1)) * lit(2))
        .to_field(&s)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("type error in (col(\"s\") - 1): cannot subtract Int32 from Utf8"),
        "{msg}"
    );
}

#[test]
fn unknown_column_lists_available() {
    let s = Schema::new(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("b", DataType::Utf8, true),
    ]);
    let err = (col("a") + col("zz")).to_field(&s).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'zz' not found; available columns: [a, b]"
    );
}

#[test]
fn fields_carry_name_and_nullability() {
    let s = Schema::new(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("n", DataType::Int64, true),
    ]);
    let f = (col("a") + lit(1)).to_field(&s).unwrap();
    assert_eq!((f.name().as_str(), f.is_nullable()), ("a", false));
    let f = (col("a") + col("n")).alias("x").to_field(&s).unwrap();
    assert_eq!((f.name().as_str(), f.is_nullable()), ("x", true));
    assert!(!col("n").is_null().to_field(&s).unwrap().is_nullable());
    assert!(lit(None::<i32>).to_field(&s).unwrap().is_nullable());
    assert_eq!(
        lit(None::<i32>).to_field(&s).unwrap().data_type(),
        &DataType::Null
    );
}

#[test]
fn comparisons_and_kleene_logic() {
    assert_eq!(
        bools(&eval(col("i32").gt(lit(0)))),
        vec![Some(true), None, Some(false), Some(true)]
    );
    assert_eq!(
        bools(&eval(col("i8").eq(col("u8")))),
        vec![Some(false), Some(true), Some(true), Some(true)]
    );
    assert_eq!(bools(&eval(col("b").and(lit(false)))), vec![Some(false); 4]);
    assert_eq!(
        bools(&eval(col("b").or(lit(None::<bool>)))),
        vec![Some(true), None, None, Some(true)]
    );
    assert_eq!(
        bools(&eval(col("b").not())),
        vec![Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(
        bools(&eval(col("i32").is_null())),
        vec![Some(false), Some(true), Some(false), Some(false)]
    );
    assert_eq!(
        bools(&eval(col("s").is_not_null())),
        vec![Some(true), Some(true), Some(false), Some(true)]
    );
    assert_eq!(
        bools(&eval(col("d").gt_eq(lit("2024-02-29")))),
        vec![Some(false), Some(true), Some(true), Some(false)]
    );
    assert_eq!(
        bools(&eval(col("s").lt_eq(lit("Banana")))),
        vec![Some(true), Some(false), None, Some(false)]
    );
    assert_eq!(bools(&eval(col("i32").eq(lit(None::<i32>)))), vec![None; 4]);
}

#[test]
fn top_level_literals_are_broadcast() {
    let out = eval(lit(7u8));
    assert_eq!(
        out.as_primitive::<arrow_array::types::UInt8Type>()
            .values()
            .to_vec(),
        vec![7; 4]
    );
    let out = eval(lit("x").upper());
    assert_eq!(out.as_string::<i32>().value(3), "X");
    let out = eval(lit(None::<bool>));
    assert_eq!(
        (out.data_type(), out.logical_null_count()),
        (&DataType::Null, 4)
    );
    let out = eval(lit(2).gt(lit(1)).and(col("b")));
    assert_eq!(bools(&out), vec![Some(true), Some(false), None, Some(true)]);
}

#[test]
fn casts_are_strict() {
    let out = eval(col("i32").cast(DataType::Float64));
    let v: Vec<Option<f64>> = out.as_primitive::<Float64Type>().iter().collect();
    assert_eq!(v, vec![Some(1.0), None, Some(-3.0), Some(40.0)]);
    let err = col("u8")
        .cast(DataType::Int8)
        .evaluate(&sample())
        .unwrap_err()
        .to_string();
    assert!(err.contains("cast(col(\"u8\") AS Int8)"), "{err}");
    let err = col("s")
        .cast(DataType::Int64)
        .evaluate(&sample())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Apple"), "{err}");
    assert_eq!(ty(col("i32").cast(DataType::Int32)), DataType::Int32);
}

#[test]
fn string_functions() {
    assert_eq!(
        bools(&eval(col("s").contains("an"))),
        vec![Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(
        bools(&eval(col("s").starts_with("A"))),
        vec![Some(true), Some(false), None, Some(false)]
    );
    assert_eq!(
        bools(&eval(col("s").ends_with("ße"))),
        vec![Some(false), Some(false), None, Some(true)]
    );
    let len = eval(col("s").str_len());
    let v: Vec<Option<i32>> = len.as_primitive::<Int32Type>().iter().collect();
    assert_eq!(v, vec![Some(5), Some(6), None, Some(6)]);
    let up = eval(col("s").upper());
    let v: Vec<Option<&str>> = up.as_string::<i32>().iter().collect();
    assert_eq!(
        v,
        vec![Some("APPLE"), Some("BANANA"), None, Some("STRASSE")]
    );
    let low = eval(col("s").lower());
    let v: Vec<Option<&str>> = low.as_string::<i32>().iter().collect();
    assert_eq!(v, vec![Some("apple"), Some("banana"), None, Some("straße")]);
}

#[test]
fn string_kernels_on_all_string_types_and_slices() {
    let base = StringArray::from(vec![Some("ÉtÉ"), Some("abc"), None, Some("XyZ"), Some("q")]);
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(base.clone()),
        Arc::new(LargeStringArray::from_iter(base.iter())),
        Arc::new(StringViewArray::from_iter(base.iter())),
    ];
    for a in arrays {
        let dt = a.data_type().clone();
        // Slice past the non-ASCII value so the ASCII fast path sees offsets != 0.
        for (off, expect_low) in [
            (
                0,
                vec![Some("été"), Some("abc"), None, Some("xyz"), Some("q")],
            ),
            (1, vec![Some("abc"), None, Some("xyz"), Some("q")]),
        ] {
            let b = batch(vec![("s", a.slice(off, a.len() - off))]);
            let low = col("s").lower().evaluate(&b).unwrap();
            assert_eq!(low.data_type(), &dt);
            let low = arrow_cast::cast(&low, &DataType::Utf8).unwrap();
            let got: Vec<Option<&str>> = low.as_string::<i32>().iter().collect();
            assert_eq!(got, expect_low, "{dt} offset {off}");
            let len = col("s").str_len().evaluate(&b).unwrap();
            let len = arrow_cast::cast(&len, &DataType::Int64).unwrap();
            let got: Vec<Option<i64>> = len.as_primitive::<Int64Type>().iter().collect();
            let want: Vec<Option<i64>> = expect_low
                .iter()
                .map(|s| s.map(|s| s.chars().count() as i64))
                .collect();
            assert_eq!(got, want, "{dt} offset {off}");
            let c = col("s").contains("y").evaluate(&b).unwrap();
            assert_eq!(
                c.as_boolean().iter().filter(|x| *x == Some(true)).count(),
                1
            );
            // A literal of another string type compares.
            let eq = col("s").eq(lit("q")).evaluate(&b).unwrap();
            assert!(eq.as_boolean().value(eq.len() - 1));
        }
    }
}

#[test]
fn mixed_string_types_compare() {
    let b = batch(vec![
        ("a", Arc::new(StringArray::from(vec!["x", "y"]))),
        ("l", Arc::new(LargeStringArray::from(vec!["x", "z"]))),
        ("v", Arc::new(StringViewArray::from(vec!["x", "y"]))),
    ]);
    let eq = col("a").eq(col("l")).evaluate(&b).unwrap();
    assert_eq!(bools(&eq), vec![Some(true), Some(false)]);
    let eq = col("l").eq(col("v")).evaluate(&b).unwrap();
    assert_eq!(bools(&eq), vec![Some(true), Some(false)]);
}

#[test]
fn null_typed_columns_adapt() {
    let b = batch(vec![
        ("n", Arc::new(arrow_array::NullArray::new(2))),
        ("i", Arc::new(Int64Array::from(vec![1, 2]))),
    ]);
    let out = (col("i") + col("n")).evaluate(&b).unwrap();
    assert_eq!((out.data_type(), out.null_count()), (&DataType::Int64, 2));
    let out = col("n").lower().evaluate(&b).unwrap();
    assert_eq!(out.data_type(), &DataType::Utf8);
    let out = col("n").is_null().evaluate(&b).unwrap();
    assert_eq!(bools(&out), vec![Some(true), Some(true)]);
}

#[test]
fn prepared_expressions_check_the_chunk_schema() {
    let b = sample();
    let p = (col("i64") + lit(1)).prepare(&b.schema()).unwrap();
    assert_eq!(p.field().data_type(), &DataType::Int64);
    assert_eq!(p.evaluate(&b).unwrap().len(), 4);
    let other = batch(vec![("i64", Arc::new(Int32Array::from(vec![1])))]);
    assert!(matches!(p.evaluate(&other), Err(Error::SchemaMismatch(_))));
}

#[test]
fn empty_chunks() {
    let b = sample().slice(0, 0);
    assert_eq!(
        (col("i64").div_trunc(lit(0))).evaluate(&b).unwrap().len(),
        0
    );
    assert_eq!(lit(1).evaluate(&b).unwrap().len(), 0);
    assert_eq!(col("s").upper().evaluate(&b).unwrap().len(), 0);
}

/// Runs `f` on a thread with the stack a rayon worker (and a test thread)
/// gets by default, so a test cannot pass only because its thread had a
/// big stack.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn depth_counts_the_longest_path() {
    assert_eq!(col("a").depth(), 1);
    assert_eq!((col("a") + lit(1)).depth(), 2);
    assert_eq!(((col("a") + lit(1)).alias("b").is_null()).depth(), 4);
    let case = when(col("a").gt(1), col("b").cast(DataType::Int64)).otherwise(lit(0));
    assert_eq!(case.depth(), 3);
    assert_eq!(coalesce([col("a"), -col("b")]).depth(), 3);
}

#[test]
fn deep_chains_prepare_evaluate_and_print_on_a_worker_sized_stack() {
    on_small_stack(|| {
        let b = batch(vec![("x", Arc::new(Int64Array::from(vec![1, 2, 3])))]);
        // A left-deep sum as deep as allowed.
        let sum = (1..MAX_EXPR_DEPTH).fold(col("x"), |e, _| e + col("x"));
        assert_eq!(sum.depth(), MAX_EXPR_DEPTH);
        assert_eq!(sum.columns(), vec!["x".to_string()]);
        assert_eq!(sum.output_name(), "x");
        let out = sum.evaluate(&b).unwrap();
        // MAX_EXPR_DEPTH copies of x.
        let m = MAX_EXPR_DEPTH as i64;
        assert_eq!(
            out.as_primitive::<Int64Type>().values().to_vec(),
            vec![m, 2 * m, 3 * m]
        );
        assert!(sum.to_string().len() > 8 * MAX_EXPR_DEPTH);
        // A chain of `or`-ed equalities (the SQL `x = 0 OR x = 1 OR ...`).
        let any = (1..4000).fold(col("x").eq(0), |e, i| e.or(col("x").eq(i)));
        let out = any.evaluate(&b).unwrap();
        assert_eq!(out.as_boolean().true_count(), 3);
        // Rewriting and cloning deep trees is safe too.
        let renamed = sum.clone().transform_up(&mut |e| Ok(e)).unwrap();
        assert_eq!(renamed.depth(), MAX_EXPR_DEPTH);
    });
}

#[test]
fn a_tree_deeper_than_the_limit_is_refused_with_its_depth() {
    on_small_stack(|| {
        let b = batch(vec![("x", Arc::new(Int64Array::from(vec![1])))]);
        let deep = (0..MAX_EXPR_DEPTH).fold(col("x"), |e, _| e + lit(1));
        let err = deep.to_field(b.schema_ref()).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("nests {} levels deep", MAX_EXPR_DEPTH + 1)),
            "{msg}"
        );
        assert!(msg.contains("is_in"), "{msg}");
        // The message quotes only the start of the expression.
        assert!(msg.len() < CONTEXT_CHARS + 300, "{} bytes", msg.len());
    });
}

#[test]
fn runtime_errors_quote_a_bounded_context() {
    let b = batch(vec![("x", Arc::new(Int8Array::from(vec![100i8])))]);
    // Only the top `+` overflows (100 + 0 + ... + 0 + 100).
    let deep = (0..50).fold(col("x"), |e, _| e + lit(0i8)) + col("x");
    let err = deep.evaluate(&b).unwrap_err().to_string();
    assert!(err.contains("overflow"), "{err}");
    assert!(err.contains('…'), "{err}");
    assert!(err.len() < CONTEXT_CHARS * 4 + 200, "{err}");
    // A short expression is quoted whole.
    let err = (col("x") + col("x")).evaluate(&b).unwrap_err().to_string();
    assert!(err.contains("(col(\"x\") + col(\"x\"))"), "{err}");
    assert!(!err.contains('…'), "{err}");
}
