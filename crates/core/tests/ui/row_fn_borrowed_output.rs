// A row closure returning a string borrowed from its input: the output
// would outlive the chunk it borrows from.
use parframe_core::row::{RowOptions, apply_to_batch};
use parframe_core::table;

fn main() {
    let t = table!("s" => ["a", "b"]).unwrap();
    let _ = apply_to_batch(&t.chunks()[0], &["s"], "out", &RowOptions::default(), &|s: &str| s);
}
