"""The cockpit's router: navigation in sections, shared sidebar state, then the page.

Run with ``streamlit run app.py`` (``make run``). Page scripts live in
``pages/`` and are given to ``st.Page`` by their path; shared helpers live
in ``metrics/`` (frames) and ``cockpit/ui.py`` (Streamlit). One page module,
``pages/domain.py``, serves every domain of the catalogue: a new domain in
the YAML gets its page without code.
"""

from __future__ import annotations

import streamlit as st

from cockpit.auth import require_sign_in
from cockpit.ui import catalogue, current_scope, domain_slug, domains, site_title

st.set_page_config(page_title=site_title(), page_icon="📊", layout="wide", initial_sidebar_state="auto")

cat = catalogue()
scope = current_scope(cat)

# the default page is served at "/" whatever its url_path; "/overview?…" is the hidden page below
overview = st.Page("pages/overview.py", title="一屏总览", icon="📊", url_path="home", default=True)


def _overview_by_path() -> None:
    """``/overview?…`` sends the view on to the overview (served at ``/``), parameters and all:
    without it that path would open Streamlit's "Page not found"."""
    st.switch_page(overview, query_params=st.query_params.to_dict())


overview_path = st.Page(_overview_by_path, title="一屏总览", url_path="overview", visibility="hidden")
domain_pages = [
    st.Page("pages/domain.py", title=d, icon="🗂️", url_path=domain_slug(d)) for d in domains(cat, scope)
]
sections = {
    "驾驶舱": [overview, overview_path, *domain_pages],
    "分析": [
        st.Page("pages/rankings.py", title="排名", icon="🏆", url_path="rankings"),
        st.Page("pages/detail.py", title="指标详情", icon="📈", url_path="detail"),
        st.Page("pages/assess.py", title="指标考核", icon="🎯", url_path="assess"),
        st.Page("pages/map.py", title="一张图", icon="🗺️", url_path="map"),
    ],
    "处置": [
        st.Page("pages/inbox.py", title="特别呈报", icon="🚨", url_path="inbox"),
        st.Page("pages/bulletins.py", title="数据通报", icon="📰", url_path="bulletins"),
    ],
    "数据": [
        st.Page("pages/catalogue.py", title="指标目录", icon="📚", url_path="catalogue"),
        st.Page("pages/health.py", title="数据健康", icon="🩺", url_path="health"),
        st.Page("pages/forms.py", title="数据填报", icon="📝", url_path="forms"),
    ],
}
if scope.is_open or (scope.user and {"audit", "admin"} & set(scope.user.grants)):
    sections["数据"].append(st.Page("pages/audit.py", title="审计日志", icon="🛡️", url_path="audit"))
# before sign-in (an access block and nobody signed in) the menu is hidden: only the sign-in screen shows
navigation = st.navigation(
    sections, position="sidebar" if scope.is_open or scope.user else "hidden", expanded=True
)
# the domain page learns its domain from the navigation entry that ran it
st.session_state["_domain_pages"] = {p.url_path: p.title for p in domain_pages}

with st.sidebar:
    st.markdown(f"**{site_title()}**")
    if scope.is_open:
        st.info("演示模式：未配置访问控制，所有人可见全部数据。", icon="ℹ️")

# with an access block and nobody signed in: the sign-in screen, and st.stop() before any page runs
require_sign_in(cat, navigation, sections)
navigation.run()
