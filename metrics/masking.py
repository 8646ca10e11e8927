"""脱敏: personal data masked in detail views and exports, and small groups suppressed in aggregates.

Two jobs, both pure (no Streamlit, no I/O):

- **Masking a value.** ``name`` → ``张*``, ``mobile`` → ``138****1234``,
  ``id_number`` → ``1101**********1234``, ``text`` → ``***``. Each pattern
  reveals at most what it shows for a well-formed value; a short or odd value
  reveals less, never more (:func:`mask_value`).
- **Which columns.** A column listed under ``sources.<id>.columns`` with
  classification 敏感 is masked with its ``mask:``, else the mask guessed from
  its name, else ``text``. In a 敏感 source, a column that is not listed but
  whose name says it is personal (name, phone, ID number) is masked too
  (:func:`masks_for`).
- **Minimum group size.** Aggregates of a 敏感 source never show a group of
  fewer than ``access.min_group_size`` (default 5) records: the value reads
  ``<5`` (:func:`suppress_small`).

Examples
--------
>>> mask_value("name", "张三丰")
'张**'
>>> mask_value("mobile", "13812345678")
'138****5678'
>>> mask_value("id_number", "110101199003071234")
'1101**********1234'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from . import periods
from .access import Scope
from .catalogue import spec

MASKS = ("name", "mobile", "id_number", "text")
TEXT_MASK = "***"
DEFAULT_MIN_GROUP = 5

_STAR = "*"


# ----------------------------------------------------------------- masking one value


def mask_name(value: Any) -> str | None:
    """``张三`` → ``张*``: the first character, then one ``*`` per remaining character (at least one)."""
    if value is None:
        return None
    s = str(value).strip()
    if not s:
        return s
    return s[0] + _STAR * max(1, len(s) - 1)


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value) if ch.isdigit())


def mask_mobile(value: Any) -> str | None:
    """``138 1234 5678`` → ``138****5678``.

    The digits alone are kept (separators and a leading ``+86`` / ``0086``
    dropped). Eleven digits or more: the first three and the last four, every
    other digit a ``*`` (a mobile's four middle digits are always hidden).
    Eight to ten digits (a landline): only the last four. Fewer: nothing.
    No digit at all: ``***``.
    """
    if value is None:
        return None
    d = _digits(value)
    if not d:
        return TEXT_MASK if str(value).strip() else str(value).strip()
    if len(d) == 13 and d.startswith("86"):
        d = d[2:]
    elif len(d) == 15 and d.startswith("0086"):
        d = d[4:]
    n = len(d)
    if n >= 11:
        return d[:3] + _STAR * (n - 7) + d[-4:]
    if n >= 8:
        return _STAR * (n - 4) + d[-4:]
    return _STAR * max(n, 4)


def mask_id_number(value: Any) -> str | None:
    """``110101199003071234`` → ``1101**********1234``: the first four and the last four characters.

    Meant for the 18- and 15-character 居民身份证号; any value of twelve
    characters or more keeps its first and last four (at least four hidden in
    between). A shorter value is all ``*``.
    """
    if value is None:
        return None
    s = re.sub(r"\s+", "", str(value))
    n = len(s)
    if n == 0:
        return s
    if n >= 12:
        return s[:4] + _STAR * (n - 8) + s[-4:]
    return _STAR * max(n, 4)


def mask_text(value: Any) -> str | None:
    """Any other personal value: ``***`` (an empty value stays empty, a null stays null)."""
    if value is None:
        return None
    return TEXT_MASK if str(value).strip() else str(value).strip()


_MASKERS = {
    "name": mask_name,
    "mobile": mask_mobile,
    "id_number": mask_id_number,
    "text": mask_text,
}


def mask_value(kind: str, value: Any) -> Any:
    """Mask ``value`` with the pattern ``kind`` (``name``, ``mobile``, ``id_number``, ``text``; ``none``: as is)."""
    if kind == "none":
        return value
    return _MASKERS.get(kind, mask_text)(value)


# ----------------------------------------------------------------- which columns


_ID_WORDS = ("id_number", "idnumber", "id_no", "idno", "idcard", "id_card", "身份证", "证件号")
_PHONE_WORDS = ("phone", "mobile", "tel", "手机", "电话", "联系方式")
_NAME_WORDS = ("姓名", "name")
# "region_name" and friends name an organisation, not a person
_NOT_A_PERSON = (
    "region",
    "dept",
    "department",
    "org",
    "company",
    "entity",
    "item",
    "topic",
    "category",
    "file",
)


def guess_mask(column: str) -> str | None:
    """The mask a column's name suggests: ID number, mobile, name; ``None`` when it says nothing.

    >>> [guess_mask(c) for c in ("caller_phone", "身份证号", "caller_name", "region_name", "topic")]
    ['mobile', 'id_number', 'name', None, None]
    """
    c = column.strip().lower()
    if any(w in c for w in _ID_WORDS):
        return "id_number"
    tokens = [t for t in re.split(r"[^0-9a-z\u4e00-\u9fff]+", c) if t]
    if any(w in c for w in _PHONE_WORDS[3:]) or any(
        t in _PHONE_WORDS or t.startswith(("phone", "mobile", "tel")) for t in tokens
    ):
        return "mobile"
    if "姓名" in c:
        return "name"
    if any(t in ("name", "fullname", "username") or t.endswith("name") for t in tokens) and not any(
        t.startswith(_NOT_A_PERSON) for t in tokens
    ):
        return "name"
    return None


def _column_spec(src: Any, column: str) -> spec.ColumnSpec | None:
    cols: Mapping[str, spec.ColumnSpec] = getattr(src, "columns", None) or {}
    if column in cols:
        return cols[column]
    low = column.lower()
    for k, v in cols.items():
        if k.lower() == low:
            return v
    return None


def masks_for(cat: Any, source_id: str, columns: Iterable[str]) -> dict[str, str]:
    """``{column: mask}`` for the columns of ``source_id`` that are masked in detail views and exports.

    A column listed in the catalogue with classification 敏感 takes its
    ``mask:`` (``none``: never masked), else the mask its name suggests, else
    ``text``. A column listed as 内部 or 公开 is shown. In a 敏感 source, a
    column that is not listed is masked when its name says it is personal
    (a safety net for a column added to the source after the catalogue).
    """
    src = cat.config.sources.get(source_id)
    if src is None:
        return {}
    out: dict[str, str] = {}
    for col in columns:
        cs = _column_spec(src, col)
        if cs is not None:
            if cs.classification != "敏感":
                continue
            kind = cs.mask or guess_mask(col) or "text"
            if kind != "none":
                out[col] = kind
        elif getattr(src, "classification", "内部") == "敏感":
            kind = guess_mask(col)
            if kind is not None:
                out[col] = kind
    return out


def mask_frame(frame: pl.DataFrame, masks: Mapping[str, str]) -> pl.DataFrame:
    """The frame with every column of ``masks`` masked (as text); other columns as they are."""
    cols = []
    for col, kind in masks.items():
        if col not in frame.columns:
            continue
        values = [mask_value(kind, v) for v in frame[col].to_list()]
        cols.append(pl.Series(col, values, dtype=pl.String))
    return frame.with_columns(cols) if cols else frame


# ----------------------------------------------------------------- minimum group size


def min_group_size(cat: Any) -> int:
    access = getattr(cat.config, "access", None)
    return access.min_group_size if access is not None else DEFAULT_MIN_GROUP


def has_grant(scope: Scope, grant: str) -> bool:
    return scope.user is not None and grant in scope.user.grants


def sensitive_indicator(cat: Any, ind: spec.Indicator) -> bool:
    """Whether the indicator reads (through formula inputs) a source classified 敏感."""
    from .lineage import sources_feeding

    sources = cat.config.sources
    return any(getattr(sources.get(s), "classification", None) == "敏感" for s in sources_feeding(cat, ind))


def suppression_applies(cat: Any, scope: Scope, ind: spec.Indicator) -> bool:
    """Small groups are hidden on 敏感 indicators, from everyone but a user with the ``unmask`` grant.

    The open demo (no user) is suppressed: it is open to anyone.
    """
    return not has_grant(scope, "unmask") and sensitive_indicator(cat, ind)


def suppressed_text(cat: Any, ind: spec.Indicator) -> str:
    """``<5`` for a count; ``样本<5`` for a rate or an average over fewer than five records."""
    k = min_group_size(cat)
    m = ind.measure
    if isinstance(m, spec.CountMeasure) or (isinstance(m, spec.ColumnMeasure) and m.type == "count_distinct"):
        return f"<{k}"
    return f"样本<{k}"


def _size_expr(ind: spec.Indicator, columns: list[str]) -> pl.Expr | None:
    """How many records make up a row's group.

    - a count (or a distinct count): the value itself, so "2 tickets of a kind" is 2
      even when the node had 300 tickets of other kinds;
    - a ratio: its denominator when that is a count, else the records behind the row;
    - a mean: its denominator (the values averaged);
    - anything else (sums, minima, medians, formulas): the records behind the row.
    """
    m = ind.measure
    has = set(columns)

    def col(name: str) -> pl.Expr | None:
        return pl.col(name).cast(pl.Float64) if name in has else None

    if isinstance(m, spec.CountMeasure) or (isinstance(m, spec.ColumnMeasure) and m.type == "count_distinct"):
        return col("value")
    if isinstance(m, spec.RatioMeasure) and m.denominator.agg in ("count", "count_distinct"):
        return col("den") if "den" in has else col("records")
    if isinstance(m, spec.ColumnMeasure) and m.type == "mean" and "den" in has:
        return pl.coalesce(col("den"), col("records")) if "records" in has else col("den")
    return col("records")


def suppress_small(rows: pl.DataFrame, cat: Any, scope: Scope) -> pl.DataFrame:
    """The rows with every group smaller than ``access.min_group_size`` hidden.

    A row of a 敏感 indicator whose group holds 1 to k-1 records (see
    :func:`_size_expr`; an empty group, 0, is no one and is shown) gets
    ``suppressed = true``, ``suppressed_text = "<5"`` (or ``样本<5``), and its
    ``value``, ``status``, ``yoy``, ``mom``, ``num`` and ``den`` nulled. A row
    whose 同比 or 环比 base is suppressed loses that change too (value and
    change together would give the base away), when the base row is in
    ``rows``. Other rows are unchanged (``suppressed = false``). A user with
    the ``unmask`` grant sees every group. Rows keep their rank: a place
    among siblings does not give the count away.

    ``cockpit compute`` never calls this: its JSON rows (contract section 5)
    are the engine's.
    """
    out = rows.with_columns(
        pl.lit(False).alias("suppressed"), pl.lit(None, pl.String).alias("suppressed_text")
    )
    if rows.height == 0 or "indicator" not in rows.columns or "value" not in rows.columns:
        return out
    k = min_group_size(cat)
    wanted: dict[str, tuple[pl.Expr, str]] = {}
    for ind_id in rows["indicator"].unique().to_list():
        ind = cat.indicators.get(ind_id)
        if ind is None or not suppression_applies(cat, scope, ind):
            continue
        size = _size_expr(ind, rows.columns)
        if size is not None:
            wanted[ind_id] = (size, suppressed_text(cat, ind))
    if not wanted:
        return out
    flag: pl.Expr = pl.lit(False)
    text: pl.Expr = pl.lit(None, pl.String)
    for ind_id, (size, label) in wanted.items():
        small = (pl.col("indicator") == ind_id) & (size > 0) & (size < k)
        flag = pl.when(small).then(True).otherwise(flag)
        text = pl.when(small).then(pl.lit(label)).otherwise(text)
    out = out.with_columns(flag.fill_null(False).alias("suppressed"), text.alias("suppressed_text"))
    if not out["suppressed"].any():
        return out
    out = _drop_revealing_changes(out)
    hidden = [c for c in ("value", "status", "yoy", "mom", "num", "den") if c in out.columns]
    return out.with_columns(
        [pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).alias(c) for c in hidden]
    )


def _drop_revealing_changes(rows: pl.DataFrame) -> pl.DataFrame:
    """Null 同比/环比 where the base period's row is suppressed."""
    keys = [c for c in ("indicator", "region", "department") if c in rows.columns]
    if "period" not in rows.columns:
        return rows
    ps = rows["period"].unique().to_list()
    prev, ago = {}, {}
    for p in ps:
        try:
            prev[p] = periods.previous(p)
            ago[p] = periods.year_ago(p)
        except (periods.PeriodError, ValueError, TypeError):
            prev[p], ago[p] = None, None
    small = rows.filter(pl.col("suppressed")).select(*keys, pl.col("period").alias("__base"))
    out = rows.with_columns(
        pl.col("period").replace_strict(prev, default=None, return_dtype=pl.String).alias("__prev"),
        pl.col("period").replace_strict(ago, default=None, return_dtype=pl.String).alias("__ago"),
    )
    for base, change in (("__prev", "mom"), ("__ago", "yoy")):
        if change not in out.columns:
            continue
        hit = small.with_columns(pl.lit(True).alias("__hit")).rename({"__base": base})
        out = out.join(hit, on=[*keys, base], how="left", nulls_equal=True, maintain_order="left")
        out = out.with_columns(
            pl.when(pl.col("__hit").fill_null(False)).then(None).otherwise(pl.col(change)).alias(change)
        ).drop("__hit")
    return out.drop("__prev", "__ago")


def has_personal_data(cat: Any, source_id: str | None) -> bool:
    """Whether a source may hold personal data: classified 敏感, or a column classified 敏感."""
    src = cat.config.sources.get(source_id) if source_id else None
    if src is None:
        return False
    cols = getattr(src, "columns", None) or {}
    return src.classification == "敏感" or any(c.classification == "敏感" for c in cols.values())
