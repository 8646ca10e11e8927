"""``cockpit assess``: score an assessment's subjects (contract section 11)."""

from __future__ import annotations

import json
from typing import Any

import click

from .cli import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_PARTIAL,
    Abort,
    _align,
    _as_option,
    _check_period,
    _config_option,
    _emit,
    _err,
    _guard,
    _load,
    _scope,
)


@click.command("assess")
@_config_option
@click.option("--assessment", "assessment_id", metavar="ID", help="Only this assessment.")
@click.option("--period", metavar="P", help="Only this period.")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@_as_option
@_guard
def assess(config: str, assessment_id: str | None, period: str | None, fmt: str, as_user: str | None) -> int:
    """Score an assessment's subjects (contract section 11)."""
    from metrics.assess import needed_indicators, score_all, to_records, visible_to
    from metrics.catalogue.problems import did_you_mean
    from metrics.engine import Engine

    cat = _load(config)
    known = [a.id for a in cat.config.assessments]
    if assessment_id is not None and assessment_id not in known:
        raise Abort(
            EXIT_INVALID,
            [
                f"ERROR: --assessment: unknown assessment '{assessment_id}'{did_you_mean(assessment_id, known)}"
            ],
        )
    period = _check_period(period)
    scope = _scope(cat, as_user)
    chosen = [a for a in cat.config.assessments if assessment_id is None or a.id == assessment_id]
    shown = []
    for a in chosen:
        if visible_to(cat, a, scope):
            shown.append(a)
        else:
            _err(
                f"WARNING: --as {as_user}: assessment '{a.id}' scores indicators outside the user's domains; not shown"
            )
    ids = needed_indicators(shown)
    errors = False
    if ids:
        # every period: the one before gives the change in rank
        res = Engine(cat).compute(ids)
        for w in res.warnings:
            _err(f"WARNING: {w}")
        for e in res.errors:
            _err(e)
        for ind_id, why in res.failed.items():
            if not any(why in e for e in res.errors):
                _err(f"ERROR: indicator '{ind_id}': {why}")
            _err(f"WARNING: indicator '{ind_id}' could not be computed: its items score 0")
        errors = bool(res.errors or res.failed)
        scores = score_all(cat, res.rows, shown, period, scope)
    else:
        scores = []
    if fmt == "json":
        text = json.dumps(to_records(scores), ensure_ascii=False, allow_nan=False).replace(
            "}]}, {", "}]},\n {"
        )
    else:
        text = _assess_table(cat, scores)
    _emit(text + ("\n" if not text.endswith("\n") else ""), None)
    return EXIT_PARTIAL if errors else EXIT_OK


def _assess_table(cat: Any, scores: list[Any]) -> str:
    """One ranked table per assessment × period, in Chinese, rounded."""
    if not scores:
        return "没有可显示的考核结果\n"
    by_id = {a.id: a for a in cat.config.assessments}
    blocks: dict[tuple[str, str], list[Any]] = {}
    for s in scores:
        blocks.setdefault((s.assessment, s.period), []).append(s)
    out = []
    for (aid, period), group in blocks.items():
        a = by_id[aid]
        departments = a.subjects == "departments"
        heads = []
        for item in a.items:
            ind = cat.indicators.get(item.indicator)
            heads.append(f"{ind.name if ind else item.indicator}({item.weight:g}分)")
        headers = ["名次", "部门" if departments else "地区", "得分", *heads, "较上期", "追赶"]
        table = [headers]
        for s in sorted(group, key=lambda s: (s.rank, s.subject or "")):
            if departments:
                name = cat.department_name(s.department)
            else:
                name = cat.tree.name(s.region) if cat.tree else (s.region or "")
            table.append(
                [
                    str(s.rank),
                    name,
                    f"{s.score:.2f}",
                    *[f"{i.points:.1f}" if i.value is not None else "—" for i in s.items],
                    _change(s.rank_change),
                    s.catch_up.text if s.catch_up else "",
                ]
            )
        text = f"{a.name}（{aid}） {period}  满分 {sum(i.weight for i in a.items):g}\n" + _align(table)
        if any(i.value is None for s in group for i in s.items):
            text += "注：— 表示该项本期无数据，计 0 分\n"
        out.append(text)
    return "\n".join(out)


def _change(n: int | None) -> str:
    if n is None:
        return "—"
    if n > 0:
        return f"↑{n}"
    if n < 0:
        return f"↓{-n}"
    return "持平"
