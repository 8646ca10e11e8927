"""Files, DuckDB databases and HTTP JSON, all queried in one embedded DuckDB.

Each source becomes a view (or, for CSV, Excel and HTTP, a temporary table
read once) named ``src_<id>`` in a process-wide in-memory DuckDB. Aggregates
run there; Parquet is scanned in place, never loaded into Python.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from .base import ColumnInfo, SourceError, SourceNotes, kind_of
from .base import quote_ident as _q
from .base import sql_string as _lit
from .partitions import Partitions, hive_partitions

_LOCK = threading.RLock()
_CON: duckdb.DuckDBPyConnection | None = None


def connection() -> duckdb.DuckDBPyConnection:
    """The process-wide embedded DuckDB (created on first use)."""
    global _CON
    with _LOCK:
        if _CON is None:
            _CON = duckdb.connect(
                ":memory:", config={"memory_limit": os.environ.get("COCKPIT_DUCKDB_MEMORY", "1GB")}
            )
        return _CON


class EmbeddedConnector:
    dialect = "duckdb"

    def __init__(self, source_id: str, label: str) -> None:
        self.source_id = source_id
        self.label = label
        self.notes = SourceNotes()
        self.view = f"src_{source_id}"
        self._columns: dict[str, ColumnInfo] | None = None

    # -- subclasses fill the view
    def _create(self, con: duckdb.DuckDBPyConnection) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _connection(self) -> duckdb.DuckDBPyConnection:
        return connection()

    def open(self) -> EmbeddedConnector:
        with _LOCK:
            try:
                # a source whose type changed (CSV's temp table, then Parquet's view) would otherwise
                # be shadowed by the old object: temp objects are found before main ones
                self._drop(connection())
                self._create(connection())
                rows = self._connection().execute(f"DESCRIBE SELECT * FROM {_q(self.view)}").fetchall()
            except duckdb.Error as e:
                raise SourceError(_short(e)) from None
        self._columns = {r[0]: ColumnInfo(r[0], kind_of(str(r[1]))) for r in rows}
        return self

    def columns(self) -> dict[str, ColumnInfo]:
        assert self._columns is not None
        return self._columns

    def relation(self) -> str:
        return _q(self.view)

    def fetch(self, sql: str) -> pl.DataFrame:
        con = self._connection()
        with _LOCK:
            try:
                return con.sql(sql).pl()
            except duckdb.Error as e:
                raise SourceError(_short(e)) from None

    def fingerprint(self) -> str:
        return "none"

    def close(self) -> None:
        with _LOCK:
            self._drop(connection())

    def _drop(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop every view or table named like this source's, temporary or not."""
        for where in ("temp.main.", "main."):
            for kind in ("VIEW", "TABLE"):
                try:
                    con.execute(f"DROP {kind} IF EXISTS {where}{_q(self.view)}")
                except duckdb.Error:
                    pass  # the name is the other kind


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return " ".join(x.strip() for x in text[:2] if x.strip())


def _files(path: Path) -> list[Path]:
    if any(ch in str(path) for ch in "*?["):
        return [Path(p) for p in sorted(glob.glob(str(path), recursive=True))]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path] if path.exists() else []


def file_fingerprint(path: Path) -> str:
    """Size and modification time of every file under ``path``."""
    h = hashlib.sha1()
    for f in _files(path):
        st = f.stat()
        h.update(f"{f}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


class _FileConnector(EmbeddedConnector):
    def __init__(self, source_id: str, path: Path, label: str) -> None:
        super().__init__(source_id, label)
        self.path = path

    def _check_exists(self) -> None:
        if not _files(self.path):
            raise SourceError(f"file not found: {self.label}", "path")

    def fingerprint(self) -> str:
        return file_fingerprint(self.path)


class ParquetConnector(_FileConnector):
    partition: str | None = None  # the declared partition column (None: found by itself, if any)

    def partitions(self) -> Partitions | None:
        """Hive partitions of a folder, each with its fingerprint (see connectors.partitions)."""
        return hive_partitions(self.path, self.partition, file_fingerprint)

    def _create(self, con: duckdb.DuckDBPyConnection) -> None:
        self._check_exists()
        target = str(self.path / "**" / "*.parquet") if self.path.is_dir() else str(self.path)
        con.execute(
            f"CREATE OR REPLACE VIEW {_q(self.view)} AS SELECT * FROM "
            f"read_parquet({_lit(target)}, hive_partitioning = true, union_by_name = true)"
        )


class CsvConnector(_FileConnector):
    """CSV read once into a temporary table; malformed rows are skipped and reported."""

    def __init__(
        self,
        source_id: str,
        path: Path,
        label: str,
        numeric: set[str] | None = None,
        delimiter: str | None = None,
        encoding: str | None = None,
    ) -> None:
        super().__init__(source_id, path, label)
        self.numeric = numeric or set()
        self.delimiter = delimiter
        self.encoding = encoding

    def _options(self) -> str:
        opts = ["header = true", "ignore_errors = true"]
        if self.delimiter:
            opts.append(f"delim = {_lit(self.delimiter)}")
        if self.encoding and self.encoding.lower().replace("-", "") not in ("utf8",):
            opts.append(f"encoding = {_lit(self.encoding)}")
        return ", ".join(opts)

    def _create(self, con: duckdb.DuckDBPyConnection) -> None:
        self._check_exists()
        if self.path.stat().st_size == 0:
            raise SourceError(f"{self.label} is empty (no header, no rows)", "path")
        src = _lit(str(self.path))
        sniffed = con.execute(f"DESCRIBE SELECT * FROM read_csv({src}, {self._options()})").fetchall()
        types = {r[0]: str(r[1]) for r in sniffed}
        overrides = {
            c: "DOUBLE" for c, t in types.items() if c in self.numeric and kind_of(t) in ("text", "other")
        }
        type_opt = ""
        if overrides:
            type_opt = ", types = {" + ", ".join(f"{_lit(c)}: 'DOUBLE'" for c in overrides) + "}"
        rej_t, rej_s = f"rej_{self.source_id}", f"rejscan_{self.source_id}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_q(self.view)} AS SELECT * FROM read_csv({src}, {self._options()}"
            f"{type_opt}, store_rejects = true, rejects_table = {_lit(rej_t)}, rejects_scan = {_lit(rej_s)})"
        )
        try:
            rejects = con.execute(
                f"SELECT line, column_name, error_type, error_message FROM {_q(rej_t)} ORDER BY line"
            ).fetchall()
        except duckdb.Error:
            rejects = []
        seen_lines: set[int] = set()
        for line, column, etype, message in rejects:
            if line in seen_lines:
                continue  # one warning a row, whatever DuckDB found wrong with it
            seen_lines.add(line)
            if etype == "CAST" and column:
                why = f"column '{column}': not a number ({_cast_value(message)}); row skipped"
            else:
                why = f"malformed row skipped ({str(message).split('.')[0].strip()})"
            self.notes.warnings.append(f"{self.label}:{line}: source '{self.source_id}': {why}")
        for t in (rej_t, rej_s):
            try:
                con.execute(f"DROP TABLE IF EXISTS {_q(t)}")
            except duckdb.Error:
                pass


def _cast_value(message: str) -> str:
    import re

    m = re.search(r'string "([^"]*)"', str(message))
    return f"'{m[1]}'" if m else str(message)


class DuckDBFileConnector(_FileConnector):
    """A DuckDB database file, opened read-only on a connection of its own.

    Its own connection lets a ``query:`` name the file's tables unqualified.
    """

    def __init__(self, source_id: str, path: Path, label: str, table: str | None, query: str | None) -> None:
        super().__init__(source_id, path, label)
        self.table = table
        self.query = query
        self._con: duckdb.DuckDBPyConnection | None = None

    def _connection(self) -> duckdb.DuckDBPyConnection:
        return self._con if self._con is not None else connection()

    def _create(self, con: duckdb.DuckDBPyConnection) -> None:
        self._check_exists()
        try:
            self._con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as e:
            raise SourceError(f"cannot open {self.label}: {_short(e)}", "path") from None
        if self.table:
            body = "SELECT * FROM " + ".".join(_q(p) for p in self.table.split("."))
        else:
            body = str(self.query)
        try:
            self._con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(self.view)} AS {body}")
        except duckdb.Error as e:
            raise SourceError(_short(e), "table" if self.table else "query") from None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


class FrameConnector(EmbeddedConnector):
    """A source read into memory first (Excel, HTTP JSON), then held in DuckDB."""

    def __init__(self, source_id: str, label: str, numeric: set[str] | None = None) -> None:
        super().__init__(source_id, label)
        self.numeric = numeric or set()
        self._fp = ""

    def _frame(self) -> tuple[pl.DataFrame, int]:  # pragma: no cover - abstract
        """The records and the number of the first record's row (for warnings)."""
        raise NotImplementedError

    def _create(self, con: duckdb.DuckDBPyConnection) -> None:
        frame, first_row = self._frame()
        frame = self._coerce_numeric(frame, first_row)
        self._fp = (
            hashlib.sha1(frame.hash_rows().to_numpy().tobytes()).hexdigest()[:16] if frame.height else "0"
        )
        arrow = frame.to_arrow()
        con.register(f"__arrow_{self.source_id}", arrow)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_q(self.view)} AS SELECT * FROM {_q('__arrow_' + self.source_id)}"
        )
        con.unregister(f"__arrow_{self.source_id}")

    def _coerce_numeric(self, frame: pl.DataFrame, first_row: int) -> pl.DataFrame:
        for col in self.numeric:
            if col not in frame.columns or frame[col].dtype.is_numeric() or frame[col].dtype == pl.Boolean:
                continue
            text = frame[col].cast(pl.String)
            num = text.str.strip_chars().cast(pl.Float64, strict=False)
            bad = (num.is_null() & text.is_not_null() & (text.str.strip_chars() != "")).arg_true()
            for i in bad.to_list()[:20]:
                self.notes.warnings.append(
                    f"{self.label}:{first_row + i}: source '{self.source_id}': column '{col}': "
                    f"not a number ('{text[i]}'); read as null"
                )
            if bad.len() > 20:
                self.notes.warnings.append(
                    f"{self.label}: source '{self.source_id}': column '{col}': {bad.len() - 20} more values not a number"
                )
            frame = frame.with_columns(num.alias(col))
        return frame

    def fingerprint(self) -> str:
        return self._fp


class ExcelConnector(FrameConnector):
    def __init__(
        self,
        source_id: str,
        path: Path,
        label: str,
        sheet: str | int | None,
        header_row: int,
        numeric: set[str],
    ) -> None:
        super().__init__(source_id, label, numeric)
        self.path = path
        self.sheet = sheet
        self.header_row = header_row

    def _frame(self) -> tuple[pl.DataFrame, int]:
        if not self.path.exists():
            raise SourceError(f"file not found: {self.label}", "path")
        import fastexcel

        try:
            reader = fastexcel.read_excel(str(self.path))
            names = reader.sheet_names
            sheet: str | int = 0 if self.sheet is None else self.sheet
            if isinstance(sheet, str) and sheet not in names:
                from metrics.catalogue.problems import did_you_mean

                raise SourceError(f"no sheet '{sheet}' in {self.label}{did_you_mean(sheet, names)}", "sheet")
            if isinstance(sheet, int) and not 0 <= sheet < len(names):
                raise SourceError(
                    f"{self.label} has {len(names)} sheet(s); sheet {sheet} does not exist", "sheet"
                )
            ws = reader.load_sheet(sheet, header_row=self.header_row - 1)
            frame = pl.from_arrow(ws.to_arrow())
        except SourceError:
            raise
        except Exception as e:  # fastexcel raises its own error types for broken files
            raise SourceError(f"cannot read {self.label}: {_short(e)}", "path") from None
        assert isinstance(frame, pl.DataFrame)
        self._fp_file = file_fingerprint(self.path)
        return frame, self.header_row + 1

    def fingerprint(self) -> str:
        return file_fingerprint(self.path)


class HttpJsonConnector(FrameConnector):
    def __init__(
        self,
        source_id: str,
        url: str,
        label: str,
        records: str | None,
        headers: dict[str, str],
        timeout: float,
        numeric: set[str],
    ) -> None:
        super().__init__(source_id, label, numeric)
        self.url = url
        self.records = records
        self.headers = headers
        self.timeout = timeout

    def _frame(self) -> tuple[pl.DataFrame, int]:
        import requests

        try:
            resp = requests.get(self.url, headers=self.headers, timeout=self.timeout)
        except requests.RequestException as e:
            raise SourceError(f"cannot reach {self.label}: {type(e).__name__}", "url") from None
        if resp.status_code >= 400:
            raise SourceError(f"{self.label} answered HTTP {resp.status_code}", "url")
        try:
            doc: Any = resp.json()
        except (ValueError, json.JSONDecodeError):
            raise SourceError(f"{self.label} did not return JSON", "url") from None
        items = doc
        for part in (self.records or "").split("."):
            if not part:
                continue
            if isinstance(items, dict) and part in items:
                items = items[part]
            else:
                raise SourceError(f"no '{self.records}' in the response of {self.label}", "records")
        if not isinstance(items, list):
            raise SourceError(
                f"'{self.records or '(root)'}' in the response of {self.label} is not a list", "records"
            )
        rows = [r for r in items if isinstance(r, dict)]
        if len(rows) < len(items):
            self.notes.warnings.append(
                f"{self.label}: source '{self.source_id}': {len(items) - len(rows)} records that are not objects skipped"
            )
        if not rows:
            raise SourceError(f"{self.label} returned no records", "records")
        frame = pl.from_dicts(rows, infer_schema_length=None, strict=False)
        return frame, 1

    def fingerprint(self) -> str:
        return self._fp
