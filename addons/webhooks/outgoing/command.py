"""``flask nightpos worker``: a process that sends the outbox (production's sender)."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import click
from flask import current_app

from addons.webhooks.outgoing.worker import OutboxWorker
from addons.webhooks.rules.state import get_webhooks


@click.command("worker")
@click.option("--once", is_flag=True, help="Send the messages due now, then exit.")
@click.option("--batch", type=click.IntRange(min=1), help="Messages claimed at a time.")
@click.option("--poll", type=click.FloatRange(min=0.01), help="Seconds between looks when idle.")
@click.option(
    "--claim-seconds",
    type=click.FloatRange(min=0.1),
    help="How long a claim lasts before another worker may take the message over.",
)
def worker_command(
    once: bool, batch: int | None, poll: float | None, claim_seconds: float | None
) -> None:
    """Send outgoing webhooks and run the calls of rules that respond at once: run as many
    of these processes as needed.

    SIGTERM or SIGINT stops the worker after the message in hand; the messages it had claimed
    but not sent are handed back at once.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # Sending runs no admin code, but the inbox's calls (rules that respond at once) do, one at
    # a time: one runner kept ready.
    get_webhooks().sandbox.pool.resize(1)
    worker = OutboxWorker(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        batch=batch,
        poll_seconds=poll,
        claim_seconds=claim_seconds,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Only a flag: the HTTP request in progress finishes, and its result is recorded.
        click.echo(f"outbox worker {worker.id}: {signal.Signals(signum).name}, stopping", err=True)
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"outbox worker {worker.id} started", err=True)
    if once:
        sent = worker.drain()
        click.echo(f"outbox worker {worker.id}: {sent} messages handled", err=True)
    else:
        worker.run()
    click.echo(f"outbox worker {worker.id} stopped", err=True)
