"""Connectors: where data lives. ``open_source`` turns a source's settings into a connector."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import ColumnInfo, Connector, SourceError, SourceNotes

__all__ = ["ColumnInfo", "Connector", "SourceError", "SourceNotes", "open_source"]


def open_source(
    source_id: str,
    settings: Any,
    resolve: Callable[[str], Path],
    label_of: Callable[[str], str],
    numeric: set[str] | None = None,
    state_dir: Path | None = None,
) -> Connector:
    """Open the source described by ``settings`` (a model of ``sources.<id>``).

    ``resolve`` turns a config path into a file path (relative to the config's
    folder); ``label_of`` says how warnings name that file. ``numeric`` lists
    columns the catalogue aggregates as numbers, so text in them is reported
    row by row instead of failing the query. ``state_dir`` is the engine's store, which
    lets a Spark source over unchanged files answer without starting Spark. Raises
    :class:`SourceError`.
    """
    from . import embedded, sql

    kind = settings.type
    numeric = numeric or set()
    if kind == "parquet":
        con = embedded.ParquetConnector(source_id, resolve(settings.path), label_of(settings.path))
        con.partition = settings.partition
        return con.open()
    if kind == "csv":
        return embedded.CsvConnector(
            source_id,
            resolve(settings.path),
            label_of(settings.path),
            numeric,
            settings.delimiter,
            settings.encoding,
        ).open()
    if kind == "excel":
        return embedded.ExcelConnector(
            source_id,
            resolve(settings.path),
            label_of(settings.path),
            settings.sheet,
            settings.header_row,
            numeric,
        ).open()
    if kind == "duckdb":
        return embedded.DuckDBFileConnector(
            source_id, resolve(settings.path), label_of(settings.path), settings.table, settings.query
        ).open()
    if kind == "http_json":
        return embedded.HttpJsonConnector(
            source_id,
            settings.url,
            sql.redact(settings.url).split("?")[0],
            settings.records,
            dict(settings.headers),
            float(settings.timeout),
            numeric,
        ).open()
    if kind == "sql":
        url = sql.resolve_file_url(settings.url, resolve)
        return sql.SqlConnector(
            source_id, url, settings.table, settings.query, settings.updated_column
        ).open()
    if kind == "spark":
        from . import spark

        return spark.open_spark(source_id, settings, resolve, label_of, numeric, state_dir)
    if kind == "form":
        from . import form

        return form.open_form(source_id, settings, resolve, label_of, numeric)
    raise SourceError(f"unknown source type '{kind}'", "type")
