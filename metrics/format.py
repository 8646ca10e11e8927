"""Chinese number formatting for tables, pages and messages."""

from __future__ import annotations

import math


def _num(v: float, digits: int) -> str:
    s = f"{v:,.{digits}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def fmt_number(v: float | None, digits: int = 2) -> str:
    """12.3 万 / 1,234.5 亿 style; small numbers with thousands separators."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    a = abs(v)
    if a >= 1e8:
        return f"{_num(v / 1e8, 2)}亿"
    if a >= 1e5:
        return f"{_num(v / 1e4, 1)}万"
    return _num(v, digits)


def fmt_value(v: float | None, unit: str = "") -> str:
    """A value with its unit: ``91.2%``, ``12.3万件``, ``2.65天``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if unit == "%":
        return f"{_num(v, 2)}%"
    if unit in ("亿元",):
        return f"{_num(v, 2)}亿元"
    return f"{fmt_number(v)}{unit}"


def fmt_change(v: float | None, unit: str = "") -> str:
    """A 同比/环比 change: ``+2.1个百分点`` for rates, ``-3.4%`` otherwise."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if round(v, 2 if unit == "%" else 1) == 0:
        v = 0.0  # never "-0个百分点"
    sign = "+" if v > 0 else ""
    if unit == "%":
        return f"{sign}{_num(v, 2)}个百分点"
    return f"{sign}{_num(v, 1)}%"
