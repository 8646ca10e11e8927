"""脱敏 and the minimum group size (issue 6): metrics.masking, metrics.records, and where they show.

The patterns are checked by example and, with Hypothesis, as invariants: a masked value never
gives away what its pattern hides. The records and the small groups are checked on the sample
city's 12345 tickets (``hotline``, classified 敏感, with fake callers' names, phones and ID
numbers): masked by default, only in the scope, at most ``limit`` records read through one
pushed-down query, in full only for the ``unmask`` grant (and audited), and "<5" wherever a group
of fewer than five tickets would show.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import streamlit as st
from hypothesis import given
from hypothesis import strategies as hs
from servers import REPO_ROOT
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from metrics import audit, masking, periods, rankings, records
from metrics.access import OPEN, Scope
from metrics.catalogue import spec
from metrics.catalogue.load import load_catalogue
from metrics.engine import Engine
from metrics.format import fmt_value

APP = str(REPO_ROOT / "app.py")
SAMPLE_CONFIG = REPO_ROOT / "indicators.yaml"
HOTLINE = REPO_ROOT / "data" / "hotline_tickets.parquet"
ROOT, HAIGANG, SHANHAIGUAN, DONGHU = "130300", "130302", "130303", "130306"
DAY = "2026-11-28"  # the hotline's last day: 山海关区's towns had 0, 1 and 2 utility calls
PHONE = re.compile(r"^\d{3}\*{4}\d{4}$")
NAME = re.compile(r"^.\*+$")
IDNO = re.compile(r"^.{4}\*{10}.{4}$")


# ----------------------------------------------------------------------------- the patterns


def test_the_three_patterns_of_the_issue() -> None:
    assert masking.mask_value("name", "张三") == "张*"
    assert masking.mask_value("name", "欧阳娜娜") == "欧***"
    assert masking.mask_value("name", "张") == "张*"  # at least one *
    assert masking.mask_value("mobile", "13812341234") == "138****1234"
    assert masking.mask_value("mobile", "+86 138-1234-5678") == "138****5678"
    assert masking.mask_value("id_number", "110101199003071234") == "1101**********1234"
    assert masking.mask_value("id_number", "11010119900307123X") == "1101**********123X"
    assert masking.mask_value("id_number", "110101900307123") == "1101*******7123"  # 15 characters
    assert masking.mask_value("text", "海港区某小区3号楼") == "***"
    assert masking.mask_value("none", "as is") == "as is"


@pytest.mark.parametrize(
    "kind, value, masked",
    [
        ("name", None, None),
        ("name", "", ""),
        ("name", "  李四 ", "李*"),
        ("mobile", None, None),
        ("mobile", "12345", "*****"),  # too short to keep anything
        ("mobile", "1234-5678", "****5678"),  # a landline without its area code: only the last four
        ("mobile", "0335-1234567", "033****4567"),  # eleven digits: as a mobile
        ("mobile", "无", "***"),
        ("mobile", 13812341234, "138****1234"),  # a number, not text
        ("id_number", "1234567", "*******"),
        ("id_number", "", ""),
        ("id_number", None, None),
        ("text", "", ""),
        ("text", None, None),
    ],
)
def test_short_odd_and_missing_values(kind: str, value: Any, masked: Any) -> None:
    assert masking.mask_value(kind, value) == masked


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


@given(hs.text(alphabet="0123456789", min_size=11, max_size=11).map(lambda d: "1" + d[1:]))
def test_a_mobile_keeps_three_and_four_and_hides_the_middle(mobile: str) -> None:
    masked = masking.mask_mobile(mobile)
    assert masked == mobile[:3] + "****" + mobile[-4:]
    assert _digits(masked) == mobile[:3] + mobile[-4:]  # the hidden four digits are nowhere


@given(hs.text(max_size=40))
def test_any_phone_text_reveals_at_most_three_plus_four_digits(value: str) -> None:
    masked = masking.mask_mobile(value)
    d = _digits(value)
    shown = _digits(masked or "")
    assert len(shown) <= max(0, min(7, len(d) - 4))
    # what is shown is the start and the end of the number, never its middle
    if len(shown) == 7:
        assert d.endswith(shown[3:]) and shown[:3] in d[:5]
    elif shown:
        assert d.endswith(shown)


@given(hs.text(alphabet="0123456789X", min_size=18, max_size=18))
def test_an_id_number_hides_its_ten_middle_characters(idno: str) -> None:
    masked = masking.mask_id_number(idno)
    assert masked == idno[:4] + "*" * 10 + idno[-4:]
    assert set(masked[4:14]) == {"*"}


@given(hs.text(max_size=30))
def test_any_id_text_hides_all_but_eight_characters(value: str) -> None:
    masked = masking.mask_id_number(value) or ""
    kept = [c for c in masked if c != "*"]
    s = re.sub(r"\s+", "", value)
    assert len(kept) <= min(8, max(0, len(s) - 4))


@given(hs.text(max_size=20))
def test_a_name_shows_its_first_character_only(value: str) -> None:
    masked = masking.mask_name(value)
    s = value.strip()
    if not s:
        assert masked == s
    else:
        assert masked[0] == s[0] and set(masked[1:]) == {"*"} and len(masked) == max(2, len(s))


@given(hs.one_of(hs.none(), hs.integers(), hs.floats(allow_nan=True), hs.text(), hs.booleans()))
def test_masking_never_fails(value: Any) -> None:
    for kind in (*masking.MASKS, "none"):
        masking.mask_value(kind, value)


@pytest.mark.parametrize(
    "column, mask",
    [
        ("caller_name", "name"),
        ("姓名", "name"),
        ("name", "name"),
        ("caller_phone", "mobile"),
        ("mobile", "mobile"),
        ("tel", "mobile"),
        ("联系电话", "mobile"),
        ("手机号码", "mobile"),
        ("caller_id_number", "id_number"),
        ("idcard", "id_number"),
        ("身份证号", "id_number"),
        ("region_name", None),
        ("dept_name", None),
        ("topic", None),
        ("created_at", None),
    ],
)
def test_a_mask_guessed_from_the_column_name(column: str, mask: str | None) -> None:
    assert masking.guess_mask(column) == mask


def test_which_columns_are_masked() -> None:
    class Cat:
        config = spec.Config.model_validate(
            {
                "version": 1,
                "sources": {
                    "tickets": {
                        "type": "csv",
                        "path": "t.csv",
                        "classification": "敏感",
                        "columns": {
                            "who": {"mask": "name"},  # 敏感 by default, the mask given
                            "address": {},  # 敏感, nothing to guess from: text
                            "note": {"classification": "内部"},  # shown
                            "tel": {"mask": "none"},  # said to be harmless
                        },
                    },
                    "cases": {"type": "csv", "path": "c.csv", "columns": {"contact": {"mask": "mobile"}}},
                },
            }
        )

    cols = ["who", "address", "note", "tel", "联系电话", "region_name", "topic"]
    assert masking.masks_for(Cat(), "tickets", cols) == {
        "who": "name",
        "address": "text",
        "联系电话": "mobile",  # not listed, but a 敏感 source's personal-looking column
    }
    # a 内部 source masks what it lists, and nothing is guessed
    assert masking.masks_for(Cat(), "cases", ["contact", "联系电话"]) == {"contact": "mobile"}
    assert masking.has_personal_data(Cat(), "tickets") and masking.has_personal_data(Cat(), "cases")


# ----------------------------------------------------------------------------- the sample city


@pytest.fixture(scope="module")
def sample() -> Iterator[tuple[Any, pl.DataFrame]]:
    if not (REPO_ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("no sample city in data/ (run `make sample`)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COCKPIT_CONFIG", str(SAMPLE_CONFIG))
        mp.chdir(REPO_ROOT)
        st.cache_data.clear()
        st.cache_resource.clear()
        cat = load_catalogue(SAMPLE_CONFIG)
        yield cat, Engine(cat).compute().rows
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh audit log for the test."""
    path = tmp_path / "audit.db"
    monkeypatch.setenv(audit.ENV_PATH, str(path))
    return path


def user_scope(cat: Any, uid: str, region: str, grants: list[str] = ()) -> Scope:  # type: ignore[assignment]
    user = spec.User(id=uid, name=uid, regions=[region], grants=list(grants))
    regions = frozenset(cat.tree.subtree(region))
    return Scope(user, regions, None, cat.tree.root in regions)


def raw_tickets(ids: list[str]) -> dict[str, dict[str, Any]]:
    """The tickets as they are in the file, straight from DuckDB (not through the cockpit)."""
    got = duckdb.sql(
        f"SELECT * FROM read_parquet('{HOTLINE}') WHERE ticket_id IN ({', '.join(repr(i) for i in ids)})"
    ).pl()
    return {r["ticket_id"]: r for r in got.iter_rows(named=True)}


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL text the records view sends to its source's connector."""
    sent: list[str] = []
    real = records.open_connector

    def opened(cat: Any, source_id: str) -> Any:
        con = real(cat, source_id)
        fetch = con.fetch

        def fetch_and_keep(sql: str) -> pl.DataFrame:
            sent.append(sql)
            return fetch(sql)

        con.fetch = fetch_and_keep  # type: ignore[method-assign]
        return con

    monkeypatch.setattr(records, "open_connector", opened)
    return sent


def test_records_are_masked_by_default(sample: tuple[Any, pl.DataFrame], log: Path) -> None:
    cat, _ = sample
    view = records.records(cat, "hotline_calls", HAIGANG, DAY, OPEN)
    assert view.rows > 20 and not view.unmasked
    assert view.masked == ["caller_name", "caller_phone", "caller_id_number"]
    f = view.frame
    assert all(PHONE.match(p) for p in f["caller_phone"]), f["caller_phone"].head()
    assert all(NAME.match(n) for n in f["caller_name"])
    assert all(IDNO.match(i) for i in f["caller_id_number"])
    raw = raw_tickets(f["ticket_id"].to_list())
    for r in f.iter_rows(named=True):
        phone = raw[r["ticket_id"]]["caller_phone"]
        assert r["caller_phone"] == phone[:3] + "****" + phone[-4:]
        assert r["caller_name"][0] == raw[r["ticket_id"]]["caller_name"][0]
    # the other columns are the file's
    assert f["ticket_id"].n_unique() == f.height and "topic" in f.columns
    # and the CSV export holds exactly these rows, masked
    text = records.to_csv_bytes(cat, view).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    header = table[2]
    body = table[3:]
    assert len(body) == view.rows
    phones = [row[header.index("caller_phone")] for row in body]
    assert phones == f["caller_phone"].to_list()
    for r in raw.values():
        assert r["caller_phone"] not in text and r["caller_id_number"] not in text


def test_records_stay_in_the_scope(sample: tuple[Any, pl.DataFrame], log: Path) -> None:
    cat, _ = sample
    county = user_scope(cat, "dong", DONGHU)
    mine = records.records(cat, "hotline_calls", DONGHU, DAY, county)
    assert mine.rows > 0 and set(mine.frame["region_code"]) == {DONGHU}
    # a sibling, the city, an unknown region: nothing, the same words each time
    for region in (HAIGANG, ROOT, "999999"):
        other = records.records(cat, "hotline_calls", region, DAY, county)
        assert other.rows == 0 and other.note == "地区不存在或不在您的权限范围内", region
    # a district's view holds its towns' tickets and nothing beside them
    district = user_scope(cat, "hai", HAIGANG)
    towns = records.records(cat, "hotline_calls", HAIGANG, DAY, district, limit=1000)
    assert set(towns.frame["region_code"]) <= set(cat.tree.subtree(HAIGANG))
    assert len(set(towns.frame["region_code"])) > 1
    # an indicator outside the user's domains is not there either
    staff = Scope(
        spec.User(id="li", name="李", domains=["政务服务效能"]), None, frozenset(["政务服务效能"]), True
    )
    assert records.records(cat, "hotline_calls", ROOT, DAY, staff).rows == 0


def test_one_pushed_down_query_with_where_and_limit(
    sample: tuple[Any, pl.DataFrame], log: Path, spy: list[str]
) -> None:
    cat, _ = sample
    view = records.records(cat, "hotline_complaints", HAIGANG, "2026-W47", OPEN, limit=7)
    assert view.rows == 7
    assert len(spy) == 1 and spy[0] == view.sql
    sql = spy[0]
    assert '"src_hotline"' in sql and " WHERE " in sql and sql.endswith("LIMIT 7")
    assert "'2026-11-16 00:00:00'" in sql and "'2026-11-23 00:00:00'" in sql  # the ISO week, and no more
    assert "IN ('投诉', '举报')" in sql  # the indicator's own where
    assert "'130302001'" in sql and "'130303'" not in sql
    times = view.frame["created_at"].to_list()
    assert times == sorted(times, reverse=True)  # newest first
    assert set(view.frame["category"]) <= {"投诉", "举报"}
    # a ratio's records are its denominator's
    sat = records.records(cat, "hotline_satisfaction", HAIGANG, "2026-10", OPEN, limit=5)
    assert 'NOT "satisfied" IS NULL' in (sat.sql or "") and sat.frame["satisfied"].null_count() == 0


def test_unmask_needs_the_grant_and_is_audited(sample: tuple[Any, pl.DataFrame], log: Path) -> None:
    cat, _ = sample
    # without the grant: masked, said, and the refusal is in the log
    plain = user_scope(cat, "hai", HAIGANG)
    refused = records.records(cat, "hotline_calls", HAIGANG, DAY, plain, limit=5, unmask=True)
    assert not refused.unmasked and refused.note and "权限" in refused.note
    assert all(PHONE.match(p) for p in refused.frame["caller_phone"])
    # with it: in full, as in the file
    officer = user_scope(cat, "qin", HAIGANG, ["unmask"])
    full = records.records(cat, "hotline_calls", HAIGANG, DAY, officer, limit=5, unmask=True)
    assert full.unmasked and full.masked == [] and full.note is None
    raw = raw_tickets(full.frame["ticket_id"].to_list())
    for r in full.frame.iter_rows(named=True):
        assert r["caller_phone"] == raw[r["ticket_id"]]["caller_phone"]
        assert r["caller_id_number"] == raw[r["ticket_id"]]["caller_id_number"]
    # the grant does not widen the scope
    assert records.records(cat, "hotline_calls", SHANHAIGUAN, DAY, officer, unmask=True).rows == 0
    # masked unless asked, grant or not
    assert not records.records(cat, "hotline_calls", HAIGANG, DAY, officer, limit=5).unmasked
    # its export is masked all the same
    text = records.to_csv_bytes(cat, full).decode("utf-8-sig")
    assert all(r["caller_phone"] not in text for r in raw.values())

    entries = audit.search(cat, kind="unmask")
    assert [(e.user, e.details["outcome"]) for e in entries] == [("qin", "shown"), ("hai", "refused")]
    shown = entries[0].details
    assert shown["rows"] == 5 and shown["region"] == HAIGANG and shown["period"] == DAY
    assert shown["columns"] == ["caller_name", "caller_phone", "caller_id_number"]
    # the log names columns, never their values
    dump = "\n".join(str(tuple(r)) for r in sqlite3.connect(log).execute("SELECT * FROM audit"))
    for r in raw.values():
        assert r["caller_phone"] not in dump and r["caller_name"] not in dump
    assert audit.verify(cat) == []


def test_an_unmasked_view_is_refused_when_the_log_cannot_be_written(
    sample: tuple[Any, pl.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat, _ = sample
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv(audit.ENV_PATH, str(blocker / "audit.db"))
    officer = user_scope(cat, "qin", HAIGANG, ["unmask"])
    view = records.records(cat, "hotline_calls", HAIGANG, DAY, officer, limit=3, unmask=True)
    assert not view.unmasked and "审计" in (view.note or "")
    assert all(PHONE.match(p) for p in view.frame["caller_phone"])


# ----------------------------------------------------------------------------- the minimum group size


def _engine_values(rows: pl.DataFrame, indicator: str, period: str, regions: list[str]) -> dict[str, float]:
    part = rows.filter(
        (pl.col("indicator") == indicator)
        & (pl.col("period") == period)
        & pl.col("region").is_in(regions)
        & pl.col("department").is_null()
    )
    return dict(part.select("region", "value").iter_rows())


def test_small_groups_are_suppressed(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    towns = list(cat.tree.children(SHANHAIGUAN))
    raw = _engine_values(rows, "hotline_utility_calls", DAY, towns)
    assert sorted(raw.values()) == [0.0, 1.0, 2.0]  # the case the issue names: 2 tickets of a kind
    mine = rows.filter(pl.col("indicator") == "hotline_utility_calls")
    shown = masking.suppress_small(mine, cat, OPEN)
    assert shown.height == mine.height
    day = shown.filter((pl.col("period") == DAY) & pl.col("region").is_in(towns)).sort("region")
    for r in day.iter_rows(named=True):
        v = raw[r["region"]]
        if 0 < v < 5:
            assert r["suppressed"] and r["suppressed_text"] == "<5"
            assert r["value"] is None and r["yoy"] is None and r["mom"] is None and r["status"] is None
            assert r["rank"] is not None  # a place among siblings gives no count away
        else:
            assert not r["suppressed"] and r["value"] == v
    # rows of a source that is not 敏感 are untouched
    online = rows.filter(pl.col("indicator") == "online_rate")
    assert not masking.suppress_small(online, cat, OPEN)["suppressed"].any()
    # a rate over fewer than five calls: its denominator decides
    rate = masking.suppress_small(rows.filter(pl.col("indicator") == "hotline_answer_rate"), cat, OPEN)
    small = rate.filter(pl.col("suppressed"))
    assert small.height and set(small["suppressed_text"]) == {"样本<5"}
    # a change against a hidden base would give the base away: 环比 of the day after a hidden day
    regions = shown.filter(pl.col("department").is_null())
    hidden = {(r, p) for r, p in regions.filter(pl.col("suppressed")).select("region", "period").iter_rows()}
    after = [
        r
        for r in regions.filter(~pl.col("suppressed")).iter_rows(named=True)
        if (r["region"], periods.previous(r["period"])) in hidden
    ]
    assert after and all(r["mom"] is None for r in after)
    # the unmask grant sees every group; the engine's rows are never changed
    officer = user_scope(cat, "qin", ROOT, ["unmask"])
    assert not masking.suppress_small(mine, cat, officer)["suppressed"].any()
    assert _engine_values(rows, "hotline_utility_calls", DAY, towns) == raw


def test_the_detail_breakdown_shows_less_than_five(sample: tuple[Any, pl.DataFrame], log: Path) -> None:
    cat, rows = sample
    towns = list(cat.tree.children(SHANHAIGUAN))
    raw = _engine_values(rows, "hotline_utility_calls", DAY, towns)
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/detail.py")
    at.query_params.update(indicator="hotline_utility_calls", region=SHANHAIGUAN, period=DAY)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[0].value
    by_name = dict(zip(table["地区"].str.rstrip(" ▸"), table["数值"], strict=True))
    for town in towns:
        v = raw[town]
        want = "<5" if 0 < v < 5 else fmt_value(v, "件")
        assert by_name[cat.tree.name(town)] == want
    # the district itself had 3: its own headline says <5 too
    assert {m.label: m.value for m in at.metric}["供水供电诉求量（2026年11月28日）"] == "<5"
    # 明细: the records, masked, with a masked export
    heads = [s.value for s in at.subheader]
    assert "明细" in heads and "变化来源" not in heads
    records_table = at.dataframe[1].value
    assert records_table["caller_phone"].map(lambda p: bool(PHONE.match(p))).all()
    assert [b.label for b in at.download_button] == ["导出明细 CSV（已脱敏）"]
    assert len(at.toggle) == 0  # no grant, no 显示完整信息


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    got: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self: Any, path_or_data: Any, mimetype: str, kind: Any, filename: str | None = None) -> str:
        if filename is not None and isinstance(path_or_data, bytes):
            got[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return got


def test_rankings_and_their_exports_show_less_than_five(
    sample: tuple[Any, pl.DataFrame], log: Path, downloads: dict[str, bytes]
) -> None:
    cat, rows = sample
    towns = list(cat.tree.children(SHANHAIGUAN))
    raw = _engine_values(rows, "hotline_utility_calls", DAY, towns)
    ind = cat.indicators["hotline_utility_calls"]
    frame = rankings.ranking(cat, rows, OPEN, "hotline_utility_calls", DAY, parent=SHANHAIGUAN)
    screen = rankings.screen_table(frame, ind)
    assert sorted(screen["值"].to_list()) == sorted(
        "<5" if 0 < v < 5 else fmt_value(v, "件") for v in raw.values()
    )
    export = rankings.export_table(frame, ind)
    values = dict(zip(export["代码"], export["值（件）"], strict=True))
    assert {t: values[t] for t in towns} == {t: "<5" if 0 < raw[t] < 5 else repr(raw[t]) for t in towns}

    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/rankings.py")
    at.query_params.update(indicator="hotline_utility_calls", region=SHANHAIGUAN, period=DAY)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert "<5" in at.dataframe[0].value["值"].to_list()
    name = f"排名_hotline_utility_calls_{DAY}_{SHANHAIGUAN}.csv"
    text = downloads[name].decode("utf-8-sig")
    body = {row[1]: row[3] for row in csv.reader(io.StringIO(text)) if len(row) > 3 and row[1] in towns}
    assert {t: body[t] for t in towns} == {t: "<5" if 0 < raw[t] < 5 else repr(raw[t]) for t in towns}
    assert "保护个人信息" in text


def test_cockpit_compute_keeps_the_engine_rows(sample: tuple[Any, pl.DataFrame], cli: Any) -> None:
    """Contract section 5: compute's JSON is the engine's, small groups included (see docs/privacy.md)."""
    cat, rows = sample
    got = cli(
        "compute",
        "--config",
        str(SAMPLE_CONFIG),
        "--indicator",
        "hotline_utility_calls",
        "--period",
        DAY,
        "--format",
        "json",
        cwd=REPO_ROOT,
    )
    assert got.returncode in (0, 1), got.stderr
    out = {(r["region"], r["department"]): r["value"] for r in json.loads(got.stdout)}
    towns = list(cat.tree.children(SHANHAIGUAN))
    assert {t: out[(t, None)] for t in towns} == _engine_values(rows, "hotline_utility_calls", DAY, towns)


def test_a_push_and_the_inbox_say_less_than_five_for_a_small_group(
    sample: tuple[Any, pl.DataFrame], tmp_path: Path
) -> None:
    """特别呈报 on a 敏感 indicator: the rule sees the real value, but a group of 1-4 records reads
    "<5" in the push (no value, no change, no chart) and in the inbox (but for the unmask grant);
    a larger group shows its value."""
    from alerts import state
    from alerts.inbox import items
    from alerts.message import alert_message
    from alerts.rules import small_groups
    from alerts.run import small_group_masked

    cat, rows = sample
    ind = cat.indicators["hotline_utility_calls"]
    mine = rows.filter((pl.col("indicator") == ind.id) & pl.col("department").is_null())
    hidden = small_groups(cat, mine, DAY)
    raw = _engine_values(rows, ind.id, DAY, list(cat.tree.subtree(ROOT)))
    small_town = next(r for r in cat.tree.children(SHANHAIGUAN) if 0 < raw[r] < 5)
    large = max(raw, key=lambda r: raw[r])
    assert raw[large] >= 5 and hidden[small_town] == {"small": "<5"} and "small" not in hidden.get(large, {})
    con = state.connect(tmp_path / "alerts.db")
    for region in (small_town, large):
        inst = state.Instance(
            f"i{region}",
            ind.id,
            "r",
            region,
            "special",
            "firing",
            1,
            DAY,
            value=raw[region],
            yoy=5.0,
            mom=1.0,
            detail=json.dumps(hidden.get(region, {})),
            fired_at="2026-11-29T08:00:00",
        )
        state.save_instance(con, inst)
        shown, small = small_group_masked(inst)
        msg = alert_message(cat, ind, region, shown, "fire", "规则", small=small)
        if region == small_town:
            assert small == "<5" and msg["title"].endswith("为 <5")
            assert "同比" not in msg["markdown"] and "环比" not in msg["markdown"]
        else:
            assert small is None and fmt_value(raw[region], ind.unit or "") in msg["title"]
    con.commit()
    con.close()
    seen = {i.region: i for i in items(cat, tmp_path / "alerts.db", OPEN)}
    assert seen[small_town].value is None and seen[small_town].value_text() == "<5"
    assert seen[large].value == raw[large]
    officer = user_scope(cat, "qin", ROOT, ["unmask"])
    seen = {i.region: i for i in items(cat, tmp_path / "alerts.db", officer)}
    assert seen[small_town].value == raw[small_town]


def test_a_domain_page_hides_a_small_group(sample: tuple[Any, pl.DataFrame]) -> None:
    from metrics import domain as frames

    cat, rows = sample
    ind = cat.indicators["hotline_utility_calls"]
    raw = _engine_values(rows, ind.id, DAY, list(cat.tree.children(SHANHAIGUAN)))
    small_town = next(r for r, v in raw.items() if 0 < v < 5)
    card = next(
        c for c in frames.cards(cat, rows, OPEN, ind.domain, small_town, DAY) if c.indicator == ind.id
    )
    assert card.period == DAY and card.value is None and card.yoy is None
    officer = user_scope(cat, "qin", ROOT, ["unmask"])
    card = next(
        c for c in frames.cards(cat, rows, officer, ind.domain, small_town, DAY) if c.indicator == ind.id
    )
    assert card.value == raw[small_town]
