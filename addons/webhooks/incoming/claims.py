"""How inbox workers take accepted calls: the claim, with a lease, and handing calls back.

A claim is a short transaction: find due calls — accepted and due (``next_attempt_at``), or
running with a lease that ran out (their worker died) — oldest first, and mark them
``running`` with the worker's id, a lease and one more attempt. On PostgreSQL the rows another
worker is claiming are skipped (``FOR UPDATE SKIP LOCKED``); on SQLite claims take turns with
the write lock (``BEGIN IMMEDIATE``), after a look that takes no lock, so that an idle worker
does not hold the app's writers up every poll.

A rule with *One Call at a Time, in Order* (``ordered``) has a call claimed only when no older
call of the rule is still to run (accepted, running, or waiting for a retry): its calls run one
at a time, in arrival order, whatever the number of workers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from addons.webhooks.database import begin_write, database_errors
from addons.webhooks.models import AutomationRule, WebhookCall

log = logging.getLogger("nightpos.webhooks.inbox")

CALLS = WebhookCall.__table__
_RULES = AutomationRule.__table__
#: Written as the partial index's predicate is, so that SQLite uses the index.
_UNFINISHED = sa.text("base_automation_call.status IN ('accepted', 'running')")


@dataclass
class Claimed:
    """A call a worker claimed, as its run needs it."""

    id: int
    rule_id: int
    run_payload: str | None
    #: Attempts made, this one included.
    attempts: int
    attempt_log: list[dict[str, Any]] = field(default_factory=list)
    replay_of: int | None = None


def _due_calls(now: dt.datetime, batch: int) -> sa.Select[Any]:
    older = CALLS.alias("older")
    due = sa.or_(
        sa.and_(
            CALLS.c.status == "accepted",
            sa.or_(CALLS.c.next_attempt_at.is_(None), CALLS.c.next_attempt_at <= now),
        ),
        # A lease that ran out: its worker died (or hung) before recording an outcome.
        sa.and_(CALLS.c.status == "running", CALLS.c.claimed_until < now),
    )
    # An ordered rule's call waits for every older call of its rule still to run.
    in_turn = sa.or_(
        _RULES.c.ordered.is_(False),
        ~sa.exists().where(
            older.c.rule_id == CALLS.c.rule_id,
            older.c.id < CALLS.c.id,
            sa.text("older.status IN ('accepted', 'running')"),
        ),
    )
    return (
        sa.select(
            CALLS.c.id,
            CALLS.c.rule_id,
            CALLS.c.run_payload,
            CALLS.c.attempts,
            CALLS.c.attempt_log,
            CALLS.c.replay_of,
            CALLS.c.status,
            CALLS.c.claimed_by,
        )
        .select_from(CALLS.join(_RULES, _RULES.c.id == CALLS.c.rule_id))
        .where(_UNFINISHED, due, in_turn)
        .order_by(CALLS.c.id)
        .limit(batch)
        # PostgreSQL: calls another worker is claiming are skipped, not waited for.
        .with_for_update(skip_locked=True, of=CALLS)
    )


def claim(
    session: Session, worker_id: str, now: dt.datetime, batch: int, lease_seconds: float
) -> list[Claimed]:
    """Claim up to ``batch`` due calls for ``worker_id`` and commit; the calls claimed.

    The calls of a batch run one after the other: each one's lease covers the runs ahead of
    it, so that it cannot run out while the call waits its turn.
    """
    query = _due_calls(now, batch)
    if session.get_bind().dialect.name == "sqlite":
        found = session.execute(query.with_only_columns(CALLS.c.id)).first()
        session.rollback()
        if found is None:
            return []
    begin_write(session)
    try:
        with database_errors():
            rows = session.execute(query).all()
            claimed: list[Claimed] = []
            for index, row in enumerate(rows):
                if row.status == "running":
                    log.warning(
                        "inbox: call %s was claimed by %s, whose lease ran out; running it again",
                        row.id,
                        row.claimed_by,
                    )
                session.execute(
                    sa.update(CALLS)
                    .where(CALLS.c.id == row.id)
                    .values(
                        status="running",
                        claimed_by=worker_id,
                        claimed_until=now + dt.timedelta(seconds=lease_seconds * (index + 1)),
                        attempts=row.attempts + 1,
                    )
                )
                claimed.append(
                    Claimed(
                        id=row.id,
                        rule_id=row.rule_id,
                        run_payload=row.run_payload,
                        attempts=row.attempts + 1,
                        attempt_log=list(row.attempt_log or []),
                        replay_of=row.replay_of,
                    )
                )
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return claimed


def release(session: Session, worker_id: str, calls: list[Claimed]) -> None:
    """Give back claimed calls not run (the worker is stopping): due at once for another
    worker, their attempt not counted."""
    if not calls:
        return
    begin_write(session)
    try:
        with database_errors():
            session.execute(
                sa.update(CALLS)
                .where(
                    CALLS.c.id.in_([c.id for c in calls]),
                    CALLS.c.claimed_by == worker_id,
                    CALLS.c.status == "running",
                )
                .values(
                    status="accepted",
                    claimed_by=None,
                    claimed_until=None,
                    attempts=CALLS.c.attempts - 1,
                )
            )
            session.commit()
    except BaseException:
        session.rollback()
        raise
