"""The `form` source (being built)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import Connector, SourceError


def open_form(
    source_id: str,
    settings: Any,
    resolve: Callable[[str], Path],
    label_of: Callable[[str], str],
    numeric: set[str],
) -> Connector:
    raise SourceError("form sources are being built", "type")
