#!/usr/bin/env python3
"""Partitioned write: G1 (10^7 rows by default) from one Parquet file into
a hive-partitioned Parquet dataset by `id4` (100 directories), through
parframe (the release CLI: `parframe sql "COPY (SELECT * FROM 'G1.parquet')
TO 'dir' (PARTITION_BY (id4))"`), DuckDB (the same COPY statement) and
polars (`scan_parquet(...).sink_parquet(pl.PartitionBy(dir, key="id4"))`,
or `write_parquet(dir, partition_by="id4")` on a polars without it), best
of N runs, each engine on T threads, zstd everywhere (parframe's default
codec; DuckDB's and polars' set to it). Ratios are engine time / parframe
time (above 1: parframe is faster).

Run it through `benches/scripts/partitioned_write.sh` (makes the venv and
the data). Never run by tests or CI.

Timing: from starting the write until the dataset is complete on disk
(parframe: its process' wall time, start-up included; a peer: inside a
Python process, after import). Output goes under SCRATCH (default
/dev/shm/parframe-partitioned, so the disk does not decide the race).

Checking: every engine's dataset is read back by DuckDB
(`read_parquet('dir/**/*.parquet', hive_partitioning = true)`): the row
count, the number of distinct `id4` directories, and sum(v1), sum(v3)
and per-`id4` row counts must equal the source's.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

SCRATCH = pathlib.Path(os.environ.get("PARTITIONED_SCRATCH", "/dev/shm/parframe-partitioned"))


def copy_sql(src, out):
    return (f"COPY (SELECT * FROM '{src}') TO '{out}' "
            f"(FORMAT parquet, PARTITION_BY (id4))")


def worker(engine, src, out, threads):
    """Runs one write in this (fresh) process; prints its time as JSON."""
    if engine == "duckdb":
        import duckdb
        con = duckdb.connect()
        con.execute(f"SET threads TO {threads}")
        sql = (f"COPY (SELECT * FROM read_parquet('{src}')) TO '{out}' "
               f"(FORMAT parquet, PARTITION_BY (id4), COMPRESSION zstd)")

        def run():
            con.execute(sql)
    elif engine == "polars":
        os.environ["POLARS_MAX_THREADS"] = str(threads)
        import polars as pl

        def run():
            if hasattr(pl, "PartitionBy"):
                pl.scan_parquet(src).sink_parquet(pl.PartitionBy(out, key="id4"),
                                                  compression="zstd", mkdir=True)
            elif hasattr(pl, "PartitionByKey"):
                pl.scan_parquet(src).sink_parquet(pl.PartitionByKey(out, by="id4"),
                                                  compression="zstd", mkdir=True)
            else:
                pl.read_parquet(src).write_parquet(out, partition_by="id4",
                                                   compression="zstd")
    else:
        raise SystemExit(f"unknown engine {engine}")
    t0 = time.perf_counter()
    run()
    print(json.dumps({"time": time.perf_counter() - t0}))


def summary(path, hive_glob):
    """Row count, distinct id4, sums and per-id4 counts, by DuckDB."""
    import duckdb
    con = duckdb.connect()
    rel = (f"read_parquet('{path}/**/*.parquet', hive_partitioning = true)"
           if hive_glob else f"read_parquet('{path}')")
    total = con.execute(
        f"SELECT count(*), count(DISTINCT id4), sum(v1), round(sum(v3), 3) FROM {rel}"
    ).fetchone()
    per_key = con.execute(
        f"SELECT CAST(id4 AS BIGINT) AS k, count(*) FROM {rel} GROUP BY k ORDER BY k"
    ).fetchall()
    return [list(total), [list(r) for r in per_key]]


def run_engine(args, engine, out):
    times = []
    for _ in range(args.runs):
        shutil.rmtree(out, ignore_errors=True)
        if engine == "parframe":
            cmd = [args.parframe, "--threads", str(args.threads), "-q", "sql",
                   copy_sql(args.source, out)]
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            dt = time.perf_counter() - t0
            if p.returncode != 0:
                return {"error": (p.stderr or p.stdout).strip().splitlines()[:1]}
        else:
            cmd = [sys.executable, __file__, "worker", engine, str(args.source), str(out),
                   "--threads", str(args.threads)]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            if p.returncode != 0:
                return {"error": (p.stderr or "").strip().splitlines()[-1:]}
            dt = json.loads(p.stdout.strip().splitlines()[-1])["time"]
        times.append(dt)
    files = sum(1 for _ in pathlib.Path(out).rglob("*.parquet"))
    return {"times": times, "files": files}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        p = argparse.ArgumentParser()
        p.add_argument("cmd")
        p.add_argument("engine")
        p.add_argument("source")
        p.add_argument("out")
        p.add_argument("--threads", type=int, default=2)
        a = p.parse_args()
        worker(a.engine, a.source, a.out, a.threads)
        return
    p = argparse.ArgumentParser(description="partitioned-write benchmark (run partitioned_write.sh)")
    p.add_argument("--parframe", required=True, help="the parframe binary")
    p.add_argument("--source", required=True, help="the G1 Parquet file")
    p.add_argument("--engines", default="parframe,duckdb,polars")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timeout", type=int, default=600)
    args = p.parse_args()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    want = summary(args.source, hive_glob=False)
    print(f"source {args.source}: {want[0][0]} rows, {want[0][1]} id4 values; "
          f"{args.threads} threads, best of {args.runs}; load {os.getloadavg()[0]:.2f}")
    results = {}
    for engine in args.engines.split(","):
        out = SCRATCH / engine
        r = run_engine(args, engine, out)
        if "times" in r:
            got = summary(out, hive_glob=True)
            r["ok"] = got == want
            if not r["ok"]:
                r["got"] = got[0]
        shutil.rmtree(out, ignore_errors=True)
        results[engine] = r
    base = min(results.get("parframe", {}).get("times", [0])) or None
    print(f"| engine | best (s) | files | answer | ratio to parframe |")
    print(f"|---|---|---|---|---|")
    for engine, r in results.items():
        if "error" in r:
            print(f"| {engine} | error: {r['error']} | | | |")
            continue
        best = min(r["times"])
        ratio = f"{best / base:.2f}" if base and r["ok"] else "-"
        answer = "ok" if r["ok"] else f"MISMATCH {r.get('got')}"
        print(f"| {engine} | {best:.3f} | {r['files']} | {answer} | {ratio} |")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
