//! The comparison harness: the same workloads with parframe and with polars
//! on the same in-memory data, in one process; best of N runs after a
//! warm-up; the answers checked against each other; a markdown table out.
//!
//! ```sh
//! cargo run --release -p parframe-bench --features polars --bin compare -- all --rows 1e7
//! cargo run --release -p parframe-bench --features polars --bin compare -- groupby --rows 1e7 --threads
//! cargo run --release -p parframe-bench --bin compare -- apply   # parframe alone
//! ```
//!
//! Workloads: `groupby` (the ten db-benchmark questions on G1_<rows>_1e2),
//! `apply` (haversine over four f64 columns: a parframe closure against a
//! polars expression), `filter` (filter + select on G1), `sort` (G1 by id3
//! ascending, v3 descending), `join` (the five db-benchmark join questions
//! on the J1 tables of `--rows` rows), or `all`.
//!
//! Options: `--rows N` (default 1e7; `1e6` style accepted), `--k K` groups
//! (default 100), `--runs N` timed runs after one warm-up (default 3),
//! `--threads` (also run parframe on 1 and on 2 threads and print the
//! 2-over-1 speed-up), `--chunk-rows N` (default 131072), `--only NAME`
//! (only the workloads named NAME or starting with `NAME `, e.g. `q10`),
//! `--out DIR`
//! (default `benches/results`: with the polars feature, the markdown table
//! goes to `DIR/compare.md` and a bar chart of the ratios to
//! `DIR/compare.svg`).
//!
//! parframe runs on its own pool of all cores. polars sizes its global pool
//! once, at start-up, from the `POLARS_MAX_THREADS` environment variable
//! (default: all cores); set it in the shell to compare at equal threads,
//! e.g. `POLARS_MAX_THREADS=1`.
//!
//! polars gets the data through [`parframe::polars::to_polars`] (zero copy),
//! then rechunked to one chunk per column, its preferred layout (not timed).
//! Its results come back through `from_polars` for the check. A workload
//! whose two answers disagree prints `MISMATCH` instead of a ratio.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow_schema::Schema;

use parframe::agg::{corr, count_rows, max, mean, median, min, std, sum, top_k};
use parframe::datasets::{J1, J1Table};
use parframe::{Context, Expr, JoinType, LazyFrame, Result, SortKey, Table, col, lit};
use parframe_bench::checksum::Checksum;
use parframe_bench::{coordinates, groupby_data, haversine};

struct Args {
    what: String,
    rows: usize,
    k: usize,
    runs: usize,
    threads: bool,
    chunk_rows: usize,
    /// Only the workloads whose name starts with this (e.g. `q10`).
    only: Option<String>,
    #[cfg_attr(not(feature = "polars"), allow(dead_code))]
    out: PathBuf,
}

const WHATS: [&str; 6] = ["groupby", "apply", "filter", "sort", "join", "all"];

fn usage() -> ! {
    eprintln!(
        "usage: compare [groupby|apply|filter|sort|join|all] [--rows 1e7] [--k 100] [--runs 3] \
         [--threads] [--chunk-rows 131072] [--only q10] [--out benches/results]"
    );
    std::process::exit(2)
}

fn parse_count(s: Option<String>) -> usize {
    match s.as_deref().map(str::parse::<f64>) {
        Some(Ok(v)) if v >= 1.0 => v as usize,
        _ => usage(),
    }
}

fn parse_args() -> Args {
    let mut a = Args {
        what: "all".into(),
        rows: 10_000_000,
        k: 100,
        runs: 3,
        threads: false,
        chunk_rows: 128 * 1024,
        only: None,
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            w if WHATS.contains(&w) => a.what = arg,
            "--out" => a.out = it.next().map(PathBuf::from).unwrap_or_else(|| usage()),
            "--rows" => a.rows = parse_count(it.next()),
            "--k" => a.k = parse_count(it.next()),
            "--runs" => a.runs = parse_count(it.next()),
            "--chunk-rows" => a.chunk_rows = parse_count(it.next()),
            "--threads" => a.threads = true,
            "--only" => a.only = Some(it.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    a
}

/// One workload: a parframe plan, the polars query, and how to check.
struct Workload {
    name: &'static str,
    /// How the two answers are compared; only the check against polars
    /// reads it.
    #[cfg_attr(not(feature = "polars"), allow(dead_code))]
    check: Check,
    /// Which data set.
    data: Data,
    parframe: fn(LazyFrame) -> Result<LazyFrame>,
    #[cfg(feature = "polars")]
    polars: fn(polars::prelude::LazyFrame) -> polars::prelude::LazyFrame,
    /// A join of `data` (the left side) with another table; then
    /// `parframe` and `polars` are applied to the join's result.
    join: Option<Join>,
}

/// `data` joined with `right` on the column `on` (same name both sides).
#[derive(Clone, Copy)]
struct Join {
    right: Data,
    on: &'static str,
    how: JoinType,
}

/// How two answers are compared (by [`Checksum`]s).
#[cfg_attr(not(feature = "polars"), allow(dead_code))]
enum Check {
    /// By these key columns, in any row order (empty: row by row, in
    /// order).
    Keys(Vec<&'static str>),
    /// A sort by these columns: their values row by row in order, and the
    /// whole rows as a multiset (rows whose sort keys tie may come in
    /// either order).
    Sorted(Vec<&'static str>),
}

impl Check {
    /// The fingerprints of an answer.
    #[cfg_attr(not(feature = "polars"), allow(dead_code))]
    fn fingerprints(&self, t: &Table) -> Result<Vec<Checksum>> {
        match self {
            Check::Keys(keys) => Ok(vec![Checksum::of(t, keys)?]),
            Check::Sorted(by) => Ok(vec![
                Checksum::of(&t.select(by)?, &[])?,
                Checksum::of(t, &t.column_names())?,
            ]),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Data {
    G1,
    Coordinates,
    /// The J1 tables: `x` and the three right tables.
    J1(J1Table),
}

fn by(lf: LazyFrame, keys: &[&str]) -> parframe::GroupBy {
    lf.group_by(keys.iter().map(|k| col(*k)))
}

fn workloads(what: &str) -> Vec<Workload> {
    #[cfg(feature = "polars")]
    use polars::prelude as pl;
    #[cfg(feature = "polars")]
    fn pby(lf: pl::LazyFrame, keys: &[&str]) -> pl::LazyGroupBy {
        lf.group_by(keys.iter().map(|k| pl::col(*k)).collect::<Vec<_>>())
    }
    macro_rules! w {
        ($name:expr, [$($k:expr),*], $data:expr, $pf:expr, $pl:expr) => {
            Workload {
                name: $name,
                check: Check::Keys(vec![$($k),*]),
                data: $data,
                parframe: $pf,
                #[cfg(feature = "polars")]
                polars: $pl,
                join: None,
            }
        };
    }
    let mut out = Vec::new();
    if what == "groupby" || what == "all" {
        out.extend([
            w!(
                "q1 sum v1 by id1",
                ["id1"],
                Data::G1,
                |lf| by(lf, &["id1"]).agg([sum("v1")]),
                |lf| pby(lf, &["id1"]).agg([pl::col("v1").sum()])
            ),
            w!(
                "q2 sum v1 by id1,id2",
                ["id1", "id2"],
                Data::G1,
                |lf| by(lf, &["id1", "id2"]).agg([sum("v1")]),
                |lf| pby(lf, &["id1", "id2"]).agg([pl::col("v1").sum()])
            ),
            w!(
                "q3 sum v1, mean v3 by id3",
                ["id3"],
                Data::G1,
                |lf| by(lf, &["id3"]).agg([sum("v1"), mean("v3")]),
                |lf| pby(lf, &["id3"]).agg([pl::col("v1").sum(), pl::col("v3").mean()])
            ),
            w!(
                "q4 mean v1,v2,v3 by id4",
                ["id4"],
                Data::G1,
                |lf| by(lf, &["id4"]).agg([mean("v1"), mean("v2"), mean("v3")]),
                |lf| pby(lf, &["id4"]).agg([
                    pl::col("v1").mean(),
                    pl::col("v2").mean(),
                    pl::col("v3").mean(),
                ])
            ),
            w!(
                "q5 sum v1,v2,v3 by id6",
                ["id6"],
                Data::G1,
                |lf| by(lf, &["id6"]).agg([sum("v1"), sum("v2"), sum("v3")]),
                |lf| pby(lf, &["id6"]).agg([
                    pl::col("v1").sum(),
                    pl::col("v2").sum(),
                    pl::col("v3").sum(),
                ])
            ),
            w!(
                "q6 median v3, sd v3 by id4,id5",
                ["id4", "id5"],
                Data::G1,
                |lf| by(lf, &["id4", "id5"])
                    .agg([median("v3").alias("median_v3"), std("v3").alias("sd_v3"),]),
                |lf| pby(lf, &["id4", "id5"]).agg([
                    pl::col("v3").median().alias("median_v3"),
                    pl::col("v3").std(1).alias("sd_v3"),
                ])
            ),
            w!(
                "q7 max v1 - min v2 by id3",
                ["id3"],
                Data::G1,
                |lf| by(lf, &["id3"]).agg([(max("v1") - min("v2")).alias("range_v1_v2")]),
                |lf| pby(lf, &["id3"])
                    .agg([(pl::col("v1").max() - pl::col("v2").min()).alias("range_v1_v2"),])
            ),
            w!(
                "q8 largest two v3 by id6",
                ["id6"],
                Data::G1,
                |lf| by(lf, &["id6"]).agg([top_k("v3", 2).alias("largest2_v3")]),
                |lf| pby(lf, &["id6"]).agg([pl::col("v3").top_k(pl::lit(2)).alias("largest2_v3"),])
            ),
            w!(
                "q9 corr(v1,v2)^2 by id2,id4",
                ["id2", "id4"],
                Data::G1,
                |lf| by(lf, &["id2", "id4"]).agg([corr("v1", "v2").pow(2).alias("r2")]),
                |lf| pby(lf, &["id2", "id4"]).agg([pl::pearson_corr(pl::col("v1"), pl::col("v2"))
                    .pow(2)
                    .alias("r2"),])
            ),
            w!(
                "q10 sum v3, count by id1..id6",
                ["id1", "id2", "id3", "id4", "id5", "id6"],
                Data::G1,
                |lf| by(lf, &["id1", "id2", "id3", "id4", "id5", "id6"])
                    .agg([sum("v3"), count_rows().alias("count")]),
                |lf| pby(lf, &["id1", "id2", "id3", "id4", "id5", "id6"])
                    .agg([pl::col("v3").sum(), pl::len().alias("count")])
            ),
        ]);
    }
    if what == "apply" || what == "all" {
        out.push(w!(
            "apply haversine",
            [],
            Data::Coordinates,
            |lf| lf
                .apply(
                    "km",
                    ["lat1", "lon1", "lat2", "lon2"],
                    |(a, b, c, d): (f64, f64, f64, f64)| haversine(a, b, c, d)
                )?
                .select([col("km")]),
            |lf| {
                let rad = |c: &str| pl::col(c) * pl::lit(std::f64::consts::PI / 180.0);
                let half = |e: pl::Expr| (e / pl::lit(2.0)).sin();
                let a = half(rad("lat2") - rad("lat1")).pow(2)
                    + rad("lat1").cos()
                        * rad("lat2").cos()
                        * half(rad("lon2") - rad("lon1")).pow(2);
                let km = pl::lit(2.0 * parframe_bench::EARTH_RADIUS_KM) * a.sqrt().arcsin();
                lf.select([km.alias("km")])
            }
        ));
    }
    if what == "filter" || what == "all" {
        out.push(w!(
            "filter + select",
            [],
            Data::G1,
            |lf| lf
                .filter(filter_expr())?
                .select([col("id1"), col("id4"), col("v3")]),
            |lf| lf
                .filter(
                    pl::col("v1")
                        .gt(pl::lit(2))
                        .and(pl::col("v3").lt(pl::lit(50.0)))
                )
                .select([pl::col("id1"), pl::col("id4"), pl::col("v3")])
        ));
    }
    if what == "sort" || what == "all" {
        out.push(Workload {
            check: Check::Sorted(vec!["id3", "v3"]),
            ..w!(
                "sort id3 asc, v3 desc",
                [],
                Data::G1,
                |lf| lf.sort([SortKey::asc("id3"), SortKey::desc("v3")]),
                |lf| lf.sort(
                    ["id3", "v3"],
                    pl::SortMultipleOptions::new().with_order_descending_multi([false, true])
                )
            )
        });
    }
    // ------------------------------------------------------------------
    // The five db-benchmark join questions (J1 tables). Each right key is
    // unique in its table, so x's unique id3 identifies a result row.
    if what == "join" || what == "all" {
        let q = |name, right, on, how| Workload {
            check: Check::Keys(vec!["id3"]),
            join: Some(Join { right, on, how }),
            ..w!(name, [], Data::J1(J1Table::X), Ok, |lf| lf)
        };
        out.extend([
            q(
                "j1 x inner small on id1",
                Data::J1(J1Table::Small),
                "id1",
                JoinType::Inner,
            ),
            q(
                "j2 x inner medium on id2",
                Data::J1(J1Table::Medium),
                "id2",
                JoinType::Inner,
            ),
            q(
                "j3 x left medium on id2",
                Data::J1(J1Table::Medium),
                "id2",
                JoinType::Left,
            ),
            q(
                "j4 x inner medium on id5",
                Data::J1(J1Table::Medium),
                "id5",
                JoinType::Inner,
            ),
            q(
                "j5 x inner big on id3",
                Data::J1(J1Table::Big),
                "id3",
                JoinType::Inner,
            ),
        ]);
    }
    out
}

/// The parframe plan of a workload over its inputs.
fn parframe_plan(w: &Workload, ctx: &Context, data: &Inputs) -> Result<LazyFrame> {
    let lf = ctx.lazy(data.get(w.data).clone());
    let lf = match w.join {
        Some(j) => lf.join(&ctx.lazy(data.get(j.right).clone()), [j.on], [j.on], j.how)?,
        None => lf,
    };
    (w.parframe)(lf)
}

/// The in-memory tables the chosen workloads read.
struct Inputs {
    g1: Table,
    coords: Table,
    /// `x`, small, medium, big.
    j1: [Table; 4],
}

impl Inputs {
    fn get(&self, d: Data) -> &Table {
        match d {
            Data::G1 => &self.g1,
            Data::Coordinates => &self.coords,
            Data::J1(t) => &self.j1[j1_index(t)],
        }
    }
}

fn j1_index(t: J1Table) -> usize {
    J1Table::ALL.iter().position(|u| *u == t).unwrap_or(0)
}

fn filter_expr() -> Expr {
    col("v1").gt(lit(2i64)).and(col("v3").lt(lit(50.0)))
}

/// Best of `runs` timed runs after one warm-up, with the warm-up's answer.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let answer = f()?;
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t0 = Instant::now();
        let r = f()?;
        best = best.min(t0.elapsed().as_secs_f64());
        drop(r);
    }
    Ok((best, answer))
}

fn context(threads: usize, chunk_rows: usize) -> Result<Context> {
    Context::builder()
        .threads(threads)
        .chunk_rows(chunk_rows)
        .build()
}

struct Row {
    name: &'static str,
    pf: f64,
    pf1: Option<f64>,
    pf2: Option<f64>,
    polars: Option<f64>,
    /// `None`: agreed (or nothing to compare); `Some`: what differed.
    mismatch: Option<String>,
    rows: usize,
}

fn fmt_s(s: f64) -> String {
    if s < 0.01 {
        format!("{s:.4}")
    } else {
        format!("{s:.3}")
    }
}

fn main() -> Result<()> {
    let args = parse_args();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut work = workloads(&args.what);
    if let Some(only) = &args.only {
        // A prefix followed by a space: `q1` is not `q10`.
        work.retain(|w| w.name == only || w.name.starts_with(&format!("{only} ")));
    }
    let uses = |d: Data| {
        work.iter()
            .any(|w| w.data == d || w.join.is_some_and(|j| j.right == d))
    };
    let empty = || Table::empty(Arc::new(Schema::empty()));

    let t0 = Instant::now();
    let j1 = J1::new(args.rows).chunk_rows(args.chunk_rows);
    let j1_table = |t: J1Table| -> Result<Table> {
        if uses(Data::J1(t)) {
            j1.table(t)
        } else {
            Ok(empty())
        }
    };
    let data = Inputs {
        g1: if uses(Data::G1) {
            groupby_data::g1(args.rows, args.k, 0.0, 42, args.chunk_rows)?
        } else {
            empty()
        },
        coords: if uses(Data::Coordinates) {
            coordinates(args.rows, args.chunk_rows, 42)?
        } else {
            empty()
        },
        j1: [
            j1_table(J1Table::X)?,
            j1_table(J1Table::Small)?,
            j1_table(J1Table::Medium)?,
            j1_table(J1Table::Big)?,
        ],
    };
    eprintln!("data built in {:.1} s", t0.elapsed().as_secs_f64());

    #[cfg(feature = "polars")]
    let polars_data = {
        let t0 = Instant::now();
        let conv = |t: &Table| -> Result<polars::prelude::DataFrame> {
            let mut df = parframe::polars::to_polars(t)?;
            df.rechunk_mut_par();
            Ok(df)
        };
        let out = PolarsInputs {
            g1: conv(&data.g1)?,
            coords: conv(&data.coords)?,
            j1: [
                conv(&data.j1[0])?,
                conv(&data.j1[1])?,
                conv(&data.j1[2])?,
                conv(&data.j1[3])?,
            ],
        };
        eprintln!("polars frames ready in {:.1} s", t0.elapsed().as_secs_f64());
        out
    };

    let ctx = context(cores, args.chunk_rows)?;
    let ctx1 = context(1, args.chunk_rows)?;
    let ctx2 = context(2, args.chunk_rows)?;
    let mut rows = Vec::new();
    for w in &work {
        let run = |ctx: &Context| best_of(args.runs, || parframe_plan(w, ctx, &data)?.collect());
        let (pf, answer) = run(&ctx)?;
        let (pf1, pf2) = if args.threads {
            (Some(run(&ctx1)?.0), Some(run(&ctx2)?.0))
        } else {
            (None, None)
        };
        #[allow(unused_mut)]
        let mut row = Row {
            name: w.name,
            pf,
            pf1,
            pf2,
            polars: None,
            mismatch: None,
            rows: answer.num_rows(),
        };
        #[cfg(feature = "polars")]
        {
            let (t, theirs) = best_of(args.runs, || {
                polars_plan(w, &polars_data)
                    .collect()
                    .map_err(|e| parframe::Error::External {
                        context: format!("polars, {}", w.name),
                        message: e.to_string(),
                    })
            })?;
            let theirs = parframe::polars::from_polars(&theirs)?;
            let mine = w.check.fingerprints(&answer)?;
            let theirs = w.check.fingerprints(&theirs)?;
            row.polars = Some(t);
            row.mismatch = mine.iter().zip(&theirs).find_map(|(a, b)| a.mismatch(b));
            for (a, b) in mine.iter().zip(&theirs) {
                for note in a.notes(b) {
                    eprintln!("note, {} (parframe against polars): {note}", w.name);
                }
            }
            if let Some(m) = &row.mismatch {
                eprintln!("MISMATCH in {}: {m}", w.name);
                for (a, b) in mine.iter().zip(&theirs) {
                    eprintln!("  parframe: {a}\n  polars:   {b}");
                }
            }
        }
        eprintln!(
            "{:<34} parframe {:>8} s{}",
            w.name,
            fmt_s(row.pf),
            row.polars
                .map(|p| format!("  polars {:>8} s", fmt_s(p)))
                .unwrap_or_default()
        );
        rows.push(row);
    }
    let table = markdown_table(&args, cores, &rows);
    print!("{table}");
    #[cfg(feature = "polars")]
    {
        std::fs::create_dir_all(&args.out).map_err(|e| parframe::Error::io(&args.out, e))?;
        let md = args.out.join("compare.md");
        std::fs::write(&md, &table).map_err(|e| parframe::Error::io(&md, e))?;
        let svg = args.out.join("compare.svg");
        let title = format!(
            "parframe time / polars time, {} rows ({})",
            args.rows,
            today()
        );
        parframe_bench::chart::ratio_chart(&svg, &title, &chart_bars(&rows))?;
        eprintln!("wrote {} and {}", md.display(), svg.display());
    }
    Ok(())
}

/// The polars frames, the same buffers as [`Inputs`].
#[cfg(feature = "polars")]
struct PolarsInputs {
    g1: polars::prelude::DataFrame,
    coords: polars::prelude::DataFrame,
    j1: [polars::prelude::DataFrame; 4],
}

#[cfg(feature = "polars")]
impl PolarsInputs {
    fn get(&self, d: Data) -> polars::prelude::LazyFrame {
        use polars::prelude::IntoLazy;
        let df = match d {
            Data::G1 => &self.g1,
            Data::Coordinates => &self.coords,
            Data::J1(t) => &self.j1[j1_index(t)],
        };
        df.clone().lazy()
    }
}

/// The polars query of a workload.
#[cfg(feature = "polars")]
fn polars_plan(w: &Workload, data: &PolarsInputs) -> polars::prelude::LazyFrame {
    use polars::prelude as pl;
    let lf = data.get(w.data);
    let lf = match w.join {
        Some(j) => {
            let how = match j.how {
                JoinType::Left => pl::JoinType::Left,
                _ => pl::JoinType::Inner,
            };
            lf.join(
                data.get(j.right),
                [pl::col(j.on)],
                [pl::col(j.on)],
                pl::JoinArgs::new(how),
            )
        }
        None => lf,
    };
    (w.polars)(lf)
}

/// The bars of the chart: workloads whose answers agreed.
#[cfg(feature = "polars")]
fn chart_bars(rows: &[Row]) -> Vec<(String, f64)> {
    rows.iter()
        .filter(|r| r.mismatch.is_none())
        .filter_map(|r| Some((r.name.to_string(), r.pf / r.polars?)))
        .collect()
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
#[cfg(feature = "polars")]
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Howard Hinnant's days-to-civil.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn markdown_table(args: &Args, cores: usize, rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let with_polars = cfg!(feature = "polars");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "rows {} (G1 k = {}), best of {} after a warm-up; parframe on {cores} threads; \
         polars {} threads (POLARS_MAX_THREADS={})",
        args.rows,
        args.k,
        args.runs,
        std::env::var("POLARS_MAX_THREADS").unwrap_or_else(|_| cores.to_string()),
        std::env::var("POLARS_MAX_THREADS").unwrap_or_else(|_| "unset".into()),
    );
    let _ = writeln!(out);
    let mut head = vec!["workload", "parframe s"];
    if args.threads {
        head.extend(["parframe 1t s", "parframe 2t s", "2t/1t speed-up"]);
    }
    if with_polars {
        head.extend(["polars s", "ratio"]);
    }
    head.push("rows");
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        head.iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" })
            .collect::<Vec<_>>()
            .join("|")
    );
    let (mut tot_pf, mut tot_pl, mut all_ok, mut n_gb) = (0.0, 0.0, true, 0);
    for r in rows {
        let mut cells = vec![r.name.to_string(), fmt_s(r.pf)];
        if args.threads {
            let (a, b) = (r.pf1.unwrap_or(f64::NAN), r.pf2.unwrap_or(f64::NAN));
            cells.extend([fmt_s(a), fmt_s(b), format!("{:.2}x", a / b)]);
        }
        if with_polars {
            let p = r.polars.unwrap_or(f64::NAN);
            cells.push(fmt_s(p));
            cells.push(match &r.mismatch {
                Some(_) => "MISMATCH".to_string(),
                None => format!("{:.2}", r.pf / p),
            });
        }
        cells.push(r.rows.to_string());
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if is_groupby(r.name) {
            n_gb += 1;
            tot_pf += r.pf;
            tot_pl += r.polars.unwrap_or(f64::NAN);
            all_ok &= r.mismatch.is_none();
        }
    }
    if n_gb > 1 {
        let mut cells = vec![format!("total of {n_gb} group-by questions"), fmt_s(tot_pf)];
        if args.threads {
            let a: f64 = rows
                .iter()
                .filter_map(|r| is_groupby(r.name).then_some(r.pf1?))
                .sum();
            let b: f64 = rows
                .iter()
                .filter_map(|r| is_groupby(r.name).then_some(r.pf2?))
                .sum();
            cells.extend([fmt_s(a), fmt_s(b), format!("{:.2}x", a / b)]);
        }
        if with_polars {
            cells.push(fmt_s(tot_pl));
            cells.push(if all_ok {
                format!("{:.2}", tot_pf / tot_pl)
            } else {
                "MISMATCH".into()
            });
        }
        cells.push(String::new());
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    if with_polars {
        let _ = writeln!(
            out,
            "\nratio = parframe s / polars s (below 1: parframe is faster)."
        );
    }
    out
}

/// The group-by questions are named `q1`..`q10`.
fn is_groupby(name: &str) -> bool {
    name.starts_with('q')
}
