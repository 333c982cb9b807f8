#!/usr/bin/env bash
# The peer side of benches/results/window_1e8.md (issue 17): DuckDB runs the
# same window query over G1_1e8 (row_number() <= 2 per id3, counted, v3
# summed as integers) inside memory cgroups of 2 GiB and 1 GiB (cgroup v1 or
# v2, as root; a child of this process's own cgroup), with 2 threads and
# memory_limit at 75% of the cgroup, like parframe's --memory-limit in
# cgroup_bench.sh. Prints the answer, the time and the cgroup's peak.
#
# Usage: benches/scripts/window_1e8_duckdb.sh [PARQUET]
#   PARQUET  default datasets/generated/G1_1e8_1e2_0_0.parquet
#            (make it with: parframe gen groupby --rows 1e8 --k 100)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$here/datasets/generated/G1_1e8_1e2_0_0.parquet}
[[ -e $data ]] || { echo "no $data" >&2; exit 2; }
PEERS="duckdb==2.0.1" source "$here/benches/scripts/venv.sh"
tmp=$(mktemp -d "$(dirname "$data")/duck-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/w8.py" <<'PY'
import duckdb, sys, time
data, mem, tmp = sys.argv[1:4]
con = duckdb.connect()
con.execute("SET threads=2")
con.execute(f"SET memory_limit='{mem}'")
con.execute(f"SET temp_directory='{tmp}'")
q = f"""SELECT count(*) AS n, sum(CAST(round(v3 * 1000000) AS BIGINT)) AS v3_micro
FROM (SELECT id3, v3, row_number() OVER (PARTITION BY id3 ORDER BY v3 DESC) AS rn
      FROM '{data}') w WHERE rn <= 2"""
t = time.time()
print(con.sql(q).fetchall(), f"{time.time() - t:.2f} s", flush=True)
PY
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    parent=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
    v=2
else
    parent=/sys/fs/cgroup/memory$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
    v=1
fi
for mib in 2048 1024; do
    cg=${parent%/}/duckdb-w8-$$-$mib
    mkdir "$cg"
    if [[ $v == 1 ]]; then
        echo $((mib << 20)) >"$cg/memory.limit_in_bytes"
        peak=memory.max_usage_in_bytes
    else
        echo $((mib << 20)) >"$cg/memory.max"
        echo 0 >"$cg/memory.swap.max" 2>/dev/null || true
        peak=memory.peak
    fi
    echo "DuckDB in $mib MiB:"
    bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cg" \
        "$PY" "$tmp/w8.py" "$data" "$((mib * 3 / 4))MB" "$tmp/spill" 2>&1 | tail -2 || true
    [[ -r $cg/$peak ]] && echo "  cgroup peak $(($(cat "$cg/$peak") >> 20)) MiB"
    rmdir "$cg" 2>/dev/null || true
done
