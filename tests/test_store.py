"""The store of computed partials: reused while a source is unchanged, never stale."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from servers import run_cli

CSV_CONFIG = """\
version: 1
sources: {s: {type: csv, path: r.csv}}
indicators:
  - {id: total, name: 合计, source: s, time: {column: d, grain: month}, measure: {type: sum, column: x}}
"""


def value(config: Path, env: dict[str, str] | None = None) -> float:
    p = run_cli("compute", "--config", str(config), "--format", "json", env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)[0]["value"]


def test_file_source_is_reused_then_recomputed_when_it_changes(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("d,x\n2026-01-03,1\n2026-01-09,2\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text(CSV_CONFIG, encoding="utf-8")
    assert value(tmp_path / "c.yaml") == 3.0
    cache = tmp_path / ".cockpit" / "cache"
    stored = list(cache.glob("*.parquet"))
    assert len(stored) == 1  # beside the config, keyed by the source's fingerprint
    assert value(tmp_path / "c.yaml") == 3.0
    assert list(cache.glob("*.parquet")) == stored  # the same key: read, not recomputed
    # a revised file (统计数据修订): same size, new content and modification time
    (tmp_path / "r.csv").write_text("d,x\n2026-01-03,5\n2026-01-09,2\n", encoding="utf-8")
    st = (tmp_path / "r.csv").stat()
    os.utime(tmp_path / "r.csv", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert value(tmp_path / "c.yaml") == 7.0
    assert value(tmp_path / "c.yaml", env={"COCKPIT_NO_CACHE": "1"}) == 7.0
    # one result per query: the one for the file's previous version is gone
    (now,) = cache.glob("*.parquet")
    assert now != stored[0] and now.name.split("-")[0] == stored[0].name.split("-")[0]


def _sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (d TEXT, x REAL, updated_at TEXT)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?)",
        [("2026-01-03", 1.0, "2026-02-01"), ("2026-01-09", 2.0, "2026-02-01")],
    )
    con.commit()
    con.close()


def test_database_revision_is_noticed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _sqlite(db)
    for updated in ("", ", updated_column: updated_at"):
        (tmp_path / "c.yaml").write_text(
            "version: 1\n"
            f"sources: {{s: {{type: sql, url: 'sqlite:///{db}', table: t{updated}}}}}\n"
            "indicators:\n"
            "  - {id: total, name: 合计, source: s, time: {column: d, grain: month}, measure: {type: sum, column: x}}\n",
            encoding="utf-8",
        )
        first = value(tmp_path / "c.yaml")
        con = sqlite3.connect(db)
        con.execute(
            "UPDATE t SET x = x + 10, updated_at = ? WHERE d = '2026-01-03'",
            (f"2026-03-0{1 if not updated else 2}",),
        )
        con.commit()
        con.close()
        # the same row count, a revised value: the new value is computed
        assert value(tmp_path / "c.yaml") == first + 10
    # with updated_column the partials were stored (the revision's result replaced the first one);
    # without it, never
    assert len(list((tmp_path / ".cockpit" / "cache").glob("*.parquet"))) == 1
