"""Respond at once: a checked call is stored in the call log and answered 202; a worker runs it.

A rule with Respond *at once* answers its caller as soon as the call is known to be good —
the same guards, signature, idempotency, size and JSON checks as a call answered after running
(``endpoint.py``) — and before the rule runs. Accepting costs one INSERT: the call-log row
itself is the inbox entry (``status = 'accepted'``), with the payload as sent in
``run_payload``, committed in one short transaction. Once it is committed the call cannot be
lost: a worker (``addons/webhooks/incoming/worker.py``) claims it, runs it through the same
engine, runner processes, budgets and transaction rules as a direct call, and writes its
outcome into the same row.

A rule's backlog is bounded: once ``WEBHOOK_INBOX_MAX_BACKLOG`` of its calls wait to run, a
new call is refused with 503 and ``Retry-After`` (:class:`InboxFull`), nothing stored, so that
a flood on a rule that responds at once cannot fill the database (every accepted call holds its
payload, up to ``WEBHOOK_MAX_BODY_BYTES``, until it has run). The backlog is counted at most once
per ``WEBHOOK_INBOX_BACKLOG_CHECK_SECONDS`` per rule and process, plus the calls this process
accepted since, so that accepting still costs one insert: the bound is the cap plus what other
processes accept within that time.

Other processes' workers are woken the way the outbox wakes them (a commit in this process
wakes its workers; PostgreSQL's NOTIFY those of other processes), so a call does not wait for
a poll.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from addons.webhooks.database import database_errors, write_transaction
from addons.webhooks.models import WebhookCall
from addons.webhooks.outgoing.notify import notify_workers
from addons.webhooks.outgoing.outbox import ENQUEUED_KEY
from addons.webhooks.rules.calllog import LoggedPayload, compact_json
from addons.webhooks.settings import setting
from nightpos_app.extensions import db
from nightpos_app.models import utcnow

#: The answer's status.
ACCEPTED = 202

_TABLE = WebhookCall.__table__
#: A plain INSERT built once (as the call log's): the row is the whole of the accept's work.
_INSERT = sa.insert(_TABLE).returning(_TABLE.c.id)


#: The states of calls still to run (those the partial index ``ix_base_automation_call_unfinished``
#: holds).
UNFINISHED = ("accepted", "running")
#: Seconds a sender whose call found the rule's backlog full is told to wait.
FULL_RETRY_AFTER = 30


class InboxFull(Exception):
    """The rule has ``WEBHOOK_INBOX_MAX_BACKLOG`` calls waiting to run: nothing was stored, the
    caller gets 503 with ``Retry-After`` and sends again later."""

    message = "Too many calls are waiting to run for this webhook; send again later."
    retry_after = FULL_RETRY_AFTER

    def __init__(self, rule_id: int) -> None:
        super().__init__(f"rule {rule_id}: the inbox's backlog is full")


class _Backlog:
    """Each rule's backlog as this process last counted it, and the calls it accepted since."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[int, tuple[float, int]] = {}  # rule id -> (counted at, calls)

    def check(self, rule_id: int) -> None:
        """Raise :class:`InboxFull` when the rule's backlog is at its cap."""
        cap = int(setting("WEBHOOK_INBOX_MAX_BACKLOG"))
        fresh = float(setting("WEBHOOK_INBOX_BACKLOG_CHECK_SECONDS"))
        moment = time.monotonic()
        with self._lock:
            known = self._known.get(rule_id)
        if known is None or moment - known[0] >= fresh:
            known = (moment, _count_unfinished(rule_id, cap))
            with self._lock:
                self._known[rule_id] = known
        if known[1] >= cap:
            raise InboxFull(rule_id)

    def accepted(self, rule_id: int, count: int) -> None:
        """Count calls this process stored since the rule's backlog was counted."""
        with self._lock:
            known = self._known.get(rule_id)
            if known is not None:
                self._known[rule_id] = (known[0], known[1] + count)


_BACKLOG = _Backlog()


def _count_unfinished(rule_id: int, cap: int) -> int:
    """The rule's calls still to run, counted up to ``cap`` (on the partial index of unfinished
    calls: the work is bounded by the cap, not by the log's size); ends the read."""
    waiting = (
        sa.select(_TABLE.c.id)
        .where(_TABLE.c.rule_id == rule_id, _TABLE.c.status.in_(UNFINISHED))
        .limit(cap)
        .subquery()
    )
    session = db.session
    with database_errors():
        try:
            return int(session.scalar(sa.select(sa.func.count()).select_from(waiting)) or 0)
        finally:
            session.rollback()  # end the read: the accept's transaction takes the write lock


def accepted_body(call_id: int) -> dict[str, Any]:
    """What the caller reads: the call is accepted, and its id in the call log."""
    return {"status": "accepted", "id": call_id}


def inbox_row(
    rule_id: int,
    method: str,
    payload: Any,
    remote_addr: str | None,
    *,
    replay_of: int | None = None,
    run_payload: str | None = None,
) -> dict[str, Any]:
    """The values of an accepted call's row (made before the transaction: on SQLite it holds
    the database's write lock). ``run_payload`` is the payload's JSON when already made."""
    logged = LoggedPayload.of(payload)
    now = utcnow()
    return {
        "rule_id": rule_id,
        "called_at": now,
        "method": method,
        "status": "accepted",
        "http_status": ACCEPTED,
        "payload": logged.text,
        "payload_truncated": logged.truncated,
        "duration_ms": 0.0,
        "remote_addr": remote_addr,
        "attempts": 0,
        "next_attempt_at": now,
        "run_payload": run_payload if run_payload is not None else compact_json(payload),
        "replay_of": replay_of,
    }


def accept(
    rule_id: int,
    method: str,
    payload: Any,
    remote_addr: str | None,
    check: Callable[[], None] | None = None,
    before_commit: Callable[[int], None] | None = None,
) -> int:
    """Store a call for a worker to run, in one transaction; its id.

    ``before_commit`` gets the new call's id in that transaction, before its commit (the
    idempotency key's answer is stored with the call).

    ``check`` confirms that the rule the call was checked against is still the rule (as a
    direct call's, see :func:`~addons.webhooks.rules.transactions.run_call`); it raises to have the
    call checked again. Raises :class:`~addons.webhooks.database.DatabaseProblem` when the
    database is busy or unavailable, :class:`InboxFull` when the rule's backlog is at its cap:
    nothing was stored, the caller gets 503 and sends again.
    """
    _BACKLOG.check(rule_id)
    row = inbox_row(rule_id, method, payload, remote_addr)
    ids = store([row], check, before_commit)
    _BACKLOG.accepted(rule_id, len(ids))
    return ids[0]


def store(
    rows: list[dict[str, Any]],
    check: Callable[[], None] | None = None,
    before_commit: Callable[[int], None] | None = None,
) -> list[int]:
    """Insert accepted calls in one transaction and commit; their ids."""
    session = db.session
    with write_transaction(session), database_errors():
        try:
            if check is not None:
                check()
            connection = session.connection()
            ids = [connection.execute(_INSERT, row).scalar_one() for row in rows]
            if before_commit is not None:
                for call_id in ids:
                    before_commit(call_id)
            # Wake the workers when this commits (the outbox's signal: same workers).
            session.info[ENQUEUED_KEY] = True
            notify_workers(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return ids
