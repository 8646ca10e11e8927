"""``cockpit assess``: score an assessment's subjects (contract section 11)."""

from __future__ import annotations

import click

from .cli import EXIT_PARTIAL, _as_option, _config_option, _err, _guard


@click.command("assess")
@_config_option
@click.option("--assessment", "assessment_id", metavar="ID", help="Only this assessment.")
@click.option("--period", metavar="P", help="Only this period.")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@_as_option
@_guard
def assess(config: str, assessment_id: str | None, period: str | None, fmt: str, as_user: str | None) -> int:
    """Score an assessment's subjects (contract section 11)."""
    _err("ERROR: cockpit assess is being built")
    return EXIT_PARTIAL
