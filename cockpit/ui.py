"""Streamlit helpers shared by the pages: cached data, the user's scope, the view in the URL, banners.

Pages stay thin. Each page script starts with::

    cat, scope, data = page_start("排名")

and then reads the view (indicator, region, period, domain) from the URL
with :func:`view`, draws pickers bound to the URL with :func:`pick_region`
and friends, and asks :mod:`metrics` for frames. Every view is a link
(contract section 13): the pickers write back to ``st.query_params``, so
the address bar always holds what the page shows, and a link typed by hand
is checked against the catalogue and the user's scope like any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import polars as pl
import streamlit as st

from metrics import periods, views
from metrics.access import OPEN, Scope
from metrics.catalogue import spec
from metrics.catalogue.load import Catalogue
from metrics.catalogue.problems import ConfigError

PARAMS = ("indicator", "region", "period", "domain")


def through_router() -> None:
    """Call first in every page script: make sure ``app.py`` (the router) ran.

    A fresh server whose first request is a deep link (``/detail?…``) runs a
    script of ``pages/`` on its own, the way Streamlit's old folder-based
    multipage apps worked, until some session has called ``st.navigation``.
    That would skip the router: page config, the demo notice and, later,
    sign-in and scope. Switch that mode off and rerun through ``app.py``;
    the URL and its query parameters stay as they are.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


# ----------------------------------------------------------------- cached data


@st.cache_resource(show_spinner=False)
def _catalogue() -> Catalogue:
    return views.load()


def catalogue() -> Catalogue:
    """The catalogue, or a page-wide error listing every config problem."""
    try:
        return _catalogue()
    except ConfigError as e:
        st.error("指标配置有误，请修正后刷新：\n\n" + "\n".join(f"- `{p}`" for p in e.problems))
        st.stop()
        raise


@st.cache_data(ttl=600, show_spinner="正在计算指标…")
def rows_and_notes() -> tuple[object, list[str], list[str], dict[str, str], dict[str, dict[str, Any]]]:
    res = views.compute_all(_catalogue())
    refresh = {sid: info.as_dict() for sid, info in res.refresh.items()}
    return res.rows, res.warnings, res.errors, res.stale, refresh


@st.cache_data(ttl=600, show_spinner="正在识别异常…")
def findings(indicator: str | None = None) -> list[dict[str, Any]]:
    """Anomaly findings over the cached rows (contract section 6), for markers and lists.

    With ``indicator``, that indicator's only (a fraction of a second, cached
    per indicator); without, every indicator's (seconds on the sample city).
    """
    from metrics.catalogue.rules import grain_of
    from metrics.models.runner import findings as detect_all

    cat = _catalogue()
    rows = data().rows
    inds = [cat.indicators[indicator]] if indicator in cat.indicators else list(cat.config.indicators)
    if indicator is not None:
        rows = rows.filter(pl.col("indicator") == indicator)
    grains = {i.id: grain_of(cat.indicators, i.id) or "month" for i in inds}
    return detect_all(inds, rows, grains)


@dataclass(frozen=True)
class Data:
    rows: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)  # source id → why
    # partitioned sources: what the last compute read (metrics.increment.Refresh.as_dict)
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stale_indicators(self, cat: Catalogue) -> set[str]:
        """Indicators whose source (through formula inputs) is stale or failed."""
        from metrics.lineage import sources_feeding as sources_of

        have = set(self.rows["indicator"].unique().to_list()) if self.rows.height else set()
        out = set()
        for ind in cat.config.indicators:
            if sources_of(cat, ind) & set(self.stale) or ind.id not in have:
                out.add(ind.id)
        return out


def data() -> Data:
    rows, warnings, errors, stale, refresh = rows_and_notes()
    assert isinstance(rows, pl.DataFrame)
    return Data(rows, list(warnings), list(errors), dict(stale), dict(refresh))


# ----------------------------------------------------------------- who is looking


def current_scope(cat: Catalogue) -> Scope:
    """The signed-in user's scope; the open demo without an ``access`` block.

    The one place pages learn what the user may see (contract section 9).
    With an ``access`` block and nobody signed in: no region at all
    (``cockpit.auth.NOBODY``); the router shows the sign-in screen and
    stops before any page runs (``cockpit.auth.require_sign_in``).
    """
    if cat.config.access is None:
        return OPEN
    from cockpit.auth import NOBODY, signed_in_user
    from metrics.access import scope_for

    user = signed_in_user(cat)
    return NOBODY if user is None else scope_for(cat, user.id)


def site_title() -> str:
    try:
        return _catalogue().config.site.title
    except ConfigError:
        return "领导驾驶舱"


def page_start(title: str | None = None) -> tuple[Catalogue, Scope, Data]:
    """The first call of every page: router check, catalogue, scope, data, and the banners."""
    through_router()
    cat = catalogue()
    scope = current_scope(cat)
    audit_view(cat, scope)
    d = data()
    phone_css()
    if title:
        st.title(title)
    banners(cat, d)
    return cat, scope, d


PHONE_CSS = """
<style>
/* Chart labels never catch the pointer: a click on a region's name on the map selects the region. */
[data-testid="stVegaLiteChart"] g.mark-text { pointer-events: none; }
/* Phones (the 小屏 where 特别呈报 links land): smaller headings; counters two to a row, not one. */
@media (max-width: 640px) {
  h1 { font-size: 1.6rem !important; }
  .st-key-counters [data-testid="stHorizontalBlock"] { flex-wrap: wrap !important; gap: 0.5rem !important; }
  .st-key-counters [data-testid="stColumn"] {
    flex: 1 1 calc(50% - 0.5rem) !important; min-width: calc(50% - 0.5rem) !important;
  }
  .st-key-counters [data-testid="stMetricValue"] { font-size: 1.6rem !important; }
}
</style>
"""


def phone_css() -> None:
    """Small-screen tweaks shared by the pages (one style block, no layout change on a big screen)."""
    st.html(PHONE_CSS)


def banners(cat: Catalogue, d: Data) -> None:
    """A failed or stale source is said at the top of every page; the page goes on."""
    if not (d.errors or d.stale):
        return
    lines = [f"- {e}" for e in d.errors[:5]]
    lines += [f"- 数据源 `{s}` 数据滞后：{why}" for s, why in d.stale.items()]
    st.warning("部分数据源异常或数据滞后，相关指标可能不是最新：\n\n" + "\n".join(lines), icon="⚠️")


# ----------------------------------------------------------------- the view in the URL


@dataclass(frozen=True)
class View:
    indicator: str | None
    region: str | None
    period: str | None
    domain: str | None


def visible_indicators(cat: Catalogue, scope: Scope, domain: str | None = None) -> list[spec.Indicator]:
    return [
        i for i in cat.config.indicators if scope.sees_indicator(i) and (domain is None or i.domain == domain)
    ]


def domains(cat: Catalogue, scope: Scope) -> list[str]:
    return list(dict.fromkeys(i.domain or "其他" for i in visible_indicators(cat, scope)))


def regions_in_scope(cat: Catalogue, scope: Scope) -> list[str]:
    """Region ids the user may see, in tree order (parents before children)."""
    if cat.tree is None:
        return []
    return [r for r in cat.tree.subtree(cat.tree.root) if scope.sees_region(r)]


def default_region(cat: Catalogue, scope: Scope) -> str | None:
    return views.top_region(cat, scope)


def view(cat: Catalogue, scope: Scope, rows: pl.DataFrame) -> View:
    """The view the URL asks for, checked: anything unknown or outside the scope is said and dropped.

    A region outside the user's scope reads exactly like one that does not
    exist: the page never confirms that a hidden region is there.
    """
    q = st.query_params
    problems = []
    ind = q.get("indicator")
    if ind is not None and (ind not in cat.indicators or not scope.sees_indicator(cat.indicators[ind])):
        problems.append(f"指标 {ind} 不存在或不在您的权限范围内")
        ind = None
    region = q.get("region")
    if region is not None and (cat.tree is None or region not in cat.tree or not scope.sees_region(region)):
        problems.append(f"地区 {region} 不存在或不在您的权限范围内")
        region = None
    period = q.get("period")
    if period is not None:
        try:
            canonical = periods.to_period(period, periods.grain_of(period))
        except (ValueError, KeyError):
            canonical = None
        if canonical != period:
            problems.append(f"期间 {period} 无法识别")
            period = None
    domain = q.get("domain")
    if domain is not None and domain not in domains(cat, scope):
        problems.append(f"领域 {domain} 不存在或不在您的权限范围内")
        domain = None
    if problems:
        st.warning("；".join(problems) + "。已显示默认视图。", icon="🔗")
    return View(ind, region, period, domain)


def set_query(**params: str | None) -> None:
    """Write the view back to the URL (None removes a parameter)."""
    for k, v in params.items():
        if v is None:
            if k in st.query_params:
                del st.query_params[k]
        elif st.query_params.get(k) != v:
            st.query_params[k] = v


def open_pending(key: str, param: str, picker: str) -> None:
    """Open the choice a click left under ``key`` on the previous run (a drill-down, 返回上级, a
    scoreboard row): write it to the URL as ``param`` and drop ``picker``'s own state before the
    picker is drawn, so that it reads the URL."""
    pending = st.session_state.pop(key, None)
    if pending is not None:
        st.session_state.pop(picker, None)
        set_query(**{param: pending})


def link(path: str, **params: str | None) -> str:
    """A page link with its view: ``link("detail", indicator="x", region="1")`` → ``/detail?…``."""
    q = {k: v for k, v in params.items() if v is not None}
    return f"/{path.lstrip('/')}" + (f"?{urlencode(q)}" if q else "")


def region_label(cat: Catalogue, rid: str | None) -> str:
    if rid is None or cat.tree is None:
        return "全部"
    depth = len(cat.tree.ancestors_or_self(rid)) - 1 if rid in cat.tree else 0
    return "\u3000" * depth + cat.tree.name(rid)


def select_bound(
    label: str, options: Sequence[str], wanted: str, key: str, fmt: Any, where: Any, param: str
) -> str:
    """A selectbox bound to ``?param=``: the URL wins whenever it changed since the last run.

    Streamlit keeps a widget's value in the session, so a link followed, a
    drill-down that sets ``?region=`` or the browser's back button would
    otherwise be overruled by the old selection. The value the URL asks for
    is put into the widget's state before it is drawn when the URL moved;
    a choice in the widget is written back to the URL.
    """
    k, seen = f"pick_{key}", f"_url_{key}"
    url_value = st.query_params.get(param)
    if st.session_state.get(seen, "\0") != url_value or st.session_state.get(k) not in options:
        st.session_state[k] = wanted
    chosen = where.selectbox(label, list(options), format_func=fmt, key=k)
    set_query(**{param: chosen})
    st.session_state[seen] = chosen
    return chosen


def pills_bound(label: str, options: Sequence[str], key: str, fmt: Any, where: Any, param: str) -> list[str]:
    """Multi-choice pills bound to ``?param=a,b``, all chosen by default (and then not in the URL).

    As :func:`select_bound`: the URL wins whenever it changed since the last run (a shared link,
    the back button), and a choice in the pills is written back to the URL. Unknown values in
    the URL are ignored.
    """
    k, seen = f"filter_{key}", f"_url_{key}"
    url_value = st.query_params.get(param)
    if st.session_state.get(seen, "\0") != url_value or k not in st.session_state:
        wanted = list(options) if url_value is None else [x for x in url_value.split(",") if x in options]
        st.session_state[k] = wanted
    chosen = list(where.pills(label, list(options), selection_mode="multi", format_func=fmt, key=k) or [])
    value = None if set(chosen) == set(options) else ",".join(x for x in options if x in chosen)
    set_query(**{param: value})
    st.session_state[seen] = value
    return chosen


def pick_region(
    cat: Catalogue,
    scope: Scope,
    current: str | None,
    *,
    where: Any = st,
    label: str = "地区",
    key: str = "region",
) -> str | None:
    """A region selector over the user's scope, bound to ``?region=``."""
    options = regions_in_scope(cat, scope)
    if not options:
        return None
    value = current if current in options else default_region(cat, scope) or options[0]
    return select_bound(label, options, value, key, lambda r: region_label(cat, r), where, key)


def pick_indicator(
    cat: Catalogue, scope: Scope, current: str | None, *, where: Any = st, domain: str | None = None
) -> str | None:
    inds = visible_indicators(cat, scope, domain)
    if not inds:
        return None
    ids = [i.id for i in inds]
    value = current if current in ids else ids[0]

    def fmt(i: str) -> str:
        return f"{cat.indicators[i].name}（{cat.indicators[i].domain or '其他'}）"

    return select_bound("指标", ids, value, "indicator", fmt, where, "indicator")


def pick_period(
    options: Sequence[str], current: str | None, *, where: Any = st, cumulative: bool = False
) -> str | None:
    """A period selector, newest first, bound to ``?period=``; defaults to the newest."""
    opts = sorted(set(options), key=periods.ordinal, reverse=True)
    if not opts:
        return None
    value = current if current in opts else opts[0]
    return select_bound(
        "期间", opts, value, "period", lambda p: periods.label(p, cumulative=cumulative), where, "period"
    )


def domain_slug(domain: str) -> str:
    """A stable ASCII url_path for a domain's page (``domain-1a2b3c``)."""
    return "domain-" + hashlib.sha1(domain.encode("utf-8")).hexdigest()[:6]


def cached_outlooks(region: str | None) -> list[tuple[str, str, float | None, str]]:
    """(indicator, name, probability of reaching the target, sentence) for the overview's key indicators.

    Within the signed-in user's scope (its domains too), cached per region and user.
    """
    scope = current_scope(_catalogue())
    return _outlooks(region, scope.user.id if scope.user is not None else "", scope)


@st.cache_data(ttl=600, show_spinner="正在预测年底走势…")
def _outlooks(region: str | None, user: str, _scope: Scope) -> list[tuple[str, str, float | None, str]]:
    cat = _catalogue()
    out = views.outlooks(cat, data().rows, _scope, region=region)
    return [(ind.id, ind.name, o.probability, o.explanation) for ind, o in out]  # type: ignore[attr-defined]


# ----------------------------------------------------------------- the audit log (issue 6)


def who(scope: Scope) -> str | None:
    """The user id the audit log records for this scope (None: the open demo, logged as ``demo``)."""
    return scope.user.id if scope.user is not None else None


def current_page() -> tuple[str, str]:
    """(page, title) of the page script running: its url path (``detail``, ``domain-1a2b3c``), else its file name."""
    from pathlib import Path

    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return "", ""
    info: dict[str, Any] = dict(ctx.pages_manager.get_pages().get(ctx.page_script_hash) or {})
    page = str(info.get("url_pathname") or "")
    if not page and info.get("script_path"):
        page = Path(str(info["script_path"])).stem
    return page, str(info.get("page_name") or "")


def audit_view(cat: Catalogue, scope: Scope) -> None:
    """One ``view`` entry per page view (page, indicator, region, period, the other parameters).

    A rerun of the same page with the same query parameters (a widget
    clicked, a chart hovered) is the same view and is not logged again; a
    new page or new parameters are a new view.
    """
    from metrics import audit

    page, title = current_page()
    params = _shown_params()
    key = repr((page, sorted(params.items())))
    if st.session_state.get("_audit_view") == key:
        return
    details: dict[str, Any] = {"page": page, "title": title}
    details.update({k: v for k, v in params.items() if k in PARAMS})
    other = {k: v for k, v in params.items() if k not in PARAMS}
    if other:
        details["params"] = other
    failed = audit.try_record(cat, "view", who(scope), **details)
    if failed is None:
        st.session_state["_audit_view"] = key
    else:
        st.warning("审计日志暂时无法写入，本次访问未能记录。请联系管理员。", icon="⚠️")


def _shown_params() -> dict[str, str | None]:
    """The view this run shows: the URL, except where a picker was just changed.

    A picker writes its choice to the URL during the run, so at the start of
    the run after a change the URL still holds the old value while the
    picker's state holds the new one; the URL wins when it moved itself (a
    link followed), as in :func:`select_bound`.
    """
    params: dict[str, str | None] = {k: st.query_params.get(k) for k in sorted(st.query_params.keys())}
    for k in ("indicator", "region", "period"):
        url_value = params.get(k)
        widget = st.session_state.get(f"pick_{k}")
        moved = st.session_state.get(f"_url_{k}", "\0") != url_value
        if not moved and widget is not None and widget != url_value:
            params[k] = widget
    return params


def audit_action(cat: Catalogue, scope: Scope, kind: str, **details: Any) -> bool:
    """Log an action of this session (an export, a download); a failure is said on the page, not raised."""
    from metrics import audit

    failed = audit.try_record(cat, kind, who(scope), **details)
    if failed is not None:
        st.error("审计日志暂时无法写入，本次操作未能记录。请联系管理员。")
    return failed is None
