"""Alert rules over computed rows: which rule × region holds on the latest period, and for how long.

A rule's ``when`` was checked when the catalogue loaded (an allow-list over
the fields of contract section 7, never ``eval``). Here the checked tree is
rendered to SQL and run by an in-memory DuckDB over the few rows concerned:
the indicator's region rows of the last ``for`` periods, with two more
fields:

``anomaly``
    true when the detector (contract section 6) flags that point *against*
    the indicator's direction: a dip, or a shift or trend change downwards,
    for a ``higher_better`` indicator; the opposite for ``lower_better``. An
    improvement is never an alert.
``stale``
    true when the indicator's source (for a formula, any input's source) is
    stale by its ``expected_lag``, or failed in this run.

A rule applies to region nodes (department rows are left to bulletins and
the pages). ``scope`` limits it to the listed nodes (not their subtrees: a rule
for the city and its counties need not fire for every town).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from metrics import periods
from metrics.catalogue import spec
from metrics.catalogue.expressions import check_when, render
from metrics.catalogue.load import Catalogue

from .policy import Observation


@dataclass(frozen=True)
class Rule:
    indicator: spec.Indicator
    index: int  # position in the indicator's ``alerts`` list (for messages and errors)
    spec: spec.AlertRule
    key: str  # stable id: the rule's ``name``, else a hash of what it says

    @property
    def need(self) -> int:
        return self.spec.for_

    @property
    def label(self) -> str:
        return self.spec.name or self.spec.when


def rule_key(rule: spec.AlertRule) -> str:
    """A rule's stable id: its ``name``, else a short hash of ``when`` and ``level``.

    Reordering or inserting rules keeps the others' state; editing a rule's
    condition makes it a new rule (its old instances are left behind).
    """
    if rule.name:
        return rule.name
    return "r" + hashlib.sha1(f"{rule.when}\x00{rule.level}".encode()).hexdigest()[:10]


def instance_id(ind_id: str, key: str, region: str | None) -> str:
    return f"{ind_id}|{key}|{region or '-'}"


def rules_of(cat: Catalogue, indicators: Iterable[str] | None = None) -> list[Rule]:
    wanted = set(indicators) if indicators is not None else None
    out = []
    for ind in cat.config.indicators:
        if wanted is not None and ind.id not in wanted:
            continue
        for i, r in enumerate(ind.alerts):
            out.append(Rule(ind, i, r, rule_key(r)))
    return out


def uses_anomaly(rules: Sequence[Rule]) -> set[str]:
    """The indicators whose rules name ``anomaly`` (only they need the detector)."""
    return {r.indicator.id for r in rules if "anomaly" in check_when(r.spec.when).names}


def adverse(finding: dict[str, Any], ind: spec.Indicator) -> bool:
    """True when a finding moves against the indicator's direction (an improvement never alerts)."""
    worse_is_up = ind.direction == "lower_better"
    return (finding["observed"] > finding["expected"]) == worse_is_up


def sources_of(cat: Catalogue, ind: spec.Indicator) -> set[str]:
    """The sources an indicator reads, through formula inputs (:func:`metrics.lineage.sources_feeding`)."""
    from metrics.lineage import sources_feeding

    return sources_feeding(cat, ind)


def small_groups(cat: Catalogue, rows: pl.DataFrame, period: str) -> dict[str | None, dict[str, Any]]:
    """Per region, what a push or the inbox must not show of ``period``'s row (a 敏感 indicator's
    group under ``access.min_group_size``, :func:`metrics.masking.suppress_small`):
    ``{"small": "<5"}`` for a hidden row, ``{"masked": ["yoy"]}`` for a change against a hidden
    base. Rules still see the real values; only what is shown of them changes."""
    from metrics.access import OPEN
    from metrics.masking import suppress_small

    shown = suppress_small(rows, cat, OPEN)
    if not shown["suppressed"].any():
        return {}
    real = {
        r: (y, m)
        for r, y, m in rows.filter(pl.col("period") == period).select("region", "yoy", "mom").iter_rows()
    }
    out: dict[str | None, dict[str, Any]] = {}
    for r in shown.filter(pl.col("period") == period).iter_rows(named=True):
        if r["suppressed"]:
            out[r["region"]] = {"small": r["suppressed_text"]}
            continue
        y, m = real.get(r["region"], (None, None))
        masked = [k for k, was in (("yoy", y), ("mom", m)) if was is not None and r[k] is None]
        if masked:
            out[r["region"]] = {"masked": masked}
    return out


def evaluate(
    cat: Catalogue,
    rules: Sequence[Rule],
    rows: pl.DataFrame,
    findings: Sequence[dict[str, Any]] = (),
    stale_sources: Iterable[str] = (),
    failed: Iterable[str] = (),
) -> list[tuple[Rule, str | None, Observation]]:
    """One observation per rule × region node that has data for the rule's indicator.

    The latest period is the indicator's (the newest period any of its rows
    has), not the calendar's. An indicator whose source failed in this run
    yields nothing: its instances keep their state.
    """
    stale_sources = set(stale_sources)
    failed = set(failed)
    by_point: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for f in findings:
        if f.get("department") is None:
            key = (f["indicator"], f["region"], f["period"])
            ind = cat.indicators.get(f["indicator"])
            if ind is not None and adverse(f, ind):
                prev = by_point.get(key)
                if prev is None or f["score"] > prev["score"]:
                    by_point[key] = f
    out: list[tuple[Rule, str | None, Observation]] = []
    con = duckdb.connect()
    try:
        for ind_id, group in _group(rules).items():
            if ind_id in failed:
                continue
            ind = cat.indicators[ind_id]
            mine = rows.filter((pl.col("indicator") == ind_id) & pl.col("department").is_null())
            if mine.is_empty():
                continue
            latest = max(mine["period"].unique().to_list(), key=periods.ordinal)
            depth = max(r.need for r in group)
            wanted = [periods.shift(latest, -i) for i in range(depth)]
            recent = mine.filter(pl.col("period").is_in(wanted))
            stale = bool(sources_of(cat, ind) & stale_sources)
            hidden = small_groups(cat, mine, latest)
            recs = []
            for r in recent.select(
                ["region", "period", "value", "target", "status", "yoy", "mom", "rank"]
            ).iter_rows(named=True):
                r["anomaly"] = (ind_id, r["region"], r["period"]) in by_point
                r["stale"] = stale
                recs.append(r)
            frame = pl.DataFrame(
                recs,
                schema={
                    "region": pl.String,
                    "period": pl.String,
                    "value": pl.Float64,
                    "target": pl.Float64,
                    "status": pl.String,
                    "yoy": pl.Float64,
                    "mom": pl.Float64,
                    "rank": pl.Int64,
                    "anomaly": pl.Boolean,
                    "stale": pl.Boolean,
                },
            )
            regions = sorted({r for r in mine["region"].to_list()}, key=lambda x: (x is None, x or ""))
            con.register("t", frame.to_arrow())
            for rule in group:
                cond = render(check_when(rule.spec.when).tree, "duckdb")
                hits = {
                    (reg, per): bool(h)
                    for reg, per, h in con.execute(
                        f"SELECT region, period, COALESCE(({cond}), FALSE) FROM t"
                    ).fetchall()
                }
                values = {(r["region"], r["period"]): r for r in recs}
                for reg in regions:
                    if rule.spec.scope and reg not in rule.spec.scope:
                        continue
                    row = values.get((reg, latest))
                    if row is None:
                        out.append((rule, reg, Observation(latest, None)))
                        continue
                    run = 0
                    for p in wanted[: rule.need]:
                        if hits.get((reg, p)):
                            run += 1
                        else:
                            break
                    detail: dict[str, Any] = {"when": rule.spec.when}
                    f = by_point.get((ind_id, reg, latest))
                    if f is not None:
                        detail["finding"] = {
                            k: f[k] for k in ("kind", "observed", "expected", "lower", "upper", "score")
                        }
                    if stale:
                        detail["stale"] = True
                    detail.update(hidden.get(reg, {}))
                    obs_row = {k: row[k] for k in ("value", "target", "status", "yoy", "mom", "rank")}
                    out.append(
                        (rule, reg, Observation(latest, hits.get((reg, latest), False), run, obs_row, detail))
                    )
            con.unregister("t")
    finally:
        con.close()
    return out


def _group(rules: Sequence[Rule]) -> dict[str, list[Rule]]:
    out: dict[str, list[Rule]] = {}
    for r in rules:
        out.setdefault(r.indicator.id, []).append(r)
    return out
