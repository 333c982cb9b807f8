#!/usr/bin/env bash
# Larger-than-memory benchmark (issue 4): db-benchmark group-by questions
# q1, q3, q5, q10, a full sort and (QUERIES=w8) a window over all rows, streamed from Parquet by `parframe sql`,
# first without a memory cgroup (the reference: row counts and in-memory
# time), then inside memory cgroups of 2 GiB and 1 GiB with --memory-limit
# at 75% of the cgroup. Prints a markdown table.
#
# With SUITE=tpch it runs TPC-H queries as the specification writes them
# (datasets/tpch/queries/qNN.sql, comma joins, predicates in WHERE) on the
# SF tables (issue 12's acceptance: Q3, Q5, Q10, Q12, Q14, Q19 at SF 1 in a
# 2 GiB cgroup with --memory-limit 1536MiB):
#   SUITE=tpch CGROUPS=2048 benches/scripts/cgroup_bench.sh
# Answers are checked against the run without a cgroup (row count and a
# checksum of the CSV); benches/scripts/e2e.sh checks them against DuckDB.
#
# Usage: benches/scripts/cgroup_bench.sh [ROWS]      (default 1e8)
#   ROWS       rows of G1_<ROWS>_1e2_0_0 (1e6, 1e7, 1e8 ...)
# Environment:
#   SUITE      groupby (default) or tpch
#   SF         TPC-H scale factor (default 1), tables in DATA_DIR/tpch_sf$SF
#   PARFRAME   the parframe binary (default: $CARGO_TARGET_DIR or ./target,
#              release/parframe)
#   DATA_DIR   where the table is generated once (default datasets/generated)
#   WORK_DIR   outputs and spill files (default a new directory in DATA_DIR,
#              removed at the end; keep it off tmpfs)
#   CGROUPS    cgroup sizes in MiB (default "2048 1024")
#   THREADS    worker threads (default: all cores)
#   QUERIES    subset of "q1 q3 q5 q10 sort w8" (default all but w8; w8
#              is row_number() OVER (PARTITION BY id3 ORDER BY v3 DESC)
#              <= 2 over all rows, counted)
#
# Memory cgroups: as root, a child memory cgroup is made under this
# process's own one (cgroup v2: the unified hierarchy; v1: the memory
# controller), one per run, and removed after it. Without permission it
# tries `systemd-run --scope -p MemoryMax=`; failing both it runs without a
# cgroup and only measures peak RSS (the table says so).
set -euo pipefail

ROWS=${1:-1e8}
here=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$here/target}
PARFRAME=${PARFRAME:-$target/release/parframe}
DATA_DIR=${DATA_DIR:-$here/datasets/generated}
CGROUPS=${CGROUPS:-"2048 1024"}
SUITE=${SUITE:-groupby}
SF=${SF:-1}
case $SUITE in
groupby) QUERIES=${QUERIES:-"q1 q3 q5 q10 sort"} ;;
tpch) QUERIES=${QUERIES:-"q03 q05 q10 q12 q14 q19"} ;;
*) echo "SUITE must be groupby or tpch, not $SUITE" >&2; exit 2 ;;
esac
threads=()
[[ -n "${THREADS:-}" ]] && threads=(--threads "$THREADS")

[[ -x "$PARFRAME" ]] || {
    echo "no parframe binary at $PARFRAME: cargo build --release -p parframe-cli, or set PARFRAME" >&2
    exit 2
}
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (GNU time) for peak RSS" >&2; exit 2; }

mkdir -p "$DATA_DIR"
own_work=0
if [[ -z "${WORK_DIR:-}" ]]; then
    # Beside the data, not in /tmp: a tmpfs there would keep spill files
    # in memory, charged to the cgroup.
    WORK_DIR=$(mktemp -d "$DATA_DIR/cgroup-bench-XXXXXX")
    own_work=1
fi
mkdir -p "$WORK_DIR/spill"

# ------------------------------------------------------------------ data
tables=() # --table NAME=PATH arguments (TPC-H)
if [[ $SUITE == tpch ]]; then
    data=$DATA_DIR/tpch_sf$SF
    if [[ ! -e $data/lineitem.parquet ]]; then
        echo "generating TPC-H SF $SF in $data ..." >&2
        "$PARFRAME" -q "${threads[@]}" gen tpch --scale-factor "$SF" --out "$data" >/dev/null
    fi
    for t in customer lineitem nation orders part partsupp region supplier; do
        tables+=(--table "$t=$data/$t.parquet")
    done
    data_label="TPC-H SF $SF ($(du -sh "$data" | cut -f1) Parquet)"
else
    data=$(ls "$DATA_DIR"/G1_"$ROWS"_1e2_0_0.parquet 2>/dev/null || true)
    if [[ -z "$data" ]]; then
        echo "generating G1_${ROWS}_1e2_0_0.parquet in $DATA_DIR ..." >&2
        data=$("$PARFRAME" -q "${threads[@]}" gen groupby --rows "$ROWS" --k 100 --out "$DATA_DIR")
    fi
    data_label="G1_${ROWS}_1e2_0_0 ($(du -h "$data" | cut -f1) Parquet)"
fi
echo "data: $data_label" >&2

# ------------------------------------------------------------------ cgroups
# Which mechanism: v2, v1, systemd, none.
cg_mode=none
cg_parent=
if [[ $(id -u) -eq 0 ]]; then
    if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
        rel=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
        cg_parent=/sys/fs/cgroup${rel%/}
        if grep -qw memory "$cg_parent/cgroup.controllers" 2>/dev/null &&
            mkdir "$cg_parent/pf-probe-$$" 2>/dev/null; then
            rmdir "$cg_parent/pf-probe-$$"
            # A v2 parent must delegate the memory controller to children.
            grep -qw memory "$cg_parent/cgroup.subtree_control" ||
                echo +memory >"$cg_parent/cgroup.subtree_control" 2>/dev/null || true
            grep -qw memory "$cg_parent/cgroup.subtree_control" && cg_mode=v2
        fi
    elif [[ -d /sys/fs/cgroup/memory ]]; then
        rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
        cg_parent=/sys/fs/cgroup/memory${rel%/}
        if mkdir "$cg_parent/pf-probe-$$" 2>/dev/null; then
            rmdir "$cg_parent/pf-probe-$$"
            cg_mode=v1
        fi
    fi
fi
if [[ $cg_mode == none ]] && command -v systemd-run >/dev/null &&
    systemd-run --quiet --scope -p MemoryMax=1G true 2>/dev/null; then
    cg_mode=systemd
fi
echo "memory cgroups: $cg_mode${cg_parent:+ (under $cg_parent)}" >&2

current_cg=
cleanup() {
    [[ -n "$current_cg" && -d "$current_cg" ]] && rmdir "$current_cg" 2>/dev/null || true
    [[ $own_work -eq 1 ]] && rm -rf "$WORK_DIR"
    return 0
}
trap cleanup EXIT

# ------------------------------------------------------------------ queries
sql_of() {
    local f="'$data'"
    if [[ $SUITE == tpch ]]; then
        cat "$here/datasets/tpch/queries/$1.sql"
        return
    fi
    case $1 in
    q1) echo "SELECT id1, sum(v1) AS v1 FROM $f GROUP BY id1" ;;
    q3) echo "SELECT id3, sum(v1) AS v1, mean(v3) AS v3 FROM $f GROUP BY id3" ;;
    q5) echo "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM $f GROUP BY id6" ;;
    q10) echo "SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count FROM $f GROUP BY id1, id2, id3, id4, id5, id6" ;;
    sort) echo "SELECT * FROM $f ORDER BY id3 ASC, v3 DESC" ;;
    # Issue 17: a window over all rows, the two largest v3 per id3 kept
    # (a heap top-k per partition), then counted; v3 summed as integers
    # (v3 has six decimals) so that the order of summation cannot change it.
    w8) echo "SELECT count(*) AS n, sum(CAST(round(v3 * 1000000) AS BIGINT)) AS v3_micro FROM (SELECT id3, v3, row_number() OVER (PARTITION BY id3 ORDER BY v3 DESC) AS rn FROM $f) w WHERE rn <= 2" ;;
    *) echo "unknown query $1" >&2; exit 2 ;;
    esac
}

declare -A ref_rows ref_secs ref_sum
rows_out=() # table lines

# run QUERY CGROUP_MIB (0: no cgroup)
run() {
    local q=$1 mib=$2 out err limit=() cg_label=none prefix=()
    out=$WORK_DIR/$q.parquet
    [[ $q != sort ]] && out=$WORK_DIR/$q.csv
    err=$WORK_DIR/$q-$mib.err
    rm -f "$out"
    if [[ $mib -gt 0 ]]; then
        limit=(--memory-limit "$((mib * 3 / 4))MiB")
        cg_label="$((mib / 1024)) GiB"
        [[ $mib -lt 1024 ]] && cg_label="$mib MiB"
        case $cg_mode in
        v1 | v2)
            current_cg=$cg_parent/parframe-bench-$$-$q-$mib
            mkdir "$current_cg"
            if [[ $cg_mode == v1 ]]; then
                echo $((mib << 20)) >"$current_cg/memory.limit_in_bytes"
                # No swap either, when the kernel accounts it.
                echo $((mib << 20)) >"$current_cg/memory.memsw.limit_in_bytes" 2>/dev/null || true
            else
                echo $((mib << 20)) >"$current_cg/memory.max"
                echo 0 >"$current_cg/memory.swap.max" 2>/dev/null || true
            fi
            ;;
        systemd) prefix=(systemd-run --quiet --scope -p "MemoryMax=${mib}M" -p MemorySwapMax=0) ;;
        none) cg_label="$cg_label (no cgroup: limit only)" ;;
        esac
    fi
    local start end status=0
    start=$(date +%s.%N)
    # The query goes through stdin (`sql -`): a text starting with a
    # comment would read as an option.
    local cmd=("$PARFRAME" "${threads[@]}" "${limit[@]}" --spill-dir "$WORK_DIR/spill" \
        -v sql - ${tables[@]+"${tables[@]}"} -o "$out")
    if [[ -n "$current_cg" ]]; then
        # The shell joins the cgroup, then becomes the measured command.
        sql_of "$q" | bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$current_cg" \
            /usr/bin/time -v "${cmd[@]}" 2>"$err" || status=$?
    else
        sql_of "$q" | "${prefix[@]}" /usr/bin/time -v "${cmd[@]}" 2>"$err" || status=$?
    fi
    end=$(date +%s.%N)
    local secs rss_kib rows spilled cg_peak="" ok sum=""
    # Small (CSV) outputs are compared whole; the sort's only by row count.
    [[ $out == *.csv && -f $out ]] && sum=$(cksum <"$out")
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$err")
    rows=$(sed -n 's/^\([0-9_]*\) rows written to .*/\1/p' "$err" | tr -d _)
    spilled=$(sed -n 's/.*spilled \([0-9]*\) files, \([^;]*\);.*/\1 files, \2/p' "$err")
    if [[ -n "$current_cg" ]]; then
        local f=memory.max_usage_in_bytes
        [[ $cg_mode == v2 ]] && f=memory.peak
        [[ -r "$current_cg/$f" ]] && cg_peak=$(($(cat "$current_cg/$f") >> 20))
        rmdir "$current_cg" 2>/dev/null || true
        current_cg=
    fi
    if [[ $status -ne 0 ]]; then
        ok="FAILED (exit $status$([[ $status -eq 137 ]] && echo ', OOM-killed'))"
        grep -m3 -i 'error\|killed' "$err" | sed 's/^/    /' >&2 || true
    elif [[ $mib -eq 0 ]]; then
        ref_rows[$q]=$rows
        ref_secs[$q]=$secs
        ref_sum[$q]=$sum
        ok="ref ($rows rows)"
    elif [[ "$sum" != "${ref_sum[$q]:-}" ]]; then
        ok="WRONG: the output differs from the run without a cgroup"
    elif [[ "$rows" == "${ref_rows[$q]:-}" ]]; then
        ok="ok ($rows rows; $(awk -v a="$secs" -v b="${ref_secs[$q]}" 'BEGIN { printf "%.2fx", a / b }') of in-memory)"
    else
        ok="WRONG: $rows rows, expected ${ref_rows[$q]:-?}"
    fi
    local rss="?"
    [[ -n "$rss_kib" ]] && rss="$((rss_kib / 1024)) MiB"
    [[ -n "$cg_peak" ]] && rss="$rss (cgroup $cg_peak MiB)"
    rows_out+=("| $q | $cg_label | $secs | $rss | ${spilled:-?} | $ok |")
    echo "${rows_out[-1]}" >&2
    rm -f "$out"
}

for q in $QUERIES; do
    run "$q" 0
    for mib in $CGROUPS; do
        run "$q" "$mib"
    done
done

echo
echo "$data_label, $(nproc) cores, threads ${THREADS:-all}, memory cgroups: $cg_mode, --memory-limit 75% of the cgroup"
echo
echo "| query | cgroup | seconds | peak RSS | spilled | ok |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows_out[@]}"
