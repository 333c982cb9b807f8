#!/usr/bin/env bash
# Makes benches/.venv (git-ignored) with the peer engines from PyPI, pinned
# so that a re-run measures the same versions. Sourced by tpch_answers.sh and
# e2e.sh; never used by tests or CI. Override the pins with PEERS="duckdb ...".
set -euo pipefail
BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$BENCH_ROOT/.venv}"
PEERS="${PEERS:-duckdb==2.0.1 datafusion==55.0.0 polars==2.1.0 pyarrow==26.0.1}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# pip is quick when everything is already installed at the pinned versions.
"$VENV/bin/pip" install -q --disable-pip-version-check $PEERS
PY="$VENV/bin/python"
export PY VENV
