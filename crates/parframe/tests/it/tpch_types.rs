//! TPC-H Q1 and Q6 through the Rust API on `parframe gen tpch` data (money
//! as `Decimal128(15, 2)`, dates as `Date32`), against DuckDB's answers in
//! `datasets/tpch/answers/sf0.01`.

use parframe::agg::{count_rows, mean, sum};
use parframe::arrow::array::{Array, RecordBatch};
use parframe::arrow::cast::display::array_value_to_string;
use parframe::datasets::tpch::{TpchTable, chunks};
use parframe::prelude::*;
use parframe::{SortKey, date, interval};

fn lineitem() -> Table {
    let batches: Vec<RecordBatch> = chunks(TpchTable::LineItem, 0.01, 16_384)
        .collect::<Result<_>>()
        .unwrap();
    Table::from_batches(batches).unwrap()
}

/// The rows of `t` as CSV lines, values as arrow prints them.
fn csv_rows(t: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for c in t.chunks() {
        for r in 0..c.num_rows() {
            let cells: Vec<String> = c
                .columns()
                .iter()
                .map(|a| array_value_to_string(a.as_ref(), r).unwrap())
                .collect();
            out.push(cells.join(","));
        }
    }
    out
}

fn answer(q: &str) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/tpch/answers/sf0.01/"
    );
    let text = std::fs::read_to_string(format!("{path}{q}.csv")).unwrap();
    text.lines().skip(1).map(str::to_string).collect()
}

/// Compares CSV rows: exact text for decimals and strings, a relative
/// tolerance for DOUBLE columns (DuckDB prints Python reprs).
fn assert_rows_match(got: &[String], want: &[String]) {
    assert_eq!(got.len(), want.len(), "{got:?}\n{want:?}");
    for (g, w) in got.iter().zip(want) {
        let (gs, ws): (Vec<&str>, Vec<&str>) = (g.split(',').collect(), w.split(',').collect());
        assert_eq!(gs.len(), ws.len(), "{g} vs {w}");
        for (a, b) in gs.iter().zip(&ws) {
            let is_double = b.contains('.') && b.split('.').nth(1).is_some_and(|f| f.len() > 6);
            if is_double {
                let (x, y): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                assert!(
                    (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                    "{a} vs {b} in {g} / {w}"
                );
            } else {
                assert_eq!(a, b, "in {g} / {w}");
            }
        }
    }
}

#[test]
fn tpch_q1_decimal_money() {
    let ctx = Context::builder().threads(2).build().unwrap();
    let cutoff = date("1998-12-01").unwrap() - interval(0, 90, 0);
    let q = ctx
        .lazy(lineitem())
        .filter(col("l_shipdate").lt_eq(cutoff))
        .unwrap()
        .with_columns([
            (col("l_extendedprice") * (lit(1) - col("l_discount"))).alias("disc_price"),
            (col("l_extendedprice") * (lit(1) - col("l_discount")) * (lit(1) + col("l_tax")))
                .alias("charge"),
        ])
        .unwrap()
        .group_by([col("l_returnflag"), col("l_linestatus")])
        .agg([
            sum("l_quantity").alias("sum_qty"),
            sum("l_extendedprice").alias("sum_base_price"),
            sum("disc_price").alias("sum_disc_price"),
            sum("charge").alias("sum_charge"),
            mean("l_quantity").alias("avg_qty"),
            mean("l_extendedprice").alias("avg_price"),
            mean("l_discount").alias("avg_disc"),
            count_rows().alias("count_order"),
        ])
        .unwrap()
        .sort([SortKey::asc("l_returnflag"), SortKey::asc("l_linestatus")])
        .unwrap();
    let out = q.collect().unwrap();
    let schema = out.schema();
    assert_eq!(
        schema.field_with_name("sum_charge").unwrap().data_type(),
        &parframe::arrow::schema::DataType::Decimal128(38, 6)
    );
    assert_rows_match(&csv_rows(&out), &answer("q01"));
}

#[test]
fn tpch_q6_exact_decimal_filters() {
    let ctx = Context::builder().threads(2).build().unwrap();
    let start = date("1994-01-01").unwrap();
    let q = ctx
        .lazy(lineitem())
        .filter(
            col("l_shipdate")
                .gt_eq(start.clone())
                .and(col("l_shipdate").lt(start + interval(12, 0, 0)))
                .and(col("l_discount").between(lit(0.05), lit(0.07)))
                .and(col("l_quantity").lt(lit(24))),
        )
        .unwrap()
        .with_column((col("l_extendedprice") * col("l_discount")).alias("rev"))
        .unwrap()
        .agg([sum("rev").alias("revenue")])
        .unwrap();
    let out = q.collect().unwrap();
    assert!(out.chunks()[0].column(0).len() == 1);
    assert_rows_match(&csv_rows(&out), &answer("q06"));
}
