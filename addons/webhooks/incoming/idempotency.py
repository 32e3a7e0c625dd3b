"""Idempotent webhook calls: a key seen for a rule within a day gets the first answer again.

The key (``Idempotency-Key``, or the sender's delivery id: Standard Webhooks' ``webhook-id``,
GitHub's ``X-GitHub-Delivery``) is claimed before the rule runs, by inserting its row in a
transaction of its own: the unique constraint on (rule, key) lets exactly one of several
concurrent duplicates claim it, on SQLite and on PostgreSQL alike, without a lock held while
the rule runs. The claimer runs the rule and
stores its answer; a later duplicate gets that answer replayed (status and body), and a
duplicate arriving while the first is still running gets 409 with ``Retry-After``.

A call answered from the store is logged (when the rule has Log Calls on) as ``replayed``
by the endpoint: the rule did not run, but the request reached the URL.

When the call ends without an answer the rule could have acted on (the database was busy:
503, nothing kept), the claim is released so that the sender's retry runs.

A call whose process dies (a host killed, a machine lost) leaves its claim without an answer.
A successful call's answer is stored in the call's own transaction, together with what the rule
did: either both are kept or neither is. So a claim still unanswered after
``WEBHOOK_IDEMPOTENCY_TAKEOVER_SECONDS`` kept nothing, and a later duplicate takes it over and
runs the rule. The claim's time is its token: a call that was only slow, and finishes after a
takeover, finds its claim gone when it stores its answer, and rolls back (exactly once still).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from addons.webhooks.database import DatabaseProblem, begin_write, database_errors
from addons.webhooks.models import WebhookRequest
from addons.webhooks.settings import setting
from nightpos_app.extensions import db
from nightpos_app.models import utcnow

logger = logging.getLogger(__name__)

#: Seconds a duplicate is told to wait while the first call with its key is still running.
IN_PROGRESS_RETRY_AFTER = 5

#: Expired keys of every rule are deleted every this many claims (one indexed delete).
PRUNE_EVERY = 100

_TABLE = WebhookRequest.__table__


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to replay or send: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    #: Answered from the store, without running: the first call's answer, or 409 while the
    #: first call still runs.
    replayed: bool = False
    #: Stored already, in the call's transaction (:func:`store_answer`).
    stored: bool = False
    #: The 409 for a key whose first call has not answered yet.
    in_progress: bool = False


@dataclass(frozen=True)
class Claim:
    """A key this call claimed; ``claimed_at`` tells it from a later takeover's claim."""

    rule_id: int
    key: str
    claimed_at: dt.datetime


class ClaimLost(Exception):
    """The call's claim was taken over by a duplicate (it ran past the takeover age)."""


def _cutoff(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(hours=setting("WEBHOOK_IDEMPOTENCY_HOURS"))


def _claim(rule_id: int, key: str) -> Claim | None:
    """Insert the key's row in its own transaction; None when another call holds it.

    An expired row (older than the retention) is deleted first, so an old key runs again.
    """
    session = db.session
    begin_write(session)
    try:
        with database_errors():
            now = utcnow()
            session.execute(
                sa.delete(_TABLE).where(
                    _TABLE.c.rule_id == rule_id,
                    _TABLE.c.key == key,
                    _TABLE.c.created_at < _cutoff(now),
                )
            )
            row_id = session.execute(
                sa.insert(_TABLE)
                .values(rule_id=rule_id, key=key, created_at=now)
                .returning(_TABLE.c.id)
            ).scalar_one()
            if row_id % PRUNE_EVERY == 0:
                # Keep the table small without a scheduler (the CLI command does the same).
                session.execute(sa.delete(_TABLE).where(_TABLE.c.created_at < _cutoff(now)))
            session.commit()
        return Claim(rule_id, key, now)
    except sa_exc.IntegrityError:
        # The unique (rule_id, key): another call claimed it first, or did earlier.
        session.rollback()
        return None
    except BaseException:
        session.rollback()
        raise


def _take_over(rule_id: int, key: str) -> Claim | None:
    """Claim a key whose claimer left no answer for longer than the takeover age (it died:
    nothing it did was kept); None when the key is answered or its claim is recent."""
    session = db.session
    begin_write(session)
    try:
        with database_errors():
            now = utcnow()
            takeover = float(setting("WEBHOOK_IDEMPOTENCY_TAKEOVER_SECONDS"))
            stale = now - dt.timedelta(seconds=takeover)
            taken = session.execute(
                sa.update(_TABLE)
                .where(
                    _TABLE.c.rule_id == rule_id,
                    _TABLE.c.key == key,
                    _TABLE.c.http_status.is_(None),
                    _TABLE.c.created_at < stale,
                )
                .values(created_at=now)
            ).rowcount
            if taken != 1:
                session.rollback()
                return None
            session.commit()
    except BaseException:
        session.rollback()
        raise
    logger.warning(
        "webhook rule %s: a call with an idempotency key left no answer for too long (its "
        "process was stopped, most likely): a duplicate runs it now",
        rule_id,
    )
    return Claim(rule_id, key, now)


def _mine(claim: Claim) -> tuple[Any, ...]:
    return (
        _TABLE.c.rule_id == claim.rule_id,
        _TABLE.c.key == claim.key,
        _TABLE.c.created_at == claim.claimed_at,
        _TABLE.c.http_status.is_(None),
    )


def store_answer(claim: Claim, answer: Answer) -> None:
    """Store ``answer`` for ``claim`` in the session's transaction (the caller commits it with
    the rule's work); :class:`ClaimLost` if a duplicate took the claim over meanwhile."""
    stored = db.session.execute(
        sa.update(_TABLE).where(*_mine(claim)).values(http_status=answer.status, body=answer.body)
    ).rowcount
    if stored != 1:
        raise ClaimLost


def _stored(rule_id: int, key: str) -> Answer:
    """The answer stored for a claimed key: its first answer, or 409 while it runs."""
    with database_errors():
        row = db.session.execute(
            sa.select(_TABLE.c.http_status, _TABLE.c.body).where(
                _TABLE.c.rule_id == rule_id, _TABLE.c.key == key
            )
        ).one_or_none()
        db.session.rollback()  # end the read: the call's own transaction begins afresh
    if row is None or row.http_status is None:
        return Answer(
            409,
            {"status": "error", "message": "A request with this key is still being processed."},
            {"Retry-After": str(IN_PROGRESS_RETRY_AFTER)},
            replayed=True,
            in_progress=True,
        )
    return Answer(row.http_status, dict(row.body or {}), {"Idempotent-Replayed": "true"}, True)


def _finish(claim: Claim, answer: Answer | None) -> None:
    """Store the answer of a claimed key, or release the claim (``answer`` None); a claim
    taken over meanwhile is left to the call that took it."""
    session = db.session
    try:
        begin_write(session)
        with database_errors():
            if answer is None:
                session.execute(sa.delete(_TABLE).where(*_mine(claim)))
            else:
                session.execute(
                    sa.update(_TABLE)
                    .where(*_mine(claim))
                    .values(http_status=answer.status, body=answer.body)
                )
            session.commit()
    except DatabaseProblem as problem:
        # The call's answer stands; the row stays "in progress" and a duplicate gets 409 until
        # it is taken over. Rare (the database refused the rule's commit moments ago otherwise).
        session.rollback()
        logger.warning(
            "webhook rule %s: could not store the answer for an idempotency key: %s",
            claim.rule_id,
            problem.detail,
        )


def once(rule_id: int, key: str, run: Callable[[Claim], Answer]) -> Answer:
    """Run ``run`` at most once for (``rule_id``, ``key``) within the retention period.

    ``run`` gets the claim; it may store a successful answer in its own transaction
    (:func:`store_answer`, answering ``stored=True``), else it is stored here afterwards. The
    session must have no write in progress. A :class:`DatabaseProblem` from ``run`` (or a
    bug of ours) releases the claim and is raised on.
    """
    claim = _claim(rule_id, key)
    if claim is None:
        stored = _stored(rule_id, key)
        # Unanswered: still running, or its process died; past the takeover age, run it.
        if not stored.in_progress:
            return stored
        claim = _take_over(rule_id, key)
        if claim is None:
            return stored
    try:
        answer = run(claim)
    except ClaimLost:
        # Too slow: a duplicate took the key over, and its run is the one that counts.
        db.session.rollback()
        return _stored(rule_id, key)
    except BaseException:
        db.session.rollback()
        _finish(claim, None)
        raise
    if not answer.stored:
        _finish(claim, answer)
    return answer


def prune_requests(now: dt.datetime | None = None) -> int:
    """Delete remembered keys past the retention period; commit. Returns how many."""
    deleted = (
        db.session.execute(
            sa.delete(_TABLE).where(_TABLE.c.created_at < _cutoff(now or utcnow()))
        ).rowcount
        or 0
    )
    db.session.commit()
    return deleted
