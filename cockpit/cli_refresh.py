"""``cockpit refresh``: bring the store up to date, reading only what changed.

Pages and alert runs compute through the store (``.cockpit/cache``): a source
that did not change costs no query, and a partitioned source (``month=…/``
folders, see docs/scale.md) costs one query over its changed partitions. A
refresh after each load of new data (from cron, or ``cockpit schedule``) keeps
the first page load after it fast. ``--full`` drops the store first, for a
reconciliation that reads everything again.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

import click

from .cli import EXIT_OK, EXIT_PARTIAL, _align, _config_option, _emit, _err, _guard, _load


@click.command("refresh")
@_config_option
@click.option("--full", is_flag=True, help="Drop the store first and read every source whole.")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@_guard
def refresh(config: str, full: bool, fmt: str) -> int:
    """Update the store: read the partitions and sources that changed (docs/scale.md)."""
    from metrics.engine import Engine

    cat = _load(config)
    if full:
        shutil.rmtree(cat.state_dir / "cache", ignore_errors=True)
    started = time.perf_counter()
    res = Engine(cat).compute()
    seconds = time.perf_counter() - started
    for w in res.warnings:
        _err(f"WARNING: {w}")
    for e in res.errors:
        _err(e)
    failed_sources = {
        ind.source for ind in cat.config.indicators if ind.id in res.failed and ind.source is not None
    }
    records = []
    for source_id, settings in cat.config.sources.items():
        if not any(i.source == source_id for i in cat.config.indicators):
            continue
        info = res.refresh.get(source_id)
        status = "failed" if source_id in failed_sources else "stale" if source_id in res.stale else "ok"
        rec: dict[str, Any] = {
            "source": source_id,
            "type": settings.type,
            "status": status,
            "latest": res.latest.get(source_id),
            "partitioned": info is not None,
        }
        if info is not None:
            rec.update(info.as_dict())
        records.append(rec)
    if fmt == "json":
        text = json.dumps({"seconds": round(seconds, 3), "sources": records}, ensure_ascii=False)
    else:
        text = _refresh_table(records) + f"用时 {seconds:.1f} 秒\n"
    _emit(text + ("\n" if not text.endswith("\n") else ""), None)
    return EXIT_PARTIAL if (res.errors or res.failed) else EXIT_OK


def _refresh_table(records: list[dict[str, Any]]) -> str:
    status = {"ok": "正常", "stale": "滞后", "failed": "失败"}
    table = [["数据源", "类型", "状态", "最新期", "分区", "本次读取", "中位数重算期数", "数据截至"]]
    for r in records:
        if r["partitioned"]:
            read = r["read"]
            shown = (
                "无" if not read else ", ".join(read[:3]) + (f" 等 {len(read)} 个" if len(read) > 3 else "")
            )
            parts = f"{r['partition']}: {r['partitions']}"
            periods = f"{r['periods_recomputed']}/{r['periods']}"
            as_of = (r["read_at"] or "").replace("T", " ")
        elif r["status"] == "failed":
            shown, parts, periods, as_of = "—", "—", "—", "—"
        else:
            shown, parts, periods, as_of = "整体（未变则不读）", "—", "—", "—"
        table.append(
            [r["source"], r["type"], status[r["status"]], r["latest"] or "—", parts, shown, periods, as_of]
        )
    return _align(table)
