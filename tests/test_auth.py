"""Sign-in with local accounts (issue 6, contract section 9): the store, ``cockpit users``, and the router's gate.

The store runs with a cheap argon2 hasher where only the logic is under test (the production
parameters take ~0.2 s a hash); the CLI and the app use the real ones. Times are passed in.
AppTest sessions run ``app.py`` on a tiny config with an ``access`` block: nothing is drawn
before sign-in, deep links survive it, a county user sees only their county's subtree.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from argon2 import PasswordHasher
from servers import REPO_ROOT
from streamlit.testing.v1 import AppTest

from cockpit import auth
from cockpit.auth import AccountError, AccountStore
from metrics.catalogue.load import load_catalogue

APP = str(REPO_ROOT / "app.py")
T0 = dt.datetime(2026, 11, 5, 9, 0, tzinfo=dt.UTC)
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "zhang-pass-2026"

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
  - id: cases
    name: 办件量
    domain: 政务服务
    unit: 件
    source: recs
    time: {column: day, grain: month}
    region: region
    measure: {type: count}
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
"""

ACCESS = """\
access:
  users:
    - {id: zhang, name: 张区长, role: leader, regions: ["101"], email: Zhang@Example.gov.cn}
    - {id: wang, name: 王秘书长, role: leader, regions: ["100"]}
  sign_in:
    local: {max_failures: 3, lock_minutes: 10}
"""

RECS = """\
day,region,channel
2026-02-01,101,net
2026-02-02,102,hall
2026-03-01,101,net
2026-03-02,101001,hall
2026-03-02,102,hall
2026-03-03,102,net
"""


def write_config(folder: Path, access: str | None = ACCESS) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "recs.csv").write_text(RECS, encoding="utf-8")
    cfg = folder / "indicators.yaml"
    cfg.write_text(CONFIG + (access or ""), encoding="utf-8")
    return cfg


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def audit_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None, dict]]:
    """Stands in for ``metrics.audit``: every ``record(cat, kind, user, **details)`` call, in order."""
    calls: list[tuple[str, str | None, dict]] = []
    fake = types.ModuleType("metrics.audit")
    fake.record = lambda cat, kind, user, **details: calls.append((kind, user, details))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "metrics.audit", fake)
    return calls


# ----------------------------------------------------------------------------- the store


def store(tmp_path: Path, **kw) -> AccountStore:
    return AccountStore(
        tmp_path / ".cockpit" / "users.db", hasher=CHEAP, **{"max_failures": 3, "lock_minutes": 10, **kw}
    )


def test_hash_is_argon2id_never_the_password(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.set_password("zhang", PASSWORD, now=T0)
    digest = s.stored_hash("zhang")
    assert digest is not None and digest.startswith("$argon2id$"), digest
    assert PASSWORD.encode() not in s.path.read_bytes()
    acc = s.get("zhang")
    assert acc is not None and acc.has_password and not acc.disabled
    assert acc.password_changed_at == T0
    assert s.path.stat().st_mode & 0o077 == 0  # only the service reads the hashes
    # the same password twice gives two different hashes (salted)
    s.set_password("wang", PASSWORD, now=T0)
    assert s.stored_hash("wang") != digest


def test_verify_right_and_wrong(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.set_password("zhang", PASSWORD, now=T0)
    assert s.verify("zhang", PASSWORD, now=T0).outcome == "ok"
    wrong = s.verify("zhang", PASSWORD + "x", now=T0)
    assert wrong.outcome == "wrong" and wrong.message(T0) == "账号或密码错误"


def test_lockout_after_max_failures_holds_against_the_right_password_then_lifts(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.set_password("zhang", PASSWORD, now=T0)
    assert [s.verify("zhang", "nope-nope", now=T0).outcome for _ in range(2)] == ["wrong", "wrong"]
    third = s.verify("zhang", "nope-nope", now=T0)
    assert (third.outcome, third.just_locked) == ("locked", True)
    assert third.locked_until == T0 + dt.timedelta(minutes=10)
    # locked: the right password is refused too, and says how long
    later = T0 + dt.timedelta(minutes=1, seconds=30)
    during = s.verify("zhang", PASSWORD, now=later)
    assert during.outcome == "locked" and not during.just_locked
    assert during.message(later) == "账号已锁定，请 9 分钟后再试"
    assert s.get("zhang").locked(later)  # type: ignore[union-attr]
    # after lock_minutes the right password works again and the count starts afresh
    after = T0 + dt.timedelta(minutes=10, seconds=1)
    assert s.verify("zhang", PASSWORD, now=after).outcome == "ok"
    acc = s.get("zhang")
    assert acc is not None and acc.failed_attempts == 0 and not acc.locked(after)


def test_a_success_resets_the_count(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.set_password("zhang", PASSWORD, now=T0)
    for _ in range(2):
        s.verify("zhang", "nope-nope", now=T0)
    assert s.verify("zhang", PASSWORD, now=T0).ok
    outcomes = [s.verify("zhang", "nope-nope", now=T0).outcome for _ in range(2)]
    assert outcomes == ["wrong", "wrong"]  # not locked: the two before the success do not count


def test_a_new_password_lifts_the_lock(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.set_password("zhang", PASSWORD, now=T0)
    for _ in range(3):
        s.verify("zhang", "nope-nope", now=T0)
    s.set_password("zhang", "another-pass-1", now=T0)
    assert s.verify("zhang", "another-pass-1", now=T0).ok


def test_disabled_account(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.set_password("zhang", PASSWORD, now=T0)
    s.set_disabled("zhang", True, now=T0)
    right = s.verify("zhang", PASSWORD, now=T0)
    assert right.outcome == "disabled" and right.message() == "账号已停用"
    # whoever does not know the password learns nothing about the account's state
    assert s.verify("zhang", "nope-nope", now=T0).outcome == "wrong"
    s.set_disabled("zhang", False, now=T0)
    assert s.verify("zhang", PASSWORD, now=T0).ok


def test_unknown_user_reads_like_a_wrong_password_and_costs_as_much(tmp_path: Path) -> None:
    s = AccountStore(tmp_path / "users.db")  # the real argon2 parameters: timing is what is tested
    s.set_password("zhang", PASSWORD, now=T0)
    unknown = s.verify("nobody", PASSWORD, now=T0)
    assert unknown.outcome == "wrong" and unknown.message() == "账号或密码错误"
    assert s.get("nobody") is None  # nothing is stored about ids that were tried

    def took(user: str) -> float:
        t = time.perf_counter()
        s.verify(user, "nope-nope", now=T0)
        return time.perf_counter() - t

    took("nobody")  # the dummy hash is made once
    known = min(took("zhang") for _ in range(2))
    nobody = min(took("nobody") for _ in range(2))
    assert nobody > known / 3, (known, nobody)  # both pay one argon2 verification


def test_short_password_refused(tmp_path: Path) -> None:
    s = store(tmp_path)
    with pytest.raises(AccountError, match="at least 8 characters"):
        s.set_password("zhang", "1234567", now=T0)
    assert s.get("zhang") is None


def test_sign_in_local_checks_the_access_block_and_audits(config: Path, audit_log) -> None:
    cat = load_catalogue(config)
    AccountStore.for_catalogue(cat).set_password("zhang", PASSWORD, now=T0)
    assert AccountStore.for_catalogue(cat).path == config.parent / ".cockpit" / "users.db"
    assert auth.sign_in_local(cat, "zhang", PASSWORD, now=T0).ok
    assert auth.sign_in_local(cat, "stranger", PASSWORD, now=T0).outcome == "wrong"
    for _ in range(3):
        last = auth.sign_in_local(cat, "zhang", "nope-nope", now=T0)
    assert last.just_locked
    kinds = [(k, u) for k, u, _ in audit_log]
    assert kinds == [
        ("sign_in", "zhang"),
        ("sign_in_failed", "stranger"),
        ("sign_in_failed", "zhang"),
        ("sign_in_failed", "zhang"),
        ("sign_in_failed", "zhang"),
        ("account_locked", "zhang"),
    ]
    assert audit_log[-1][2]["until"].startswith("2026-11-05T09:10:00")
    assert all(PASSWORD not in json.dumps(d) and "nope-nope" not in json.dumps(d) for _, _, d in audit_log)


def test_oidc_identity_maps_to_a_user(tmp_path: Path) -> None:
    oidc = ACCESS.replace("    local: {max_failures: 3, lock_minutes: 10}", "    oidc: {}")
    cat = load_catalogue(write_config(tmp_path / "a", oidc))
    assert auth.sign_in_methods(cat)[1] is None
    assert auth.user_for_identity(cat, {"email": "zhang@example.GOV.cn"}).id == "zhang"  # type: ignore[union-attr]
    assert auth.user_for_identity(cat, {"email": "zhang@example.gov.cn", "email_verified": False}) is None
    assert auth.user_for_identity(cat, {"email": "someone@example.gov.cn"}) is None
    assert auth.user_for_identity(cat, {"sub": "zhang"}) is None  # the claim is email
    by_id = oidc.replace("oidc: {}", "oidc: {claim: preferred_username, match: id}")
    cat = load_catalogue(write_config(tmp_path / "b", by_id))
    assert auth.user_for_identity(cat, {"preferred_username": "wang"}).id == "wang"  # type: ignore[union-attr]
    assert auth.user_for_identity(cat, {"preferred_username": "Wang"}) is None


def test_no_sign_in_block_means_local_accounts_with_defaults(tmp_path: Path) -> None:
    cat = load_catalogue(write_config(tmp_path, ACCESS.split("  sign_in:")[0]))
    oidc, local = auth.sign_in_methods(cat)
    assert oidc is None and local is not None and (local.max_failures, local.lock_minutes) == (5, 15)
    assert auth.sign_in_methods(load_catalogue(write_config(tmp_path / "open", None))) == (None, None)


# ----------------------------------------------------------------------------- cockpit users


def test_cli_add_list_disable_enable_passwd(config: Path, cli) -> None:
    cfg = ("--config", config)
    r = cli("users", "add", "zhang", *cfg, "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert "zhang" in r.stdout and PASSWORD not in r.stdout + r.stderr
    digest = AccountStore(config.parent / ".cockpit" / "users.db").stored_hash("zhang")
    assert digest and digest.startswith("$argon2id$")

    r = cli("users", "list", *cfg)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["账号", "姓名", "角色", "地区", "已设密码", "已停用", "锁定至"]
    assert lines[1].split() == ["zhang", "张区长", "leader", "甲区", "是", "否", "—"]
    assert lines[2].split() == ["wang", "王秘书长", "leader", "测试市", "否", "否", "—"]

    # a second add is refused: passwd changes a password
    r = cli("users", "add", "zhang", *cfg, "--password-stdin", input="other-pass-1\n")
    assert r.returncode == 2 and "users passwd zhang" in r.stderr, r.stderr
    r = cli("users", "passwd", "zhang", *cfg, "--password-stdin", input="other-pass-1\n")
    assert r.returncode == 0, r.stderr
    store_ = AccountStore(config.parent / ".cockpit" / "users.db")
    assert store_.verify("zhang", "other-pass-1").ok

    assert cli("users", "disable", "zhang", *cfg).returncode == 0
    rows = json.loads(cli("users", "list", *cfg, "--format", "json").stdout)
    assert rows[0] == {
        "id": "zhang",
        "name": "张区长",
        "role": "leader",
        "regions": ["101"],
        "has_password": True,
        "disabled": True,
        "locked_until": None,
    }
    assert store_.verify("zhang", "other-pass-1").outcome == "disabled"
    assert cli("users", "enable", "zhang", *cfg).returncode == 0
    assert store_.verify("zhang", "other-pass-1").ok


def test_cli_refuses_unknown_user_short_password_and_no_access_block(
    config: Path, cli, tmp_path: Path
) -> None:
    cfg = ("--config", config)
    r = cli("users", "add", "zhng", *cfg, "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 2
    assert "unknown user 'zhng'" in r.stderr and "did you mean 'zhang'" in r.stderr, r.stderr
    r = cli("users", "add", "wang", *cfg, "--password-stdin", input="short\n")
    assert r.returncode == 2 and "at least 8 characters" in r.stderr, r.stderr
    assert AccountStore(config.parent / ".cockpit" / "users.db").get("wang") is None
    r = cli("users", "passwd", "wang", *cfg, "--password-stdin", input=PASSWORD + "\n")
    assert r.returncode == 2 and "users add wang" in r.stderr, r.stderr
    r = cli("users", "add", "wang", *cfg, "--password-stdin", input="")
    assert r.returncode == 2 and "no password" in r.stderr, r.stderr
    r = cli("users", "disable", "nobody", *cfg)
    assert r.returncode == 2 and "unknown user" in r.stderr
    assert "Traceback" not in r.stderr

    open_demo = write_config(tmp_path / "open", None)
    r = cli("users", "list", "--config", open_demo)
    assert r.returncode == 2 and "no access block" in r.stderr, r.stderr
    # the policy is said where the password is asked for
    assert "at least 8 characters" in " ".join(cli("users", "add", "--help").stdout.split())


# ----------------------------------------------------------------------------- the app


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    _clear_caches()
    yield
    _clear_caches()


def new_app(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("COCKPIT_CONFIG", str(config))
    monkeypatch.chdir(REPO_ROOT)
    return AppTest.from_file(APP, default_timeout=120)


def problems(at: AppTest) -> list[str]:
    return [f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception]


def is_sign_in_screen(at: AppTest) -> bool:
    return [t.label for t in at.text_input] == ["账号", "密码"] and [b.label for b in at.button] == ["登录"]


def sign_in(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="_sign_in_account").input(user)
    at.text_input(key="_sign_in_password").input(password)
    return at.button[0].click().run()


@pytest.fixture
def app_config(config: Path) -> Path:
    AccountStore.for_catalogue(load_catalogue(config)).set_password("zhang", PASSWORD)
    return config


def test_open_demo_without_access_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = new_app(write_config(tmp_path, None), monkeypatch).run()
    assert not at.exception, problems(at)
    assert at.metric and not at.text_input
    assert any("演示模式" in i.value for i in at.sidebar.info)


def test_nothing_is_drawn_before_sign_in(app_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = new_app(app_config, monkeypatch).run()
    assert not at.exception, problems(at)
    assert is_sign_in_screen(at)
    assert [t.value for t in at.title] == ["测试市驾驶舱 · 登录"]
    assert not at.metric and not at.selectbox and not at.dataframe and not at.table
    assert not at.sidebar.info  # no demo notice: this is not the demo
    assert not list(at.get("vega_lite_chart")) and not list(at.get("arrow_vega_lite_chart"))


def test_deep_link_asks_for_sign_in_and_lands_on_the_page_asked_for(
    app_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = new_app(app_config, monkeypatch)
    at.switch_page("pages/detail.py")
    at.query_params["indicator"] = "online_rate"
    at.query_params["region"] = "101001"
    at.run()
    assert not at.exception, problems(at)
    assert is_sign_in_screen(at) and not at.metric
    sign_in(at, "zhang", PASSWORD)
    assert not at.exception, problems(at)
    assert not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == ["网办率 · 甲街道"]
    assert at.metric  # the detail page's headline metrics
    assert at.query_params["indicator"] == "online_rate" and at.query_params["region"] == "101001"


def test_county_user_sees_only_their_subtree(app_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = sign_in(new_app(app_config, monkeypatch).run(), "zhang", PASSWORD)
    assert not at.exception, problems(at)
    assert any("一屏总览" in t.value for t in at.title)
    region = at.selectbox(key="pick_region")
    assert region.options == ["\u3000甲区", "\u3000\u3000甲街道"]  # not 测试市, not 乙区
    assert at.metric
    assert any("张区长" in c.value for c in at.sidebar.caption)
    assert [b.label for b in at.sidebar.button] == ["退出登录"]


def test_hand_typed_region_outside_the_scope_reads_as_unknown(
    app_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = new_app(app_config, monkeypatch)
    at.switch_page("pages/detail.py")
    at.query_params["indicator"] = "online_rate"
    at.query_params["region"] = "102"  # 乙区: beside zhang's county
    sign_in(at.run(), "zhang", PASSWORD)
    assert not at.exception, problems(at)
    assert any("地区 102 不存在或不在您的权限范围内" in w.value for w in at.warning)
    assert "乙区" not in " ".join(t.value for t in at.title)


def test_wrong_password_then_lock_message(app_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = new_app(app_config, monkeypatch).run()
    sign_in(at, "zhang", "wrong-password")
    assert not at.exception, problems(at)
    assert [e.value for e in at.error] == ["账号或密码错误"]
    assert is_sign_in_screen(at) and not at.metric
    assert at.text_input(key="_sign_in_password").value == ""  # the password is not kept
    sign_in(at, "nobody", "wrong-password")
    assert [e.value for e in at.error] == ["账号或密码错误"]  # an unknown id reads the same
    sign_in(at, "zhang", "wrong-password")
    sign_in(at, "zhang", "wrong-password")  # the third failure in a row: locked for 10 minutes
    assert [e.value for e in at.error] == ["账号已锁定，请 10 分钟后再试"]
    sign_in(at, "zhang", PASSWORD)  # the right password does not open a locked account
    assert [e.value for e in at.error] == ["账号已锁定，请 10 分钟后再试"] and not at.metric


def test_disabled_account_is_refused(app_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    AccountStore.for_catalogue(load_catalogue(app_config)).set_disabled("zhang", True)
    at = sign_in(new_app(app_config, monkeypatch).run(), "zhang", PASSWORD)
    assert [e.value for e in at.error] == ["账号已停用"] and not at.metric


def test_sign_out_returns_to_the_form(app_config: Path, monkeypatch: pytest.MonkeyPatch, audit_log) -> None:
    at = sign_in(new_app(app_config, monkeypatch).run(), "zhang", PASSWORD)
    assert at.metric
    at.sidebar.button[0].click().run()
    assert not at.exception, problems(at)
    assert is_sign_in_screen(at) and not at.metric
    assert [(k, u) for k, u, _ in audit_log] == [("sign_in", "zhang"), ("sign_out", "zhang")]


@pytest.mark.parametrize("change", ["disable", "passwd"])
def test_a_session_ends_when_the_account_is_disabled_or_its_password_changed(
    change: str, app_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = sign_in(new_app(app_config, monkeypatch).run(), "zhang", PASSWORD)
    assert at.metric
    accounts = AccountStore.for_catalogue(load_catalogue(app_config))
    if change == "disable":
        accounts.set_disabled("zhang", True)
    else:
        accounts.set_password("zhang", "a-new-password")
    at.run()
    assert is_sign_in_screen(at) and not at.metric
