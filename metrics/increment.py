"""Incremental refresh: read only the partitions that changed, keep the rest in the store.

A source over a folder of hive partitions (``month=2026-10/``, see
:mod:`connectors.partitions`) is computed in two kinds of pieces, each kept in
``.cockpit/cache/parts/`` with what it was computed from:

**Partials by partition.** The partials query (counts, sums, minima, maxima
per time key, region and department) also groups by the partition. Each
partition's rows are stored with the partition's fingerprint and the time
they were read. The next compute lists the partitions (a directory listing),
reads again only those whose fingerprint changed or that are new (one query,
``WHERE month IN (…)``, which both engines prune to those folders), drops
those that are gone, and merges the rest from the store. Partials add up, so
a week or a quarter that spans partitions comes out as from one scan.

**Medians and distinct counts by period.** They do not add up, so they are
kept per period, each with a signature: the time keys of the period and the
fingerprints of the partitions that hold them (known exactly from the
partials, so a record filed under the wrong month is still found). A period
whose signature changed is recomputed, reading only the partitions its keys
live in; a year-to-date period depends on every key of its year up to it,
so a new month recomputes the months after it in that year and no others.

Each stored file is written whole and replaced atomically, so a crash or a
concurrent run leaves either the old pieces or the new ones; a damaged or
unreadable file is recomputed. Nothing here changes a number: an incremental
compute gives the rows of a full one (tests/test_increment.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from connectors import Connector
from connectors.partitions import Partitions, sql_value

from .store import read_frame, write_frame

FORMAT = 1  # of the stored pieces: a new layout gets new files instead of misreading old ones


class Mismatch(Exception):
    """The pieces cannot be used (partition values the listing does not have, stored pieces that
    do not fit the fresh ones): the engine computes the query whole, as without partitions."""


def _fitting(fn):  # noqa: ANN001, ANN202
    """Stored pieces that do not fit (a schema from an older version) are a Mismatch, not a crash."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except pl.exceptions.PolarsError as e:
            raise Mismatch(str(e)) from None

    return wrapper


@dataclass
class Refresh:
    """What one compute read from a partitioned source, and how old the stored rest is."""

    column: str
    partitions: int = 0
    read: set[str | None] = field(default_factory=set)  # partitions read this time
    periods: int = 0  # medians / distinct counts: periods recomputed
    periods_total: int = 0
    read_at: dt.datetime | None = None  # the oldest stored piece in use (数据截至)
    newest: str | None = None  # the newest partition value

    @property
    def reused(self) -> int:
        return self.partitions - len(self.read)

    def as_dict(self) -> dict[str, object]:
        return {
            "partition": self.column,
            "partitions": self.partitions,
            "read": sorted(str(v) for v in self.read),
            "reused": self.reused,
            "periods_recomputed": self.periods,
            "periods": self.periods_total,
            "read_at": self.read_at.isoformat(timespec="seconds") if self.read_at else None,
            "newest": self.newest,
        }


def _order(v: str | None) -> tuple[int, str]:
    return (0, "") if v is None else (1, v)


class PartStore:
    """Stored pieces of partitioned sources, one Parquet file per query."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "cache" / "parts"

    def _path(self, con: Connector, identity: str) -> Path:
        key = hashlib.sha256(f"{FORMAT}\n{con.source_id}\n{identity}".encode()).hexdigest()[:32]
        return self.dir / f"{key}.parquet"

    def load(self, con: Connector, identity: str) -> pl.DataFrame | None:
        return read_frame(self._path(con, identity))

    def save(self, con: Connector, identity: str, frame: pl.DataFrame) -> None:
        write_frame(self._path(con, identity), frame)


def _like(kept: pl.DataFrame, fresh: pl.DataFrame) -> pl.DataFrame:
    """Stored rows in the columns and types of the fresh ones (strictly: else a Mismatch)."""
    if set(kept.columns) != set(fresh.columns):
        raise Mismatch("the stored pieces have other columns")
    return kept.select(fresh.columns).cast(dict(fresh.schema), strict=True)  # type: ignore[arg-type]


def _markers(stored: pl.DataFrame | None, key: str) -> dict[object, tuple[str, dt.datetime]]:
    if stored is None or "__mark" not in stored.columns:
        return {}
    m = stored.filter(pl.col("__mark"))
    return {k: (s, t) for k, s, t in m.select(key, "__sig", "__read_at").iter_rows()}


def _with_marks(
    data: pl.DataFrame, key: str, marks: dict[object, tuple[str, dt.datetime]], key_dtype: pl.DataType
) -> pl.DataFrame:
    """The data rows plus one marker row per piece (its signature and read time)."""
    rows = pl.DataFrame(
        {
            key: list(marks),
            "__sig": [s for s, _ in marks.values()],
            "__read_at": [t for _, t in marks.values()],
            "__mark": [True] * len(marks),
        },
        schema={key: key_dtype, "__sig": pl.String, "__read_at": pl.Datetime("us"), "__mark": pl.Boolean},
    )
    body = data.with_columns(
        pl.lit(None, pl.String).alias("__sig"),
        pl.lit(None, pl.Datetime("us")).alias("__read_at"),
        pl.lit(False).alias("__mark"),
    )
    return pl.concat([body, rows], how="diagonal_relaxed")


def _data(stored: pl.DataFrame | None) -> pl.DataFrame | None:
    if stored is None:
        return None
    return stored.filter(~pl.col("__mark")).drop("__sig", "__read_at", "__mark")


@_fitting
def partials(
    store: PartStore,
    con: Connector,
    parts: Partitions,
    build: Callable[[Sequence[str | None] | None], str],
    now: dt.datetime,
    refresh: Refresh,
) -> pl.DataFrame:
    """The partials of every partition, with ``__part``: changed ones read, the rest stored.

    ``build(only)`` renders the partials query over the partitions ``only`` (all: None).
    """
    identity = build(None)
    stored = store.load(con, identity)
    known = _markers(stored, "__part")
    current = parts.fingerprints
    changed = [v for v, fp in current.items() if known.get(v, ("",))[0] != fp]
    fresh = None
    if changed:
        only = None if len(changed) == len(current) else sorted(changed, key=_order)
        fresh = con.fetch(build(only))
        values = fresh["__part"].unique().to_list()
        norm = {v: sql_value(v) for v in values}
        if any(n not in current or (only is not None and n not in changed) for n in norm.values()):
            raise Mismatch
        named = [v for v in values if v is not None]
        fresh = fresh.with_columns(
            pl.col("__part")
            .cast(pl.String)
            .replace_strict(
                [str(v) for v in named], [norm[v] for v in named], default=None, return_dtype=pl.String
            ),
            pl.col("__n").cast(pl.Int64),
            *[pl.col(c).cast(pl.Float64) for c in fresh.columns if c.startswith("c") and c[1:].isdigit()],
        )
    kept = _data(stored)
    if kept is not None:
        same = [v for v in current if v not in changed]
        kept = kept.filter(
            pl.col("__part").is_in([v for v in same if v is not None])
            | (pl.col("__part").is_null() & pl.lit(None in same))
        )
    if fresh is not None and kept is not None:
        kept = _like(kept, fresh)
    pieces = [f for f in (kept, fresh) if f is not None]
    if not pieces:
        raise Mismatch  # nothing stored and nothing read (no partitions): compute it whole
    frame = pl.concat(pieces, how="vertical_relaxed") if len(pieces) > 1 else pieces[0]
    marks = {v: (fp, now if v in changed else known[v][1]) for v, fp in current.items()}
    if changed:
        store.save(con, identity, _with_marks(frame, "__part", marks, pl.String))
    refresh.partitions = len(current)
    refresh.read |= set(changed)
    oldest = min(t for _, t in marks.values())
    refresh.read_at = oldest if refresh.read_at is None else min(refresh.read_at, oldest)
    named = [v for v in current if v is not None]
    refresh.newest = max(named) if named else None
    return frame


def key_partitions(part: pl.DataFrame) -> dict[object, set[str | None]]:
    """Each time key → the partitions holding its records (from the partials' ``__part``)."""
    out: dict[object, set[str | None]] = {}
    for k, p in part.select("k", "__part").unique().iter_rows():
        out.setdefault(k, set()).add(p)
    return out


@_fitting
def by_period(
    store: PartStore,
    con: Connector,
    parts: Partitions,
    build: Callable[[list[tuple[object, str]], Sequence[str | None] | None], str],
    pmap: list[tuple[object, str]],
    holders: dict[object, set[str | None]],
    now: dt.datetime,
    refresh: Refresh,
) -> pl.DataFrame:
    """A per-period query's rows (column ``period``): changed periods recomputed, the rest stored.

    ``build(pmap, only)`` renders the query for the period map ``pmap`` over the partitions
    ``only``; ``holders`` says which partitions hold each time key.
    """
    identity = build([("__key", "__period")], None)
    stored = store.load(con, identity)
    known = _markers(stored, "period")
    keys_of: dict[str, list[object]] = {}
    for k, p in pmap:
        keys_of.setdefault(p, []).append(k)
    deps: dict[str, set[str | None]] = {}
    sigs: dict[str, str] = {}
    for p, keys in keys_of.items():
        d: set[str | None] = set()
        for k in keys:
            d |= holders.get(k, set())
        deps[p] = d
        fps = sorted((str(v), parts.fingerprints.get(v, "")) for v in d)
        text = repr((sorted(map(str, keys)), fps))
        sigs[p] = hashlib.sha1(text.encode()).hexdigest()[:16]
    invalid = [p for p in keys_of if known.get(p, ("",))[0] != sigs[p]]
    fresh = None
    if invalid:
        want = set(invalid)
        sub = [(k, p) for k, p in pmap if p in want]
        need: set[str | None] = set().union(*(deps[p] for p in invalid))
        only = None if not need or need >= set(parts.fingerprints) else sorted(need, key=_order)
        fresh = con.fetch(build(sub, only)).with_columns(pl.col("period").cast(pl.String))
    kept = _data(stored)
    if kept is not None:
        kept = kept.filter(pl.col("period").is_in([p for p in keys_of if p not in invalid]))
    if fresh is not None and kept is not None:
        kept = _like(kept, fresh)
    pieces = [f for f in (kept, fresh) if f is not None]
    frame = pl.concat(pieces, how="vertical_relaxed") if len(pieces) > 1 else pieces[0] if pieces else None
    if frame is None:
        frame = con.fetch(build(pmap, None)).with_columns(pl.col("period").cast(pl.String))
    marks = {p: (sigs[p], now if p in invalid else known[p][1]) for p in keys_of}
    if invalid or set(known) != set(keys_of):
        store.save(con, identity, _with_marks(frame, "period", marks, pl.String))
    refresh.periods += len(invalid)
    refresh.periods_total += len(keys_of)
    if marks:
        oldest = min(t for _, t in marks.values())
        refresh.read_at = oldest if refresh.read_at is None else min(refresh.read_at, oldest)
    return frame
