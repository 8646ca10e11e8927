"""The ``sql`` connector against a real PostgreSQL: aggregates are pushed down, rows equal the CSV's.

Contract: section 2 (exit status, ERROR lines, no traceback), section 3 (``{type: sql, url, table}``,
``${VAR}``, inline passwords refused, where clauses never reach a database unless checked), section 5
(the rows). The city is tests/cities.py, loaded with SQLAlchemy into ``tcity_int`` (region_code
INTEGER) and ``tcity_txt`` (region_code TEXT); the PostgreSQL URL reaches the config only through
``${PG_URL}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cities
import pytest
import sqlglot
from servers import free_port, run_cli
from sqlglot import exp

PG_SOURCES = ["pg", "pg_txt", "pg_query"]
TABLES = (cities.PG_TABLE_INT, cities.PG_TABLE_TXT)


@pytest.fixture(scope="module")
def pg_city(postgres_url, tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("pg_city")
    url = postgres_url.create_database()
    records = cities.write_city(folder, pg_url=url)
    return {
        "folder": folder,
        "url": url,
        "env": {"PG_URL": url},
        "server": postgres_url,
        "records": records,
        "runs": {},
    }


def _config(pg_city: dict[str, Any], source: str, name: str | None = None, **kw: Any) -> Path:
    path = pg_city["folder"] / f"{name or source}.yaml"
    path.write_text(cities.city_yaml(source, pg_city["folder"], pg=True, **kw), encoding="utf-8")
    return path


def _run(pg_city: dict[str, Any], source: str):
    """compute once per source: (process, rows by indicator, statements that reached the server)."""
    runs = pg_city["runs"]
    if source not in runs:
        config = _config(pg_city, source)
        server = pg_city["server"]
        mark = server.mark()
        proc, rows = cities.compute(config, env=pg_city["env"])
        runs[source] = (proc, cities.by_indicator(rows), server.statements_since(mark))
    return runs[source]


@pytest.fixture(scope="module")
def csv_rows(tmp_path_factory) -> dict[str, list[dict[str, Any]]]:
    return cities.csv_reference(tmp_path_factory)


# ----------------------------------------------------------------- same rows as the CSV


@pytest.mark.parametrize("source", PG_SOURCES)
def test_compute_succeeds(pg_city, source):
    proc, rows, _ = _run(pg_city, source)
    cities.assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert not cities.error_lines(proc.stderr), proc.stderr
    assert set(rows) == set(cities.INDICATOR_IDS)


@pytest.mark.parametrize("source", PG_SOURCES)
@pytest.mark.parametrize("indicator", cities.INDICATOR_IDS)
def test_rows_equal_csv(pg_city, csv_rows, source, indicator):
    _, rows, _ = _run(pg_city, source)
    cities.assert_rows_equal(rows.get(indicator, []), csv_rows[indicator], f"{source}/{indicator}")


def test_schema_qualified_table(pg_city, csv_rows):
    """``table: public.tcity_int`` reads the same table."""
    ids = ["cases", "days_median", "online_rate_ytd"]
    config = _config(
        pg_city,
        "pg_schema",
        indicators=ids,
        extra_sources={
            "pg_schema": {"type": "sql", "url": "${PG_URL}", "table": f"public.{cities.PG_TABLE_INT}"}
        },
    )
    proc, rows = cities.compute(config, env=pg_city["env"])
    assert proc.returncode == 0, proc.stderr
    got = cities.by_indicator(rows)
    for ind in ids:
        cities.assert_rows_equal(got[ind], csv_rows[ind], ind)


# ----------------------------------------------------------------- what reached the server


def _reads_table(sql: str) -> bool:
    return any(re.search(rf'(?<![\w"]){t}(?![\w"])|"{t}"', sql, re.I) for t in TABLES)


def _outer_select(tree: exp.Expression) -> exp.Select | None:
    while isinstance(tree, exp.Subquery | exp.Paren):
        tree = tree.this
    return tree if isinstance(tree, exp.Select) else None


def _aggregated_or_probe(sql: str) -> bool:
    """The outermost SELECT groups, is DISTINCT, aggregates every column, or has a LIMIT."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return bool(re.search(r"\bGROUP BY\b|\bLIMIT\s+\d", sql, re.I))
    sel = _outer_select(tree)
    if sel is None:
        return False
    if sel.args.get("group") or sel.args.get("distinct") or sel.args.get("limit"):
        return True
    return all(e.find(exp.AggFunc) is not None for e in sel.expressions)


def test_the_pushdown_check_itself():
    """The statement check above must catch a row-by-row read (a negative control)."""
    assert _reads_table('SELECT * FROM "tcity_int"') and _reads_table("select id from public.tcity_txt t")
    assert not _reads_table("SELECT 1 FROM tcity_intx")
    assert not _aggregated_or_probe('SELECT * FROM "tcity_int"')
    assert not _aggregated_or_probe('SELECT "days", "region_code" FROM "tcity_int" WHERE "days" > 3')
    assert _aggregated_or_probe("SELECT * FROM (SELECT id FROM tcity_int WHERE id > 0) AS src LIMIT 1")
    assert _aggregated_or_probe('SELECT COUNT(*) FROM "tcity_int"')
    assert _aggregated_or_probe('SELECT DISTINCT CAST("accepted_at" AS DATE) AS k FROM "tcity_int"')
    assert _aggregated_or_probe(
        'WITH pm(k) AS (VALUES (1)) SELECT pm.k, COUNT(*) FROM "tcity_int" JOIN pm ON TRUE GROUP BY 1'
    )


@pytest.mark.parametrize("source", PG_SOURCES)
def test_aggregates_are_pushed_down(pg_city, source):
    proc, _, statements = _run(pg_city, source)
    assert proc.returncode == 0, proc.stderr
    reading = [s for s in statements if _reads_table(s)]
    assert reading, statements
    # never the whole table without aggregation
    full_scans = [s for s in reading if not _aggregated_or_probe(s)]
    assert not full_scans, "statements that read the table row by row:\n" + "\n---\n".join(full_scans)
    star = [
        s
        for s in reading
        if re.match(r"\s*SELECT\s+\*\s+FROM\b", s, re.I) and not re.search(r"\bLIMIT\s+\d+\s*$", s, re.I)
    ]
    assert not star, star
    # the partial aggregates: one GROUP BY over the table, with FILTERed aggregates
    grouped = [s for s in reading if re.search(r"\bGROUP BY\b", s, re.I)]
    assert any(re.search(r"COUNT\(\*\)\s*FILTER\s*\(\s*WHERE", s, re.I) for s in grouped), grouped
    assert any(re.search(r"\bSUM\(", s, re.I) and re.search(r"\bMIN\(", s, re.I) for s in grouped), grouped
    # median and count_distinct are computed in the database too
    assert any(re.search(r"PERCENTILE_CONT\(0\.5\)\s*WITHIN GROUP", s, re.I) for s in grouped), grouped
    assert any(re.search(r"COUNT\(DISTINCT", s, re.I) for s in grouped), grouped
    # the where clauses went through the checker: quoted columns, normalised text
    assert any("\"channel\" = '网办'" in s for s in grouped), grouped


def test_pushdown_statements_are_few(pg_city):
    """One partial-aggregate query per (time column, grain, region, department) group, not per indicator."""
    _, _, statements = _run(pg_city, "pg")
    partials = [s for s in statements if _reads_table(s) and re.search(r"GROUP BY 1, 2, 3\s*$", s)]
    groups = {
        (i["time"]["column"], i["time"]["grain"], i.get("region"), i.get("department"))
        for i in cities.INDICATORS
        if "time" in i
    }
    assert len(partials) == len(groups), partials


# ----------------------------------------------------------------- failures


def test_database_down_fails_only_its_indicators(pg_city, csv_rows):
    """exit 1, an ERROR line naming the source, no traceback; the CSV indicator is still computed;
    the password in the URL is never printed."""
    secret = "s3cret-pw-6789"
    dead = f"postgresql+psycopg://postgres:{secret}@127.0.0.1:{free_port()}/cockpit"
    config = pg_city["folder"] / "down.yaml"
    text = cities.city_yaml(
        "csv",
        pg_city["folder"],
        indicators=["cases"],
        extra_sources={"pg_down": {"type": "sql", "url": "${PG_DOWN_URL}", "table": cities.PG_TABLE_INT}},
        extra_indicators=[
            {
                "id": "cases_pg",
                "name": "办件量(库)",
                "source": "pg_down",
                "time": {"column": "accepted_at", "grain": "month"},
                "region": "region_code",
                "measure": {"type": "count"},
            }
        ],
    )
    config.write_text(text, encoding="utf-8")
    proc, rows = cities.compute(config, env={"PG_DOWN_URL": dead})
    cities.assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    errors = cities.error_lines(proc.stderr)
    assert errors and any("pg_down" in e for e in errors), proc.stderr
    assert secret not in proc.stderr + proc.stdout
    got = cities.by_indicator(rows)
    assert "cases_pg" not in got
    cities.assert_rows_equal(got["cases"], csv_rows["cases"], "cases next to a dead database")
    # validate: every problem is exit 2
    v = run_cli("validate", "--config", config, env={"PG_DOWN_URL": dead})
    cities.assert_no_traceback(v)
    assert v.returncode == 2 and any("pg_down" in e for e in cities.error_lines(v.stderr)), v.stderr
    assert secret not in v.stderr + v.stdout


def test_inline_password_is_refused_before_connecting(pg_city):
    server = pg_city["server"]
    inline = pg_city["url"].replace("postgres@", "postgres:hunter2@")
    config = pg_city["folder"] / "inline.yaml"
    text = cities.city_yaml("pg", pg_city["folder"], pg=True, indicators=["cases"]).replace(
        "${PG_URL}", inline
    )
    config.write_text(text, encoding="utf-8")
    mark = server.mark()
    for cmd in ("compute", "validate"):
        proc = run_cli(cmd, "--config", config)
        cities.assert_no_traceback(proc)
        assert proc.returncode == 2, proc.stderr
        errors = cities.error_lines(proc.stderr)
        assert any("source 'pg'" in e and "url" in e for e in errors), proc.stderr
        assert "hunter2" not in proc.stderr + proc.stdout
    assert not [s for s in server.statements_since(mark) if _reads_table(s)]


def test_unset_url_variable_is_a_config_error(pg_city):
    config = _config(pg_city, "pg", name="unset", indicators=["cases"])
    proc = run_cli("compute", "--config", config, env={"PG_URL": None})
    cities.assert_no_traceback(proc)
    assert proc.returncode == 2
    assert any("PG_URL" in e for e in cities.error_lines(proc.stderr)), proc.stderr


@pytest.mark.parametrize(
    "where",
    [
        "channel = '网办'; DROP TABLE tcity_int",
        "channel = '网办' OR id IN (SELECT id FROM tcity_txt)",
        "channel = '网办' -- and more",
        "pg_sleep(1) IS NULL",
    ],
    ids=["second-statement", "sub-query", "comment", "function"],
)
def test_unsafe_where_never_reaches_the_database(pg_city, where):
    server = pg_city["server"]
    bad = {
        "id": "bad_where",
        "name": "坏条件",
        "source": "pg",
        "time": {"column": "accepted_at", "grain": "month"},
        "measure": {"type": "count", "where": where},
    }
    config = pg_city["folder"] / "unsafe.yaml"
    config.write_text(
        cities.city_yaml("pg", pg_city["folder"], pg=True, indicators=[], extra_indicators=[bad]),
        encoding="utf-8",
    )
    mark = server.mark()
    for cmd in ("validate", "compute"):
        proc = run_cli(cmd, "--config", config, env=pg_city["env"])
        cities.assert_no_traceback(proc)
        assert proc.returncode == 2, (cmd, proc.stderr)
        assert any("bad_where" in e and "where" in e for e in cities.error_lines(proc.stderr)), proc.stderr
    sent = server.statements_since(mark)
    assert not [s for s in sent if "DROP" in s.upper() or "pg_sleep" in s or "--" in s], sent
    assert not [s for s in sent if _reads_table(s)], sent
    assert server.psql(
        f"SELECT count(*) FROM {cities.PG_TABLE_INT}", database=pg_city["url"].rsplit("/", 1)[1]
    ).strip() == str(len(pg_city["records"]))


def test_validate_reaches_the_database(pg_city):
    ok = _config(pg_city, "pg", name="validate_ok")
    proc = run_cli("validate", "--config", ok, env=pg_city["env"])
    assert proc.returncode == 0, proc.stderr
    # a table that does not exist, a column that does not exist
    wrong = ok.read_text(encoding="utf-8").replace(f"table: {cities.PG_TABLE_TXT}", "table: tcity_inx")
    wrong = wrong.replace("column: applicant", "column: aplicant")
    bad = pg_city["folder"] / "validate_bad.yaml"
    bad.write_text(wrong, encoding="utf-8")
    proc = run_cli("validate", "--config", bad, env=pg_city["env"])
    cities.assert_no_traceback(proc)
    assert proc.returncode == 2
    errors = cities.error_lines(proc.stderr)
    assert any("source 'pg_txt'" in e and "tcity_inx" in e and "did you mean" in e for e in errors), (
        proc.stderr
    )
    assert any("'aplicant'" in e and "applicant" in e for e in errors), proc.stderr


# ----------------------------------------------------------------- revised rows


def test_a_revised_row_is_seen_on_the_next_run(pg_city):
    """Without ``updated_column`` nothing is cached: a revision (统计数据修订) changes the next result."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_city["url"])
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS tcity_rev"))
            conn.execute(sa.text(f"CREATE TABLE tcity_rev AS SELECT * FROM {cities.PG_TABLE_INT}"))
        src = {"rev": {"type": "sql", "url": "${PG_URL}", "table": "tcity_rev"}}
        config = pg_city["folder"] / "rev.yaml"
        config.write_text(
            cities.city_yaml("rev", pg_city["folder"], pg=True, indicators=["days_total"], extra_sources=src),
            encoding="utf-8",
        )

        def root_total(period: str) -> float:
            proc, rows = cities.compute(config, "--period", period, env=pg_city["env"])
            assert proc.returncode == 0, proc.stderr
            return next(r["value"] for r in rows if r["region"] == cities.ROOT)

        before = root_total("2026-01")
        with engine.begin() as conn:
            n = conn.execute(
                sa.text(
                    "UPDATE tcity_rev SET days = COALESCE(days, 0) + 100 WHERE id = (SELECT min(id) FROM tcity_rev "
                    "WHERE accepted_at >= '2026-01-01' AND accepted_at < '2026-02-01')"
                )
            ).rowcount
        assert n == 1
        after = root_total("2026-01")
        assert after == pytest.approx(before + 100) or after > before + 99
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS tcity_rev"))
        engine.dispose()
