"""Streamlit helpers shared by the pages: cached catalogue and rows, the user's scope."""

from __future__ import annotations

import streamlit as st

from metrics import views
from metrics.access import OPEN, Scope
from metrics.catalogue.load import Catalogue
from metrics.catalogue.problems import ConfigError


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
def rows_and_notes() -> tuple[object, list[str], list[str], dict[str, str]]:
    res = views.compute_all(_catalogue())
    return res.rows, res.warnings, res.errors, res.stale


def current_scope(cat: Catalogue) -> Scope:
    """The signed-in user's scope; the open demo without an ``access`` block."""
    return OPEN


def site_title() -> str:
    try:
        return _catalogue().config.site.title
    except ConfigError:
        return "领导驾驶舱"
