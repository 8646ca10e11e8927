"""What every connector offers the engine.

A connector knows where data lives and how to run one aggregate query there.
It knows nothing of indicators: the engine hands it SQL in the connector's
dialect and gets back the (small) aggregated result as a Polars frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

KINDS = ("date", "timestamp", "text", "integer", "float", "boolean", "other")


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: str  # one of KINDS


class SourceError(Exception):
    """A source cannot be reached or read. ``field`` names the config key at fault."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class SourceNotes:
    """Data-quality notes a connector gathered while reading (bad rows, cells)."""

    warnings: list[str] = field(default_factory=list)


class Connector(Protocol):
    source_id: str
    dialect: str  # a sqlglot dialect name
    label: str  # how warnings name the source: a file path or a redacted URL
    notes: SourceNotes

    def columns(self) -> dict[str, ColumnInfo]:
        """The source's columns by name."""
        ...

    def relation(self) -> str:
        """The FROM item, in this connector's dialect."""
        ...

    def fetch(self, sql: str) -> pl.DataFrame:
        """Run an aggregate query; return its (small) result."""
        ...

    def fingerprint(self) -> str:
        """A cheap token that changes when the data changes."""
        ...

    def close(self) -> None: ...


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier (DuckDB's dialect, which the engine writes in)."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(s: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def kind_of(type_name: str) -> str:
    """Map a database type name to one of :data:`KINDS`."""
    t = type_name.upper()
    if "TIMESTAMP" in t or "DATETIME" in t:
        return "timestamp"
    if t.startswith("DATE"):
        return "date"
    if t in ("BOOLEAN", "BOOL") or t.startswith("BOOL"):
        return "boolean"
    if any(x in t for x in ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
        return "float"
    if "INT" in t:
        return "integer"
    if any(x in t for x in ("CHAR", "TEXT", "STRING", "VARCHAR", "CLOB")):
        return "text"
    return "other"
