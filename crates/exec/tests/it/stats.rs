//! Per-operator statistics and `explain_analyze`.

use parframe_core::{Table, col, lit, table};
use parframe_exec::agg::sum;
use parframe_exec::{Context, SortKey};

fn data(rows: i64) -> Table {
    table!(
        "id" => (0..rows).collect::<Vec<_>>(),
        "k" => (0..rows).map(|i| i % 10).collect::<Vec<_>>(),
        "s" => (0..rows).map(|i| format!("text {}", (i * 7919) % 10_000)).collect::<Vec<_>>(),
    )
    .unwrap()
}

fn ctx(limit: u64) -> Context {
    Context::builder()
        .threads(2)
        .chunk_rows(500)
        .memory_limit(limit)
        .build()
        .unwrap()
}

#[test]
fn each_operator_reports_rows_spills_and_reservations() {
    let c = ctx(200 << 10);
    let lf = c
        .lazy(data(20_000))
        .filter(col("id").lt(lit(15_000i64)))
        .unwrap()
        .sort([SortKey::asc("s")])
        .unwrap()
        .with_column((col("id") + lit(1i64)).alias("next"))
        .unwrap();
    let (t, stats) = lf.collect_with_stats().unwrap();
    assert_eq!(t.num_rows(), 15_000);
    let names: Vec<(Option<usize>, &str)> = stats
        .operators
        .iter()
        .map(|o| (o.node, o.name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            (None, "Collect"),
            (Some(0), "WithColumns (col(\"id\") + 1).alias(\"next\")"),
            (Some(1), "Sort [s ASC NULLS LAST]"),
            (Some(2), "Filter (col(\"id\") < 15000)"),
            (Some(3), "Table [20000 rows, 1 chunks]"),
        ],
    );
    let op = |n: usize| stats.operator(n).unwrap();
    assert_eq!((op(3).rows_in, op(3).rows_out), (0, 20_000));
    assert_eq!((op(2).rows_in, op(2).rows_out), (20_000, 15_000));
    assert_eq!((op(1).rows_in, op(1).rows_out), (15_000, 15_000));
    assert_eq!((op(0).rows_in, op(0).rows_out), (15_000, 15_000));
    assert!(op(2).busy > std::time::Duration::ZERO);
    assert!(op(1).elapsed > std::time::Duration::ZERO);

    // The sort spilled; its figures add up to the job's with the collect's.
    let sort = op(1);
    assert!(sort.spilled.files > 1, "{sort:?}");
    assert!(sort.peak_reserved > 0 && sort.peak_reserved <= 200 << 10);
    let collect = &stats.operators[0];
    assert_eq!(collect.spilled + sort.spilled, stats.spilled);
    assert_eq!(
        stats.peak_reserved,
        sort.peak_reserved.max(collect.peak_reserved)
    );
    assert_eq!(op(2).spilled.files, 0);
}

#[test]
fn explain_analyze_annotates_the_plan() {
    let c = ctx(1 << 30);
    let lf = c
        .lazy(data(1000))
        .group_by([col("k")])
        .agg([sum("id")])
        .unwrap()
        .sort([SortKey::desc("k")])
        .unwrap()
        .limit(3);
    let report = lf.explain_analyze().unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines[0].starts_with("3 rows in "), "{report}");
    assert!(lines[0].contains("spilled 0 files"), "{report}");
    // The optimized plan runs (and is shown): the limit became a top-k.
    assert!(
        lines[1].starts_with("TopK 3 [k DESC NULLS LAST]  [rows 10 -> 3"),
        "{report}"
    );
    assert!(lines[2].starts_with("  Aggregate keys=[k]"), "{report}");
    assert!(lines[2].contains("[rows 1000 -> 10"), "{report}");
    assert!(
        lines[3].starts_with("    Table [1000 rows, 1 chunks] columns=[id, k]  [rows 1000]"),
        "{report}"
    );
    // Without running: the same tree as explain.
    let plain = lf.explain();
    for (a, b) in plain.lines().zip(lines[1..].iter()) {
        assert!(b.starts_with(a), "{a} / {b}");
    }
}

#[test]
fn a_frame_joined_with_itself_reports_each_scan() {
    // One sub-plan used twice runs as two operators; each keeps its own
    // figures (they once merged onto the first, the second showing none).
    let c = ctx(1 << 30);
    let lf = c
        .lazy(data(1000))
        .filter(col("id").lt(lit(100i64)))
        .unwrap();
    let joined = lf
        .join(&lf, ["id"], ["id"], parframe_exec::JoinType::Inner)
        .unwrap();
    let (t, stats) = joined.collect_with_stats().unwrap();
    assert_eq!(t.num_rows(), 100);
    let scans: Vec<_> = stats
        .operators
        .iter()
        .filter(|o| o.name.starts_with("Table"))
        .collect();
    assert_eq!(scans.len(), 2, "{:?}", stats.operators);
    assert_ne!(scans[0].node, scans[1].node, "{scans:?}");
    // Each scan read the table (whether the filter ran in it or above).
    for s in &scans {
        assert!(s.rows_out >= 100, "{s:?}");
    }
    assert_eq!(scans[0].rows_out, scans[1].rows_out);
    let report = joined.explain_analyze().unwrap();
    let table_lines: Vec<&str> = report
        .lines()
        .filter(|l| l.trim_start().starts_with("Table"))
        .collect();
    assert_eq!(table_lines.len(), 2, "{report}");
    for l in table_lines {
        assert!(l.contains("[rows 1"), "{report}");
    }
}
