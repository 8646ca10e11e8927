"""The `spark` source (being built)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import Connector, SourceError


def open_spark(
    source_id: str,
    settings: Any,
    resolve: Callable[[str], Path],
    label_of: Callable[[str], str],
    numeric: set[str],
) -> Connector:
    raise SourceError("spark sources are being built", "type")
