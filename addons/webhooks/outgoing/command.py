"""``flask nightpos worker``: a process that sends the outbox (production's sender)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

import click
from flask import current_app

from addons.webhooks.outgoing.heartbeat import DEFAULT_MAX_AGE_SECONDS, FILE_SETTING, check
from addons.webhooks.outgoing.worker import OutboxWorker
from addons.webhooks.rules.state import get_webhooks
from nightpos_app.metrics import serve_metrics


@click.command("worker")
@click.option("--once", is_flag=True, help="Send the messages due now, then exit.")
@click.option("--batch", type=click.IntRange(min=1), help="Messages claimed at a time.")
@click.option("--poll", type=click.FloatRange(min=0.01), help="Seconds between looks when idle.")
@click.option(
    "--claim-seconds",
    type=click.FloatRange(min=0.1),
    help="How long a claim lasts before another worker may take the message over.",
)
@click.option(
    "--heartbeat-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Rewrite this file from the worker's loop (default: ${FILE_SETTING}).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=1, max=65535),
    help="Serve this worker's Prometheus metrics on this port (a worker on a host without "
    "NightPOS's gunicorn, whose /metrics would add them up otherwise).",
)
@click.option(
    "--metrics-address",
    default="127.0.0.1",
    show_default=True,
    help="The address --metrics-port listens on (no token there: keep it private).",
)
def worker_command(
    once: bool,
    batch: int | None,
    poll: float | None,
    claim_seconds: float | None,
    heartbeat_file: Path | None,
    metrics_port: int | None,
    metrics_address: str,
) -> None:
    """Send outgoing webhooks, run timing rules and the calls of rules that respond at once:
    run as many of these processes as needed.

    SIGTERM or SIGINT stops the worker after the message in hand; the messages it had claimed
    but not sent are handed back at once. ``--once`` sends the outbox only (timing rules run in
    the loop, docs/timing.md).
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
        heartbeat_file=heartbeat_file or _configured_heartbeat_file(),
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Only a flag: the HTTP request in progress finishes, and its result is recorded.
        click.echo(f"outbox worker {worker.id}: {signal.Signals(signum).name}, stopping", err=True)
        worker.stop()

    if metrics_port:
        serve_metrics(metrics_port, metrics_address)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"outbox worker {worker.id} started", err=True)
    if once:
        sent = worker.drain()
        click.echo(f"outbox worker {worker.id}: {sent} messages handled", err=True)
    else:
        worker.run()
    click.echo(f"outbox worker {worker.id} stopped", err=True)


def _configured_heartbeat_file() -> Path | None:
    value = current_app.config.get(FILE_SETTING) or os.environ.get(FILE_SETTING)
    return Path(value) if value else None


@click.command("worker-health")
@click.option(
    "--heartbeat-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The worker's heartbeat file (default: ${FILE_SETTING}).",
)
@click.option(
    "--max-age",
    type=click.FloatRange(min=1),
    default=DEFAULT_MAX_AGE_SECONDS,
    show_default=True,
    help="Seconds since the last heartbeat beyond which the worker is not healthy.",
)
def worker_health_command(heartbeat_file: Path | None, max_age: float) -> None:
    """Exit 0 if the worker writing the heartbeat file is alive, 1 if not (for supervisors)."""
    path = heartbeat_file or _configured_heartbeat_file()
    if path is None:
        raise click.UsageError(f"give --heartbeat-file or set {FILE_SETTING}")
    healthy, message = check(path, max_age)
    click.echo(message, err=not healthy)
    sys.exit(0 if healthy else 1)
