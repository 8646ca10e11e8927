"""Where a cold ``cockpit compute`` spends its time, step by step and query by query.

    python -m bench.trace [--config bench/out/indicators.yaml] [--sql]

Runs the engine in this process with the store off and every source query
timed (the connector's ``fetch`` is wrapped; nothing in the engine changes),
then prints a Markdown table: imports, catalogue loading, each query (what it
is, rows returned), the Python/Polars time around the queries, the JSON
output, and, for comparison, the floor's query on the same file. Each step has
its wall time and its CPU time (user + system, all threads of this process):
CPU time hardly moves when other jobs share the machine, wall time does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - t[0], time.process_time() - t[1]


def kind(sql: str) -> str:
    if "SELECT DISTINCT" in sql:
        return "distinct time keys (for the holistic queries)"
    if "AS __n" in sql:
        return "partial aggregates (all count / sum / min / max components, one scan)"
    what = "holistic query (median / count distinct) per period and "
    return what + ("region-tree node: records joined to their ancestors" if "nm(" in sql else "department")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("bench/out/indicators.yaml"))
    parser.add_argument(
        "--parquet", type=Path, help="file for the floor's query (default: beside the config)"
    )
    parser.add_argument("--sql", action="store_true", help="also print each query's text")
    args = parser.parse_args(argv)
    os.environ["COCKPIT_NO_CACHE"] = "1"
    steps: list[tuple[str, float, float]] = []

    t = _clock()
    import json

    from cockpit.cli import _load
    from connectors import embedded
    from metrics.engine import Engine, rows_as_records

    steps.append(
        ("imports (cockpit.cli, metrics.engine, connectors: Polars, DuckDB, pydantic, sqlglot)", *_since(t))
    )

    queries: list[tuple[str, float, float, str]] = []
    original = embedded.EmbeddedConnector.fetch

    def timed(self, sql):  # type: ignore[no-untyped-def]
        t = _clock()
        out = original(self, sql)
        queries.append((f"{kind(sql)} → {out.height:,d} rows", *_since(t), sql))
        return out

    embedded.EmbeddedConnector.fetch = timed  # type: ignore[method-assign]

    t = _clock()
    cat = _load(str(args.config))
    steps.append(("catalogue load", *_since(t)))
    t = _clock()
    res = Engine(cat).compute([i.id for i in cat.config.indicators])
    wall, cpu = _since(t)
    q_wall = sum(q[1] for q in queries)
    q_cpu = sum(q[2] for q in queries)
    steps.append(("engine.compute, of which:", wall, cpu))
    steps += [(f"  query: {name}", w, c) for name, w, c, _ in queries]
    steps.append(
        (
            "  Python / Polars around the queries (periods, folding, formulas, targets, ranks)",
            wall - q_wall,
            cpu - q_cpu,
        )
    )
    t = _clock()
    text = json.dumps(rows_as_records(res.rows), ensure_ascii=False, allow_nan=False)
    steps.append((f"rows → JSON ({res.rows.height:,d} rows, {len(text) / 2**20:.1f} MiB)", *_since(t)))

    import duckdb

    parquet = args.parquet or args.config.parent / "service_records.parquet"
    from bench.run import FLOOR_SQL

    sql = FLOOR_SQL.replace("{path}", "'" + str(parquet).replace("'", "''") + "'")
    t = _clock()
    duckdb.connect().execute(sql).fetchall()
    floor = ("for comparison: the floor's query on the same file, in this process", *_since(t))

    print("| step | wall s | CPU s |")
    print("|---|---:|---:|")
    for name, w, c in steps:
        print(
            f"| {name.replace('  ', '&nbsp;&nbsp;↳ ', 1) if name.startswith('  ') else name} | {w:.2f} | {c:.2f} |"
        )
    top = [s for s in steps if not s[0].startswith("  ")]
    print(
        f"| **total after interpreter start** | **{sum(s[1] for s in top):.2f}** | **{sum(s[2] for s in top):.2f}** |"
    )
    print(f"| {floor[0]} | {floor[1]:.2f} | {floor[2]:.2f} |")
    if args.sql:
        for name, _w, _c, q in queries:
            print(f"\n{name}:\n\n```sql\n{q}\n```")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
