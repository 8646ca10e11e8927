"""Push channels (``alerts.channels``) and the push chart (``alerts.chart``), over real servers.

Contract: section 3 (``channels:`` — email ``tls: none | starttls | ssl``, AUTH only with a
``username``; webhook ``format: dingtalk | wecom | feishu | json``, DingTalk signs in the query,
Feishu in the body) and section 7 (one push, delivered once; a failed push is retried later, so
every failure says whether trying again can help).

No mocks of smtplib or requests: mail goes to ``SMTPSink`` or to a TLS server (aiosmtpd) started here
with a throwaway certificate; robots are ``JsonHTTPServer`` routes answering as the vendors do.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import shutil
import ssl
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from servers import LOOPBACK, LoopbackController, free_port

from alerts.channels import DeliveryError, Message, send, webhook
from alerts.channels import email as mail
from alerts.channels.markdown import to_html, to_text
from alerts.channels.webhook import TRUNCATION_NOTE, Rate, RateLimiter, fit_utf8, limiter_key
from metrics.catalogue.spec import EmailChannel, WebhookChannel

NOW = dt.datetime(2026, 11, 3, 1, 30, 15, 250000, tzinfo=dt.UTC)
NOW_MS = 1793669415250
NOW_S = 1793669415
LINK = "http://localhost:8501/detail?indicator=online_rate&region=130306&period=2026-10"
TITLE = "【特别呈报】东湖县 全程网办率 2026年10月 82.1%，低于目标 90%"
BODY = (
    "### 全程网办率 低于目标\n\n"
    "**东湖县** 2026年10月全程网办率 **82.1%**，目标 90%，低 7.9 个百分点。\n\n"
    "- 环比 -1.2 个百分点\n- 同比 -5.4 个百分点\n\n"
    "> 自2026年3月起连续下滑。"
)


def tiny_png() -> bytes:
    """A valid 1×1 PNG, so that mail tests need not render a chart."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xc9\x30\x2c"))
        + chunk(b"IEND", b"")
    )


PNG = tiny_png()


def message(**kw) -> Message:
    base = {"title": TITLE, "markdown": BODY, "link": LINK}
    base.update(kw)
    return Message(**base)


# ============================================================================ email


@pytest.fixture
def sink(smtp_server):
    smtp_server.reset()
    yield smtp_server
    smtp_server.reset()


def email_channel(host: str, port: int, **kw) -> EmailChannel:
    fields = {
        "type": "email",
        "host": host,
        "port": port,
        "sender": "cockpit@example.gov.cn",
        "to": ["mayor@example.gov.cn", "office@example.gov.cn"],
    }
    fields.update(kw)
    return EmailChannel(**fields)


def test_email_is_multipart_with_the_chart_inline(sink):
    channel = email_channel(sink.host, sink.port)
    receipt = send("leaders_mail", channel, message(chart_png=PNG), now=NOW)
    assert receipt.startswith("smtp 250")

    [got] = sink.messages
    assert got.mail_from == "cockpit@example.gov.cn"
    assert got.rcpt_tos == ["mayor@example.gov.cn", "office@example.gov.cn"]
    assert got.auth is None  # no username: no AUTH
    assert got.data.isascii()  # RFC 2047 subject, base64 bodies: no 8-bit reliance on the relay
    assert got.subject == TITLE
    msg = got.message
    assert msg["From"] == "cockpit@example.gov.cn"
    assert msg["To"] == "mayor@example.gov.cn, office@example.gov.cn"
    assert msg["Date"] == "Tue, 03 Nov 2026 01:30:15 +0000"

    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()
    assert plain.get_content_type() == "text/plain"
    text = plain.get_content()
    assert "东湖县 2026年10月全程网办率 82.1%" in text and "**" not in text
    assert f"在驾驶舱中查看：{LINK}" in text

    assert related.get_content_type() == "multipart/related"
    html_part, image = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    assert "<strong>东湖县</strong>" in html
    assert f'href="{LINK.replace("&", "&amp;")}"' in html and "在驾驶舱中查看" in html
    assert image.get_content_type() == "image/png"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PNG
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html


class _Styles(HTMLParser):
    """Every element's tag, parsed attributes and text, as a mail client's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None], list[str]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), []))

    def handle_data(self, data):
        if self.elements:
            self.elements[-1][2].append(data)


def test_email_layout_inline_styles_parse(sink):
    # A double quote inside style="…" (a font name) would end the attribute early and drop the
    # rest of the styles: white button text, sizes, colours. Check them as a parser reads them.
    send("m", email_channel(sink.host, sink.port), message(), now=NOW)
    parser = _Styles()
    parser.feed(sink.messages[0].html())
    [button] = [(a, t) for tag, a, t in parser.elements if tag == "a" and "在驾驶舱中查看" in "".join(t)]
    style = button[0]["style"] or ""
    assert "color:#ffffff" in style and "font-family:'Microsoft YaHei'" in style
    assert button[0]["href"] == LINK
    for tag, attrs, _ in parser.elements:
        if attrs.get("style"):
            assert set(attrs) <= {"style", "href", "target", "src", "width", "alt", "role", "cellpadding",
                                  "cellspacing", "border", "bgcolor", "align", "lang", "charset", "name",
                                  "content"}, (tag, attrs)  # fmt: skip
            assert attrs["style"].rstrip().endswith(";"), (tag, attrs["style"])


def test_email_without_chart_has_no_image(sink):
    send("leaders_mail", email_channel(sink.host, sink.port), message(link=None), now=NOW)
    [got] = sink.messages
    html = got.html()
    assert "cid:" not in html and "在驾驶舱中查看" not in html
    assert [p.get_content_type() for p in got.message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_email_html_escapes_what_it_does_not_produce(sink):
    body = '数值 <script>alert(1)</script> & "引号"\n\n[点我](javascript:alert(1))'
    custom = message(markdown=body, link='http://x/detail?a=1&b="2"')
    send("leaders_mail", email_channel(sink.host, sink.port), custom, now=NOW)
    html = sink.messages[0].html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&amp; &quot;引号&quot;" in html
    assert 'href="javascript' not in html
    assert 'href="http://x/detail?a=1&amp;b=&quot;2&quot;"' in html


def test_email_given_html_is_the_body(sink):
    custom = message(html="<table><tr><td>自定义表格</td></tr></table>")
    send("leaders_mail", email_channel(sink.host, sink.port), custom, now=NOW)
    got = sink.messages[0]
    assert "<td>自定义表格</td>" in got.html()
    assert "东湖县 2026年10月全程网办率 82.1%" in got.text()  # text/plain still from the markdown


def test_email_auth_only_with_username(sink):
    send("m", email_channel(sink.host, sink.port), message(), now=NOW)
    send("m", email_channel(sink.host, sink.port, username="cockpit", password="s3cret"), message(), now=NOW)
    assert [m.auth for m in sink.messages] == [None, ("cockpit", "s3cret")]


def test_email_login_refused_is_not_retryable_and_keeps_the_password_out(sink):
    sink.credentials = ("cockpit", "right")
    channel = email_channel(sink.host, sink.port, username="cockpit", password="wrong-pass")
    with pytest.raises(DeliveryError) as e:
        send("m", channel, message(), now=NOW)
    assert e.value.retryable is False and "535" in e.value.detail
    assert "wrong-pass" not in str(e.value)
    assert sink.messages == []


def test_email_rejected_recipients_fail_permanently(sink):
    sink.reject_all = True
    with pytest.raises(DeliveryError) as e:
        send("leaders_mail", email_channel(sink.host, sink.port), message(), now=NOW)
    assert e.value.retryable is False
    assert e.value.channel == "leaders_mail"
    assert "550" in e.value.detail and "2 of 2 recipients refused" in e.value.detail
    assert sink.messages == []


def test_email_one_refused_recipient_sends_to_nobody(sink):
    # all or nothing: a retry after fixing the address must not mail the others twice
    sink.reject_rcpt = {"office@example.gov.cn"}
    with pytest.raises(DeliveryError) as e:
        send("m", email_channel(sink.host, sink.port), message(), now=NOW)
    assert "1 of 2" in e.value.detail and "office@example.gov.cn" in e.value.detail
    assert sink.messages == []


def test_email_closed_port_is_retryable():
    with pytest.raises(DeliveryError) as e:
        send("m", email_channel(LOOPBACK, free_port()), message(), now=NOW, timeout=3)
    assert e.value.retryable is True
    assert "cannot reach" in e.value.detail


def test_email_starttls_refused_when_the_server_does_not_offer_it(sink):
    with pytest.raises(DeliveryError) as e:
        send("m", email_channel(sink.host, sink.port, tls="starttls"), message(), now=NOW)
    assert e.value.retryable is False and "STARTTLS" in e.value.detail
    assert sink.messages == []


def test_email_tls_ssl_against_a_plain_server_is_a_configuration_error(sink):
    with pytest.raises(DeliveryError) as e:
        send("m", email_channel(sink.host, sink.port, tls="ssl"), message(), now=NOW, timeout=3)
    assert e.value.retryable is False and "TLS" in e.value.detail
    assert sink.messages == []


# ---------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={LOOPBACK}",
         "-addext", f"subjectAltName=IP:{LOOPBACK}"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


class TLSMailServer:
    """An aiosmtpd server speaking TLS from the first byte (``ssl``) or only after STARTTLS
    (``starttls``: MAIL before it is refused). Keeps (from, to, data, TLS version) of each message."""

    def __init__(self, mode: str, cert: Path, key: Path) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.messages: list[tuple[str, list[str], bytes, str]] = []
        tls = (
            {"ssl_context": context} if mode == "ssl" else {"tls_context": context, "require_starttls": True}
        )
        self.controller = LoopbackController(self, **tls)
        self.controller.start()
        self.port = self.controller.port

    async def handle_DATA(self, server, session, envelope) -> str:
        tls = server.transport.get_extra_info("ssl_object")
        version = tls.version() if tls is not None else "none"
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, version)
        )
        return "250 2.0.0 queued as TLS1"

    def stop(self) -> None:
        self.controller.stop()


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_email_over_tls(mode, certificate):
    cert, key = certificate
    server = TLSMailServer(mode, cert, key)
    try:
        trust_test_cert = ssl.create_default_context(cafile=str(cert))
        channel = email_channel(LOOPBACK, server.port, tls=mode)
        receipt = mail.deliver("m", channel, message(chart_png=PNG), now=NOW, ssl_context=trust_test_cert)
        assert receipt == "smtp 250 2.0.0 queued as TLS1"
        [(sender, rcpts, data, version)] = server.messages
        assert sender == "cockpit@example.gov.cn" and rcpts == list(channel.to)
        assert version.startswith("TLSv1.")
        assert b"Content-Type: image/png" in data

        # Without the test hook the certificate is checked against the system's CAs: refused.
        with pytest.raises(DeliveryError) as e:
            send("m", channel, message(), now=NOW)
        assert e.value.retryable is False and "not trusted" in e.value.detail
        assert len(server.messages) == 1
    finally:
        server.stop()


# ============================================================================ webhooks


class FakeClock:
    """``clock`` and ``sleep`` for RateLimiter: sleeping moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = lambda: None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.on_sleep()
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def robot(http_json_server, request):
    """Register a robot route answering ``body``; returns (url, requests-to-it)."""
    counter = [0]

    def make(body, status: int = 200, query: str = ""):
        counter[0] += 1
        path = f"/robots/{request.node.name}/{counter[0]}".replace("[", "_").replace("]", "")
        url = http_json_server.add(path, body, status=status)
        return url + query, (lambda: http_json_server.requests_to(path))

    return make


def post(channel: WebhookChannel, msg: Message, **kw) -> str:
    kw.setdefault("limiter", RateLimiter(clock=FakeClock().clock, sleep=FakeClock().sleep))
    return webhook.deliver("duty_robot", channel, msg, now=NOW, timeout=5, **kw)


def hook(url: str, fmt: str, secret: str | None = None) -> WebhookChannel:
    return WebhookChannel(type="webhook", url=url, format=fmt, secret=secret)


def test_dingtalk_markdown_payload_signed_in_the_query(robot):
    url, received = robot({"errcode": 0, "errmsg": "ok"}, query="?access_token=tok-0123456789abcdef")
    secret = "SEC0123456789abcdef0123456789abcdef"
    msg = message(at_mobiles=("13800000001",))
    assert post(hook(url, "dingtalk", secret), msg) == "dingtalk errcode 0"

    [req] = received()
    assert req.method == "POST" and req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert req.json() == {
        "msgtype": "markdown",
        "markdown": {
            "title": TITLE,
            "text": f"### {TITLE}\n\n{BODY}\n\n[在驾驶舱中查看]({LINK})\n\n@13800000001",
        },
        "at": {"atMobiles": ["13800000001"], "isAtAll": False},
    }
    # the signature, recomputed from what the robot received
    assert req.query["access_token"] == ["tok-0123456789abcdef"]  # the existing query is kept
    [timestamp] = req.query["timestamp"]
    assert timestamp == str(NOW_MS)
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert req.query["sign"] == [expected]
    assert f"sign={quote_plus(expected)}" in req.raw_path  # URL-encoded once, as DingTalk documents
    assert secret not in req.raw_path and secret not in req.text


def test_dingtalk_without_secret_is_not_signed(robot):
    url, received = robot({"errcode": 0, "errmsg": "ok"}, query="?access_token=t")
    post(hook(url, "dingtalk"), message(link=None))
    [req] = received()
    assert set(req.query) == {"access_token"}
    assert req.json()["markdown"]["text"] == f"### {TITLE}\n\n{BODY}"
    assert req.json()["at"] == {"atMobiles": [], "isAtAll": False}


def test_wecom_markdown_payload(robot):
    url, received = robot({"errcode": 0, "errmsg": "ok"}, query="?key=wecom-key-0123456789")
    assert post(hook(url, "wecom"), message()) == "wecom errcode 0"
    [req] = received()
    assert req.json() == {
        "msgtype": "markdown",
        "markdown": {
            "content": f'### <font color="warning">{TITLE}</font>\n{BODY}\n[在驾驶舱中查看]({LINK})'
        },
    }
    post(hook(url, "wecom"), message(level="bulletin", title="数据通报", link=None))
    assert received()[1].json()["markdown"]["content"] == f"### 数据通报\n{BODY}"


def test_wecom_mentions_by_mobile_go_as_text(robot):
    url, received = robot({"errcode": 0, "errmsg": "ok"}, query="?key=k")
    post(hook(url, "wecom"), message(at_mobiles=("13800000001", "13800000002")))
    [req] = received()
    assert req.json() == {
        "msgtype": "text",
        "text": {
            "content": f"{TITLE}\n\n{to_text(BODY)}\n\n在驾驶舱中查看：{LINK}",
            "mentioned_mobile_list": ["13800000001", "13800000002"],
        },
    }


def test_feishu_card_signed_in_the_body(robot):
    url, received = robot({"code": 0, "msg": "success", "data": {}})
    secret = "feishu-secret-0123456789"
    assert post(hook(url, "feishu", secret), message()) == "feishu code 0"
    [req] = received()
    body = req.json()
    assert body["timestamp"] == str(NOW_S)
    key = f"{body['timestamp']}\n{secret}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert {k: v for k, v in body.items() if k not in ("timestamp", "sign")} == {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": TITLE}, "template": "red"},
            "elements": [
                {
                    "tag": "markdown",
                    "content": BODY.replace("### 全程网办率 低于目标", "**全程网办率 低于目标**"),
                },
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": "在驾驶舱中查看"},
                            "type": "primary",
                            "url": LINK,
                        }
                    ],
                },
            ],
        },
    }
    assert req.query == {}


@pytest.mark.parametrize(
    ("level", "template"), [("bulletin", "blue"), ("resolved", "green"), ("reminder", "orange")]
)
def test_feishu_header_colour_follows_the_level(robot, level, template):
    url, received = robot({"StatusCode": 0, "StatusMessage": "success"})  # the old API's answer
    assert post(hook(url, "feishu"), message(level=level, link=None)) == "feishu code 0"
    card = received()[0].json()["card"]
    assert card["header"]["template"] == template
    assert [e["tag"] for e in card["elements"]] == ["markdown"]


def test_json_payload_and_signature_header(robot):
    url, received = robot(None, status=204)
    assert send("hook", hook(url, "json"), message(level="resolved"), now=NOW) == "json http 204"
    [req] = received()
    assert req.json() == {"title": TITLE, "markdown": BODY, "link": LINK, "level": "resolved"}
    assert "X-Cockpit-Signature" not in req.headers

    send("hook", hook(url, "json", "json-secret-123"), message(), now=NOW)
    signed = received()[1]
    assert signed.headers["X-Cockpit-Timestamp"] == str(NOW_S)
    mac = hmac.new(b"json-secret-123", f"{NOW_S}.".encode() + signed.body, hashlib.sha256).hexdigest()
    assert signed.headers["X-Cockpit-Signature"] == f"sha256={mac}"


@pytest.mark.parametrize(
    ("fmt", "body", "status", "retryable"),
    [
        ("dingtalk", {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, 200, True),
        ("dingtalk", {"errcode": 410100, "errmsg": "发送速度太快而限流"}, 200, True),
        ("dingtalk", {"errcode": -1, "errmsg": "系统繁忙"}, 200, True),
        ("dingtalk", {"errcode": 310000, "errmsg": "sign not match"}, 200, False),
        ("dingtalk", {"errcode": 310000, "errmsg": "keywords not in content"}, 200, False),
        ("dingtalk", {"errcode": 300001, "errmsg": "token is not exist"}, 200, False),
        ("dingtalk", "ok", 200, False),
        ("wecom", {"errcode": 45009, "errmsg": "api freq out of limit"}, 200, True),
        ("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, 200, False),
        ("wecom", {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}, 200, False),
        (
            "feishu",
            {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"},
            200,
            True,
        ),
        ("feishu", {"code": 11232, "msg": "frequency limited"}, 400, True),
        ("feishu", {"code": 9499, "msg": "too many request"}, 200, True),
        ("feishu", {"code": 9499, "msg": "Bad Request", "data": {}}, 400, False),
        ("feishu", {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}, 200, False),
        ("feishu", {"code": 19024, "msg": "Key Words Not Found"}, 200, False),
        ("dingtalk", {"error": "bad gateway"}, 502, True),
        ("wecom", "", 503, True),
        ("feishu", {"code": 0}, 500, True),
        ("json", {"error": "x"}, 500, True),
        ("json", {"error": "slow down"}, 429, True),
        ("json", {"error": "not found"}, 404, False),
        ("json", {"error": "bad"}, 400, False),
        ("json", {"error": "who?"}, 401, False),
    ],
)
def test_failures_say_whether_a_retry_can_help(robot, fmt, body, status, retryable):
    url, received = robot(body, status=status, query="?access_token=tok-0123456789abcdef")
    with pytest.raises(DeliveryError) as e:
        post(hook(url, fmt, "SECsecretsecretsecret"), message())
    assert e.value.retryable is retryable, e.value.detail
    assert e.value.channel == "duty_robot"
    code = body.get("errcode", body.get("code")) if isinstance(body, dict) else None
    if code is not None:
        assert str(code) in e.value.detail
    elif status != 200:
        assert f"http {status}" in e.value.detail
    assert "tok-0123456789abcdef" not in str(e.value) and "SECsecret" not in str(e.value)
    assert len(received()) == 1  # delivered once: no retries inside


def test_error_detail_never_echoes_a_secret(robot):
    token = "abcdef0123456789abcdef0123456789"
    url, _ = robot(
        {"errcode": 300001, "errmsg": f"access_token {token} is not exist"}, query=f"?access_token={token}"
    )
    with pytest.raises(DeliveryError) as e:
        post(hook(url, "dingtalk", "SECtopsecret000"), message())
    assert token not in str(e.value) and "***" in e.value.detail
    assert not e.value.retryable


def test_feishu_token_in_the_path_stays_out_of_errors():
    url = f"http://{LOOPBACK}:{free_port()}/open-apis/bot/v2/hook/6b1e5a2c-2f4e-4e0b-9a77-0123456789ab"
    with pytest.raises(DeliveryError) as e:
        post(hook(url, "feishu"), message())
    assert e.value.retryable is True
    assert "6b1e5a2c" not in str(e.value) and "/open-apis/bot/v2/hook/…" in e.value.detail


def test_timeout_is_retryable(http_json_server, request):
    path = f"/robots/{request.node.name}"
    url = http_json_server.add(path, {"errcode": 0}, delay=1.5)
    with pytest.raises(DeliveryError) as e:
        webhook.deliver("r", hook(url, "dingtalk"), message(), now=NOW, timeout=0.3, limiter=RateLimiter())
    assert e.value.retryable is True and "timed out" in e.value.detail


def test_closed_connection_is_retryable(http_json_server, request):
    url = http_json_server.add_close(f"/robots/{request.node.name}")
    with pytest.raises(DeliveryError) as e:
        post(hook(url, "wecom"), message())
    assert e.value.retryable is True


def test_redirect_is_not_followed(robot):
    url, received = robot("", status=302)
    with pytest.raises(DeliveryError) as e:
        post(hook(url, "json"), message())
    assert not e.value.retryable and "302" in e.value.detail


# ---------------------------------------------------------------------------- rate limits


def test_the_21st_dingtalk_message_in_a_minute_waits(robot):
    url, received = robot({"errcode": 0, "errmsg": "ok"}, query="?access_token=t1")
    fake = FakeClock()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    sent_before_sleep: list[int] = []
    fake.on_sleep = lambda: sent_before_sleep.append(len(received()))
    for _ in range(20):
        post(hook(url, "dingtalk"), message(), limiter=limiter)
        fake.now += 1  # one a second
    assert fake.sleeps == []
    post(hook(url, "dingtalk"), message(), limiter=limiter)
    # the 21st waits until the first leaves the 60-second window (sent at 1000, now 1020)
    assert fake.sleeps == [40.0] and sent_before_sleep == [20]
    assert len(received()) == 21


def test_feishu_allows_five_a_second_and_a_hundred_a_minute():
    fake = FakeClock()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    rates = webhook.VENDOR_RATES["feishu"]
    for _ in range(6):
        limiter.acquire("feishu-robot", rates)
    assert fake.sleeps == [1.0]
    for _ in range(94):
        limiter.acquire("feishu-robot", rates)
    assert fake.now < 1060
    limiter.acquire("feishu-robot", rates)  # the 101st within the minute
    assert fake.now == pytest.approx(1060.0)


def test_limits_are_per_robot_and_keys_hold_no_token():
    fake = FakeClock()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    a = "https://oapi.dingtalk.com/robot/send?access_token=aaaaaaaaaaaaaaaa"
    b = "https://oapi.dingtalk.com/robot/send?access_token=bbbbbbbbbbbbbbbb"
    for url in (a, b):
        for _ in range(20):
            limiter.acquire(limiter_key(url), webhook.VENDOR_RATES["dingtalk"])
    assert fake.sleeps == []
    assert limiter_key(a) != limiter_key(b)
    assert "aaaaaaaa" not in limiter_key(a) and limiter_key(a).startswith(
        "https://oapi.dingtalk.com/robot/send?…#"
    )
    assert limiter.acquire("json", webhook.VENDOR_RATES["json"]) == 0.0


def test_sliding_window_frees_slots_one_by_one():
    fake = FakeClock()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    rate = (Rate(3, 10),)
    for step in (0, 2, 4):
        fake.now = 1000.0 + step
        limiter.acquire("k", rate)
    fake.now = 1005.0
    assert limiter.acquire("k", rate) == pytest.approx(5.0)  # until the request at 1000 is 10 s old
    assert limiter.acquire("k", rate) == pytest.approx(2.0)  # then until the one at 1002 is


# ---------------------------------------------------------------------------- size limits


def test_fit_utf8_cuts_at_a_character_boundary():
    text = "全程网办率" * 50  # 3 bytes a character
    for limit in range(40, 120):
        cut = fit_utf8(text, limit)
        assert len(cut.encode()) <= limit
        assert cut.endswith(TRUNCATION_NOTE)
        assert cut.removesuffix(TRUNCATION_NOTE).rstrip().strip("全程网办率") == ""
    assert fit_utf8("短", 10) == "短"


def test_long_wecom_and_dingtalk_messages_are_truncated_keeping_the_link(robot):
    long_body = "\n".join(f"- 第{i}个乡镇 全程网办率 低于目标" for i in range(2000))
    for fmt, field, limit in (("wecom", "content", 4096), ("dingtalk", "text", 20000)):
        url, received = robot({"errcode": 0, "errmsg": "ok"})
        post(hook(url, fmt), message(markdown=long_body))
        sent = received()[0].json()["markdown"][field]
        assert len(sent.encode()) <= limit
        assert f"{TRUNCATION_NOTE}\n" in sent and sent.endswith(f"[在驾驶舱中查看]({LINK})")
        assert "\n- 第" in sent and "低于目标\n\n…" in sent  # cut at a line end


# ============================================================================ markdown and messages


def test_markdown_renderings():
    md = (
        "# 标题\n\n第一行\n第二行 **粗** *斜* `code`\n\n1. 一\n2. 二\n\n---\n\n[链接](https://x.cn/a?b=1&c=2)"
    )
    html = to_html(md)
    assert "第一行<br>第二行 <strong>粗</strong> <em>斜</em>" in html
    assert "<ol" in html and "<li" in html and "<hr" in html
    assert 'href="https://x.cn/a?b=1&amp;c=2"' in html
    text = to_text(md)
    assert text.splitlines()[:3] == ["标题", "", "第一行"]
    assert "  1. 一" in text and "链接（https://x.cn/a?b=1&c=2）" in text


def test_message_checks_its_level():
    with pytest.raises(ValueError):
        Message(title="t", markdown="m", level="urgent")
    assert Message(title="a\nb", markdown="").one_line_title == "a b"


def test_unknown_channel_type_is_a_permanent_failure():
    with pytest.raises(DeliveryError) as e:
        send("x", object(), message())  # type: ignore[arg-type]
    assert e.value.retryable is False


# ============================================================================ chart


@pytest.fixture(scope="module")
def chart_png() -> bytes:
    from alerts.chart import indicator_chart_png

    series = [(f"2025-{m:02d}", 86.0 - m * 0.1) for m in range(9, 13)]
    series += [(f"2026-{m:02d}", None if m == 4 else 85.0 - m * 0.3) for m in range(1, 11)]
    return indicator_chart_png(
        series, title="东湖县 全程网办率（%）", unit="%", target=90, highlight="2026-10"
    )


def test_chart_is_a_small_png(chart_png):
    assert chart_png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", chart_png[16:24])
    assert (width, height) == (1280, 520)  # 640 × 260 at scale 2
    assert 10_000 < len(chart_png) < 400_000


def test_chart_renders_edge_cases_with_chinese_text():
    from alerts.chart import indicator_chart_png

    png = indicator_chart_png(
        [("一月", None), ("二月", 3.5)], title="企业开办时长", unit="天'\"", highlight="二月"
    )
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert indicator_chart_png([], title="无数据", unit="%", target=90)[:4] == b"\x89PNG"
