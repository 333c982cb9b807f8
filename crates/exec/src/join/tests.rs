//! Joins against a naive nested-loop reference, in memory and spilling.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, Schema};
use parframe_common::Error;
use parframe_core::Table;
use proptest::prelude::*;

use crate::{BuildSide, Context, JoinOptions, JoinType, JoinValidation, LazyFrame};

/// One side of a test join: `k1` (nullable int), `k2` (nullable string),
/// a value column `v` (named `v` on both sides, so the right one clashes).
#[derive(Debug, Clone)]
struct Side {
    k1: Vec<Option<i64>>,
    k2: Vec<Option<String>>,
    v: Vec<i64>,
}

impl Side {
    fn batch(&self) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k1", DataType::Int64, true),
            Field::new("k2", DataType::Utf8, true),
            Field::new("v", DataType::Int64, false),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(self.k1.clone())),
            Arc::new(StringArray::from(self.k2.clone())),
            Arc::new(Int64Array::from(self.v.clone())),
        ];
        RecordBatch::try_new(schema, cols).unwrap()
    }

    /// A table of chunks of `chunk` rows, copied (not sliced) so chunk
    /// sizes are honest.
    fn table(&self, chunk: usize) -> Table {
        let b = self.batch();
        let mut chunks = Vec::new();
        let mut off = 0;
        while off < b.num_rows() {
            let len = chunk.min(b.num_rows() - off);
            let s = b.slice(off, len);
            let copied: Vec<ArrayRef> = s
                .columns()
                .iter()
                .map(|c| arrow_select::concat::concat(&[c.as_ref()]).unwrap())
                .collect();
            chunks.push(RecordBatch::try_new(b.schema(), copied).unwrap());
            off += len;
        }
        Table::try_new(b.schema(), chunks).unwrap()
    }

    fn len(&self) -> usize {
        self.v.len()
    }
}

fn fmt_i(v: Option<i64>) -> String {
    v.map_or("∅".into(), |x| x.to_string())
}
fn fmt_s(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "∅".into())
}

/// The naive answer, one string per row, sorted.
fn reference(l: &Side, r: &Side, keys: usize, how: JoinType) -> Vec<String> {
    let keys = if how == JoinType::Cross { 0 } else { keys };
    let matches = |i: usize, j: usize| -> bool {
        if how == JoinType::Cross {
            return true;
        }
        let k1 = matches!((l.k1[i], r.k1[j]), (Some(a), Some(b)) if a == b);
        let k2 = keys < 2 || matches!((&l.k2[i], &r.k2[j]), (Some(a), Some(b)) if a == b);
        k1 && k2
    };
    let row = |i: Option<usize>, j: Option<usize>| -> String {
        let mut cols = Vec::new();
        // k1 is a key (coalesced unless cross); k2 is a key when keys == 2.
        cols.push(match (i, j) {
            (Some(i), _) => fmt_i(l.k1[i]),
            (None, Some(j)) if how != JoinType::Cross => fmt_i(r.k1[j]),
            _ => "∅".into(),
        });
        cols.push(match (i, j) {
            (Some(i), _) => fmt_s(&l.k2[i]),
            (None, Some(j)) if keys == 2 => fmt_s(&r.k2[j]),
            _ => "∅".into(),
        });
        cols.push(i.map_or("∅".into(), |i| l.v[i].to_string()));
        if !matches!(how, JoinType::Semi | JoinType::Anti) {
            if how == JoinType::Cross {
                cols.push(j.map_or("∅".into(), |j| fmt_i(r.k1[j])));
            }
            if keys < 2 {
                cols.push(j.map_or("∅".into(), |j| fmt_s(&r.k2[j])));
            }
            cols.push(j.map_or("∅".into(), |j| r.v[j].to_string()));
        }
        cols.join(",")
    };
    nested_loops(l.len(), r.len(), how, matches, row)
}

/// The rows of a join of `l` rows with `r` rows by nested loops, as
/// `row(left, right)` renders them (`None`: that side's nulls), sorted.
fn nested_loops(
    l: usize,
    r: usize,
    how: JoinType,
    matches: impl Fn(usize, usize) -> bool,
    row: impl Fn(Option<usize>, Option<usize>) -> String,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut right_hit = vec![false; r];
    for i in 0..l {
        let ms: Vec<usize> = (0..r).filter(|&j| matches(i, j)).collect();
        for &j in &ms {
            right_hit[j] = true;
        }
        let pairs = ms.iter().map(|&j| row(Some(i), Some(j)));
        match how {
            JoinType::Inner | JoinType::Cross | JoinType::Right => out.extend(pairs),
            JoinType::Left | JoinType::Full if ms.is_empty() => out.push(row(Some(i), None)),
            JoinType::Left | JoinType::Full => out.extend(pairs),
            JoinType::Semi if !ms.is_empty() => out.push(row(Some(i), None)),
            JoinType::Anti if ms.is_empty() => out.push(row(Some(i), None)),
            JoinType::Semi | JoinType::Anti => {}
        }
    }
    if matches!(how, JoinType::Right | JoinType::Full) {
        for (j, hit) in right_hit.iter().enumerate() {
            if !hit {
                out.push(row(None, Some(j)));
            }
        }
    }
    out.sort();
    out
}

fn render(batches: &[RecordBatch]) -> Vec<String> {
    let opts = FormatOptions::default().with_null("∅");
    let mut out = Vec::new();
    for b in batches {
        let fs: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            out.push(
                fs.iter()
                    .map(|f| f.value(i).to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
    }
    out.sort();
    out
}

fn run(lf: &LazyFrame) -> Result<Vec<RecordBatch>, Error> {
    lf.stream()?.collect()
}

fn keys_of(n: usize) -> Vec<&'static str> {
    ["k1", "k2"][..n].to_vec()
}

fn join(
    ctx: &Context,
    l: &Side,
    r: &Side,
    keys: usize,
    how: JoinType,
    opts: JoinOptions,
) -> Result<Vec<RecordBatch>, Error> {
    let lf = ctx.lazy(l.table(7));
    let rf = ctx.lazy(r.table(5));
    let k = if how == JoinType::Cross {
        vec![]
    } else {
        keys_of(keys)
    };
    run(&lf.join_with(&rf, k.clone(), k, how, opts)?)
}

const ALL: [JoinType; 7] = [
    JoinType::Inner,
    JoinType::Left,
    JoinType::Right,
    JoinType::Full,
    JoinType::Semi,
    JoinType::Anti,
    JoinType::Cross,
];

fn side_strategy(max: usize) -> impl Strategy<Value = Side> {
    prop::collection::vec(
        (
            prop::option::weighted(0.85, 0i64..6),
            prop::option::weighted(0.85, prop::sample::select(vec!["a", "b", "c"])),
        ),
        0..max,
    )
    .prop_map(|rows| Side {
        k1: rows.iter().map(|r| r.0).collect(),
        k2: rows.iter().map(|r| r.1.map(str::to_string)).collect(),
        v: (0..rows.len() as i64).collect(),
    })
}

fn ctx(limit: Option<u64>, spill: &std::path::Path) -> Context {
    let mut b = Context::builder().threads(2).chunk_rows(8).spill_dir(spill);
    if let Some(l) = limit {
        b = b.memory_limit(l);
    }
    b.build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_join_type_matches_nested_loops(
        l in side_strategy(40),
        r in side_strategy(30),
        keys in 1usize..=2,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let c = ctx(None, dir.path());
        for how in ALL {
            for side in [BuildSide::Auto, BuildSide::Left, BuildSide::Right] {
                let legal = match side {
                    BuildSide::Left => !matches!(how, JoinType::Left | JoinType::Full),
                    BuildSide::Right => how != JoinType::Right,
                    BuildSide::Auto => true,
                };
                if !legal {
                    continue;
                }
                let got = join(&c, &l, &r, keys, how, JoinOptions::new().build_side(side)).unwrap();
                prop_assert_eq!(render(&got), reference(&l, &r, keys, how), "{} build {:?}", how, side);
            }
        }
    }

    #[test]
    fn spilling_joins_match_nested_loops(
        l in side_strategy(60),
        r in side_strategy(60),
        keys in 1usize..=2,
        limit in prop::sample::select(vec![2500u64, 6000]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let c = ctx(Some(limit), dir.path());
        for how in ALL {
            let got = join(&c, &l, &r, keys, how, JoinOptions::new()).unwrap();
            prop_assert_eq!(render(&got), reference(&l, &r, keys, how), "{}", how);
        }
        // Semi and anti joins built on their left side mark build rows,
        // block by block when a partition does not fit.
        for how in [JoinType::Semi, JoinType::Anti] {
            let got = join(&c, &l, &r, keys, how, JoinOptions::new().build_side(BuildSide::Left)).unwrap();
            prop_assert_eq!(render(&got), reference(&l, &r, keys, how), "{} build left", how);
        }
        prop_assert_eq!(c.spill_live().files, 0);
    }
}

/// The residual condition of [`residual_reference`]'s joins, over the pair
/// columns of `join_on` (`v`, `k2` left; `v_right`, `k2_right` right):
/// `v - v_right < 6 AND (k2 <> k2_right OR v > v_right)`, which is null
/// (fails) for some pairs with a null `k2`.
fn residual_condition() -> parframe_core::Expr {
    use parframe_core::{col, lit};
    (col("v") - col("v_right")).lt(lit(6i64)).and(
        col("k2")
            .not_eq(col("k2_right"))
            .or(col("v").gt(col("v_right"))),
    )
}

/// The naive answer of `l.join_on(r, how, [k1 = k1_right AND] residual)`:
/// one string per row (all left columns, then all right ones except for
/// semi and anti joins; keys not coalesced), sorted.
fn residual_reference(l: &Side, r: &Side, keyed: bool, how: JoinType) -> Vec<String> {
    let pass = |i: usize, j: usize| -> bool {
        let (v, w) = (l.v[i], r.v[j]);
        let ne = match (&l.k2[i], &r.k2[j]) {
            (Some(a), Some(b)) => Some(a != b),
            _ => None,
        };
        // SQL's OR: true if either is true.
        v - w < 6 && (ne == Some(true) || v > w)
    };
    let matches = |i: usize, j: usize| -> bool {
        (!keyed || matches!((l.k1[i], r.k1[j]), (Some(a), Some(b)) if a == b)) && pass(i, j)
    };
    let row = |i: Option<usize>, j: Option<usize>| -> String {
        let mut cols = vec![
            i.map_or("∅".into(), |i| fmt_i(l.k1[i])),
            i.map_or("∅".into(), |i| fmt_s(&l.k2[i])),
            i.map_or("∅".into(), |i| l.v[i].to_string()),
        ];
        if !matches!(how, JoinType::Semi | JoinType::Anti) {
            cols.push(j.map_or("∅".into(), |j| fmt_i(r.k1[j])));
            cols.push(j.map_or("∅".into(), |j| fmt_s(&r.k2[j])));
            cols.push(j.map_or("∅".into(), |j| r.v[j].to_string()));
        }
        cols.join(",")
    };
    nested_loops(l.len(), r.len(), how, matches, row)
}

/// `l.join_on(r, how, [k1 = k1_right AND] residual)`, built on `side`.
fn join_residual(
    ctx: &Context,
    l: &Side,
    r: &Side,
    keyed: bool,
    how: JoinType,
    side: BuildSide,
) -> Result<Vec<RecordBatch>, Error> {
    use parframe_core::col;
    let on = if keyed {
        col("k1").eq(col("k1_right")).and(residual_condition())
    } else {
        residual_condition()
    };
    let lf = ctx.lazy(l.table(7));
    let rf = ctx.lazy(r.table(5));
    run(&lf.join_on_with(&rf, how, on, JoinOptions::new().build_side(side))?)
}

/// The build sides a join type can be built on.
fn legal_sides(how: JoinType) -> Vec<BuildSide> {
    let mut out = vec![BuildSide::Auto];
    if !matches!(how, JoinType::Left | JoinType::Full) {
        out.push(BuildSide::Left);
    }
    if how != JoinType::Right {
        out.push(BuildSide::Right);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A residual over both sides decides matches inside the join, for
    /// every join type and build side, with and without equality keys,
    /// in memory and spilling (grace partitions, blocks of a skewed one).
    #[test]
    fn residual_conditions_match_nested_loops(
        l in side_strategy(40),
        r in side_strategy(30),
        keyed in any::<bool>(),
        limit in prop::sample::select(vec![None, Some(2500u64), Some(6000)]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let c = ctx(limit, dir.path());
        for how in ALL.into_iter().filter(|h| *h != JoinType::Cross) {
            for side in legal_sides(how) {
                let got = join_residual(&c, &l, &r, keyed, how, side).unwrap();
                prop_assert_eq!(
                    render(&got),
                    residual_reference(&l, &r, keyed, how),
                    "{} keyed {} build {:?}", how, keyed, side
                );
            }
        }
        prop_assert_eq!(c.spill_live().files, 0);
    }
}

#[test]
fn residual_join_spills_and_matches() {
    // Many build rows per key (so pairs are listed a slice at a time) and
    // a budget that forces the grace path.
    let dir = tempfile::tempdir().unwrap();
    let l = side(&(0..1500).map(|i| Some(i % 40)).collect::<Vec<_>>(), 0);
    let r = side(&(0..1200).map(|i| Some(i % 30)).collect::<Vec<_>>(), 3);
    let c = ctx(Some(48 << 10), dir.path());
    for how in ALL.into_iter().filter(|h| *h != JoinType::Cross) {
        for side in legal_sides(how) {
            let got = join_residual(&c, &l, &r, true, how, side).unwrap();
            assert_eq!(
                render(&got),
                residual_reference(&l, &r, true, how),
                "{how} build {side:?}"
            );
        }
    }
    assert!(c.spill_stats().files > 0, "nothing spilled");
    assert_eq!(c.spill_live().files, 0);
    assert!(c.memory_pool().peak() <= 48 << 10);
}

fn side(k1: &[Option<i64>], v0: i64) -> Side {
    Side {
        k1: k1.to_vec(),
        k2: k1.iter().map(|k| k.map(|k| format!("s{k}"))).collect(),
        v: (v0..v0 + k1.len() as i64).collect(),
    }
}

#[test]
fn spill_files_are_written_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let l = side(&(0..3000).map(|i| Some(i % 700)).collect::<Vec<_>>(), 0);
    let r = side(&(0..2000).map(|i| Some(i % 900)).collect::<Vec<_>>(), 0);
    let c = ctx(Some(40 << 10), dir.path());
    let auto = JoinOptions::new();
    let left = JoinOptions::new().build_side(BuildSide::Left);
    for (how, opts) in [
        (JoinType::Inner, &auto),
        (JoinType::Full, &auto),
        (JoinType::Anti, &auto),
        (JoinType::Semi, &left),
        (JoinType::Anti, &left),
    ] {
        let lf = c.lazy(l.table(256));
        let rf = c.lazy(r.table(256));
        let mut stream = lf
            .join_with(&rf, ["k1"], ["k1"], how, opts.clone())
            .unwrap()
            .stream()
            .unwrap();
        let got: Vec<RecordBatch> = stream.by_ref().collect::<Result<_, _>>().unwrap();
        let stats = stream.stats();
        assert!(stats.spilled.files > 0, "{how}: nothing spilled");
        assert_eq!(render(&got), reference(&l, &r, 1, how), "{how}");
        drop(stream);
        assert_eq!(c.spill_live().files, 0, "{how}: spill files left");
        assert!(c.memory_pool().peak() <= 40 << 10);
    }
}

#[test]
fn skewed_key_is_joined_block_by_block() {
    // 30% of the build rows share one key: no split can make that
    // partition fit, so it is joined in blocks.
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<Option<i64>> = (0..2000)
        .map(|i| Some(if i % 10 < 3 { 7 } else { i }))
        .collect();
    let r = side(&keys, 0);
    let l = side(&(0..300).map(|i| Some(i % 20)).collect::<Vec<_>>(), 0);
    let c = ctx(Some(24 << 10), dir.path());
    for how in [
        JoinType::Inner,
        JoinType::Left,
        JoinType::Semi,
        JoinType::Anti,
        JoinType::Full,
    ] {
        let got = run(&c
            .lazy(l.table(64))
            .join(&c.lazy(r.table(64)), ["k1"], ["k1"], how)
            .unwrap())
        .unwrap();
        assert_eq!(render(&got), reference(&l, &r, 1, how), "{how}");
    }
    assert!(c.spill_stats().files > 0);
    assert_eq!(c.spill_live().files, 0);
}

#[test]
fn skewed_left_side_of_a_semi_or_anti_join_built_left_is_marked_block_by_block() {
    // The build side is the left one: its skewed partition is loaded in
    // blocks, each block's matched (or unmatched) rows emitted once it
    // has seen every probe row.
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<Option<i64>> = (0..2000)
        .map(|i| Some(if i % 10 < 3 { 7 } else { i }))
        .collect();
    let l = side(&keys, 0);
    let r = side(&(0..300).map(|i| Some(i % 20)).collect::<Vec<_>>(), 0);
    let c = ctx(Some(24 << 10), dir.path());
    for how in [JoinType::Semi, JoinType::Anti] {
        let got = run(&c
            .lazy(l.table(64))
            .join_with(
                &c.lazy(r.table(64)),
                ["k1"],
                ["k1"],
                how,
                JoinOptions::new().build_side(BuildSide::Left),
            )
            .unwrap())
        .unwrap();
        assert_eq!(render(&got), reference(&l, &r, 1, how), "{how}");
    }
    assert!(c.spill_stats().files > 0);
    assert_eq!(c.spill_live().files, 0);
}

#[test]
fn plan_errors_name_the_problem() {
    let c = Context::builder().threads(1).build().unwrap();
    let l = c.lazy(side(&[Some(1)], 0).table(4));
    let r = c.lazy(side(&[Some(1)], 0).table(4));
    let e = l.join(&r, ["nope"], ["k1"], JoinType::Inner).unwrap_err();
    assert!(e.to_string().contains("'nope' not found"), "{e}");
    let e = l.join(&r, ["k1"], ["k2"], JoinType::Inner).unwrap_err();
    assert!(e.to_string().contains("key types differ"), "{e}");
    assert!(e.to_string().contains("cast"), "{e}");
    let e = l
        .join(&r, ["k1", "k2"], ["k1"], JoinType::Inner)
        .unwrap_err();
    assert!(e.to_string().contains("as many left keys"), "{e}");
    let e = l
        .join(
            &r,
            Vec::<String>::new(),
            Vec::<String>::new(),
            JoinType::Inner,
        )
        .unwrap_err();
    assert!(e.to_string().contains("at least one key"), "{e}");
    let e = l
        .join_with(
            &r,
            ["k1"],
            ["k1"],
            JoinType::Left,
            JoinOptions::new().build_side(BuildSide::Left),
        )
        .unwrap_err();
    assert!(e.to_string().contains("cannot build"), "{e}");
}

#[test]
fn suffix_and_schema() {
    let c = Context::builder().threads(1).build().unwrap();
    let l = c.lazy(side(&[Some(1), None], 0).table(4));
    let r = c.lazy(side(&[Some(1)], 10).table(4));
    let j = l
        .join_with(
            &r,
            ["k1"],
            ["k1"],
            JoinType::Left,
            JoinOptions::new().suffix("_r"),
        )
        .unwrap();
    let names: Vec<String> = j
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, vec!["k1", "k2", "v", "k2_r", "v_r"]);
    let sql_like = l
        .join_with(
            &r,
            ["k1"],
            ["k1"],
            JoinType::Left,
            JoinOptions::new().coalesce_keys(false),
        )
        .unwrap();
    let t = sql_like.collect().unwrap();
    let names: Vec<String> = t
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        vec!["k1", "k2", "v", "k1_right", "k2_right", "v_right"]
    );
    // The unmatched left row (null key) has a null right key.
    assert_eq!(
        t.chunks()
            .iter()
            .map(|c| c.column(3).null_count())
            .sum::<usize>(),
        1
    );
    let t = j.collect().unwrap();
    assert_eq!(t.num_rows(), 2);
    // Projection through a join reads only what it needs.
    let only = j
        .select([parframe_core::col("v_r")])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(only.num_rows(), 2);
    assert!(
        j.explain().contains("Join left on [k1 = k1]"),
        "{}",
        j.explain()
    );
}

#[test]
fn validation_errors_on_duplicates() {
    let c = Context::builder().threads(2).build().unwrap();
    let uniq = c.lazy(side(&[Some(1), Some(2)], 0).table(4));
    let dup = c.lazy(side(&[Some(1), Some(1)], 0).table(4));
    let v = |l: &LazyFrame, r: &LazyFrame, how, val| {
        run(&l
            .join_with(r, ["k1"], ["k1"], how, JoinOptions::new().validate(val))
            .unwrap())
    };
    assert!(v(&uniq, &uniq, JoinType::Inner, JoinValidation::OneToOne).is_ok());
    let e = v(&uniq, &dup, JoinType::Inner, JoinValidation::OneToOne).unwrap_err();
    assert!(e.to_string().contains("right side"), "{e}");
    let e = v(&dup, &uniq, JoinType::Left, JoinValidation::OneToMany).unwrap_err();
    assert!(e.to_string().contains("left side"), "{e}");
    assert!(v(&dup, &uniq, JoinType::Left, JoinValidation::ManyToOne).is_ok());
    assert!(v(&uniq, &dup, JoinType::Right, JoinValidation::OneToMany).is_ok());
}

#[test]
fn many_key_types_join() {
    use arrow_array::{BooleanArray, Date32Array, LargeStringArray, UInt8Array};
    let c = Context::builder().threads(2).build().unwrap();
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("b", Arc::new(BooleanArray::from(vec![true, false, true]))),
        ("d", Arc::new(Date32Array::from(vec![1, 2, 3]))),
        ("u", Arc::new(UInt8Array::from(vec![1, 2, 250]))),
        ("s", Arc::new(LargeStringArray::from(vec!["x", "y", "x"]))),
    ];
    let t = Table::from_batches(vec![RecordBatch::try_from_iter(cols).unwrap()]).unwrap();
    for k in ["b", "d", "u", "s"] {
        let out = c
            .lazy(t.clone())
            .join(&c.lazy(t.clone()), [k], [k], JoinType::Inner)
            .unwrap()
            .collect()
            .unwrap();
        let expect = if matches!(k, "b" | "s") { 5 } else { 3 };
        assert_eq!(out.num_rows(), expect, "key {k}");
    }
    let out = c
        .lazy(t.clone())
        .join(&c.lazy(t), ["b", "s"], ["b", "s"], JoinType::Inner)
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.num_rows(), 5);
    let _ = out.chunks()[0].column(0).len();
}

/// Unique integer keys over a narrow range: `lo + offsets`, some null.
fn unique_keys() -> impl Strategy<Value = Vec<Option<i64>>> {
    (
        prop::sample::select(vec![-30i64, 0, 1, 1_000_000]),
        prop::sample::subsequence((0i64..40).collect::<Vec<_>>(), 0..30),
        prop::collection::vec(prop::bool::weighted(0.1), 30),
    )
        .prop_map(|(lo, offs, nulls)| {
            offs.iter()
                .zip(&nulls)
                .map(|(&o, &null)| (!null).then_some(lo + o))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Unique keys in a narrow range take the direct-address table; keys
    /// at the ends of `i64` (out of any such range, and a span too wide
    /// for one) must neither match wrongly nor wrap around.
    #[test]
    fn dense_keys_match_nested_loops(
        lk in unique_keys(),
        rk in unique_keys(),
        extremes in prop::sample::subsequence(vec![i64::MIN, i64::MAX, -1], 0..3),
        extremes_right in any::<bool>(),
    ) {
        let mut lk = lk;
        let mut rk = rk;
        let far = extremes.iter().map(|&e| Some(e));
        if extremes_right { rk.extend(far) } else { lk.extend(far) }
        let l = side(&lk, 0);
        let r = side(&rk, 100);
        let dir = tempfile::tempdir().unwrap();
        let c = ctx(None, dir.path());
        for how in ALL {
            for side in [BuildSide::Auto, BuildSide::Left] {
                if side == BuildSide::Left && matches!(how, JoinType::Left | JoinType::Full) {
                    continue;
                }
                let got = join(&c, &l, &r, 1, how, JoinOptions::new().build_side(side)).unwrap();
                prop_assert_eq!(render(&got), reference(&l, &r, 1, how), "{} build {:?}", how, side);
            }
        }
    }
}

#[test]
fn views_keep_payload_types_and_values() {
    use arrow_array::{BinaryArray, LargeBinaryArray, LargeStringArray};
    // Long values (not inlined in a view), short ones, and nulls.
    let text = |k: i64| (k % 5 != 0).then(|| format!("{k}{}", "x".repeat((k % 30) as usize)));
    let build_rows: Vec<i64> = (0..900).map(|i| i * 3 % 1000).collect();
    let payload = |ks: &[i64]| -> RecordBatch {
        let t: Vec<Option<String>> = ks.iter().map(|&k| text(k)).collect();
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("k", Arc::new(Int64Array::from(ks.to_vec()))),
            ("s", Arc::new(StringArray::from(t.clone()))),
            ("ls", Arc::new(LargeStringArray::from(t.clone()))),
            (
                "b",
                Arc::new(BinaryArray::from_iter(
                    t.iter().map(|v| v.as_ref().map(|s| s.as_bytes())),
                )),
            ),
            (
                "lb",
                Arc::new(LargeBinaryArray::from_iter(
                    t.iter().map(|v| v.as_ref().map(|s| s.as_bytes())),
                )),
            ),
        ];
        RecordBatch::try_from_iter(cols).unwrap()
    };
    let chunks = |b: RecordBatch, n: usize| -> Table {
        let parts = (0..b.num_rows())
            .step_by(n)
            .map(|o| b.slice(o, n.min(b.num_rows() - o)))
            .collect();
        Table::try_new(b.schema(), parts).unwrap()
    };
    let build = payload(&build_rows);
    let probe_keys: Vec<i64> = (0..1200).map(|i| (i * 7) % 1100).collect();
    let probe = RecordBatch::try_from_iter(vec![(
        "k",
        Arc::new(Int64Array::from(probe_keys.clone())) as ArrayRef,
    )])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Unit tests hold build sides of 16 rows and more as views.
    for limit in [None, Some(48 << 10), Some(96 << 10), Some(160 << 10)] {
        let c = ctx(limit, dir.path());
        for how in [JoinType::Inner, JoinType::Left, JoinType::Full] {
            let out = c
                .lazy(chunks(probe.clone(), 100))
                .join(&c.lazy(chunks(build.clone(), 128)), ["k"], ["k"], how)
                .unwrap()
                .collect()
                .unwrap();
            for (f, g) in out.schema().fields().iter().zip(build.schema().fields()) {
                assert_eq!(f.data_type(), g.data_type(), "{how}: {}", f.name());
            }
            let mut rows = 0;
            for b in out.chunks() {
                let keys = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                let fmt = |i: usize| -> Vec<String> {
                    let opts = FormatOptions::default().with_null("∅");
                    (1..5)
                        .map(|c| {
                            ArrayFormatter::try_new(b.column(c).as_ref(), &opts)
                                .unwrap()
                                .value(i)
                                .to_string()
                        })
                        .collect()
                };
                for i in 0..b.num_rows() {
                    let k = keys.value(i);
                    let present = build_rows.contains(&k);
                    let want = match text(k) {
                        Some(t) if present => t,
                        _ => "∅".to_string(),
                    };
                    let got = fmt(i);
                    assert_eq!(got[0], want, "{how} key {k}");
                    assert_eq!(got[1], want, "{how} key {k}");
                    let hex: String = if want == "∅" {
                        want.clone()
                    } else {
                        want.bytes().map(|b| format!("{b:02x}")).collect()
                    };
                    assert_eq!(got[2], hex, "{how} key {k}");
                    assert_eq!(got[3], hex, "{how} key {k}");
                    rows += 1;
                }
            }
            let matched = probe_keys.iter().filter(|k| build_rows.contains(k)).count();
            let expect = match how {
                JoinType::Inner => matched,
                JoinType::Left => probe_keys.len(),
                _ => {
                    probe_keys.len()
                        + build_rows
                            .iter()
                            .filter(|k| !probe_keys.contains(k))
                            .count()
                }
            };
            assert_eq!(rows, expect, "{how}");
        }
        assert_eq!(c.spill_live().files, 0);
        // The limits are small enough to spill: partitions (some large
        // enough for views) are joined one by one.
        assert_eq!(c.spill_stats().files > 0, limit.is_some());
    }
}
