"""``cockpit forms import|status|template``: online data submission (contract section 14)."""

from __future__ import annotations

import click


@click.group("forms")
def forms() -> None:
    """在线数据报送: import, status and templates of form sources."""
