"""Idempotent webhook calls: a key seen for a rule within a day gets the first answer again.

The key (``Idempotency-Key``, or the Standard Webhooks ``webhook-id``) is claimed before the
rule runs, by inserting its row in a transaction of its own: the unique constraint on
(rule, key) lets exactly one of several concurrent duplicates claim it, on SQLite and on
PostgreSQL alike, without a lock held while the rule runs. The claimer runs the rule and
stores its answer; a later duplicate gets that answer replayed (status and body), and a
duplicate arriving while the first is still running gets 409 with ``Retry-After``.

When the call ends without an answer the rule could have acted on (the database was busy:
503, nothing kept), the claim is released so that the sender's retry runs.
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
    replayed: bool = False


def _cutoff(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(hours=setting("WEBHOOK_IDEMPOTENCY_HOURS"))


def _claim(rule_id: int, key: str) -> bool:
    """Insert the key's row in its own transaction; False when the key was already there.

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
        return True
    except sa_exc.IntegrityError:
        # The unique (rule_id, key): another call claimed it first, or did earlier.
        session.rollback()
        return False
    except BaseException:
        session.rollback()
        raise


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
        )
    return Answer(row.http_status, dict(row.body or {}), {"Idempotent-Replayed": "true"}, True)


def _finish(rule_id: int, key: str, answer: Answer | None) -> None:
    """Store the answer of a claimed key, or release the claim (``answer`` None)."""
    session = db.session
    where = (_TABLE.c.rule_id == rule_id, _TABLE.c.key == key)
    try:
        begin_write(session)
        with database_errors():
            if answer is None:
                session.execute(sa.delete(_TABLE).where(*where))
            else:
                session.execute(
                    sa.update(_TABLE)
                    .where(*where)
                    .values(http_status=answer.status, body=answer.body)
                )
            session.commit()
    except DatabaseProblem as problem:
        # The call's answer stands; the row stays "in progress" and a duplicate gets 409 until
        # it is pruned. Rare (the database refused the rule's commit moments ago otherwise).
        session.rollback()
        logger.warning(
            "webhook rule %s: could not store the answer for an idempotency key: %s",
            rule_id,
            problem.detail,
        )


def once(rule_id: int, key: str, run: Callable[[], Answer]) -> Answer:
    """Run ``run`` at most once for (``rule_id``, ``key``) within the retention period.

    The session must have no write in progress. A :class:`DatabaseProblem` from ``run`` (or a
    bug of ours) releases the claim and is raised on.
    """
    if not _claim(rule_id, key):
        return _stored(rule_id, key)
    try:
        answer = run()
    except BaseException:
        db.session.rollback()
        _finish(rule_id, key, None)
        raise
    _finish(rule_id, key, answer)
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
