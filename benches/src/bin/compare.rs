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
//! polars expression), `filter` (filter + select on G1), or `all`.
//!
//! Options: `--rows N` (default 1e7; `1e6` style accepted), `--k K` groups
//! (default 100), `--runs N` timed runs after one warm-up (default 3),
//! `--threads` (also run parframe on 1 and on 2 threads and print the
//! 2-over-1 speed-up), `--chunk-rows N` (default 131072).
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

use std::sync::Arc;
use std::time::Instant;

use arrow_schema::Schema;

use parframe::agg::{corr, count_rows, max, mean, median, min, std, sum, top_k};
use parframe::{Context, Expr, LazyFrame, Result, Table, col, lit};
use parframe_bench::{coordinates, groupby_data, haversine};

struct Args {
    what: String,
    rows: usize,
    k: usize,
    runs: usize,
    threads: bool,
    chunk_rows: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: compare [groupby|apply|filter|all] [--rows 1e7] [--k 100] [--runs 3] \
         [--threads] [--chunk-rows 131072]"
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
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "groupby" | "apply" | "filter" | "all" => a.what = arg,
            "--rows" => a.rows = parse_count(it.next()),
            "--k" => a.k = parse_count(it.next()),
            "--runs" => a.runs = parse_count(it.next()),
            "--chunk-rows" => a.chunk_rows = parse_count(it.next()),
            "--threads" => a.threads = true,
            _ => usage(),
        }
    }
    a
}

/// One workload: a parframe plan, the polars query, and how to check.
struct Workload {
    name: &'static str,
    /// Key columns of the result (empty: the result is ordered); only the
    /// answer check against polars reads them.
    #[cfg_attr(not(feature = "polars"), allow(dead_code))]
    keys: Vec<&'static str>,
    /// Which data set.
    data: Data,
    parframe: fn(LazyFrame) -> Result<LazyFrame>,
    #[cfg(feature = "polars")]
    polars: fn(polars::prelude::LazyFrame) -> polars::prelude::LazyFrame,
}

#[derive(Clone, Copy, PartialEq)]
enum Data {
    G1,
    Coordinates,
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
                keys: vec![$($k),*],
                data: $data,
                parframe: $pf,
                #[cfg(feature = "polars")]
                polars: $pl,
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
    out
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
    let work = workloads(&args.what);
    let need_g1 = work.iter().any(|w| w.data == Data::G1);
    let need_coords = work.iter().any(|w| w.data == Data::Coordinates);

    let t0 = Instant::now();
    let g1 = if need_g1 {
        groupby_data::g1(args.rows, args.k, 0.0, 42, args.chunk_rows)?
    } else {
        Table::empty(Arc::new(Schema::empty()))
    };
    let coords = if need_coords {
        coordinates(args.rows, args.chunk_rows, 42)?
    } else {
        Table::empty(Arc::new(Schema::empty()))
    };
    eprintln!("data built in {:.1} s", t0.elapsed().as_secs_f64());

    #[cfg(feature = "polars")]
    let (g1_pl, coords_pl) = {
        let t0 = Instant::now();
        let conv = |t: &Table| -> Result<polars::prelude::DataFrame> {
            let mut df = parframe::polars::to_polars(t)?;
            df.rechunk_mut_par();
            Ok(df)
        };
        let out = (conv(&g1)?, conv(&coords)?);
        eprintln!("polars frames ready in {:.1} s", t0.elapsed().as_secs_f64());
        out
    };

    let ctx = context(cores, args.chunk_rows)?;
    let ctx1 = context(1, args.chunk_rows)?;
    let ctx2 = context(2, args.chunk_rows)?;
    let mut rows = Vec::new();
    for w in &work {
        let input = match w.data {
            Data::G1 => &g1,
            Data::Coordinates => &coords,
        };
        let run = |ctx: &Context| {
            best_of(args.runs, || {
                (w.parframe)(ctx.lazy(input.clone()))?.collect()
            })
        };
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
            use polars::prelude::IntoLazy;
            let df = match w.data {
                Data::G1 => &g1_pl,
                Data::Coordinates => &coords_pl,
            };
            let (t, theirs) = best_of(args.runs, || {
                (w.polars)(df.clone().lazy())
                    .collect()
                    .map_err(|e| parframe::Error::External {
                        context: format!("polars, {}", w.name),
                        message: e.to_string(),
                    })
            })?;
            let mine = parframe_bench::checksum::Checksum::of(&answer, &w.keys)?;
            let theirs = parframe::polars::from_polars(&theirs)?;
            let theirs = parframe_bench::checksum::Checksum::of(&theirs, &w.keys)?;
            row.polars = Some(t);
            row.mismatch = mine.mismatch(&theirs);
            for note in mine.notes(&theirs) {
                eprintln!("note, {} (parframe against polars): {note}", w.name);
            }
            if let Some(m) = &row.mismatch {
                eprintln!(
                    "MISMATCH in {}: {m}\n  parframe: {mine}\n  polars:   {theirs}",
                    w.name
                );
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
    print_table(&args, cores, &rows);
    Ok(())
}

fn print_table(args: &Args, cores: usize, rows: &[Row]) {
    let with_polars = cfg!(feature = "polars");
    println!();
    println!(
        "rows {} (G1 k = {}), best of {} after a warm-up; parframe on {cores} threads; \
         polars {} threads (POLARS_MAX_THREADS={})",
        args.rows,
        args.k,
        args.runs,
        std::env::var("POLARS_MAX_THREADS").unwrap_or_else(|_| cores.to_string()),
        std::env::var("POLARS_MAX_THREADS").unwrap_or_else(|_| "unset".into()),
    );
    println!();
    let mut head = vec!["workload", "parframe s"];
    if args.threads {
        head.extend(["parframe 1t s", "parframe 2t s", "2t/1t speed-up"]);
    }
    if with_polars {
        head.extend(["polars s", "ratio"]);
    }
    head.push("rows");
    println!("| {} |", head.join(" | "));
    println!(
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
        println!("| {} |", cells.join(" | "));
        if r.name.starts_with('q') {
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
                .filter_map(|r| r.name.starts_with('q').then_some(r.pf1?))
                .sum();
            let b: f64 = rows
                .iter()
                .filter_map(|r| r.name.starts_with('q').then_some(r.pf2?))
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
        println!("| {} |", cells.join(" | "));
    }
    if with_polars {
        println!("\nratio = parframe s / polars s (below 1: parframe is faster).");
    }
}
