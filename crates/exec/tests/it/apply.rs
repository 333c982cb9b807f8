use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use parframe_core::row::RowOptions;
use parframe_core::{Table, table};
use parframe_exec::Context;
use proptest::prelude::*;

fn ctx(threads: usize, chunk_rows: usize) -> Context {
    Context::builder()
        .threads(threads)
        .chunk_rows(chunk_rows)
        .build()
        .unwrap()
}

fn ints(n: i64) -> Table {
    table!("x" => (0..n).collect::<Vec<_>>(), "y" => (0..n).map(|v| v as f64 * 0.5).collect::<Vec<_>>())
        .unwrap()
}

#[test]
fn apply_runs_over_many_morsels_in_order() {
    let c = ctx(2, 7);
    let out = c
        .lazy(ints(1000))
        .apply("z", ["x", "y"], |(x, y): (i64, f64)| x as f64 + y)
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), 1000);
    let z = out.column("z").unwrap();
    let z = z.as_primitive::<Float64Type>();
    for (i, v) in z.values().iter().enumerate() {
        assert_eq!(*v, i as f64 * 1.5);
    }
}

#[test]
fn panic_names_column_and_table_row_across_chunks() {
    let c = ctx(2, 10);
    let err = c
        .lazy(ints(100))
        .apply("boom", ["x"], |x: i64| {
            if x == 57 {
                panic!("bad value {x}");
            }
            x
        })
        .unwrap()
        .collect()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "user code failed while computing 'boom' at row 57: bad value 57"
    );
    // The pool survives and runs the next job.
    let ok = c
        .lazy(ints(10))
        .apply("v", ["x"], |x: i64| x * 2)
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(ok.num_rows(), 10);
}

#[test]
fn null_rows_error_or_skip() {
    let c = ctx(2, 2);
    let t = table!("a" => vec![Some(1i64), Some(2), Some(3), None, Some(5)]).unwrap();
    let err = c
        .lazy(t.clone())
        .apply("b", ["a"], |a: i64| a)
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(err.contains("column 'a' has a null at row 3"), "{err}");
    let out = c
        .lazy(t)
        .apply_with(
            "b",
            ["a"],
            RowOptions::default().skip_nulls(true),
            |a: i64| a * 10,
        )
        .unwrap()
        .collect()
        .unwrap();
    let b = out.column("b").unwrap();
    let b: Vec<Option<i64>> = b.as_primitive::<Int64Type>().iter().collect();
    assert_eq!(b, vec![Some(10), Some(20), Some(30), None, Some(50)]);
}

#[test]
fn plan_time_errors() {
    let c = ctx(1, 10);
    let lf = c.lazy(table!("s" => ["a"], "n" => [1i64]).unwrap());
    let err = lf.apply("o", ["nope"], |x: i64| x).unwrap_err().to_string();
    assert_eq!(err, "column 'nope' not found; available columns: [s, n]");
    let err = lf.apply("o", ["s"], |x: i64| x).unwrap_err().to_string();
    assert!(
        err.contains("column 's' is Utf8 but parameter 1 of the closure is i64"),
        "{err}"
    );
}

#[test]
fn apply_replaces_existing_column_and_chains() {
    let c = ctx(2, 3);
    let out = c
        .lazy(ints(10))
        .apply("x", ["x"], |x: i64| x + 100)
        .unwrap()
        .apply("label", ["x"], |x: i64| format!("#{x}"))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.column_names(), vec!["x", "y", "label"]);
    let l = out.column("label").unwrap();
    assert_eq!(l.as_string::<i32>().value(9), "#109");
}

#[test]
fn map_batches_checks_schema_and_catches_panics() {
    let c = ctx(2, 4);
    let out = c
        .lazy(ints(10))
        .map_batches(|b| Ok(b.project(&[1])?))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.column_names(), vec!["y"]);
    let err = c
        .lazy(ints(10))
        .map_batches(|b| {
            if b.num_rows() > 0 {
                return Ok(b.project(&[0])?);
            }
            Ok(b.project(&[1])?)
        })
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(err.contains("schema mismatch"), "{err}");
    let err = c
        .lazy(ints(10))
        .map_batches(|b| {
            assert!(b.num_rows() == 0, "only empty");
            Ok(b)
        })
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "user code failed while computing 'map_batches' at row 0: only empty"
    );
}

#[test]
fn limit_then_apply_sees_only_limited_rows() {
    let c = ctx(2, 3);
    let out = c
        .lazy(ints(100))
        .limit(5)
        .apply("d", ["x"], |x: i64| {
            assert!(x < 5, "apply saw row {x} past the limit");
            x
        })
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), 5);
}

#[test]
fn cancel_stops_jobs() {
    let c = ctx(2, 3);
    c.cancel();
    let err = c.lazy(ints(10)).collect().unwrap_err();
    assert_eq!(err.to_string(), "the job was cancelled");
    c.reset_cancel();
    assert_eq!(c.lazy(ints(10)).collect().unwrap().num_rows(), 10);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// apply over nullable columns equals a naive row loop, for any chunking.
    #[test]
    fn apply_matches_row_loop(
        a in prop::collection::vec(prop::option::weighted(0.8, -1000i64..1000), 0..200),
        chunk in 1usize..50,
        threads in 1usize..3,
    ) {
        let b: Vec<Option<f64>> = a.iter().map(|v| v.map(|v| v as f64 / 3.0)).collect();
        let t = table!("a" => a.clone(), "b" => b.clone()).unwrap();
        let c = ctx(threads, chunk);
        let out = c
            .lazy(t)
            .apply("o", ["a", "b"], |(a, b): (Option<i64>, Option<f64>)| match (a, b) {
                (Some(a), Some(b)) if a % 3 != 0 => Some(a as f64 * b),
                _ => None,
            })
            .unwrap()
            .collect()
            .unwrap();
        let got: Vec<Option<f64>> = if out.num_rows() == 0 { vec![] } else {
            out.column("o").unwrap().as_primitive::<Float64Type>().iter().collect()
        };
        let want: Vec<Option<f64>> = a.iter().zip(&b).map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) if a % 3 != 0 => Some(*a as f64 * b),
            _ => None,
        }).collect();
        prop_assert_eq!(got, want);
    }
}
