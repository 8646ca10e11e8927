"""N 一网通办 service records for the benchmark, in the sample's schema.

The rows are drawn by :func:`sample.generate.service_records` (the sample
city's own generator: same columns, types and distributions) in chunks of one
million, each from its own numpy Generator spawned from one SeedSequence, so
the same seed and N give the same file and memory stays bounded. The chunks
are then put in time order (``accepted_at``), case ids are renumbered within
each day so they stay unique, and the file is written with zstd in row groups
of one million rows.

A stamp beside the file (rows, seed, generator version) lets a second run
reuse the file instead of writing it again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sample import generate as sample_gen

CHUNK_ROWS = 1_000_000
ROW_GROUP_ROWS = 1_000_000
DEFAULT_SEED = 20261129
DATA_VERSION = "1"


def _stamp_of(path: Path) -> Path:
    return path.with_name(path.name + ".stamp")


def _wanted_stamp(rows: int, seed: int) -> dict[str, object]:
    return {
        "rows": rows,
        "seed": seed,
        "data_version": DATA_VERSION,
        "sample_generator_version": sample_gen.GENERATOR_VERSION,
        "chunk_rows": CHUNK_ROWS,
        "row_group_rows": ROW_GROUP_ROWS,
    }


def is_current(path: Path, rows: int, seed: int) -> bool:
    stamp = _stamp_of(path)
    if not (path.exists() and stamp.exists()):
        return False
    try:
        return json.loads(stamp.read_text(encoding="utf-8")) == _wanted_stamp(rows, seed)
    except (OSError, ValueError):
        return False


def _case_ids(accepted: pa.ChunkedArray) -> pa.Array:
    """'SW' + yyyymmdd + a 6-digit number within the day, for rows sorted by ``accepted``."""
    us = accepted.cast(pa.int64()).to_numpy()
    day = (us // 86_400_000_000).astype("datetime64[D]")
    n = len(day)
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    counts = np.diff(np.r_[starts, n])
    seq = np.arange(n, dtype=np.int64) - np.repeat(starts, counts) + 1
    if n and seq.max() >= 1_000_000:
        raise ValueError("more than 999,999 cases on one day: the case id has 6 digits for the day's number")
    y = day.astype("datetime64[Y]").astype(np.int64) + 1970
    m = day.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (day - day.astype("datetime64[M]")).astype(np.int64) + 1
    number = (y * 10_000 + m * 100 + d) * 1_000_000 + seq
    return pc.binary_join_element_wise("SW", pa.array(number).cast(pa.string()), "")


def write_service_records(path: Path, rows: int, seed: int = DEFAULT_SEED, log=print) -> float:
    """Write ``rows`` service records to ``path`` (unless a current copy is there); return seconds spent."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if is_current(path, rows, seed):
        log(f"data: reusing {path} ({rows:,d} rows, seed {seed})")
        return 0.0
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = _stamp_of(path)
    stamp.unlink(missing_ok=True)
    n_chunks = -(-rows // CHUNK_ROWS)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_chunks)]
    chunks = []
    for i, rng in enumerate(rngs):
        n = min(CHUNK_ROWS, rows - i * CHUNK_ROWS)
        chunks.append(sample_gen.service_records(rng, n))
    table = pa.concat_tables(chunks)
    del chunks
    order = pc.sort_indices(table, sort_keys=[("accepted_at", "ascending")])  # stable: ties keep chunk order
    ids = _case_ids(pc.take(table["accepted_at"], order))  # numbered over the whole file, not per row group
    tmp = path.with_name(f".{path.name}.tmp")
    with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
        for start in range(0, rows, ROW_GROUP_ROWS):
            part = table.take(order.slice(start, ROW_GROUP_ROWS))
            part = part.set_column(0, "case_id", ids.slice(start, ROW_GROUP_ROWS))
            writer.write_table(part, row_group_size=ROW_GROUP_ROWS)
    del table, order, ids
    tmp.replace(path)
    stamp.write_text(json.dumps(_wanted_stamp(rows, seed)), encoding="utf-8")
    elapsed = time.perf_counter() - started
    size = path.stat().st_size / 2**20
    log(f"data: wrote {path} ({rows:,d} rows, {size:,.0f} MiB) in {elapsed:.1f} s")
    return elapsed
