"""Golden files for what people read: a 特别呈报 and its 已恢复, a 数据通报 and its push.

A small fixed city (two districts, one value per district and month from 2025-01, as in
``test_alerts.py``) goes through the real paths: ``alerts.run.run`` with ``now`` given and the
deliveries captured (a fire in October 2026, the resolve when November's figure is back above
target, and the declared bulletin's push), then ``build_bulletin`` and ``render`` for October in
Markdown and HTML. Each text is compared with its file under ``tests/golden/push/``.

The files are regenerated, never edited by hand::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_push.py

and the diff is reviewed like code. A missing file fails the test (it is not written silently).

The HTML keeps everything but the charts' drawing: each ``<svg …>…</svg>`` becomes
``<svg aria-label="…">…</svg>``, because vl-convert lays text out with the fonts of the machine
(Noto Sans CJK SC here), so the SVG's bytes depend on the fonts installed. Two renderings on one
machine must still be identical, and the chart's own content is checked separately.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest

from alerts.bulletin import build_bulletin, render
from alerts.run import run
from metrics.catalogue.load import load_catalogue

GOLDEN = Path(__file__).parent / "golden" / "push"
MAX_GOLDEN_BYTES = 16_000  # what people read, not a dump: a few KB (the HTML is about 12 KB)
OCTOBER = dt.datetime(2026, 11, 5, 8, 0)  # the first run: data up to 2026-10
NOVEMBER = dt.datetime(2026, 12, 3, 8, 0)  # the second: 2026-11 has arrived

CONFIG = """\
version: 1
site: {title: 测试驾驶舱, base_url: "http://cockpit.test"}
org:
  regions: {id: "100", name: 测试市, children: [{id: "101", name: 东区}, {id: "102", name: 西区}]}
  departments: [{id: zw, name: 市政务办}]
sources:
  s: {type: csv, path: data.csv}
channels:
  robot: {type: webhook, url: "http://127.0.0.1:9/hook", format: json}
indicators:
  - id: rate
    name: 按时办结率
    domain: 政务服务效能
    unit: "%"
    owner: zw
    source: s
    time: {column: month, grain: month}
    region: region
    measure: {type: mean, column: v}
    target: 90
    thresholds: {green: 90, yellow: 85}
    alerts:
      - {name: 按时办结率红灯, when: "status = 'red'", level: special, notify: [robot]}
  - id: days
    name: 平均办理时长
    domain: 政务服务效能
    unit: 天
    source: s
    time: {column: month, grain: month}
    region: region
    measure: {type: mean, column: d}
    direction: lower_better
    thresholds: {green: 3, yellow: 5}
bulletins:
  - {id: monthly, name: 测试市政务服务月报, rhythm: monthly, notify: [robot]}
"""


def months(first: str, n: int) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m + 1) if m < 12 else (y + 1, 1)
    return out


# 2025-01 … 2026-10, slipping: 东区 from 96 % to 93 %, 西区 from 92 % to 83.1 % (red in October).
# 测试市 is the mean of the two: 88.05 % in October (yellow), and by the trend about 87 % in
# December, far from its 90 % target.
PERIODS = months("2025-01", 22)
NOISE = [0.3, -0.5, 0.1, 0.6, -0.2, -0.4, 0.5, 0.0, -0.6, 0.2, 0.4, -0.1, -0.3, 0.6, -0.5, 0.1, 0.3, -0.2]
NOISE += [0.0, 0.5, -0.4, 0.2]
EAST = [round(96 - 0.15 * k + NOISE[k], 1) for k in range(22)]
WEST = [round(92 - 0.45 * k + 2 * NOISE[21 - k], 1) for k in range(22)]
EAST_DAYS = [2.5 + (0.1, 0.0, -0.1)[k % 3] for k in range(22)]
WEST_DAYS = [3.0] * 16 + [3.4, 3.8, 4.2, 4.6, 5.0, 5.4]


def write_city(folder: Path, november: bool = False) -> Path:
    lines = ["month,region,v,d"]
    for k, p in enumerate(PERIODS):
        lines.append(f"{p}-01,101,{EAST[k]:.1f},{EAST_DAYS[k]:.1f}")
        lines.append(f"{p}-01,102,{WEST[k]:.1f},{WEST_DAYS[k]:.1f}")
    if november:  # 西区 back above target: the alert resolves
        lines += ["2026-11-01,101,95.2,2.5", "2026-11-01,102,92.6,3.1"]
    (folder / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = folder / "indicators.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/golden/push/NAME``; write it instead when UPDATE_GOLDEN=1."""
    path = GOLDEN / name
    assert len(text.encode("utf-8")) < MAX_GOLDEN_BYTES, f"{name} is {len(text.encode())} bytes"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 .venv/bin/pytest {Path(__file__).name}"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden file (UPDATE_GOLDEN=1 to regenerate)"


def push_text(message: Any) -> str:
    """A pushed message as a reader gets it: the title, the level, the link, the Markdown body."""
    return f"title: {message.title}\nlevel: {message.level}\nlink: {message.link}\n\n{message.markdown}\n"


SVG = re.compile(r"<svg\b[^>]*>.*?</svg>", re.S)
LABEL = re.compile(r'aria-label="[^"]*"')


def without_charts(html: str) -> str:
    """Each chart's SVG reduced to its accessible name: ``<svg aria-label="…">…</svg>``."""

    def keep_label(m: re.Match[str]) -> str:
        label = LABEL.search(m.group(0))
        return f"<svg {label.group(0)}>…</svg>" if label else "<svg>…</svg>"

    return SVG.sub(keep_label, html)


# ----------------------------------------------------------------- pushes


@pytest.fixture(scope="module")
def pushes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    """The messages of two alert runs, by level: October's fire and bulletin, November's resolve."""
    folder = tmp_path_factory.mktemp("golden_push")
    sent: list[Any] = []

    def send(name: str, channel: Any, message: Any) -> str:
        sent.append(message)
        return "ok"

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COCKPIT_NO_CACHE", "1")
        state = folder / "state.db"
        run(
            load_catalogue(write_city(folder)), now=OCTOBER, state_path=state, send=send, sleep=lambda _: None
        )
        first = list(sent)
        write_city(folder, november=True)
        run(load_catalogue(folder / "indicators.yaml"), now=NOVEMBER, state_path=state, send=send)
        second = sent[len(first) :]
    return {
        "fire": [m for m in first if m.level == "special"],
        "bulletin": [m for m in first if m.level == "bulletin"],
        "resolve": [m for m in second if m.level == "resolved"],
        "later": [m for m in second if m.level == "special"],
    }


def test_special_report_fire(pushes: dict[str, list[Any]]) -> None:
    assert len(pushes["fire"]) == 1  # 西区 only: 测试市 is yellow and 东区 green
    check_golden("alert_fire.md", push_text(pushes["fire"][0]))


def test_special_report_resolve(pushes: dict[str, list[Any]]) -> None:
    assert len(pushes["resolve"]) == 1 and pushes["later"] == []
    check_golden("alert_resolve.md", push_text(pushes["resolve"][0]))


def test_bulletin_push(pushes: dict[str, list[Any]]) -> None:
    assert len(pushes["bulletin"]) == 1
    check_golden("bulletin_push.md", push_text(pushes["bulletin"][0]))


# ----------------------------------------------------------------- the bulletin


@pytest.fixture(scope="module")
def bulletin(tmp_path_factory: pytest.TempPathFactory):
    cat = load_catalogue(write_city(tmp_path_factory.mktemp("golden_bulletin")))
    return build_bulletin(cat, bulletin_id="monthly", period="2026-10", now=OCTOBER)


def test_bulletin_markdown(bulletin) -> None:
    md = render(bulletin, "md")
    assert "年底目标预判（达标概率低于50%）" in md and "<svg" not in md
    check_golden("bulletin.md", md)


def test_bulletin_html(bulletin) -> None:
    html = render(bulletin, "html")
    assert html == render(bulletin, "html")  # the same bytes, charts included
    charts = SVG.findall(html)
    # 西区 is red, but charts are of the region's own lights: 测试市's yellow 按时办结率 and its
    # 平均办理时长 (4 天, yellow)
    assert [t.indicator for t in bulletin.trends] == ["rate", "days"] and len(charts) == 2
    assert "88.05%" in charts[0] and "目标 90%" in charts[0] and "2026年1月" in charts[0]
    assert not re.search(r"<(script|link|img|image)\b|src=|href=", "".join(charts))
    check_golden("bulletin.html", without_charts(html))
