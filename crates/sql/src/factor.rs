//! Factoring the conjuncts every branch of an `OR` shares out of it:
//! `(a AND b) OR (a AND c)` is `a AND (b OR c)`. TPC-H Q19 writes its join
//! condition `p_partkey = l_partkey` inside each of three `OR` branches;
//! factored out, it is a conjunct of the `WHERE` that predicate pushdown
//! turns into a hash-join key instead of a cross product.
//!
//! This is exact in SQL's three-valued logic (Kleene logic is a
//! distributive lattice, so distribution and absorption hold with nulls):
//! when a branch has nothing left after factoring, the `OR` of the rests
//! is `true` and the result is the common part alone
//! (`a OR (a AND b)` is `a`).

use parframe_core::Expr;
use parframe_core::expr::BinaryOp;

use crate::expr::balanced;

/// The conjuncts of an `AND` tree, left to right (without recursion).
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x {
            Expr::Binary {
                left,
                op: BinaryOp::And,
                right,
            } => {
                stack.push(right);
                stack.push(left);
            }
            other => out.push(other),
        }
    }
    out
}

/// The `OR` of `terms` with the conjuncts common to all of them factored
/// out (see the module docs); `None` for no terms.
pub(crate) fn or_factored(terms: Vec<Expr>) -> Option<Expr> {
    if terms.len() < 2 {
        return balanced(terms, Expr::or);
    }
    let parts: Vec<Vec<&Expr>> = terms.iter().map(conjuncts).collect();
    let mut common: Vec<&Expr> = Vec::new();
    for &c in &parts[0] {
        if !common.contains(&c) && parts[1..].iter().all(|p| p.contains(&c)) {
            common.push(c);
        }
    }
    if common.is_empty() {
        return balanced(terms, Expr::or);
    }
    let mut rests: Vec<Expr> = Vec::with_capacity(parts.len());
    let mut some_branch_is_common_only = false;
    for p in &parts {
        let rest: Vec<Expr> = p
            .iter()
            .filter(|c| !common.contains(c))
            .map(|c| (*c).clone())
            .collect();
        match balanced(rest, Expr::and) {
            Some(r) => rests.push(r),
            None => some_branch_is_common_only = true,
        }
    }
    let common: Vec<Expr> = common.into_iter().cloned().collect();
    let mut out = common;
    if !some_branch_is_common_only && let Some(rest) = balanced(rests, Expr::or) {
        out.push(rest);
    }
    balanced(out, Expr::and)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::{ArrayRef, BooleanArray, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use parframe_core::col;

    use super::*;

    const COLUMNS: [&str; 4] = ["a", "b", "c", "d"];

    /// Every combination of true / false / null over four columns.
    fn all_rows() -> RecordBatch {
        let n = 81;
        let values = |k: u32| -> ArrayRef {
            Arc::new(BooleanArray::from(
                (0..n)
                    .map(|i| match (i / 3u32.pow(k)) % 3 {
                        0 => Some(true),
                        1 => Some(false),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            ))
        };
        let fields: Vec<Field> = COLUMNS
            .iter()
            .map(|c| Field::new(*c, DataType::Boolean, true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), (0..4).map(values).collect()).unwrap()
    }

    fn values(e: &Expr, batch: &RecordBatch) -> Vec<Option<bool>> {
        e.evaluate(batch)
            .unwrap()
            .as_boolean()
            .iter()
            .collect::<Vec<_>>()
    }

    /// A small deterministic generator (xorshift), so the test needs no
    /// extra crate and every run checks the same cases.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// A conjunct: a column, its negation, or an OR of two columns.
    fn atom(r: &mut Rng) -> Expr {
        let c = col(COLUMNS[r.next(4) as usize]);
        match r.next(3) {
            0 => c,
            1 => c.not(),
            _ => c.or(col(COLUMNS[r.next(4) as usize])),
        }
    }

    #[test]
    fn factoring_keeps_three_valued_results() {
        let batch = all_rows();
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let mut factored_some = 0;
        for _ in 0..400 {
            let shared: Vec<Expr> = (0..r.next(3)).map(|_| atom(&mut r)).collect();
            let terms: Vec<Expr> = (0..2 + r.next(3))
                .map(|_| {
                    let mut cs = shared.clone();
                    for _ in 0..r.next(3) {
                        let at = r.next(cs.len() as u64 + 1) as usize;
                        cs.insert(at, atom(&mut r));
                    }
                    balanced(cs, Expr::and).unwrap_or_else(|| atom(&mut r))
                })
                .collect();
            let Some(naive) = balanced(terms.clone(), Expr::or) else {
                continue;
            };
            let got = or_factored(terms).unwrap();
            if got != naive {
                factored_some += 1;
            }
            assert_eq!(
                values(&got, &batch),
                values(&naive, &batch),
                "{naive} became {got}"
            );
        }
        assert!(factored_some > 100, "{factored_some}");
    }

    #[test]
    fn the_q19_shape_exposes_its_join_key() {
        let key = col("p").eq(col("l"));
        let branch = |x: &str| key.clone().and(col(x)).and(col("m"));
        let got = or_factored(vec![branch("a"), branch("b"), branch("c")]).unwrap();
        let top = conjuncts(&got);
        assert!(top.contains(&&key), "{got}");
        assert!(top.contains(&&col("m")), "{got}");
        // A branch that is only the common part absorbs the others.
        let got = or_factored(vec![col("a"), col("a").and(col("b"))]).unwrap();
        assert_eq!(got, col("a"));
    }
}
