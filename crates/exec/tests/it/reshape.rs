//! Reshaping verbs against naive references, nulls included:
//! `with_row_index`, `concat_horizontal`, `fill_nan`, `cast` /
//! `cast_to_schema`, `unpivot`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parframe_core::{Table, col, lit};
use parframe_exec::{Context, LazyFrame};
use proptest::prelude::*;

fn ctx() -> Context {
    Context::builder().threads(2).chunk_rows(4).build().unwrap()
}

/// A table of `x` (Int64 with nulls) and `s` (Utf8 with nulls), cut into
/// chunks of `chunk` rows.
fn xs(x: &[Option<i64>], chunk: usize) -> Table {
    let s: Vec<Option<String>> = x.iter().map(|v| v.map(|v| format!("s{v}"))).collect();
    let batch = RecordBatch::try_from_iter(vec![
        ("x", Arc::new(Int64Array::from(x.to_vec())) as ArrayRef),
        ("s", Arc::new(StringArray::from(s)) as ArrayRef),
    ])
    .unwrap();
    chunked(batch, chunk)
}

fn chunked(batch: RecordBatch, chunk: usize) -> Table {
    let mut chunks = Vec::new();
    let mut off = 0;
    while off < batch.num_rows() {
        let len = chunk.max(1).min(batch.num_rows() - off);
        chunks.push(batch.slice(off, len));
        off += len;
    }
    Table::try_new(batch.schema(), chunks).unwrap()
}

fn ints(t: &Table, c: &str) -> Vec<Option<i64>> {
    let a = t.column(c).unwrap();
    let a = arrow_cast::cast(&a, &DataType::Int64).unwrap();
    a.as_primitive::<Int64Type>().iter().collect()
}

fn floats(t: &Table, c: &str) -> Vec<Option<f64>> {
    let a = t.column(c).unwrap();
    let a = arrow_cast::cast(&a, &DataType::Float64).unwrap();
    a.as_primitive::<Float64Type>().iter().collect()
}

fn strings(t: &Table, c: &str) -> Vec<Option<String>> {
    let a = t.column(c).unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn row_index_numbers_rows_in_input_order(
        x in prop::collection::vec(prop::option::weighted(0.8, -50i64..50), 0..40),
        chunk in 1usize..9,
        offset in -5i64..100,
        keep_above in -60i64..60,
    ) {
        let lf = ctx().lazy(xs(&x, chunk)).with_row_index("i", offset).unwrap();
        let out = lf.collect().unwrap();
        prop_assert_eq!(out.column_names(), vec!["i", "x", "s"]);
        let want: Vec<Option<i64>> = (0..x.len() as i64).map(|i| Some(offset + i)).collect();
        prop_assert_eq!(ints(&out, "i"), want);
        prop_assert_eq!(ints(&out, "x"), x.clone());
        // A filter after the index is not pushed below it: the numbers are
        // the rows' positions before the filter.
        let kept = lf.filter(col("x").gt(keep_above)).unwrap().select(["i"]).unwrap().collect().unwrap();
        let want: Vec<Option<i64>> = x
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some_and(|v| v > keep_above))
            .map(|(i, _)| Some(offset + i as i64))
            .collect();
        prop_assert_eq!(ints(&kept, "i"), want);
    }

    #[test]
    fn concat_horizontal_lines_rows_up_across_chunkings(
        x in prop::collection::vec(prop::option::weighted(0.8, -50i64..50), 0..40),
        c1 in 1usize..9,
        c2 in 1usize..9,
    ) {
        let c = ctx();
        let a = c.lazy(xs(&x, c1));
        let y: Vec<Option<f64>> = x.iter().map(|v| v.map(|v| v as f64 / 2.0)).collect();
        let b = c.lazy(chunked(
            RecordBatch::try_from_iter(vec![("y", Arc::new(Float64Array::from(y.clone())) as ArrayRef)]).unwrap(),
            c2,
        ));
        let derived = a.select([(col("x") * 3).alias("x3")]).unwrap();
        let out = LazyFrame::concat_horizontal(&[a.clone(), b, derived]).unwrap().collect().unwrap();
        prop_assert_eq!(out.column_names(), vec!["x", "s", "y", "x3"]);
        prop_assert_eq!(ints(&out, "x"), x.clone());
        prop_assert_eq!(floats(&out, "y"), y);
        let x3: Vec<Option<i64>> = x.iter().map(|v| v.map(|v| v * 3)).collect();
        prop_assert_eq!(ints(&out, "x3"), x3);
        // Reading one column still checks the row counts line up.
        if !x.is_empty() {
            let short = a.limit(x.len() - 1).select([col("x").alias("x2")]).unwrap();
            let e = LazyFrame::concat_horizontal(&[a, short]).unwrap().select(["x"]).unwrap().collect().unwrap_err();
            prop_assert!(e.to_string().contains("same number of rows"), "{}", e);
        }
    }
}

#[test]
fn row_index_over_a_csv_scan_follows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("n.csv");
    let mut text = String::from("n\n");
    for i in 0..5000 {
        text.push_str(&format!("{}\n", i * 3));
    }
    std::fs::write(&p, text).unwrap();
    let c = Context::builder()
        .threads(2)
        .chunk_rows(128)
        .build()
        .unwrap();
    let out = c
        .scan_csv(&p, Default::default())
        .unwrap()
        .with_row_index("row", 0)
        .unwrap()
        .filter(col("row").gt_eq(4990))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        ints(&out, "row"),
        (4990..5000).map(Some).collect::<Vec<_>>()
    );
    assert_eq!(
        ints(&out, "n"),
        (4990..5000).map(|i| Some(i * 3)).collect::<Vec<_>>()
    );
}

#[test]
fn row_index_and_concat_errors_name_the_problem() {
    let c = ctx();
    let a = c.lazy(xs(&[Some(1), None], 1));
    let e = a.with_row_index("x", 0).unwrap_err();
    assert!(e.to_string().contains("already has a column 'x'"), "{e}");
    let e = LazyFrame::concat_horizontal(&[a.clone(), a.clone()]).unwrap_err();
    assert!(e.to_string().contains("column 'x'"), "{e}");
    assert!(LazyFrame::concat_horizontal(&[]).is_err());
    let long = c
        .lazy(xs(&[Some(1), None, Some(3)], 2))
        .select([col("x").alias("z")])
        .unwrap();
    let e = LazyFrame::concat_horizontal(&[a, long])
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("frame 0 has 2 rows but frame 1 has more"),
        "{e}"
    );
}

#[test]
fn fill_nan_replaces_nan_in_float_columns_only() {
    let f = vec![Some(1.5), Some(f64::NAN), None, Some(f64::NAN), Some(-2.0)];
    let batch = RecordBatch::try_from_iter(vec![
        ("f", Arc::new(Float64Array::from(f.clone())) as ArrayRef),
        (
            "g",
            Arc::new(arrow_array::Float32Array::from(vec![
                Some(f32::NAN),
                None,
                Some(1.0),
                Some(2.0),
                Some(f32::NAN),
            ])) as ArrayRef,
        ),
        (
            "n",
            Arc::new(Int64Array::from(vec![
                Some(1),
                None,
                Some(3),
                Some(4),
                Some(5),
            ])) as ArrayRef,
        ),
    ])
    .unwrap();
    let out = ctx()
        .lazy(chunked(batch, 2))
        .fill_nan(0)
        .unwrap()
        .collect()
        .unwrap();
    let want = |v: &[Option<f64>]| -> Vec<Option<f64>> {
        v.iter()
            .map(|x| x.map(|x| if x.is_nan() { 0.0 } else { x }))
            .collect()
    };
    assert_eq!(floats(&out, "f"), want(&f));
    assert_eq!(out.schema().field(1).data_type(), &DataType::Float32);
    assert_eq!(
        floats(&out, "g"),
        vec![Some(0.0), None, Some(1.0), Some(2.0), Some(0.0)]
    );
    assert_eq!(
        ints(&out, "n"),
        vec![Some(1), None, Some(3), Some(4), Some(5)]
    );
    // The expression form, with a null fill: NaN becomes null.
    let out = ctx()
        .lazy(chunked(
            RecordBatch::try_from_iter(vec![(
                "f",
                Arc::new(Float64Array::from(f.clone())) as ArrayRef,
            )])
            .unwrap(),
            3,
        ))
        .with_column(
            col("f")
                .fill_nan(lit(parframe_core::ScalarValue::Null))
                .alias("h"),
        )
        .unwrap()
        .with_column(col("f").is_nan().alias("nan"))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        floats(&out, "h"),
        vec![Some(1.5), None, None, None, Some(-2.0)]
    );
    let nan = out.column("nan").unwrap();
    let nan: Vec<Option<bool>> = nan.as_boolean().iter().collect();
    assert_eq!(
        nan,
        vec![Some(false), Some(true), None, Some(true), Some(false)]
    );
}

#[test]
fn cast_by_list_and_by_schema() {
    let c = ctx();
    let t = xs(&[Some(1), None, Some(-3)], 2);
    let out = c
        .lazy(t.clone())
        .cast([("x", DataType::Float64)])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.schema().field(0).data_type(), &DataType::Float64);
    assert_eq!(floats(&out, "x"), vec![Some(1.0), None, Some(-3.0)]);
    assert_eq!(out.column_names(), vec!["x", "s"]);
    let schema = Schema::new(vec![Field::new("x", DataType::Int32, true)]);
    let out = c.lazy(t.clone()).cast_to_schema(&schema).unwrap();
    assert_eq!(out.schema().field(0).data_type(), &DataType::Int32);
    assert_eq!(out.schema().field(1).data_type(), &DataType::Utf8);
    // A missing column is named; a value that does not convert is an error.
    let e = c
        .lazy(t.clone())
        .cast([("nope", DataType::Int64)])
        .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    let e = c
        .lazy(t)
        .cast([("s", DataType::Int64)])
        .unwrap()
        .collect()
        .unwrap_err();
    assert!(
        e.to_string().contains("s1") || e.to_string().contains("cast"),
        "{e}"
    );
}

#[test]
fn unpivot_matches_a_naive_reference() {
    let ids = vec![Some(1i64), Some(2), None, Some(4), Some(5)];
    let a = vec![Some(10i64), None, Some(30), Some(40), None];
    let b = vec![Some(0.5), Some(1.5), None, Some(f64::NAN), Some(4.5)];
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
        ("a", Arc::new(Int64Array::from(a.clone())) as ArrayRef),
        ("b", Arc::new(Float64Array::from(b.clone())) as ArrayRef),
    ])
    .unwrap();
    let c = ctx();
    let out = c
        .lazy(chunked(batch.clone(), 2))
        .unpivot(["a", "b"], ["id"])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.column_names(), vec!["id", "variable", "value"]);
    assert_eq!(out.schema().field(2).data_type(), &DataType::Float64);
    type Long = (Option<i64>, String, Option<u64>);
    let mut got: Vec<Long> = ints(&out, "id")
        .into_iter()
        .zip(strings(&out, "variable"))
        .zip(floats(&out, "value"))
        .map(|((i, v), x)| (i, v.unwrap(), x.map(f64::to_bits)))
        .collect();
    let mut want: Vec<Long> = Vec::new();
    for r in 0..ids.len() {
        want.push((ids[r], "a".into(), a[r].map(|v| (v as f64).to_bits())));
        want.push((ids[r], "b".into(), b[r].map(f64::to_bits)));
    }
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // An empty `on` means every other column; strings with numbers have
    // no common type.
    let wide = Context::builder()
        .threads(2)
        .chunk_rows(16)
        .build()
        .unwrap();
    let all = wide
        .lazy(chunked(batch, 5))
        .unpivot(Vec::<String>::new(), ["id"])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(all.num_rows(), 10);
    // In one chunk the order is by column, as polars gives it.
    assert_eq!(
        strings(&all, "variable"),
        ["a"; 5]
            .iter()
            .chain(["b"; 5].iter())
            .map(|s| Some(s.to_string()))
            .collect::<Vec<_>>()
    );
    let mixed = c.lazy(xs(&[Some(1)], 1));
    let e = mixed.unpivot(["x", "s"], Vec::<String>::new()).unwrap_err();
    assert!(e.to_string().contains("no common type"), "{e}");
    let e = mixed.unpivot(["nope"], ["x"]).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
}

/// A pivoted table: column names, then per id its cells.
type Pivoted = (Vec<String>, Vec<(Option<i64>, Vec<Option<i64>>)>);

/// The naive pivot: per (id, k) the sum of the non-null `v`s (null when
/// none), ids sorted, one column per distinct `k` (sorted; nulls first).
fn naive_pivot(rows: &[(Option<i64>, Option<String>, Option<i64>)]) -> Pivoted {
    use std::collections::{BTreeMap, BTreeSet};
    let ks: BTreeSet<Option<String>> = rows.iter().map(|r| r.1.clone()).collect();
    // None sorts first, as the sorted group-by puts nulls.
    let ks: Vec<Option<String>> = ks.into_iter().collect();
    let mut cells: BTreeMap<Option<i64>, BTreeMap<Option<String>, Option<i64>>> = BTreeMap::new();
    for (id, k, v) in rows {
        let cell = cells
            .entry(*id)
            .or_default()
            .entry(k.clone())
            .or_insert(None);
        if let Some(v) = v {
            *cell = Some(cell.unwrap_or(0) + v);
        }
    }
    let ids: Vec<Option<i64>> = cells.keys().copied().collect();
    let names = ks
        .iter()
        .map(|k| k.clone().unwrap_or_else(|| "null".into()))
        .collect();
    let out = ids
        .iter()
        .map(|id| {
            let row = &cells[id];
            (
                *id,
                ks.iter().map(|k| row.get(k).copied().flatten()).collect(),
            )
        })
        .collect();
    (names, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn pivot_matches_a_naive_reference(
        rows in prop::collection::vec(
            (
                prop::option::weighted(0.9, 0i64..5),
                prop::option::weighted(0.85, prop::sample::select(vec!["a", "b", "c", "d"])),
                prop::option::weighted(0.8, -50i64..50),
            ),
            1..60,
        ),
        chunk in 1usize..9,
    ) {
        let rows: Vec<(Option<i64>, Option<String>, Option<i64>)> = rows
            .into_iter()
            .map(|(i, k, v)| (i, k.map(str::to_string), v))
            .collect();
        let batch = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())) as ArrayRef),
            ("k", Arc::new(StringArray::from(rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>())) as ArrayRef),
            ("v", Arc::new(Int64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())) as ArrayRef),
        ])
        .unwrap();
        let c = ctx();
        let out = c
            .lazy(chunked(batch, chunk))
            .pivot("k", ["id"], "v", parframe_exec::agg::sum)
            .unwrap()
            .collect()
            .unwrap();
        let (names, want) = naive_pivot(&rows);
        let mut cols = vec!["id".to_string()];
        cols.extend(names.iter().cloned());
        prop_assert_eq!(out.column_names(), cols);
        prop_assert_eq!(ints(&out, "id"), want.iter().map(|r| r.0).collect::<Vec<_>>());
        for (j, name) in names.iter().enumerate() {
            prop_assert_eq!(
                ints(&out, name),
                want.iter().map(|r| r.1[j]).collect::<Vec<_>>(),
                "column {}", name
            );
        }
    }
}

#[test]
fn pivot_counts_strings_and_names_its_errors() {
    let batch = RecordBatch::try_from_iter(vec![
        (
            "day",
            Arc::new(Int64Array::from(vec![2i64, 1, 1, 2])) as ArrayRef,
        ),
        (
            "city",
            Arc::new(StringArray::from(vec!["Rome", "Oslo", "Oslo", "Oslo"])) as ArrayRef,
        ),
        (
            "who",
            Arc::new(StringArray::from(vec![
                Some("x"),
                Some("y"),
                None,
                Some("z"),
            ])) as ArrayRef,
        ),
    ])
    .unwrap();
    let c = ctx();
    let lf = c.lazy(chunked(batch, 3));
    // Non-null values counted; the last value by input order, strings kept.
    let n = lf
        .pivot("city", ["day"], "who", parframe_exec::agg::count)
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(n.column_names(), ["day", "Oslo", "Rome"]);
    assert_eq!(ints(&n, "Oslo"), [Some(1), Some(1)]);
    assert_eq!(
        ints(&n, "Rome"),
        [Some(0), Some(1)].map(|v| v.filter(|&v| v > 0))
    );
    let last = lf
        .pivot("city", ["day"], "who", parframe_exec::agg::last)
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        strings(&last, "Oslo"),
        [Some("y".to_string()), Some("z".to_string())]
    );
    assert_eq!(strings(&last, "Rome"), [None, Some("x".to_string())]);
    let e = lf
        .pivot("nope", ["day"], "who", parframe_exec::agg::sum)
        .unwrap_err();
    assert!(e.to_string().contains("'nope' not found"), "{e}");
    let e = lf
        .pivot("city", Vec::<String>::new(), "who", |v| {
            parframe_exec::agg::count(v)
        })
        .unwrap_err();
    assert!(e.to_string().contains("no index column"), "{e}");
    let e = lf
        .pivot("city", ["city"], "who", parframe_exec::agg::count)
        .unwrap_err();
    assert!(e.to_string().contains("both an index column"), "{e}");
}
