"""Push channels: how one message reaches a mailbox or a group robot, once.

Each channel kind is one module that knows only how to format and deliver:

- :mod:`alerts.channels.email`    SMTP (``tls: none | starttls | ssl``), multipart mail with an inline chart
- :mod:`alerts.channels.webhook`  DingTalk, WeCom and Feishu robots, and a plain JSON webhook

:func:`send` delivers one :class:`Message` to one configured channel and returns a short receipt,
or raises :class:`DeliveryError`. It never retries: whether and when to try again is the caller's
decision (the alert state keeps the log of what was sent), guided by ``DeliveryError.retryable``.
See ``docs/channels.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metrics.catalogue.spec import EmailChannel, WebhookChannel

LEVELS = ("special", "bulletin", "resolved", "reminder")
LINK_LABEL = "在驾驶舱中查看"


@dataclass(frozen=True)
class Message:
    """One push, in Chinese, independent of the channel it goes to.

    ``markdown`` uses the subset every robot shows alike (see :mod:`alerts.channels.markdown`).
    ``html`` replaces the mail body rendered from ``markdown`` (it is placed inside the mail
    layout, between the title and the chart). ``chart_png`` goes to mail only, inline.
    ``attachment`` (file name, bytes, MIME type) goes to mail only, as an attachment: the whole
    数据通报 as self-contained HTML, where robots get its summary and link.
    """

    title: str
    markdown: str
    link: str | None = None
    html: str | None = None
    chart_png: bytes | None = None
    level: str = "special"
    at_mobiles: tuple[str, ...] = ()
    attachment: tuple[str, bytes, str] | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        if not self.title.strip():
            raise ValueError("a message needs a title")

    @property
    def one_line_title(self) -> str:
        """The title with any line break folded to a space (mail subjects, card headers)."""
        return " ".join(self.title.split())


class DeliveryError(Exception):
    """A push that was not accepted.

    ``retryable`` is True when trying again later may succeed (timeouts, refused or dropped
    connections, HTTP 5xx and 429, SMTP 4xx, a vendor's rate-limit code) and False when it will
    not until someone changes something (HTTP 4xx, SMTP 5xx, a refused signature or keyword, bad
    configuration). ``detail`` is short and never holds a token, key, password or signature.
    """

    def __init__(self, channel: str, detail: str, *, retryable: bool) -> None:
        super().__init__(f"{channel}: {detail}")
        self.channel = channel
        self.detail = detail
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"DeliveryError({self.channel!r}, {self.detail!r}, retryable={self.retryable})"


def send(
    name: str,
    channel: EmailChannel | WebhookChannel,
    message: Message,
    *,
    now: dt.datetime | None = None,
    timeout: float = 10,
) -> str:
    """Deliver ``message`` once over the channel configured as ``name``; return a short receipt.

    ``now`` stamps the mail's Date and the robots' signatures (default: the current time).
    ``timeout`` bounds each network operation in seconds. Raises :class:`DeliveryError`.

    Examples
    --------
    >>> send("duty_robot", channel, Message(title="【特别呈报】…", markdown="…"))  # doctest: +SKIP
    'dingtalk errcode 0'
    """
    now = now if now is not None else dt.datetime.now(dt.UTC)
    kind = getattr(channel, "type", None)
    if kind == "email":
        from alerts.channels import email

        return email.deliver(name, channel, message, now=now, timeout=timeout)  # type: ignore[arg-type]
    if kind == "webhook":
        from alerts.channels import webhook

        return webhook.deliver(name, channel, message, now=now, timeout=timeout)  # type: ignore[arg-type]
    raise DeliveryError(name, f"unknown channel type {kind!r}", retryable=False)


__all__ = ["LEVELS", "LINK_LABEL", "DeliveryError", "Message", "send"]
