#!/usr/bin/env python3
"""The newcomer job (issue 20: crates/parframe/examples/newcomer.rs) against
polars on the same files: flights CSV with `NA` nulls -> a row-level status
column -> two left joins -> a group-by with median, p90 and expression
aggregates -> a per-origin top-3 (a window question) -> CSV and a
hive-partitioned Parquet dataset.

parframe: the release example binary (its own timer around `run`, which
reads the CSVs and writes both outputs; the Rust closure computes
`status`; 64 MiB memory limit as the example sets). polars: the same job
written as a polars user would (`scan_csv` with `null_values="NA"`,
`when/then` for `status`, `quantile(..., "linear")`, `int_range().over()`
for the rank), timed inside the Python process after `import polars`; no
memory limit. Best of N runs each, all cores. Both answers are compared
(carrier summary, busiest routes) before any time is printed.

Run through benches/scripts/newcomer.sh (venv, data, release build).
Never run by tests or CI.
"""

import argparse
import math
import pathlib
import re
import shutil
import subprocess
import sys
import time


def polars_job(pl, data, out):
    flights = (
        pl.scan_csv(data / "flights.csv", null_values="NA")
        .filter(pl.col("air_time").is_not_null())
        .with_columns(
            speed=pl.col("distance") / pl.col("air_time") * 60,
            status=pl.when(pl.col("arr_delay") > 15).then(pl.lit("late"))
            .when(pl.col("arr_delay").is_not_null()).then(pl.lit("on time"))
            .otherwise(pl.lit("diverted")),
        )
    )
    airlines = pl.scan_csv(data / "airlines.csv", null_values="NA")
    airports = pl.scan_csv(data / "airports.csv", null_values="NA").rename({"name": "airport"})
    joined = (flights.join(airlines, on="carrier", how="left")
              .join(airports, left_on="dest", right_on="faa", how="left"))
    by_carrier = (
        joined.group_by("name")
        .agg(
            pl.len().alias("flights"),
            pl.col("arr_delay").median().alias("median_delay"),
            pl.col("arr_delay").quantile(0.9, "linear").alias("p90_delay"),
            (pl.col("arr_delay") > 15).mean().alias("share_late"),
            pl.col("speed").mean().alias("mean_speed"),
        )
        .sort(["flights", "name"], descending=[True, False])
    )
    busiest = (
        joined.group_by("origin", "airport")
        .agg(pl.len().alias("n"), pl.col("dep_delay").mean().alias("dep_delay"))
        .sort(["origin", "n", "airport"], descending=[False, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over("origin"))
        .filter(pl.col("rank") <= 3)
        .sort("origin", "rank")
    )
    by_carrier, busiest = by_carrier.collect(), busiest.collect()
    out.mkdir(parents=True, exist_ok=True)
    by_carrier.write_csv(out / "by_carrier.csv")
    busiest.write_parquet(out / "busiest", partition_by=["origin"])
    return by_carrier, busiest


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def check(pl, ours_dir, theirs):
    """Compares parframe's outputs (read back) with polars' answers."""
    t_carrier, t_busiest = theirs
    o_carrier = pl.read_csv(ours_dir / "by_carrier.csv")
    o_busiest = (pl.read_parquet(ours_dir / "busiest", hive_partitioning=True)
                 .select(t_busiest.columns).sort("origin", "rank"))
    for name, o, t in [("by_carrier", o_carrier, t_carrier), ("busiest", o_busiest, t_busiest)]:
        if o.shape != t.shape:
            sys.exit(f"{name}: parframe has shape {o.shape}, polars {t.shape}")
        for c in t.columns:
            for i, (x, y) in enumerate(zip(o[c].to_list(), t[c].to_list())):
                if not close(x, y):
                    sys.exit(f"{name}.{c} row {i}: parframe {x!r}, polars {y!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--example", required=True, help="the release newcomer example binary")
    ap.add_argument("--data", required=True, type=pathlib.Path)
    ap.add_argument("--scratch", required=True, type=pathlib.Path)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    import polars as pl

    ours_dir, theirs_dir = a.scratch / "parframe", a.scratch / "polars"
    ours, theirs = [], []
    answer = None
    for _ in range(a.runs):
        shutil.rmtree(ours_dir, ignore_errors=True)
        p = subprocess.run([a.example, str(a.data), str(ours_dir)], check=True,
                           capture_output=True, text=True)
        m = re.search(r"\(job: ([0-9.]+) s\)", p.stdout)
        if not m:
            sys.exit(f"no job time in the example's output:\n{p.stdout}")
        ours.append(float(m.group(1)))
        shutil.rmtree(theirs_dir, ignore_errors=True)
        t = time.perf_counter()
        answer = polars_job(pl, a.data, theirs_dir)
        theirs.append(time.perf_counter() - t)
    check(pl, ours_dir, answer)
    rows = sum(1 for _ in open(a.data / "flights.csv")) - 1
    best_o, best_t = min(ours), min(theirs)
    print(f"newcomer job, {rows} flights, best of {a.runs} (answers agree)")
    print(f"  parframe {best_o:8.3f} s   (runs: {', '.join(f'{x:.3f}' for x in ours)})")
    print(f"  polars   {best_t:8.3f} s   (runs: {', '.join(f'{x:.3f}' for x in theirs)}; "
          f"polars {pl.__version__})")
    print(f"  ratio parframe / polars = {best_o / best_t:.2f}")


if __name__ == "__main__":
    main()
