//! Helpers shared by the test modules.

use parframe_core::arrow::array::cast::AsArray;
use parframe_core::arrow::array::types::{Float32Type, Float64Type, Int32Type, Int64Type};
use parframe_core::arrow::array::{Array, ArrayRef, new_empty_array};
use parframe_core::arrow::schema::DataType;
use parframe_core::{Expr, Table};

/// Evaluates `e` on every chunk of `t` and concatenates the results.
pub fn eval_table(t: &Table, e: &Expr) -> parframe_common::Result<ArrayRef> {
    let field = e.to_field(t.schema())?;
    let parts = t
        .chunks()
        .iter()
        .map(|c| {
            let out = e.evaluate(c)?;
            assert_eq!(out.len(), c.num_rows(), "{e}");
            assert_eq!(out.data_type(), field.data_type(), "{e}");
            if !field.is_nullable() {
                assert_eq!(out.logical_null_count(), 0, "{e} said non-nullable");
            }
            Ok(out)
        })
        .collect::<parframe_common::Result<Vec<_>>>()?;
    if parts.is_empty() {
        return Ok(new_empty_array(field.data_type()));
    }
    let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
    Ok(parframe_core::arrow::select::concat::concat(&refs)?)
}

pub fn i32s(a: &ArrayRef) -> Vec<Option<i32>> {
    a.as_primitive::<Int32Type>().iter().collect()
}

pub fn i64s(a: &ArrayRef) -> Vec<Option<i64>> {
    a.as_primitive::<Int64Type>().iter().collect()
}

pub fn f32s(a: &ArrayRef) -> Vec<Option<f32>> {
    a.as_primitive::<Float32Type>().iter().collect()
}

pub fn f64s(a: &ArrayRef) -> Vec<Option<f64>> {
    a.as_primitive::<Float64Type>().iter().collect()
}

pub fn bools(a: &ArrayRef) -> Vec<Option<bool>> {
    a.as_boolean().iter().collect()
}

/// Any string array as owned strings.
pub fn strs(a: &ArrayRef) -> Vec<Option<String>> {
    let a = parframe_core::arrow::cast::cast(a, &DataType::Utf8).unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

/// Float equality where NaN equals NaN.
pub fn same_f64(a: &[Option<f64>], b: &[Option<f64>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
            (None, None) => true,
            _ => false,
        })
}
