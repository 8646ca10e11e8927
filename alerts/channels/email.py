"""Mail over SMTP: one multipart message per push, the chart inline.

The message is ``multipart/alternative``: a ``text/plain`` part rendered from the markdown, and
a ``multipart/related`` holding the ``text/html`` part and, when there is a chart, the PNG that
the HTML shows through ``cid:``. The HTML is a single 640-pixel table with inline styles only,
the layout Outlook, Foxmail and phone clients all render the same; the link is a button
「在驾驶舱中查看」 with the address written out below it for clients that block buttons.

Delivery is all or nothing: every recipient must be accepted before the message is sent, else
the transaction is reset and nothing is delivered, so a retry can never mail anyone twice.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import html
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from alerts.channels import LINK_LABEL, DeliveryError, Message
from alerts.channels.markdown import FONT, TEXT_COLOUR, to_html, to_text
from metrics.catalogue.spec import EmailChannel

LEVEL_LABELS = {"special": "特别呈报", "bulletin": "数据通报", "resolved": "已恢复", "reminder": "提醒"}
LEVEL_COLOURS = {"special": "#c9302c", "bulletin": "#1f5fbf", "resolved": "#2e7d32", "reminder": "#b25e09"}
FOOTER = "本邮件由领导驾驶舱自动发送，请勿直接回复。"


# --------------------------------------------------------------------------------- the message


def _domain(address: str) -> str:
    addr = parseaddr(address)[1]
    return addr.rpartition("@")[2] or "localhost"


def render_html(message: Message, chart_cid: str | None = None) -> str:
    """The complete HTML document of the mail (inline CSS only)."""
    colour = LEVEL_COLOURS[message.level]
    title = html.escape(message.one_line_title)
    body = message.html if message.html is not None else to_html(message.markdown)
    cell = f"font-family:{FONT};color:{TEXT_COLOUR};"
    rows = [
        f'<tr><td bgcolor="{colour}" style="background:{colour};padding:10px 24px;{cell}'
        f'font-size:14px;font-weight:bold;letter-spacing:2px;color:#ffffff;">'
        f"{LEVEL_LABELS[message.level]}</td></tr>",
        f'<tr><td style="padding:20px 24px 8px 24px;{cell}font-size:20px;line-height:1.5;'
        f'font-weight:bold;">{title}</td></tr>',
        f'<tr><td style="padding:8px 24px 4px 24px;{cell}font-size:15px;line-height:1.7;">{body}</td></tr>',
    ]
    if chart_cid is not None:
        rows.append(
            f'<tr><td style="padding:4px 24px 12px 24px;">'
            f'<img src="cid:{html.escape(chart_cid, quote=True)}" width="592" alt="{title} 走势图" '
            f'style="display:block;width:100%;max-width:592px;height:auto;border:0;outline:none;">'
            f"</td></tr>"
        )
    if message.link:
        href = html.escape(message.link, quote=True)
        rows.append(
            '<tr><td style="padding:8px 24px 20px 24px;">'
            '<table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr>'
            f'<td bgcolor="{colour}" style="background:{colour};border-radius:4px;">'
            f'<a href="{href}" target="_blank" style="display:inline-block;padding:10px 28px;'
            f"font-family:{FONT};font-size:15px;font-weight:bold;color:#ffffff;"
            f'text-decoration:none;">{LINK_LABEL}</a></td></tr></table>'
            f'<p style="margin:10px 0 0 0;font-family:{FONT};font-size:12px;line-height:1.6;'
            f'color:#86909c;word-break:break-all;">若按钮无法打开，请复制此链接到浏览器：'
            f'<a href="{href}" style="color:#86909c;">{html.escape(message.link)}</a></p>'
            "</td></tr>"
        )
    rows.append(
        f'<tr><td style="padding:12px 24px;border-top:1px solid #e5e6eb;font-family:{FONT};'
        f'font-size:12px;line-height:1.6;color:#86909c;">{FOOTER}</td></tr>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title></head>\n"
        '<body style="margin:0;padding:0;background:#f2f3f5;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'bgcolor="#f2f3f5" style="background:#f2f3f5;"><tr><td align="center" style="padding:24px 8px;">\n'
        '<table role="presentation" width="640" cellpadding="0" cellspacing="0" border="0" '
        'bgcolor="#ffffff" style="width:100%;max-width:640px;background:#ffffff;border-collapse:collapse;">\n'
        + "\n".join(rows)
        + "\n</table>\n</td></tr></table>\n</body></html>\n"
    )


def render_text(message: Message) -> str:
    """The text/plain part: the title, the body without markdown markers, the link written out."""
    text = message.one_line_title + "\n\n" + to_text(message.markdown)
    if message.link:
        text += f"\n\n{LINK_LABEL}：{message.link}"
    return text + f"\n\n-- \n{FOOTER}\n"


def build_message(channel: EmailChannel, message: Message, *, now: dt.datetime) -> EmailMessage:
    """The MIME message for ``channel``'s sender and recipients."""
    domain = _domain(channel.sender)
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Subject"] = message.one_line_title
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.to)
    mail["Date"] = format_datetime(now if now.tzinfo else now.astimezone())
    mail["Message-ID"] = make_msgid(idstring="cockpit", domain=domain)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    # base64 rather than 8bit: no reliance on the relay's 8BITMIME, and a third shorter than QP for Chinese.
    mail.set_content(render_text(message), subtype="plain", charset="utf-8", cte="base64")
    cid = make_msgid(idstring="chart", domain=domain)[1:-1] if message.chart_png else None
    mail.add_alternative(render_html(message, cid), subtype="html", charset="utf-8", cte="base64")
    if message.chart_png and cid:
        html_part = mail.get_payload()[1]
        html_part.add_related(
            message.chart_png,
            maintype="image",
            subtype="png",
            cid=f"<{cid}>",
            disposition="inline",
            filename="chart.png",
        )
    if message.attachment:
        name, data, mime = message.attachment
        maintype, _, subtype = mime.partition("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=name)
    return mail


# --------------------------------------------------------------------------------- delivery


def _retryable_code(code: int) -> bool:
    return 400 <= code < 500


def _reply(code: int, text: bytes | str) -> str:
    msg = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(msg.split())[:120]}"


def _connect(
    name: str, channel: EmailChannel, timeout: float, context: ssl.SSLContext | None
) -> smtplib.SMTP:
    # The HELO name is the host name as configured, not socket.getfqdn(): that DNS round trip can
    # take seconds on a machine without reverse DNS, on every push.
    helo = socket.gethostname() or "localhost"
    if channel.tls == "ssl":
        return smtplib.SMTP_SSL(
            channel.host,
            channel.port,
            local_hostname=helo,
            timeout=timeout,
            context=context or ssl.create_default_context(),
        )
    smtp = smtplib.SMTP(channel.host, channel.port, local_hostname=helo, timeout=timeout)
    if channel.tls == "starttls":
        try:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise DeliveryError(
                    name, "the server does not offer STARTTLS (tls: starttls)", retryable=False
                )
            smtp.starttls(context=context or ssl.create_default_context())
            smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
    return smtp


def deliver(
    name: str,
    channel: EmailChannel,
    message: Message,
    *,
    now: dt.datetime,
    timeout: float = 10,
    ssl_context: ssl.SSLContext | None = None,
) -> str:
    """Send ``message`` to every address in ``channel.to``; return ``"smtp 250 …"``.

    ``ssl_context`` is a hook for tests (a context trusting a test certificate). Without it the
    server's certificate and host name are checked against the system's trusted CAs, always.
    """
    envelope_from = parseaddr(channel.sender)[1] or channel.sender
    if not channel.to:
        raise DeliveryError(name, "no recipients (to: is empty)", retryable=False)
    data = build_message(channel, message, now=now).as_bytes(policy=email.policy.SMTP)
    smtp: smtplib.SMTP | None = None
    talking = True  # False once the connection is broken: then close it rather than wait on QUIT
    try:
        smtp = _connect(name, channel, timeout, ssl_context)
        smtp.ehlo_or_helo_if_needed()
        if channel.username:
            smtp.login(channel.username, channel.password or "")
        options = [f"SIZE={len(data)}"] if smtp.has_extn("size") else []
        code, reply = smtp.mail(envelope_from, options)
        if code != 250:
            smtp.rset()
            raise DeliveryError(
                name,
                f"sender <{envelope_from}> refused: {_reply(code, reply)}",
                retryable=_retryable_code(code),
            )
        refused: dict[str, tuple[int, bytes]] = {}
        for rcpt in channel.to:
            code, reply = smtp.rcpt(parseaddr(rcpt)[1] or rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, reply)
        if refused:
            # Nothing is sent unless everyone can have it: a retry then never mails anyone twice.
            smtp.rset()
            listed = "; ".join(f"<{a}> {_reply(c, r)}" for a, (c, r) in refused.items())
            raise DeliveryError(
                name,
                f"{len(refused)} of {len(channel.to)} recipients refused, nothing sent: {listed}",
                retryable=all(_retryable_code(c) for c, _ in refused.values()),
            )
        code, reply = smtp.data(data)
        if code != 250:
            raise DeliveryError(
                name, f"message refused: {_reply(code, reply)}", retryable=_retryable_code(code)
            )
        receipt = f"smtp {_reply(code, reply)}"
    except smtplib.SMTPAuthenticationError as e:
        raise DeliveryError(
            name,
            f"login refused: {_reply(e.smtp_code, e.smtp_error)}",
            retryable=_retryable_code(e.smtp_code),
        ) from None
    except smtplib.SMTPNotSupportedError as e:
        raise DeliveryError(name, f"not supported by the server: {e}", retryable=False) from None
    except smtplib.SMTPResponseException as e:
        raise DeliveryError(
            name, f"server said {_reply(e.smtp_code, e.smtp_error)}", retryable=_retryable_code(e.smtp_code)
        ) from None
    except smtplib.SMTPServerDisconnected:
        talking = False
        raise DeliveryError(
            name, f"{channel.host}:{channel.port} closed the connection", retryable=True
        ) from None
    except smtplib.SMTPException as e:
        # SMTPException without a code: e.g. no AUTH mechanism in common with the server.
        raise DeliveryError(name, f"SMTP error: {e}", retryable=False) from None
    except ssl.SSLCertVerificationError as e:
        talking = False
        raise DeliveryError(
            name, f"TLS certificate of {channel.host} not trusted: {e.verify_message}", retryable=False
        ) from None
    except ssl.SSLError as e:
        talking = False
        raise DeliveryError(
            name,
            f"TLS with {channel.host}:{channel.port} failed ({e.reason or 'handshake'}): is tls: right for this port?",
            retryable=False,
        ) from None
    except TimeoutError:
        talking = False
        raise DeliveryError(
            name, f"{channel.host}:{channel.port} timed out after {timeout:g}s", retryable=True
        ) from None
    except OSError as e:
        talking = False
        reason = e.strerror or type(e).__name__
        raise DeliveryError(
            name, f"cannot reach {channel.host}:{channel.port}: {reason}", retryable=True
        ) from None
    finally:
        if smtp is not None:
            try:
                if talking:
                    smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            smtp.close()
    return receipt
