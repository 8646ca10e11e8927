"""Which where clauses pass, and that what reaches a database is the checked tree."""

from __future__ import annotations

import pytest

from metrics.catalogue.expressions import ExpressionError, check_formula, check_when, check_where, render

ACCEPTED = [
    "channel = '网办'",
    "days BETWEEN 1 AND 3 AND applicant LIKE 'p0%' AND dept_code IS NOT NULL",
    "NOT (channel IN ('窗口', '自助') OR trips > 1)",
    "accepted_at >= DATE '2026-01-01' AND accepted_at < TIMESTAMP '2026-02-01 00:00:00'",
    "lower(channel) = 'x' AND coalesce(trips, 0) + 1 > 2",
    "on_time = TRUE",
    "渠道 = '网办'",
]
REFUSED = {
    "channel = 'a'; DROP TABLE t": "second statement",
    "channel IN (SELECT channel FROM t)": "sub-query",
    "EXISTS (SELECT 1)": "sub-query",
    "channel = 'a' -- x": "comments",
    "channel = 'a' /* x */": "comments",
    "pg_sleep(1) IS NULL": "unknown function 'pg_sleep'",
    "channel": "not a condition",
    "CAST(trips AS INT) = 1": "cast",
    "t.channel = 'a'": "qualified",
    "channel = $1": "placeholder",
    "channel = ": "does not parse",
}


@pytest.mark.parametrize("where", ACCEPTED)
def test_accepted(where: str) -> None:
    checked = check_where(where)
    for dialect in ("duckdb", "postgres", "spark", "sqlite", "trino"):
        assert render(checked.tree, dialect)


@pytest.mark.parametrize("where", list(REFUSED))
def test_refused(where: str) -> None:
    with pytest.raises(ExpressionError, match=REFUSED[where]):
        check_where(where)


def test_unknown_column_suggests() -> None:
    with pytest.raises(ExpressionError, match=r"unknown column 'chanel' \(did you mean 'channel'\?\)"):
        check_where("chanel = 'a'", ["channel", "days"])


def test_formula_and_when() -> None:
    assert check_formula("a / b * 100", ["a", "b"]).names == ("a", "b")
    with pytest.raises(ExpressionError, match="unknown input 'c'"):
        check_formula("a / c", ["a", "b"])
    with pytest.raises(ExpressionError, match="not allowed"):
        check_formula("a > b", ["a", "b"])
    assert check_when("status = 'red' AND yoy < -2").names == ("status", "yoy")
    assert check_when("anomaly").names == ("anomaly",)
    with pytest.raises(ExpressionError, match="unknown field 'stauts'"):
        check_when("stauts = 'red'")
