// Unsupported parameter and return types of row closures.
use parframe_core::row::{RowOptions, apply_to_batch};
use parframe_core::table;

struct Point;

fn main() {
    let t = table!("x" => [1i64, 2]).unwrap();
    let b = &t.chunks()[0];
    let o = RowOptions::default();
    // A return type that is not a column value.
    let _ = apply_to_batch(b, &["x"], "out", &o, &|x: i64| vec![x]);
    // A parameter type that is not a column value.
    let _ = apply_to_batch(b, &["x"], "out", &o, &|p: Point| 1i64);
}
