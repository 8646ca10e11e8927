"""Period strings and calendar arithmetic (contract section 4).

A period is a string at one grain:

=======  ============  =============================================
grain    example       notes
=======  ============  =============================================
day      ``2026-10-05``
week     ``2026-W41``  ISO week; belongs to its ISO week-year
month    ``2026-10``
quarter  ``2026-Q3``
year     ``2026``
=======  ============  =============================================

Everything here is pure and works on plain strings, so the engine can map a
few thousand distinct keys once and join the result onto its frames.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

GRAINS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
_RANK = {g: i for i, g in enumerate(GRAINS)}

_DAY = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T].*)?$")
_COMPACT_DAY = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH = re.compile(r"^(\d{4})[-/](\d{1,2})$")
_COMPACT_MONTH = re.compile(r"^(\d{4})(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    """A value that cannot be read as a period at the wanted grain."""


def grain_of(period: str) -> str:
    """The grain of a period string (``'2026-W41'`` → ``'week'``)."""
    if _QUARTER.match(period):
        return "quarter"
    if _WEEK.match(period):
        return "week"
    if _YEAR.match(period):
        return "year"
    if _MONTH.match(period):
        return "month"
    if _DAY.match(period):
        return "day"
    raise PeriodError(f"'{period}' is not a period (expected 2026-10-05, 2026-W41, 2026-10, 2026-Q3 or 2026)")


def finer_or_equal(a: str, b: str) -> bool:
    """True when grain ``a`` is at least as fine as grain ``b``."""
    return _RANK[a] <= _RANK[b]


def _from_date(d: dt.date, grain: str) -> str:
    if grain == "day":
        return d.isoformat()
    if grain == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    if grain == "month":
        return f"{d.year}-{d.month:02d}"
    if grain == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    return f"{d.year}"


@lru_cache(maxsize=65536)
def _from_text(text: str, grain: str) -> str:
    s = text.strip()
    m = _DAY.match(s) or _COMPACT_DAY.match(s)
    if m:
        try:
            d = dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError as e:
            raise PeriodError(f"'{text}' is not a valid date") from e
        return _from_date(d, grain)
    m = _MONTH.match(s) or _COMPACT_MONTH.match(s)
    if m:
        month = int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"'{text}' is not a valid month")
        if grain in ("day", "week"):
            raise PeriodError(f"'{text}' is a month; it cannot be placed in a {grain}")
        return _from_date(dt.date(int(m[1]), month, 1), grain)
    m = _QUARTER.match(s)
    if m:
        if grain in ("day", "week", "month"):
            raise PeriodError(f"'{text}' is a quarter; it cannot be placed in a {grain}")
        return f"{m[1]}-Q{m[2]}" if grain == "quarter" else m[1]
    m = _WEEK.match(s)
    if m:
        year, week = int(m[1]), int(m[2])
        if not 1 <= week <= weeks_in_year(year):
            raise PeriodError(f"'{text}' is not a valid ISO week")
        if grain == "week":
            return f"{year}-W{week:02d}"
        if grain == "year":
            return str(year)
        raise PeriodError(f"'{text}' is a week; it cannot be placed in a {grain}")
    m = _YEAR.match(s)
    if m:
        if grain != "year":
            raise PeriodError(f"'{text}' is a year; it cannot be placed in a {grain}")
        return m[1]
    raise PeriodError(f"'{text}' is not a date or period")


def to_period(value: object, grain: str) -> str:
    """The period at ``grain`` that holds ``value``.

    ``value`` may be a date, a datetime, a string in one of the forms of
    contract section 4 (or a date/timestamp string), or an integer year.

    Examples
    --------
    >>> to_period("2026-10-05 08:30:00", "week")
    '2026-W41'
    >>> to_period(2026, "year")
    '2026'
    """
    if isinstance(value, dt.datetime):
        return _from_date(value.date(), grain)
    if isinstance(value, dt.date):
        return _from_date(value, grain)
    if isinstance(value, bool):
        raise PeriodError(f"{value!r} is not a date or period")
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            raise PeriodError(f"{value!r} is not a year")
        year = int(value)
        if grain != "year":
            raise PeriodError(f"{year} is a year; it cannot be placed in a {grain}")
        return str(year)
    if isinstance(value, str):
        return _from_text(value, grain)
    raise PeriodError(f"{value!r} is not a date or period")


def weeks_in_year(year: int) -> int:
    """52 or 53: the number of ISO weeks of an ISO week-year."""
    return dt.date(year, 12, 28).isocalendar()[1]


def start(period: str) -> dt.date:
    """First day of the period."""
    g = grain_of(period)
    if g == "day":
        return dt.date.fromisoformat(period)
    if g == "week":
        y, w = (int(x) for x in period.split("-W"))
        return dt.date.fromisocalendar(y, w, 1)
    if g == "month":
        y, m = (int(x) for x in period.split("-"))
        return dt.date(y, m, 1)
    if g == "quarter":
        y, q = (int(x) for x in period.split("-Q"))
        return dt.date(y, 3 * (q - 1) + 1, 1)
    return dt.date(int(period), 1, 1)


def end(period: str) -> dt.date:
    """Last day of the period."""
    return start(shift(period, 1)) - dt.timedelta(days=1)


def shift(period: str, n: int) -> str:
    """The period ``n`` steps after (negative: before) ``period``, same grain."""
    g = grain_of(period)
    if g == "day":
        return (dt.date.fromisoformat(period) + dt.timedelta(days=n)).isoformat()
    if g == "week":
        return _from_date(start(period) + dt.timedelta(weeks=n), "week")
    if g == "month":
        y, m = (int(x) for x in period.split("-"))
        k = y * 12 + (m - 1) + n
        return f"{k // 12}-{k % 12 + 1:02d}"
    if g == "quarter":
        y, q = (int(x) for x in period.split("-Q"))
        k = y * 4 + (q - 1) + n
        return f"{k // 4}-Q{k % 4 + 1}"
    return str(int(period) + n)


def previous(period: str) -> str:
    """The period just before (环比 base)."""
    return shift(period, -1)


def year_ago(period: str) -> str | None:
    """The same period one year earlier (同比 base), or None where none exists.

    Week W compares with week W of the previous ISO year (None when that
    year has no week 53); 29 February with nothing.
    """
    g = grain_of(period)
    if g == "day":
        d = dt.date.fromisoformat(period)
        try:
            return d.replace(year=d.year - 1).isoformat()
        except ValueError:
            return None
    if g == "week":
        y, w = (int(x) for x in period.split("-W"))
        return f"{y - 1}-W{w:02d}" if w <= weeks_in_year(y - 1) else None
    if g == "month":
        y, m = period.split("-")
        return f"{int(y) - 1}-{m}"
    if g == "quarter":
        y, q = period.split("-Q")
        return f"{int(y) - 1}-Q{q}"
    return str(int(period) - 1)


def year_of(period: str) -> int:
    """The (ISO week-)year a period belongs to, for year-to-date sums."""
    return int(period[:4])


def ordinal(period: str) -> int:
    """An integer that increases by one from a period to the next (same grain)."""
    g = grain_of(period)
    if g == "day":
        return dt.date.fromisoformat(period).toordinal()
    if g == "week":
        return start(period).toordinal() // 7
    if g == "month":
        y, m = (int(x) for x in period.split("-"))
        return y * 12 + m - 1
    if g == "quarter":
        y, q = (int(x) for x in period.split("-Q"))
        return y * 4 + q - 1
    return int(period)


def label(period: str, *, cumulative: bool = False) -> str:
    """A Chinese label: ``2026年10月``; cumulative months read ``2026年1-10月``."""
    g = grain_of(period)
    if g == "day":
        d = dt.date.fromisoformat(period)
        return f"{d.year}年{d.month}月{d.day}日"
    if g == "week":
        y, w = period.split("-W")
        return f"{y}年第{int(w)}周"
    if g == "month":
        y, m = period.split("-")
        if cumulative and int(m) > 1:
            return f"{y}年1-{int(m)}月"
        return f"{y}年{int(m)}月"
    if g == "quarter":
        y, q = period.split("-Q")
        if cumulative and int(q) > 1:
            return f"{y}年1-{q}季度"
        return f"{y}年{q}季度"
    return f"{period}年"
