"""The small markdown subset every channel understands, and its plain-text and HTML renderings.

A message body is written once, in the subset that DingTalk, WeCom and Feishu robots all show
the same way:

- ``#`` … ``######`` headings, paragraphs (a blank line between them), single line breaks;
- ``- item`` / ``* item`` and ``1. item`` lists, ``> quote`` lines, ``---`` rules;
- ``**bold**``, ``*italic*``, `` `code` ``, ``[text](https://…)`` links (http, https, mailto only).

Anything else is shown as the text it is: the HTML rendering escapes every character it does
not produce itself, so a value such as ``<script>`` or ``a & b`` in a message can never become
markup in a mail client.
"""

from __future__ import annotations

import html
import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^\s*(\d{1,3})[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
# One pass over the inline constructs, so that the text between them is escaped exactly once.
_INLINE = re.compile(
    r"\[(?P<ltext>[^\]\n]+)\]\((?P<url>[^)\s]+)\)"
    r"|\*\*(?P<bold>[^*\n]+?)\*\*"
    r"|`(?P<code>[^`\n]+)`"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*\n]*?)\*(?![\w*])"
)
_SAFE_URL = re.compile(r"^(?:https?://|mailto:)", re.I)

FONT = "'Microsoft YaHei','PingFang SC','Hiragino Sans GB','Noto Sans CJK SC',Arial,sans-serif"
TEXT_COLOUR = "#1f2329"
LINK_COLOUR = "#1a56db"


def safe_url(url: str) -> bool:
    """Only web and mail links become links; ``javascript:`` and the like stay text."""
    return bool(_SAFE_URL.match(url.strip()))


# --------------------------------------------------------------------------------- blocks


def _blocks(md: str) -> list[tuple[str, list[str]]]:
    """Split into (kind, lines) blocks: heading1…6, para, ul, ol, quote, rule."""
    blocks: list[tuple[str, list[str]]] = []
    for raw in md.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if not line.strip():
            blocks.append(("blank", []))
            continue
        if _RULE.match(line):
            blocks.append(("rule", []))
            continue
        m = _HEADING.match(line)
        if m:
            blocks.append((f"heading{len(m[1])}", [m[2].strip()]))
            continue
        for kind, pattern, group in (("ul", _BULLET, 1), ("ol", _ORDERED, 2), ("quote", _QUOTE, 1)):
            m = pattern.match(line)
            if m:
                if blocks and blocks[-1][0] == kind:
                    blocks[-1][1].append(m[group])
                else:
                    blocks.append((kind, [m[group]]))
                break
        else:
            if blocks and blocks[-1][0] == "para":
                blocks[-1][1].append(line.strip())
            else:
                blocks.append(("para", [line.strip()]))
    return [b for b in blocks if b[0] != "blank"]


# --------------------------------------------------------------------------------- plain text


def _inline_text(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m["ltext"] is not None:
            label, url = m["ltext"], m["url"]
            return f"{label}（{url}）" if safe_url(url) and label != url else label
        return m["bold"] or m["code"] or m["em"] or ""

    return _INLINE.sub(repl, text)


def to_text(md: str) -> str:
    """Plain text for the text/plain part of a mail: markers dropped, links written out."""
    out: list[str] = []
    for kind, lines in _blocks(md):
        if kind.startswith("heading"):
            out.append(_inline_text(lines[0]))
        elif kind == "para":
            out.append("\n".join(_inline_text(x) for x in lines))
        elif kind == "ul":
            out.append("\n".join(f"  • {_inline_text(x)}" for x in lines))
        elif kind == "ol":
            out.append("\n".join(f"  {i}. {_inline_text(x)}" for i, x in enumerate(lines, 1)))
        elif kind == "quote":
            out.append("\n".join(f"  | {_inline_text(x)}" for x in lines))
        elif kind == "rule":
            out.append("—" * 20)
    return "\n\n".join(out)


# --------------------------------------------------------------------------------- HTML


def _inline_html(text: str) -> str:
    parts: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        parts.append(html.escape(text[pos : m.start()]))
        pos = m.end()
        if m["ltext"] is not None:
            label, url = m["ltext"], m["url"]
            if safe_url(url):
                parts.append(
                    f'<a href="{html.escape(url, quote=True)}" style="color:{LINK_COLOUR};'
                    f'text-decoration:underline;">{html.escape(label)}</a>'
                )
            else:
                parts.append(html.escape(m[0]))
        elif m["bold"] is not None:
            parts.append(f"<strong>{html.escape(m['bold'])}</strong>")
        elif m["code"] is not None:
            parts.append(
                '<code style="font-family:Consolas,Menlo,monospace;background:#f2f3f5;'
                f'padding:0 3px;">{html.escape(m["code"])}</code>'
            )
        else:
            parts.append(f"<em>{html.escape(m['em'])}</em>")
    parts.append(html.escape(text[pos:]))
    return "".join(parts)


_HEADING_SIZES = {1: 20, 2: 18, 3: 16, 4: 15, 5: 14, 6: 14}


def to_html(md: str) -> str:
    """An HTML fragment with inline styles only (mail clients drop <style> blocks)."""
    # font-family on every block: Outlook does not pass it down from the table cell
    font = f"font-family:{FONT};"
    p_style = f"margin:0 0 12px 0;{font}font-size:15px;line-height:1.7;color:{TEXT_COLOUR};"
    out: list[str] = []
    for kind, lines in _blocks(md):
        if kind.startswith("heading"):
            level = int(kind[-1])
            size = _HEADING_SIZES[level]
            out.append(
                f'<p style="margin:16px 0 8px 0;{font}font-size:{size}px;line-height:1.5;'
                f'font-weight:bold;color:{TEXT_COLOUR};">{_inline_html(lines[0])}</p>'
            )
        elif kind == "para":
            out.append(f'<p style="{p_style}">' + "<br>".join(_inline_html(x) for x in lines) + "</p>")
        elif kind in ("ul", "ol"):
            items = "".join(f'<li style="margin:0 0 4px 0;">{_inline_html(x)}</li>' for x in lines)
            out.append(
                f'<{kind} style="margin:0 0 12px 0;padding-left:24px;{font}font-size:15px;'
                f'line-height:1.7;color:{TEXT_COLOUR};">{items}</{kind}>'
            )
        elif kind == "quote":
            out.append(
                f'<p style="margin:0 0 12px 0;padding:6px 12px;border-left:3px solid #c9cdd4;{font}'
                'background:#f7f8fa;font-size:14px;line-height:1.7;color:#4e5969;">'
                + "<br>".join(_inline_html(x) for x in lines)
                + "</p>"
            )
        elif kind == "rule":
            out.append('<hr style="border:0;border-top:1px solid #e5e6eb;margin:16px 0;">')
    return "\n".join(out)
