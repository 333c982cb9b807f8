#!/usr/bin/env bash
# The newcomer job (crates/parframe/examples/newcomer.rs) against polars
# (PyPI, in benches/.venv) on the same generated nycflights13-shaped files;
# prints both times and the ratio. See benches/scripts/newcomer.py. Never
# run by tests or CI.
#
#   benches/scripts/newcomer.sh               # 3,000,000 flights, best of 3
#   ROWS=336776 benches/scripts/newcomer.sh   # nycflights13's size
#
# Environment: ROWS, RUNS, DATA_DIR (default datasets/generated/newcomer),
# SCRATCH (outputs; default /dev/shm/parframe-newcomer), EXAMPLE (the
# binary; default: build the release example).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
ROWS="${ROWS:-3000000}"
RUNS="${RUNS:-3}"
DATA_DIR="${DATA_DIR:-$ROOT/datasets/generated/newcomer}/$ROWS"
SCRATCH="${SCRATCH:-/dev/shm/parframe-newcomer}"
if [ -z "${EXAMPLE:-}" ]; then
  cargo build --release -q -p parframe --example newcomer
  EXAMPLE="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/newcomer"
fi
PEERS="${PEERS:-polars==2.1.0}" source "$ROOT/benches/scripts/venv.sh"
if [ ! -e "$DATA_DIR/flights.csv" ]; then
  "$EXAMPLE" --generate "$DATA_DIR" "$ROWS"
fi
mkdir -p "$SCRATCH"
exec "$PY" "$ROOT/benches/scripts/newcomer.py" --example "$EXAMPLE" --data "$DATA_DIR" \
  --scratch "$SCRATCH" --runs "$RUNS"
