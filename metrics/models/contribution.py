"""Who drove a change: a parent's move split over its child regions or its departments.

::

    contributions(ind, rows, tree, parent, period, base, by="regions") -> Breakdown

``base`` is the comparison period: :func:`metrics.periods.previous` for 环比,
:func:`metrics.periods.year_ago` for 同比 (or a finding's onset, or any period).

Additive indicators (count, sum; ``rollup: sum``)
    The parent's value is the sum of its children's plus what is coded to the
    parent itself or to unknown codes. Each child's contribution is its own
    change; the residual item "本级及其他" (parent change − Σ children's
    changes) makes the items add up exactly to the parent's change.

Ratios and means (the rows' ``num`` and ``den`` columns, value = num/den × scale)
    A symmetric shift-share split. With weights w_i = den_i / Σ den and rates
    r_i = scale · num_i / den_i, the parent's rate is R = Σ w_i r_i, and for two
    periods (0 = base, 1 = now; a bar is the mean of the two, Δ the difference)::

        rate effect_i = w̄_i · Δr_i
        mix effect_i  = (r̄_i − R̄) · Δw_i
        contribution_i = rate effect_i + mix effect_i

    They add up exactly: w̄Δr + r̄Δw = ½[(w1+w0)(r1−r0) + (r1+r0)(w1−w0)] = w1r1 − w0r0,
    so Σ_i (w̄_i Δr_i + r̄_i Δw_i) = R1 − R0; and Σ_i R̄ Δw_i = R̄ (Σw1 − Σw0) = R̄(1 − 1) = 0.
    The parent's own records (parent num − Σ children's num, same for den) are
    one more child, "本级及其他", so the weights sum to one. Only w_i r_i enters
    the identity, so a child with no records in one period (w = 0 there) takes
    the other period's rate there: its Δr is 0 and its whole contribution is
    mix (it entered or left the mix). Subtracting R̄ changes no total; it makes a
    child whose share grows while its rate equals the parent's contribute 0.

Everything else (median, min, max, count_distinct, formula, ``rollup: none``,
a ratio of means or distinct counts) is not decomposable: the breakdown carries
the children's own changes for reference and claims no contributions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import polars as pl

from ..catalogue import spec

if TYPE_CHECKING:
    from ..regions import RegionTree

RESIDUAL_ID = "_other"
RESIDUAL_NAME = "本级及其他"
RESIDUAL_DEPT_NAME = "未注明部门"
_ADDITIVE_SIDES = ("count", "sum")


@dataclass(frozen=True)
class Contribution:
    """One child's part of the parent's change, in the indicator's units.

    For an additive indicator ``value_now``/``value_base`` are the child's
    values and ``contribution == change``; ``rate_effect``/``mix_effect`` are
    None. For a ratio or a mean they are the child's own rate (None where it
    has no records), ``change`` is its rate's change, and ``weight_*`` its
    share of the parent's denominator. For a % indicator every change and
    effect is in percentage points.
    """

    id: str
    name: str
    value_now: float | None
    value_base: float | None
    change: float | None
    rate_effect: float | None
    mix_effect: float | None
    contribution: float | None
    share_of_change: float | None  # contribution / parent's change
    weight_now: float | None = None
    weight_base: float | None = None
    is_residual: bool = False


@dataclass(frozen=True)
class Breakdown:
    indicator: str
    parent: str
    period: str
    base: str
    change: float | None  # the parent's change, value(period) − value(base)
    items: list[Contribution]
    decomposable: bool
    residual: float  # the contribution of "本级及其他" (0.0 when nothing is coded there)
    by: Literal["regions", "departments"] = "regions"
    kind: Literal["additive", "ratio", "none"] = "additive"
    parent_name: str = ""
    value_now: float | None = None
    value_base: float | None = None
    reason: str | None = None  # why not decomposable
    spec: spec.Indicator | None = field(default=None, repr=False, compare=False)

    @property
    def rate_effect(self) -> float | None:
        """Σ rate effects (ratios and means only)."""
        if self.kind != "ratio" or not self.decomposable:
            return None
        return math.fsum(i.rate_effect or 0.0 for i in self.items)

    @property
    def mix_effect(self) -> float | None:
        """Σ mix effects (ratios and means only)."""
        if self.kind != "ratio" or not self.decomposable:
            return None
        return math.fsum(i.mix_effect or 0.0 for i in self.items)

    def top(self, n: int = 2, *, residual: bool = True) -> list[Contribution]:
        """The ``n`` largest contributions that pushed the way the parent moved, largest first.

        With no change (or an unknown one) the largest in size either way; none
        when the breakdown is not decomposable.
        """
        if not self.decomposable:
            return []
        items = [i for i in self.items if i.contribution is not None and (residual or not i.is_residual)]
        c = self.change or 0.0
        if c > 0:
            items = sorted((i for i in items if i.contribution > 0), key=lambda i: -i.contribution)
        elif c < 0:
            items = sorted((i for i in items if i.contribution < 0), key=lambda i: i.contribution)
        else:
            items = sorted((i for i in items if i.contribution != 0), key=lambda i: -abs(i.contribution))
        return items[: max(n, 0)]

    @property
    def explanation(self) -> str:
        """One sentence in plain Chinese (see :func:`metrics.models.explain.explain_change`)."""
        from .explain import explain_change

        if self.spec is None:
            raise ValueError("this breakdown has no indicator spec; call explain_change(breakdown, ind)")
        return explain_change(self, self.spec)


def kind_of(ind: spec.Indicator) -> Literal["additive", "ratio", "none"]:
    """How an indicator's change splits over children: additively, by shift-share, or not at all."""
    if ind.rollup != "sum":
        return "none"
    m = ind.measure
    if isinstance(m, spec.CountMeasure):
        return "additive"
    if isinstance(m, spec.ColumnMeasure):
        if m.type == "sum":
            return "additive"
        if m.type == "mean":
            return "ratio"
        return "none"
    if isinstance(m, spec.RatioMeasure):
        if m.numerator.agg in _ADDITIVE_SIDES and m.denominator.agg in _ADDITIVE_SIDES:
            return "ratio"
        return "none"
    return "none"


def _scale(ind: spec.Indicator) -> float:
    m = ind.measure
    return float(m.scale) if isinstance(m, spec.RatioMeasure) else 1.0


def _f(v: object) -> float | None:
    if v is None:
        return None
    x = float(v)  # type: ignore[arg-type]
    return None if math.isnan(x) else x


def contributions(
    ind: spec.Indicator,
    rows: pl.DataFrame,
    tree: RegionTree | None,
    parent: str,
    period: str,
    base: str,
    by: Literal["regions", "departments"] = "regions",
    *,
    names: Mapping[str, str] | None = None,
) -> Breakdown:
    """Split the parent's change from ``base`` to ``period`` over its children.

    ``rows`` are engine rows (other indicators' rows are ignored). With
    ``by="regions"`` the children are ``tree.children(parent)``; with
    ``by="departments"`` they are the departments (rows with a department,
    whose region is the root, so ``parent`` must be the root). ``names`` maps
    region or department ids to names (department names come only from it;
    region names default to the tree's).
    """
    if by not in ("regions", "departments"):
        raise ValueError(f"by must be 'regions' or 'departments', not {by!r}")
    if by == "departments" and tree is not None and parent != tree.root:
        raise ValueError(f"departments are broken down at the root ({tree.root}) only, not at {parent}")
    names = dict(names or {})

    def name_of(cid: str) -> str:
        if cid in names:
            return names[cid]
        if tree is not None and by == "regions":
            return tree.name(cid)
        return cid

    if "indicator" in rows.columns:
        rows = rows.filter(pl.col("indicator") == ind.id)
    rows = rows.filter(pl.col("period").is_in([period, base]))
    has_parts = "num" in rows.columns and "den" in rows.columns

    def pick(frame: pl.DataFrame, key: str | None) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {}
        for r in frame.iter_rows(named=True):
            k = r["period"] if key is None else f"{r['period']}\x00{r[key]}"
            out[k] = {
                "value": _f(r["value"]),
                "num": _f(r["num"]) if has_parts else None,
                "den": _f(r["den"]) if has_parts else None,
            }
        return out

    at_parent = rows.filter(pl.col("region") == parent)
    parent_rows = pick(at_parent.filter(pl.col("department").is_null()), None)
    if by == "regions":
        child_ids = list(tree.children(parent)) if tree is not None and parent in tree else []
        child_frame = rows.filter(pl.col("region").is_in(child_ids) & pl.col("department").is_null())
    else:
        child_frame = at_parent.filter(pl.col("department").is_not_null())
        present = sorted(set(child_frame["department"].to_list()))
        child_ids = [d for d in names if d in present] + [d for d in present if d not in names]
    key = "region" if by == "regions" else "department"
    child_rows = pick(child_frame, key)

    def get(p: str, cid: str | None) -> dict[str, float | None]:
        k = p if cid is None else f"{p}\x00{cid}"
        return (parent_rows if cid is None else child_rows).get(k, {"value": None, "num": None, "den": None})

    pnow, pbase = get(period, None), get(base, None)
    vnow, vbase = pnow["value"], pbase["value"]
    change = vnow - vbase if vnow is not None and vbase is not None else None
    kind = kind_of(ind)
    common = dict(
        indicator=ind.id,
        parent=parent,
        period=period,
        base=base,
        by=by,
        parent_name=names.get(parent) or (tree.name(parent) if tree is not None else parent),
        value_now=vnow,
        value_base=vbase,
        spec=ind,
    )
    res_name = RESIDUAL_NAME if by == "regions" else RESIDUAL_DEPT_NAME

    def reference(reason: str) -> Breakdown:
        items = []
        for cid in child_ids:
            a, b = get(period, cid)["value"], get(base, cid)["value"]
            if a is None and b is None:
                continue
            items.append(
                Contribution(
                    cid,
                    name_of(cid),
                    a,
                    b,
                    a - b if a is not None and b is not None else None,
                    None,
                    None,
                    None,
                    None,
                )
            )
        return Breakdown(
            change=change,
            items=items,
            decomposable=False,
            residual=0.0,
            kind=kind,
            reason=reason,
            **common,  # type: ignore[arg-type]
        )

    if kind == "none":
        if ind.rollup != "sum":
            return reference("rollup none: a parent's value is not built from its children's")
        return reference(f"a {_measure_name(ind)} does not split over children")
    if change is None:
        missing = base if vbase is None else period
        return reference(f"no value for {parent} in {missing}")

    if kind == "additive":
        items = []
        sum_now = sum_base = 0.0
        for cid in child_ids:
            a, b = get(period, cid)["value"], get(base, cid)["value"]
            a, b = a or 0.0, b or 0.0
            sum_now += a
            sum_base += b
            d = a - b
            items.append(Contribution(cid, name_of(cid), a, b, d, None, None, d, _share(d, change)))
        ra, rb = vnow - sum_now, vbase - sum_base  # type: ignore[operator]
        ra, rb = _clean(ra, vnow), _clean(rb, vbase)
        resid = change - math.fsum(i.contribution for i in items)  # type: ignore[misc]
        if ra != 0.0 or rb != 0.0 or abs(resid) > 1e-9 * max(1.0, abs(vnow), abs(vbase)):  # type: ignore[arg-type]
            items.append(
                Contribution(
                    RESIDUAL_ID,
                    res_name,
                    ra,
                    rb,
                    resid,
                    None,
                    None,
                    resid,
                    _share(resid, change),
                    is_residual=True,
                )
            )
        else:
            resid = 0.0
        return Breakdown(
            change=change, items=items, decomposable=True, residual=resid, kind="additive", **common
        )  # type: ignore[arg-type]

    # ratio or mean: shift-share
    if pnow["num"] is None or pnow["den"] is None or pbase["num"] is None or pbase["den"] is None:
        return reference("the rows carry no numerator and denominator (num, den)")
    scale = _scale(ind)
    N1, D1, N0, D0 = pnow["num"], pnow["den"], pbase["num"], pbase["den"]
    if not D1 or not D0:
        return reference("the parent's denominator is zero")
    parts: list[tuple[str, str, float, float, float, float, bool]] = []  # id, name, n1, d1, n0, d0, residual
    for cid in child_ids:
        now, was = get(period, cid), get(base, cid)
        parts.append(
            (
                cid,
                name_of(cid),
                now["num"] or 0.0,
                now["den"] or 0.0,
                was["num"] or 0.0,
                was["den"] or 0.0,
                False,
            )
        )
    rn1 = _clean(N1 - math.fsum(p[2] for p in parts), N1)
    rd1 = _clean(D1 - math.fsum(p[3] for p in parts), D1)
    rn0 = _clean(N0 - math.fsum(p[4] for p in parts), N0)
    rd0 = _clean(D0 - math.fsum(p[5] for p in parts), D0)
    parts.append((RESIDUAL_ID, res_name, rn1, rd1, rn0, rd0, True))
    R1, R0 = scale * N1 / D1, scale * N0 / D0
    Rbar = (R1 + R0) / 2
    # the parent's change from the same parts the split uses (the rows' value is num / den × scale)
    change = R1 - R0
    common.update(value_now=R1, value_base=R0)
    items = []
    for cid, cname, n1, d1, n0, d0, is_res in parts:
        w1, w0 = d1 / D1, d0 / D0
        r1 = scale * n1 / d1 if d1 else None
        r0 = scale * n0 / d0 if d0 else None
        if is_res and d1 == 0 and d0 == 0:
            continue  # nothing coded to the parent itself (weight 0 in both periods: contributes 0)
        # a child with no records in one period takes the other period's rate there (w = 0 makes it moot)
        a = r1 if r1 is not None else (r0 if r0 is not None else 0.0)
        b = r0 if r0 is not None else a
        rate = (w1 + w0) / 2 * (a - b)
        mix = ((a + b) / 2 - Rbar) * (w1 - w0)
        total = rate + mix
        items.append(
            Contribution(
                cid,
                cname,
                r1,
                r0,
                r1 - r0 if r1 is not None and r0 is not None else None,
                rate,
                mix,
                total,
                _share(total, change),
                w1,
                w0,
                is_res,
            )
        )
    resid = next((i.contribution for i in items if i.is_residual), 0.0) or 0.0
    return Breakdown(change=change, items=items, decomposable=True, residual=resid, kind="ratio", **common)  # type: ignore[arg-type]


def _measure_name(ind: spec.Indicator) -> str:
    m = ind.measure
    if isinstance(m, spec.RatioMeasure):
        return f"ratio of {m.numerator.agg} to {m.denominator.agg}"
    return m.type


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _clean(x: float, scale_of: float | None) -> float:
    """Floating dust from subtracting sums is zero."""
    return 0.0 if abs(x) <= 1e-9 * max(1.0, abs(scale_of or 0.0)) else x
