"""Waking the outbox workers of other processes at once, on PostgreSQL (LISTEN/NOTIFY).

A commit wakes the workers of its own process directly (``worker._wake_after_commit``); a
worker in another process would only find the message at its next poll
(``WEBHOOK_OUTBOX_POLL_SECONDS``). On PostgreSQL, :func:`notify_workers` sends a notification
in the transaction that added the message — delivered when it commits, dropped if it rolls back
— and every worker process listens for it on a connection of its own. SQLite has no such thing:
its workers poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

log = logging.getLogger("nightpos.webhooks.outbox")

#: The notification channel.
CHANNEL = "nightpos_outbox"
#: How long one wait for notifications lasts before the listener checks whether to stop.
WAIT_SECONDS = 1.0
#: The longest pause before listening again after the connection failed.
MAX_RETRY_SECONDS = 30.0


def notify_workers(session: Session) -> None:
    """Have PostgreSQL wake every listening worker when ``session``'s transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        # PostgreSQL folds identical notifications of one transaction into one.
        session.execute(sa.text(f"NOTIFY {CHANNEL}"))


def listen(url: URL, wake: Callable[[], None], stopping: threading.Event) -> None:
    """Call ``wake`` on every notification until ``stopping`` is set; run in a thread.

    A lost connection is logged and opened again after a pause; meanwhile the worker still
    polls, so nothing is missed, only later.
    """
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    pause = 1.0
    while not stopping.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                log.info("outbox worker listening for new messages (%s)", CHANNEL)
                pause = 1.0
                # Messages committed before LISTEN are found by the poll that follows.
                wake()
                while not stopping.is_set():
                    for _notification in connection.notifies(timeout=WAIT_SECONDS):
                        wake()
        except psycopg.Error as error:
            log.warning(
                "outbox worker: cannot listen for new messages (%s); polling, trying again in "
                "%.0f s",
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__,
                pause,
            )
            stopping.wait(pause)
            pause = min(pause * 2, MAX_RETRY_SECONDS)
