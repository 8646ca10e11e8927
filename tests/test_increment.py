"""Incremental refresh (metrics/increment.py) over a folder of month partitions, on DuckDB.

The test city's records are written as ``data/cases/month=YYYY-MM/part-0.parquet`` (one record
filed under the wrong month on purpose). Every compute through the store must give exactly the
rows of a compute without it, while reading only the partitions that changed: the first compute
reads all of them, an unchanged folder none, a rewritten month that month alone, and the medians
and distinct counts are recomputed only for the periods that month's records fall in (for
year-to-date ones, the later months of that year too). Spark's side is in tests/test_spark.py.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import cities
import pytest

from metrics.catalogue.load import load_catalogue as load
from metrics.engine import Engine, rows_as_records

# medians outside the tree-level query (each node's own records; the city by department), so
# that query's pruned form is checked too
OWN_MEDIANS = [
    {
        "id": "days_median_own",
        "name": "本级办理天数中位数",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "rollup": "none",
        "measure": {"type": "median", "column": "days"},
        "source": "cases",
    },
    {
        "id": "days_median_city",
        "name": "全市办理天数中位数",
        "time": {"column": "accepted_at", "grain": "quarter"},
        "department": "dept_code",
        "measure": {"type": "median", "column": "days"},
        "source": "cases",
    },
]


def config_text(extra: dict[str, Any] | None = None) -> str:
    return cities.city_yaml(
        "cases",
        extra_sources={"cases": {"type": "parquet", "path": "data/cases", **(extra or {})}},
        extra_indicators=OWN_MEDIANS,
    )


@pytest.fixture()
def city(tmp_path: Path) -> dict[str, Any]:
    rows = cities.records()
    cities.write_months(tmp_path / "data" / "cases", rows)
    config = tmp_path / "indicators.yaml"
    config.write_text(config_text(), encoding="utf-8")
    return {"folder": tmp_path, "config": config, "rows": rows, "cases": tmp_path / "data" / "cases"}


class Spy:
    """Every SQL statement the embedded connector runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from connectors.embedded import EmbeddedConnector

        self.sql: list[str] = []
        original = EmbeddedConnector.fetch

        def fetch(con, sql: str, _original=original):  # noqa: ANN001
            self.sql.append(sql)
            return _original(con, sql)

        monkeypatch.setattr(EmbeddedConnector, "fetch", fetch)


def compute(config: Path, store: bool = True):
    cat = load(config)
    res = Engine(cat, use_store=store).compute()
    assert not res.errors, res.errors
    return res, rows_as_records(res.rows)


def assert_same_as_full(config: Path, got: list[dict[str, Any]]) -> None:
    _, want = compute(config, store=False)
    assert want, "no rows"
    cities.assert_rows_equal(got, want, "incremental vs full")


def touch_later(path: Path) -> None:
    """Move a file's modification time on (a rewrite within the same second keeps its size and mtime)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_first_compute_reads_every_partition_and_equals_the_full_one(city):
    res, rows = compute(city["config"])
    assert_same_as_full(city["config"], rows)
    info = res.refresh["cases"]
    assert info.column == "month"
    assert info.partitions == len(list(city["cases"].iterdir())) == 15
    assert info.reused == 0 and len(info.read) == 15
    assert info.newest == "2026-03"
    assert info.periods == info.periods_total > 0


def test_an_unchanged_folder_is_not_read_at_all(city, monkeypatch):
    compute(city["config"])
    spy = Spy(monkeypatch)
    res, rows = compute(city["config"])
    assert spy.sql == []
    info = res.refresh["cases"]
    assert info.read == set() and info.reused == 15 and info.periods == 0
    assert_same_as_full(city["config"], rows)


def test_a_changed_month_is_read_alone(city, monkeypatch):
    compute(city["config"])
    rows = city["rows"]
    # February 2026 gets ten more cases, two of them with a long duration (moves the medians)
    extra = []
    for i in range(10):
        r = dict(rows[100 + i])
        r.update(
            id=10_000 + i,
            accepted_at=dt.datetime(2026, 2, 10 + i, 10, 0),
            accepted_on=dt.date(2026, 2, 10 + i),
            period="2026-02",
            days=30.0 if i < 2 else 1.0,
        )
        extra.append(r)
    cities.write_months(city["cases"], rows + extra, {"2026-02"})
    spy = Spy(monkeypatch)
    res, got = compute(city["config"])
    sqls = list(spy.sql)
    assert_same_as_full(city["config"], got)
    info = res.refresh["cases"]
    assert info.read == {"2026-02"} and info.reused == 14
    assert sqls, "nothing read"
    for sql in sqls:
        # every query was pruned to the partitions it needs
        assert 'CAST("month" AS VARCHAR) IN (' in sql, sql[:300]
        assert "'2025-06'" not in sql
    # medians: 2026-02 (and the quarter, the year, the ISO weeks and the year-to-date months
    # from February on), not the 2025 periods
    assert 0 < info.periods < info.periods_total / 3


def test_new_and_removed_partitions(city):
    compute(city["config"])
    rows = city["rows"]
    april = dict(
        rows[7], id=20_000, accepted_at=dt.datetime(2026, 4, 2, 9, 0), accepted_on=dt.date(2026, 4, 2)
    )
    april["period"] = "2026-04"
    cities.write_months(city["cases"], [april], {"2026-04"})
    shutil.rmtree(city["cases"] / "month=2025-05")
    res, got = compute(city["config"])
    assert_same_as_full(city["config"], got)
    info = res.refresh["cases"]
    assert info.read == {"2026-04"} and info.partitions == 15
    assert info.newest == "2026-04"
    assert not [r for r in got if r["period"] == "2025-05" and r["indicator"] == "cases"]


def test_a_misfiled_record_is_found_where_it_is(city):
    """The misfiled record lies in the partition before its month: rewriting that partition
    without it must change its own month's median, which lives in another partition's period."""
    compute(city["config"])
    rows = [r for r in city["rows"] if r["id"] != cities.MISFILED_ID]
    misfiled = next(r for r in city["rows"] if r["id"] == cities.MISFILED_ID)
    y, m = int(misfiled["period"][:4]), int(misfiled["period"][5:])
    folder_month = f"{y - (m == 1)}-{(m - 2) % 12 + 1:02d}"
    cities.write_months(city["cases"], rows, {folder_month})
    res, got = compute(city["config"])
    assert res.refresh["cases"].read == {folder_month}
    assert_same_as_full(city["config"], got)


def test_a_rewrite_with_the_same_size_is_seen_by_its_time(city):
    compute(city["config"])
    part = city["cases"] / "month=2025-09" / "part-0.parquet"
    touch_later(part)
    res, _ = compute(city["config"])
    assert res.refresh["cases"].read == {"2025-09"}


def test_a_damaged_store_is_read_again(city):
    compute(city["config"])
    for f in (city["folder"] / ".cockpit" / "cache" / "parts").glob("*.parquet"):
        f.write_bytes(b"not parquet")
    res, got = compute(city["config"])
    assert len(res.refresh["cases"].read) == 15
    assert_same_as_full(city["config"], got)


def test_the_watermark_is_the_oldest_stored_piece(city):
    first, _ = compute(city["config"])
    t0 = first.refresh["cases"].read_at
    assert t0 is not None and abs((dt.datetime.now() - t0).total_seconds()) < 60
    touch_later(city["cases"] / "month=2026-03" / "part-0.parquet")
    again, _ = compute(city["config"])
    # the other 14 partitions were read the first time: the watermark stays there
    assert again.refresh["cases"].read_at == t0


def test_no_store_means_no_pieces(city, monkeypatch):
    monkeypatch.setenv("COCKPIT_NO_CACHE", "1")
    res, _ = compute(city["config"])
    assert res.refresh == {}
    assert not (city["folder"] / ".cockpit" / "cache" / "parts").exists()


def test_a_declared_partition_must_exist(city):
    city["config"].write_text(config_text({"partition": "day"}), encoding="utf-8")
    cat = load(city["config"])
    res = Engine(cat).compute()
    assert res.errors and "indicators.yaml:" in res.errors[0]
    assert "source 'cases': partition: 'day': " in res.errors[0]
    assert "partitioned by 'month', not 'day'" in res.errors[0]


def test_a_declared_partition_reads_like_a_found_one(city):
    city["config"].write_text(config_text({"partition": "month"}), encoding="utf-8")
    res, got = compute(city["config"])
    assert res.refresh["cases"].column == "month"
    assert_same_as_full(city["config"], got)


def test_a_folder_without_partitions_is_computed_whole(city):
    import pyarrow.parquet as pq

    flat = city["folder"] / "data" / "flat"
    flat.mkdir()
    half = len(city["rows"]) // 2
    pq.write_table(cities.arrow_table(city["rows"][:half]), flat / "a.parquet")
    pq.write_table(cities.arrow_table(city["rows"][half:]), flat / "b.parquet")
    city["config"].write_text(config_text({"path": "data/flat"}), encoding="utf-8")
    res, got = compute(city["config"])
    assert res.refresh == {}
    assert_same_as_full(city["config"], got)


def test_the_refresh_command_says_what_it_read(city):
    import json

    from click.testing import CliRunner

    from cockpit.cli import main

    def refresh(*args: str) -> dict[str, Any]:
        res = CliRunner().invoke(
            main, ["refresh", "--config", str(city["config"]), "--format", "json", *args]
        )
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)["sources"][0]

    first = refresh()
    assert first["source"] == "cases" and first["partitioned"] and len(first["read"]) == 15
    assert first["latest"].startswith("2026-03") and first["status"] == "ok"
    assert refresh()["read"] == []
    assert len(refresh("--full")["read"]) == 15
    table = CliRunner().invoke(main, ["refresh", "--config", str(city["config"])])
    assert table.exit_code == 0 and "数据截至" in table.stdout and "无" in table.stdout


def test_the_health_page_says_what_was_read(city, monkeypatch):
    import streamlit as st
    from servers import REPO_ROOT
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("COCKPIT_CONFIG", str(city["config"]))
    monkeypatch.chdir(REPO_ROOT)
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
        at.run()
        at.switch_page("pages/health.py").run()
        assert not at.exception, [e.message for e in at.exception]
        text = "\n".join(m.value for m in at.markdown)
        assert "增量刷新" in text and "按 `month` 分区，共 15 个" in text
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()


def test_validate_names_a_wrong_partition(city):
    from servers import run_cli

    cities.write_city(city["folder"])  # the config's other sources
    city["config"].write_text(config_text({"partition": "day"}), encoding="utf-8")
    proc = run_cli("validate", "--config", city["config"])
    assert proc.returncode == 2
    assert "indicators.yaml:" in proc.stderr and "partition: 'day': the folders under" in proc.stderr
    city["config"].write_text(config_text({"partition": "month"}), encoding="utf-8")
    assert run_cli("validate", "--config", city["config"]).returncode == 0


def test_stored_pieces_that_do_not_fit_are_read_again(city):
    """Stored pieces whose columns do not fit the fresh ones: computed whole, not a crash."""
    import polars as pl

    compute(city["config"])
    for f in (city["folder"] / ".cockpit" / "cache" / "parts").glob("*.parquet"):
        stored = pl.read_parquet(f)
        stored.drop(stored.columns[1]).write_parquet(f)  # as a store of another layout might be
    touch_later(city["cases"] / "month=2025-09" / "part-0.parquet")
    _, got = compute(city["config"])
    assert_same_as_full(city["config"], got)


def test_the_scheduler_sees_a_new_file_inside_a_partition(city):
    """``cockpit schedule``'s on_refresh watches the files under a folder, not the folder's own time."""
    from alerts.schedule import watermark

    before = watermark(load(city["config"]))
    month = city["cases"] / "month=2026-03"
    shutil.copyfile(month / "part-0.parquet", month / "part-1.parquet")
    assert watermark(load(city["config"])) != before
