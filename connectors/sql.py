"""Any SQL database SQLAlchemy can reach. The aggregate runs in the database."""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .base import ColumnInfo, SourceError, SourceNotes, kind_of

# SQLAlchemy dialect name → sqlglot dialect name
DIALECTS = {
    "postgresql": "postgres",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "tsql",
    "oracle": "oracle",
    "duckdb": "duckdb",
    "trino": "trino",
    "presto": "presto",
    "hive": "hive",
    "databricks": "databricks",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "clickhouse": "clickhouse",
    "doris": "doris",
    "starrocks": "starrocks",
    "redshift": "redshift",
}

_ENGINES: dict[str, sa.Engine] = {}
_LOCK = threading.Lock()


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot parse: show nothing secret
        return url.split("@")[-1]


def resolve_file_url(url: str, resolve: Callable[[str], Path]) -> str:
    """A file database's relative path (``sqlite:///data/x.db``) resolves against the config's folder.

    A file that does not exist is an error, never a new empty database.
    """
    try:
        u = make_url(url)
    except Exception:  # noqa: BLE001 - SQLAlchemy says what is wrong when the engine is made
        return url
    if u.get_backend_name() not in ("sqlite", "duckdb") or not u.database or u.database == ":memory:":
        return url
    if u.database.startswith("file:"):
        return url
    path = resolve(u.database)
    if not path.exists():
        raise SourceError(f"file not found: {u.database}", "url")
    return u.set(database=str(path)).render_as_string(hide_password=False)


def engine_for(url: str) -> sa.Engine:
    with _LOCK:
        eng = _ENGINES.get(url)
        if eng is None:
            args: dict[str, Any] = {}
            u = make_url(url)
            if u.get_backend_name() == "postgresql":
                args["connect_args"] = {"connect_timeout": 5}
            eng = sa.create_engine(url, pool_pre_ping=True, **args)
            _ENGINES[url] = eng
        return eng


class SqlConnector:
    def __init__(
        self, source_id: str, url: str, table: str | None, query: str | None, updated_column: str | None
    ) -> None:
        self.source_id = source_id
        self.url = url
        self.label = redact(url)
        self.table = table
        self.query = query
        self.updated_column = updated_column
        self.notes = SourceNotes()
        self._columns: dict[str, ColumnInfo] | None = None
        try:
            self.engine = engine_for(url)
        except Exception as e:  # noqa: BLE001 - bad URL, missing driver
            raise SourceError(f"cannot use {self.label}: {_short(e)}", "url") from None
        self.dialect = DIALECTS.get(self.engine.dialect.name, self.engine.dialect.name)

    def _ident(self, name: str) -> str:
        prep = self.engine.dialect.identifier_preparer
        return ".".join(prep.quote_identifier(p) for p in name.split("."))

    def relation(self) -> str:
        if self.table:
            return self._ident(self.table)
        return f"({self.query}) AS src"

    def open(self) -> SqlConnector:
        try:
            with self.engine.connect() as conn:
                if self.table:
                    insp = sa.inspect(conn)
                    schema, _, name = self.table.rpartition(".")
                    if not insp.has_table(name, schema=schema or None):
                        from metrics.catalogue.problems import did_you_mean

                        tables = insp.get_table_names(schema=schema or None)
                        raise SourceError(
                            f"no table '{self.table}' in {self.label}{did_you_mean(name, tables)}", "table"
                        )
                    cols = insp.get_columns(name, schema=schema or None)
                    self._columns = {c["name"]: ColumnInfo(c["name"], _kind(c["type"])) for c in cols}
                else:
                    res = conn.exec_driver_sql(f"SELECT * FROM {self.relation()} LIMIT 1")
                    names = list(res.keys())
                    row = res.fetchone()
                    self._columns = {
                        n: ColumnInfo(n, _py_kind(row[i] if row else None)) for i, n in enumerate(names)
                    }
        except SourceError:
            raise
        except Exception as e:  # noqa: BLE001 - driver errors vary by database
            raise SourceError(f"cannot reach {self.label}: {_short(e)}", "url") from None
        if self.dialect == "sqlite":
            # SQLite keeps dates as text; read them as text.
            self._columns = {
                n: ColumnInfo(n, "text" if c.kind in ("date", "timestamp") else c.kind)
                for n, c in self._columns.items()
            }
        return self

    def columns(self) -> dict[str, ColumnInfo]:
        assert self._columns is not None
        return self._columns

    def fetch(self, sql: str) -> pl.DataFrame:
        try:
            with self.engine.connect() as conn:
                res = conn.exec_driver_sql(sql)
                names = list(res.keys())
                rows = res.fetchall()
        except Exception as e:  # noqa: BLE001
            raise SourceError(f"query failed in {self.label}: {_short(e)}") from None
        data = {n: [_plain(r[i]) for r in rows] for i, n in enumerate(names)}
        return pl.DataFrame(data, strict=False)

    def fingerprint(self) -> str:
        parts = ["COUNT(*)"]
        if self.updated_column:
            parts.append(f"MAX({self._ident(self.updated_column)})")
        try:
            with self.engine.connect() as conn:
                row = conn.exec_driver_sql(f"SELECT {', '.join(parts)} FROM {self.relation()}").fetchone()
        except Exception as e:  # noqa: BLE001
            raise SourceError(f"cannot reach {self.label}: {_short(e)}", "url") from None
        return "|".join(str(x) for x in (row or ()))

    def close(self) -> None:
        pass


def _short(e: Exception) -> str:
    s = str(getattr(e, "orig", None) or e).strip().splitlines()
    return " ".join(x.strip() for x in s[:2] if x.strip())[:300]


def _kind(t: Any) -> str:
    try:
        py = t.python_type
    except (NotImplementedError, AttributeError):
        return kind_of(str(t))
    if py is bool:
        return "boolean"
    if py is int:
        return "integer"
    if py in (float, decimal.Decimal):
        return "float"
    if py is dt.datetime:
        return "timestamp"
    if py is dt.date:
        return "date"
    if py is str:
        return "text"
    return kind_of(str(t))


def _py_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float | decimal.Decimal):
        return "float"
    if isinstance(v, dt.datetime):
        return "timestamp"
    if isinstance(v, dt.date):
        return "date"
    if isinstance(v, str):
        return "text"
    return "other"


def _plain(v: Any) -> Any:
    return float(v) if isinstance(v, decimal.Decimal) else v
