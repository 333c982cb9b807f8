#!/usr/bin/env bash
# TPC-H Q6 over a Hive-partitioned dataset (SF 1 lineitem written by
# l_shipmode, 7 directories), with and without a key filter, the same
# binary with and without late materialization; best of 5, seconds.
# Needs the e2e data (benches/scripts/e2e.sh makes it). Never run by tests
# or CI.
#
#   PARFRAME=target/release/parframe benches/scripts/hive_q6.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PARFRAME="${PARFRAME:-$ROOT/target/release/parframe}"
DATA_DIR="${DATA_DIR:-$ROOT/datasets/generated/e2e}"
D="$DATA_DIR/li_by_mode"
if [ ! -d "$D" ]; then
  "$PARFRAME" -q sql "COPY (SELECT * FROM '$DATA_DIR/tpch_sf1/lineitem.parquet') TO '$D' (FORMAT parquet, PARTITION_BY (l_shipmode))" > /dev/null
fi
Q6="SELECT sum(l_extendedprice * l_discount) AS revenue FROM '$D' WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24"
Q6_KEY="$Q6 AND l_shipmode IN ('AIR', 'MAIL')"
best() { # best CMD...: the shortest of 5 runs
  local b=""
  for _ in 1 2 3 4 5; do
    local s e
    s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N)
    b=$(python3 -c "print(min(float('${b:-inf}'), $e - $s))")
  done
  printf '%.3f' "$b"
}
echo "| query | late materialization | --no-late-materialization |"
echo "|---|---:|---:|"
for name in Q6 Q6_KEY; do
  q="${!name}"
  late=$(best "$PARFRAME" -q --threads 2 sql "$q")
  plain=$(best "$PARFRAME" -q --threads 2 --no-late-materialization sql "$q")
  echo "| $name | $late | $plain |"
done
