"""Hive-style partitions of a folder of files (``month=2026-10/part-0.parquet``).

A source over such a folder is read and stored partition by partition: each
partition has its own fingerprint (the sizes and modification times of its
files), so after new records land in ``month=2026-11/`` the engine reads that
folder alone and takes the other partitions' aggregates from the store
(:mod:`metrics.increment`).

Partition values are compared as the engines give them back from
``CAST(column AS VARCHAR)``: both DuckDB and Spark infer a type for a
partition column, so ``month=01`` comes back as ``1`` and ``day=2026-10-05``
as a date printed ``2026-10-05``. :func:`sql_value` applies the same
normalisation to the folder names, and Hive's default partition
(``__HIVE_DEFAULT_PARTITION__``, a null) is ``None`` on both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from .base import SourceError
from .base import quote_ident as _q
from .base import sql_string as _lit

DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_INT = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Partitions:
    """A source's partitions: the partition column and each value's fingerprint."""

    column: str
    fingerprints: dict[str | None, str]  # sql_value(value) → fingerprint

    def where(self, values: list[str | None] | None = None) -> str:
        """A DuckDB-dialect condition selecting ``values`` (all partitions: ``None``)."""
        return where(self.column, values)


def sql_value(value: object) -> str | None:
    """A partition value as ``CAST(column AS VARCHAR)`` prints it (folder names unquoted first)."""
    if value is None:
        return None
    text = str(value).strip()
    if text == DEFAULT_PARTITION:
        return None
    if _INT.match(text):
        return str(int(text))
    return text


def where(column: str, values: list[str | None] | None) -> str:
    """``CAST(col AS VARCHAR) IN (…)``, plus ``col IS NULL`` for the default partition.

    Both engines prune partitions on it: the condition names the partition
    column alone, which Spark evaluates on the partition values and DuckDB on
    the hive path before opening a file.
    """
    if values is None:
        return "TRUE"
    col = _q(column)
    named = sorted(v for v in values if v is not None)
    parts = []
    if named:
        parts.append(f"CAST({col} AS VARCHAR) IN ({', '.join(_lit(v) for v in named)})")
    if any(v is None for v in values):
        parts.append(f"{col} IS NULL OR CAST({col} AS VARCHAR) = {_lit(DEFAULT_PARTITION)}")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def hive_partitions(root: Path, column: str | None, fingerprint) -> Partitions | None:  # noqa: ANN001
    """The first level of ``key=value`` folders under ``root``, each with its fingerprint.

    ``column`` is the partition column the source declares (``partition:``); without it a
    folder whose every entry is ``<one key>=…`` is taken as partitioned by that key.
    ``None`` when the folder is not partitioned that way (a single file, a glob, loose
    files beside the partition folders); with a declared column that is an error.
    """

    def refuse(why: str) -> None:
        if column:
            raise SourceError(f"'{column}': {why}", "partition")

    if any(ch in str(root) for ch in "*?[") or not root.is_dir():
        refuse(f"{root} is not a folder of partitions ({column}=…/)")
        return None
    entries = [e for e in root.iterdir() if not e.name.startswith((".", "_"))]
    dirs = [e for e in entries if e.is_dir() and "=" in e.name]
    loose = [e for e in entries if e not in dirs]
    if not dirs:
        refuse(f"no folders {column}=… under {root}")
        return None
    if loose:
        refuse(f"{len(loose)} entries under {root} are not partition folders, e.g. {loose[0].name}")
        return None
    keys = {d.name.split("=", 1)[0] for d in dirs}
    if len(keys) != 1:
        refuse(f"the folders under {root} are partitioned by {', '.join(sorted(keys))}")
        return None
    key = keys.pop()
    if column and key.lower() != column.lower():
        refuse(f"the folders under {root} are partitioned by '{key}', not '{column}'")
    fps: dict[str | None, str] = {}
    for d in sorted(dirs):
        value = sql_value(unquote(d.name.split("=", 1)[1]))
        fp = fingerprint(d)
        # two folders that print the same (month=01 and month=1): one partition of both
        fps[value] = fp if value not in fps else f"{fps[value]}+{fp}"
    return Partitions(key, fps)
