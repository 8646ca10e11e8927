"""The SQL the engine would send, rendered for Spark, PostgreSQL, Trino and DuckDB, parses there.

For every indicator of a catalogue (the repository's ``indicators.yaml`` when it loads, and the test
city of tests/cities.py), the queries are built exactly as metrics/engine.py builds them —
``QueryBuilder.partials`` per (source, time column, grain, region, department) group and
``QueryBuilder.holistic`` (plus the time-key probe) for medians and distinct counts — and each must
parse with ``sqlglot.parse_one(sql, read=dialect)``. Contract section 12: the engine's aggregate SQL
runs in Spark (Spark SQL dialect); section 3: a ``where`` reaches a database only as the rendering
of its checked tree, never as the user's text.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import cities
import duckdb
import pytest
import sqlglot
from servers import REPO_ROOT
from sqlglot import exp

from connectors.base import ColumnInfo
from metrics import periods
from metrics.catalogue.expressions import ExpressionError
from metrics.query import PLACEHOLDER, Component, QueryBuilder, render_for

DIALECTS = ["spark", "postgres", "trino", "duckdb"]
RELATION = {
    "spark": "`ods`.`service_cases`",
    "postgres": '"public"."service_cases"',
    "trino": '"hive"."ods"."service_cases"',
    "duckdb": '"memory"."main"."service_cases"',
}
QUOTE = {"spark": "`", "postgres": '"', "trino": '"', "duckdb": '"'}

# the test city's columns as a typed database reports them, and as a text-only source (SQLite, JSON) does
CITY_TYPED = {
    "id": "integer",
    "accepted_at": "timestamp",
    "accepted_on": "date",
    "period": "text",
    "region_code": "integer",
    "dept_code": "text",
    "channel": "text",
    "days": "float",
    "on_time": "boolean",
    "applicant": "text",
}
CITY_TEXT = {**{c: "text" for c in CITY_TYPED}, "on_time": "boolean"}


def _columns(kinds: dict[str, str]) -> dict[str, ColumnInfo]:
    return {n: ColumnInfo(n, k) for n, k in kinds.items()}


# ----------------------------------------------------------------- catalogues


def _load(path: Path):
    from metrics.catalogue.load import load_catalogue

    return load_catalogue(str(path))


@pytest.fixture(scope="module")
def city_catalogue(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dialect_city")
    path = folder / "indicators.yaml"
    path.write_text(cities.city_yaml("csv"), encoding="utf-8")
    return _load(path)


@pytest.fixture(scope="module")
def repo_catalogue():
    from metrics.catalogue.problems import ConfigError

    path = REPO_ROOT / "indicators.yaml"
    if not path.exists():
        pytest.skip("the repository has no indicators.yaml")
    try:
        return _load(path)
    except ConfigError as e:
        pytest.skip(f"the repository's indicators.yaml does not validate: {[str(p) for p in e.problems][:3]}")


def _source_columns(cat, source_id: str, indicators) -> dict[str, ColumnInfo]:
    """The source's real columns when it can be opened, else the columns the indicators name."""
    from connectors import SourceError
    from metrics.engine import open_connector

    try:
        con = open_connector(cat, source_id)
    except SourceError:
        con = None
    if con is not None:
        try:
            return dict(con.columns())
        finally:
            con.close()
    from metrics.catalogue.expressions import check_where

    cols: dict[str, ColumnInfo] = {}
    for ind in indicators:
        for field, col in ind.source_columns():
            kind = {"time.column": "timestamp", "region": "integer", "department": "text"}.get(field, "float")
            cols.setdefault(col, ColumnInfo(col, kind))
        for _, where in ind.where_clauses():
            for name in check_where(where).names:
                cols.setdefault(name, ColumnInfo(name, "text"))
    return cols


def _sample_keys(kind: str, grain: str) -> list[tuple[object, str]]:
    """(time key, period) pairs of the kind the source returns for the time key."""
    days = [dt.date(2025, 12, 29), dt.date(2026, 1, 5), dt.date(2026, 2, 2), dt.date(2026, 5, 14)]
    if kind in ("date", "timestamp"):
        starts = sorted({periods.start(periods.to_period(d, grain)) for d in days})
        return [(dt.datetime.combine(d, dt.time()), periods.to_period(d, grain)) for d in starts]
    if kind in ("integer", "float"):
        return [(2025, "2025"), (2026, "2026")]
    return [(d.isoformat(), periods.to_period(d, grain)) for d in days]


def engine_queries(
    cat, dialect: str, kinds: dict[str, str] | None = None, keys_for=None
) -> list[tuple[str, str]]:
    """(label, SQL template) for every query the engine would send for this catalogue, in ``dialect``.

    ``keys_for(key_sql_template, grain)`` may supply the (time key, period) pairs a source really holds."""
    from metrics.engine import Engine, components_of

    eng = Engine(cat, use_store=False)
    groups: dict[str, dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    for ind in cat.config.indicators:
        if ind.source and ind.time:
            key = (ind.time.column, ind.time.grain, ind.region if cat.tree else None, ind.department)
            groups[ind.source][key].append(ind)
    out: list[tuple[str, str]] = []
    for source_id, by_key in groups.items():
        all_inds = [i for inds in by_key.values() for i in inds]
        cols = _columns(kinds) if kinds is not None else _source_columns(cat, source_id, all_inds)
        qb = QueryBuilder(cols, dialect)
        for (time_col, grain, region_col, dept_col), inds in by_key.items():
            comps: list[Component] = []
            for ind in inds:
                for c in components_of(ind).values():
                    if c.decomposable and c not in comps:
                        comps.append(c)
            label = f"{source_id}:{time_col}/{grain}/{region_col}/{dept_col}"
            out.append(
                (
                    f"partials {label} [{', '.join(i.id for i in inds)}]",
                    qb.partials(time_col, grain, region_col, dept_col, comps),
                )
            )
            for ind in inds:
                hol = [
                    (f"h{n}", c)
                    for n, c in enumerate(c for c in components_of(ind).values() if not c.decomposable)
                ]
                if not hol:
                    continue
                key_sql = qb.finish(
                    f'SELECT DISTINCT {qb.time_key(time_col, grain)} AS k FROM "{PLACEHOLDER}"'
                )
                out.append((f"time keys {ind.id}", key_sql))
                keys = keys_for(key_sql, grain) if keys_for else _sample_keys(qb.kind(time_col), grain)
                if ind.accumulate == "ytd":
                    # as the engine does: each key counts in every later period of its year
                    qs = sorted({q for _, q in keys}, key=periods.ordinal)
                    pmap = [
                        (k, q)
                        for k, p in keys
                        for q in qs
                        if q[:4] == p[:4] and periods.ordinal(q) >= periods.ordinal(p)
                    ]
                else:
                    pmap = keys
                region_on = cat.tree is not None and ind.region is not None
                nodes = None
                if region_on:
                    nm = eng._node_map(ind.rollup)
                    nodes = list(zip(nm["r"].to_list(), nm["node"].to_list(), strict=True))
                out.append(
                    (
                        f"holistic {ind.id} regions",
                        qb.holistic(
                            time_col, grain, ind.region if region_on else None, hol, pmap, nodes, cat.root
                        ),
                    )
                )
                if ind.department:
                    out.append(
                        (
                            f"holistic {ind.id} departments",
                            qb.holistic(time_col, grain, ind.department, hol, pmap, None, None),
                        )
                    )
    return out


def _check_parses(queries: list[tuple[str, str]], dialect: str) -> list[str]:
    problems = []
    for label, template in queries:
        if "{relation}" not in template:
            problems.append(f"{label}: no {{relation}} in {template[:200]}")
            continue
        if PLACEHOLDER in template:
            problems.append(f"{label}: the placeholder was left in: {template[:200]}")
        sql = render_for(template, RELATION[dialect])
        try:
            tree = sqlglot.parse_one(sql, read=dialect)
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as e:
            problems.append(f"{label}: does not parse as {dialect}: {str(e)[:300]}\n  {sql[:600]}")
            continue
        if not isinstance(tree, exp.Select):
            problems.append(f"{label}: parses as {type(tree).__name__}, not one SELECT")
            continue
        tables = [t.name for t in tree.find_all(exp.Table)]
        if "service_cases" not in tables:
            problems.append(f"{label}: the source is not read: {tables}")
    return problems


@pytest.mark.parametrize("dialect", DIALECTS)
def test_repo_catalogue_sql_parses(repo_catalogue, dialect):
    queries = engine_queries(repo_catalogue, dialect)
    assert len(queries) >= 5
    problems = _check_parses(queries, dialect)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kinds", ["typed", "text"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_city_catalogue_sql_parses(city_catalogue, dialect, kinds):
    queries = engine_queries(city_catalogue, dialect, CITY_TYPED if kinds == "typed" else CITY_TEXT)
    labels = " ".join(label for label, _ in queries)
    assert "holistic days_median departments" in labels and "holistic median_ytd regions" in labels
    assert sum(1 for label, _ in queries if label.startswith("partials")) >= 8
    problems = _check_parses(queries, dialect)
    assert not problems, "\n".join(problems)


def _conditions(tree: exp.Expression) -> list[exp.Expression]:
    """Each aggregate's condition: of a FILTER (WHERE …), or of a CASE WHEN … inside the aggregate
    (DuckDB counts with SUM(CASE …), which it runs faster than COUNT(*) FILTER)."""
    filters = [f.expression.this for f in tree.find_all(exp.Filter)]
    cases = [c.args["ifs"][0].this for c in tree.find_all(exp.Case) if isinstance(c.parent, exp.AggFunc)]
    return [*filters, *cases]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_where_becomes_a_filter(city_catalogue, dialect):
    """Each component with a where keeps its condition (FILTER (WHERE …) or CASE WHEN … inside the aggregate)."""
    from metrics.engine import components_of

    qb = QueryBuilder(_columns(CITY_TYPED), dialect)
    comps = []
    for ind in city_catalogue.config.indicators:
        if ind.time and ind.time.column == "accepted_at" and ind.time.grain == "month":
            comps += [c for c in components_of(ind).values() if c.decomposable and c not in comps]
    with_where = [c for c in comps if c.where]
    assert len(with_where) >= 4
    tree = sqlglot.parse_one(
        render_for(qb.partials("accepted_at", "month", "region_code", "dept_code", comps), "t"), read=dialect
    )
    filters = _conditions(tree)
    assert len(filters) == len(with_where), tree.sql(dialect)
    aliases = [e.alias for e in tree.expressions]
    assert aliases[:4] == ["k", "r", "d", "__n"] and len(aliases) == 4 + len(comps)
    assert tree.args.get("group") is not None


# ----------------------------------------------------------------- the same numbers


def _city_duckdb(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    data = cities.arrow_table(cities.records())  # noqa: F841 - read by DuckDB's replacement scan
    con.execute("CREATE TABLE service_cases AS SELECT * FROM data")
    return con


@pytest.fixture(scope="module")
def city_db(tmp_path_factory):
    con = _city_duckdb(tmp_path_factory)
    yield con
    con.close()


def _rows(con, sql: str) -> list[tuple]:
    """Rows with numbers compared as doubles to 9 decimals (DuckDB's exact sums come back as Decimal)."""
    import decimal

    def norm(v: object) -> object:
        if isinstance(v, decimal.Decimal):
            v = float(v)
        return round(v, 9) if isinstance(v, float) else v

    rows = con.execute(sql).fetchall()
    return sorted((tuple(norm(v) for v in r) for r in rows), key=repr)


@pytest.mark.parametrize("dialect", ["spark", "postgres", "trino"])
def test_dialect_sql_means_the_same(city_catalogue, city_db, dialect):
    """Each dialect's SQL, read back in that dialect and run in DuckDB, gives the DuckDB SQL's result:
    the translation kept the time keys, codes, filters and aggregates."""
    recorded: list[list[tuple[object, str]]] = []

    def keys_for(key_sql: str, grain: str) -> list[tuple[object, str]]:
        # the keys the data really holds, mapped to periods as the engine maps them
        ks = [
            r[0] for r in city_db.execute(render_for(key_sql, "service_cases")).fetchall() if r[0] is not None
        ]
        recorded.append([(k, periods.to_period(k, grain)) for k in ks])
        return recorded[-1]

    ours = engine_queries(city_catalogue, "duckdb", CITY_TYPED, keys_for=keys_for)
    replay = iter(recorded)
    theirs = engine_queries(city_catalogue, dialect, CITY_TYPED, keys_for=lambda sql, grain: next(replay))
    assert [label for label, _ in ours] == [label for label, _ in theirs]
    problems = []
    compared = 0
    for (label, a), (_, b) in zip(ours, theirs, strict=True):
        if dialect == "trino" and "PERCENTILE_CONT" in b.upper():
            continue  # see test_trino_median_uses_a_trino_function
        want = _rows(city_db, render_for(a, "service_cases"))
        back = sqlglot.transpile(render_for(b, "service_cases"), read=dialect, write="duckdb")[0]
        try:
            got = _rows(city_db, back)
        except duckdb.Error as e:
            problems.append(f"{label}: {e}\n  {back[:500]}")
            continue
        if got != want:
            problems.append(
                f"{label}: {len(got)} rows vs {len(want)}; first differences {[g for g in got if g not in want][:2]}"
            )
        compared += bool(want)
    assert not problems, "\n".join(problems)
    assert compared >= 15


def test_trino_median_uses_a_trino_function():
    qb = QueryBuilder(_columns(CITY_TYPED), "trino")
    sql = qb.holistic(
        "accepted_at",
        "month",
        None,
        [("m", Component("median", "days", None))],
        [(dt.datetime(2026, 1, 1), "2026-01")],
        None,
        None,
    )
    assert "PERCENTILE_CONT" not in sql.upper(), sql


# ----------------------------------------------------------------- where clauses


def _partials_with(qb: QueryBuilder, *comps: Component) -> str:
    return qb.partials("accepted_at", "month", "region_code", None, list(comps))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_where_is_rendered_from_the_parsed_tree(dialect):
    q = QUOTE[dialect]
    qb = QueryBuilder(_columns(CITY_TYPED), dialect)
    raw = "channel   =   '网办'    and   days>3"
    sql = _partials_with(qb, Component("count", None, raw))
    assert raw not in sql
    assert f"{q}channel{q} = '网办' AND {q}days{q} > 3" in sql, sql
    # the source's spelling of a column, quoted, whatever case the config wrote
    sql = _partials_with(qb, Component("sum", "DAYS", "Channel IN ('网办','自助')  OR  NOT on_time = true"))
    assert f"{q}channel{q} IN ('网办', '自助') OR NOT {q}on_time{q} = TRUE" in sql, sql
    # a sum of doubles: exact DECIMAL in DuckDB (the same bits on every run), a plain SUM elsewhere
    assert f"SUM({q}days{q})" in sql or f"SUM(CAST({q}days{q} AS DECIMAL(38, 10)))" in sql, sql
    # the rendered where parses back to the same tree as a normalised spelling of it
    cond = qb.where_sql("days   BETWEEN 1 AND 3 AND applicant LIKE 'p0%'  AND dept_code IS NOT NULL")
    assert sqlglot.parse_one(cond, read="duckdb") == sqlglot.parse_one(
        '"days" BETWEEN 1 AND 3 AND "applicant" LIKE \'p0%\' AND NOT "dept_code" IS NULL', read="duckdb"
    )
    # and the filter in the final SQL is exactly that tree, rendered in the dialect
    sql = _partials_with(
        qb,
        Component(
            "count", None, "days   BETWEEN 1 AND 3 AND applicant LIKE 'p0%'  AND dept_code IS NOT NULL"
        ),
    )
    (flt,) = _conditions(sqlglot.parse_one(render_for(sql, "t"), read=dialect))
    assert flt == sqlglot.parse_one(cond, read="duckdb")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_literals_stay_literals(dialect):
    """Quotes, semicolons and comment marks inside a string literal are data, never SQL."""
    qb = QueryBuilder(_columns(CITY_TYPED), dialect)
    for where in (
        "channel = 'O''Brien'",
        "channel = 'x; DROP TABLE t'",
        "channel = 'a -- b'",
        "channel = '/* c */'",
    ):
        sql = render_for(
            qb.partials("accepted_at", "month", "region_code", None, [Component("count", None, where)]), "t"
        )
        tree = sqlglot.parse_one(sql, read=dialect)
        (flt,) = _conditions(tree)
        lit = flt.find(exp.Literal)
        assert lit is not None and lit.is_string
        assert lit.this == where.split("= ", 1)[1][1:-1].replace("''", "'"), (where, sql)
        assert not list(tree.find_all(exp.Drop))


@pytest.mark.parametrize(
    "where",
    [
        "channel = '网办'; DROP TABLE service_cases",
        "channel = '网办' -- tail",
        "channel = '网办' /* c */",
        "id IN (SELECT id FROM other)",
        "EXISTS (SELECT 1)",
        "pg_sleep(10) IS NULL",
        "channel",
        "   ",
    ],
)
def test_unsafe_where_is_refused_before_any_sql(where):
    qb = QueryBuilder(_columns(CITY_TYPED), "spark")
    with pytest.raises(ExpressionError):
        qb.where_sql(where)
    with pytest.raises(ExpressionError):
        qb.partials("accepted_at", "month", None, None, [Component("count", None, where)])


# ----------------------------------------------------------------- dialect details


def test_spark_time_keys_codes_and_values():
    qb = QueryBuilder(_columns(CITY_TYPED), "spark")
    text = QueryBuilder(_columns(CITY_TEXT), "spark")
    for grain in ("day", "week", "month", "quarter", "year"):
        for b, col in ((qb, "accepted_at"), (qb, "accepted_on"), (text, "accepted_at"), (qb, "period")):
            sql = b.finish(f'SELECT {b.time_key(col, grain)} AS k FROM "{PLACEHOLDER}"')
            sqlglot.parse_one(render_for(sql, "t"), read="spark")
            assert '"' not in sql.replace("{relation}", ""), sql  # Spark quotes with backticks
    sql = qb.partials("accepted_at", "week", "region_code", "dept_code", [Component("sum", "on_time", None)])
    assert "CAST(`region_code` AS STRING)" in sql and "VARCHAR" not in sql, sql
    assert "DATE_TRUNC('WEEK'" in sql.upper(), sql
    assert "TRY_CAST" not in text.partials(
        "accepted_at", "month", None, None, [Component("sum", "days", None)]
    )
