"""``flask webhooks …`` commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from addons.webhooks.incoming.idempotency import prune_requests
from addons.webhooks.outgoing.outbox import prune_finished
from addons.webhooks.rules.calllog import prune_calls
from addons.webhooks.settings import setting
from nightpos_app.extensions import db

webhooks_cli = AppGroup("webhooks", help="Webhooks and automation rules.")


@webhooks_cli.command("prune-calls")
def prune_calls_command() -> None:
    """Delete call-log rows past the retention settings (age, rows per rule), idempotency
    keys older than a day, and outgoing messages delivered, failed or dead for longer than the
    call log's maximum age."""
    click.echo(f"Deleted {prune_calls()} call-log rows.")
    click.echo(f"Deleted {prune_requests()} remembered request keys.")
    deliveries = prune_finished(db.session, setting("WEBHOOK_LOG_MAX_AGE_DAYS"))
    db.session.commit()
    click.echo(f"Deleted {deliveries} finished outgoing messages.")
