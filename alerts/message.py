"""The words of a push: one alert instance, one message (contract section 7).

A message names the indicator, the region, the period, the value with its
unit, the target, the status, 同比/环比, why it fired (the anomaly's sentence
or the rule), the owner department, and the link into the cockpit's detail
page for that indicator, region and period (contract section 13).

Messages are plain dicts (``title``, ``markdown``, ``link``, ``level``) so
that they are stored once with their notice and sent the same on a retry;
:func:`as_channel_message` turns one into :class:`alerts.channels.Message`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from metrics import periods
from metrics.catalogue import spec
from metrics.catalogue.load import Catalogue
from metrics.format import fmt_change, fmt_value
from metrics.models.explain import explain_finding

STATUS_WORD = {"red": "红灯", "yellow": "黄灯", "green": "绿灯", "lightblue": "浅蓝灯", "blue": "蓝灯"}
# the five-light (景气信号灯) meaning of each light
BAND_MEANING = {"red": "过热", "yellow": "偏热", "green": "正常", "lightblue": "偏冷", "blue": "过冷"}
KIND_TAG = {"fire": "【特别呈报】", "resolve": "【已恢复】", "remind": "【提醒】"}


def detail_link(cat: Catalogue, indicator: str, region: str | None, period: str | None) -> str:
    """``{base_url}/detail?indicator=…&region=…&period=…`` (contract section 13)."""
    base = (cat.config.site.base_url if cat.config.site else "http://localhost:8501").rstrip("/")
    q = {"indicator": indicator}
    if region:
        q["region"] = region
    if period:
        q["period"] = period
    return f"{base}/detail?{urlencode(q)}"


def region_name(cat: Catalogue, region: str | None) -> str:
    if region is None or cat.tree is None or region not in cat.tree:
        return region or ""
    return cat.tree.name(region)


def _owner(cat: Catalogue, ind: spec.Indicator) -> str | None:
    return cat.department_name(ind.owner) if ind.owner else None


def alert_message(
    cat: Catalogue,
    ind: spec.Indicator,
    region: str | None,
    inst: Any,
    kind: str,
    rule_label: str,
    reminder: int | None = None,
    small: str | None = None,
) -> dict[str, Any]:
    """The message for a ``fire``, ``resolve`` or ``remind`` event of one instance.

    ``small``: the group is too small to show (``<5``, ``样本<5``), said in place of the value."""
    unit = (ind.unit or "").strip()
    cumulative = ind.accumulate in ("ytd", "source")
    where = region_name(cat, region)
    when = periods.label(inst.period, cumulative=cumulative) if inst.period else ""
    value = small if small is not None else fmt_value(inst.value, unit)
    status = STATUS_WORD.get(inst.status or "", "")
    if status and ind.bands is not None:  # five-light: the light says hot or cold, so say which
        status += f"·{BAND_MEANING.get(inst.status or '', '')}"
    tag = KIND_TAG[kind]
    if kind == "remind":
        title = f"{tag}{where}{ind.name}预警尚未处置（第{reminder}次提醒）"
    elif kind == "resolve":
        title = f"{tag}{where}{ind.name}{when}为 {value}，预警解除"
    else:
        gap = ""
        if inst.target is not None and inst.value is not None:
            worse = inst.value < inst.target if ind.direction == "higher_better" else inst.value > inst.target
            if worse:
                gap = f"，{'低于' if ind.direction == 'higher_better' else '高于'}目标 {fmt_value(inst.target, unit)}"
        title = f"{tag}{where}{ind.name}{when}为 {value}{gap}"
    lines = [f"### {title}", ""]
    lines.append(f"- **指标**：{ind.name}（{where}，{when}）")
    v = f"- **数值**：{value}"
    extra = []
    if inst.target is not None:
        extra.append(f"目标 {fmt_value(inst.target, unit)}")
    if status:
        extra.append(status)
    if extra:
        v += f"（{'，'.join(extra)}）"
    lines.append(v)
    changes = []
    if inst.yoy is not None:
        changes.append(f"同比 {fmt_change(inst.yoy, unit)}")
    if inst.mom is not None and not cumulative:
        changes.append(f"环比 {fmt_change(inst.mom, unit)}")
    if changes:
        lines.append(f"- **变化**：{'，'.join(changes)}")
    detail = inst.details if hasattr(inst, "details") else {}
    finding = detail.get("finding")
    if finding and kind != "resolve":
        lines.append(f"- **异常**：{explain_finding({**finding, 'period': inst.period}, ind, where)}")
    if detail.get("stale") and kind != "resolve":
        lines.append("- **数据**：数据源未按时更新（已超过约定的更新周期）")
    if kind != "resolve":
        lines.append(f"- **触发条件**：{rule_label}")
    owner = _owner(cat, ind)
    if owner:
        lines.append(f"- **责任单位**：{owner}")
    if kind == "remind":
        lines.append(f"- **首次预警**：{inst.fired_at}，尚无人签收")
    link = detail_link(cat, ind.id, region, inst.period)
    lines += ["", f"[在驾驶舱中查看]({link})"]
    return {"title": title, "markdown": "\n".join(lines), "link": link, "level": kind_level(kind)}


def kind_level(kind: str) -> str:
    return {"fire": "special", "resolve": "resolved", "remind": "reminder"}.get(kind, kind)


def as_channel_message(
    message: dict[str, Any], chart: bytes | None = None, attachment: tuple[str, bytes, str] | None = None
) -> Any:
    from .channels import Message

    return Message(
        title=message["title"],
        markdown=message["markdown"],
        link=message.get("link"),
        html=message.get("html"),
        chart_png=chart,
        level=message.get("level", "special"),
        attachment=attachment,
    )
