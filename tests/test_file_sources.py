"""Excel and DuckDB-file sources, and what a bad one prints."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
import xlsxwriter
from servers import run_cli

CONFIG = """\
version: 1
org:
  regions: {id: "130300", name: 市, children: [{id: "130302", name: 甲}, {id: "130303", name: 乙}]}
sources:
  xl: {type: excel, path: stats.xlsx, sheet: 月报}
  db: {type: duckdb, path: db.duckdb, table: t}
  dbq: {type: duckdb, path: db.duckdb, query: "SELECT * FROM t WHERE x > 2"}
indicators:
  - {id: v, name: 值, source: xl, time: {column: period, grain: month}, region: region, measure: {type: sum, column: value}}
  - {id: d, name: 库, source: db, time: {column: d, grain: month}, region: region, measure: {type: sum, column: x}}
  - {id: dq, name: 库q, source: dbq, time: {column: d, grain: month}, region: region, measure: {type: sum, column: x}}
"""


@pytest.fixture
def city(tmp_path: Path) -> Path:
    wb = xlsxwriter.Workbook(str(tmp_path / "stats.xlsx"))
    ws = wb.add_worksheet("月报")
    data = [
        ("period", "region", "value"),
        ("2026-01", "130302", 5),
        ("2026-02", "130302", "abc"),
        ("2026-02", "130303", 7.5),
        ("2026-03", 130302, 8),
    ]
    for i, row in enumerate(data):
        for j, v in enumerate(row):
            ws.write(i, j, v)
    wb.close()
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES (DATE '2026-01-03', '130302', 2.0), (DATE '2026-01-09', '130303', 3.0)) v(d, region, x)"
    )
    con.close()
    (tmp_path / "c.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path / "c.yaml"


def values(stdout: str) -> dict[tuple[str, str, str], float]:
    return {
        (r["indicator"], r["period"], r["region"]): r["value"] for r in csv.DictReader(io.StringIO(stdout))
    }


def test_excel_and_duckdb(city: Path) -> None:
    p = run_cli("compute", "--config", str(city), "--format", "csv")
    assert p.returncode == 0, p.stderr
    v = values(p.stdout)
    assert v[("v", "2026-03", "130302")] == "8.0"  # a region id stored as a number matches the text id
    assert v[("v", "2026-02", "130300")] == "7.5"
    assert v[("d", "2026-01", "130300")] == "5.0"
    assert v[("dq", "2026-01", "130300")] == "3.0" and ("dq", "2026-01", "130302") not in v
    # the bad cell is named by its sheet row and read as null
    assert "WARNING: stats.xlsx:3: source 'xl': column 'value': not a number ('abc')" in p.stderr


def test_missing_sheet_is_named(city: Path) -> None:
    city.write_text(CONFIG.replace("sheet: 月报", "sheet: 周报"), encoding="utf-8")
    p = run_cli("validate", "--config", str(city))
    assert p.returncode == 2
    assert f"ERROR: {city}:5: source 'xl': sheet: no sheet '周报'" in p.stderr
    p = run_cli("compute", "--config", str(city), "--format", "json")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert {r["indicator"] for r in json.loads(p.stdout)} == {"d", "dq"}


def test_missing_table_is_named(city: Path) -> None:
    city.write_text(CONFIG.replace("table: t}", "table: nope}"), encoding="utf-8")
    p = run_cli("validate", "--config", str(city))
    assert p.returncode == 2
    assert "source 'db': table:" in p.stderr and "nope" in p.stderr


def test_a_source_whose_type_changed_is_not_shadowed_by_its_old_table(tmp_path) -> None:
    """A CSV source's temporary table left in the process (the detail view keeps it) must not hide
    the view of the same source id read as Parquet later: temporary objects are found first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from connectors.embedded import CsvConnector, ParquetConnector

    (tmp_path / "old.csv").write_text("created_at,n\n2026-01-01,1\n", encoding="utf-8")
    pq.write_table(pa.table({"accepted_at": ["2026-01-01"], "v": [2]}), tmp_path / "new.parquet")
    old = CsvConnector("swap", tmp_path / "old.csv", "old.csv", set(), None, None).open()
    assert set(old.columns()) == {"created_at", "n"}  # and not closed, as records.py leaves it
    new = ParquetConnector("swap", tmp_path / "new.parquet", "new.parquet").open()
    try:
        assert set(new.columns()) == {"accepted_at", "v"}
        assert new.fetch(f"SELECT SUM(v) AS s FROM {new.relation()}")["s"][0] == 2
    finally:
        new.close()
