"""(being built)"""

from __future__ import annotations

import streamlit as st

from cockpit.ui import page_start

cat, scope, data = page_start("inbox")
st.info("建设中")
