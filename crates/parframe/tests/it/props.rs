//! Plans against naive row-by-row references, over random nullable data
//! and random chunkings.

use parframe::arrow::array::cast::AsArray;
use parframe::arrow::array::types::Int64Type;
use parframe::prelude::*;
use proptest::prelude::*;

fn ctx(chunk_rows: usize) -> Context {
    Context::builder()
        .threads(2)
        .chunk_rows(chunk_rows)
        .build()
        .unwrap()
}

fn ints(t: &Table, name: &str) -> Vec<Option<i64>> {
    if t.num_rows() == 0 {
        return vec![];
    }
    t.column(name)
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// filter + with_column + select + limit equal a plain loop.
    #[test]
    fn filter_pipeline_matches_loop(
        a in prop::collection::vec(prop::option::weighted(0.85, -50i64..50), 0..300),
        b in prop::collection::vec(prop::option::weighted(0.85, -50i64..50), 0..300),
        threshold in -50i64..50,
        limit in prop::option::of(0usize..200),
        chunk in 1usize..64,
    ) {
        let n = a.len().min(b.len());
        let (a, b) = (a[..n].to_vec(), b[..n].to_vec());
        let t = table!("a" => a.clone(), "b" => b.clone()).unwrap();
        let mut lf = ctx(chunk)
            .lazy(t)
            .filter(col("a").gt(lit(threshold)).or(col("b").is_null()))
            .unwrap()
            .with_column((col("a") * lit(2i64) - col("b")).alias("c"))
            .unwrap()
            .select([col("c"), col("a")])
            .unwrap();
        if let Some(l) = limit {
            lf = lf.limit(l);
        }
        let got = lf.collect().unwrap();

        let mut want_a = Vec::new();
        let mut want_c = Vec::new();
        for (x, y) in a.iter().zip(&b) {
            // Kleene OR: null OR true is true; the row is kept only when true.
            let gt = x.map(|x| x > threshold);
            let keep = matches!(gt, Some(true)) || y.is_none();
            if keep {
                want_a.push(*x);
                want_c.push(match (x, y) {
                    (Some(x), Some(y)) => Some(x * 2 - y),
                    _ => None,
                });
            }
        }
        if let Some(l) = limit {
            want_a.truncate(l);
            want_c.truncate(l);
        }
        prop_assert_eq!(ints(&got, "a"), want_a);
        prop_assert_eq!(ints(&got, "c"), want_c);
    }
}
