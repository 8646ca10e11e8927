"""The ``sql`` connector on a SQLite file (``sqlite:///path``), dates stored as text.

Contract: sections 2–5. SQLite keeps dates as text; the engine must read them as periods
(section 4: "a time column may hold … strings in those forms") and give the rows the same data
gives as a CSV source.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import cities
import pytest
from servers import run_cli

# count, sum, ratio, ytd at month and week grains (and the other time columns)
IDS = [
    "cases",
    "days_total",
    "days_mean",
    "days_min",
    "days_max",
    "applicants",
    "online_rate",
    "on_time_rate",
    "long_days_share",
    "cases_ytd",
    "online_rate_ytd",
    "cases_own",
    "cases_day",
    "cases_week",
    "cases_week_ytd",
    "cases_quarter",
    "days_year",
    "cases_by_date",
    "cases_by_date_week",
    "cases_by_period",
    "days_by_period_quarter",
    "cases_city",
]
MEDIANS = ["days_median", "median_ytd"]


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sqlite_city")
    cities.write_city(folder)
    csv = cities.csv_reference(tmp_path_factory)
    out: dict[str, Any] = {"folder": folder, "csv": (None, {i: csv[i] for i in IDS}), "ref": csv}
    config = folder / "sqlite.yaml"
    config.write_text(cities.city_yaml("sqlite", folder, indicators=IDS), encoding="utf-8")
    proc, rows = cities.compute(config)
    out["sqlite"] = (proc, cities.by_indicator(rows))
    return out


def test_dates_are_stored_as_text(city):
    con = sqlite3.connect(city["folder"] / "data" / "city.sqlite")
    try:
        kinds = con.execute(
            "SELECT DISTINCT typeof(accepted_at), typeof(accepted_on), typeof(period) FROM city"
        ).fetchall()
    finally:
        con.close()
    assert kinds == [("text", "text", "text")]


def test_compute_succeeds(city):
    proc, rows = city["sqlite"]
    cities.assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert not cities.error_lines(proc.stderr)
    assert set(rows) == set(IDS)


@pytest.mark.parametrize("indicator", IDS)
def test_rows_equal_csv(city, indicator):
    _, want = city["csv"]
    _, got = city["sqlite"]
    assert want.get(indicator), f"no CSV rows for {indicator}"
    cities.assert_rows_equal(got.get(indicator, []), want[indicator], f"sqlite/{indicator}")


def test_median_on_sqlite(city):
    folder: Path = city["folder"]
    config = folder / "sqlite_median.yaml"
    config.write_text(cities.city_yaml("sqlite", folder, indicators=MEDIANS), encoding="utf-8")
    proc, rows = cities.compute(config)
    cities.assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    want = [r for ind in sorted(MEDIANS) for r in city["ref"][ind]]
    cities.assert_rows_equal(rows or [], want, "sqlite medians")


def test_median_failure_is_reported_not_a_traceback(city):
    """Whatever SQLite lacks, the run reports it per source and keeps the other indicators."""
    folder: Path = city["folder"]
    config = folder / "sqlite_mixed.yaml"
    config.write_text(cities.city_yaml("sqlite", folder, indicators=["cases", *MEDIANS]), encoding="utf-8")
    proc, rows = cities.compute(config)
    cities.assert_no_traceback(proc)
    assert proc.returncode in (0, 1)
    if proc.returncode == 1:
        assert any("source 'sqlite'" in e for e in cities.error_lines(proc.stderr)), proc.stderr
    cities.assert_rows_equal(
        cities.by_indicator(rows).get("cases", []), city["csv"][1]["cases"], "cases beside medians"
    )


def test_unknown_table_names_source_and_suggests(city):
    folder: Path = city["folder"]
    config = folder / "sqlite_badtable.yaml"
    config.write_text(
        cities.city_yaml("sqlite", folder, indicators=["cases"]).replace("table: city", "table: citx"),
        encoding="utf-8",
    )
    proc = run_cli("validate", "--config", config)
    cities.assert_no_traceback(proc)
    assert proc.returncode == 2
    assert any(
        "source 'sqlite'" in e and "citx" in e and "'city'" in e for e in cities.error_lines(proc.stderr)
    ), proc.stderr
    proc, _ = cities.compute(config)
    assert proc.returncode == 1 and any("source 'sqlite'" in e for e in cities.error_lines(proc.stderr)), (
        proc.stderr
    )


def test_relative_sqlite_path_resolves_against_the_config_folder(city, tmp_path):
    folder: Path = city["folder"]
    config = folder / "sqlite_relative.yaml"
    config.write_text(
        cities.city_yaml("sqlite", sqlite_relative=True, indicators=["cases"]), encoding="utf-8"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc, rows = cities.compute(config, cwd=elsewhere)
    cities.assert_no_traceback(proc)
    assert not list(elsewhere.rglob("*")), "files appeared in the current directory"
    assert proc.returncode == 0, proc.stderr
    cities.assert_rows_equal(rows, city["csv"][1]["cases"], "relative sqlite URL")


def test_missing_sqlite_file_is_reported_and_not_created(tmp_path):
    missing = tmp_path / "nowhere.sqlite"
    config = tmp_path / "indicators.yaml"
    config.write_text(
        cities.city_yaml("sqlite", indicators=["cases"]).replace(
            "sources:\n", f"sources:\n  sqlite: {{type: sql, url: 'sqlite:///{missing}', table: city}}\n", 1
        ),
        encoding="utf-8",
    )
    proc = run_cli("validate", "--config", config)
    cities.assert_no_traceback(proc)
    assert proc.returncode == 2
    assert any("source 'sqlite'" in e for e in cities.error_lines(proc.stderr)), proc.stderr
    assert not missing.exists(), "validate created the database file it was asked to check"
