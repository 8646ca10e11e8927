"""Group robots and plain webhooks: DingTalk, WeCom (企业微信), Feishu (飞书) and JSON.

One POST of one JSON document per push, in the payload each vendor documents:

=========  ==================================================================================
dingtalk   ``{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {"atMobiles", "isAtAll"}}``;
           the link is the last line of the text. With ``secret``: ``timestamp`` (ms) and ``sign``
           added to the URL's query.
wecom      ``{"msgtype": "markdown", "markdown": {"content"}}``; with ``at_mobiles``
           ``{"msgtype": "text", "text": {"content", "mentioned_mobile_list"}}`` instead (WeCom's
           markdown cannot mention by mobile number).
feishu     ``{"msg_type": "interactive", "card": {header, elements}}`` with a button; with
           ``secret``: ``timestamp`` (s) and ``sign`` in the body.
json       ``{"title", "markdown", "link", "level"}``; with ``secret``: ``X-Cockpit-Timestamp``
           and ``X-Cockpit-Signature`` headers.
=========  ==================================================================================

Robots limit how fast they may be called; :class:`RateLimiter` keeps each robot under its limit
by waiting for a free slot before sending (one limiter per process, keyed by robot).
See ``docs/channels.md``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

import requests

from alerts.channels import LINK_LABEL, DeliveryError, Message
from alerts.channels.markdown import to_text
from metrics.catalogue.spec import WebhookChannel

TRUNCATION_NOTE = "…（内容过长，已截断）"

# UTF-8 byte limits of the markdown each vendor accepts. DingTalk documents none precisely
# (about 20000 bytes is what it takes); WeCom: markdown content 4096 bytes, text 2048;
# Feishu: the whole request body at most 20 KB, so the card's markdown gets 18000.
MARKDOWN_LIMITS = {"dingtalk": 20000, "wecom": 4096, "feishu": 18000}
WECOM_TEXT_LIMIT = 2048

# Vendor result codes worth trying again later: rate limits and "system busy".
DINGTALK_RETRYABLE = frozenset({-1, 130101, 130102, 410100})  # 130101/410100 send too fast
WECOM_RETRYABLE = frozenset({-1, 45009, 45033})  # 45009 api freq out of limit, 45033 concurrency
FEISHU_RETRYABLE = frozenset({11232, 9499})  # 11232 frequency limited, 9499 too many requests

WECOM_COLOURS = {"special": "warning", "resolved": "info"}  # WeCom has three: info, comment, warning
FEISHU_TEMPLATES = {"special": "red", "bulletin": "blue", "resolved": "green", "reminder": "orange"}


# --------------------------------------------------------------------------------- rate limits


@dataclass(frozen=True)
class Rate:
    """At most ``count`` requests in any ``seconds``-long window."""

    count: int
    seconds: float


VENDOR_RATES: dict[str, tuple[Rate, ...]] = {
    "dingtalk": (Rate(20, 60),),
    "wecom": (Rate(20, 60),),
    "feishu": (Rate(100, 60), Rate(5, 1)),
    "json": (),
}


class RateLimiter:
    """Sliding-window limits per key; :meth:`acquire` waits until every window has room.

    The clock and the sleep are injectable so that tests run without waiting: ``clock()`` returns
    seconds (monotonic), ``sleep(s)`` waits that long. Thread-safe; a caller sleeps outside the lock.

    Examples
    --------
    >>> t = [0.0]
    >>> lim = RateLimiter(clock=lambda: t[0], sleep=lambda s: t.__setitem__(0, t[0] + s))
    >>> [lim.acquire("robot", (Rate(2, 60),)) for _ in range(3)]
    [0.0, 0.0, 60.0]
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _wait_needed(self, stamps: deque[float], rates: Sequence[Rate], now: float) -> float:
        longest = max(r.seconds for r in rates)
        while stamps and stamps[0] <= now - longest:
            stamps.popleft()
        wait = 0.0
        for rate in rates:
            recent = [s for s in stamps if s > now - rate.seconds]
            if len(recent) >= rate.count:
                # the slot frees when the oldest request that keeps the window full leaves it
                wait = max(wait, recent[len(recent) - rate.count] + rate.seconds - now)
        return wait

    def acquire(self, key: str, rates: Sequence[Rate]) -> float:
        """Take a slot for ``key`` under every rate, waiting as long as needed; return the wait."""
        if not rates:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                stamps = self._sent.setdefault(key, deque())
                wait = self._wait_needed(stamps, rates, now)
                if wait <= 0:
                    stamps.append(now)
                    return waited
            self.sleep(wait)
            waited += wait


DEFAULT_LIMITER = RateLimiter()


# --------------------------------------------------------------------------------- URLs and secrets


def redact_url(url: str) -> str:
    """The URL fit for a message or a log: no user info, no query, long path tokens hidden."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    path = "/".join("…" if len(seg) >= 16 else seg for seg in parts.path.split("/"))
    return urlunsplit((parts.scheme, host, path, "…" if parts.query else "", ""))


def limiter_key(url: str) -> str:
    """One key per robot: its redacted URL and a hash of the full one (tokens differ per robot)."""
    return f"{redact_url(url)}#{hashlib.sha256(url.encode()).hexdigest()[:16]}"


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Base64 of HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"), not yet URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """``url`` with ``timestamp`` and ``sign`` appended to its query (the rest kept as written)."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] not in ("timestamp", "sign")]
    kept += [f"timestamp={timestamp_ms}", f"sign={quote_plus(dingtalk_sign(secret, timestamp_ms))}"]
    return urlunsplit(parts._replace(query="&".join(kept)))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Base64 of HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"") as Feishu documents."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def json_signature(secret: str, timestamp_s: int, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256(key=secret, msg=f"{timestamp}.".encode() + body)."""
    return (
        "sha256=" + hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256).hexdigest()
    )


# --------------------------------------------------------------------------------- payloads


def fit_utf8(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` UTF-8 bytes, else cut at a character boundary (at a line
    end when one is near) and closed with the truncation note."""
    if len(text.encode()) <= limit:
        return text
    note = "\n\n" + TRUNCATION_NOTE
    budget = max(0, limit - len(note.encode()))
    cut = text.encode()[:budget].decode("utf-8", "ignore")
    line_end = cut.rfind("\n")
    if line_end >= len(cut) // 2:
        cut = cut[:line_end]
    return cut.rstrip() + note


def _fit(head: str, body: str, tail: str, limit: int) -> str:
    room = limit - len(head.encode()) - len(tail.encode())
    return head + fit_utf8(body, max(room, 0)) + tail


def dingtalk_payload(message: Message) -> dict[str, Any]:
    head = f"### {message.one_line_title}\n\n"
    tail = f"\n\n[{LINK_LABEL}]({message.link})" if message.link else ""
    if message.at_mobiles:
        # DingTalk highlights a mention only when "@mobile" also stands in the text
        tail += "\n\n" + " ".join(f"@{m}" for m in message.at_mobiles)
    return {
        "msgtype": "markdown",
        "markdown": {
            "title": message.one_line_title,
            "text": _fit(head, message.markdown, tail, MARKDOWN_LIMITS["dingtalk"]),
        },
        "at": {"atMobiles": list(message.at_mobiles), "isAtAll": False},
    }


def wecom_payload(message: Message) -> dict[str, Any]:
    title = message.one_line_title
    if message.at_mobiles:
        head = f"{title}\n\n"
        tail = f"\n\n{LINK_LABEL}：{message.link}" if message.link else ""
        content = _fit(head, to_text(message.markdown), tail, WECOM_TEXT_LIMIT)
        return {
            "msgtype": "text",
            "text": {"content": content, "mentioned_mobile_list": list(message.at_mobiles)},
        }
    colour = WECOM_COLOURS.get(message.level)
    head = f'### <font color="{colour}">{title}</font>\n' if colour else f"### {title}\n"
    tail = f"\n[{LINK_LABEL}]({message.link})" if message.link else ""
    return {
        "msgtype": "markdown",
        "markdown": {"content": _fit(head, message.markdown, tail, MARKDOWN_LIMITS["wecom"])},
    }


_MD_HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.M)


def feishu_payload(message: Message) -> dict[str, Any]:
    # The card's markdown element has no headings: a heading becomes a bold line.
    body = _MD_HEADING.sub(lambda m: f"**{m[1].strip()}**", message.markdown)
    elements: list[dict[str, Any]] = [
        {"tag": "markdown", "content": fit_utf8(body, MARKDOWN_LIMITS["feishu"])}
    ]
    if message.link:
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": LINK_LABEL},
                        "type": "primary",
                        "url": message.link,
                    }
                ],
            }
        )
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": message.one_line_title},
                "template": FEISHU_TEMPLATES[message.level],
            },
            "elements": elements,
        },
    }


def json_payload(message: Message) -> dict[str, Any]:
    return {
        "title": message.one_line_title,
        "markdown": message.markdown,
        "link": message.link,
        "level": message.level,
    }


PAYLOADS: dict[str, Callable[[Message], dict[str, Any]]] = {
    "dingtalk": dingtalk_payload,
    "wecom": wecom_payload,
    "feishu": feishu_payload,
    "json": json_payload,
}


def build_request(
    channel: WebhookChannel, message: Message, *, now: dt.datetime
) -> tuple[str, bytes, dict[str, str]]:
    """The URL, body and headers of the POST, signed when the channel has a ``secret``."""
    payload = PAYLOADS[channel.format](message)
    url = channel.url
    headers = {"Content-Type": "application/json; charset=utf-8"}
    seconds = int(now.timestamp())
    if channel.secret and channel.format == "dingtalk":
        url = dingtalk_signed_url(url, channel.secret, int(now.timestamp() * 1000))
    elif channel.secret and channel.format == "feishu":
        payload = {"timestamp": str(seconds), "sign": feishu_sign(channel.secret, seconds), **payload}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    if channel.secret and channel.format == "json":
        headers["X-Cockpit-Timestamp"] = str(seconds)
        headers["X-Cockpit-Signature"] = json_signature(channel.secret, seconds, body)
    # wecom: the robot's key in the URL is its only credential; a secret has nothing to sign.
    return url, body, headers


# --------------------------------------------------------------------------------- responses


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        if s and len(s) >= 6:
            text = text.replace(s, "***")
    return " ".join(text.split())[:160]


def _secrets_of(channel: WebhookChannel, url: str) -> list[str]:
    parts = urlsplit(url)
    found = [channel.secret or "", parts.password or ""]
    found += [p.split("=", 1)[1] for p in parts.query.split("&") if "=" in p]
    found += [seg for seg in parts.path.split("/") if len(seg) >= 16]
    return sorted(found, key=len, reverse=True)


def _vendor_code(fmt: str, data: Any) -> tuple[int | None, str]:
    if not isinstance(data, dict):
        return None, ""
    if fmt in ("dingtalk", "wecom"):
        code, msg = data.get("errcode"), data.get("errmsg", "")
    else:  # feishu: "code", or only "StatusCode" from the old API
        code = data.get("code", data.get("StatusCode"))
        msg = data.get("msg", data.get("StatusMessage", ""))
    return (code if isinstance(code, int) and not isinstance(code, bool) else None), str(msg or "")


def _vendor_retryable(fmt: str, code: int, msg: str) -> bool:
    if fmt == "dingtalk":
        return code in DINGTALK_RETRYABLE
    if fmt == "wecom":
        return code in WECOM_RETRYABLE
    # Feishu answers 9499 "Bad Request" to a malformed or too large body: that does not pass later.
    return code in FEISHU_RETRYABLE and not (code == 9499 and "bad request" in msg.lower())


def interpret(name: str, fmt: str, status: int, body: bytes, secrets: Sequence[str] = ()) -> str:
    """The receipt of a response, or the :class:`DeliveryError` it means."""
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        data = None
    code, msg = _vendor_code(fmt, data) if fmt != "json" else (None, "")
    said = f"{fmt} {'code' if fmt == 'feishu' else 'errcode'} {code}" if code is not None else ""
    if said and msg:
        said += f": {_scrub(msg, secrets)}"
    if status >= 500 or status in (408, 429):
        raise DeliveryError(name, f"http {status}" + (f" ({said})" if said else ""), retryable=True)
    if fmt == "json":
        if 200 <= status < 300:
            return f"json http {status}"
        raise DeliveryError(name, f"http {status}", retryable=False)
    if code is None:
        what = "an answer without a result code" if 200 <= status < 300 else f"http {status}"
        raise DeliveryError(name, f"{fmt} robot gave {what}", retryable=False)
    if code == 0 and 200 <= status < 300:
        return f"{fmt} {'code' if fmt == 'feishu' else 'errcode'} 0"
    raise DeliveryError(
        name,
        said if 200 <= status < 300 else f"http {status} ({said})",
        retryable=code != 0 and _vendor_retryable(fmt, code, msg),
    )


# --------------------------------------------------------------------------------- delivery


def deliver(
    name: str,
    channel: WebhookChannel,
    message: Message,
    *,
    now: dt.datetime,
    timeout: float = 10,
    limiter: RateLimiter | None = None,
) -> str:
    """POST ``message`` to the robot once (after waiting for a rate-limit slot); return the receipt.

    ``limiter`` defaults to the process-wide :data:`DEFAULT_LIMITER`; tests pass their own with a
    fake clock. Raises :class:`DeliveryError`.
    """
    fmt = channel.format
    url, body, headers = build_request(channel, message, now=now)
    secrets = _secrets_of(channel, url)
    where = redact_url(channel.url)
    (limiter or DEFAULT_LIMITER).acquire(limiter_key(channel.url), VENDOR_RATES[fmt])
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.exceptions.SSLError:
        raise DeliveryError(name, f"TLS with {where} failed (certificate?)", retryable=False) from None
    except requests.exceptions.Timeout:
        raise DeliveryError(name, f"{where} timed out after {timeout:g}s", retryable=True) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError):
        raise DeliveryError(name, f"cannot reach {where} (connection failed)", retryable=True) from None
    except requests.exceptions.RequestException as e:
        raise DeliveryError(name, f"cannot post to {where}: {type(e).__name__}", retryable=False) from None
    with response:
        if 300 <= response.status_code < 400:
            raise DeliveryError(
                name, f"http {response.status_code} redirect from {where} (not followed)", retryable=False
            )
        return interpret(name, fmt, response.status_code, response.content, secrets)
