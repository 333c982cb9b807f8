#!/usr/bin/env bash
# End-to-end benchmark from files: parframe (release CLI) against DuckDB,
# DataFusion and polars (PyPI, in benches/.venv) on the same files; writes
# benches/results/e2e.md (or E2E_OUT). See benches/README.md. Never run by
# tests or CI.
#
#   benches/scripts/e2e.sh                 # 1e7 rows, TPC-H SF 1, best of 3
#   benches/scripts/e2e.sh --quick         # 1e5 rows, TPC-H SF 0.01, 1 run
#   benches/scripts/e2e.sh --sets groupby,csv --runs 2 --engines parframe,duckdb
#
# Environment: PARFRAME (the binary; default: build the release CLI),
# DATA_DIR (default datasets/generated/e2e), E2E_OUT (the markdown file).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
QUICK=0
for a in "$@"; do [ "$a" = "--quick" ] && QUICK=1; done
DATA_DIR="${DATA_DIR:-$ROOT/datasets/generated/e2e}"
if [ -z "${PARFRAME:-}" ]; then
  cargo build --release -q -p parframe-cli
  PARFRAME="${CARGO_TARGET_DIR:-$ROOT/target}/release/parframe"
fi
source "$ROOT/benches/scripts/venv.sh"

# The data, generated once by parframe's own generators: Snappy, row groups
# of 10^6 rows (G1_1e7: 10 row groups), dictionary-encoded strings (the
# Parquet writer's default; it falls back to plain pages for a column whose
# dictionary outgrows 1 MiB, such as id3's 10^5 values).
if [ "$QUICK" = 1 ]; then ROWS=1e5; SF=0.01; else ROWS=1e7; SF=1; fi
LAYOUT=(--compression snappy --row-group-rows 1e6)
if ! "$PARFRAME" gen groupby --help | grep -q -- --row-group-rows; then
  echo "e2e: this parframe has no 'gen --row-group-rows': writing its default layout" >&2
  LAYOUT=()
fi
mkdir -p "$DATA_DIR"
gen() { # gen FILE ARGS...: run `parframe gen ARGS` unless FILE exists
  local file="$1"; shift
  if [ ! -e "$file" ]; then "$PARFRAME" -q gen "$@"; fi
}
gen "$DATA_DIR/G1_${ROWS}_1e2_0_0.parquet" groupby --rows "$ROWS" --k 100 ${LAYOUT[@]+"${LAYOUT[@]}"} --out "$DATA_DIR"
gen "$DATA_DIR/G1_${ROWS}_1e2_0_0.csv" groupby --rows "$ROWS" --k 100 --format csv --out "$DATA_DIR"
gen "$DATA_DIR/J1_${ROWS}_NA_0_0.parquet" join --rows "$ROWS" ${LAYOUT[@]+"${LAYOUT[@]}"} --out "$DATA_DIR"
gen "$DATA_DIR/tpch_sf$SF/lineitem.parquet" tpch --scale-factor "$SF" ${LAYOUT[@]+"${LAYOUT[@]}"} --out "$DATA_DIR/tpch_sf$SF"

# (`|| true`: under `set -e` a failing test in the substitution would end
# the script silently when E2E_OUT is not set.)
OUT="${E2E_OUT:-$ROOT/benches/results/e2e$([ "$QUICK" = 1 ] && echo -quick || true).md}"
ARGS=("$@")
[ "$QUICK" = 1 ] && ! printf '%s\n' "$@" | grep -q -- '--runs' && ARGS+=(--runs 1)
exec "$PY" "$ROOT/benches/scripts/e2e.py" --parframe "$PARFRAME" --data "$DATA_DIR" \
  --out "$OUT" --command "benches/scripts/e2e.sh $*" "${ARGS[@]}"
