"""The worker that sends the outbox: claim due messages, send them, record what happened.

A worker claims a few due messages at a time in a short transaction (``state`` becomes
``sending``, with its id and a deadline in ``claimed_by``/``claimed_until``) and commits, then
sends each one with no transaction open (a slow receiver holds no lock and no connection), then
records each result in a short transaction of its own, but only if the claim is still its own.

* Several workers share the outbox: on PostgreSQL the claim query skips the rows another
  worker's claim transaction has locked (``FOR UPDATE SKIP LOCKED``); on SQLite claims are
  serialized by the database's write lock (``BEGIN IMMEDIATE``).
* A worker that dies (killed, machine lost) leaves its messages ``sending``: once their claim
  runs out they are due again and another worker sends them, with the same ``webhook-id``.
  Delivery is at least once; receivers deduplicate on the id.
* A busy or unreachable database does not stop a worker: it logs and tries again later.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from addons.webhooks.database import begin_write, database_problem
from addons.webhooks.metrics import observe_delivery
from addons.webhooks.models import ServerAction, WebhookDelivery, WebhookDeliveryAttempt
from addons.webhooks.outgoing import notify, outbox, retry, sender, ssrf
from addons.webhooks.outgoing.heartbeat import Heartbeat
from addons.webhooks.outgoing.jobs import WorkerJobs
from addons.webhooks.settings import number_list, setting
from nightpos_app.extensions import db
from nightpos_app.jsonlog import FIELDS
from nightpos_app.models import utcnow

log = logging.getLogger("nightpos.webhooks.outbox")

#: Where the app's background worker thread is kept (``NIGHTPOS_OUTBOX_WORKER = "thread"``).
THREAD_WORKER_KEY = "nightpos.outbox.worker"
#: Added to a message's claim beyond its sending time: the database work around the send.
CLAIM_MARGIN_SECONDS = 2.0
#: The longest wait between tries while the database is busy or unavailable.
MAX_BACKOFF_SECONDS = 30.0

#: The workers running in this process: a commit that added messages wakes them.
_workers: weakref.WeakSet[OutboxWorker] = weakref.WeakSet()


def new_worker_id() -> str:
    """``host:pid:random``: which machine and process holds a claim, unique per worker."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class WorkerSettings:
    """A worker's settings, read from the app's config once."""

    batch: int
    poll_seconds: float
    claim_seconds: float
    excerpt_bytes: int
    allowed: tuple[ssrf.Network, ...]
    policy: retry.Policy

    @classmethod
    def from_config(cls, **overrides: Any) -> WorkerSettings:
        """The settings of the app in context; ``overrides`` that are not None win."""
        values: dict[str, Any] = {
            "batch": int(setting("WEBHOOK_OUTBOX_BATCH")),
            "poll_seconds": float(setting("WEBHOOK_OUTBOX_POLL_SECONDS")),
            "claim_seconds": float(setting("WEBHOOK_OUTBOX_CLAIM_SECONDS")),
            "excerpt_bytes": int(setting("WEBHOOK_RESPONSE_EXCERPT_BYTES")),
            "allowed": ssrf.parse_networks(setting("WEBHOOK_OUTGOING_ALLOWED_CIDRS")),
            "policy": retry.Policy(
                schedule=tuple(number_list(setting("WEBHOOK_RETRY_SCHEDULE"))),
                jitter=float(setting("WEBHOOK_RETRY_JITTER")),
                retry_after_max=float(setting("WEBHOOK_RETRY_AFTER_MAX_SECONDS")),
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class OutboxWorker:
    """Sends the outbox of ``app``'s database; run it in a thread or as a process.

    :meth:`run` loops until :meth:`stop`; :meth:`run_once` handles one batch (what tests and
    ``--once`` use). Settings not given come from the app's config.
    """

    def __init__(
        self,
        app: Flask,
        *,
        worker_id: str | None = None,
        batch: int | None = None,
        poll_seconds: float | None = None,
        claim_seconds: float | None = None,
        heartbeat_file: Path | None = None,
    ) -> None:
        self.app = app
        self.id = (worker_id or new_worker_id())[:64]
        #: Rewritten from the loop, for a supervisor (heartbeat.py); None: no file.
        self.heartbeat = Heartbeat(heartbeat_file, self.id) if heartbeat_file else None
        with app.app_context():
            self.settings = WorkerSettings.from_config(
                batch=batch, poll_seconds=poll_seconds, claim_seconds=claim_seconds
            )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._schema_ready = False
        #: The timing scheduler and the inbox, run once per round of the loop (jobs.py).
        self._jobs = WorkerJobs(app, self.id)
        _workers.add(self)

    # --- Control ---------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def wake(self) -> None:
        """Look for due messages now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Stop after the message in hand (safe from a signal handler or another thread)."""
        self._stop.set()
        self._wake.set()
        self._jobs.stop()  # a job that can stop mid-round (the inbox's) stops too

    def run(self) -> None:
        """Send due messages until stopped; database trouble is logged and waited out."""
        log.info("outbox worker %s started", self.id)
        self._listen_for_commits()
        backoff = 0.0
        self._beat(force=True)
        while not self.stopping:
            self._wake.clear()  # a wake-up during the batch below is kept for the next round
            try:
                handled = self.run_once()
                jobs_done = self._run_jobs()
            except Exception as error:  # noqa: BLE001 (the worker must outlive any one error)
                self._beat(database_ok=False)
                backoff = min(
                    max(backoff * 2, self.settings.poll_seconds, 0.5), MAX_BACKOFF_SECONDS
                )
                problem = database_problem(error)
                if problem is not None:
                    log.warning(
                        "outbox worker %s: %s (%s); trying again in %.1f s",
                        self.id,
                        problem.message,
                        problem.detail,
                        backoff,
                    )
                else:
                    log.exception(
                        "outbox worker %s failed; trying again in %.1f s", self.id, backoff
                    )
                self._wake.wait(backoff)
                continue
            backoff = 0.0
            self._beat()
            # Nothing more due now (the outbox nor the jobs): wait for a poll or a wake.
            if handled < self.settings.batch and not jobs_done:
                self._wake.wait(self.settings.poll_seconds)
        log.info("outbox worker %s stopped", self.id)

    def _beat(self, database_ok: bool = True, *, force: bool = False) -> None:
        if self.heartbeat is not None:
            try:
                self.heartbeat.beat(database_ok, force=force)
            except OSError:
                log.warning("outbox worker %s: cannot write its heartbeat file", self.id)

    def _run_jobs(self) -> int:
        """Run each of the other periodic jobs once (jobs.py); the work done."""
        return self._jobs.run()

    def _listen_for_commits(self) -> None:
        """On PostgreSQL, be woken by commits in other processes too (LISTEN/NOTIFY)."""
        with self.app.app_context():
            url = db.engine.url
        if url.get_backend_name() != "postgresql":
            return
        threading.Thread(
            target=notify.listen,
            args=(url, self.wake, self._stop),
            name=f"outbox-listen-{self.id}",
            daemon=True,
        ).start()

    def drain(self) -> int:
        """Send everything due now (not retries scheduled later); the number handled."""
        total = 0
        while not self.stopping:
            handled = self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    def start_thread(self) -> threading.Thread:
        """Run the worker in a daemon thread (the dev server's background sender)."""
        thread = threading.Thread(target=self.run, name=f"outbox-{self.id}", daemon=True)
        thread.start()
        return thread

    # --- One batch -------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim a batch of due messages and send them; the number claimed."""
        with self.app.app_context():
            if not self._schema_ready:
                # Started with the app, the worker may run before the migrations have made
                # the outbox (``make run``): wait for them quietly.
                if not sa.inspect(db.engine).has_table(WebhookDelivery.__tablename__):
                    return 0
                self._schema_ready = True
            claimed = self._claim(db.session())
            for index, message in enumerate(claimed):
                if self.stopping:
                    self._release(db.session(), [m.id for m in claimed[index:]])
                    break
                started_at = utcnow()
                result = sender.send(
                    message,
                    allowed=self.settings.allowed,
                    excerpt_bytes=self.settings.excerpt_bytes,
                )
                self._record(db.session(), message, result, started_at)
                self._beat()
            return len(claimed)

    def _claim(self, session: Session) -> list[sender.Message]:
        now = utcnow()
        due = sa.or_(
            sa.and_(
                WebhookDelivery.state == "pending",
                sa.or_(
                    WebhookDelivery.next_attempt_at.is_(None),
                    WebhookDelivery.next_attempt_at <= now,
                ),
            ),
            # A claim that ran out: its worker died (or hung) before recording a result.
            sa.and_(WebhookDelivery.state == "sending", WebhookDelivery.claimed_until < now),
        )
        if session.get_bind().dialect.name == "sqlite":
            # Look before taking SQLite's one write lock: an idle worker polling every second
            # must not hold up the app's writers.
            found = session.scalar(sa.select(WebhookDelivery.id).where(due).limit(1))
            session.rollback()
            if found is None:
                return []
        begin_write(session)
        try:
            rows = list(
                session.scalars(
                    sa.select(WebhookDelivery)
                    .where(due)
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(self.settings.batch)
                    # PostgreSQL: rows another worker is claiming are skipped, not waited for
                    # (SQLite has no row locks; BEGIN IMMEDIATE serialized this transaction).
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                session.rollback()
                return []
            action_ids = {row.action_id for row in rows}
            secrets_by_action = {
                action.id: list(action.signing_secrets())
                for action in session.scalars(
                    sa.select(ServerAction).where(ServerAction.id.in_(action_ids))
                )
            }
            claimed: list[sender.Message] = []
            ahead = 0.0
            for row in rows:
                if row.state == "sending":
                    log.warning(
                        "outbox: message %s was claimed by %s, whose claim ran out; "
                        "sending it again",
                        row.message_id,
                        row.claimed_by,
                    )
                # The messages of a batch are sent one after the other: each one's claim covers
                # the sends ahead of it too, so that it cannot run out while it waits its turn.
                longest_send = 2 * float(row.timeout_seconds) + CLAIM_MARGIN_SECONDS
                row.state = "sending"
                row.claimed_by = self.id
                row.claimed_until = now + dt.timedelta(
                    seconds=ahead + max(self.settings.claim_seconds, longest_send)
                )
                ahead += longest_send
                claimed.append(
                    sender.Message(
                        id=row.id,
                        message_id=row.message_id,
                        url=row.url,
                        body=row.body,
                        headers=dict(row.headers or {}),
                        timeout_seconds=float(row.timeout_seconds),
                        secrets=secrets_by_action.get(row.action_id, []),
                    )
                )
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return claimed

    def _release(self, session: Session, ids: list[int]) -> None:
        """Give back claimed messages not sent (stopping): due at once for another worker."""
        if not ids:
            return
        begin_write(session)
        session.execute(
            sa.update(WebhookDelivery)
            .where(
                WebhookDelivery.id.in_(ids),
                WebhookDelivery.claimed_by == self.id,
                WebhookDelivery.state == "sending",
            )
            .values(state="pending", claimed_by=None, claimed_until=None)
        )
        session.commit()

    def _record(
        self,
        session: Session,
        message: sender.Message,
        result: sender.Result,
        started_at: dt.datetime,
    ) -> None:
        """Write the attempt and the message's new state, if the claim is still ours.

        The message was sent: losing its result to a briefly busy database would send it
        again later, so a database problem is retried a few times before giving up.
        """
        for wait in (0.2, 1.0, 3.0, None):
            try:
                self._record_once(session, message, result, started_at)
                return
            except Exception as error:
                session.rollback()
                problem = database_problem(error)
                if problem is None or wait is None:
                    raise
                log.warning(
                    "outbox: could not record message %s yet (%s); trying again",
                    message.message_id,
                    problem.detail,
                )
                time.sleep(wait)

    def _record_once(
        self,
        session: Session,
        message: sender.Message,
        result: sender.Result,
        started_at: dt.datetime,
    ) -> None:
        begin_write(session)
        delivery = session.scalars(
            sa.select(WebhookDelivery)
            .where(
                WebhookDelivery.id == message.id,
                WebhookDelivery.claimed_by == self.id,
                WebhookDelivery.state == "sending",
            )
            .with_for_update()
        ).first()
        if delivery is None:
            session.rollback()
            observe_delivery("lost_claim")
            log.warning(
                "outbox: message %s is no longer claimed by %s (its claim ran out, or it was "
                "changed); the result of this attempt is not recorded",
                message.message_id,
                self.id,
            )
            return
        now = utcnow()
        # The schedule follows the round's attempts; the message counts every attempt.
        attempt = delivery.round_attempt_count + 1
        total = delivery.attempt_count + 1
        decision = retry.decide(result, attempt, self.settings.policy, now, total=total)
        session.add(
            WebhookDeliveryAttempt(
                delivery_id=delivery.id,
                attempted_at=started_at,
                status_code=result.status_code,
                duration_ms=result.duration_ms,
                error=result.error,
                response_excerpt=result.response_excerpt,
                worker=self.id,
            )
        )
        delivery.attempt_count = total
        delivery.round_attempt_count = attempt
        delivery.last_status_code = result.status_code
        delivery.last_error = decision.error
        delivery.state = decision.state
        delivery.next_attempt_at = decision.next_attempt_at
        delivery.claimed_by = None
        delivery.claimed_until = None
        if decision.state == "delivered":
            delivery.delivered_at = now
        if decision.deactivate_action:
            action = session.get(ServerAction, delivery.action_id)
            if action is not None and action.active:
                action.active = False
                log.warning(
                    "outbox: action %s (%s) deactivated: the receiver of message %s answered "
                    "410 Gone",
                    action.id,
                    action.name,
                    delivery.message_id,
                )
        session.commit()
        outcome = "retry" if decision.state == "pending" else decision.state
        observe_delivery(outcome)
        log.info(
            "outbox: message %s attempt %d: %s -> %s",
            message.message_id,
            attempt,
            result.status_code if result.status_code is not None else result.error,
            decision.state,
            extra={
                FIELDS: {
                    "event": "webhook_delivery",
                    "message_id": message.message_id,
                    "rule_id": delivery.rule_id,
                    "attempt": attempt,
                    "status": result.status_code,
                    "outcome": outcome,
                    "duration_ms": result.duration_ms,
                }
            },
        )


def start_thread_worker(app: Flask) -> OutboxWorker:
    """Start ``app``'s background sender thread (once); returns its worker."""
    worker = app.extensions.get(THREAD_WORKER_KEY)
    if worker is None:
        worker = app.extensions[THREAD_WORKER_KEY] = OutboxWorker(app)
        worker.start_thread()
    return worker


# --- Waking the process's workers after a commit that added messages -----------------------


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    # A savepoint's commit is not the commit: the messages are not visible to workers yet.
    if session.in_nested_transaction():
        return
    if session.info.pop(outbox.ENQUEUED_KEY, False):
        for worker in list(_workers):
            worker.wake()


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: Any) -> None:
    # The messages were rolled back with the change: nothing to wake a worker for.
    if previous_transaction.parent is None:
        session.info.pop(outbox.ENQUEUED_KEY, None)
