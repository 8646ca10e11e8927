"""Problems found in a config, each with its place and, where possible, a way out."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One problem: ``ERROR: file:line: subject: field: message``.

    ``subject`` names the object (``indicator 'online_rate'``, ``source
    'hotline'``, ``channel 'x'``, or ``config`` for top-level keys), ``field``
    is the dotted path inside it (``measure.numerator.where``).
    """

    file: str
    line: int
    subject: str
    field: str
    message: str
    level: str = "ERROR"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        parts = [f"{self.level}: {where}", self.subject]
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class ConfigError(Exception):
    """Raised with every problem found; nothing was computed."""

    def __init__(self, problems: list[Problem], partial: object | None = None) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
        # what could be read despite the problems, so `validate` can still reach the sources
        self.partial = partial


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when one option is close to ``word``, else ''."""
    opts = [str(o) for o in options]
    close = difflib.get_close_matches(str(word), opts, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in opts}
        if str(word).lower() in lowered:
            close = [lowered[str(word).lower()]]
    return f" (did you mean '{close[0]}'?)" if close else ""


def dotted(path: Path) -> str:
    """``('measure', 'numerator', 'where')`` → ``measure.numerator.where``; ints as ``[i]``."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out
