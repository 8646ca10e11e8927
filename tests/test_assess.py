"""指标考核 (contract section 11): ``cockpit assess`` and :mod:`metrics.assess`.

A small city written as CSV in a temporary folder: four districts and three departments, two
months (2026-09 and 2026-10), values chosen so that every score below is worked out by hand.

2026-10, assessment ``county`` (regions; weights 40 / 30 / 30):

====  ================================  ===========================  ===================  =====  ====
id    rate (floor 60, target 90)        days (lower: floor 8, tgt 3)  sat (floor 80, 100)  score  rank
====  ================================  ===========================  ===================  =====  ====
101   75 → 15/30 × 40 = 20               5.5 → 2.5/5 × 30 = 15         90 → 15              50     3
102   75, own target 80 → 15/20 × 40=30  2 (beyond target) → 30        70 (below floor) → 0 60     1
103   95 (beyond target) → 40            10 (below floor) → 0          null → 0             40     4
104   60 (= floor) → 0                   3 → 30                        100 → 30             60     1
====  ================================  ===========================  ===================  =====  ====

2026-09: 101 100, 102 70, 103 45, 104 15 (ranks 1 2 3 4).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import REPO_ROOT, run_cli

from metrics import assess
from metrics.access import scope_for
from metrics.catalogue.load import load_catalogue
from metrics.catalogue.problems import ConfigError
from metrics.engine import Engine

# month, region, dept, rate, days
SERVICE = {
    "2026-09": [
        ("101", "", 90, 3),
        ("102", "", 80, 3),
        ("103", "", 60, 3),
        ("104", "", 60, 8),
        ("100", "zw", 90, 3),
        ("100", "ga", 60, 8),
        ("100", "sj", 75, 5.5),
    ],
    "2026-10": [
        ("101", "", 75, 5.5),
        ("102", "", 75, 2),
        ("103", "", 95, 10),
        ("104", "", 60, 3),
        ("100", "zw", 90, 3),
        ("100", "ga", 70, 5.5),
        # sj has no records in 2026-10
    ],
}
# month, region, sat (None: a record whose value is empty)
HOTLINE = {
    "2026-09": [("101", 100), ("102", 80), ("103", 90), ("104", 90)],
    "2026-10": [("101", 90), ("102", 70), ("103", None), ("104", 100)],
}

CONFIG = """\
version: 1
org:
  regions:
    id: "100"
    name: 测试市
    children:
      - {id: "101", name: 东区, children: [{id: "101001", name: 东街道}]}
      - {id: "102", name: 西区}
      - {id: "103", name: 南区}
      - {id: "104", name: 北区}
  departments:
    - {id: zw, name: 市政务办}
    - {id: ga, name: 市公安局}
    - {id: sj, name: 市市场监管局}
sources:
  s: {type: csv, path: service.csv}
  h: {type: csv, path: hotline.csv}
indicators:
  - id: rate
    name: 网办率
    domain: 政务服务效能
    unit: "%"
    source: s
    time: {column: month, grain: month}
    region: region
    department: dept
    measure: {type: mean, column: rate}
  - id: rate_q
    name: 季度网办率
    domain: 政务服务效能
    unit: "%"
    source: s
    time: {column: month, grain: quarter}
    region: region
    measure: {type: mean, column: rate}
  - id: days
    name: 办理时长
    domain: 政务服务效能
    unit: 工作日
    source: s
    time: {column: month, grain: month}
    region: region
    department: dept
    measure: {type: mean, column: days}
    direction: lower_better
  - id: sat
    name: 满意率
    domain: 民情反映
    unit: "%"
    source: h
    time: {column: month, grain: month}
    region: region
    measure: {type: mean, column: sat}
assessments:
  - id: county
    name: 区县考核
    subjects: regions
    items:
      - {indicator: rate, weight: 40, floor: 60, target: 90, targets: {"102": 80}}
      - {indicator: days, weight: 30, floor: 8, target: 3}
      - {indicator: sat, weight: 30, floor: 80, target: 100}
  - id: dept
    name: 部门考核
    subjects: departments
    items:
      - {indicator: rate, weight: 50, floor: 60, target: 90, targets: {ga: 70}}
      - {indicator: days, weight: 50, floor: 8, target: 3}
  - id: mixed
    name: 混合粒度
    subjects: regions
    items:
      - {indicator: rate, weight: 50, floor: 60, target: 90}
      - {indicator: rate_q, weight: 50, floor: 60, target: 90}
access:
  users:
    - {id: zhang, name: 张区长, regions: ["101"]}
    - {id: wang, name: 王秘书长, regions: ["100"]}
    - {id: li, name: 李科长, role: staff, regions: ["100"], domains: [政务服务效能]}
    - {id: zhao, name: 赵主任, regions: ["101001"]}
"""


def invoke(*args: object) -> tuple[int, str, str]:
    """``cockpit ARGS`` through its click entry point in this process (no interpreter start-up).

    ``run_cli`` runs the real command where the output's exact bytes matter.
    """
    from click.testing import CliRunner

    from cockpit.cli import main

    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def write_city(folder: Path) -> Path:
    lines = ["month,region,dept,rate,days"]
    for month, recs in SERVICE.items():
        lines += [f"{month}-15,{r},{d},{v},{t}" for r, d, v, t in recs]
    (folder / "service.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = ["month,region,sat"]
    for month, recs in HOTLINE.items():
        lines += [f"{month}-15,{r},{'' if v is None else v}" for r, v in recs]
    (folder / "hotline.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = folder / "indicators.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    return write_city(tmp_path_factory.mktemp("assess"))


@pytest.fixture(scope="module")
def scored(city: Path):
    cat = load_catalogue(city)
    rows = Engine(cat, use_store=False).compute(assess.needed_indicators(cat.config.assessments)).rows
    return cat, rows


def by_subject(scores: list[assess.SubjectScore]) -> dict[str | None, assess.SubjectScore]:
    return {s.subject: s for s in scores}


def points(s: assess.SubjectScore) -> dict[str, float]:
    return {i.indicator: i.points for i in s.items}


# ----------------------------------------------------------------- the formula


def test_item_points_both_directions_and_the_edges() -> None:
    assert assess.item_points(88.0, 30, 60, 90) == pytest.approx(28.0)  # the contract's example
    assert assess.item_points(95.0, 30, 60, 90) == 30.0  # beyond the target: the full weight
    assert assess.item_points(50.0, 30, 60, 90) == 0.0  # below the floor: nothing
    assert assess.item_points(5.5, 20, 8, 3) == pytest.approx(10.0)  # lower_better: floor above target
    assert assess.item_points(2.0, 20, 8, 3) == 20.0
    assert assess.item_points(9.0, 20, 8, 3) == 0.0
    assert assess.item_points(None, 20, 8, 3) == 0.0
    assert assess.item_points(float("nan"), 20, 8, 3) == 0.0
    # target == floor cannot divide: a step in the indicator's direction
    assert assess.item_points(90.0, 10, 90, 90) == 10.0
    assert assess.item_points(89.9, 10, 90, 90) == 0.0
    assert assess.item_points(3.0, 10, 3, 3, "lower_better") == 10.0
    assert assess.item_points(3.1, 10, 3, 3, "lower_better") == 0.0


def test_competition_ranks() -> None:
    assert assess.competition_ranks([60, 50, 60, 40]) == [1, 3, 1, 4]
    assert assess.competition_ranks([0.1 + 0.2, 0.3]) == [1, 1]  # the order of additions never splits a tie
    assert assess.competition_ranks([]) == []


# ----------------------------------------------------------------- scores worked out by hand


def test_region_subjects_scored_by_hand(scored) -> None:
    cat, rows = scored
    s = by_subject(assess.score(cat, rows, "county", "2026-10"))
    assert list(s) == ["101", "102", "103", "104"]  # the root's children only: no root, no town
    assert points(s["101"]) == pytest.approx({"rate": 20, "days": 15, "sat": 15})
    # the subject's own target (逐项分解) overrides the item's
    assert points(s["102"]) == pytest.approx({"rate": 30, "days": 30, "sat": 0})
    assert [i.target for i in s["102"].items] == [80, 3, 100]
    assert [i.target for i in s["101"].items] == [90, 3, 100]
    assert points(s["103"]) == pytest.approx({"rate": 40, "days": 0, "sat": 0})  # clamped; below floor
    assert s["103"].items[2].value is None  # a null value scores 0
    assert points(s["104"]) == pytest.approx({"rate": 0, "days": 30, "sat": 30})
    assert {k: v.score for k, v in s.items()} == pytest.approx({"101": 50, "102": 60, "103": 40, "104": 60})
    # 102 and 104 tie at 60: both first, and the next is third
    assert {k: v.rank for k, v in s.items()} == {"101": 3, "102": 1, "103": 4, "104": 1}
    assert all(v.region == k and v.department is None for k, v in s.items())


def test_lost_points_rank_change_and_catch_up(scored) -> None:
    cat, rows = scored
    s = by_subject(assess.score(cat, rows, "county", "2026-10"))
    assert [(i.indicator, i.lost) for i in s["101"].lost] == [("rate", 20), ("days", 15), ("sat", 15)]
    assert s["102"].lost[0].indicator == "sat" and s["102"].lost[0].lost == 30
    # 2026-09 ranked 101 102 103 104 first to fourth
    assert {k: v.previous_rank for k, v in s.items()} == {"101": 1, "102": 2, "103": 3, "104": 4}
    assert {k: v.rank_change for k, v in s.items()} == {"101": -2, "102": 1, "103": -1, "104": 3}
    assert s["102"].catch_up is None and s["104"].catch_up is None
    # 101 (50) is 10 behind the first (60); the rate item needs the smallest move: 82.5%
    c = s["101"].catch_up
    assert (c.rank, c.gap) == (1, pytest.approx(10))
    assert [(m.indicator, m.needed) for m in c.moves] == [("rate", pytest.approx(82.5))]
    assert c.text == "追上第1名需再得 10.0 分，例如网办率提高到 82.5%"
    # 103 (40) is 10 behind 101 (third); its 满意率 has no value, so the advice is on 办理时长
    # (lower_better: 8 − 10/30 × 5 = 6.333…, shown rounded towards the target)
    c = s["103"].catch_up
    assert (c.rank, c.gap) == (3, pytest.approx(10))
    assert [(m.indicator, m.needed) for m in c.moves] == [("days", pytest.approx(8 - 5 / 3))]
    assert c.text == "追上第3名需再得 10.0 分，例如办理时长降低到 6.33工作日"
    # the earliest period has no previous one
    first = assess.score(cat, rows, "county", "2026-09")
    assert all(x.previous_rank is None and x.rank_change is None for x in first)


def test_catch_up_across_several_items() -> None:
    s = assess.SubjectScore(
        "a",
        "2026-10",
        "101",
        None,
        10.0,
        2,
        (
            assess.ItemScore("x", 10, 0, 100, 50.0, 5.0),
            assess.ItemScore("y", 20, 8, 3, 7.0, 4.0),  # lower_better
        ),
    )
    moves = assess.plan(s, 20.0)  # no single item has 20 points left: the heavier item first
    assert [(m.indicator, m.gain) for m in moves] == [("y", pytest.approx(16)), ("x", pytest.approx(4))]
    assert moves[0].needed == pytest.approx(3.0) and moves[1].needed == pytest.approx(90.0)


def test_department_subjects(scored) -> None:
    cat, rows = scored
    s = by_subject(assess.score(cat, rows, "dept", "2026-10"))
    assert list(s) == ["ga", "sj", "zw"]
    assert all(v.region == "100" for v in s.values())  # the root's region id
    assert points(s["zw"]) == pytest.approx({"rate": 50, "days": 50})
    assert points(s["ga"]) == pytest.approx({"rate": 50, "days": 25})  # own target 70 reached
    assert points(s["sj"]) == {"rate": 0, "days": 0}  # no rows this month
    # 75 behind 市公安局: no single item has that many points; values from the floor, heaviest first
    assert (
        s["sj"].catch_up.text
        == "追上第2名需再得 75.0 分，单项不足以追上，例如网办率达到 90%、办理时长达到 5.5工作日"
    )
    assert {k: v.rank for k, v in s.items()} == {"zw": 1, "ga": 2, "sj": 3}
    assert {k: v.rank_change for k, v in s.items()} == {"zw": 0, "ga": 1, "sj": -1}


def test_items_of_different_grains_follow_the_contract_literally(scored) -> None:
    cat, rows = scored
    out = assess.score(cat, rows, "mixed")
    assert sorted({s.period for s in out}) == ["2026-09", "2026-10", "2026-Q3", "2026-Q4"]
    s = by_subject([x for x in out if x.period == "2026-10"])
    assert points(s["101"]) == pytest.approx({"rate": 25, "rate_q": 0})  # no quarterly row in a month
    s = by_subject([x for x in out if x.period == "2026-Q4"])
    assert points(s["101"]) == pytest.approx({"rate": 0, "rate_q": 25})


def test_scope_hides_subjects_but_keeps_ranks(scored) -> None:
    cat, rows = scored
    zhang = scope_for(cat, "zhang")
    out = assess.score(cat, rows, "county", "2026-10", zhang)
    assert [(s.region, s.rank) for s in out] == [("101", 3)]
    assert assess.score(cat, rows, "dept", "2026-10", zhang) == []  # no department rows without the root
    assert len(assess.score(cat, rows, "dept", "2026-10", scope_for(cat, "wang"))) == 3
    assert assess.score(cat, rows, "county", "2026-10", scope_for(cat, "zhao")) == []  # a town's user
    li = scope_for(cat, "li")  # 政务服务效能 only: the county score would reveal 满意率
    assert assess.score(cat, rows, "county", "2026-10", li) == []
    assert len(assess.score(cat, rows, "dept", "2026-10", li)) == 3


# ----------------------------------------------------------------- the command


def test_json_is_exactly_the_contract(city: Path) -> None:
    p = run_cli("assess", "--config", city, "--period", "2026-10", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    out = json.loads(p.stdout)
    assert [(o["assessment"], o["region"], o["department"]) for o in out] == [
        ("county", "101", None),
        ("county", "102", None),
        ("county", "103", None),
        ("county", "104", None),
        ("dept", "100", "ga"),
        ("dept", "100", "sj"),
        ("dept", "100", "zw"),
        ("mixed", "101", None),
        ("mixed", "102", None),
        ("mixed", "103", None),
        ("mixed", "104", None),
    ]
    o = out[0]
    assert list(o) == ["assessment", "period", "region", "department", "score", "rank", "items"]
    assert o["period"] == "2026-10"
    assert isinstance(o["score"], float) and o["score"] == pytest.approx(50)
    assert type(o["rank"]) is int and o["rank"] == 3
    assert o["items"][0] == {"indicator": "rate", "value": 75.0, "target": 90.0, "points": 20.0}
    for item in o["items"]:
        assert list(item) == ["indicator", "value", "target", "points"]
        assert all(isinstance(item[k], float) for k in ("value", "target", "points"))
    assert out[2]["items"][2] == {"indicator": "sat", "value": None, "target": 100.0, "points": 0.0}
    # without --period: every period in which any item's indicator has a row, in order
    code, stdout, stderr = invoke("assess", "--config", city, "--assessment", "county", "--format", "json")
    assert code == 0, stderr
    out = json.loads(stdout)
    assert [(o["period"], o["region"]) for o in out] == [
        (m, r) for m in ("2026-09", "2026-10") for r in ("101", "102", "103", "104")
    ]


def test_table_is_chinese_ranked_and_rounded(city: Path) -> None:
    p = run_cli("assess", "--config", city, "--assessment", "county", "--period", "2026-10")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("区县考核（county） 2026-10")
    assert lines[1].split()[:6] == ["名次", "地区", "得分", "网办率(40分)", "办理时长(30分)", "满意率(30分)"]
    assert "较上期" in lines[1] and "追赶" in lines[1]
    body = [line.split() for line in lines[2:6]]
    assert [r[:3] for r in body] == [
        ["1", "西区", "60.00"],
        ["1", "北区", "60.00"],
        ["3", "东区", "50.00"],
        ["4", "南区", "40.00"],
    ]
    assert body[2][3:7] == ["20.0", "15.0", "15.0", "↓2"]
    assert "追上第1名需再得 10.0 分，例如网办率提高到 82.5%" in lines[4]
    assert "追上第3名需再得 10.0 分，例如办理时长降低到 6.33工作日" in lines[5]
    assert body[3][5] == "—" and "无数据" in p.stdout  # 南区's 满意率 has no value


def test_as_user_limits_subjects_and_keeps_ranks(city: Path) -> None:
    p = run_cli("assess", "--config", city, "--period", "2026-10", "--format", "json", "--as", "zhang")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert [(o["assessment"], o["region"], o["rank"]) for o in out] == [
        ("county", "101", 3),
        ("mixed", "101", 2),
    ]
    code, stdout, stderr = invoke(
        "assess", "--config", city, "--period", "2026-10", "--format", "json", "--as", "li"
    )
    assert code == 0, stderr
    assert {o["assessment"] for o in json.loads(stdout)} == {"dept", "mixed"}
    assert "WARNING" in stderr and "'county'" in stderr
    code, stdout, stderr = invoke("assess", "--config", city, "--as", "nobody")
    assert code == 2 and "unknown user 'nobody'" in stderr and stdout == ""


def test_usage_errors_exit_2(city: Path) -> None:
    code, stdout, stderr = invoke("assess", "--config", city, "--assessment", "countyy")
    assert code == 2 and stdout == ""
    assert stderr == "ERROR: --assessment: unknown assessment 'countyy' (did you mean 'county'?)\n"
    code, stdout, stderr = invoke("assess", "--config", city, "--period", "2026-1")
    assert code == 2 and stdout == "" and "did you mean '2026-01'?" in stderr


def test_a_failed_source_exits_1_and_still_scores(tmp_path: Path) -> None:
    cfg = write_city(tmp_path)
    (tmp_path / "hotline.csv").unlink()
    p = run_cli(
        "assess", "--config", cfg, "--assessment", "county", "--period", "2026-10", "--format", "json"
    )
    assert p.returncode == 1
    assert "ERROR" in p.stderr and "Traceback" not in p.stderr
    out = {o["region"]: o for o in json.loads(p.stdout)}
    assert out["101"]["score"] == pytest.approx(35)  # rate and days still count; sat scores 0
    assert out["101"]["items"][2]["value"] is None


# ----------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("weight: 40, floor: 60", "weight: 0, floor: 60", "items[0].weight: weight must be positive (got 0)"),
        (
            'targets: {"102": 80}',
            'targets: {"102": 60}',
            "items[0].targets.102: target must differ from floor (60)",
        ),
        ('targets: {"102": 80}', 'targets: {"102": 80, "101001": 80}', "region '101001' is not a subject"),
        ('targets: {"102": 80}', 'targets: {"109": 80}', "unknown subject '109'"),
        (
            "{indicator: rate, weight: 40",
            "{indicator: ratee, weight: 40",
            "unknown indicator 'ratee' (did you mean 'rate'?)",
        ),
        ("floor: 8, target: 3}", "floor: 3, target: 3}", "items[1].target: target must differ from floor"),
    ],
)
def test_validation_of_assessments(tmp_path: Path, old: str, new: str, message: str) -> None:
    cfg = write_city(tmp_path)
    assert old in CONFIG
    cfg.write_text(CONFIG.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_catalogue(cfg)
    problems = [str(p) for p in e.value.problems]
    assert any(message in p and "assessment 'county'" in p for p in problems), problems


def test_a_department_assessment_needs_department_rows(tmp_path: Path) -> None:
    cfg = write_city(tmp_path)
    cfg.write_text(
        CONFIG.replace("      - {indicator: days, weight: 50,", "      - {indicator: sat, weight: 50,"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        load_catalogue(cfg)
    assert [p.message for p in e.value.problems] == [
        "indicator 'sat' has no department column: it has no row per department, so every subject would score 0"
    ]


# ----------------------------------------------------------------- the sample city


def test_sample_city_every_subject_scored_and_ranked() -> None:
    if not (REPO_ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("the sample city is not generated (make sample)")
    cfg = REPO_ROOT / "indicators.yaml"
    cat = load_catalogue(cfg)
    ids = {a.id: a for a in cat.config.assessments}
    assert {"szzf_2026", "bmxn_2026"} <= set(ids)
    szzf = ids["szzf_2026"]
    assert szzf.subjects == "regions" and 5 <= len(szzf.items) <= 7
    assert sum(i.weight for i in szzf.items) == 100
    assert any(
        cat.indicators[i.indicator].direction == "lower_better" and i.floor > i.target for i in szzf.items
    )
    assert sum(len(i.targets) for i in szzf.items) >= 2  # 逐项分解
    assert ids["bmxn_2026"].subjects == "departments" and sum(i.weight for i in ids["bmxn_2026"].items) == 100

    p = run_cli("assess", "--config", cfg, "--format", "json", env={"COCKPIT_NO_CACHE": "1"})
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    out = json.loads(p.stdout)
    subjects = {
        "szzf_2026": {(r, None) for r in cat.tree.children(cat.root)},
        "bmxn_2026": {(cat.root, d.id) for d in cat.config.org.departments},
    }
    groups: dict[tuple[str, str], list[dict]] = {}
    for o in out:
        groups.setdefault((o["assessment"], o["period"]), []).append(o)
    assert ("szzf_2026", "2026-10") in groups and ("bmxn_2026", "2026-10") in groups
    for (aid, _period), group in groups.items():
        assert {(o["region"], o["department"]) for o in group} == subjects[aid]
        for o in group:
            assert 0 <= o["score"] <= 100
            assert o["score"] == pytest.approx(sum(i["points"] for i in o["items"]))
            # competition ranking: one more than the number of subjects scoring higher
            assert o["rank"] == 1 + sum(1 for x in group if x["score"] > o["score"] + 1e-9)
    latest = sorted(groups[("szzf_2026", "2026-10")], key=lambda o: o["rank"])
    assert latest[0]["rank"] == 1 and latest[0]["score"] > latest[-1]["score"]
    assert latest[-1]["region"] == "130306"  # 东湖县, whose online rate slides from March 2026
