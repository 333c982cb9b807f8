#!/usr/bin/env bash
# Partitioned write of G1 by id4 (100 hive directories): parframe (release
# CLI, SQL COPY ... PARTITION_BY) against DuckDB and polars (PyPI, in
# benches/.venv), each dataset checked by DuckDB. See
# benches/scripts/partitioned_write.py. Never run by tests or CI.
#
#   benches/scripts/partitioned_write.sh            # G1_1e7, best of 3
#   benches/scripts/partitioned_write.sh --quick    # G1_1e5, 1 run
#
# Environment: PARFRAME (the binary; default: build the release CLI),
# DATA_DIR (default datasets/generated/e2e, shared with e2e.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
QUICK=0
ARGS=()
for a in "$@"; do
  if [ "$a" = "--quick" ]; then QUICK=1; else ARGS+=("$a"); fi
done
DATA_DIR="${DATA_DIR:-$ROOT/datasets/generated/e2e}"
if [ -z "${PARFRAME:-}" ]; then
  cargo build --release -q -p parframe-cli
  PARFRAME="${CARGO_TARGET_DIR:-$ROOT/target}/release/parframe"
fi
source "$ROOT/benches/scripts/venv.sh"
if [ "$QUICK" = 1 ]; then ROWS=1e5; ARGS+=(--runs 1); else ROWS=1e7; fi
SRC="$DATA_DIR/G1_${ROWS}_1e2_0_0.parquet"
mkdir -p "$DATA_DIR"
if [ ! -e "$SRC" ]; then
  "$PARFRAME" -q gen groupby --rows "$ROWS" --k 100 --compression snappy --row-group-rows 1e6 --out "$DATA_DIR"
fi
exec "$PY" "$ROOT/benches/scripts/partitioned_write.py" --parframe "$PARFRAME" --source "$SRC" ${ARGS[@]+"${ARGS[@]}"}
