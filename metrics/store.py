"""The embedded store of computed partial aggregates (``.cockpit/cache``).

Each aggregate query's result is kept beside the config, keyed by the query
text and the source's fingerprint: size and modification time for files, the
row count and ``MAX(updated_column)`` for databases. When neither changed,
pages and alert runs read the stored rows instead of scanning the source.

A database source without ``updated_column`` is never cached: a revised row
(统计数据修订) would not change its row count, and a stale number is worse
than a slow one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import polars as pl

from connectors import Connector, SourceError


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "cache"
        self.enabled = os.environ.get("COCKPIT_NO_CACHE", "") == ""

    def _key(self, con: Connector, sql: str) -> str | None:
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
        return hashlib.sha256(f"{con.source_id}\n{fp}\n{sql}".encode()).hexdigest()[:32]

    def get(self, con: Connector, sql: str) -> pl.DataFrame | None:
        key = self._key(con, sql)
        if key is None:
            return None
        path = self.dir / f"{key}.parquet"
        if not path.exists():
            return None
        try:
            return pl.read_parquet(path)
        except Exception:  # noqa: BLE001 - a damaged cache file is simply recomputed
            return None

    def put(self, con: Connector, sql: str, frame: pl.DataFrame) -> None:
        key = self._key(con, sql)
        if key is None:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.dir / f".{key}.{os.getpid()}.tmp"
            frame.write_parquet(tmp)
            tmp.replace(self.dir / f"{key}.parquet")
        except OSError:
            pass  # a read-only folder: no cache, still correct
