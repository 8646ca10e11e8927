"""The cockpit's router: navigation, shared sidebar state, then the page.

Run with ``streamlit run app.py`` (``make run``). Page scripts live in
``pages/``; shared helpers live in ``metrics/`` and ``cockpit/``.
"""

from __future__ import annotations

import streamlit as st

from cockpit.ui import catalogue, current_scope, site_title

st.set_page_config(page_title=site_title(), page_icon="📊", layout="wide", initial_sidebar_state="auto")

overview = st.Page("pages/overview.py", title="一屏总览", icon="📊", url_path="overview", default=True)
navigation = st.navigation({"驾驶舱": [overview]})

cat = catalogue()
scope = current_scope(cat)
with st.sidebar:
    st.markdown(f"**{site_title()}**")
    if scope.is_open:
        st.info("演示模式：未配置访问控制，所有人可见全部数据。", icon="ℹ️")

navigation.run()
