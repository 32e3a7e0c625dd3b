"""``flask webhooks …`` commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from addons.webhooks.calllog import prune_calls
from addons.webhooks.idempotency import prune_requests

webhooks_cli = AppGroup("webhooks", help="Webhooks and automation rules.")


@webhooks_cli.command("prune-calls")
def prune_calls_command() -> None:
    """Delete call-log rows past the retention settings (age, rows per rule), and idempotency
    keys older than a day."""
    click.echo(f"Deleted {prune_calls()} call-log rows.")
    click.echo(f"Deleted {prune_requests()} remembered request keys.")
