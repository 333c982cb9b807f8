#!/usr/bin/env python3
"""Runs datasets/tpch/queries/qNN.sql through DuckDB on a directory of TPC-H
Parquet files (made by `parframe gen tpch`) and writes each answer as
datasets/tpch/answers/sf<SF>/qNN.csv, plus schema.csv (the result types).

Called by tpch_answers.sh, which makes the venv and the data. Never run by
tests or CI: the answers are checked in.

Format (exact, so a test can compare without parsing DuckDB's types):
- RFC 4180 CSV, a header row with DuckDB's column names, rows in the
  query's output order (every TPC-H query has an ORDER BY, or one row);
- DECIMAL values as their exact decimal text with the type's scale
  ("1234.50"); integers in base 10; DOUBLE values as Python's repr of the
  float (the shortest text that reads back to the same double);
- DATE as ISO 8601 (YYYY-MM-DD); strings as they are (quoted when they hold
  a comma, a quote or a newline); NULL as the bare word NULL (no TPC-H
  string is "NULL").
"""

import csv
import datetime
import decimal
import pathlib
import sys

import duckdb

TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]


def cell(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, decimal.Decimal):
        return str(v)  # keeps the scale: Decimal('12.50') -> 12.50
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return str(v)


def main():
    data_dir, queries_dir, out_dir = map(pathlib.Path, sys.argv[1:4])
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    for t in TABLES:
        path = data_dir / f"{t}.parquet"
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
    schema_rows = []
    for q in sorted(queries_dir.glob("q??.sql")):
        rel = con.execute(q.read_text())
        names = [d[0] for d in rel.description]
        types = [str(d[1]) for d in rel.description]
        rows = rel.fetchall()
        with open(out_dir / f"{q.stem}.csv", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(names)
            for r in rows:
                w.writerow([cell(v) for v in r])
        for n, t in zip(names, types):
            schema_rows.append([q.stem, n, t])
        print(f"{q.stem}: {len(rows)} rows", file=sys.stderr)
    with open(out_dir / "schema.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["query", "column", "duckdb_type"])
        w.writerows(schema_rows)


if __name__ == "__main__":
    main()
