"""Rankings (排名) of regions and departments on one indicator and period, and their exports.

The engine already ranks every row among its siblings (contract section 5: 1 is
best by direction, ties share the smaller rank, the root and null values have
none). This module picks the rows a ranking shows, adds the change in rank
since the previous period that has rows, and turns the result into the table
on screen, a CSV (UTF-8 with BOM, for Excel) and an Excel workbook. Every
frame goes through :meth:`Scope.filter_rows` first, so nothing here can show or
export a region the user may not see.

Examples
--------
>>> frame = ranking(cat, rows, scope, "online_rate", "2026-10")  # doctest: +SKIP
>>> frame.select("rank", "name", "value", "move_label").head(3)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

import polars as pl

from . import periods
from .access import Scope
from .catalogue import spec
from .catalogue.load import Catalogue
from .format import fmt_change, fmt_value
from .masking import suppress_small
from .views import STATUS_LABEL, top_region

BY = ("region", "department")
STATUS_MEANING = {"red": "过热", "yellow": "偏热", "green": "正常", "lightblue": "偏冷", "blue": "过冷"}

RANKING_SCHEMA = {
    "rank": pl.Int64,
    "id": pl.String,
    "name": pl.String,
    "region": pl.String,
    "department": pl.String,
    "value": pl.Float64,
    "target": pl.Float64,
    "status": pl.String,
    "yoy": pl.Float64,
    "mom": pl.Float64,
    "prev_rank": pl.Int64,
    "move": pl.Int64,
    "move_label": pl.String,
    "prev_period": pl.String,
    "suppressed": pl.Boolean,  # a group too small to show (metrics.masking.suppress_small): value reads "<5"
    "suppressed_text": pl.String,
}


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=RANKING_SCHEMA)


def move_label(rank: int | None, prev_rank: int | None) -> str:
    """The change in rank as leaders read it: ``↑2`` (up two places), ``↓1``, ``—`` (same), ``新`` (no rank before).

    A row without a rank (null value) has no change: ``''``.
    """
    if rank is None:
        return ""
    if prev_rank is None:
        return "新"
    if prev_rank == rank:
        return "—"
    return f"↑{prev_rank - rank}" if prev_rank > rank else f"↓{rank - prev_rank}"


def can_rank_departments(cat: Catalogue, rows: pl.DataFrame, scope: Scope, indicator: str) -> bool:
    """Departments can be ranked when the indicator has department rows and the scope holds the root."""
    ind = cat.indicators.get(indicator)
    if ind is None or not scope.departments or not scope.sees_indicator(ind):
        return False
    mine = scope.filter_rows(rows).filter(
        (pl.col("indicator") == indicator) & pl.col("department").is_not_null()
    )
    return mine.height > 0


def _ranked_rows(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    indicator: str,
    parent: str | None,
    by: str,
) -> tuple[pl.DataFrame, list[str]]:
    """Every period's rows of the ranked set (children of ``parent``, or departments), and their order."""
    ind = cat.indicators.get(indicator)
    if ind is None or not scope.sees_indicator(ind):
        return rows.clear(), []
    mine = scope.filter_rows(rows).filter(pl.col("indicator") == indicator)
    if by == "department":
        if not scope.departments:
            return rows.clear(), []
        order = [d.id for d in cat.config.org.departments]
        return mine.filter(pl.col("department").is_not_null() & (pl.col("region") == cat.root)), order
    if cat.tree is None or parent is None or parent not in cat.tree or not scope.sees_region(parent):
        return rows.clear(), []
    kids = list(cat.tree.children(parent))
    return mine.filter(pl.col("department").is_null() & pl.col("region").is_in(kids)), kids


def default_parent(cat: Catalogue, scope: Scope) -> str | None:
    """The highest region the scope sees: a county leader ranks the county's towns."""
    return top_region(cat, scope)


def ranking_periods(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    indicator: str,
    parent: str | None = None,
    by: str = "region",
) -> list[str]:
    """Periods in which the ranking has rows, newest first."""
    parent = parent or default_parent(cat, scope)
    mine, _ = _ranked_rows(cat, rows, scope, indicator, parent, by)
    return sorted(set(mine["period"].to_list()), key=periods.ordinal, reverse=True)


def ranking(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    indicator: str,
    period: str,
    parent: str | None = None,
    by: str = "region",
) -> pl.DataFrame:
    """One ranking: the children of ``parent`` (default: the scope's top region) or the departments.

    Columns (:data:`RANKING_SCHEMA`): ``rank`` (the engine's, ties sharing the
    smaller), ``id``, ``name``, ``region``, ``department``, ``value``, ``target``,
    ``status``, ``yoy``, ``mom``, ``prev_rank`` (the rank in ``prev_period``, the
    latest earlier period with rows), ``move`` (places gained: ``prev_rank -
    rank``) and ``move_label`` (``↑2`` / ``↓1`` / ``—`` / ``新``). Sorted by rank,
    rows without a rank last, ties in the catalogue's order.

    A parent outside the scope, an unknown indicator, or departments for a scope
    without the root give an empty frame: the caller cannot tell them apart
    from "no data", so a hidden region is never confirmed.
    """
    if by not in BY:
        raise ValueError(f"by must be one of {BY}, not {by!r}")
    parent = parent or default_parent(cat, scope)
    mine, order = _ranked_rows(cat, rows, scope, indicator, parent, by)
    mine = suppress_small(mine, cat, scope)  # 敏感 sources: a group under access.min_group_size reads "<5"
    now = mine.filter(pl.col("period") == period)
    if now.height == 0:
        return _empty()
    key = "department" if by == "department" else "region"
    try:
        here = periods.ordinal(period)
        earlier = [p for p in set(mine["period"].to_list()) if periods.ordinal(p) < here]
    except (periods.PeriodError, ValueError):
        earlier = []
    prev_period = max(earlier, key=periods.ordinal) if earlier else None
    before: dict[str, int | None] = {}
    if prev_period is not None:
        for k, r in mine.filter(pl.col("period") == prev_period).select(key, "rank").iter_rows():
            before[k] = r
    pos = {k: i for i, k in enumerate(order)}
    recs = []
    for r in now.iter_rows(named=True):
        k = r[key]
        prev = before.get(k)
        rank = r["rank"]
        recs.append(
            {
                "rank": rank,
                "id": k,
                "name": cat.department_name(k) if by == "department" else _region_name(cat, k),
                "region": r["region"],
                "department": r["department"],
                "value": _finite(r["value"]),
                "target": _finite(r["target"]),
                "status": r["status"],
                "yoy": _finite(r["yoy"]),
                "mom": _finite(r["mom"]),
                "prev_rank": prev,
                "move": None if rank is None or prev is None else prev - rank,
                "move_label": move_label(rank, prev),
                "prev_period": prev_period,
                "suppressed": bool(r["suppressed"]),
                "suppressed_text": r["suppressed_text"],
                "__pos": pos.get(k, len(pos)),
            }
        )
    recs.sort(key=lambda x: (x["rank"] is None, x["rank"] or 0, x["__pos"], x["id"]))
    for x in recs:
        del x["__pos"]
    return pl.DataFrame(recs, schema=RANKING_SCHEMA)


def _region_name(cat: Catalogue, rid: str | None) -> str:
    return cat.tree.name(rid) if cat.tree is not None else (rid or "")


def _finite(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) or math.isinf(v) else v


# ----------------------------------------------------------------- what is shown and exported


def has_mom(ind: spec.Indicator) -> bool:
    """累计值 take 同比, never 环比 (contract section 5)."""
    return ind.accumulate == "none"


def status_text(status: str | None, ind: spec.Indicator) -> str:
    """``红`` … ``蓝``; five-light indicators add the meaning: ``浅蓝（偏冷）``."""
    if not status:
        return "—"
    label = STATUS_LABEL.get(status, status)
    return f"{label}（{STATUS_MEANING[status]}）" if ind.bands is not None else label


def change_header(word: str, ind: spec.Indicator) -> str:
    """``同比（个百分点）`` for rates, ``同比（%）`` otherwise: export headers carry the unit of a change."""
    return f"{word}（个百分点）" if (ind.unit or "").strip() == "%" else f"{word}（%）"


def screen_table(frame: pl.DataFrame, ind: spec.Indicator) -> pl.DataFrame:
    """The ranking as shown: Chinese headers, values with their unit, changes in 个百分点 for rates."""
    unit = ind.unit or ""
    name_col = "部门" if frame.height and frame["department"].drop_nulls().len() else "地区"
    cols: dict[str, list[str]] = {
        "排名": ["—" if r is None else str(r) for r in frame["rank"].to_list()],
        name_col: frame["name"].to_list(),
        "值": _value_texts(frame, unit),
        "状态": [status_text(s, ind) for s in frame["status"].to_list()],
        "目标": [fmt_value(v, unit) for v in frame["target"].to_list()],
        "同比": [fmt_change(v, unit) for v in frame["yoy"].to_list()],
    }
    if has_mom(ind):
        cols["环比"] = [fmt_change(v, unit) for v in frame["mom"].to_list()]
    cols["排名变化"] = frame["move_label"].to_list()
    return pl.DataFrame(cols, schema=dict.fromkeys(cols, pl.String))


def _value_texts(frame: pl.DataFrame, unit: str) -> list[str]:
    hidden = (
        frame["suppressed_text"].to_list() if "suppressed_text" in frame.columns else [None] * frame.height
    )
    return [h or fmt_value(v, unit) for v, h in zip(frame["value"].to_list(), hidden, strict=True)]


def _export_value() -> pl.Expr:
    """The value for an export: a number, or (when a small group is hidden) every cell as text, ``<5`` included."""
    return (
        pl.when(pl.col("suppressed").fill_null(False))
        .then(pl.col("suppressed_text"))
        .otherwise(pl.col("value").map_elements(lambda v: repr(round(v, 6)), return_dtype=pl.String))
    )


def export_table(frame: pl.DataFrame, ind: spec.Indicator) -> pl.DataFrame:
    """The same rows as :func:`screen_table`, with numbers kept as numbers for Excel.

    When a small group of a 敏感 source is hidden, the value column holds text
    (``<5`` beside the numbers), so the export says what the screen says.
    """
    unit = ind.unit or ""
    name_col = "部门" if frame.height and frame["department"].drop_nulls().len() else "地区"
    hidden = "suppressed" in frame.columns and bool(frame["suppressed"].fill_null(False).any())
    value = _export_value() if hidden else pl.col("value")
    out = frame.select(
        pl.col("rank").alias("排名"),
        pl.col("id").alias("代码"),
        pl.col("name").alias(name_col),
        value.alias(f"值（{unit}）" if unit else "值"),
        pl.col("status")
        .map_elements(lambda s: status_text(s, ind), return_dtype=pl.String)
        .fill_null("—")
        .alias("状态"),
        pl.col("target").alias(f"目标（{unit}）" if unit else "目标"),
        pl.col("yoy").alias(change_header("同比", ind)),
        *([pl.col("mom").alias(change_header("环比", ind))] if has_mom(ind) else []),
        pl.col("prev_rank").alias("上期排名"),
        pl.col("move_label").alias("排名变化"),
    )
    return out


def export_title(
    cat: Catalogue, indicator: str, period: str, parent: str | None = None, by: str = "region"
) -> str:
    """``全程网办率 · 2026年10月 · 示范市 各区县排名`` (or ``… 各部门排名``)."""
    ind = cat.indicators[indicator]
    label = periods.label(period, cumulative=ind.accumulate != "none")
    if by == "department":
        whom = f"{_region_name(cat, cat.root)} 各部门排名".strip()
    else:
        whom = f"{_region_name(cat, parent)} 下辖地区排名".strip()
    return f"{ind.name} · {label} · {whom}"


def _cell(v: object) -> object:
    if isinstance(v, float):
        return round(v, 6)
    return "" if v is None else v


def to_csv_bytes(table: pl.DataFrame, title: str, notes: Sequence[str] = ()) -> bytes:
    """A CSV for Excel: UTF-8 with BOM, a title row, then the header and the rows of ``table``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([title])
    for n in notes:
        w.writerow([n])
    w.writerow(table.columns)
    for row in table.iter_rows():
        w.writerow([_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def to_excel_bytes(table: pl.DataFrame, title: str, notes: Sequence[str] = (), sheet: str = "排名") -> bytes:
    """An .xlsx workbook: the title in A1 (bold), notes below it, then the header and the rows."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "nan_inf_to_errors": True})
    ws = wb.add_worksheet(sheet[:31])
    bold = wb.add_format({"bold": True, "font_size": 14})
    head = wb.add_format({"bold": True, "bg_color": "#eef0f3", "border": 1})
    num = wb.add_format({"num_format": "#,##0.00"})
    ws.write(0, 0, title, bold)
    r = 1
    for n in notes:
        ws.write(r, 0, n)
        r += 1
    for c, name in enumerate(table.columns):
        ws.write(r, c, name, head)
        ws.set_column(c, c, max(8, min(40, 2 * len(name) + 2)))
    for row in table.iter_rows():
        r += 1
        for c, v in enumerate(row):
            if v is None:
                ws.write_blank(r, c, None)
            elif isinstance(v, float):
                ws.write_number(r, c, v, num)
            elif isinstance(v, int):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, str(v))
    ws.freeze_panes(r - table.height + 1, 0)
    wb.close()
    return buf.getvalue()
