// A value that is not an expression where one is expected.
use parframe_core::col;

fn main() {
    let _ = col("a") + vec![1];
}
