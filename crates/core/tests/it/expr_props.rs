//! Property tests: expressions evaluated with arrow kernels against a naive
//! row-by-row Rust reference over random nullable columns, split in random
//! chunks (so kernels see sliced arrays).

use parframe_common::Error;
use parframe_core::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array};
use parframe_core::arrow::schema::DataType;
use parframe_core::{Expr, Table, col, lit};
use proptest::prelude::*;

use crate::common::*;

type Opt<T> = Option<T>;
type FloatOp = fn(f64, f64) -> f64;
type MakeCmp = fn(Expr, Expr) -> Expr;

fn int() -> impl Strategy<Value = i32> {
    prop_oneof![any::<i32>(), -4i32..4, Just(i32::MIN), Just(i32::MAX)]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -100.0f64..100.0,
        1 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
    ]
}

#[derive(Debug, Clone)]
struct Row {
    a: Opt<i32>,
    b: Opt<i32>,
    c: Opt<i64>,
    f: Opt<f64>,
    p: Opt<bool>,
    q: Opt<bool>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(int()),
        proptest::option::of(int()),
        proptest::option::of(any::<i64>()),
        proptest::option::of(float()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(a, b, c, f, p, q)| Row { a, b, c, f, p, q })
}

fn table_of(rows: &[Row], chunk: usize) -> Table {
    let arr = |a: ArrayRef| a;
    let t = Table::from_columns(vec![
        (
            "a".into(),
            arr(std::sync::Arc::new(Int32Array::from(
                rows.iter().map(|r| r.a).collect::<Vec<_>>(),
            ))),
        ),
        (
            "b".into(),
            arr(std::sync::Arc::new(Int32Array::from(
                rows.iter().map(|r| r.b).collect::<Vec<_>>(),
            ))),
        ),
        (
            "c".into(),
            arr(std::sync::Arc::new(Int64Array::from(
                rows.iter().map(|r| r.c).collect::<Vec<_>>(),
            ))),
        ),
        (
            "f".into(),
            arr(std::sync::Arc::new(Float64Array::from(
                rows.iter().map(|r| r.f).collect::<Vec<_>>(),
            ))),
        ),
        (
            "p".into(),
            arr(std::sync::Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.p).collect::<Vec<_>>(),
            ))),
        ),
        (
            "q".into(),
            arr(std::sync::Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.q).collect::<Vec<_>>(),
            ))),
        ),
    ])
    .unwrap();
    t.rechunk(chunk).unwrap()
}

/// Row-wise reference of a fallible binary integer operation: `Err` when any
/// row with two values fails.
fn reference<T: Copy, U, R>(
    l: impl Iterator<Item = Opt<T>>,
    r: impl Iterator<Item = Opt<U>>,
    op: impl Fn(T, U) -> Option<R>,
) -> Result<Vec<Opt<R>>, ()> {
    l.zip(r)
        .map(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => op(x, y).map(Some).ok_or(()),
            _ => Ok(None),
        })
        .collect()
}

fn check_int<R: PartialEq + std::fmt::Debug>(
    t: &Table,
    e: &Expr,
    want: Result<Vec<Opt<R>>, ()>,
    get: impl Fn(&ArrayRef) -> Vec<Opt<R>>,
) -> Result<(), TestCaseError> {
    match (eval_table(t, e), want) {
        (Ok(got), Ok(want)) => prop_assert_eq!(get(&got), want, "{}", e),
        (Err(err), Err(())) => {
            let msg = err.to_string();
            prop_assert!(matches!(err, Error::InvalidArgument(_)), "{}", msg);
            prop_assert!(msg.contains(&e.to_string()), "{}", msg);
        }
        (got, want) => prop_assert!(
            false,
            "{}: got {:?}, want {:?}",
            e,
            got.map(|g| get(&g)),
            want
        ),
    }
    Ok(())
}

fn kleene_and(x: Opt<bool>, y: Opt<bool>) -> Opt<bool> {
    match (x, y) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn kleene_or(x: Opt<bool>, y: Opt<bool>) -> Opt<bool> {
    match (x, y) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

const STRING_TYPES: [DataType; 3] = [DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn integer_arithmetic(rows in proptest::collection::vec(row(), 0..40), chunk in 1usize..9, k in int()) {
        let t = table_of(&rows, chunk);
        let a = || rows.iter().map(|r| r.a);
        let b = || rows.iter().map(|r| r.b);
        let ks = || std::iter::repeat(Some(k));
        check_int(&t, &(col("a") + col("b")), reference(a(), b(), i32::checked_add), i32s)?;
        check_int(&t, &(col("a") - col("b")), reference(a(), b(), i32::checked_sub), i32s)?;
        check_int(&t, &(col("a") * col("b")), reference(a(), b(), i32::checked_mul), i32s)?;
        check_int(&t, &col("a").div_trunc(col("b")), reference(a(), b(), i32::checked_div), i32s)?;
        // arrow's `%` gives 0 for MIN % -1 and fails only on a zero divisor.
        let rem = |x: i32, y: i32| (y != 0).then(|| x.wrapping_rem(y));
        check_int(&t, &(col("a") % col("b")), reference(a(), b(), rem), i32s)?;
        // With a literal on either side (kept as a scalar Datum).
        check_int(&t, &(col("a") + lit(k)), reference(a(), ks(), i32::checked_add), i32s)?;
        check_int(&t, &(lit(k) - col("a")), reference(ks(), a(), i32::checked_sub), i32s)?;
        check_int(&t, &col("a").div_trunc(lit(k)), reference(a(), ks(), i32::checked_div), i32s)?;
        check_int(&t, &(col("a") % lit(k)), reference(a(), ks(), rem), i32s)?;
        let neg = |x: i32, _: ()| x.checked_neg();
        check_int(&t, &-col("a"), reference(a(), std::iter::repeat(Some(())), neg), i32s)?;
        // Int32 with Int64 goes to Int64.
        let c = || rows.iter().map(|r| r.c);
        let add = |x: i32, y: i64| i64::from(x).checked_add(y);
        check_int(&t, &(col("a") + col("c")), reference(a(), c(), add), i64s)?;
        let mul = |x: i64, y: i32| x.checked_mul(i64::from(y));
        check_int(&t, &(col("c") * col("b")), reference(c(), b(), mul), i64s)?;
        // A null literal nulls everything.
        let out = eval_table(&t, &(col("a") * lit(None::<i32>))).unwrap();
        prop_assert_eq!(i32s(&out), vec![None; rows.len()]);
    }

    #[test]
    fn float_arithmetic(rows in proptest::collection::vec(row(), 0..40), chunk in 1usize..9, k in float()) {
        let t = table_of(&rows, chunk);
        let ops: [(Expr, FloatOp); 5] = [
            (col("a") + col("f"), |x, y| x + y),
            (col("a") - col("f"), |x, y| x - y),
            (col("a") * col("f"), |x, y| x * y),
            (col("a") / col("f"), |x, y| x / y),
            (col("a") % col("f"), |x, y| x % y),
        ];
        for (e, op) in ops {
            let got = f64s(&eval_table(&t, &e).unwrap());
            let want: Vec<Opt<f64>> = rows
                .iter()
                .map(|r| Some(op(f64::from(r.a?), r.f?)))
                .collect();
            prop_assert!(same_f64(&got, &want), "{}: {:?} vs {:?}", e, got, want);
        }
        let e = col("f") / lit(k);
        let got = f64s(&eval_table(&t, &e).unwrap());
        let want: Vec<Opt<f64>> = rows.iter().map(|r| Some(r.f? / k)).collect();
        prop_assert!(same_f64(&got, &want), "{}", e);
    }

    #[test]
    fn comparisons(rows in proptest::collection::vec(row(), 0..40), chunk in 1usize..9, k in any::<i64>(), x in float()) {
        use std::cmp::Ordering;
        let t = table_of(&rows, chunk);
        type Cmp = fn(Ordering) -> bool;
        let ops: [(MakeCmp, Cmp); 6] = [
            (Expr::eq, |o| o == Ordering::Equal),
            (Expr::not_eq, |o| o != Ordering::Equal),
            (Expr::lt, |o| o == Ordering::Less),
            (Expr::lt_eq, |o| o != Ordering::Greater),
            (Expr::gt, |o| o == Ordering::Greater),
            (Expr::gt_eq, |o| o != Ordering::Less),
        ];
        for (make, test) in ops {
            let cases: Vec<(Expr, Vec<Opt<Ordering>>)> = vec![
                (make(col("a"), col("b")), rows.iter().map(|r| Some(r.a?.cmp(&r.b?))).collect()),
                // A literal wider than the column: compared as Int64 when it does not fit.
                (make(col("a"), lit(k)), rows.iter().map(|r| Some(i64::from(r.a?).cmp(&k))).collect()),
                (make(lit(k), col("c")), rows.iter().map(|r| Some(k.cmp(&r.c?))).collect()),
                // Int with Float64, IEEE total order.
                (make(col("a"), col("f")), rows.iter().map(|r| Some(f64::from(r.a?).total_cmp(&r.f?))).collect()),
                (make(col("f"), lit(x)), rows.iter().map(|r| Some(r.f?.total_cmp(&x))).collect()),
            ];
            for (e, ord) in cases {
                let got = bools(&eval_table(&t, &e).unwrap());
                let want: Vec<Opt<bool>> = ord.into_iter().map(|o| o.map(test)).collect();
                prop_assert_eq!(got, want, "{}", e);
            }
        }
    }

    #[test]
    fn kleene_logic_and_nulls(rows in proptest::collection::vec(row(), 0..40), chunk in 1usize..9, k in proptest::option::of(any::<bool>())) {
        let t = table_of(&rows, chunk);
        let cases: Vec<(Expr, Vec<Opt<bool>>)> = vec![
            (col("p").and(col("q")), rows.iter().map(|r| kleene_and(r.p, r.q)).collect()),
            (col("p").or(col("q")), rows.iter().map(|r| kleene_or(r.p, r.q)).collect()),
            (col("p").and(lit(k)), rows.iter().map(|r| kleene_and(r.p, k)).collect()),
            (lit(k).or(col("q")), rows.iter().map(|r| kleene_or(k, r.q)).collect()),
            (!col("p"), rows.iter().map(|r| r.p.map(|v| !v)).collect()),
            (col("q").not().or(col("p")), rows.iter().map(|r| kleene_or(r.q.map(|v| !v), r.p)).collect()),
            (col("a").is_null(), rows.iter().map(|r| Some(r.a.is_none())).collect()),
            (col("f").is_not_null(), rows.iter().map(|r| Some(r.f.is_some())).collect()),
            (
                col("a").gt(col("b")).and(col("p").is_null().not()),
                rows.iter().map(|r| kleene_and(r.a.zip(r.b).map(|(x, y)| x > y), Some(r.p.is_some()))).collect(),
            ),
        ];
        for (e, want) in cases {
            prop_assert_eq!(bools(&eval_table(&t, &e).unwrap()), want, "{}", e);
        }
    }

    #[test]
    fn casts(rows in proptest::collection::vec(row(), 0..40), chunk in 1usize..9) {
        let t = table_of(&rows, chunk);
        let got = f64s(&eval_table(&t, &col("c").cast(DataType::Float64)).unwrap());
        let want: Vec<Opt<f64>> = rows.iter().map(|r| r.c.map(|v| v as f64)).collect();
        prop_assert_eq!(got, want);
        let got = f32s(&eval_table(&t, &col("a").cast(DataType::Float32)).unwrap());
        let want: Vec<Opt<f32>> = rows.iter().map(|r| r.a.map(|v| v as f32)).collect();
        prop_assert_eq!(got, want);
        // Strict narrowing: an error iff some value does not fit.
        let e = col("c").cast(DataType::Int32);
        let want = reference(rows.iter().map(|r| r.c), std::iter::repeat(Some(())), |v, _| i32::try_from(v).ok());
        check_int(&t, &e, want, i32s)?;
        // Float to int truncates toward zero; out of range and NaN fail.
        let e = col("f").cast(DataType::Int32);
        let trunc = |v: f64, _: ()| {
            let t = v.trunc();
            (t >= f64::from(i32::MIN) && t <= f64::from(i32::MAX)).then_some(t as i32)
        };
        let want = reference(rows.iter().map(|r| r.f), std::iter::repeat(Some(())), trunc);
        match (eval_table(&t, &e), want) {
            (Ok(got), Ok(want)) => prop_assert_eq!(i32s(&got), want),
            (Err(err), Err(())) => prop_assert!(err.to_string().contains("cast(col(\"f\") AS Int32)"), "{}", err),
            (got, want) => prop_assert!(false, "got {:?}, want {:?}", got.map(|g| i32s(&g)), want),
        }
    }

    #[test]
    fn string_functions(
        values in proptest::collection::vec(proptest::option::of("[aAbBéÉß ]{0,6}"), 0..30),
        pattern in "[abAé]{0,2}",
        type_index in 0usize..3,
        chunk in 1usize..7,
    ) {
        let dt = STRING_TYPES[type_index].clone();
        let utf8: ArrayRef = std::sync::Arc::new(
            parframe_core::arrow::array::StringArray::from(values.clone()),
        );
        let array = parframe_core::arrow::cast::cast(&utf8, &dt).unwrap();
        let t = Table::from_columns(vec![("s".into(), array)]).unwrap().rechunk(chunk).unwrap();
        let map_b = |f: &dyn Fn(&str) -> bool| -> Vec<Opt<bool>> {
            values.iter().map(|v| v.as_deref().map(f)).collect()
        };
        let p = pattern.as_str();
        let cases: Vec<(Expr, Vec<Opt<bool>>)> = vec![
            (col("s").contains(p), map_b(&|s| s.contains(p))),
            (col("s").starts_with(p), map_b(&|s| s.starts_with(p))),
            (col("s").ends_with(p), map_b(&|s| s.ends_with(p))),
            (col("s").eq(lit(p)), map_b(&|s| s == p)),
            (col("s").lt(lit(p)), map_b(&|s| s < p)),
            (col("s").lower().eq(lit(p)), map_b(&|s| s.to_lowercase() == p)),
        ];
        for (e, want) in cases {
            prop_assert_eq!(bools(&eval_table(&t, &e).unwrap()), want, "{} on {}", e, dt);
        }
        let len = eval_table(&t, &col("s").str_len()).unwrap();
        let len = parframe_core::arrow::cast::cast(&len, &DataType::Int64).unwrap();
        let want: Vec<Opt<i64>> = values.iter().map(|v| v.as_ref().map(|s| s.chars().count() as i64)).collect();
        prop_assert_eq!(i64s(&len), want, "str_len on {}", dt);
        for upper in [false, true] {
            let e = if upper { col("s").upper() } else { col("s").lower() };
            let out = eval_table(&t, &e).unwrap();
            prop_assert_eq!(out.data_type(), &dt);
            let want: Vec<Opt<String>> = values
                .iter()
                .map(|v| v.as_ref().map(|s| if upper { s.to_uppercase() } else { s.to_lowercase() }))
                .collect();
            prop_assert_eq!(strs(&out), want, "{} on {}", e, dt);
        }
    }
}
