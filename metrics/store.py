"""The embedded store of computed partial aggregates (``.cockpit/cache``).

Each aggregate query's result is kept beside the config, keyed by the query
text and the source's fingerprint: size and modification time for files, the
row count and ``MAX(updated_column)`` for databases. When neither changed,
pages and alert runs read the stored rows instead of scanning the source.

A database source without ``updated_column`` is never cached: a revised row
(统计数据修订) would not change its row count, and a stale number is worse
than a slow one.

A file is named ``<query>-<fingerprint>.parquet``: storing a query's result
for a new fingerprint removes the results of its older ones, so the store
holds one result per query, not one per version of the data. Partitioned
sources keep their pieces in ``parts/`` (:mod:`metrics.increment`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import polars as pl

from connectors import Connector, SourceError


def read_frame(path: Path) -> pl.DataFrame | None:
    """A stored frame, or None when it is missing or damaged (then it is simply computed again)."""
    if not path.exists():
        return None
    try:
        return pl.read_parquet(path)
    except Exception:  # noqa: BLE001 - a damaged file is recomputed, never an error
        return None


def write_frame(path: Path, frame: pl.DataFrame) -> bool:
    """Store a frame whole, atomically (a reader sees the old file or the new one). False when the
    folder cannot be written: then nothing is kept, and every compute is still correct."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        frame.write_parquet(tmp)
        tmp.replace(path)
        return True
    except OSError:
        return False


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "cache"
        self.enabled = os.environ.get("COCKPIT_NO_CACHE", "") == ""

    def _key(self, con: Connector, sql: str) -> tuple[str, str] | None:
        """(the query's name, its fingerprint's) or None when this query is not stored."""
        if not self.enabled:
            return None
        # DuckDB's own files and Spark's local files have a size-and-mtime fingerprint; a database
        # source is cached only with an updated_column (a revised row would not change a count)
        if getattr(con, "dialect", "") not in ("duckdb", "spark") and not getattr(
            con, "updated_column", None
        ):
            return None
        try:
            fp = con.fingerprint()
        except SourceError:
            return None
        if not fp or fp == "none":
            return None
        query = hashlib.sha256(f"{con.source_id}\n{sql}".encode()).hexdigest()[:32]
        return query, hashlib.sha256(fp.encode()).hexdigest()[:16]

    def get(self, con: Connector, sql: str) -> pl.DataFrame | None:
        key = self._key(con, sql)
        if key is None:
            return None
        return read_frame(self.dir / f"{key[0]}-{key[1]}.parquet")

    def put(self, con: Connector, sql: str, frame: pl.DataFrame) -> None:
        key = self._key(con, sql)
        if key is None:
            return
        name = f"{key[0]}-{key[1]}.parquet"
        if not write_frame(self.dir / name, frame):
            return
        for old in self.dir.glob(f"{key[0]}-*.parquet"):
            if old.name != name:
                old.unlink(missing_ok=True)  # the same query over an older version of the data
