"""OIDC sign-in end to end (issue 6): a real OpenID Provider, the real Streamlit server, a real browser.

- The provider is npm's ``oidc-provider`` (a certified OP), started from tests/oidc/provider.mjs by
  the ``oidc_provider`` fixture on loopback, with one confidential client whose redirect URI is the
  cockpit's ``/oauth2callback`` and two accounts: zhang (an e-mail of the access block) and a stranger.
- The cockpit is ``streamlit run app.py`` in a temporary folder holding ``.streamlit/secrets.toml``
  (``[auth]`` and ``[auth.gov]``: the client id and secret live there, never in indicators.yaml),
  with ``access.sign_in.oidc: {provider: gov}`` in the config.
- Chromium (Playwright) opens a deep link, is sent to the sign-in screen, clicks 使用统一身份认证登录,
  logs in at the provider and consents, and lands back on the page it asked for, signed in as 张区长
  with 张区长's scope; then signs out through the provider's end-session endpoint. The stranger is
  refused with 您的账号未开通驾驶舱权限.
"""

from __future__ import annotations

import re
import secrets

import pytest
from servers import REPO_ROOT, free_port

pytestmark = pytest.mark.browser

CLIENT_ID = "cockpit-test"
TIMEOUT_MS = 60_000
METRIC = '[data-testid="stMetric"]'

CONFIG = """\
version: 1
site:
  title: 测试市驾驶舱
org:
  regions:
    id: "100"
    name: 测试市
    children:
      - {id: "101", name: 甲区, children: [{id: "101001", name: 甲街道}]}
      - {id: "102", name: 乙区}
sources:
  recs: {type: csv, path: data/recs.csv}
indicators:
  - id: online_rate
    name: 网办率
    domain: 政务服务
    unit: "%"
    source: recs
    time: {column: day, grain: month}
    region: region
    measure: {type: ratio, numerator: {agg: count, where: "channel = 'net'"}, denominator: {agg: count}, scale: 100}
    target: 60
    thresholds: {green: 60, yellow: 40}
access:
  users:
    - {id: zhang, name: 张区长, role: leader, regions: ["101"], email: zhang@example.gov.cn}
    - {id: wang, name: 王秘书长, role: leader, regions: ["100"], email: wang@example.gov.cn}
  sign_in:
    oidc: {provider: gov}
"""

RECS = """\
day,region,channel
2026-02-01,101,net
2026-02-02,102,hall
2026-03-01,101,net
2026-03-02,101001,hall
2026-03-02,102,hall
"""


@pytest.fixture(scope="module")
def cockpit(tmp_path_factory, oidc_provider, streamlit_server):
    """(cockpit URL, provider): the cockpit behind the OP, both on loopback."""
    folder = tmp_path_factory.mktemp("oidc-cockpit")
    (folder / "data").mkdir()
    (folder / "data" / "recs.csv").write_text(RECS, encoding="utf-8")
    (folder / "indicators.yaml").write_text(CONFIG, encoding="utf-8")
    client_secret = secrets.token_urlsafe(32)
    op_port = free_port()
    # Streamlit reads .streamlit/secrets.toml from its working directory; {port} is its own port.
    # prompt=login: Streamlit asks for prompt=select_account by default, which this OP (like many
    # 统一身份认证 platforms) refuses as unsupported.
    (folder / ".streamlit").mkdir()
    (folder / ".streamlit" / "secrets.toml").write_text(
        f"""\
[auth]
redirect_uri = "http://127.0.0.1:{{port}}/oauth2callback"
cookie_secret = "{secrets.token_urlsafe(32)}"

[auth.gov]
client_id = "{CLIENT_ID}"
client_secret = "{client_secret}"
server_metadata_url = "http://127.0.0.1:{op_port}/.well-known/openid-configuration"
client_kwargs = {{ prompt = "login" }}
""",
        encoding="utf-8",
    )
    srv = streamlit_server(
        str(REPO_ROOT / "app.py"), cwd=folder, env={"COCKPIT_CONFIG": str(folder / "indicators.yaml")}
    )
    callback = f"{srv.url}/oauth2callback"
    op = oidc_provider(
        clients=[
            {
                "client_id": CLIENT_ID,
                "client_secret": client_secret,
                "redirect_uris": [callback],
                "post_logout_redirect_uris": [callback],
            }
        ],
        accounts={
            "zhang": {"email": "zhang@example.gov.cn", "name": "张区长"},
            "stranger": {"email": "stranger@example.com", "name": "陌生人"},
        },
        port=op_port,
    )
    return srv, op


def log_in_at_provider(page, op, account: str) -> None:
    """The provider's own pages: its login form (account id, any password), then consent."""
    page.wait_for_url(re.compile(rf"^{re.escape(op.issuer)}/interaction/"), timeout=TIMEOUT_MS)
    page.fill('input[name="login"]', account)
    page.fill('input[name="password"]', "any-password")
    page.click('button[type="submit"]')
    page.wait_for_selector('input[name="prompt"][value="consent"]', state="attached", timeout=TIMEOUT_MS)
    page.click('button[type="submit"]')


def diagnostics(srv, op) -> str:
    return f"\n--- streamlit ---\n{srv.output()[-3000:]}\n--- oidc-provider ---\n{op.output()[-3000:]}"


def test_sign_in_lands_on_the_deep_link_with_the_users_scope(cockpit, browser) -> None:
    srv, op = cockpit
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{srv.url}/detail?indicator=online_rate&region=101001")
        button = page.get_by_role("button", name="使用统一身份认证登录")
        button.wait_for(timeout=TIMEOUT_MS)
        assert page.locator(METRIC).count() == 0  # nothing before sign-in
        button.click()
        log_in_at_provider(page, op, "zhang")

        # back in the cockpit, on the page and view asked for, as 张区长
        try:
            page.get_by_text("当前用户：张区长（zhang）").wait_for(timeout=TIMEOUT_MS)
            page.get_by_role("heading", name="网办率 · 甲街道").wait_for(timeout=TIMEOUT_MS)
        except Exception as e:
            raise AssertionError(f"{e}\nurl: {page.url}{diagnostics(srv, op)}") from e
        assert re.search(r"/detail\?.*indicator=online_rate", page.url), page.url
        assert "region=101001" in page.url, page.url
        page.locator(METRIC).first.wait_for(timeout=TIMEOUT_MS)

        # a new session in the same browser: the identity cookie signs it in, with zhang's scope only
        # (the root: the overview is the default page, and Streamlit serves it at "/", not "/overview")
        page.goto(f"{srv.url}/?region=102")
        page.get_by_text("地区 102 不存在或不在您的权限范围内").wait_for(timeout=TIMEOUT_MS)
        page.get_by_text("范围：甲区").wait_for(timeout=TIMEOUT_MS)
        assert page.get_by_text("乙区").count() == 0
        assert page.get_by_text("测试市 ·").count() == 0

        # sign out: Streamlit clears its cookie and sends the browser to the provider's end-session page
        page.get_by_role("button", name="退出登录").click()
        page.wait_for_url(re.compile(rf"^{re.escape(op.issuer)}/session/end"), timeout=TIMEOUT_MS)
        page.click('button[name="logout"][value="yes"]')
        page.get_by_role("button", name="使用统一身份认证登录").wait_for(timeout=TIMEOUT_MS)
        assert page.url.startswith(srv.url), page.url
        assert page.locator(METRIC).count() == 0
    finally:
        context.close()


def test_identity_without_a_user_is_refused(cockpit, browser) -> None:
    srv, op = cockpit
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{srv.url}/")
        page.get_by_role("button", name="使用统一身份认证登录").click(timeout=TIMEOUT_MS)
        log_in_at_provider(page, op, "stranger")
        try:
            page.get_by_text("您的账号未开通驾驶舱权限").wait_for(timeout=TIMEOUT_MS)
        except Exception as e:
            raise AssertionError(f"{e}\nurl: {page.url}{diagnostics(srv, op)}") from e
        # the button comes last: once it is drawn the script has stopped, and nothing else is there
        page.get_by_role("button", name="退出登录").wait_for(timeout=TIMEOUT_MS)
        assert page.get_by_role("button", name="退出登录").count() == 1
        assert page.locator(METRIC).count() == 0
        assert page.get_by_text("一屏总览").count() == 0  # no menu, no page
        assert page.get_by_text("网办率").count() == 0
    finally:
        context.close()
