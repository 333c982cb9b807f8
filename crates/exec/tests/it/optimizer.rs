//! The optimizer against the plan as written: on random small tables,
//! optimized and unoptimized plans give the same rows (filters,
//! projections, comma joins, inner/outer/semi/anti joins, residual join
//! conditions, aggregates, aggregates joined with small relations, limits
//! over sorts).

use std::sync::{Arc, OnceLock};

use arrow_array::{ArrayRef, Int64Array};
use arrow_cast::display::array_value_to_string;
use parframe_core::{Expr, Table, col, lit};
use parframe_exec::agg::sum;
use parframe_exec::logical::{Optimizer, PlanNode};
use parframe_exec::{Context, JoinType, LazyFrame, SortKey};
use proptest::prelude::*;

fn ctx() -> &'static Context {
    static C: OnceLock<Context> = OnceLock::new();
    C.get_or_init(|| Context::builder().threads(2).chunk_rows(7).build().unwrap())
}

fn frame(names: &[&str], cols: &[Vec<Option<i64>>]) -> LazyFrame {
    let cols = names
        .iter()
        .zip(cols)
        .map(|(n, v)| {
            (
                n.to_string(),
                Arc::new(Int64Array::from(v.clone())) as ArrayRef,
            )
        })
        .collect();
    ctx().lazy(Table::from_columns(cols).unwrap())
}

/// The rows as sorted strings (joins and aggregates have no order).
fn rows(t: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for b in t.chunks() {
        for i in 0..b.num_rows() {
            let r: Vec<String> = b
                .columns()
                .iter()
                .map(|c| array_value_to_string(c, i).unwrap())
                .collect();
            out.push(r.join("|"));
        }
    }
    out.sort();
    out
}

fn same(lf: &LazyFrame) -> Result<(), TestCaseError> {
    let optimized = lf.collect().unwrap();
    let plain = lf
        .collect_with_optimizer(&Optimizer::with_rules(Vec::new()))
        .unwrap();
    prop_assert_eq!(optimized.column_names(), plain.column_names());
    prop_assert_eq!(rows(&optimized), rows(&plain), "plan:\n{}", lf.explain());
    Ok(())
}

fn col_values(n: usize) -> impl Strategy<Value = Vec<Option<i64>>> {
    proptest::collection::vec(proptest::option::weighted(0.9, 0i64..6), n)
}

fn how() -> impl Strategy<Value = JoinType> {
    prop_oneof![
        Just(JoinType::Inner),
        Just(JoinType::Left),
        Just(JoinType::Right),
        Just(JoinType::Full),
        Just(JoinType::Semi),
        Just(JoinType::Anti),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn optimized_plans_give_the_same_rows(
        n in 0usize..25,
        m in 0usize..25,
        l in proptest::collection::vec(col_values(25), 3),
        r in proptest::collection::vec(col_values(25), 3),
        c1 in 0i64..6,
        c2 in 0i64..6,
        how in how(),
    ) {
        let lcols: Vec<Vec<Option<i64>>> = l.iter().map(|c| c[..n].to_vec()).collect();
        let rcols: Vec<Vec<Option<i64>>> = r.iter().map(|c| c[..m].to_vec()).collect();
        let a = frame(&["k", "a", "x"], &lcols);
        let b = frame(&["k2", "b", "y"], &rcols);
        let c = frame(&["k3", "c"], &[rcols[2].clone(), rcols[0].clone()]);

        // A comma join with everything in WHERE.
        let comma = a
            .cross_join(&b)
            .unwrap()
            .filter(
                col("k")
                    .eq(col("k2"))
                    .and(col("a").gt(lit(c1)))
                    .and(col("b").lt_eq(lit(c2)).or(col("y").is_null()))
                    .and(col("x").not_eq(col("y"))),
            )
            .unwrap()
            .select([col("a"), (col("b") + col("x")).alias("bx")])
            .unwrap();
        same(&comma)?;

        // An OR of ANDs over both sides (TPC-H Q7's shape): each side is
        // filtered by what the OR implies for it, the OR stays.
        let either = a
            .cross_join(&b)
            .unwrap()
            .filter(
                col("k").eq(col("k2")).and(
                    col("a")
                        .eq(lit(c1))
                        .and(col("b").eq(lit(c2)))
                        .or(col("a").eq(lit(c2)).and(col("y").gt(lit(c1))).and(col("x").lt(col("b")))),
                ),
            )
            .unwrap();
        same(&either)?;

        // A semi or anti join over an inner join, on a column of either
        // input: it moves onto that input.
        let ab = a.join(&b, ["k"], ["k2"], JoinType::Inner).unwrap();
        for key in ["x", "y"] {
            for kind in [JoinType::Semi, JoinType::Anti] {
                same(&ab.join(&c, [key], ["k3"], kind).unwrap())?;
            }
        }

        // Three relations, the cross product written first.
        let three = a
            .cross_join(&b)
            .unwrap()
            .cross_join(&c)
            .unwrap()
            .filter(col("k").eq(col("k3")).and(col("y").eq(col("c"))).and(col("a").gt_eq(lit(c1))))
            .unwrap();
        same(&three)?;

        // Each join type, filters above on both sides.
        let j = a.join(&b, ["k"], ["k2"], how).unwrap();
        let mut pred: Expr = col("a").gt(lit(c1)).and(col("k").is_not_null().or(col("x").lt(lit(c2))));
        if how.keeps_right_columns() {
            pred = pred.and(col("b").lt(lit(c2)).or(col("b").is_null()));
        }
        same(&j.filter(pred).unwrap())?;

        // A residual condition that belongs to the join, over both sides
        // and over each side alone (pushed into the input that is not
        // preserved, evaluated in the join for the other).
        let keys = col("k").eq(col("k2"));
        let on = match how {
            JoinType::Full => keys.and(col("a").lt(col("b"))),
            _ => keys
                .and(col("a").lt(col("b")).or(col("y").is_null()))
                .and(col("y").gt(lit(c1)))
                .and(col("x").not_eq(lit(c2))),
        };
        let jo = a.join_on(&b, how, on).unwrap().filter(col("x").gt_eq(lit(c2))).unwrap();
        same(&jo)?;
        // ... and one without any key.
        let nk = a.join_on(&b, how, col("a").lt(col("b"))).unwrap();
        same(&nk)?;

        // Filters on group keys and on aggregates; top-k with an offset.
        let g = a
            .group_by([col("k")])
            .agg([sum("a").alias("s")])
            .unwrap()
            .filter(col("k").gt(lit(c1)).and(col("s").gt(lit(c2))))
            .unwrap();
        same(&g)?;
        // An aggregate joined on its key with a filtered relation of at
        // most a quarter of its rows (semi-join reduction applies where the
        // join type allows), on either side.
        let few = frame(&["k4", "d"], &[rcols[0][..m.min(n / 4)].to_vec(), rcols[1][..m.min(n / 4)].to_vec()])
            .filter(col("d").eq(lit(c1)).or(col("d").eq(lit(c2))))
            .unwrap();
        let sums = a.group_by([col("k")]).agg([sum("a").alias("s")]).unwrap();
        same(&sums.join(&few, ["k"], ["k4"], how).unwrap())?;
        same(&few.join(&sums, ["k4"], ["k"], how).unwrap())?;
        let top = a
            .with_column((col("a") * lit(10i64) + col("x")).alias("ax"))
            .unwrap()
            .filter(col("ax").is_not_null())
            .unwrap()
            .sort([SortKey::desc("ax"), SortKey::asc("k")])
            .unwrap()
            .slice(1, 3)
            .select([col("ax")])
            .unwrap();
        let opt = top.collect().unwrap();
        let plain = top.collect_with_optimizer(&Optimizer::with_rules(Vec::new())).unwrap();
        // Ordered: compare in order (ties broken by k, then stable).
        prop_assert_eq!(opt.num_rows(), plain.num_rows());
        let unsorted = |t: &Table| -> Vec<String> {
            t.chunks().iter().flat_map(|b| (0..b.num_rows()).map(|i| array_value_to_string(b.column(0), i).unwrap()).collect::<Vec<_>>()).collect()
        };
        prop_assert_eq!(unsorted(&opt), unsorted(&plain));
    }
}

/// TPC-H Q3's shape written with comma joins plans as hash joins with the
/// filters below them, built on the smaller side.
#[test]
fn comma_joins_plan_as_hash_joins_with_filters_below() {
    let ints = |n: i64, f: &dyn Fn(i64) -> i64| -> Vec<Option<i64>> {
        (0..n).map(|i| Some(f(i))).collect()
    };
    let customer = frame(
        &["c_custkey", "c_seg"],
        &[ints(50, &|i| i), ints(50, &|i| i % 5)],
    );
    let orders = frame(
        &["o_orderkey", "o_custkey", "o_date"],
        &[
            ints(500, &|i| i),
            ints(500, &|i| i % 50),
            ints(500, &|i| i % 100),
        ],
    );
    let lineitem = frame(
        &["l_orderkey", "l_price", "l_ship"],
        &[
            ints(2000, &|i| i % 500),
            ints(2000, &|i| i),
            ints(2000, &|i| i % 100),
        ],
    );
    let q = customer
        .cross_join(&orders)
        .unwrap()
        .cross_join(&lineitem)
        .unwrap()
        .filter(
            col("c_seg")
                .eq(lit(1i64))
                .and(col("c_custkey").eq(col("o_custkey")))
                .and(col("l_orderkey").eq(col("o_orderkey")))
                .and(col("o_date").lt(lit(50i64)))
                .and(col("l_ship").gt(lit(50i64))),
        )
        .unwrap()
        .group_by([col("l_orderkey")])
        .agg([sum("l_price").alias("revenue")])
        .unwrap();
    let plan = q.optimized_plan().unwrap();
    let mut joins = Vec::new();
    let mut filters_above_joins = 0;
    plan.visit(&mut |p| match p.node() {
        PlanNode::Join(j) => {
            joins.push((j.how, j.builds_left(), j.left.clone(), j.right.clone()));
        }
        PlanNode::Filter { input, .. } if matches!(input.node(), PlanNode::Join(_)) => {
            filters_above_joins += 1
        }
        _ => {}
    });
    assert_eq!(joins.len(), 2, "{}", q.explain());
    assert_eq!(filters_above_joins, 0, "{}", q.explain());
    for (how, builds_left, l, r) in &joins {
        assert_eq!(*how, JoinType::Inner, "{}", q.explain());
        let (lr, rr) = (
            parframe_exec::logical::stats::estimated_rows(l).unwrap(),
            parframe_exec::logical::stats::estimated_rows(r).unwrap(),
        );
        assert_eq!(*builds_left, lr < rr, "{}", q.explain());
    }
    same(&q).unwrap();
}
