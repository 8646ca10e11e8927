"""``cockpit bulletin``, the 数据通报 (contract section 8), on a small hand-made city.

The city (示范市) has three districts (海港区 with two towns), two departments and 24 records
in 2025-10, 2026-09 and 2026-10. Every ranking and rank change below is worked out by hand
from ``RECORDS``:

============  ============================  ============================
全程网办率      2026-09 (网办 / all)            2026-10
============  ============================  ============================
海港区         3/4 = 75 %  (2nd)              2/4 = 50 %  (2nd, 持平, 黄)
山海关区       2/2 = 100 % (1st)              0/2 = 0 %   (3rd, ↓2, 红)
北戴河区       1/4 = 25 %  (3rd)              2/2 = 100 % (1st, ↑2, 绿)
示范市         6/10 = 60 %                    4/8 = 50 %  (黄; 2025-10: 2/3)
============  ============================  ============================
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from servers import REPO_ROOT, run_cli

from alerts.bulletin import (
    MAX_CHARTS,
    BulletinAlert,
    BulletinError,
    _axis_labels,
    _trends,
    build_bulletin,
    cn_number,
    detail_url,
    period_label,
    render,
    trend_spec,
    trend_svg,
)
from metrics.access import scope_for
from metrics.catalogue.load import load_catalogue

BASE = "https://cockpit.example.gov.cn"

CONFIG = """\
version: 1
site: {title: 测试驾驶舱, base_url: "https://cockpit.example.gov.cn/"}
org:
  regions:
    id: "130300"
    name: 示范市
    children:
      - id: "130302"
        name: HAIGANG
        children: [{id: "130302001", name: 东山街道}, {id: "130302002", name: 西港镇}]
      - {id: "130303", name: 山海关区}
      - {id: "130304", name: 北戴河区}
  departments:
    - {id: zwfw, name: 市政务服务管理办公室}
    - {id: gaj, name: 市公安局}
sources:
  records: {type: csv, path: data/records.csv}
SOURCES
channels:
  leaders_mail: {type: email, host: 127.0.0.1, port: 8025, sender: cockpit@example.gov.cn, to: [mayor@example.gov.cn]}
indicators:
  - id: online_rate
    name: 全程网办率
    domain: 政务服务效能
    unit: "%"
    source: records
    time: {column: accepted_at, grain: month}
    region: region_code
    department: dept_code
    measure:
      type: ratio
      numerator: {agg: count, where: "channel = '网办'"}
      denominator: {agg: count}
      scale: 100
    target: 80
    thresholds: {green: 80, yellow: 50}
  - id: avg_days
    name: 平均办理时长
    domain: 办理效率
    unit: 天
    source: records
    time: {column: accepted_at, grain: month}
    region: region_code
    measure: {type: mean, column: duration}
    direction: lower_better
    thresholds: {green: 3, yellow: 5}
  - id: case_count
    name: 办件量
    domain: 办理效率
    unit: 件
    source: records
    time: {column: accepted_at, grain: month}
    region: region_code
    department: dept_code
    measure: {type: count}
  - id: case_count_ytd
    name: 累计办件量
    domain: 办理效率
    unit: 件
    source: records
    time: {column: accepted_at, grain: month}
    region: region_code
    measure: {type: count}
    accumulate: ytd
INDICATORS
bulletins:
  - {id: city_monthly, name: 测试市月度通报, rhythm: monthly, notify: [leaders_mail]}
  - {id: efficiency_monthly, name: 政务服务效能月报, rhythm: monthly, domains: [政务服务效能]}
  - {id: haigang_monthly, name: 海港区月报, rhythm: monthly, region: "130302"}
access:
  users:
    - {id: zhang, name: 张区长, role: leader, regions: ["130302"]}
    - {id: wang,  name: 王秘书长, role: leader, regions: ["130300"]}
    - {id: li,    name: 李科长, role: staff, regions: ["130300"], domains: [政务服务效能]}
"""

HEADER = "accepted_at,region_code,dept_code,channel,duration\n"
RECORDS = HEADER + (
    # 2025-10: the 同比 base
    "2025-10-10,130302,zwfw,网办,2\n"
    "2025-10-11,130303,gaj,窗口,4\n"
    "2025-10-12,130304,zwfw,网办,3\n"
    # 2026-09
    "2026-09-01,130302,zwfw,网办,2\n"
    "2026-09-02,130302,zwfw,网办,2\n"
    "2026-09-03,130302,gaj,网办,2\n"
    "2026-09-04,130302,gaj,窗口,2\n"
    "2026-09-05,130303,zwfw,网办,4\n"
    "2026-09-06,130303,zwfw,网办,4\n"
    "2026-09-07,130304,gaj,网办,6\n"
    "2026-09-08,130304,gaj,窗口,6\n"
    "2026-09-09,130304,gaj,窗口,6\n"
    "2026-09-10,130304,gaj,窗口,6\n"
    # 2026-10
    "2026-10-01,130302001,zwfw,网办,1\n"
    "2026-10-02,130302001,gaj,网办,3\n"
    "2026-10-03,130302002,gaj,窗口,5\n"
    "2026-10-04,130302002,gaj,窗口,7\n"
    "2026-10-05,130303,gaj,窗口,2\n"
    "2026-10-06,130303,zwfw,窗口,2\n"
    "2026-10-07,130304,zwfw,网办,3\n"
    "2026-10-08,130304,zwfw,网办,3\n"
)
SIBLINGS = ("山海关区", "北戴河区", "130303", "130304")
DEPARTMENTS = ("市政务服务管理办公室", "市公安局", "部门排名")


def make_city(
    folder: Path,
    *,
    haigang: str = "海港区",
    records: str = RECORDS,
    sources: str = "",
    indicators: str = "",
    files: dict[str, str] | None = None,
) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "records.csv").write_text(records, encoding="utf-8")
    for name, text in (files or {}).items():
        (folder / "data" / name).write_text(text, encoding="utf-8")
    text = (
        CONFIG.replace("HAIGANG", haigang).replace("SOURCES\n", sources).replace("INDICATORS\n", indicators)
    )
    config = folder / "indicators.yaml"
    config.write_text(text, encoding="utf-8")
    return config


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(tmp_path_factory.mktemp("bulletin_city"))


@pytest.fixture(scope="module")
def cat(city: Path):
    return load_catalogue(city)


@pytest.fixture(scope="module")
def october(cat):
    return build_bulletin(cat)


def entries(report, part: str = "regions") -> list[tuple]:
    return [(e.subject, e.rank, e.rank_change, e.status) for e in getattr(report, part)]


# ----------------------------------------------------------------- the model, by hand


def test_default_period_is_the_latest_with_data_and_rankings_are_by_hand(october) -> None:
    b = october
    assert (b.period, b.period_label, b.region, b.grain) == ("2026-10", "2026年10月", "130300", "month")
    assert [d.domain for d in b.domains] == ["政务服务效能", "办理效率"]  # catalogue order

    online = b.report("online_rate")
    assert online.period == "2026-10"
    assert entries(online) == [
        ("130304", 1, 2, "green"),  # 3rd → 1st
        ("130302", 2, 0, "yellow"),
        ("130303", 3, -2, "red"),  # 1st → 3rd
    ]
    own = online.own
    assert own.value == pytest.approx(50.0) and own.status == "yellow" and own.rank is None
    assert own.yoy == pytest.approx(50 - 200 / 3) and own.mom == pytest.approx(-10.0)
    assert entries(online, "departments") == [("zwfw", 1, 0, "yellow"), ("gaj", 2, 0, "red")]
    assert [e.value for e in online.departments] == pytest.approx([75.0, 25.0])

    days = b.report("avg_days")  # lower is better
    assert entries(days) == [
        ("130303", 1, 1, "green"),  # 2.0 天
        ("130304", 2, 1, "green"),  # 3.0 天
        ("130302", 3, -2, "yellow"),  # 4.0 天, 1st in September
    ]
    assert days.departments == ()  # the indicator has no department column

    count = b.report("case_count")
    assert [(e.subject, e.value, e.rank) for e in count.regions] == [
        ("130302", 4, 1),
        ("130303", 2, 2),  # a tie shares the smaller rank
        ("130304", 2, 2),
    ]
    ytd = b.report("case_count_ytd")
    assert ytd.period_label == "2026年1-10月" and [e.value for e in ytd.regions] == [8, 6, 4]

    assert b.n_regions == 3
    assert b.counts["yellow"] == 2 and b.counts["none"] == 2 and b.counts["red"] == 0
    assert "黄灯2项" in b.summary and "另有2项未设评价标准" in b.summary and "下辖3个地区" in b.summary
    flags = {(f.indicator, f.subject, f.status) for f in b.flags}
    assert {("online_rate", "130303", "red"), ("online_rate", "gaj", "red")} <= flags
    assert ("online_rate", "130304", "red") not in flags
    assert [f.status for f in b.flags] == sorted((f.status for f in b.flags), key=["red", "yellow"].index)
    # the largest 同比 changes: 海港区's 1-10月 cases, 1 → 8 (+700 %), then its online rate, 100 % → 50 %
    moves = [(m.indicator, m.subject, round(m.yoy, 2)) for m in b.movers]
    assert moves[:2] == [("case_count_ytd", "130302", 700.0), ("case_count_ytd", "130304", 500.0)]
    assert ("online_rate", "130302", -50.0) in moves and ("online_rate", "130304", 0.0) not in moves
    assert b.alerts == () and b.errors == ()


def test_an_earlier_period_ranks_that_period(cat) -> None:
    b = build_bulletin(cat, period="2026-09")
    online = b.report("online_rate")
    assert entries(online) == [
        ("130303", 1, None, "green"),  # no August: no rank change
        ("130302", 2, None, "yellow"),
        ("130304", 3, None, "red"),
    ]


def test_period_labels_and_numbers() -> None:
    assert period_label("2026-10") == "2026年10月"
    assert period_label("2026-10", cumulative=True) == "2026年1-10月"
    assert period_label("2026-Q3") == "2026年第3季度"
    assert period_label("2026-Q3", cumulative=True) == "2026年前三季度"
    assert period_label("2026-Q2", cumulative=True) == "2026年上半年"
    assert period_label("2026-W41") == "2026年第41周"
    assert [cn_number(n) for n in (1, 10, 12, 20, 34)] == ["一", "十", "十二", "二十", "三十四"]


# ----------------------------------------------------------------- formats


def test_markdown_and_html_from_the_command_line(city: Path, tmp_path: Path) -> None:
    r = run_cli("bulletin", "--config", city)
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    md = r.stdout
    assert md.startswith("# 测试驾驶舱数据通报\n")
    assert "**2026年10月**" in md
    for heading in (
        "## 一、总体情况",
        "## 二、政务服务效能",
        "## 三、办理效率",
        "红黄灯情况",
        "变动较大的指标",
    ):
        assert heading in md, heading
    assert "## 八、需关注的预警事项\n\n本期无需关注的预警事项。" in md
    # three months of data: too little history for a year-end outlook, and the section says so
    assert "## 五、年底目标预判（达标概率低于50%）\n\n本期纳入通报的指标均未设年度目标，或历史数据不足" in md
    assert "<svg" not in md and "走势" not in md  # Markdown stays text
    assert "2026年1-10月" in md  # the cumulative indicator
    assert "同比下降16.67个百分点，环比下降10个百分点" in md  # a rate changes in 个百分点
    link = f"{BASE}/detail?indicator=online_rate&region=130304&period=2026-10"
    assert f"| 1 | [北戴河区]({link}) | 100% | 80% | 绿 | 0个百分点 | +75个百分点 | ↑2 |" in md
    assert f"| 3 | [山海关区]({BASE}/detail?indicator=online_rate&region=130303&period=2026-10)" in md
    assert "| 2 | 市公安局 | 25% | 红 |" in md  # the departments' ranking
    assert re.search(r"^\| :---: \| :--- \| ---: \|", md, re.M)  # a GitHub-flavoured table

    out = tmp_path / "b.html"
    r = run_cli("bulletin", "--config", city, "--format", "html", "--output", out)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html and "@page" in html
    assert not re.search(r"<(script|link)\b|src=", html)  # self-contained
    assert f'<a href="{BASE}/detail?indicator=online_rate&amp;region=130304&amp;period=2026-10">' in html
    assert 'class="light" style="background:#c62828"' in html  # a red marker beside 红
    # the region's own yellow lights (全程网办率, 平均办理时长) get a trend chart, as inline SVG
    assert html.count('<figure class="chart"><svg role="img" aria-label=') == 2
    assert "<figcaption>示范市全程网办率近13个月走势（%，虚线为目标80%）</figcaption>" in html
    for text in (
        "测试驾驶舱数据通报",
        "总体情况",
        "全程网办率",
        "山海关区",
        "市公安局",
        "本期无需关注的预警事项",
    ):
        assert text in html, text
    # deterministic: the same data gives the same bytes
    assert render(build_bulletin(load_catalogue(city)), "md") == md


# ----------------------------------------------------------------- limits


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_region_keeps_to_its_subtree(city: Path, fmt: str) -> None:
    r = run_cli("bulletin", "--config", city, "--region", "130302", "--format", fmt)
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert "东山街道" in r.stdout and "西港镇" in r.stdout and "海港区" in r.stdout
    for word in (*SIBLINGS, *DEPARTMENTS, "示范市", "130300"):
        assert word not in r.stdout, word
    assert "测试驾驶舱数据通报（海港区）" in r.stdout


def test_region_ranks_the_towns(cat) -> None:
    b = build_bulletin(cat, region="130302")
    online = b.report("online_rate")
    assert entries(online) == [("130302001", 1, None, "green"), ("130302002", 2, None, "red")]
    assert online.own.rank == 2 and "在同级3个地区中居第2位" in online.text
    assert online.departments == ()


def test_a_county_user_sees_only_the_county(city: Path, cat) -> None:
    r = run_cli("bulletin", "--config", city, "--as", "zhang")
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert "东山街道" in r.stdout
    for word in (*SIBLINGS, *DEPARTMENTS, "示范市"):
        assert word not in r.stdout, word
    # a declared city bulletin is narrowed to what the user may see
    b = build_bulletin(cat, bulletin_id="city_monthly", scope=scope_for(cat, "zhang"))
    assert b.region == "130302" and b.title == "测试市月度通报（海港区）"
    for region in ("130303", "130300"):
        r = run_cli("bulletin", "--config", city, "--as", "zhang", "--region", region)
        assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout)
        assert re.search(
            rf"^ERROR: --region: region '{region}' is outside what user 'zhang' may see$", r.stderr, re.M
        )


def test_a_user_limited_to_a_domain(cat) -> None:
    b = build_bulletin(cat, scope=scope_for(cat, "li"))
    assert [r.indicator for r in b.indicators] == ["online_rate"]
    assert b.report("online_rate").departments  # the root is in li's scope


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--bulletin", "city_montly"),
            "ERROR: --bulletin: unknown bulletin 'city_montly' (did you mean 'city_monthly'?)",
        ),
        (("--region", "130399"), "ERROR: --region: unknown region '130399'"),
        (("--region", "海港区"), "ERROR: --region: unknown region '海港区' (did you mean '130302'?)"),
        (
            ("--period", "2026-1"),
            "ERROR: --period: '2026-1' is not a period string (did you mean '2026-01'?)",
        ),
        (("--period", "October"), "ERROR: --period: 'October' is not a period"),
        (
            ("--bulletin", "city_monthly", "--period", "2026-Q3"),
            "ERROR: --period: bulletin 'city_monthly' is monthly",
        ),
        (
            ("--bulletin", "haigang_monthly", "--region", "130303"),
            "ERROR: --region: region '130303' is outside",
        ),
        (("--as", "zhao"), "ERROR: --as: unknown user 'zhao'"),
    ],
)
def test_usage_errors_exit_2(city: Path, args: tuple[str, ...], message: str) -> None:
    r = run_cli("bulletin", "--config", city, *args)
    no_traceback(r)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    assert any(line.startswith(message) for line in r.stderr.splitlines()), r.stderr


def test_declared_bulletins_keep_their_domains_and_region(cat) -> None:
    b = build_bulletin(cat, bulletin_id="efficiency_monthly")
    assert b.title == "政务服务效能月报" and b.id == "efficiency_monthly"
    assert [d.domain for d in b.domains] == ["政务服务效能"]
    md = render(b, "md")
    assert "全程网办率" in md
    for word in ("平均办理时长", "办件量", "办理效率"):
        assert word not in md, word

    b = build_bulletin(cat, bulletin_id="haigang_monthly")
    assert (b.region, b.title) == ("130302", "海港区月报")
    html = render(b, "html")
    for word in (*SIBLINGS, *DEPARTMENTS):
        assert word not in html, word


def test_library_errors_are_bulletin_errors(cat) -> None:
    with pytest.raises(BulletinError) as e:
        build_bulletin(cat, bulletin_id="nope")
    assert e.value.option == "--bulletin"
    with pytest.raises(BulletinError):
        build_bulletin(cat, region="130303", scope=scope_for(cat, "zhang"), bulletin_id="efficiency_monthly")
    with pytest.raises(ValueError):
        render(build_bulletin(cat), "pdf")


# ----------------------------------------------------------------- alerts, anomalies, escaping, failures


def test_alert_items_section(cat) -> None:
    alerts = [
        BulletinAlert("online_rate", "130303", "2026-10", "全程网办率连续两个月低于50%，请督促整改。"),
        BulletinAlert("avg_days", "130302002", "2026-10", "西港镇平均办理时长超过5天。"),
        BulletinAlert(
            "online_rate", "130303", "2026-10", "全程网办率连续两个月低于50%，请督促整改。"
        ),  # twice
        BulletinAlert("no_such", "130303", "2026-10", "未知指标的事项不会出现。"),
    ]
    b = build_bulletin(cat, alerts=alerts)
    assert [(a.alert.indicator, a.alert.region) for a in b.alerts] == [
        ("online_rate", "130303"),
        ("avg_days", "130302002"),
    ]
    md = render(b, "md")
    section = md.split("需关注的预警事项", 2)[2].split("## ", 1)[0]
    assert "1. [山海关区全程网办率（2026年10月）：]" in section
    assert "请督促整改。" in section and "西港镇平均办理时长超过5天。" in section
    assert f"({BASE}/detail?indicator=online_rate&region=130303&period=2026-10)" in section
    assert "本期无" not in section and "需关注的预警事项2项" in b.summary

    # a county's bulletin keeps the county's items only; a domain bulletin its domains' items
    assert [a.alert.region for a in build_bulletin(cat, region="130302", alerts=alerts).alerts] == [
        "130302002"
    ]
    b = build_bulletin(cat, bulletin_id="efficiency_monthly", alerts=alerts)
    assert [a.alert.indicator for a in b.alerts] == ["online_rate"]


def test_anomalies_of_the_period_are_explained(tmp_path: Path) -> None:
    lines = [HEADER]
    for k in range(24):  # 2024-11 … 2026-10: ten cases a month in 海港区, then a flood
        y, m = divmod(2024 * 12 + 10 + k, 12)
        n = 60 if k == 23 else 10 + k % 3
        lines += [f"{y}-{m + 1:02d}-{d % 28 + 1:02d},130302,zwfw,窗口,2\n" for d in range(n)]
    b = build_bulletin(load_catalogue(make_city(tmp_path, records="".join(lines))))
    spikes = [a for a in b.anomalies if a.indicator == "case_count" and a.subject == "130302"]
    assert spikes and spikes[0].kind == "spike" and spikes[0].period == "2026-10"
    assert spikes[0].text.startswith("2026年10月海港区办件量 60件，")
    md = render(b, "md")
    assert "【突增】[2026年10月海港区办件量 60件" in md


def test_html_escapes_names(tmp_path: Path) -> None:
    cat = load_catalogue(make_city(tmp_path, haigang="<i>海港区</i> & Co"))
    b = build_bulletin(cat, alerts=[BulletinAlert("online_rate", "130302", "2026-10", "<script>x</script>")])
    html = render(b, "html")
    assert "<i>" not in html and "<script>" not in html
    assert "&lt;i&gt;海港区&lt;/i&gt; &amp; Co" in html and "&lt;script&gt;x&lt;/script&gt;" in html
    md = render(b, "md")
    assert "<i>" not in md and "<script>" not in md and r"\<i\>海港区" in md
    html = render(build_bulletin(cat, region="130302"), "html")  # the name in a chart's caption
    assert (
        "<svg" in html
        and "<i>" not in html
        and "&lt;i&gt;海港区&lt;/i&gt; &amp; Co全程网办率近13个月走势" in html
    )


def test_a_failing_source_still_renders_the_rest(tmp_path: Path) -> None:
    config = make_city(
        tmp_path,
        sources="  other: {type: csv, path: data/other.csv}\n",
        indicators=(
            "  - id: other_count\n    name: 其他办件量\n    domain: 办理效率\n    source: other\n"
            "    time: {column: accepted_at, grain: month}\n    measure: {type: count}\n"
        ),
        files={"other.csv": RECORDS},
    )
    assert run_cli("validate", "--config", config).returncode == 0
    (tmp_path / "data" / "other.csv").unlink()
    r = run_cli("bulletin", "--config", config)
    no_traceback(r)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert any(line.startswith("ERROR:") and "other" in line for line in r.stderr.splitlines()), r.stderr
    assert "全程网办率" in r.stdout and "| 1 | [北戴河区]" in r.stdout
    assert "其他办件量本期数据未能取得（数据源故障）" in r.stdout
    assert "以下指标因数据源故障本期未能计算：其他办件量" in r.stdout


# ----------------------------------------------------------------- year-end outlook and charts

FAST_RATE = """\
  - id: fast_rate
    name: 三日办结率
    domain: 办理效率
    unit: "%"
    source: records
    time: {column: accepted_at, grain: month}
    region: region_code
    measure: {type: ratio, numerator: {agg: count, where: "duration <= 3"}, denominator: {agg: count}, scale: 100}
    target: 50
"""


def sliding_records(last: str = "2026-10") -> str:
    """2024-11 … ``last``: 20 cases a month in each district, fewer of them online every month.

    示范市's 全程网办率 slides from 90 % to about 60 % (target 80 %); every case takes 2 days, so
    三日办结率 stays at 100 % (target 50 %).
    """
    lines = [HEADER]
    k = 0
    y, m = 2024, 11
    while f"{y}-{m:02d}" <= last:
        online = 18 - (k * 6) // 23  # 18 of 20 down to 12 of 20
        for region in ("130302", "130303", "130304"):
            for d in range(20):
                channel = "网办" if d < online else "窗口"
                lines.append(f"{y}-{m:02d}-{d + 1:02d},{region},zwfw,{channel},2\n")
        k += 1
        y, m = (y, m + 1) if m < 12 else (y + 1, 1)
    return "".join(lines)


def test_outlook_lists_the_targets_at_risk(tmp_path: Path) -> None:
    cat = load_catalogue(make_city(tmp_path, records=sliding_records(), indicators=FAST_RATE))
    b = build_bulletin(cat)
    assert b.period == "2026-10" and b.outlook_checked == 2  # the two indicators with a target
    assert [o.indicator for o in b.outlook] == ["online_rate"]  # 三日办结率 will reach its target
    o = b.outlook[0]
    assert o.probability < 0.5 and (o.year_end, o.horizon, o.target) == ("2026-12", 2, 80.0)
    assert o.text.startswith("按当前趋势，全程网办率年底预计为 ") and "达到 80% 目标的概率" in o.text
    assert o.url == detail_url(BASE, "online_rate", "130300", "2026-10")
    assert o.value == pytest.approx(60.0) and o.mean < 65
    assert "按当前趋势，1项指标年底达到目标的概率低于50%。" in b.summary
    assert any(n.startswith("年底目标预判：") for n in b.notes)

    md = render(b, "md")
    section = md.split("年底目标预判（达标概率低于50%）", 1)[1].split("\n## ", 1)[0]
    assert "按当前趋势测算有年度目标的指标2项，其中1项年底达到目标的概率低于50%" in section
    assert f"1. [{o.text}]({o.url})（2026年10月为60%）。" in section
    html = render(b, "html")
    assert "<h2>五、年底目标预判（达标概率低于50%）</h2>" in html and o.text in html
    # 示范市's online rate is yellow (60 %): its chart comes first
    assert [t.indicator for t in b.trends][:1] == ["online_rate"] and b.trends[0].why == "yellow"

    # an earlier bulletin forecasts from what was known then: the same as with later data absent
    june = build_bulletin(cat, period="2026-06").outlook
    cut = tmp_path / "cut"
    alone = build_bulletin(
        load_catalogue(make_city(cut, records=sliding_records("2026-06"), indicators=FAST_RATE))
    )
    assert alone.period == "2026-06" and june == alone.outlook
    assert [(n.period, n.horizon) for n in june] == [("2026-06", 6)]


def test_trend_charts_are_few_stable_and_offline(october) -> None:
    online = october.report("online_rate")
    assert online is not None
    # ten indicators in red: at most MAX_CHARTS charts, in catalogue order
    reds = [
        replace(online, indicator=f"i{k}", own=replace(online.own, status="red"))
        for k in range(MAX_CHARTS + 2)
    ]
    by_key = {
        (f"i{k}", p, "130300", None): {"value": 50.0 + k} for k in range(12) for p in ("2026-09", "2026-10")
    }
    trends = _trends(reds, (), by_key, "130300", "示范市", {})
    assert [t.indicator for t in trends] == [f"i{k}" for k in range(MAX_CHARTS)]
    assert trends[0].points == (("2026-09", 50.0), ("2026-10", 50.0))  # from the first value on

    t = october.trends[0]
    assert t.points[0] == ("2025-10", pytest.approx(200 / 3)) and t.points[-1] == ("2026-10", 50.0)
    assert [v is None for _, v in t.points].count(True) == 10  # the months without data are gaps
    spec = trend_spec(t)
    assert "url" not in str(spec["layer"])  # the data is inline
    svg = trend_svg(t)
    assert svg.startswith(
        '<svg role="img" aria-label="示范市全程网办率近13个月走势（%，虚线为目标80%）" '
    ) and svg.endswith("</svg>")
    assert "50%" in svg and "目标 80%" in svg and "2026年1月" in svg
    assert not re.search(r"<(script|image|foreignObject)\b|href=", svg)
    trend_svg.cache_clear()
    assert trend_svg(t) == svg  # the same bytes when drawn again


def test_axis_labels() -> None:
    months = ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert list(_axis_labels(months).values()) == ["2025年11月", "12月", "2026年1月", "2月"]
    weeks = ["2026-W52", "2026-W53", "2027-W01"]
    assert list(_axis_labels(weeks).values()) == ["2026年第52周", "第53周", "2027年第1周"]
    quarters = [f"{y}-Q{q}" for y in (2023, 2024, 2025) for q in (1, 2, 3, 4)]
    assert _axis_labels(quarters) == {p: p for p in quarters}  # two Q4s: the periods themselves
    assert list(_axis_labels(["2026-Q3", "2026-Q4", "2027-Q1"]).values()) == ["2026年Q3", "Q4", "2027年Q1"]


# ----------------------------------------------------------------- the sample city


@pytest.mark.skipif(
    not (REPO_ROOT / "data" / "service_records.parquet").exists(), reason="no sample data (make sample)"
)
def test_the_sample_bulletins_render() -> None:
    cat = load_catalogue(REPO_ROOT / "indicators.yaml")
    assert {b.id for b in cat.config.bulletins} >= {"city_monthly", "county_weekly_302", "hotline_daily"}
    b = build_bulletin(cat, bulletin_id="county_weekly_302")
    assert b.grain == "week" and b.region == "130302" and [d.domain for d in b.domains] == ["政务服务效能"]
    html = render(b, "html")
    assert "海港区政务服务周报" in html and "东山街道" in html and "东湖县" not in html
    assert html.count("<svg") <= MAX_CHARTS


@pytest.mark.skipif(
    not (REPO_ROOT / "data" / "service_records.parquet").exists(), reason="no sample data (make sample)"
)
def test_the_sample_city_bulletin_has_outlooks_and_bounded_charts() -> None:
    cat = load_catalogue(REPO_ROOT / "indicators.yaml")
    b = build_bulletin(cat, bulletin_id="city_monthly", period="2026-10")
    assert b.outlook and all(o.probability < 0.5 for o in b.outlook)
    assert [o.probability for o in b.outlook] == sorted(o.probability for o in b.outlook)
    html = render(b, "html")
    assert 1 <= html.count("<svg") <= MAX_CHARTS and len(html.encode()) < 1_500_000
    assert not re.search(r"<(script|link|img)\b|src=", html)
