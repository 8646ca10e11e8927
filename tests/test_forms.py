"""Form sources (contract section 14): import, status, template, history, locks, reminders, 一张表.

The command line is run as a user runs it (``cockpit forms …`` in a subprocess);
the store, the checks and the reminders are also driven directly with an
injected clock, where the due-day edges are the point.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from servers import REPO_ROOT, run_cli

from metrics.access import scope_for
from metrics.catalogue.load import load_catalogue
from metrics.catalogue.problems import ConfigError
from metrics.forms import (
    FormStore,
    RawRow,
    check_rows,
    due_date,
    field_usage,
    get_form,
    import_rows,
    parse_period,
    parse_value,
    reminders_due,
    reporters,
    status_of,
)

CONFIG = """\
version: 1
org:
  regions:
    id: "130300"
    name: 示范市
    children:
      - {id: "130302", name: 海港区, children: [{id: "130302001", name: 东山街道}]}
      - {id: "130303", name: 山海关区}
      - {id: "130304", name: 北戴河区}
  departments:
    - {id: zwfw, name: 市政务服务管理办公室}
    - {id: fgw, name: 市发展和改革委员会}
access:
  users:
    - {id: zhang, name: 张区长, role: leader, regions: ["130302"]}
    - {id: wang, name: 王秘书长, role: leader, regions: ["130300"]}
    - {id: zhao, name: 赵镇长, role: leader, regions: ["130302001"]}
sources:
  county_monthly:
    type: form
    name: 区县月度填报
    grain: month
    reporters: regions
    due_day: 5
    fields:
      - {id: visits, name: 走访企业数, type: integer, min: 0, required: true}
      - {id: solved, name: 解决问题数, type: integer, min: 0, required: true}
      - {id: level, name: 评价, type: choice, choices: [好, 中, 差]}
      - {id: note, name: 备注, type: text}
    checks:
      - {rule: "solved <= visits", message: 解决问题数不能大于走访企业数}
  dept_quarterly:
    type: form
    name: 部门季度填报
    grain: quarter
    reporters: departments
    due_day: 10
    fields:
      - {id: items, name: 事项数, type: number, min: 0, max: 1000, required: true}
channels:
  zhang_robot: {type: webhook, url: "http://127.0.0.1:9/hook", format: json, user: zhang}
  wang_robot: {type: webhook, url: "http://127.0.0.1:9/hook", format: json, user: wang}
  zhao_robot: {type: webhook, url: "http://127.0.0.1:9/hook", format: json, user: zhao}
  duty_robot: {type: webhook, url: "http://127.0.0.1:9/hook", format: json}
indicators:
  - id: visits
    name: 走访企业数
    unit: 家
    source: county_monthly
    time: {column: period, grain: month}
    region: region
    measure: {type: sum, column: visits}
  - id: solve_rate
    name: 问题解决率
    unit: "%"
    source: county_monthly
    time: {column: period, grain: month}
    region: region
    measure: {type: ratio, numerator: {agg: sum, column: solved}, denominator: {agg: sum, column: visits}, scale: 100}
  - id: visits_quarterly
    name: 季度走访企业数
    unit: 家
    source: county_monthly
    time: {column: period, grain: quarter}
    region: region
    measure: {type: sum, column: visits}
"""

GOOD = "period,region,走访企业数,solved,评价,备注\n2026-10,130302,10,4,好,\n2026-10,130303,20,5,,ok\n"


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "indicators.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def status_json(cfg: Path, period: str = "2026-10", form: str = "county_monthly") -> dict[str, dict]:
    r = run_cli("forms", "status", "--config", cfg, "--form", form, "--period", period, "--format", "json")
    assert r.returncode == 0, r.stderr
    return {(x["department"] or x["region"]): x for x in json.loads(r.stdout)}


def compute(cfg: Path, *ids: str, period: str | None = None, no_cache: bool = False) -> dict[tuple, dict]:
    args = [a for i in ids for a in ("--indicator", i)] + (["--period", period] if period else [])
    env = {"COCKPIT_NO_CACHE": "1"} if no_cache else {"COCKPIT_NO_CACHE": None}
    r = run_cli("compute", "--config", cfg, "--format", "json", *args, env=env)
    assert r.returncode == 0, r.stderr
    return {(x["indicator"], x["period"], x["region"]): x for x in json.loads(r.stdout)}


# ----------------------------------------------------------------- import → store → compute


def test_csv_import_is_stored_and_computed_like_any_source(cfg: Path, tmp_path: Path) -> None:
    r = run_cli(
        "forms", "import", "--config", cfg, "--form", "county_monthly", write(tmp_path / "a.csv", GOOD)
    )
    assert r.returncode == 0, r.stderr
    assert "2 rows imported" in r.stdout
    st = status_json(cfg)
    assert list(st) == ["130302", "130303", "130304"]  # the root's children, in tree order
    assert set(st["130302"]) == {"region", "department", "status", "submitted_at"}
    assert st["130304"] == {"region": "130304", "department": None, "status": "missing", "submitted_at": None}
    rows = compute(cfg, "visits", "solve_rate", "visits_quarterly")
    assert rows[("visits", "2026-10", "130300")]["value"] == 30  # the city: its counties' rows summed
    assert rows[("visits", "2026-10", "130302")]["rank"] == 2
    assert rows[("solve_rate", "2026-10", "130300")]["value"] == pytest.approx(30.0)
    assert rows[("visits_quarterly", "2026-Q4", "130303")]["value"] == 20  # a coarser grain over `period`
    # a replaced row changes the source's fingerprint: the cached aggregate is not served again
    fix = write(tmp_path / "b.csv", "period,region,visits,solved\n2026-10,130303,26,5\n")
    assert run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", fix).returncode == 0
    assert compute(cfg, "visits")[("visits", "2026-10", "130300")]["value"] == 36


def test_xlsx_template_round_trip(cfg: Path, tmp_path: Path) -> None:
    import openpyxl

    out = tmp_path / "模板.xlsx"
    r = run_cli("forms", "template", "--config", cfg, "--form", "county_monthly", "--output", out)
    assert r.returncode == 0, r.stderr
    wb = openpyxl.load_workbook(out)
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == ["period", "region", "走访企业数", "解决问题数", "评价", "备注"]
    assert "整数" in ws["C1"].comment.text and "≥ 0" in ws["C1"].comment.text  # types and rules
    notes = wb["填报说明"]
    text = " ".join(str(c.value) for row in notes.iter_rows() for c in row if c.value is not None)
    assert "solved <= visits" in text and "解决问题数不能大于走访企业数" in text and "130303" in text
    # Excel turns a typed 2026-11 into a date and a typed code into a number: both read back
    ws.append(["2026-11", "130302", 7, 3, "中", "已核"])
    ws.append([dt.datetime(2026, 11, 1), 130303, 8.0, 2, None, None])
    wb.save(out)
    r = run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", out)
    assert r.returncode == 0, r.stderr
    st = status_json(cfg, "2026-11")
    assert st["130302"]["status"] == st["130303"]["status"] == "submitted"
    rows = compute(cfg, "visits", period="2026-11", no_cache=True)
    assert rows[("visits", "2026-11", "130300")]["value"] == 15


def test_bad_file_refused_whole_with_every_bad_row(cfg: Path, tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.csv",
        "period,region,visits,solved,评价\n"
        "2026-10,130302,10,40,好\n"  # the form's check
        "2026-10,130303,12,3,好\n"  # a good row: not imported either
        "2026-13,130304,x,5,好\n"  # two problems in one row
        "2026-10,130399,1,1,好\n"  # not a reporter
        "2026-10,130304,,1,优\n"  # required, choice
        "2026-10,130303,1,1,\n",  # the same reporter and period twice
    )
    r = run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", bad)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines == [
        f"ERROR: {bad}:2: region '130302': solved: 解决问题数不能大于走访企业数",
        f"ERROR: {bad}:4: region '130304': period: 应为月，如 2026-10，不是 '2026-13'",
        f"ERROR: {bad}:4: region '130304': visits: 应为整数，不是 'x'",
        f"ERROR: {bad}:5: region '130399': region: 地区 '130399' 不是本表的填报单位 (did you mean '130304'?)",
        f"ERROR: {bad}:6: region '130304': visits: 必填",
        f"ERROR: {bad}:6: region '130304': level: 应为以下之一：好、中、差（填写了 '优'）",
        f"ERROR: {bad}:7: region '130303': period: 与第 3 行重复（同一期间、同一填报单位只填一行）",
    ], r.stderr
    assert r.stdout == ""
    assert all(x["status"] == "missing" for x in status_json(cfg).values())  # nothing stored
    db = cfg.parent / ".cockpit" / "forms.db"
    assert not db.exists() or sqlite3.connect(db).execute("SELECT COUNT(*) FROM history").fetchone()[0] == 0


def test_header_problems_and_unknown_form(cfg: Path, tmp_path: Path) -> None:
    f = write(tmp_path / "h.csv", "period,region,vists,solved\n2026-10,130302,1,1\n")
    r = run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", f)
    assert r.returncode == 2
    assert f"ERROR: {f}:1: column 'vists': 不是本表的列 (did you mean 'visits'?)" in r.stderr.splitlines()
    assert f"ERROR: {f}:1: column 'visits': 缺少必填项「走访企业数」的列" in r.stderr.splitlines()
    r = run_cli("forms", "status", "--config", cfg, "--form", "county_montly", "--period", "2026-10")
    assert r.returncode == 2
    assert r.stderr.strip() == "ERROR: --form: unknown form 'county_montly' (did you mean 'county_monthly'?)"
    r = run_cli("forms", "template", "--config", cfg, "--form", "visits", "--output", tmp_path / "x.xlsx")
    assert r.returncode == 2 and "unknown form 'visits'" in r.stderr
    r = run_cli("forms", "status", "--config", cfg, "--form", "county_monthly", "--period", "2026-Q4")
    assert r.returncode == 2 and "2026-10" in r.stderr  # a monthly form takes a month
    assert "Traceback" not in r.stderr


# ----------------------------------------------------------------- history, status, scope, locks


def test_replaced_value_keeps_its_history(cfg: Path, tmp_path: Path) -> None:
    run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", write(tmp_path / "a.csv", GOOD))
    fix = write(tmp_path / "fix.csv", "period,region,visits,solved\n2026-10,130302,12,4\n")
    r = run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", "--as", "zhang", fix)
    assert r.returncode == 0 and "1 replaced" in r.stdout, r.stderr
    r = run_cli(
        "forms",
        "history",
        "--config",
        cfg,
        "--form",
        "county_monthly",
        "--period",
        "2026-10",
        "--format",
        "json",
    )
    mine = [h for h in json.loads(r.stdout) if h["region"] == "130302"]
    assert [h["user"] for h in mine] == ["cli", "zhang"]
    assert {"field": "visits", "old": 10, "new": 12} in mine[1]["changes"]
    assert {"field": "level", "old": "好", "new": None} in mine[1][
        "changes"
    ]  # a replaced row: level now empty
    cat = load_catalogue(cfg)
    store = FormStore.for_catalogue(cat)
    assert store.submissions("county_monthly", "2026-10")[0].values["visits"] == 12
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        sqlite3.connect(store.path).execute("DELETE FROM history")


def test_status_at_the_due_day_edges(cfg: Path, tmp_path: Path) -> None:
    def imp(region: str, now: str) -> None:
        f = write(tmp_path / f"{region}.csv", f"period,region,visits,solved\n2026-10,{region},5,1\n")
        r = run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", "--now", now, f)
        assert r.returncode == 0, r.stderr

    imp("130302", "2026-11-05T23:59:59")  # the last second of the due day: on time
    imp("130303", "2026-11-06T00:00:00")  # the first second after it: late
    st = status_json(cfg)
    assert st["130302"] == {
        "region": "130302",
        "department": None,
        "status": "submitted",
        "submitted_at": "2026-11-05T23:59:59",
    }
    assert st["130303"]["status"] == "late" and st["130304"]["status"] == "missing"
    imp("130302", "2026-11-20T10:00:00")  # a late revision of an on-time row stays on time
    assert status_json(cfg)["130302"]["submitted_at"] == "2026-11-05T23:59:59"
    # the table form says it in Chinese
    r = run_cli("forms", "status", "--config", cfg, "--form", "county_monthly", "--period", "2026-10")
    assert "截止 2026-11-05" in r.stdout and "已报 1，逾期 1，未报 1" in r.stdout


def test_due_dates_per_grain() -> None:
    cat = load_catalogue_text(CONFIG)
    assert due_date(get_form(cat, "county_monthly"), "2026-12") == dt.date(2027, 1, 5)
    assert due_date(get_form(cat, "dept_quarterly"), "2026-Q3") == dt.date(2026, 10, 10)


def test_reporter_outside_their_scope_is_refused(cfg: Path, tmp_path: Path) -> None:
    f = write(tmp_path / "a.csv", GOOD)
    r = run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", "--as", "zhang", f)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"ERROR: {f}:3: region '130303': region: 不在用户 zhang 的填报范围内"]
    assert all(x["status"] == "missing" for x in status_json(cfg).values())
    # a town's user does not cover its county's row either
    r = run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", "--as", "zhao", f)
    assert r.returncode == 2 and r.stderr.count("不在用户 zhao 的填报范围内") == 2
    r = run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", "--as", "nobody", f)
    assert r.returncode == 2 and "unknown user 'nobody'" in r.stderr
    assert (
        run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", "--as", "wang", f).returncode
        == 0
    )


def test_lock_and_reopen(cfg: Path, tmp_path: Path) -> None:
    f = write(tmp_path / "a.csv", GOOD)
    r = run_cli(
        "forms",
        "lock",
        "--config",
        cfg,
        "--form",
        "county_monthly",
        "--period",
        "2026-10",
        "--reason",
        "已核定",
    )
    assert r.returncode == 0, r.stderr
    r = run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", f)
    assert r.returncode == 2
    assert (
        f"ERROR: {f}:2: region '130302': period: 2026年10月已锁定，不能再修改（请市级管理员重新开放）"
        in r.stderr
    )
    r = run_cli(
        "forms",
        "reopen",
        "--config",
        cfg,
        "--form",
        "county_monthly",
        "--period",
        "2026-10",
        "--as",
        "zhang",
        "--reason",
        "x",
    )
    assert r.returncode == 2 and "may not lock or reopen" in r.stderr  # a county leader is no city staff
    r = run_cli("forms", "reopen", "--config", cfg, "--form", "county_monthly", "--period", "2026-10")
    assert r.returncode == 2  # a reason is required
    r = run_cli(
        "forms",
        "reopen",
        "--config",
        cfg,
        "--form",
        "county_monthly",
        "--period",
        "2026-10",
        "--reason",
        "更正",
    )
    assert r.returncode == 0, r.stderr
    assert run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", f).returncode == 0
    store = FormStore.for_catalogue(load_catalogue(cfg))
    log = [(e.action, e.user, e.reason) for e in store.lock_log("county_monthly", "2026-10")]
    assert log == [("lock", "cli", "已核定"), ("reopen", "cli", "更正")]


def test_drafts_and_submissions_through_the_store(cfg: Path) -> None:
    cat = load_catalogue(cfg)
    store = FormStore.for_catalogue(cat)
    now = dt.datetime(2026, 11, 3, 9, 0)
    row = RawRow(None, "2026-10", "130304", {"visits": "8", "solved": 2})
    res = import_rows(cat, store, "county_monthly", [row], user="demo", now=now, status="draft")
    assert res.ok, res.errors
    st = {s.reporter.id: s for s in status_of(cat, store, "county_monthly", "2026-10")}
    assert st["130304"].status == "missing" and st["130304"].draft  # a draft is not a report
    assert compute_rows(cat).height == 0  # nor data
    res = import_rows(cat, store, "county_monthly", [row], user="demo", now=now)
    assert res.ok and status_of(cat, store, "county_monthly", "2026-10")[2].status == "submitted"
    res = import_rows(cat, store, "county_monthly", [row], user="demo", now=now, status="draft")
    assert [e.message for e in res.errors] == ["已提交，不能再存为草稿；修改后请直接提交"]
    assert compute_rows(cat)["value"].to_list() == [8.0, 8.0]  # the city and 北戴河区


def compute_rows(cat):  # noqa: ANN001, ANN201 - the engine's rows of `visits`
    from metrics.engine import Engine

    res = Engine(cat, use_store=False).compute(["visits"])
    assert not res.errors, res.errors
    return res.rows


def test_value_and_period_reading() -> None:
    cat = load_catalogue_text(CONFIG)
    form = get_form(cat, "county_monthly")
    visits = form.fields[0]
    assert parse_value(visits, " 1,234 ") == (1234, None)
    assert parse_value(visits, 12.0) == (12, None)
    assert parse_value(visits, "2.5")[1] == "应为整数，不是 '2.5'"
    assert parse_value(visits, -1)[1] == "不能小于 0（填写了 -1）"
    assert parse_value(form.fields[3], None) == (None, None)  # optional
    assert parse_period(form, "2026-1") == ("2026-01", None)
    assert parse_period(form, dt.date(2026, 10, 1)) == ("2026-10", None)
    assert parse_period(form, dt.date(2026, 10, 5))[1] == "应为月，如 2026-10，不是 '2026-10-05'"
    items = get_form(cat, "dept_quarterly").fields[0]
    assert parse_value(items, "1000.5")[1] == "不能大于 1000（填写了 1000.5）"


def test_checks_are_evaluated_safely() -> None:
    bad = CONFIG.replace('rule: "solved <= visits"', "rule: \"solved <= (SELECT 1) OR read_csv('x') = 1\"")
    with pytest.raises(ConfigError) as e:
        load_catalogue_text(bad)
    assert any("checks[0].rule" in str(p) and "not allowed" in str(p) for p in e.value.problems)
    cat = load_catalogue_text(CONFIG)
    form = get_form(cat, "county_monthly")
    rows = [
        RawRow(2, "2026-10", "130302", {"visits": 1, "solved": 2}),
        RawRow(3, "2026-10", "130303", {"visits": 2, "solved": 2}),
    ]
    entries, errors = check_rows(form, rows, known=reporters(cat, form))
    assert [e.row for e in errors] == [2] and [e.region for e in entries] == ["130303"]


def test_form_config_problems(tmp_path: Path) -> None:
    bad = CONFIG.replace(
        "      - {id: note, name: 备注, type: text}",
        "      - {id: note, name: 备注, type: text, min: 1}\n"
        "      - {id: region, name: 走访企业数, type: choice}",
    ).replace('rule: "solved <= visits"', 'rule: "solved <= vists"')
    bad = bad.replace(
        "measure: {type: sum, column: visits}\n  - id: solve_rate",
        "measure: {type: sum, column: visitz}\n  - id: solve_rate",
    )
    bad = bad.replace("time: {column: period, grain: quarter}", "time: {column: period, grain: day}")
    with pytest.raises(ConfigError) as e:
        load_catalogue_text(bad)
    text = "\n".join(str(p) for p in e.value.problems)
    assert "fields[3].min: only integer and number fields take 'min'" in text
    assert "fields[4].id: 'region' is a column every form has" in text
    assert "fields[4].name: duplicate field name '走访企业数'" in text
    assert "fields[4].choices: a choice field needs 'choices'" in text
    assert "checks[0].rule: unknown field 'vists' (did you mean 'visits'?)" in text
    assert "indicator 'visits': measure.column: unknown column 'visitz' (did you mean 'visits'?)" in text
    assert "indicator 'visits_quarterly': time.grain: form 'county_monthly' is reported by month" in text


# ----------------------------------------------------------------- 一张表 and reminders


def test_one_form_many_indicators_field_usage() -> None:
    cat = load_catalogue_text(CONFIG)
    usage = field_usage(cat)
    assert usage["county_monthly"] == {
        "visits": ["visits", "solve_rate", "visits_quarterly"],  # asked once, used three times
        "solved": ["solve_rate"],
        "level": [],
        "note": [],
    }
    assert usage["dept_quarterly"] == {"items": []}


def test_reminders_keys_and_channels(cfg: Path) -> None:
    cat = load_catalogue(cfg)
    store = FormStore.for_catalogue(cat)
    ok = [RawRow(None, "2026-10", "130303", {"visits": 3, "solved": 1})]
    assert import_rows(cat, store, "county_monthly", ok, user="demo", now=dt.datetime(2026, 11, 2)).ok
    draft = [RawRow(None, "2026-10", "130304", {"visits": 3, "solved": 1})]
    assert import_rows(
        cat, store, "county_monthly", draft, user="demo", now=dt.datetime(2026, 11, 2), status="draft"
    ).ok

    def due(now: dt.datetime) -> dict[str, tuple[str, ...]]:
        return {r.key: r.channels for r in reminders_due(cat, store, now) if r.period == "2026-10"}

    assert due(dt.datetime(2026, 11, 2, 23, 59)) == {}  # 3 days before the due day: not yet
    # meanwhile the latest period past its due day (September) is overdue for everyone
    september = [
        r.key for r in reminders_due(cat, store, dt.datetime(2026, 11, 2)) if r.form == "county_monthly"
    ]
    assert september == [f"form:county_monthly:2026-09:{r}:overdue" for r in ("130302", "130303", "130304")]
    soon = due(dt.datetime(2026, 11, 3, 8, 0))
    assert soon == {
        "form:county_monthly:2026-10:130302:due_soon": ("zhang_robot", "wang_robot"),
        "form:county_monthly:2026-10:130304:due_soon": ("wang_robot",),  # a draft is still reminded
    }
    assert set(due(dt.datetime(2026, 11, 5, 18, 0))) == set(soon)  # the due day itself: still "soon"
    late = due(dt.datetime(2026, 11, 6, 0, 0))
    assert set(late) == {
        "form:county_monthly:2026-10:130302:overdue",
        "form:county_monthly:2026-10:130304:overdue",
    }
    (one,) = [r for r in reminders_due(cat, store, dt.datetime(2026, 11, 6)) if r.region == "130302"]
    assert one.kind == "overdue" and one.due == dt.date(2026, 11, 5)
    assert one.message["level"] == "reminder"
    assert one.message["title"] == "【填报逾期】区县月度填报 2026年10月 · 海港区"
    assert (
        one.message["link"] == "http://localhost:8501/forms?form=county_monthly&period=2026-10&region=130302"
    )
    assert one.message["link"] in one.message["markdown"] and "已过 1 天" in one.message["markdown"]
    # a department form reaches only channels whose user holds the root (department rows)
    dept = [
        r
        for r in reminders_due(cat, store, dt.datetime(2026, 10, 9))
        if r.form == "dept_quarterly" and r.period == "2026-Q3"
    ]
    assert {r.key for r in dept} == {
        "form:dept_quarterly:2026-Q3:zwfw:due_soon",
        "form:dept_quarterly:2026-Q3:fgw:due_soon",
    }
    assert {r.channels for r in dept} == {("wang_robot",)}
    # a locked period reminds nobody
    store.lock("county_monthly", "2026-10", user="wang", now=dt.datetime(2026, 11, 6))
    assert due(dt.datetime(2026, 11, 7)) == {}


def test_department_form_status_carries_the_root(cfg: Path, tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "period,department,事项数\n2026-Q3,zwfw,12.5\n")
    r = run_cli("forms", "import", "--config", cfg, "--form", "dept_quarterly", f)
    assert r.returncode == 0, r.stderr
    st = status_json(cfg, "2026-Q3", "dept_quarterly")
    assert st["zwfw"]["region"] == "130300" and st["zwfw"]["department"] == "zwfw"
    assert st["fgw"]["status"] == "missing"


# ----------------------------------------------------------------- seeds and the sample city


def test_seed_is_imported_once(cfg: Path) -> None:
    seeds = cfg.parent / "forms"
    seeds.mkdir()
    write(
        seeds / "county_monthly.seed.csv",
        "period,region,visits,solved,submitted_by,submitted_at\n"
        "2026-09,130302,9,3,tb,2026-10-04T10:00:00\n"
        "2026-09,130303,7,2,tb,2026-10-08T10:00:00\n",
    )
    rows = compute(cfg, "visits", period="2026-09", no_cache=True)  # the first use seeds the store
    assert rows[("visits", "2026-09", "130300")]["value"] == 16
    assert [x["status"] for x in status_json(cfg, "2026-09").values()] == ["submitted", "late", "missing"]
    f = write(cfg.parent / "fix.csv", "period,region,visits,solved\n2026-09,130302,10,3\n")
    assert run_cli("forms", "import", "--config", cfg, "--form", "county_monthly", f).returncode == 0
    rows = compute(cfg, "visits", period="2026-09", no_cache=True)  # never seeded again over new rows
    assert rows[("visits", "2026-09", "130300")]["value"] == 17


def test_the_sample_seed_fits_the_shipped_form(tmp_path: Path) -> None:
    cat = load_catalogue(REPO_ROOT / "indicators.yaml")
    if "county_monthly" not in cat.config.sources:
        pytest.skip("the shipped catalogue has no county form yet")
    form = get_form(cat, "county_monthly")
    store = FormStore(tmp_path / "forms.db")
    assert store.seed_once("county_monthly", form, REPO_ROOT / "forms" / "county_monthly.seed.csv") > 150
    st = [s.status for s in status_of(cat, store, "county_monthly", "2026-10")]
    assert (st.count("submitted"), st.count("late"), st.count("missing")) == (5, 2, 1)
    assert {s.reporter.id for s in status_of(cat, store, "county_monthly", "2026-09")} == {
        r.id for r in reporters(cat, form)
    }
    assert len(field_usage(cat)["county_monthly"]["visits"]) >= 2  # the 一张表 case


# ----------------------------------------------------------------- the 数据填报 page


def test_forms_page_board_lock_and_reporter(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    # the page under an open demo: the same config without its access block
    open_cfg = write(
        tmp_path / "open.yaml", CONFIG.split("access:")[0] + "sources:" + CONFIG.split("\nsources:")[1]
    )
    open_cfg = write(
        open_cfg,
        open_cfg.read_text(encoding="utf-8")
        .replace(", user: zhang", "")
        .replace(", user: wang", "")
        .replace(", user: zhao", ""),
    )
    run_cli(
        "forms",
        "import",
        "--config",
        open_cfg,
        "--form",
        "county_monthly",
        "--now",
        "2026-11-04T09:00",
        write(tmp_path / "a.csv", GOOD),
    )
    monkeypatch.setenv("COCKPIT_CONFIG", str(open_cfg))
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(REPO_ROOT / "pages" / "forms.py"), default_timeout=60)
        at.query_params["period"] = "2026-10"
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert {m.label: m.value for m in at.metric} == {
            "已报": "2",
            "逾期": "0",
            "未报": "1",
            "填报单位": "3",
        }
        at.text_input(key="forms_lock_reason").input("已核定")
        at.button(key="forms_lock").click().run()
        assert [s.value for s in at.success] == ["2026年10月已锁定。"]
        at.button(key="forms_reopen").click().run()  # no reason: refused
        assert [e.value for e in at.error] == ["请填写重新开放的原因。"]
        at.text_input(key="forms_reopen_reason").input("更正").run()
        at.button(key="forms_reopen").click().run()
        assert [s.value for s in at.success] == ["2026年10月已重新开放。"]
        # acting as a reporter: an empty submission gets Chinese messages, nothing is stored
        at.query_params["region"] = "130304"
        at.segmented_control(key="forms_role").set_value("填报（区县/部门）").run()
        assert not at.exception, [e.message for e in at.exception]
        assert at.subheader[0].value == "北戴河区 · 区县月度填报 · 2026年10月"
        at.button(key="forms_submit").click().run()
        assert "**走访企业数**：必填" in at.error[0].value
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
    cat = load_catalogue(open_cfg)
    assert [s.status for s in status_of(cat, FormStore.for_catalogue(cat), "county_monthly", "2026-10")][
        2
    ] == "missing"


def load_catalogue_text(text: str):  # noqa: ANN201
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "indicators.yaml"
        path.write_text(text, encoding="utf-8")
        return load_catalogue(path)


def test_scope_helper_used_by_reminders_is_the_access_one(cfg: Path) -> None:
    cat = load_catalogue(cfg)
    assert scope_for(cat, "zhang").sees_region("130302001")


# ----------------------------------------------------------------- the page's submit path in AppTest


def open_demo_config(tmp_path: Path) -> Path:
    """The test city without its access block and channel users: the page acts as the open demo."""
    text = CONFIG.split("access:")[0] + "sources:" + CONFIG.split("\nsources:")[1]
    for user in ("zhang", "wang", "zhao"):
        text = text.replace(f", user: {user}", "")
    folder = tmp_path / "open"
    folder.mkdir()
    return write(folder / "indicators.yaml", text)


def test_forms_page_reporter_submits_through_the_editor_and_the_board_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reporter's real submit path: the editor's edit state (what the browser sends), then 提交.

    AppTest cannot type into ``st.data_editor``; a keyed editor's state is seeded on
    ``at.session_state[key]`` as Streamlit stores it (``edited_rows`` by row position),
    and the page then reads the edited frame exactly as after a browser edit.
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from metrics import periods
    from metrics.forms import board, reporting_period

    cfg = open_demo_config(tmp_path)
    cat = load_catalogue(cfg)
    form = get_form(cat, "county_monthly")
    store = FormStore.for_catalogue(cat)
    reps = {r.id: r for r in reporters(cat, form)}
    # the page runs on the real clock: the open month (due next month, so a submission now is on
    # time) and the last ended month, where 海港区 reported on the due day and 山海关区 two days late
    today = dt.date.today()
    open_p = periods.to_period(today, "month")
    closed = reporting_period(form, today)
    due = due_date(form, closed)
    for region, at_time in (("130302", dt.time(9, 0)), ("130303", dt.time(10, 0))):
        when = dt.datetime.combine(due + dt.timedelta(days=0 if region == "130302" else 2), at_time)
        row = RawRow(None, closed, region, {"visits": 10, "solved": 4})
        assert import_rows(cat, store, "county_monthly", [row], user="tb", now=when).ok

    def edits(**values: object) -> dict:
        return {"edited_rows": {0: values}, "added_rows": [], "deleted_rows": []}

    def statuses(at: AppTest) -> dict[str, str]:
        table = next(d.value for d in at.dataframe if "代码" in d.value.columns)
        return dict(zip(table["代码"], table["状态"], strict=True))

    monkeypatch.setenv("COCKPIT_CONFIG", str(cfg))
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(REPO_ROOT / "pages" / "forms.py"), default_timeout=60)
        at.query_params["period"] = open_p
        at.query_params["region"] = "130304"  # a reminder's link: opens as that reporter
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert at.subheader[0].value == f"北戴河区 · 区县月度填报 · {periods.label(open_p)}"
        assert "状态：**未填报**" in " ".join(m.value for m in at.markdown)
        [editor] = at.data_editor
        assert editor.editing_mode == "fixed" and list(editor.value.columns) == [
            "visits",
            "solved",
            "level",
            "note",
        ]
        assert at.session_state[editor.key] == {"edited_rows": {}, "added_rows": [], "deleted_rows": []}

        # a bad row: the form's check, in Chinese, under the editor as it is edited
        at.session_state[editor.key] = edits(visits=12, solved=20)
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert [e.value for e in at.error] == [
            "请更正以下问题后再提交：\n\n- **解决问题数**：解决问题数不能大于走访企业数"
        ]
        at.button(key="forms_submit").click().run()  # and again on 提交: nothing is stored
        assert "无法提交：\n\n- **解决问题数**：解决问题数不能大于走访企业数" in [e.value for e in at.error]
        assert at.success == []
        assert store.get("county_monthly", open_p, reps["130304"]) is None
        assert store.history("county_monthly", open_p) == []

        # the corrected row goes in through the page's own import, as this reporter
        at.session_state[editor.key] = edits(visits=12, solved=5, level="好", note="已核")
        at.run()
        assert at.error == []
        at.button(key="forms_submit").click().run()
        assert not at.exception, [e.message for e in at.exception]
        assert [s.value for s in at.success] == [f"北戴河区 {periods.label(open_p)} 已提交。"]
        sub = store.get("county_monthly", open_p, reps["130304"])
        assert sub is not None and sub.status == "submitted" and sub.submitted_by == "demo"
        assert sub.values == {"visits": 12, "solved": 5, "level": "好", "note": "已核"}
        assert [(c.action, c.origin) for c in store.history("county_monthly", open_p)] == [("submit", "page")]
        assert at.button(key="forms_submit").label == "提交修改"  # a revision from now on
        assert "状态：**已提交**" in " ".join(m.value for m in at.markdown)
        [fresh] = at.data_editor  # a new editor over the stored row (the store's fingerprint moved)
        assert fresh.key != editor.key and fresh.value.iloc[0]["visits"] == 12

        # the city's view of the open month: 北戴河区 已报, the others 未报
        at.segmented_control(key="forms_role").set_value("完成情况（市级）").run()
        assert not at.exception, [e.message for e in at.exception]
        assert statuses(at) == {"130302": "❌ 未报", "130303": "❌ 未报", "130304": "✅ 已报"}
        assert {m.label: m.value for m in at.metric} == {
            "已报": "1",
            "逾期": "0",
            "未报": "2",
            "填报单位": "3",
        }

        # the last ended month: on time, late and missing, per region, and in the six-period board
        at.selectbox(key="pick_form_period").set_value(closed).run()
        assert not at.exception, [e.message for e in at.exception]
        want = {"130302": "✅ 已报", "130303": "⚠️ 逾期", "130304": "❌ 未报"}
        assert statuses(at) == want
        assert {m.label: m.value for m in at.metric} == {
            "已报": "1",
            "逾期": "1",
            "未报": "1",
            "填报单位": "3",
        }
        six = next(
            d.value for d in at.dataframe if "单位" in d.value.columns and "代码" not in d.value.columns
        )
        column = periods.label(closed)
        assert dict(zip(six["单位"], six[column], strict=True)) == {reps[k].name: v for k, v in want.items()}
        assert [s.status for s in board(cat, store, "county_monthly", [closed])[closed]] == [
            "submitted",
            "late",
            "missing",
        ]
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
