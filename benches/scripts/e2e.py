#!/usr/bin/env python3
"""End-to-end benchmark: the same SQL over the same files through parframe
(the release CLI, `parframe sql`) and through DuckDB, DataFusion and polars
(their Python packages from PyPI), on this machine, best of N runs.

Run it through `benches/scripts/e2e.sh` (makes the venv and the data); see
benches/README.md. Never run by tests or CI.

How a query is timed, for every engine alike: from handing over the SQL
text until its whole result is written as an uncompressed Arrow IPC file
under /dev/shm (so a large result such as group-by q10's 10^7 rows costs
every engine the same materialization). parframe's time is the wall time
of its process (`parframe --threads T sql ... -o out.arrow`: start-up,
footer reads and planning included, as a user sees it); a peer's time is
measured inside a fresh Python process per query, after its import and
table registration (views over the files, nothing read yet). Each engine
runs on T threads (default 2).

How answers are checked: every result file is reduced to a checksum (row
count; per column, by position, the count of non-null values and either
the sum as a double for numeric columns - integers, floats, decimals - or
the exact sum of 64-bit hashes of the value's text for all others, such as
strings and dates). The reference is DuckDB's answer (else DataFusion's,
else polars'); numeric sums agree within a relative 2e-5 (REL_TOL). A query whose
parframe answer differs prints MISMATCH and no ratio; an engine that fails
prints its error.
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
PEERS = ["duckdb", "datafusion", "polars"]
ENGINES = ["parframe"] + PEERS
# Numeric column sums agree within this relative tolerance: engines round
# decimal averages differently (DataFusion's avg of DECIMAL(15,2) is
# DECIMAL(19,6), DuckDB's a DOUBLE), which moves TPC-H Q1's avg_disc sum by
# 8e-6 relative; a wrong row or group moves a sum far more.
REL_TOL = 2e-5
SCRATCH = pathlib.Path(os.environ.get("E2E_SCRATCH", "/dev/shm/parframe-e2e"))


# --------------------------------------------------------------------------
# Query sets
# --------------------------------------------------------------------------

def g1_name(rows):
    # parframe::datasets::g1_name for k = 100, no nulls: G1_1e7_1e2_0_0
    return f"G1_{sci(rows)}_1e2_0_0"


def sci(n):
    e = len(str(n)) - 1
    assert n == 10 ** e, n
    return f"1e{e}"


GROUPBY = [
    ("q1", "SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1 ORDER BY id1"),
    ("q2", "SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2 ORDER BY id1, id2"),
    ("q3", "SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3 ORDER BY id3"),
    ("q4", "SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4 ORDER BY id4"),
    ("q5", "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6 ORDER BY id6"),
    ("q6", "SELECT id4, id5, median(v3) AS median_v3, stddev(v3) AS sd_v3 FROM x "
           "GROUP BY id4, id5 ORDER BY id4, id5"),
    ("q7", "SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM x GROUP BY id3 ORDER BY id3"),
    ("q8", "SELECT id6, largest2_v3 FROM (SELECT id6, v3 AS largest2_v3, row_number() OVER "
           "(PARTITION BY id6 ORDER BY v3 DESC) AS order_v3 FROM x WHERE v3 IS NOT NULL) "
           "AS sub_query WHERE order_v3 <= 2 ORDER BY id6, largest2_v3 DESC"),
    ("q9", "SELECT id2, id4, power(corr(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4 ORDER BY id2, id4"),
    ("q10", "SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count FROM x "
            "GROUP BY id1, id2, id3, id4, id5, id6 ORDER BY id1, id2, id3, id4, id5, id6"),
]

# db-benchmark's five join questions; each answer is folded into aggregates
# (count and sums) so that the join, not writing 10^7 joined rows, is timed.
JOIN = [
    ("j1 small inner id1", "SELECT count(*) AS n, sum(x.v1) AS v1, sum(small.v2) AS v2 "
                           "FROM x JOIN small ON x.id1 = small.id1"),
    ("j2 medium inner id2", "SELECT count(*) AS n, sum(x.v1) AS v1, sum(medium.v2) AS v2 "
                            "FROM x JOIN medium ON x.id2 = medium.id2"),
    ("j3 medium left id2", "SELECT count(*) AS n, sum(x.v1) AS v1, sum(medium.v2) AS v2 "
                           "FROM x LEFT JOIN medium ON x.id2 = medium.id2"),
    ("j4 medium inner id5", "SELECT count(*) AS n, sum(x.v1) AS v1, sum(medium.v2) AS v2 "
                            "FROM x JOIN medium ON x.id5 = medium.id5"),
    ("j5 big inner id3", "SELECT count(*) AS n, sum(x.v1) AS v1, sum(big.v2) AS v2 "
                         "FROM x JOIN big ON x.id3 = big.id3"),
]

TPCH_TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]


def tpch_queries():
    out = []
    for q in sorted((ROOT / "datasets/tpch/queries").glob("q??.sql")):
        text = q.read_text().strip()
        if text.endswith(";"):
            text = text[:-1]
        out.append((q.stem, text))
    return out


def query_sets(data, quick):
    rows = 10 ** 5 if quick else 10 ** 7
    sf = "0.01" if quick else "1"
    g1 = data / f"{g1_name(rows)}.parquet"
    j = {t: data / f"J1_{sci(rows)}_{suffix}_0_0.parquet"
         for t, suffix in [("x", "NA"), ("small", sci(max(rows // 10 ** 6, 10))),
                           ("medium", sci(max(rows // 10 ** 3, 100))), ("big", sci(rows))]}
    tpch = {t: data / f"tpch_sf{sf}" / f"{t}.parquet" for t in TPCH_TABLES}
    csv = data / f"{g1_name(rows)}.csv"
    return {
        "groupby": dict(title=f"db-benchmark group-by, {g1.name}", tables={"x": g1},
                        queries=GROUPBY),
        "join": dict(title=f"db-benchmark joins, J1_{sci(rows)} (answers folded into aggregates)",
                     tables=j, queries=JOIN),
        "tpch": dict(title=f"TPC-H SF {sf}", tables=tpch, queries=tpch_queries()),
        "csv": dict(title=f"CSV: {csv.name}", tables={"x": csv},
                    queries=[q for q in GROUPBY if q[0] in ("q1", "q3")]),
        # Issue 13's benchmark: decimal arithmetic and a decimal sum over
        # lineitem's Decimal128(15,2) money; q8 of db-benchmark as a window
        # (issue 17): the two largest v3 per id6.
        "decimal": dict(title=f"decimal money, TPC-H SF {sf} lineitem",
                        tables={"lineitem": tpch["lineitem"]},
                        queries=[("revenue", "SELECT sum(l_extendedprice * (1 - l_discount)) "
                                             "AS revenue FROM lineitem")]),
        "window": dict(title=f"db-benchmark q8 as a window, {g1.name}", tables={"x": g1},
                       queries=[("q8 window", "SELECT count(*) AS n, sum(v3) AS v3 FROM ("
                                 "SELECT id6, v3, row_number() OVER (PARTITION BY id6 "
                                 "ORDER BY v3 DESC) AS rn FROM x) t WHERE rn <= 2")]),
    }


# --------------------------------------------------------------------------
# Workers: one fresh process per (peer, query); prints one JSON line
# --------------------------------------------------------------------------

def worker(engine, tables, sql, runs, threads, out):
    import pyarrow as pa

    def write(tbl):
        with pa.OSFile(str(out), "wb") as f, pa.ipc.new_file(f, tbl.schema) as w:
            w.write_table(tbl)

    if engine == "duckdb":
        import duckdb
        con = duckdb.connect()
        con.execute(f"SET threads TO {threads}")
        for name, path in tables.items():
            reader = "read_csv" if path.endswith(".csv") else "read_parquet"
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM {reader}('{path}')")

        def run():
            write(con.execute(sql).to_arrow_table())
    elif engine == "datafusion":
        import datafusion
        cfg = datafusion.SessionConfig().with_target_partitions(threads)
        ctx = datafusion.SessionContext(cfg)
        for name, path in tables.items():
            if path.endswith(".csv"):
                ctx.register_csv(name, path)
            else:
                ctx.register_parquet(name, path)

        def run():
            write(ctx.sql(sql).to_arrow_table())
    elif engine == "polars":
        # polars sizes its pool once, from this variable, at import
        os.environ["POLARS_MAX_THREADS"] = str(threads)
        import polars as pl
        ctx = pl.SQLContext()
        for name, path in tables.items():
            ctx.register(name, pl.scan_csv(path) if path.endswith(".csv") else pl.scan_parquet(path))

        def run():
            ctx.execute(sql, eager=False).collect().write_ipc(str(out), compression="uncompressed")
    else:
        raise SystemExit(f"unknown engine {engine}")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times}))


def peer_versions():
    import duckdb
    import datafusion
    import polars
    import pyarrow
    return {"duckdb": duckdb.__version__, "datafusion": datafusion.__version__,
            "polars": polars.__version__, "pyarrow": pyarrow.__version__}


# --------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------

def checksum(path):
    """(rows, [(kind, non_null, value)]) of an Arrow IPC file."""
    import duckdb
    import pyarrow as pa
    import pyarrow.compute as pc
    tbl = pa.ipc.open_file(str(path)).read_all()
    cols = []
    for i, c in enumerate(tbl.columns):
        t = c.type
        if pa.types.is_dictionary(t):
            c = c.cast(t.value_type)
            t = c.type
        if pa.types.is_string_view(t):
            c = pc.cast(c, pa.large_string())
            t = c.type
        cols.append((f"c{i}", c, t))
    view = pa.table({n: c for n, c, _ in cols}) if cols else tbl
    exprs, kinds = [], []
    for n, _, t in cols:
        num = (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))
        kinds.append("num" if num else "hash")
        exprs.append(f"count({n})")
        exprs.append(f"sum({n}::DOUBLE)" if num else f"sum(hash({n}::VARCHAR))::HUGEINT")
    con = duckdb.connect()
    con.register("t", view)
    row = con.execute(f"SELECT count(*) {''.join(', ' + e for e in exprs)} FROM t").fetchone()
    out = []
    for i, k in enumerate(kinds):
        v = row[2 + 2 * i]
        out.append((k, int(row[1 + 2 * i]), None if v is None else (float(v) if k == "num" else int(v))))
    return (int(row[0]), out)


def same(a, b):
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        return False
    for (ka, na, va), (kb, nb, vb) in zip(a[1], b[1]):
        if ka != kb or na != nb:
            return False
        if va is None or vb is None:
            if va is not vb:
                return False
        elif ka == "num":
            if math.isnan(va) or math.isnan(vb):
                if not (math.isnan(va) and math.isnan(vb)):
                    return False
            elif not (abs(va - vb) <= REL_TOL * max(abs(va), abs(vb)) + 1e-9):
                return False
        elif va != vb:
            return False
    return True


def describe(a, b):
    if a[0] != b[0]:
        return f"{a[0]} rows, reference {b[0]}"
    if len(a[1]) != len(b[1]):
        return f"{len(a[1])} columns, reference {len(b[1])}"
    for i, (x, y) in enumerate(zip(a[1], b[1])):
        if not same((0, [x]), (0, [y])):
            return f"column {i + 1}: {x} vs reference {y}"
    return "?"


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def first_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return "failed"
    # an error's own message, not a traceback's frames
    msg = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    msg = msg.replace("|", "/")
    while msg.startswith("error: "):
        msg = msg[len("error: "):]
    return msg[:160]


def run_parframe(args, tables, sql, out):
    # the query goes through stdin (`sql -`): a text starting with a comment
    # would read as an option
    cmd = [args.parframe, "--threads", str(args.threads), "-q", "sql", "-"]
    for name, path in tables.items():
        cmd += ["--table", f"{name}={path}"]
    cmd += ["-o", str(out)]
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, input=sql, capture_output=True, text=True,
                               timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timeout after {args.timeout} s"}
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            return {"error": first_line(p.stderr or p.stdout)}
        times.append(dt)
    return {"times": times}


def run_peer(args, engine, tables, sql, out):
    job = json.dumps({"tables": {k: str(v) for k, v in tables.items()}, "sql": sql})
    cmd = [sys.executable, __file__, "worker", engine, "--runs", str(args.runs),
           "--threads", str(args.threads), "--out", str(out)]
    try:
        p = subprocess.run(cmd, input=job, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {args.timeout} s"}
    if p.returncode != 0:
        return {"error": first_line(p.stderr)}
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt_s(t):
    return f"{t:.3f}" if t < 10 else f"{t:.2f}"


def run_set(args, key, spec, log):
    title, tables, queries = spec["title"], spec["tables"], spec["queries"]
    missing = [str(p) for p in tables.values() if not pathlib.Path(p).exists()]
    if missing:
        raise SystemExit(f"missing data files (run e2e.sh, which generates them): {missing}")
    results = []
    loads = []
    for qname, sql in queries:
        res = {}
        sums = {}
        for engine in ENGINES:
            if engine not in args.engines:
                continue
            ckey = f"{key}/{qname}/{engine}"
            if ckey in args.cache_data:
                c = args.cache_data[ckey]
                res[engine] = c["r"]
                loads.append(c["load"])
                if c["sum"] is not None:
                    sums[engine] = (c["sum"][0], [tuple(x) for x in c["sum"][1]])
                print(f"  {key} {qname:<22} {engine:<10} (cached)", file=log, flush=True)
                continue
            if args.render_only:
                continue
            load = os.getloadavg()[0]
            d = SCRATCH / engine
            d.mkdir(parents=True, exist_ok=True)
            out = d / f"{key}_{qname.split()[0]}.arrow"
            if out.exists():
                out.unlink()
            if engine == "parframe":
                r = run_parframe(args, tables, sql, out)
            else:
                r = run_peer(args, engine, tables, sql, out)
            if "times" in r:
                try:
                    sums[engine] = checksum(out)
                except Exception as e:  # an unreadable result is that engine's failure
                    r = {"error": f"result unreadable: {first_line(str(e))}"}
            if out.exists():
                out.unlink()
            res[engine] = r
            load = max(load, os.getloadavg()[0])
            loads.append(load)
            if args.cache:
                args.cache_data[ckey] = {"r": r, "sum": sums.get(engine), "load": load}
                pathlib.Path(args.cache).write_text(json.dumps(args.cache_data))
            shown = f"{min(r['times']):.3f} s" if "times" in r else r["error"]
            print(f"  {key} {qname:<22} {engine:<10} {shown}", file=log, flush=True)
        ref = next((e for e in PEERS if e in sums), None)
        for engine, r in res.items():
            if "times" in r and ref is not None and engine != ref:
                if not same(sums[engine], sums[ref]):
                    r["mismatch"] = describe(sums[engine], sums[ref])
        results.append((qname, res, ref))
    return dict(key=key, title=title, results=results,
                load=(min(loads), max(loads)) if loads else (0.0, 0.0))


def render_set(s, engines):
    peers = [e for e in PEERS if e in engines]
    lines = [f"### {s['title']}", ""]
    lines.append(f"1-minute load average while these ran: {s['load'][0]:.1f} to {s['load'][1]:.1f}.")
    lines.append("")
    head = "| query | " + " | ".join(engines) + " | parframe / fastest peer |"
    lines += [head, "|" + "---|" * (len(engines) + 2)]
    ok_queries = []
    for qname, res, ref in s["results"]:
        cells = []
        for e in engines:
            r = res.get(e, {"error": "not run"})
            if "times" in r:
                c = fmt_s(min(r["times"]))
                if "mismatch" in r:
                    c += f" MISMATCH ({r['mismatch']})"
                cells.append(c)
            else:
                cells.append(f"error: {r['error']}")
        pr = res.get("parframe", {})
        peer_t = [min(res[p]["times"]) for p in peers
                  if p in res and "times" in res[p] and "mismatch" not in res[p]]
        if "times" in pr and "mismatch" not in pr and peer_t and ref is not None:
            ratio = f"{min(pr['times']) / min(peer_t):.2f}x"
            if s.get("debug"):
                ratio = "(debug build)"
            ok_queries.append(qname)
        elif "times" in pr and "mismatch" in pr:
            ratio = "MISMATCH"
        elif "times" in pr:
            ratio = "no peer answer"
        else:
            ratio = "parframe failed"
        lines.append(f"| {qname} | " + " | ".join(cells) + f" | {ratio} |")
    # totals over the queries parframe answered correctly
    n = len(s["results"])
    tot = {}
    for e in engines:
        ts = []
        for qname, res, _ in s["results"]:
            if qname in ok_queries:
                r = res.get(e, {})
                ts.append(min(r["times"]) if "times" in r and "mismatch" not in r else None)
        tot[e] = None if any(t is None for t in ts) else sum(ts)
    cells = [fmt_s(tot[e]) if tot[e] is not None else "-" for e in engines]
    peer_tot = [tot[p] for p in peers if tot.get(p) is not None]
    if s.get("debug"):
        ratio = "(debug build)"
    elif tot.get("parframe") is not None and peer_tot and ok_queries:
        ratio = f"{tot['parframe'] / min(peer_tot):.2f}x"
    else:
        ratio = "-"
    lines.append(f"| **total ({len(ok_queries)} of {n} answered by parframe)** | "
                 + " | ".join(cells) + f" | **{ratio}** |")
    lines.append("")
    return "\n".join(lines), ratio, len(ok_queries), n


def git_rev():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def driver(args):
    data = pathlib.Path(args.data)
    sets = query_sets(data, args.quick)
    chosen = [s for s in args.sets.split(",") if s]
    for s in chosen:
        if s not in sets:
            raise SystemExit(f"unknown set {s}; sets: {', '.join(sets)}")
    engines = [e for e in ENGINES if e in args.engines]
    SCRATCH.mkdir(parents=True, exist_ok=True)
    pv = peer_versions()
    pf = subprocess.run([args.parframe, "--version"], capture_output=True, text=True).stdout.strip()
    started = datetime.datetime.now(datetime.timezone.utc)
    log = sys.stderr
    print(f"e2e: {pf}, {', '.join(f'{k} {v}' for k, v in pv.items())}; "
          f"{args.runs} runs, {args.threads} threads", file=log)
    done = [run_set(args, k, sets[k], log) for k in chosen]
    shutil.rmtree(SCRATCH, ignore_errors=True)
    ended = datetime.datetime.now(datetime.timezone.utc)
    md = ["## End to end from files: parframe against DuckDB, DataFusion and polars", ""]
    md.append(f"{started:%Y-%m-%d %H:%M}-{ended:%H:%M} UTC, {platform.node() and 'this machine'} "
              f"({os.cpu_count()} cores, {platform.system()} {platform.release()}), "
              f"each engine on {args.threads} threads, best of {args.runs} "
              f"run{'s' if args.runs > 1 else ''}, seconds.")
    md.append("")
    md.append(f"- parframe: `{pf}` (main at {git_rev()}), release CLI `parframe sql`, one process per run")
    md.append(f"- peers (PyPI): DuckDB {pv['duckdb']}, DataFusion {pv['datafusion']}, "
              f"polars {pv['polars']} (pyarrow {pv['pyarrow']} writes their results), "
              f"one Python process per query")
    cmd = "benches/scripts/e2e.sh " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "benches/scripts/e2e.sh"
    md.append(f"- command: `{args.command or cmd}`")
    md.append("- every result is written as an Arrow IPC file in /dev/shm and checked against "
              "DuckDB's (row count, per-column sums and hashes; see `benches/scripts/e2e.py`)")
    md.append("")
    summary = ["| set | parframe answered | parframe / fastest peer (total) |", "|---|---|---|"]
    bodies = []
    debug = "/debug/" in args.parframe
    if debug:
        md.append("- **parframe ran as a debug build** (no release build finished in time): its "
                  "times are not comparable, only which queries it answers and whether the "
                  "answers agree")
        md.append("")
    for s in done:
        s["debug"] = debug
        body, ratio, ok, n = render_set(s, engines)
        bodies.append(body)
        summary.append(f"| {s['title']} | {ok} of {n} | {ratio} |")
    md += summary + [""] + bodies
    text = "\n".join(md) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=log)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        p = argparse.ArgumentParser()
        p.add_argument("cmd")
        p.add_argument("engine")
        p.add_argument("--runs", type=int, default=1)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--out", required=True)
        a = p.parse_args()
        job = json.loads(sys.stdin.read())
        worker(a.engine, job["tables"], job["sql"], a.runs, a.threads, a.out)
        return
    p = argparse.ArgumentParser(description="end-to-end benchmark driver (run e2e.sh)")
    p.add_argument("--parframe", required=True, help="the parframe binary")
    p.add_argument("--data", required=True, help="directory of the generated files")
    p.add_argument("--quick", action="store_true", help="1e5 rows, TPC-H SF 0.01")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sets", default="groupby,join,tpch,csv,decimal,window")
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--timeout", type=int, default=300, help="seconds per query and engine")
    p.add_argument("--out", default=None, help="markdown file to write")
    p.add_argument("--command", default=None, help="the command line to print")
    p.add_argument("--render-only", action="store_true",
                   help="run nothing: print the table of what --cache holds")
    p.add_argument("--cache", default=None,
                   help="JSON file of results: those in it are reused, new ones added "
                        "(run the peers once, parframe after each change)")
    args = p.parse_args()
    args.cache_data = {}
    if args.cache and pathlib.Path(args.cache).exists():
        args.cache_data = json.loads(pathlib.Path(args.cache).read_text())
    args.engines = args.engines.split(",")
    driver(args)


if __name__ == "__main__":
    main()
