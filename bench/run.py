"""``make bench``: the indicator engine against a DuckDB floor, as whole processes.

    python -m bench.run [--rows N] [--repeat R] [--seed S] [--out bench/out] [--write-doc] [--profile]

1. Writes N service records (default 10 million) to ``OUT/service_records.parquet``
   (:mod:`bench.data`; reused when rows and seed match) and ``OUT/indicators.yaml``:
   the repository's catalogue restricted to the indicators that read
   ``service_records`` (formulas whose inputs all do are kept), same ``org``.
2. Runs, R times and interleaved, each as its own process:

   * **floor** — ``python -c`` that imports duckdb and runs ONE scan and group-by of
     the same file (month × region × department, ``count(*)``, ``sum(actual_days)``),
     fetching the result;
   * **cold** — ``cockpit compute --config OUT/indicators.yaml --format json
     --output /dev/null`` with ``COCKPIT_NO_CACHE=1`` (no stored partials);
   * **warm** — the same without ``COCKPIT_NO_CACHE``, the store filled by an
     unmeasured run before the first round.

   Wall time, peak RSS and CPU time (user + system) come from
   ``/usr/bin/time -f '%e %M %U %S'`` (or, without it, from a wrapper process's
   ``RUSAGE_CHILDREN``). The ratio to the floor is taken
   per round, so a noisy neighbour slows both sides of a ratio alike.
3. Once, for reference: the whole sample catalogue (``indicators.yaml`` on ``data/``,
   cold) and a floor on the sample's ``service_records.parquet``.
4. Prints Markdown; with ``--write-doc`` rewrites ``docs/benchmarks.md``.

Goals (issue): cold compute within 2× the floor, peak memory under 1.5 GiB, at 10M rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.data import DEFAULT_SEED, write_service_records

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "bench" / "out"
DOC = REPO / "docs" / "benchmarks.md"
SOURCE = "service_records"
GOAL_RATIO = 2.0
GOAL_RSS_MIB = 1.5 * 1024

FLOOR_SQL = (
    "SELECT date_trunc('month', accepted_at) AS m, region_code, dept_code, count(*) AS n, "
    "sum(actual_days) AS days FROM read_parquet({path}) GROUP BY ALL"
)
FLOOR_CODE = (
    "import sys, duckdb\n"
    'sql = sys.argv[1].replace(\'{path}\', "\'" + sys.argv[2].replace("\'", "\'\'") + "\'")\n'
    "rows = duckdb.connect().execute(sql).fetchall()\n"
    "print(len(rows), sum(r[3] for r in rows))\n"
)
# Without /usr/bin/time: this process runs the command and reports its own RUSAGE_CHILDREN,
# so ru_maxrss is the command's alone (a child's maxima never mix with an earlier child's).
WRAPPER_CODE = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.run(json.loads(sys.argv[2])).returncode\n"
    "wall = time.perf_counter() - t\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write(f'{wall:.3f} {ru.ru_maxrss} {ru.ru_utime:.3f} {ru.ru_stime:.3f}')\n"
    "sys.exit(rc)\n"
)


@dataclass
class Run:
    label: str
    wall: float  # seconds
    cpu: float  # seconds, user + system, all threads
    rss_mib: float
    rc: int
    stdout: str
    stderr: str


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- measuring


def measure(label: str, cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` as its own process; its wall time and peak RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as fh:
        report = Path(fh.name)
    try:
        if Path("/usr/bin/time").exists():
            full = ["/usr/bin/time", "-o", str(report), "-f", "%e %M %U %S", *cmd]
        else:
            full = [sys.executable, "-c", WRAPPER_CODE, str(report), json.dumps(cmd)]
        p = subprocess.run(full, cwd=REPO, env=env, capture_output=True, text=True)
        fields = report.read_text().split()
        # GNU time prefixes "Command exited with non-zero status N" on its own line
        wall, kib, user, system = (float(x) for x in fields[-4:])
    finally:
        report.unlink(missing_ok=True)
    run = Run(label, wall, user + system, kib / 1024, p.returncode, p.stdout, p.stderr)
    status = "" if p.returncode == 0 else f"  EXIT {p.returncode}"
    log(f"  {label:<8s} {wall:7.2f} s  {run.cpu:7.2f} s CPU  {run.rss_mib:7.0f} MiB{status}")
    return run


def env_with(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def floor_cmd(parquet: Path) -> list[str]:
    return [sys.executable, "-c", FLOOR_CODE, FLOOR_SQL, str(parquet)]


def compute_cmd(config: Path, output: str = "/dev/null") -> list[str]:
    return [
        sys.executable,
        "-m",
        "cockpit",
        "compute",
        "--config",
        str(config),
        "--format",
        "json",
        "--output",
        output,
    ]


# ----------------------------------------------------------------- the benchmark catalogue


def write_config(out: Path, parquet: Path) -> tuple[Path, list[str]]:
    """``out/indicators.yaml``: the repo's catalogue, only what reads ``service_records``."""
    doc = yaml.safe_load((REPO / "indicators.yaml").read_text(encoding="utf-8"))
    kept: list[dict] = []
    ids: set[str] = set()
    for ind in doc["indicators"]:
        if ind.get("source") == SOURCE:
            kept.append(ind)
            ids.add(ind["id"])
    for ind in doc["indicators"]:  # formulas whose inputs are all kept
        inputs = (ind.get("measure") or {}).get("inputs")
        if not ind.get("source") and inputs and all(ref in ids for ref in inputs.values()):
            kept.append(ind)
            ids.add(ind["id"])
    order = {ind["id"]: k for k, ind in enumerate(doc["indicators"])}
    kept.sort(key=lambda ind: order[ind["id"]])
    kept = [{k: v for k, v in ind.items() if k != "alerts"} for ind in kept]  # no channels here
    bench = {
        "version": doc["version"],
        "site": doc.get("site", {}),
        "org": {k: v for k, v in doc["org"].items() if k != "geojson"},
        "sources": {SOURCE: {**doc["sources"][SOURCE], "path": parquet.name}},
        "indicators": kept,
    }
    path = out / "indicators.yaml"
    header = (
        "# Written by `python -m bench.run`: the repository's indicators.yaml restricted to the\n"
        f"# indicators that read '{SOURCE}', pointing at the benchmark's file. Do not edit.\n"
    )
    path.write_text(header + yaml.safe_dump(bench, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, [ind["id"] for ind in kept]


def root_id() -> str:
    doc = yaml.safe_load((REPO / "indicators.yaml").read_text(encoding="utf-8"))
    return str(doc["org"]["regions"]["id"])


def check_rows(rows_json: Path, rows: int, ids: list[str]) -> list[str]:
    """The computed rows are about the whole file: every indicator present, 办件量 adds up to N."""
    problems = []
    records = json.loads(rows_json.read_text(encoding="utf-8"))
    seen = {r["indicator"] for r in records}
    missing = [i for i in ids if i not in seen]
    if missing:
        problems.append(f"no rows for {', '.join(missing)}")
    root = root_id()
    total = sum(
        r["value"] or 0
        for r in records
        if r["indicator"] == "service_volume" and r["region"] == root and r["department"] is None
    )
    if "service_volume" in ids and round(total) != rows:
        problems.append(f"service_volume at {root} sums to {total:,.0f}, not {rows:,d}")
    return problems


# ----------------------------------------------------------------- reporting


def machine() -> dict[str, str]:
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    import duckdb
    import polars

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "metrics", "connectors", "cockpit")
    return {
        "nproc": nproc,
        "memory": mem,
        "cpu": cpu,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "commit": commit + (" (engine files modified in the working tree)" if dirty else ""),
    }


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_rows(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000} million"
    return f"{n:,d}"


@dataclass
class Results:
    rows: int
    repeat: int
    indicators: list[str]
    floors: list[Run]
    colds: list[Run]
    warms: list[Run]
    gen_seconds: float
    file_mib: float
    sample_full: Run | None
    sample_floor: Run | None
    sample_indicators: int
    sample_sources: int
    sample_rows: int
    problems: list[str]
    trace: str = ""

    def ratios(self, runs: list[Run], what: str = "wall") -> list[float]:
        return [getattr(r, what) / getattr(f, what) for r, f in zip(runs, self.floors, strict=True)]

    def goals(self) -> tuple[bool, bool]:
        time_ok = med(self.ratios(self.colds)) <= GOAL_RATIO
        rss_ok = max(r.rss_mib for r in self.colds + self.warms) < GOAL_RSS_MIB
        return time_ok, rss_ok


def tables(res: Results) -> str:
    def line(name: str, runs: list[Run], ratios: list[float] | None, cpu_ratios: list[float] | None) -> str:
        walls = [r.wall for r in runs]
        cpus = [r.cpu for r in runs]
        rss = [r.rss_mib for r in runs]

        def rng(xs: list[float]) -> str:
            return f"{med(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"

        ratio = "**1.00**" if ratios is None else f"**{rng(ratios)}**"
        cpu_ratio = "1.00" if cpu_ratios is None else rng(cpu_ratios)
        return f"| {name} | {rng(walls)} | {ratio} | {med(rss):.0f} (max {max(rss):.0f}) | {rng(cpus)} | {cpu_ratio} |"

    out = [
        f"{fmt_rows(res.rows)} service records, {len(res.indicators)} indicators; median of {res.repeat} "
        "interleaved rounds (range in brackets); ratios taken per round:",
        "",
        "| process | wall s | wall ratio to floor | peak RSS MiB | CPU s (user + sys) | CPU ratio to floor |",
        "|---|---:|---:|---:|---:|---:|",
        line("floor: DuckDB, one scan + group-by", res.floors, None, None),
        line(
            "`cockpit compute`, cold (`COCKPIT_NO_CACHE=1`)",
            res.colds,
            res.ratios(res.colds),
            res.ratios(res.colds, "cpu"),
        ),
        line("`cockpit compute`, warm store", res.warms, res.ratios(res.warms), res.ratios(res.warms, "cpu")),
        "",
        "Each round (wall s / peak RSS MiB):",
        "",
        "| round | floor | cold | warm | cold / floor | warm / floor |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for k, (f, c, w) in enumerate(zip(res.floors, res.colds, res.warms, strict=True), 1):
        out.append(
            f"| {k} | {f.wall:.2f} / {f.rss_mib:.0f} | {c.wall:.2f} / {c.rss_mib:.0f} | {w.wall:.2f} / {w.rss_mib:.0f} "
            f"| {c.wall / f.wall:.2f} | {w.wall / f.wall:.2f} |"
        )
    time_ok, rss_ok = res.goals()
    cold_ratio = med(res.ratios(res.colds))
    peak = max(r.rss_mib for r in res.colds + res.warms)
    out += [
        "",
        "| goal | measured | met |",
        "|---|---:|---|",
        f"| cold compute ≤ {GOAL_RATIO:g}× the floor (median wall ratio) | {cold_ratio:.2f}× "
        f"| {'yes' if time_ok else '**no**'} |",
        f"| peak RSS of compute < 1.5 GiB (max of all compute runs) | {peak:,.0f} MiB "
        f"| {'yes' if rss_ok else '**no**'} |",
    ]
    if res.sample_full or res.sample_floor:
        out += [
            "",
            "For reference, one run each on the sample city (`data/`, the whole catalogue: "
            f"{res.sample_indicators} indicators over {res.sample_sources} sources, "
            f"{fmt_rows(res.sample_rows)} service records):",
            "",
            "| process | wall s | peak RSS MiB | CPU s |",
            "|---|---:|---:|---:|",
        ]
        for name, r in (
            ("floor on `data/service_records.parquet`", res.sample_floor),
            ("`cockpit compute --config indicators.yaml`, cold", res.sample_full),
        ):
            if r:
                out.append(f"| {name} | {r.wall:.2f} | {r.rss_mib:.0f} | {r.cpu:.2f} |")
    if res.problems:
        out += ["", "**Problems in this run:**", ""] + [f"- {p}" for p in res.problems]
    return "\n".join(out)


NOTES_MARKER = "<!-- Hand-written from here on: python -m bench.run --write-doc keeps it. -->"


def write_doc(res: Results, argv: list[str], started: dt.datetime, via_make: bool = False) -> None:
    m = machine()
    time_ok, rss_ok = res.goals()
    cmd = " ".join(shlex.quote(a) for a in argv)
    cmd = f"`make bench` (`{cmd}`)" if via_make else f"`{cmd}`"
    floor_sql = FLOOR_SQL.replace("{path}", "'bench/out/service_records.parquet'")
    generated = f" (generated in {res.gen_seconds:.0f} s)" if res.gen_seconds else ""
    trace = res.trace or "(not run)"
    notes = ""
    if DOC.exists():
        old = DOC.read_text(encoding="utf-8")
        if NOTES_MARKER in old:
            notes = old[old.index(NOTES_MARKER) + len(NOTES_MARKER) :].strip("\n")
    text = f"""# Benchmarks

How long `cockpit compute` takes, and how much memory it holds, on a large Parquet source, next to
a floor: the least any engine could do with the same file, one DuckDB scan and group-by. Both are
timed as whole processes (interpreter start, imports and output included), interleaved in the same
run. The machine is shared and noisy (2 cores), so the figure that counts is the ratio, taken per
round; CPU time (user + system) is given beside wall time because it moves much less with the load.

## Goals

At 10 million rows: cold `cockpit compute` of the whole (benchmark) catalogue within **{GOAL_RATIO:g}× the
floor's wall time**, and peak memory **under 1.5 GiB**.

## How to run it

```
make bench                                                # .venv/bin/python -m bench.run --write-doc
.venv/bin/python -m bench.run --rows 2000000 --repeat 5   # a quicker look: prints, writes no doc
.venv/bin/python -m bench.trace                           # where one cold compute spends its time
.venv/bin/python -m bench.run --profile                   # adds a cProfile of one cold compute
```

What `bench.run` does (`bench/run.py`, `bench/data.py`, `bench/trace.py`):

1. Writes N service records (default 10 million) to `bench/out/service_records.parquet` with the
   sample city's own generator (`sample.generate.service_records`: same schema and distributions),
   seed {DEFAULT_SEED}, in chunks of one million rows, sorted by `accepted_at`, zstd, row groups of one
   million rows. The file is reused while rows and seed match. `bench/out/` is not committed.
2. Writes `bench/out/indicators.yaml`: the repository's `indicators.yaml` restricted to the
   {len(res.indicators)} indicators that read `service_records` (same `org`), so the comparison is about the N rows.
3. Runs R rounds (default 3), each command its own process measured by `/usr/bin/time -f '%e %M %U %S'`:
   - **floor**: `python -c` that imports duckdb and runs, fetching the result,
     `{floor_sql}`;
   - **cold**: `COCKPIT_NO_CACHE=1 cockpit compute --config bench/out/indicators.yaml --format json --output /dev/null`;
   - **warm**: the same without `COCKPIT_NO_CACHE`. The store (`bench/out/.cockpit/cache`) is
     filled by one unmeasured run before the first round, whose rows are checked: every indicator
     has rows and 办件量 at the root adds up to N.
4. Once each, for reference: the whole sample catalogue (`indicators.yaml` on `data/`, cold) and
   the floor on the sample's `service_records.parquet`; then `bench.trace` (below).

## Latest figures

Written by {cmd} on {started.strftime("%Y-%m-%d %H:%M")}.
Machine: {m["nproc"]} cores ({m["cpu"]}), {m["memory"]} memory; Python {m["python"]}, DuckDB {m["duckdb"]},
Polars {m["polars"]}; commit {m["commit"]}.
N = {res.rows:,d} rows, {res.file_mib:,.0f} MiB of Parquet{generated}.

{tables(res)}

**Goals: time {"met" if time_ok else "missed"}, memory {"met" if rss_ok else "missed"}.**

### Where a cold compute spends its time

`python -m bench.trace`, one cold compute in one process (after the interpreter has started),
each source query timed:

{trace}

{NOTES_MARKER}

{notes}
"""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    log(f"wrote {DOC.relative_to(REPO)}")


# ----------------------------------------------------------------- profile


def profile(config: Path, out: Path) -> None:
    """One cold compute under cProfile; the top functions by cumulative time."""
    import pstats

    prof = out / "compute.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "cockpit", *compute_cmd(config)[3:]]
    log("profile: one cold compute under cProfile")
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO, env=env_with(COCKPIT_NO_CACHE="1"), capture_output=True, text=True)
    log(f"  {time.perf_counter() - t:.2f} s (exit {p.returncode}); {prof}")
    stats = pstats.Stats(str(prof), stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)


# ----------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="service records (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="generated files (default: bench/out)")
    parser.add_argument(
        "--write-doc", action="store_true", help="rewrite docs/benchmarks.md with the figures"
    )
    parser.add_argument("--no-sample", action="store_true", help="skip the reference run on the sample city")
    parser.add_argument("--profile", action="store_true", help="also profile one cold compute (cProfile)")
    args = parser.parse_args(argv)
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    started = dt.datetime.now()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    parquet = out / "service_records.parquet"
    gen_seconds = write_service_records(parquet, args.rows, args.seed, log=log)
    config, ids = write_config(out, parquet)
    log(f"config: {config} ({len(ids)} indicators on '{SOURCE}')")

    problems: list[str] = []
    cold_env = env_with(COCKPIT_NO_CACHE="1")
    warm_env = env_with(COCKPIT_NO_CACHE=None)

    # fill the store (and the page cache) with one unmeasured run, and check its rows
    shutil.rmtree(out / ".cockpit", ignore_errors=True)
    rows_json = out / "rows.json"
    log("prime: one unmeasured compute filling the store")
    prime = measure("prime", compute_cmd(config, str(rows_json)), warm_env)
    if prime.rc != 0:
        problems.append(f"compute exited {prime.rc}: {prime.stderr.strip()[-500:]}")
    else:
        problems += check_rows(rows_json, args.rows, ids)

    floors, colds, warms = [], [], []
    for k in range(args.repeat):
        log(f"round {k + 1}/{args.repeat}")
        floors.append(measure("floor", floor_cmd(parquet)))
        colds.append(measure("cold", compute_cmd(config), cold_env))
        warms.append(measure("warm", compute_cmd(config), warm_env))
    for r in floors + colds + warms:
        if r.rc != 0:
            problems.append(f"{r.label} exited {r.rc}: {r.stderr.strip()[-300:]}")
    expected = f"{args.rows}"
    if floors and floors[0].rc == 0 and floors[0].stdout.split()[-1:] != [expected]:
        problems.append(f"floor counted {floors[0].stdout.strip()} rows, not {args.rows}")

    sample_full = sample_floor = None
    n_sample = n_sources = sample_rows = 0
    if not args.no_sample:
        stamp = REPO / "data" / ".sample-stamp"
        if stamp.exists():
            log("reference: the sample city")
            sample_floor = measure("s-floor", floor_cmd(REPO / "data" / "service_records.parquet"))
            sample_full = measure("s-full", compute_cmd(REPO / "indicators.yaml"), cold_env)
            doc = yaml.safe_load((REPO / "indicators.yaml").read_text(encoding="utf-8"))
            n_sample, n_sources = len(doc["indicators"]), len(doc["sources"])
            for line in stamp.read_text(encoding="utf-8").splitlines():
                if line.startswith("service_rows="):
                    sample_rows = int(line.split("=", 1)[1])
            if sample_full.rc != 0:
                problems.append(
                    f"sample compute exited {sample_full.rc}: {sample_full.stderr.strip()[-300:]}"
                )
        else:
            log("reference: no sample city in data/ (make sample); skipped")

    res = Results(
        rows=args.rows,
        repeat=args.repeat,
        indicators=ids,
        floors=floors,
        colds=colds,
        warms=warms,
        gen_seconds=gen_seconds,
        file_mib=parquet.stat().st_size / 2**20,
        sample_full=sample_full,
        sample_floor=sample_floor,
        sample_indicators=n_sample,
        sample_sources=n_sources,
        sample_rows=sample_rows,
        problems=problems,
    )
    log("trace: one cold compute, step by step (python -m bench.trace)")
    p = subprocess.run(
        [sys.executable, "-m", "bench.trace", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    res.trace = p.stdout.strip() if p.returncode == 0 else f"(bench.trace failed: {p.stderr.strip()[-300:]})"
    print(tables(res))
    print()
    print(res.trace)
    if args.write_doc:
        cmd = [".venv/bin/python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)]
        write_doc(res, cmd, started, via_make=bool(os.environ.get("MAKELEVEL")))
    if args.profile:
        profile(config, out)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
