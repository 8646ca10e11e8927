"""Other ways to write the engine's queries, timed on the benchmark file.

    python -m bench.variants [--parquet bench/out/service_records.parquet] [--repeat 5]

The evidence behind the suggestions in ``docs/benchmarks.md``: each query
runs in one embedded DuckDB (memory limit 1 GB, as the engine's), interleaved
``--repeat`` times; the table gives the median CPU time (user + system, all
threads), which moves much less than wall time on a shared machine. The
engine's own queries are captured from a cold compute of
``bench/out/indicators.yaml``; the variants are written here by hand.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path


def engine_queries(config: Path) -> list[str]:
    os.environ["COCKPIT_NO_CACHE"] = "1"
    from cockpit.cli import _load
    from connectors import embedded
    from metrics.engine import Engine

    seen: list[str] = []
    original = embedded.EmbeddedConnector.fetch

    def capture(self, sql):  # type: ignore[no-untyped-def]
        seen.append(sql.replace(self.relation(), "src"))
        return original(self, sql)

    embedded.EmbeddedConnector.fetch = capture  # type: ignore[method-assign]
    try:
        cat = _load(str(config))
        Engine(cat).compute([i.id for i in cat.config.indicators])
    finally:
        embedded.EmbeddedConnector.fetch = original  # type: ignore[method-assign]
    return seen


def _same(a: list[tuple], b: list[tuple]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) and isinstance(v, float):
                if not math.isclose(u, v, rel_tol=1e-12, abs_tol=1e-12):
                    return False
            elif u != v:
                return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.variants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("bench/out/indicators.yaml"))
    parser.add_argument("--parquet", type=Path, default=Path("bench/out/service_records.parquet"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import duckdb

    from bench.run import FLOOR_SQL

    captured = engine_queries(args.config)
    partials = next(q for q in captured if "AS __n" in q)
    keys = next((q for q in captured if "SELECT DISTINCT" in q), None)
    holistic = [q for q in captured if q not in (partials, keys)]

    path = "'" + str(args.parquet).replace("'", "''") + "'"
    con = duckdb.connect(":memory:", config={"memory_limit": "1GB"})
    con.execute(
        f"CREATE VIEW src AS SELECT * FROM read_parquet({path}, hive_partitioning = true, union_by_name = true)"
    )
    key = """CAST(DATE_TRUNC('month', CAST("accepted_at" AS TIMESTAMP)) AS TIMESTAMP)"""
    sum_case = re.sub(
        r"COUNT\(\*\) FILTER \(WHERE (.*?)\) AS", r"SUM(CASE WHEN \1 THEN 1 ELSE 0 END) AS", partials
    )
    plain = (
        f"SELECT {key} AS k, TRIM(region_code) AS r, TRIM(dept_code) AS d, COUNT(*), "
        "SUM(CAST(channel = '网办' AS INT)), SUM(CAST(on_time AS INT)), SUM(actual_days), SUM(promised_days), "
        "SUM(trips), SUM(CAST(immediate AS INT)), SUM(materials), SUM(rating) FROM src GROUP BY 1, 2, 3"
    )
    queries: dict[str, str] = {
        "the floor's query": FLOOR_SQL.replace("{path}", path),
        "the columns the catalogue reads, one plain SUM each": plain,
        "engine: partial aggregates (COUNT(*) FILTER)": partials,
        "variant: partials with SUM(CASE WHEN … THEN 1 ELSE 0 END)": sum_case,
        "variant: partials with SUM instead of FSUM": partials.replace("FSUM(", "SUM("),
    }
    if keys:
        queries["engine: distinct time keys"] = keys
    for k, q in enumerate(holistic, 1):
        queries[f"engine: holistic query {k}" + (" (region tree)" if "nm(" in q else "")] = q
    queries["variant: median per (month, region code), no ancestor join"] = (
        f"SELECT {key} AS k, region_code, MEDIAN(actual_days) FROM src GROUP BY 1, 2"
    )
    queries["variant: actual_days histograms per (month, region) and (month, department), GROUPING SETS"] = (
        f"SELECT {key} AS k, TRIM(region_code) AS r, TRIM(dept_code) AS d, actual_days AS v, COUNT(*) AS n "
        "FROM src GROUP BY GROUPING SETS ((k, r, v), (k, d, v))"
    )
    aggs = sum_case[sum_case.index(" AS d, ") + len(" AS d, ") : sum_case.index(" FROM ")]
    queries["variant: partials and those histograms together, one GROUPING SETS query"] = (
        f"SELECT {key} AS k, TRIM(region_code) AS r, TRIM(dept_code) AS d, actual_days AS v, {aggs} "
        "FROM src GROUP BY GROUPING SETS ((k, r, d), (k, r, v), (k, d, v))"
    )

    cpu: dict[str, list[float]] = {name: [] for name in queries}
    rows: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, sql in queries.items():
            t = time.process_time()
            out = con.execute(sql).fetchall()
            cpu[name].append(time.process_time() - t)
            rows[name] = len(out)
    a = sorted(con.execute(partials).fetchall(), key=lambda r: repr(r[:3]))
    b = sorted(con.execute(sum_case).fetchall(), key=lambda r: repr(r[:3]))
    a2 = sorted(con.execute(partials).fetchall(), key=lambda r: repr(r[:3]))
    print(f"| query (10M-row file: {args.parquet}) | CPU s, median of {args.repeat} | rows |")
    print("|---|---:|---:|")
    for name in queries:
        print(f"| {name} | {statistics.median(cpu[name]):.2f} | {rows[name]:,d} |")
    print(f"\nSUM(CASE …) partials equal to the engine's (floats to 1e-12): {_same(a, b)}")
    print(f"engine partials bit-identical to themselves on a second run: {a == a2}", end="")
    if a != a2:
        cols = sorted({i for x, y in zip(a, a2, strict=True) for i in range(len(x)) if x[i] != y[i]})
        n = sum(x != y for x, y in zip(a, a2, strict=True))
        print(f" (no: {n} of {len(a):,d} rows differ, in result columns {cols})", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
