#!/usr/bin/env bash
# Reproduces datasets/tpch/answers/sf<SF>/qNN.csv: generates the TPC-H tables
# with parframe's own generator (`parframe gen tpch`, Parquet), runs the 22
# queries of datasets/tpch/queries/ through DuckDB (PyPI, in benches/.venv)
# on exactly those files and writes the answers (format: tpch_answers.py and
# datasets/tpch/README.md). Never run by tests or CI.
#
#   benches/scripts/tpch_answers.sh            # SF 0.01 and 0.1
#   SFS=0.01 PARFRAME=target/release/parframe benches/scripts/tpch_answers.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SFS="${SFS:-0.01 0.1}"
DATA_DIR="${DATA_DIR:-$ROOT/datasets/generated}"
if [ -z "${PARFRAME:-}" ]; then
  cargo build --release -q -p parframe-cli
  PARFRAME="${CARGO_TARGET_DIR:-$ROOT/target}/release/parframe"
fi
source "$ROOT/benches/scripts/venv.sh"
"$PY" -c 'import duckdb; print("duckdb", duckdb.__version__)'
"$PARFRAME" --version
for sf in $SFS; do
  dir="$DATA_DIR/tpch_sf$sf"
  "$PARFRAME" -q gen tpch --scale-factor "$sf" --out "$dir"
  "$PY" "$ROOT/benches/scripts/tpch_answers.py" "$dir" "$ROOT/datasets/tpch/queries" \
    "$ROOT/datasets/tpch/answers/sf$sf"
done
