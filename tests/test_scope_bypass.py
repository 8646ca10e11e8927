"""A county leader sees their county and nothing beside it (contract section 9, issue 6): every way around.

One small city, written once for the module: 测试市 (440300) with two districts, 东区 (440305, two
towns) and 西区 (440306, one town), two departments, a 敏感 hotline source with callers' names,
phones and ID numbers, alert rules that fire in both districts (run once, no channels), three
declared bulletins (the city's, 西区's own, and one of the 民情反映 domain), an assessment over
the districts and a GeoJSON. The ``access`` block has 张区长 (东区 only), 王秘书长 (the whole city,
audit grant) and 李科长 (staff, the whole city, 政务服务效能 only). They sign in with local passwords
(AccountStore) through the sign-in form, as a user does; the command line runs as a subprocess.

A leak is looked for everywhere a user could read it: every string of every element a run sent
(markdown, titles, captions, metrics, dataframes, chart specs and their datasets, pickers'
options, page links, the bulletin's iframe, the sidebar), and every download's bytes (CSV as text,
Excel cell by cell). The marks of 西区 are its name, its town's name, its id (also the prefix of
its town's id) and its callers' masked names (西*). A control test shows that the same search does
find 西区 for the city's leader, so a blind search cannot pass for a tight scope.

bypass → what it got:

| bypass | what it got |
|---|---|
| ``?region=440306`` (西区) typed on 总览, 详情, 排名, 一张图, 领域, 通报, 考核 | "地区 440306 不存在或不在您的权限范围内" and the default view (东区); no 西区 anywhere on the page |
| direct URL to every page, bare and with 西区's region, alert, bulletin, subject, ``by=department`` | every page renders within 东区, no department row; the audit log's path (not in his navigation) opens the overview |
| 排名 / 一张图 with the city as parent; 排名 ``by=department`` | warning; 东区's towns ranked and drawn instead, no 返回上级 to the city; departments refused, no department row |
| 考核 scoreboard | one row, 东区, with its rank among all (2); 西区 named nowhere, not in the catch-up sentence; ``?subject=440306`` warned |
| CSV / Excel exports (排名, 考核, 明细) | only 东区's rows, 明细 masked; no 审计日志 export (no grant, no page) |
| 数据通报 page downloads, ``cockpit bulletin --as zhang`` | 东区's bulletin: no 西区, no department table; 西区月报 not offered and ``?bulletin=west_monthly`` reads as unknown (fixed); ``--region 440306`` / ``440300`` / ``--bulletin west_monthly`` exit 2 |
| 特别呈报 ``?alert=<西区's id>``; ``inbox.act`` / ``history`` with zhang's scope; ``cockpit alerts list --as zhang``; ``alerts ack --user zhang`` | "预警 … 不存在或不在您的权限范围内"; InboxError "no alert", item untouched, refusal audited; only 东区's items; exit 2 |
| ``--as zhang`` on compute / detect / bulletin / assess; ``--as`` an unknown user | only 东区 and its towns, no department row, 东区 rank 2 in the assessment; exit 2, "unknown user" |
| 李科长: ``?indicator=calls`` on 详情 / 排名 / 一张图; the other domain's page path, ``?domain=``; 总览; 通报 | "指标 calls 不存在或不在您的权限范围内", his own indicator instead; 民情反映 not in the navigation, its path opens the overview; 总览's counters, 变化最大 and 年底目标展望 hold his domain only (fixed); 民情反映月报 not offered (fixed) |
| 明细 (``metrics.records``, 详情 page) | only 东区's towns' records, names, mobiles and ID numbers masked; 西区, its town, the city, no region: empty view; unmask without the grant: masked, refusal audited; no 显示完整信息 toggle |
| any page before sign-in, deep links included | the sign-in form only: no metric, table, picker, chart, download or region name |

Fixed with this file: the 数据通报 page offered every declared bulletin (西区月报 to 张区长,
民情反映月报 to 李科长; ``pages/bulletins.py``); the overview counted and listed other domains'
indicators in 红灯指标 and 变化最大 (``metrics/views.py``) and forecast them in 年底目标展望, cached
without the scope (``cockpit/ui.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import streamlit as st
from google.protobuf.message import Message
from servers import REPO_ROOT, run_cli
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from alerts import inbox
from alerts.inbox import InboxError
from alerts.run import default_state_path, run
from cockpit.auth import AccountStore
from cockpit.ui import domain_slug
from metrics import audit, records
from metrics.access import scope_for
from metrics.catalogue.load import load_catalogue

APP = str(REPO_ROOT / "app.py")
NOW = dt.datetime(2026, 11, 5, 8, 0)
PASSWORDS = {"zhang": "zhang-pass-2026", "li": "li-pass-2026", "wang": "wang-pass-2026"}

CITY, EAST, WEST = "440300", "440305", "440306"
E1, E2, W1 = "440305001", "440305002", "440306001"
TOWNS = {E1: "东一街道", E2: "东二街道", W1: "西一街道"}
EAST_IDS = {EAST, E1, E2}
LATEST = "2026-10"
# what would betray 西区: its name, its town's name, its id (its town's id starts with it), its callers (西**)
WEST_MARKS = ("西区", "西一街道", WEST, "西*")
DEPT_ROW = "市公安局"  # a department that owns nothing: its name shows only in a department row
OTHER_DOMAIN = "民情反映"
OTHER_INDICATOR = "12345来电量"

ACCESS = f"""\
access:
  users:
    - {{id: zhang, name: 张区长, role: leader, regions: ["{EAST}"]}}
    - {{id: wang, name: 王秘书长, role: leader, regions: ["{CITY}"], grants: [audit]}}
    - {{id: li, name: 李科长, role: staff, regions: ["{CITY}"], domains: [政务服务效能]}}
  sign_in:
    local: {{}}
"""

CONFIG = f"""\
version: 1
site: {{title: 测试市驾驶舱, base_url: "http://cockpit.test"}}
org:
  regions:
    id: "{CITY}"
    name: 测试市
    children:
      - {{id: "{EAST}", name: 东区, children: [{{id: "{E1}", name: 东一街道}}, {{id: "{E2}", name: 东二街道}}]}}
      - {{id: "{WEST}", name: 西区, children: [{{id: "{W1}", name: 西一街道}}]}}
  departments: [{{id: zw, name: 市政务办}}, {{id: ga, name: 市公安局}}]
  geojson: data/org.geojson
sources:
  cases: {{type: csv, path: data/cases.csv}}
  hotline:
    type: csv
    path: data/hotline.csv
    classification: 敏感
    columns:
      caller_name: {{mask: name}}
      caller_phone: {{mask: mobile}}
      caller_id_number: {{mask: id_number}}
indicators:
  - id: ontime_rate
    name: 按时办结率
    domain: 政务服务效能
    unit: "%"
    owner: zw
    key: true
    source: cases
    time: {{column: day, grain: month}}
    region: region
    department: dept
    measure: {{type: ratio, numerator: {{agg: count, where: "ontime = 1"}}, denominator: {{agg: count}}, scale: 100}}
    target: 90
    thresholds: {{green: 90, yellow: 85}}
    alerts:
      - {{when: "status = 'red'", level: special}}
      - {{when: "status = 'red'", level: bulletin, name: 办结率红灯}}
  - id: cases
    name: 办件量
    domain: 政务服务效能
    unit: 件
    source: cases
    time: {{column: day, grain: month}}
    region: region
    department: dept
    measure: {{type: count}}
  - id: calls
    name: {OTHER_INDICATOR}
    domain: {OTHER_DOMAIN}
    unit: 件
    key: true
    source: hotline
    time: {{column: day, grain: month}}
    region: region
    measure: {{type: count}}
    direction: lower_better
    target: 20
    thresholds: {{green: 20, yellow: 30}}
bulletins:
  - {{id: city_monthly, name: 测试市月度通报, rhythm: monthly, region: "{CITY}"}}
  - {{id: west_monthly, name: 西区月报, rhythm: monthly, region: "{WEST}"}}
  - {{id: hotline_monthly, name: {OTHER_DOMAIN}月报, rhythm: monthly, domains: [{OTHER_DOMAIN}]}}
assessments:
  - id: kh2026
    name: 2026年度政务服务考核
    subjects: regions
    items:
      - {{indicator: ontime_rate, weight: 100, floor: 50, target: 95}}
{ACCESS}"""


def months(first: tuple[int, int] = (2025, 1), last: tuple[int, int] = (2026, 10)) -> list[str]:
    out, (y, m) = [], first
    while (y, m) <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m + 1) if m < 12 else (y + 1, 1)
    return out


def _square(x: float, y: float, size: float = 1.0) -> dict[str, Any]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def write_city(folder: Path) -> Path:
    """The city's CSV sources, GeoJSON and config.

    办件 (cases): ten a month per town and department, 90–100 % on time until the latest month,
    when 东一街道 has 7, 东二街道 5 and 西一街道 8 of 10 on time: both districts red (东区 60 %,
    西区 80 %), 西区 ahead in the assessment. 12345 calls: six to eight a month per town, twelve
    in the latest month (the largest 同比 of all), each with a caller's name, mobile and ID number
    (西区's callers are 西门吹雪, masked 西***).
    """
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    cases = ["day,region,dept,ontime"]
    calls = ["day,region,caller_name,caller_phone,caller_id_number,kind"]
    all_months = months()
    last_on = {E1: 7, E2: 5, W1: 8}
    for k, p in enumerate(all_months):
        for town in TOWNS:
            for dept in ("zw", "ga"):
                on = last_on[town] if p == LATEST else 9 + k % 2
                cases += [f"{p}-{j + 1:02d},{town},{dept},{int(j < on)}" for j in range(10)]
            caller = "西门吹雪" if town == W1 else "张三丰"
            for j in range(12 if p == LATEST else 6 + k % 3):  # the latest month doubles
                calls.append(
                    f"{p}-{j + 1:02d},{town},{caller},139{town[-4:]}{j:04d},"
                    f"1101011990030{town[-1]}{j:04d},{'水务' if j % 2 else '噪音'}"
                )
    (data / "cases.csv").write_text("\n".join(cases) + "\n", encoding="utf-8")
    (data / "hotline.csv").write_text("\n".join(calls) + "\n", encoding="utf-8")
    # squares: 西区 (and its one town) left of 东区, whose two towns split it
    shapes = [(WEST, "西区", 112, 2), (W1, "西一街道", 112, 2), (EAST, "东区", 114, 2)]
    shapes += [(E1, "东一街道", 114, 1), (E2, "东二街道", 115, 1)]
    geo = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"id": rid, "name": name}, "geometry": _square(x, 22, size)}
            for rid, name, x, size in shapes
        ],
    }
    (data / "org.geojson").write_text(json.dumps(geo, ensure_ascii=False), encoding="utf-8")
    cfg = folder / "indicators.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    return cfg


# ----------------------------------------------------------------------------- the city, once


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The config of the city, its passwords set and its alerts run; the app runs on it.

    Streamlit's caches are process-wide and not keyed by ``COCKPIT_CONFIG``: cleared when the
    module starts and ends. Within the module every test reads the same city.
    """
    cfg = write_city(tmp_path_factory.mktemp("scope_city"))
    cat = load_catalogue(cfg)
    accounts = AccountStore.for_catalogue(cat)
    for user, password in PASSWORDS.items():
        accounts.set_password(user, password)
    report = run(cat, now=NOW)  # no channels: the instances and the inbox only
    assert not report.errors, report.errors
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COCKPIT_CONFIG", str(cfg))
        mp.delenv("COCKPIT_AUDIT_DB", raising=False)
        mp.chdir(REPO_ROOT)
        _clear_caches()
        yield cfg
    _clear_caches()


@pytest.fixture(scope="module")
def west_alert(city: Path) -> str:
    """The id of 西区's 特别呈报 (the inbox as the city sees it)."""
    cat = load_catalogue(city)
    found = inbox.items(cat, default_state_path(cat), level="special")
    assert {i.region for i in found} >= {EAST, WEST}, "the rule fires in both districts"
    return next(i.id for i in found if i.region == WEST)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """file name → bytes of every file a page offered for download (caught as Streamlit stores them)."""
    got: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self: Any, path_or_data: Any, mimetype: str, kind: Any, filename: str | None = None) -> str:
        if filename is not None and isinstance(path_or_data, bytes | str):
            got[filename] = path_or_data.encode("utf-8") if isinstance(path_or_data, str) else path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return got


# ----------------------------------------------------------------------------- sessions and what they show


def session() -> AppTest:
    """A fresh browser session on the router: the sign-in screen, the navigation registered."""
    at = AppTest.from_file(APP, default_timeout=120)
    return at.run()


def sign_in(at: AppTest, user: str) -> AppTest:
    at.text_input(key="_sign_in_account").input(user)
    at.text_input(key="_sign_in_password").input(PASSWORDS[user])
    at.button[0].click().run()
    assert not at.exception, problems(at)
    assert any(f"（{user}）" in c.value for c in at.sidebar.caption), f"{user} is not signed in"
    return at


def signed_in(user: str) -> AppTest:
    return sign_in(session(), user)


def _go(at: AppTest, params: dict[str, str]) -> AppTest:
    for k in list(at.query_params):
        del at.query_params[k]
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def open_page(at: AppTest, page: str, **params: str) -> AppTest:
    """Follow a link to ``pages/<page>.py`` with ``params`` typed in the address bar."""
    at.switch_page(f"pages/{page}.py")
    return _go(at, params)


def open_path(at: AppTest, url_path: str, **params: str) -> AppTest:
    """Type ``/<url_path>?params`` by hand: the page registered under that path, or the hash of a path
    the navigation does not know (Streamlit then opens the default page). The overview's path is ``""``."""
    known = {info.get("url_pathname"): h for h, info in at._registered_pages.items()}
    at._page_hash = known.get(url_path) or calc_hash(url_path)
    return _go(at, params)


def problems(at: AppTest) -> list[str]:
    return [f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception]


def _strings(msg: Message, out: list[str]) -> None:
    """Every string of a protobuf message, bytes (Arrow tables) decoded where they are UTF-8."""
    for field, value in msg.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            values = list(value.values())
            out.extend(str(k) for k in value)
        elif field.is_repeated:
            values = list(value)
        else:
            values = [value]
        for v in values:
            if isinstance(v, Message):
                _strings(v, out)
            elif isinstance(v, bytes):
                out.append(v.decode("utf-8", "ignore"))
            elif isinstance(v, str):
                out.append(v)
                if v[:1] in "{[":  # JSON (chart specs) escapes non-ASCII: read it back
                    try:
                        out.append(json.dumps(json.loads(v), ensure_ascii=False))
                    except ValueError:
                        pass


def rendered(at: AppTest) -> str:
    """Every string the session's last run sent to the browser, sidebar included."""
    out: list[str] = []
    for node in at._tree:
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            _strings(proto, out)
    for df in at.dataframe:
        out.append(df.value.to_csv())
    return "\n".join(out)


def west_in(text: str) -> list[str]:
    return [m for m in WEST_MARKS if m in text]


def leaks(at: AppTest, *typed: str) -> list[str]:
    """The marks of 西区 on the page, apart from a warning repeating what was typed ("地区 440306 不存在…")."""
    text = rendered(at)
    for value in typed:
        text = text.replace(f"{value} 不存在", "")
    return west_in(text)


def warnings(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


def xlsx_text(data: bytes) -> str:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(
        "\t".join("" if c is None else str(c) for c in row)
        for ws in wb.worksheets
        for row in ws.iter_rows(values_only=True)
    )


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def cli(city: Path, *commands: tuple[str, ...]) -> list[Any]:
    """Run ``cockpit`` commands on the city, side by side (a bulletin takes seconds to build)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: run_cli(*args, "--config", city, cwd=city.parent), commands))


# ----------------------------------------------------------------------------- the control


def test_control_the_city_leader_does_see_west_so_the_search_would_catch_a_leak(city: Path) -> None:
    at = open_page(signed_in("wang"), "rankings", indicator="ontime_rate", region=CITY, period=LATEST)
    assert not at.exception, problems(at)
    assert set(west_in(rendered(at))) >= {"西区", WEST}


# ----------------------------------------------------------------------------- 1. a region typed by hand

# page → the other parameters its view needs (an indicator of 张区长's, the latest period)
VIEWS = {
    "overview": {},
    "detail": {"indicator": "ontime_rate"},
    "rankings": {"indicator": "ontime_rate"},
    "map": {"indicator": "ontime_rate"},
    "bulletins": {},
    "assess": {},
}


@pytest.mark.parametrize("page", [*VIEWS, "domain"])
def test_hand_typed_region_of_the_sibling_county(city: Path, page: str) -> None:
    at = signed_in("zhang")
    if page == "domain":
        at = open_path(at, domain_slug("政务服务效能"), region=WEST)
    else:
        at = open_page(at, page, region=WEST, **VIEWS[page])
    assert not at.exception, problems(at)
    assert f"地区 {WEST} 不存在或不在您的权限范围内" in warnings(at)
    assert leaks(at, WEST) == []  # the warning repeats the id typed, and nothing else names 西区
    if page != "assess":  # the pages with a region picker fall back to 东区, and say so in the URL
        assert at.query_params["region"] == EAST
    assert "东区" in rendered(at)


# ----------------------------------------------------------------------------- 2. a page's URL typed by hand

DOMAINS = ("政务服务效能", OTHER_DOMAIN)  # 张区长 has no domain limit: both domain pages are his
PAGES = (
    "overview",
    "rankings",
    "detail",
    "assess",
    "map",
    "inbox",
    "bulletins",
    "catalogue",
    "health",
    "forms",
)


def hostile(west_alert: str) -> dict[str, str]:
    """Every parameter a page reads, aimed at 西区 or at what only the city may see."""
    return {
        "indicator": "ontime_rate",
        "region": WEST,
        "period": LATEST,
        "alert": west_alert,
        "bulletin": "west_monthly",
        "assessment": "kh2026",
        "subject": WEST,
        "by": "department",
    }


def test_direct_url_to_every_page_bare_and_with_west_parameters(city: Path, west_alert: str) -> None:
    at = signed_in("zhang")
    paths = {p: p for p in PAGES} | {d: domain_slug(d) for d in DOMAINS} | {"overview": ""}
    registered = {info.get("url_pathname") for info in at._registered_pages.values()}
    assert set(paths.values()) <= registered and "audit" not in registered
    typed = hostile(west_alert)
    for name, path in paths.items():
        for params in ({}, typed):
            at = open_path(at, path, **params)
            assert not at.exception, (name, params, problems(at))
            assert leaks(at, *typed.values()) == [], (name, params)
            assert DEPT_ROW not in "".join(df.value.to_csv() for df in at.dataframe), (
                name
            )  # no department row
    # the audit log is not in 张区长's navigation; its path typed by hand
    for params in ({}, {"user": "wang", "kind": "view"}):
        at = open_path(at, "audit", **params)
        assert not at.exception, problems(at)
        assert [t.value for t in at.title] == [
            "测试市驾驶舱 · 一屏总览"
        ]  # a path he does not have: the default page
        assert not at.get("download_button") and leaks(at) == []


# ----------------------------------------------------------------------------- 3. a ranking that would name a sibling


def test_ranking_with_the_city_as_parent(city: Path) -> None:
    at = open_page(signed_in("zhang"), "rankings", indicator="ontime_rate", region=CITY, period=LATEST)
    assert not at.exception, problems(at)
    assert f"地区 {CITY} 不存在或不在您的权限范围内" in warnings(at)  # the city reads like no region at all
    (table,) = at.dataframe
    assert table.value["地区"].tolist() == ["东一街道", "东二街道"]  # 东区's towns instead, 70 % and 50 %
    assert table.value["排名"].tolist() == ["1", "2"]
    assert at.query_params["region"] == EAST
    assert leaks(at) == [] and "测试市 下辖" not in rendered(at)
    # departments are ranked at the root only: refused to a county scope, no department row
    at = open_page(at, "rankings", indicator="ontime_rate", by="department", period=LATEST)
    assert not at.exception, problems(at)
    assert any("您的权限范围不含部门排名" in i.value for i in at.info)
    assert at.dataframe[0].value["地区"].tolist() == ["东一街道", "东二街道"]
    assert leaks(at) == [] and "市政务办" not in rendered(at) and DEPT_ROW not in rendered(at)
    # 一张图 of the city's children: 东区's towns are drawn, no other shape, no 返回上级 to the city
    at = open_page(signed_in("zhang"), "map", indicator="ontime_rate", region=CITY, period=LATEST)
    assert not at.exception, problems(at)
    assert f"地区 {CITY} 不存在或不在您的权限范围内" in warnings(at)
    assert at.dataframe[0].value["地区"].tolist() == ["东一街道", "东二街道"]
    assert not [b for b in at.button if b.label.startswith("返回上级")]
    assert leaks(at) == [] and "测试市" not in rendered(at).replace("测试市驾驶舱", "")


def test_assessment_scoreboard_keeps_the_rank_and_names_no_sibling(city: Path) -> None:
    at = open_page(signed_in("zhang"), "assess", assessment="kh2026", period=LATEST, subject=WEST)
    assert not at.exception, problems(at)
    assert f"考核对象 {WEST} 不存在或不在您的权限范围内" in warnings(at)
    board = at.dataframe[0].value
    assert board["地区"].tolist() == ["东区"]
    assert board["名次"].tolist() == [2]  # 西区 (80 %) is first: the rank among all is kept, the name is not
    assert any("名次按全部考核对象计算" in c.value for c in at.caption)
    assert [m.value for m in at.metric][:2] == ["22.22", "第 2 名"]
    text = rendered(at)
    assert "追上第1名需再得" in text  # the catch-up sentence says the rank to reach, never whose
    assert leaks(at, WEST) == []


# ----------------------------------------------------------------------------- 4. CSV and Excel exports


def _only(downloads: dict[str, bytes], end: str) -> bytes:
    (name,) = [n for n in downloads if n.endswith(end)]
    return downloads.pop(name)


def test_csv_and_excel_exports_hold_no_west_row(city: Path, downloads: dict[str, bytes]) -> None:
    at = signed_in("zhang")
    # 排名, with 西区 typed as the parent: the export is of 东区's towns
    at = open_page(at, "rankings", indicator="ontime_rate", region=WEST, period=LATEST)
    assert not at.exception, problems(at)
    rows = csv_rows(_only(downloads, ".csv"))
    head = next(i for i, r in enumerate(rows) if r[:3] == ["排名", "代码", "地区"])
    assert [r[1:3] for r in rows[head + 1 :]] == [[E1, "东一街道"], [E2, "东二街道"]]
    for text in ("\n".join(",".join(r) for r in rows), xlsx_text(_only(downloads, ".xlsx"))):
        assert west_in(text) == [] and "东一街道" in text
    # 考核: one row, 东区, rank 2
    at = open_page(at, "assess", assessment="kh2026", period=LATEST)
    assert not at.exception, problems(at)
    board = csv_rows(_only(downloads, ".csv"))
    head = next(i for i, r in enumerate(board) if r[:3] == ["名次", "代码", "地区"])
    assert [r[:3] for r in board[head + 1 :]] == [["2", EAST, "东区"]]
    for text in ("\n".join(",".join(r) for r in board), xlsx_text(_only(downloads, ".xlsx"))):
        assert west_in(text) == [] and "东区" in text
    # 明细 of the 12345 calls, 西区 typed: 东区's towns' records, masked
    at = open_page(at, "detail", indicator="calls", region=WEST, period=LATEST)
    assert not at.exception, problems(at)
    assert at.query_params["region"] == EAST
    recs = csv_rows(_only(downloads, ".csv"))
    head = next(i for i, r in enumerate(recs) if "caller_name" in r)
    body = [dict(zip(recs[head], r, strict=True)) for r in recs[head + 1 :]]
    assert body and {r["region"] for r in body} == {E1, E2}
    assert {r["caller_name"] for r in body} == {"张**"} and all("****" in r["caller_phone"] for r in body)
    assert west_in("\n".join(",".join(r) for r in recs)) == []
    # 审计日志: 张区长 has no audit grant, so no log and no export
    at = open_path(at, "audit")
    assert not at.exception, problems(at)
    assert not at.get("download_button") and not [n for n in downloads if n.startswith("审计日志")]


# ----------------------------------------------------------------------------- 5. a bulletin


def test_bulletin_page_downloads_and_cli_as_zhang(city: Path, downloads: dict[str, bytes]) -> None:
    at = open_page(signed_in("zhang"), "bulletins", region=WEST)
    assert not at.exception, problems(at)
    assert at.query_params["region"] == EAST
    offered = at.selectbox(key="pick_bulletin").options
    assert offered[1:] == ["测试市月度通报（月报）", f"{OTHER_DOMAIN}月报（月报）"]  # not 西区月报
    md, html = _only(downloads, ".md").decode(), _only(downloads, ".html").decode()
    for text in (md, html):
        assert "东一街道" in text and west_in(text) == []
        assert DEPT_ROW not in text and "部门排名" not in text  # departments only in the root's bulletin
    assert leaks(at, WEST) == []
    # 西区's own bulletin typed by hand reads as unknown: the full bulletin, narrowed to 东区, instead
    at = open_page(signed_in("zhang"), "bulletins", bulletin="west_monthly")
    assert not at.exception, problems(at)
    assert "通报 west_monthly 不存在" in warnings(at)
    assert at.query_params.get("bulletin") is None and leaks(at, "west_monthly") == []
    # the city's monthly bulletin is narrowed to 东区
    downloads.clear()
    at = open_page(signed_in("zhang"), "bulletins", bulletin="city_monthly")
    assert not at.exception, problems(at)
    md = _only(downloads, ".md").decode()
    assert md.startswith("# 测试市月度通报（东区）")
    assert "东区" in md and west_in(md) == [] and DEPT_ROW not in md

    # `cockpit bulletin --as zhang` (the full bulletin) is run with the other `--as` commands below
    refused = (("--region", WEST), ("--bulletin", "west_monthly"), ("--region", CITY))
    declared, *others = cli(
        city,
        ("bulletin", "--as", "zhang", "--bulletin", "city_monthly", "--format", "html"),
        *[("bulletin", "--as", "zhang", *args) for args in refused],
    )
    assert declared.returncode == 0, declared.stderr
    assert (
        "东一街道" in declared.stdout and west_in(declared.stdout) == [] and DEPT_ROW not in declared.stdout
    )
    for args, done in zip(refused, others, strict=True):
        assert done.returncode == 2 and not done.stdout, (args, done.stdout)
        assert "zhang" in done.stderr and "Traceback" not in done.stderr


# ----------------------------------------------------------------------------- 6. an inbox item from another county


def test_inbox_item_of_the_sibling_county(city: Path, west_alert: str) -> None:
    at = open_page(signed_in("zhang"), "inbox", alert=west_alert)
    assert not at.exception, problems(at)
    assert f"预警 {west_alert} 不存在或不在您的权限范围内" in warnings(at)
    listed = at.dataframe[0].value
    assert set(listed["地区"]) == {"东区", "东一街道", "东二街道"} and west_alert not in set(listed["编号"])
    assert at.selectbox(key="pick_alert").value != west_alert
    assert leaks(at, west_alert) == []

    cat = load_catalogue(city)
    db, zhang = default_state_path(cat), scope_for(cat, "zhang")
    for action, kw in (("acknowledge", {}), ("assign", {"department": "zw"}), ("close", {})):
        with pytest.raises(InboxError, match="no alert"):
            inbox.act(cat, db, west_alert, action, user="zhang", now=NOW, scope=zhang, **kw)
    with pytest.raises(InboxError, match="no alert"):
        inbox.history(cat, db, west_alert, zhang)
    west = next(i for i in inbox.items(cat, db) if i.id == west_alert)
    assert west.handling == "new"  # untouched
    refused = audit.search(cat, user="zhang", kind="inbox", text=west_alert)
    assert refused and all(e.details["outcome"].startswith("refused: no alert") for e in refused)

    listing, ack = cli(
        city,
        ("alerts", "list", "--as", "zhang", "--format", "json"),
        ("alerts", "ack", west_alert, "--user", "zhang", "--now", NOW.isoformat()),
    )
    assert listing.returncode == 0, listing.stderr
    assert {i["region"] for i in json.loads(listing.stdout)} == EAST_IDS
    assert west_in(listing.stdout) == []
    assert ack.returncode == 2 and "no alert" in ack.stderr and not ack.stdout


# ----------------------------------------------------------------------------- 7. --as


def test_as_zhang_on_compute_detect_bulletin_assess_and_an_unknown_user(city: Path) -> None:
    commands = [
        ("compute", "--format", "json"),
        ("compute", "--format", "csv", "--period", LATEST),
        ("detect", "--format", "json"),
        ("assess", "--format", "json"),
        ("bulletin", "--format", "md"),
    ]
    done = cli(city, *[(*c, "--as", "zhang") for c in commands], *[(*c, "--as", "zhao") for c in commands])
    compute_json, compute_csv, detect, assess, bulletin = done[: len(commands)]
    for d in done[: len(commands)]:
        assert d.returncode == 0, d.stderr
        assert west_in(d.stdout) == []
    rows = json.loads(compute_json.stdout)
    assert {r["region"] for r in rows} == EAST_IDS and all(r["department"] is None for r in rows)
    table = list(csv.DictReader(io.StringIO(compute_csv.stdout)))
    assert table and {r["region"] for r in table} == EAST_IDS and not any(r["department"] for r in table)
    assert {f["region"] for f in json.loads(detect.stdout)} <= EAST_IDS
    scores = json.loads(assess.stdout)
    assert {(s["region"], s["rank"]) for s in scores if s["period"] == LATEST} == {(EAST, 2)}
    assert {s["region"] for s in scores} == {EAST}
    assert bulletin.stdout.startswith("# 测试市驾驶舱数据通报（东区）")
    assert (
        "东一街道" in bulletin.stdout
        and DEPT_ROW not in bulletin.stdout
        and "部门排名" not in bulletin.stdout
    )
    for command, d in zip(commands, done[len(commands) :], strict=True):
        assert d.returncode == 2, (command, d.returncode, d.stderr)
        assert "unknown user 'zhao'" in d.stderr and "zhang" in d.stderr  # did you mean
        assert not d.stdout and "Traceback" not in d.stderr


# ----------------------------------------------------------------------------- 8. the domain limit


def other_domain(at: AppTest, *typed: str) -> list[str]:
    """What names 民情反映 or its indicator on the page, apart from a warning repeating what was typed."""
    text = rendered(at)
    for value in typed:
        text = text.replace(f"{value} 不存在", "")
    return [m for m in (OTHER_DOMAIN, OTHER_INDICATOR, "indicator=calls", "hotline") if m in text]


def test_one_domain_staff_cannot_open_another_domains_indicator(city: Path) -> None:
    at = signed_in("li")
    assert list(at.session_state["_domain_pages"].values()) == ["政务服务效能"]
    registered = {info.get("url_pathname") for info in at._registered_pages.values()}
    assert domain_slug("政务服务效能") in registered and domain_slug(OTHER_DOMAIN) not in registered
    # the overview he lands on: counters, 变化最大 and 年底目标展望 of his domain only
    assert other_domain(at) == []
    assert (
        at.metric[0].label == "红灯指标" and at.metric[0].value == "1"
    )  # 按时办结率; 12345来电量 is red too
    assert set(at.dataframe[0].value["指标"]) == {"按时办结率"}  # not the calls' +100 %
    assert [p.label for p in at.get("page_link") if "达标概率" in p.label] == [
        "🟢 按时办结率：达标概率约 85%"
    ]
    for page in ("detail", "rankings", "map"):
        at = open_page(signed_in("li"), page, indicator="calls", region=CITY, period=LATEST)
        assert not at.exception, (page, problems(at))
        assert "指标 calls 不存在或不在您的权限范围内" in warnings(at), page
        assert at.query_params["indicator"] == "ontime_rate", page  # his own indicator instead
        assert other_domain(at, "calls") == [], page
        assert at.selectbox(key="pick_indicator").options == [
            "按时办结率（政务服务效能）",
            "办件量（政务服务效能）",
        ]
    # the other domain's page, its path typed by hand, or asked for with ?domain= on his own
    at = open_path(signed_in("li"), domain_slug(OTHER_DOMAIN))
    assert not at.exception, problems(at)
    assert [t.value for t in at.title] == ["测试市驾驶舱 · 一屏总览"] and other_domain(at) == []
    at = open_path(at, domain_slug("政务服务效能"), domain=OTHER_DOMAIN)
    assert f"领域 {OTHER_DOMAIN} 不存在或不在您的权限范围内" in warnings(at)
    assert [t.value for t in at.title] == ["政务服务效能"] and other_domain(at, OTHER_DOMAIN) == []
    # and on every other page of his, bare
    for path in ("", "inbox", "bulletins", "assess", "catalogue", "health", "forms"):
        at = open_path(at, path)
        assert not at.exception, (path, problems(at))
        assert other_domain(at) == [], path
    (done,) = cli(city, ("compute", "--as", "li", "--format", "json", "--period", LATEST))
    assert done.returncode == 0, done.stderr
    assert {r["indicator"] for r in json.loads(done.stdout)} == {"ontime_rate", "cases"}


# ----------------------------------------------------------------------------- 9. records (明细)


def test_records_of_the_county_only_masked_and_no_unmask_without_the_grant(city: Path) -> None:
    cat = load_catalogue(city)
    zhang = scope_for(cat, "zhang")
    mine = records.records(cat, "calls", EAST, LATEST, zhang)
    assert mine.rows == 24 and set(mine.frame["region"].cast(str)) == {E1, E2}  # twelve a town
    assert set(mine.frame["caller_name"]) == {"张**"}
    assert all(p.startswith("139") and "****" in p and len(p) == 11 for p in mine.frame["caller_phone"])
    assert all(i[4:14] == "*" * 10 for i in mine.frame["caller_id_number"])
    assert mine.masked == ["caller_name", "caller_phone", "caller_id_number"] and not mine.unmasked
    assert west_in(records.table(cat, mine).write_csv()) == []
    # 西区, its town, the city (the whole city's records) and no region at all: the same empty view
    for region in (WEST, W1, CITY, None):
        other = records.records(cat, "calls", region, LATEST, zhang)
        assert other.rows == 0 and other.note == "地区不存在或不在您的权限范围内", region
    # asking for the full records without the grant: masked all the same, and the refusal audited
    asked = records.records(cat, "calls", EAST, LATEST, zhang, unmask=True)
    assert not asked.unmasked and set(asked.frame["caller_name"]) == {"张**"}
    assert asked.note == "您没有查看完整信息的权限，已脱敏显示。"
    (entry, *_) = audit.search(cat, user="zhang", kind="unmask")
    assert entry.details["outcome"] == "refused" and entry.details["region"] == EAST
    # 李科长 (the city, one domain) gets no 12345 records at all
    li = records.records(cat, "calls", CITY, LATEST, scope_for(cat, "li"))
    assert li.rows == 0 and li.note == "指标不存在或不在您的权限范围内"

    # the detail page's 明细, 西区 typed: 东区's records, masked, and no 显示完整信息 toggle
    at = open_page(signed_in("zhang"), "detail", indicator="calls", region=WEST, period=LATEST)
    assert not at.exception, problems(at)
    (shown,) = [df.value for df in at.dataframe if "caller_name" in df.value.columns]
    assert len(shown) == 24 and set(shown["地区名称"]) == {"东一街道", "东二街道"}
    assert set(shown["caller_name"]) == {"张**"}
    assert not at.toggle and any("个人信息已脱敏" in c.value for c in at.caption)
    assert leaks(at, WEST) == []


# ----------------------------------------------------------------------------- 10. before sign-in


def test_before_sign_in_no_page_shows_data_even_on_a_deep_link(city: Path, west_alert: str) -> None:
    at = session()
    paths = {info.get("url_pathname") for info in at._registered_pages.values()} | {"audit"}
    # every page, both domain pages, the overview's own path (/overview, hidden) and the audit log's path
    assert len(paths) == 14 and "overview" in paths
    for path in sorted(paths):
        for params in ({}, hostile(west_alert)):
            at = open_path(at, path, **params)
            assert not at.exception, (path, problems(at))
            assert [t.label for t in at.text_input] == ["账号", "密码"] and [b.label for b in at.button] == [
                "登录"
            ]
            assert not (at.metric or at.dataframe or at.table or at.selectbox or at.get("download_button"))
            assert not (at.get("vega_lite_chart") or at.get("arrow_vega_lite_chart") or at.get("iframe"))
            text = rendered(at)
            for word in ("东区", "东一街道", "按时办结率", "12345来电量", *WEST_MARKS, EAST):
                assert word not in text, (path, params, word)
