"""``cockpit users add|passwd|disable|list``: local accounts for an install without an identity provider."""

from __future__ import annotations

import click


@click.group("users")
def users() -> None:
    """Local accounts (password hashes live outside indicators.yaml)."""
