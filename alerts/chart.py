"""A small PNG of one indicator's recent periods, for mail pushes and bulletins.

Altair describes the chart; vl-convert renders it to PNG in-process (no browser, no network).
The font is Noto Sans CJK SC (Debian's ``fonts-noto-cjk``), so Chinese titles and labels show
as text rather than boxes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import altair as alt
import vl_convert

FONT = "Noto Sans CJK SC"
WIDTH, HEIGHT = 640, 260  # pixels before the 2x scale, title and axes included
PERIODS = 13  # a year and the same month a year before
LINE, TARGET, HIGHLIGHT = "#1f5fbf", "#86909c", "#c9302c"


def _fmt(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:,.0f}"


def indicator_chart_png(
    series: Sequence[tuple[str, float | None]],
    *,
    title: str,
    unit: str,
    target: float | None = None,
    highlight: str | None = None,
) -> bytes:
    """A line chart of the last 13 periods of ``series`` as PNG bytes (1280×520, scale 2).

    ``series`` is ``[(period label, value or None), …]`` in time order; a ``None`` leaves a gap.
    ``target`` is drawn as a dashed rule, ``highlight`` (a period label) as a red point with its
    value.

    Examples
    --------
    >>> png = indicator_chart_png([("2026-09", 84.0), ("2026-10", 82.1)], title="全程网办率",
    ...                           unit="%", target=90, highlight="2026-10")
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    rows = [{"period": str(p), "value": None if v is None else float(v)} for p, v in list(series)[-PERIODS:]]
    order = [r["period"] for r in rows]
    data = alt.Data(values=rows)
    x = alt.X("period:O", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelOverlap=True))
    y_title = f"单位：{unit}" if unit else None
    y = alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False, nice=True))

    base = alt.Chart(data).encode(x=x, y=y)
    # A missing period breaks the line (and does not stretch the axis) instead of being bridged.
    layers: list[alt.Chart] = [
        base.mark_line(color=LINE, strokeWidth=2, invalid="break-paths-filter-domains"),
        base.mark_point(color=LINE, filled=True, size=28).transform_filter("isValid(datum.value)"),
    ]
    if target is not None:
        tdata = alt.Data(values=[{"target": float(target), "label": f"目标 {_fmt(float(target))}{unit}"}])
        rule = alt.Chart(tdata).encode(y=alt.Y("target:Q"))
        layers.append(rule.mark_rule(color=TARGET, strokeDash=[6, 4], strokeWidth=1.5))
        layers.append(
            rule.mark_text(align="left", dx=4, dy=-7, color=TARGET, fontSize=11).encode(
                text="label:N", x=alt.value(0)
            )
        )
    if highlight is not None and highlight in order:
        point = base.transform_filter(alt.datum.period == highlight).transform_filter("isValid(datum.value)")
        layers.append(point.mark_point(color=HIGHLIGHT, filled=True, size=90, opacity=1))
        layers.append(
            point.transform_calculate(label=f"format(datum.value, ',.1f') + {json.dumps(unit)}")
            .mark_text(color=HIGHLIGHT, dy=-12, fontSize=12, fontWeight="bold")
            .encode(text="label:N")
        )
    chart = (
        alt.layer(*layers)
        .properties(
            width=WIDTH,
            height=HEIGHT,
            title=alt.TitleParams(title, anchor="start", fontSize=14, fontWeight="bold", color="#1f2329"),
            autosize=alt.AutoSizeParams(type="fit", contains="padding"),
            padding=8,
            background="#ffffff",
        )
        .configure(font=FONT)
        .configure_axis(
            labelFont=FONT,
            titleFont=FONT,
            labelColor="#4e5969",
            titleColor="#4e5969",
            gridColor="#eef0f3",
            domainColor="#c9cdd4",
            tickColor="#c9cdd4",
        )
        .configure_title(font=FONT)
        .configure_view(stroke=None)
    )
    return vl_convert.vegalite_to_png(json.loads(chart.to_json()), scale=2)
