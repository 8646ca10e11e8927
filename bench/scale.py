"""``make bench-scale``: the service-record indicators on Spark ``local[2]`` and on DuckDB, at scale.

    python -m bench.scale [--rows N] [--seed S] [--repeat R] [--out DIR] [--engines spark,duckdb]
                          [--master local[2]] [--write-doc]

1. Writes N service records (default 100 million) as Parquet partitioned by month, hive style:
   ``OUT/service_records/month=2026-01/part-00000.parquet``. The rows are drawn by the sample
   city's own generator (:func:`sample.generate.service_records`) in chunks of one million, each
   from its own numpy Generator spawned from one SeedSequence (as :mod:`bench.data` does), so the
   same seed and N give the same data; ten chunks at a time are sorted by ``accepted_at`` and
   written as one file per month they touch (zstd). A stamp lets a second run reuse the folder.
2. Writes ``OUT/duckdb.yaml`` and ``OUT/spark.yaml``: the repository's catalogue restricted to
   the indicators on ``service_records`` (as ``make bench`` does), the source being the folder
   as ``type: parquet`` (DuckDB) or ``type: spark, master: local[2]``.
3. Runs each engine in its own process: the catalogue is loaded, the engine started (Spark: the
   JVM and its session), then ``Engine.compute`` runs R times (no store). The first run of a
   fresh JVM pays for its JIT; the later ones are what a long-running Spark would do. Each
   source query is timed. Meanwhile this process samples the child's whole process tree (the
   Python process and, for Spark, the JVM) every 0.2 s: peak resident memory and CPU time.
4. Checks the rows: every indicator present, 办件量 at the root adds up to N, and Spark's rows
   equal DuckDB's (``tests/cities.assert_rows_equal``'s tolerance, 1e-9 relative).
5. Partition pruning: the engine's partials query as sent, and the same query restricted to the
   last 12 months of partitions (``WHERE month >= …``), each timed in both engines, with whether
   the plan prunes (Spark: ``PartitionFilters`` in ``EXPLAIN``).
6. Prints Markdown; with ``--write-doc`` rewrites the generated part of ``docs/scale.md`` and keeps
   the hand-written part after the marker line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "bench" / "out" / "scale"
DOC = REPO / "docs" / "scale.md"
SOURCE = "service_records"
CHUNK_ROWS = 1_000_000
BATCH_CHUNKS = 10
DEFAULT_SEED = 20261129
DATA_VERSION = "1"
NOTES_MARKER = "<!-- Hand-written from here on: python -m bench.scale --write-doc keeps it. -->"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- the data


def _stamp(rows: int, seed: int) -> dict[str, Any]:
    from sample import generate as sample_gen

    return {
        "rows": rows,
        "seed": seed,
        "data_version": DATA_VERSION,
        "sample_generator_version": sample_gen.GENERATOR_VERSION,
        "chunk_rows": CHUNK_ROWS,
        "batch_chunks": BATCH_CHUNKS,
    }


def write_partitioned(folder: Path, rows: int, seed: int) -> float:
    """N service records under ``folder/month=YYYY-MM/``; returns seconds spent (0 when reused)."""
    import shutil

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from sample import generate as sample_gen

    stamp = folder.with_name(folder.name + ".stamp")
    want = _stamp(rows, seed)
    if folder.exists() and stamp.exists():
        try:
            if json.loads(stamp.read_text(encoding="utf-8")) == want:
                log(f"data: reusing {folder} ({rows:,d} rows, seed {seed})")
                return 0.0
        except (OSError, ValueError):
            pass
    started = time.perf_counter()
    stamp.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    n_chunks = -(-rows // CHUNK_ROWS)
    seeds = np.random.SeedSequence(seed).spawn(n_chunks)
    for batch, first in enumerate(range(0, n_chunks, BATCH_CHUNKS)):
        chunks = []
        for i in range(first, min(first + BATCH_CHUNKS, n_chunks)):
            n = min(CHUNK_ROWS, rows - i * CHUNK_ROWS)
            chunks.append(sample_gen.service_records(np.random.default_rng(seeds[i]), n))
        table = pa.concat_tables(chunks)
        del chunks
        order = pc.sort_indices(table, sort_keys=[("accepted_at", "ascending")])
        table = table.take(order)
        months = table["accepted_at"].to_numpy().astype("datetime64[M]")
        cuts = np.flatnonzero(np.r_[True, months[1:] != months[:-1], True])
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            part = folder / f"month={months[a]}"
            part.mkdir(exist_ok=True)
            pq.write_table(
                table.slice(a, b - a),
                part / f"part-{batch:05d}.parquet",
                compression="zstd",
                row_group_size=CHUNK_ROWS,
            )
        log(
            f"data: batch {batch + 1}/{-(-n_chunks // BATCH_CHUNKS)} written ({time.perf_counter() - started:.0f} s)"
        )
        del table, order
    stamp.write_text(json.dumps(want), encoding="utf-8")
    elapsed = time.perf_counter() - started
    log(f"data: wrote {folder} ({rows:,d} rows, {_size_mib(folder):,.0f} MiB) in {elapsed:.0f} s")
    return elapsed


def _size_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*.parquet")) / 2**20


def write_configs(out: Path, data: Path, master: str) -> tuple[dict[str, Path], list[str]]:
    """``duckdb.yaml`` and ``spark.yaml``: the repository's indicators on ``service_records`` (and
    formulas over them only), same ``org``, over the partitioned folder. Alert rules are dropped:
    they name channels, and what is measured here is the computation."""
    doc = yaml.safe_load((REPO / "indicators.yaml").read_text(encoding="utf-8"))
    kept = [i for i in doc["indicators"] if i.get("source") == SOURCE]
    ids = {i["id"] for i in kept}
    for ind in doc["indicators"]:
        inputs = (ind.get("measure") or {}).get("inputs")
        if not ind.get("source") and inputs and all(ref in ids for ref in inputs.values()):
            kept.append(ind)
            ids.add(ind["id"])
    order = {ind["id"]: k for k, ind in enumerate(doc["indicators"])}
    kept = [{k: v for k, v in i.items() if k != "alerts"} for i in sorted(kept, key=lambda i: order[i["id"]])]
    configs = {}
    for engine, source in (
        ("duckdb", {"type": "parquet", "path": data.name}),
        ("spark", {"type": "spark", "master": master, "path": data.name, "format": "parquet"}),
    ):
        bench = {
            "version": doc["version"],
            "org": doc["org"],
            "sources": {SOURCE: source},
            "indicators": kept,
        }
        path = out / f"{engine}.yaml"
        path.write_text(
            "# Written by `python -m bench.scale`. Do not edit.\n"
            + yaml.safe_dump(bench, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        configs[engine] = path
    return configs, [i["id"] for i in kept]


# ----------------------------------------------------------------- one engine, in its own process


def child(
    engine: str, config: Path, repeat: int, rows_json: Path, prune_from: str, incremental_on: bool = True
) -> None:
    """Runs in the measured process: start, R computes, the pruning probe; prints one JSON line."""
    t0 = time.perf_counter()
    from connectors import embedded, spark
    from metrics.catalogue.load import load_catalogue
    from metrics.engine import Engine, open_connector, rows_as_records

    cat = load_catalogue(str(config))
    queries: list[tuple[str, float, int]] = []
    for cls in (embedded.EmbeddedConnector, spark.SparkConnector):
        original = cls.fetch

        def timed(self, sql, _original=original):
            t = time.perf_counter()
            frame = _original(self, sql)
            queries.append((sql, time.perf_counter() - t, frame.height))
            return frame

        cls.fetch = timed  # type: ignore[method-assign]
    t_imports = time.perf_counter()
    # start the engine: Spark's JVM and session, DuckDB's connection
    con = open_connector(cat, SOURCE)
    con.fetch(f"SELECT COUNT(*) AS n FROM {con.relation()} WHERE 1 = 0")
    t_started = time.perf_counter()
    queries.clear()
    runs = []
    for _ in range(repeat):
        queries.clear()
        t, cpu = time.perf_counter(), tree_cpu(os.getpid())
        res = Engine(cat, use_store=False).compute()
        runs.append(
            {
                "seconds": time.perf_counter() - t,
                "cpu_seconds": tree_cpu(os.getpid()) - cpu,
                "query_seconds": sum(q[1] for q in queries),
                "queries": [(q[0], round(q[1], 3), q[2]) for q in queries],
                "errors": res.errors,
            }
        )
    rows_json.write_text(json.dumps(rows_as_records(res.rows), ensure_ascii=False), encoding="utf-8")
    partials = next(q[0] for q in queries if "GROUPING SETS" not in q[0].upper())
    con.close()
    con = open_connector(cat, SOURCE)  # the engine's runs closed theirs (DuckDB dropped the view)
    probe = prune_probe(con, partials, *prune_from.split(","))
    con.close()
    incremental = incremental_probe(config, queries) if incremental_on else None
    print(
        json.dumps(
            {
                "imports": t_imports - t0,
                "start": t_started - t_imports,
                "runs": runs,
                "probe": probe,
                "incremental": incremental,
            }
        ),
        flush=True,
    )


def incremental_probe(config: Path, queries: list) -> dict[str, Any]:
    """Incremental refresh (metrics/increment.py) with the store on, in this process:

    1. the first compute, which reads every partition and stores each one's pieces;
    2. the same again with nothing changed;
    3. a late file lands in the newest month (a copy of one of its files, as a late batch of
       records would): the compute reads that month alone, and recomputes the medians of the
       periods it is in;
    4. the full compute without the store on the same data, whose rows must be equal;
    5. ``cockpit compute`` in a fresh process over the unchanged store (what a page load or
       an alert run costs: for Spark, no JVM is started).

    The copied file is removed afterwards and the store with it.
    """
    import shutil

    from metrics.catalogue.load import load_catalogue
    from metrics.engine import Engine, rows_as_records

    os.environ.pop("COCKPIT_NO_CACHE", None)
    cat = load_catalogue(str(config))
    shutil.rmtree(cat.state_dir / "cache", ignore_errors=True)
    data = config.parent / SOURCE
    newest = max(data.glob("month=*"))
    late = newest / "part-late.parquet"
    out: dict[str, Any] = {"newest": newest.name.split("=", 1)[1]}

    def timed(name: str, use_store: bool = True) -> Any:
        queries.clear()
        t, cpu = time.perf_counter(), tree_cpu(os.getpid())
        res = Engine(cat, use_store=use_store).compute()
        info = res.refresh.get(SOURCE)
        out[name] = {
            "seconds": time.perf_counter() - t,
            "cpu_seconds": tree_cpu(os.getpid()) - cpu,
            "queries": len(queries),
            "query_seconds": sum(q[1] for q in queries),
            "refresh": info.as_dict() if info else None,
            "errors": res.errors,
        }
        return res

    try:
        timed("first")
        timed("unchanged")
        biggest = max(newest.glob("*.parquet"), key=lambda p: p.stat().st_size)
        shutil.copyfile(biggest, late)
        import pyarrow.parquet as pq

        out["late_rows"] = pq.ParquetFile(late).metadata.num_rows
        inc = timed("changed")
        full = timed("full", use_store=False)
        sys.path.insert(0, str(REPO / "tests"))
        import cities

        try:
            cities.assert_rows_equal(rows_as_records(inc.rows), rows_as_records(full.rows), "incremental")
            out["rows_equal"] = full.rows.height
        except AssertionError as e:
            out["rows_equal"] = 0
            out["difference"] = str(e)[:500]
        t = time.perf_counter()
        env = {k: v for k, v in os.environ.items() if k != "COCKPIT_NO_CACHE"}
        proc = subprocess.run(
            [sys.executable, "-m", "cockpit", "compute", "--config", str(config), "--format", "json"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        out["fresh_process"] = {
            "seconds": time.perf_counter() - t,
            "rc": proc.returncode,
            "rows": len(json.loads(proc.stdout)) if proc.returncode == 0 else 0,
        }
    finally:
        late.unlink(missing_ok=True)
        shutil.rmtree(cat.state_dir / "cache", ignore_errors=True)
    return out


def prune_probe(con: Any, partials: str, since: str, newest: str, tries: int = 2) -> dict[str, Any]:
    """The partials query as the engine sends it, and restricted to the partitions ``month >= since``
    and to the newest month alone (what an incremental refresh would read); best of ``tries``."""

    def where(month: str) -> str:
        return re.sub(r"\sGROUP BY 1, 2, 3\s*$", f" WHERE month >= '{month}' GROUP BY 1, 2, 3", partials)

    restricted = where(since)
    out: dict[str, Any] = {"since": since, "newest_month": newest}
    for name, sql in (("all", partials), ("recent", restricted), ("newest", where(newest))):
        best = float("inf")
        for _ in range(tries):
            t = time.perf_counter()
            frame = con.fetch(sql)
            best = min(best, time.perf_counter() - t)
        out[name] = {"seconds": best, "rows": frame.height}
    if con.dialect == "spark":
        plan = "\n".join(str(x) for x in con.fetch(f"EXPLAIN FORMATTED {restricted}").to_series(0).to_list())
        full = "\n".join(str(x) for x in con.fetch(f"EXPLAIN FORMATTED {partials}").to_series(0).to_list())
        out["plan_filters"] = {
            "all": re.findall(r"PartitionFilters: \[([^\]]*)\]", full),
            "recent": re.findall(r"PartitionFilters: \[([^\]]*)\]", plan),
        }
    else:
        plan = "\n".join(str(x) for x in con.fetch(f"EXPLAIN {restricted}").to_series(1).to_list())
        out["plan_filters"] = {
            "recent": [
                m.strip(" │")
                for m in re.findall(r"File Filters:([^\n]*)", plan) or re.findall(r"Filters:([^\n]*)", plan)
            ]
        }
    return out


# ----------------------------------------------------------------- measuring a process tree


@dataclass
class TreeSample:
    peak_rss: int = 0  # bytes, the whole tree at one moment
    peak_python: int = 0
    peak_jvm: int = 0
    cpu: dict[int, float] = field(default_factory=dict)  # pid → seconds (user + sys), last seen

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root`` and its descendants (the JVM)."""
    total = 0.0
    for pid in _tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def _sample(root: int, acc: TreeSample) -> None:
    total = python = jvm = 0
    for pid in _tree(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        except (OSError, ValueError):
            continue
        fields = stat.rsplit(")", 1)[1].split()
        acc.cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICK
        total += rss
        if pid == root:
            python = rss
        elif comm.startswith("java"):
            jvm += rss
    acc.peak_rss = max(acc.peak_rss, total)
    acc.peak_python = max(acc.peak_python, python)
    acc.peak_jvm = max(acc.peak_jvm, jvm)


@dataclass
class EngineRun:
    engine: str
    wall: float
    tree: TreeSample
    report: dict[str, Any]
    rc: int
    stderr: str


def run_engine(
    engine: str,
    config: Path,
    repeat: int,
    out: Path,
    prune_from: str,
    duckdb_memory: str | None,
    incremental_on: bool = True,
) -> EngineRun:
    rows_json = out / f"rows-{engine}.json"
    cmd = [
        sys.executable,
        "-m",
        "bench.scale",
        "--child",
        engine,
        "--config",
        str(config),
        "--repeat",
        str(repeat),
        "--rows-json",
        str(rows_json),
        "--prune-from",
        prune_from,
        *(["--no-incremental"] if not incremental_on else []),
    ]
    env = dict(os.environ, COCKPIT_NO_CACHE="1", COCKPIT_SPARK_LOG=str(out / "spark.log"))
    if duckdb_memory:
        env["COCKPIT_DUCKDB_MEMORY"] = duckdb_memory
    acc = TreeSample()
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            _sample(proc.pid, acc)
            done.wait(0.2)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t
    done.set()
    th.join()
    report = json.loads(stdout.strip().splitlines()[-1]) if proc.returncode == 0 and stdout.strip() else {}
    log(
        f"  {engine}: {wall:.1f} s wall, {acc.cpu_seconds:.1f} s CPU, peak {acc.peak_rss / 2**20:,.0f} MiB"
        + ("" if proc.returncode == 0 else f"  EXIT {proc.returncode}: {stderr.strip()[-500:]}")
    )
    return EngineRun(engine, wall, acc, report, proc.returncode, stderr)


# ----------------------------------------------------------------- checking and reporting


def compare_rows(out: Path) -> tuple[int, list[str]]:
    """Spark's rows against DuckDB's: (rows compared, problems)."""
    sys.path.insert(0, str(REPO / "tests"))
    import cities

    duck = json.loads((out / "rows-duckdb.json").read_text(encoding="utf-8"))
    spark = json.loads((out / "rows-spark.json").read_text(encoding="utf-8"))
    problems = []
    want, got = cities.by_indicator(duck), cities.by_indicator(spark)
    for ind in sorted(set(want) | set(got)):
        try:
            cities.assert_rows_equal(got.get(ind, []), want.get(ind, []), f"spark/{ind}")
        except AssertionError as e:
            problems.append(str(e).splitlines()[0][:300])
    return len(duck), problems


def machine() -> dict[str, str]:
    from bench.run import machine as base

    m = base()
    try:
        import pyspark

        m["pyspark"] = pyspark.__version__
    except ImportError:
        m["pyspark"] = "(not installed)"
    java = subprocess.run(["java", "-version"], capture_output=True, text=True)
    m["java"] = (java.stderr.splitlines() or ["?"])[0].replace('"', "")
    return m


def fmt_n(n: float) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f} billion"
    if n >= 1e6:
        return f"{n / 1e6:.1f} million"
    return f"{n:,.0f}"


def _best(seconds: list[float]) -> int:
    """The fastest run after the first (a fresh JVM's first run pays for its JIT), or the only one."""
    if len(seconds) == 1:
        return 0
    return 1 + min(range(len(seconds) - 1), key=lambda i: seconds[i + 1])


def report(
    rows: int, cores: int, runs: dict[str, EngineRun], compared: int, diffs: list[str], problems: list[str]
) -> str:
    out = [
        "| engine | process wall s | start s | compute s, run 1 | compute s, best later run | of which in queries | "
        f"rows / s (best run, {cores} cores) | CPU s of that run | rows per CPU-second | CPU-s per billion rows | "
        "peak RSS MiB: tree (Python + JVM) | CPU s, whole process tree |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in runs.items():
        if r.rc != 0 or not r.report:
            out.append(f"| {name} | failed (exit {r.rc}) | | | | | | | | | | |")
            continue
        comp = [x["seconds"] for x in r.report["runs"]]
        best_i = _best(comp)
        best = comp[best_i]
        q = r.report["runs"][best_i]["query_seconds"]
        rate = rows / best
        tree = r.tree
        rss = f"{tree.peak_rss / 2**20:,.0f} ({tree.peak_python / 2**20:,.0f} + {tree.peak_jvm / 2**20:,.0f})"
        cpu = r.report["runs"][best_i]["cpu_seconds"]
        out.append(
            f"| {name} | {r.wall:.1f} | {r.report['start']:.1f} | {comp[0]:.1f} | {best:.1f} | {q:.1f} | "
            f"{fmt_n(rate)} | {cpu:.1f} | {fmt_n(rows / cpu)} | {1e9 * cpu / rows:,.0f} | {rss} | "
            f"{tree.cpu_seconds:.0f} |"
        )
    out += ["", "Each query of the best run (seconds, result rows):", ""]
    for name, r in runs.items():
        if not r.report:
            continue
        best_i = _best([x["seconds"] for x in r.report["runs"]])
        for sql, secs, n in r.report["runs"][best_i]["queries"]:
            kind = "holistic (median, GROUPING SETS)" if "GROUPING SETS" in sql.upper() else "partials"
            out.append(f"- {name}: {kind}: {secs:.1f} s → {n:,d} rows")
    out += [
        "",
        "Partition pruning: the partials query as the engine sends it (all months), and with "
        "`WHERE month >= …` added: the last 12 months, and the newest month alone (what an incremental "
        "refresh would read); best of 2 each:",
        "",
        "| engine | all months s | last 12 months s | newest month s | partition filters in the plan |",
        "|---|---:|---:|---:|---|",
    ]
    for name, r in runs.items():
        p = r.report.get("probe") if r.report else None
        if not p:
            continue
        a, b, c = p["all"]["seconds"], p["recent"]["seconds"], p["newest"]["seconds"]
        filt = p.get("plan_filters", {})
        shown = "; ".join(f"{k}: {', '.join(v) or '—'}" for k, v in filt.items())
        out.append(
            f"| {name} | {a:.1f} | {b:.1f} (since {p['since']}, −{1 - b / a:.0%}) "
            f"| {c:.2f} ({p['newest_month']}, −{1 - c / a:.0%}) | {shown[:200]} |"
        )
    out += incremental_report(runs)
    out += [""]
    if compared:
        out.append(f"Rows: Spark's {compared:,d} rows equal DuckDB's." if not diffs else "**Rows differ:**")
    out += [f"- {d}" for d in diffs]
    if problems:
        out += ["", "**Problems in this run:**", ""] + [f"- {p}" for p in problems]
    return "\n".join(out)


def incremental_report(runs: dict[str, EngineRun]) -> list[str]:
    """The incremental-refresh table (see :func:`incremental_probe`)."""
    got = {n: r.report["incremental"] for n, r in runs.items() if r.report and r.report.get("incremental")}
    if not got:
        return []
    any_inc = next(iter(got.values()))
    out = [
        "",
        f"Incremental refresh, with the store on (`metrics/increment.py`): the first compute stores each "
        f"partition's pieces; then nothing changes; then a late file of {any_inc.get('late_rows', 0):,d} records "
        f"lands in the newest month ({any_inc['newest']}); then the full compute without the store on the same "
        "data; then `cockpit compute` in a fresh process over the unchanged store:",
        "",
        "| engine | first compute, store on s | unchanged s | late file: s (CPU s) | partitions read | "
        "median periods recomputed | full compute, no store s (CPU s) | saving | rows equal | fresh process s |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|---:|",
    ]
    for name, inc in got.items():
        first, same, changed, full = (inc.get(k) or {} for k in ("first", "unchanged", "changed", "full"))
        info = changed.get("refresh") or {}
        fresh = inc.get("fresh_process") or {}
        saving = 1 - changed["seconds"] / full["seconds"] if changed and full else 0
        equal = (
            f"{inc['rows_equal']:,d} rows"
            if inc.get("rows_equal")
            else f"**no**: {inc.get('difference', '')}"
        )
        out.append(
            f"| {name} | {first.get('seconds', 0):.1f} | {same.get('seconds', 0):.2f} | "
            f"{changed.get('seconds', 0):.1f} ({changed.get('cpu_seconds', 0):.1f}) | "
            f"{', '.join(info.get('read', [])) or '—'} of {info.get('partitions', 0)} | "
            f"{info.get('periods_recomputed', 0)} of {info.get('periods', 0)} | "
            f"{full.get('seconds', 0):.1f} ({full.get('cpu_seconds', 0):.1f}) | −{saving:.0%} | {equal} | "
            f"{fresh.get('seconds', 0):.1f} |"
        )
    return out


def write_doc(
    text: str,
    argv: list[str],
    started: dt.datetime,
    rows: int,
    gen: float,
    size: float,
    m: dict,
    duckdb_memory: str,
) -> None:
    notes = ""
    if DOC.exists():
        old = DOC.read_text(encoding="utf-8")
        if NOTES_MARKER in old:
            notes = old[old.index(NOTES_MARKER) + len(NOTES_MARKER) :].strip("\n")
    cmd = " ".join(shlex.quote(a) for a in argv)
    cmd = f"`make bench-scale` (`{cmd}`)" if os.environ.get("MAKELEVEL") else f"`{cmd}`"
    generated = f", generated in {gen:.0f} s" if gen else ""
    doc = f"""# Cost at scale: Spark and DuckDB

What computing the service-record indicators costs as the records grow, on Spark (`type: spark`,
`master: local[2]`) and on the embedded DuckDB (`type: parquet`), over the same Parquet folder
partitioned by month. `make bench-scale` (`bench/scale.py`) writes the data, runs each engine in
its own process and writes the part of this page above the marker line; the analysis after it is
hand-written.

```
make bench-scale                                             # 100 million rows; rewrites this page
make bench-scale BENCH_ARGS="--rows 20000000"                # a smaller run
.venv/bin/python -m bench.scale --rows 2000000 --repeat 2    # a quick look: prints, writes nothing
```

## Latest figures

Written by {cmd} on {started.strftime("%Y-%m-%d %H:%M")}.
Machine: {m["nproc"]} cores ({m["cpu"]}), {m["memory"]} memory, shared with other work; Python {m["python"]},
DuckDB {m["duckdb"]}, PySpark {m["pyspark"]} ({m["java"]}), Polars {m["polars"]}; commit {m["commit"]}.
N = {rows:,d} service records in `bench/out/scale/service_records/month=…/`, {size:,.0f} MiB of Parquet (zstd){generated}.
Both engines have 2 cores: Spark `local[2]` (default driver memory, 1 GiB of heap), DuckDB's 2 threads
with `COCKPIT_DUCKDB_MEMORY={duckdb_memory}` (the cockpit's default is 1GB; DuckDB spills to disk beyond
it). `Engine.compute` of the whole benchmark catalogue,
no store; "start" is the JVM and its session for Spark, DuckDB's view for DuckDB; run 1 of a fresh JVM
includes its JIT warm-up, the best later run is what a long-running Spark does. Peak RSS is the
child's whole process tree (sampled every 0.2 s): the Python process plus, for Spark, its JVM.

{text}

{NOTES_MARKER}

{notes}
"""
    DOC.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")
    log(f"wrote {DOC.relative_to(REPO)}")


# ----------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=100_000_000, help="service records (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--repeat", type=int, default=2, help="computes per engine process (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="generated files (default: bench/out/scale)"
    )
    parser.add_argument("--engines", default="duckdb,spark", help="comma-separated (default: %(default)s)")
    parser.add_argument("--master", default="local[2]", help="Spark master (default: %(default)s)")
    parser.add_argument(
        "--duckdb-memory",
        default="1GB",
        help="COCKPIT_DUCKDB_MEMORY for the DuckDB run (default: %(default)s, the cockpit's own; DuckDB "
        "spills to disk beyond it)",
    )
    parser.add_argument(
        "--write-doc", action="store_true", help="rewrite the generated part of docs/scale.md"
    )
    parser.add_argument(
        "--no-incremental", action="store_true", help="skip the incremental-refresh measurement"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows-json", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prune-from", default="2025-11,2026-10", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.config, args.repeat, args.rows_json, args.prune_from, not args.no_incremental)
        return 0
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")
    started = dt.datetime.now()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = out / SOURCE
    gen = write_partitioned(data, args.rows, args.seed)
    configs, ids = write_configs(out, data, args.master)
    log(f"configs: {', '.join(str(p) for p in configs.values())} ({len(ids)} indicators)")
    months = sorted(p.name.split("=", 1)[1] for p in data.glob("month=*"))
    prune_from = f"{months[-12] if len(months) >= 12 else months[0]},{months[-1]}"
    runs: dict[str, EngineRun] = {}
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        log(f"{engine}: start + {args.repeat} computes, in its own process")
        runs[engine] = run_engine(
            engine, configs[engine], args.repeat, out, prune_from, args.duckdb_memory, not args.no_incremental
        )
    problems: list[str] = []
    from bench.run import check_rows

    for name, r in runs.items():
        if r.rc != 0:
            problems.append(f"{name} exited {r.rc}: {r.stderr.strip()[-300:]}")
            continue
        problems += [f"{name}: {p}" for p in check_rows(out / f"rows-{name}.json", args.rows, ids)]
        for run in r.report["runs"]:
            problems += [f"{name}: {e}" for e in run["errors"]]
    compared, diffs = 0, []
    if all(e in runs and runs[e].rc == 0 for e in ("duckdb", "spark")):
        compared, diffs = compare_rows(out)
    cores = (
        int(re.match(r"local\[(\d+)\]", args.master).group(1))
        if re.match(r"local\[\d+\]", args.master)
        else 2
    )
    text = report(args.rows, cores, runs, compared, diffs, problems)
    print(text)
    if args.write_doc:
        cmd = [".venv/bin/python", "-m", "bench.scale", *(sys.argv[1:] if argv is None else argv)]
        write_doc(text, cmd, started, args.rows, gen, _size_mib(data), machine(), args.duckdb_memory)
    return 1 if problems or diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
