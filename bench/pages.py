"""How long the cockpit's pages take on the server, on the sample city (``make bench-pages``).

Each page is run in-process by Streamlit's ``AppTest`` (the script run a
browser's request triggers: the router, then the page), so what is timed is
server time, without the network or the browser's drawing. Figures:

* **warm rerun**: the page run again with its caches full (what a click or
  a filter change costs); the median of ``--repeat`` runs;
* **cold start**: a new session after clearing Streamlit's caches, with the
  engine's store on disk (a restarted server: "after the data is ready"),
  and once more without the store (``COCKPIT_NO_CACHE=1``: every source
  queried again);
* a **reference** in the same run: a trivial page (a title and one metric)
  through the same ``AppTest``, so that the ratio says how much of a page's
  time is the cockpit's and how much Streamlit's own; the machine is shared
  and noisy, the ratio moves less than the milliseconds.

Goals (issue 5): a warm rerun of the overview within 300 ms, a cold start
within 3 s. ``--write-doc`` puts the table into ``docs/benchmarks.md``
between the ``pages`` markers, which ``bench.run`` keeps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- pages:start -->", "<!-- pages:end -->"
PAGES = [
    ("一屏总览", None),
    ("排名", "pages/rankings.py"),
    ("指标详情", "pages/detail.py"),
    ("指标考核", "pages/assess.py"),
    ("一张图", "pages/map.py"),
    ("特别呈报", "pages/inbox.py"),
    ("数据通报", "pages/bulletins.py"),
    ("指标目录", "pages/catalogue.py"),
    ("数据健康", "pages/health.py"),
    ("数据填报", "pages/forms.py"),
]
GOAL_WARM_MS, GOAL_COLD_S = 300, 3.0
TRIVIAL = 'import streamlit as st\nst.title("参考页")\nst.metric("参考", 1)\n'


def _clear() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def _timed_run(at) -> float:
    t = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t
    if at.exception:
        raise RuntimeError(f"page raised: {at.exception[0].message}")
    return elapsed


def _app(page: str | None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
    if page:
        at.switch_page(page)
    return at


def measure(repeat: int) -> dict[str, object]:
    from streamlit.testing.v1 import AppTest

    os.environ.setdefault("COCKPIT_CONFIG", str(REPO / "indicators.yaml"))
    os.chdir(REPO)
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trivial = Path(tmp) / "trivial.py"
        trivial.write_text(TRIVIAL, encoding="utf-8")
        ref = AppTest.from_file(str(trivial))
        _timed_run(ref)
        out["reference_ms"] = 1000 * statistics.median(_timed_run(ref) for _ in range(repeat))

    # cold: a new session, Streamlit's caches empty, the engine's store on disk (filled first)
    _clear()
    _timed_run(_app(None))
    colds = []
    for _ in range(max(1, repeat // 3)):
        _clear()
        colds.append(_timed_run(_app(None)))
    out["cold_s"] = statistics.median(colds)
    os.environ["COCKPIT_NO_CACHE"] = "1"
    try:
        _clear()
        out["cold_nostore_s"] = _timed_run(_app(None))
    finally:
        del os.environ["COCKPIT_NO_CACHE"]

    rows = []
    for name, page in PAGES:
        at = _app(page)
        first = _timed_run(at)  # fills this page's own caches (forecasts, contributions, bulletins)
        warm = [_timed_run(at) for _ in range(repeat)]
        med = statistics.median(warm)
        rows.append((name, page or "pages/overview.py", first, med, min(warm), max(warm)))
    out["pages"] = rows
    return out


def table(res: dict[str, object]) -> str:
    ref = float(res["reference_ms"])  # type: ignore[arg-type]
    lines = [
        "| page | first run in a warm process (s) | warm rerun, median (ms) | min–max (ms) | × reference |",
        "|---|---|---|---|---|",
    ]
    for name, page, first, med, lo, hi in res["pages"]:  # type: ignore[union-attr]
        lines.append(
            f"| {name} (`{page}`) | {first:.2f} | {1000 * med:.0f} | {1000 * lo:.0f}–{1000 * hi:.0f} | "
            f"{1000 * med / ref:.1f} |"
        )
    return "\n".join(lines)


def summary(res: dict[str, object]) -> tuple[str, bool, bool]:
    overview = next(r for r in res["pages"] if r[0] == "一屏总览")  # type: ignore[union-attr]
    warm_ms = 1000 * overview[3]
    cold = float(res["cold_s"])  # type: ignore[arg-type]
    warm_ok, cold_ok = warm_ms <= GOAL_WARM_MS, cold <= GOAL_COLD_S
    text = (
        f"- overview, warm rerun: **{warm_ms:.0f} ms** (goal ≤ {GOAL_WARM_MS} ms: {'met' if warm_ok else 'missed'})\n"
        f"- overview, cold start with the engine's store on disk: **{cold:.2f} s** "
        f"(goal ≤ {GOAL_COLD_S:g} s: {'met' if cold_ok else 'missed'})\n"
        f"- overview, cold start without the store (every source queried): {float(res['cold_nostore_s']):.2f} s\n"  # type: ignore[arg-type]
        f"- reference (a trivial page through the same AppTest): {float(res['reference_ms']):.1f} ms"  # type: ignore[arg-type]
    )
    return text, warm_ok, cold_ok


def write_doc(res: dict[str, object], argv: list[str], repeat: int) -> None:
    import platform

    text, _, _ = summary(res)
    section = f"""{START}
## Pages: server time on the sample city

Written by `make bench-pages` (`python -m bench.pages {" ".join(argv)}`) on
{dt.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, Python {platform.python_version()}.
Each page is run by Streamlit's `AppTest` in one process (server time: the router and the page,
no network, no browser); warm figures are the median of {repeat} reruns with the caches full.
See `bench/pages.py` for the method.

{text}

{table(res)}
{END}"""
    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if START in doc and END in doc:
        doc = doc[: doc.index(START)] + section + doc[doc.index(END) + len(END) :]
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(doc, encoding="utf-8")
    print(f"wrote {DOC.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=9, help="warm reruns per page (default %(default)s)")
    ap.add_argument("--write-doc", action="store_true", help="write the figures into docs/benchmarks.md")
    args = ap.parse_args(argv)
    if not (REPO / "data" / ".sample-stamp").exists():
        print("no sample city: run `make sample` first", file=sys.stderr)
        return 2
    res = measure(args.repeat)
    text, warm_ok, cold_ok = summary(res)
    print(text)
    print()
    print(table(res))
    if args.write_doc:
        write_doc(res, [a for a in argv if a != "--write-doc"], args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
