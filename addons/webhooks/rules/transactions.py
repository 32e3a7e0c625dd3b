"""A webhook call's transaction: the write lock, the rule, its call-log row, and retries.

One call is one transaction. On SQLite it holds the write lock from its first statement
(``BEGIN IMMEDIATE``, see :func:`addons.webhooks.database.write_transaction`); PostgreSQL locks
the Target Record's rows instead (:func:`addons.webhooks.database.lock_records`). It runs the
rule, and on success adds the call-log row to the same transaction before the commit, so the
rule's changes and their log row are kept together. A failed rule is rolled back and its log
row written in a transaction of its own.

When the database makes the transaction lose a race (a deadlock, a serialization failure),
nothing was kept, so the whole transaction runs again, a few times at most, after a short
random pause. A database that stays busy or is unavailable is raised to the caller as a
:class:`~addons.webhooks.database.DatabaseProblem` (a 503 for the system that called): nothing
was kept and no call-log row is written, since the database cannot take one either.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from addons.webhooks.database import DatabaseProblem, database_errors, write_transaction
from addons.webhooks.rules.calllog import LoggedPayload, add_call, record_call
from addons.webhooks.rules.engine import Outcome, RuleSpec, execute_rule
from nightpos_app.extensions import db

logger = logging.getLogger(__name__)

#: Runs of one call's transaction at most (the first and the retries after conflicts).
MAX_ATTEMPTS = 4
#: The pause before retry n is random, up to this many seconds times 2**n (so that the calls
#: that collided do not collide again).
RETRY_PAUSE_SECONDS = 0.01


@dataclass(frozen=True)
class CallLog:
    """Where a call-log row goes and what it says about the caller (Log Calls on)."""

    rule_id: int
    method: str
    remote_addr: str | None
    #: Keep the payload whole for replay (the rule's Keep Payloads for Replay).
    keep_payloads: bool = False
    #: The logged call this run replays.
    replay_of: int | None = None


class Finish(Protocol):
    """What else a run writes when it ends (a background run: its call-log row's new state)."""

    def succeeded(self, outcome: Outcome) -> None:
        """In the call's transaction, before its commit (raising rolls the rule back)."""

    def failed(self, outcome: Outcome) -> None:
        """After the rule's transaction rolled back, in a transaction of its own."""


def run_call(
    rule: RuleSpec,
    payload: Any,
    log: CallLog | None,
    check: Callable[[], None] | None = None,
    before_commit: Callable[[Outcome], None] | None = None,
    finish: Finish | None = None,
) -> Outcome:
    """Run ``rule`` for one webhook call and log it when ``log`` is given.

    ``before_commit`` gets a successful outcome in the call's transaction, just before its
    commit (the idempotency key's answer is stored there, with the rule's work).

    The session may still be in the transaction that looked the rule up, if that only read
    (see :func:`~addons.webhooks.database.write_transaction`). ``check`` confirms that the rule
    that ran is still the rule (raising, a rule that changed meanwhile, to run the call again
    from a fresh read): it is called once the rule has run, in the call's transaction before
    its commit, so that the code that runs before the call's first statement holds no lock
    (the rule's changes are rolled back if it raises). Returns the rule's outcome (200 or
    500); raises :class:`DatabaseProblem` when the database was busy or unavailable.
    ``finish`` writes what else the run's end needs (see :class:`Finish`).
    """
    session = db.session
    logged = LoggedPayload.of(payload, keep=log.keep_payloads) if log is not None else None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _run_once(rule, payload, log, logged, check, before_commit, finish)
        except DatabaseProblem as problem:
            session.rollback()
            if not problem.retryable or attempt == MAX_ATTEMPTS:
                raise
            logger.info(
                "webhook call: the database made attempt %d give up (%s); running it again",
                attempt,
                problem.detail,
            )
            # Jitter, not a secret: S311 does not apply.
            time.sleep(random.random() * RETRY_PAUSE_SECONDS * 2**attempt)  # noqa: S311
    raise AssertionError("unreachable: the last attempt returns or raises")


def _run_once(
    rule: RuleSpec,
    payload: Any,
    log: CallLog | None,
    logged: LoggedPayload | None,
    check: Callable[[], None] | None,
    before_commit: Callable[[Outcome], None] | None = None,
    finish: Finish | None = None,
) -> Outcome:
    session = db.session
    with write_transaction(session):
        outcome = execute_rule(rule, payload)
        if outcome.ok:
            with database_errors():
                if check is not None:
                    check()
                if log is not None and logged is not None:
                    add_call(
                        log.rule_id,
                        log.method,
                        logged,
                        outcome,
                        log.remote_addr,
                        log.replay_of,
                    )
                if before_commit is not None:
                    before_commit(outcome)
                if finish is not None:
                    finish.succeeded(outcome)
                session.commit()
            return outcome
        session.rollback()
    if check is not None:  # a failure is logged only if the rule that failed is current
        with database_errors():
            check()
    if log is not None:
        log_failure(log, logged, outcome)
    if finish is not None:
        finish.failed(outcome)
    return outcome


def log_failure(
    log: CallLog,
    payload: LoggedPayload | None,
    outcome: Outcome,
    *,
    replayed: bool = False,
    check: Callable[[], None] | None = None,
) -> None:
    """Log a call that failed (or, ``replayed``, one answered from the idempotency store), in
    a transaction of its own: one insert. ``check`` as for :func:`run_call`, in that
    transaction.

    The answer stays the call's own: a database too busy to take the row only costs the row
    (with a warning in the server log), never a different answer to the caller.
    """
    try:
        logged = payload if payload is not None else LoggedPayload.of(None)
        record_call(
            log.rule_id,
            log.method,
            logged,
            outcome,
            log.remote_addr,
            log.replay_of,
            replayed=replayed,
            check=check,
        )
    except DatabaseProblem as problem:
        logger.warning(
            "webhook call to rule %s answered %s but could not be logged: %s",
            log.rule_id,
            outcome.http_status,
            problem.detail,
        )
