"""``flask webhooks …`` commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from addons.webhooks.calllog import prune_calls

webhooks_cli = AppGroup("webhooks", help="Webhooks and automation rules.")


@webhooks_cli.command("prune-calls")
def prune_calls_command() -> None:
    """Delete call-log rows past the retention settings (age, rows per rule)."""
    click.echo(f"Deleted {prune_calls()} call-log rows.")
