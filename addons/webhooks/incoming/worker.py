"""The inbox's worker job: claim accepted calls, run them as direct calls run, record each
attempt.

A worker claims a few due calls at a time in a short transaction (``status`` becomes
``running``, with its id and a lease in ``claimed_by``/``claimed_until``, and one more
attempt) and commits. It then runs each one through :func:`~addons.webhooks.rules.transactions.
run_call` — the same engine, runner processes, budgets, write lock and conflict retries as a
call answered after running — and writes the outcome into the call's row:

* success: in the rule's own transaction, before its commit, and only while the claim is still
  this worker's (``WHERE claimed_by = <me> AND status = 'running'``): if another worker took
  the call over meanwhile, the rule's work is rolled back, so a call's work is kept once;
* a rule error (the code raised, no record found, a budget ran out) is final: ``error``, never
  retried (a replay from the Logs runs it again once the rule is fixed);
* a transient failure — the database busy or unavailable, the runner process lost to a crash —
  makes the call ``accepted`` again, due after the next delay of
  ``WEBHOOK_INBOX_RETRY_SCHEDULE``; once the delays are used up, it is an error;
* a worker that dies (killed, machine lost) leaves its calls ``running``: once their lease runs
  out they are due again and another worker runs them (nothing the dead worker's transaction
  did was committed, and idempotency keys were settled when the call was accepted).

Several workers share the inbox: on PostgreSQL the claim skips rows another worker is claiming
(``FOR UPDATE SKIP LOCKED``); on SQLite claims are serialized by the write lock. A rule with
*One Call at a Time, in Order* has a call claimed only when no older call of the rule is still
to run (accepted, running, or waiting for its retry), so its calls run one at a time, in the
order they arrived.

Everything time-related (the clock, the lease, the delays) is a setting or an argument, so
tests move time instead of waiting for it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask

from addons.webhooks.database import DatabaseProblem, begin_write, database_errors
from addons.webhooks.incoming import claims
from addons.webhooks.incoming.claims import Claimed
from addons.webhooks.incoming.webhook_rules import StaleRule
from addons.webhooks.models import AutomationRule
from addons.webhooks.rules import revision
from addons.webhooks.rules.calllog import PRUNE_EVERY, kept_payload, prune_in_transaction
from addons.webhooks.rules.engine import Outcome, RuleSpec
from addons.webhooks.rules.transactions import run_call
from addons.webhooks.settings import number_list, setting
from nightpos_app.extensions import db
from nightpos_app.models import utcnow

log = logging.getLogger("nightpos.webhooks.inbox")

_CALLS = claims.CALLS
#: Added to a call's lease beyond its wall-clock budget: the database work around the run.
CLAIM_MARGIN_SECONDS = 5.0
#: Entries of a call's attempt log kept (the latest).
MAX_LOGGED_ATTEMPTS = 20


def new_worker_id() -> str:
    """``host:pid:random``: which machine and process holds a claim, unique per worker."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class InboxSettings:
    """The inbox worker's settings, read from the app's config once."""

    batch: int
    claim_seconds: float
    schedule: tuple[float, ...]

    @classmethod
    def from_config(cls, **overrides: Any) -> InboxSettings:
        """The settings of the app in context; ``overrides`` that are not None win. A lease is
        never shorter than a call may run (``WEBHOOK_WALL_SECONDS``) and a margin."""
        values: dict[str, Any] = {
            "batch": int(setting("WEBHOOK_INBOX_BATCH")),
            "claim_seconds": float(setting("WEBHOOK_INBOX_CLAIM_SECONDS")),
            "schedule": tuple(number_list(setting("WEBHOOK_INBOX_RETRY_SCHEDULE"))),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        longest = float(setting("WEBHOOK_WALL_SECONDS")) + CLAIM_MARGIN_SECONDS
        values["claim_seconds"] = max(float(values["claim_seconds"]), longest)
        return cls(**values)


@dataclass(frozen=True)
class RuleToRun:
    """The rule a claimed call runs, as read at ``revision``."""

    spec: RuleSpec
    revision: int | None
    log_calls: bool
    keep_payloads: bool
    #: Why the rule cannot run calls any more (archived, no longer On webhook), or None.
    problem: str | None = None


class _LostClaim(Exception):
    """The call is no longer this worker's (its lease ran out and another took it over)."""


class InboxWorker:
    """Runs the calls accepted by rules that respond at once; a job of the worker loop.

    :meth:`run_once` claims and runs one batch; :meth:`drain` runs everything due now. The
    outbox worker's loop (``flask nightpos worker``, the dev server's thread) calls
    :meth:`run_once` each round. ``clock`` gives the time (naive UTC) for leases and delays.
    """

    def __init__(
        self,
        app: Flask,
        *,
        worker_id: str | None = None,
        batch: int | None = None,
        claim_seconds: float | None = None,
        retry_schedule: tuple[float, ...] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.app = app
        self.id = (worker_id or new_worker_id())[:64]
        self.clock = clock
        with app.app_context():
            self.settings = InboxSettings.from_config(
                batch=batch, claim_seconds=claim_seconds, schedule=retry_schedule
            )
        self._rules: dict[int, RuleToRun] = {}
        self._schema_ready = False
        self._stop = threading.Event()

    def stop(self) -> None:
        """Stop after the call in hand: the batch's other calls are handed back at once."""
        self._stop.set()

    # --- The loop's entry points -----------------------------------------------------------

    def run_once(self) -> int:
        """Claim a batch of due calls and run them; the number claimed."""
        with self.app.app_context():
            if not self._schema_ready:
                # Started with the app, the worker may run before the migrations (make run).
                if "run_payload" not in {
                    c["name"] for c in sa.inspect(db.engine).get_columns(_CALLS.name)
                }:
                    return 0
                self._schema_ready = True
            if self._stop.is_set():
                return 0
            claimed = self._claim()
            for index, call in enumerate(claimed):
                if self._stop.is_set():
                    self._release(claimed[index:])
                    break
                self._run(call)
            return len(claimed)

    def drain(self, max_rounds: int = 10_000) -> int:
        """Run every call due now (not retries scheduled later); how many were run."""
        total = 0
        for _ in range(max_rounds):
            handled = self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    # --- Claiming --------------------------------------------------------------------------

    def _claim(self) -> list[Claimed]:
        return claims.claim(
            db.session(), self.id, self.clock(), self.settings.batch, self.settings.claim_seconds
        )

    def _release(self, calls: list[Claimed]) -> None:
        claims.release(db.session(), self.id, calls)

    # --- Running ---------------------------------------------------------------------------

    def _run(self, call: Claimed) -> None:
        """Run one claimed call and record its outcome (database trouble included)."""
        session = db.session()
        try:
            self._run_call(call)
        except DatabaseProblem as problem:
            session.rollback()
            self._transient(call, f"{problem.message} ({problem.detail})")
        except _LostClaim:
            session.rollback()
            log.warning(
                "inbox: call %s is no longer claimed by %s (its lease ran out); what this run "
                "did was rolled back",
                call.id,
                self.id,
            )

    def _run_call(self, call: Claimed) -> None:
        started = self.clock()
        payload = json.loads(call.run_payload) if call.run_payload else {}
        for fresh in (False, True, True):
            rule = self._rule(call.rule_id, fresh=fresh)
            if rule is None or rule.problem is not None:
                message = rule.problem if rule is not None else "The rule no longer exists."
                self._final(call, Outcome(500, {}, error=message), started, None)
                return
            kept = kept_payload(payload) if rule.keep_payloads else None
            finish = _Finish(self, call, rule, kept, started)
            try:
                run_call(rule.spec, payload, None, check=self._confirmer(rule), finish=finish)
                return
            except StaleRule:
                # The rule changed since this worker read it: run the call as it is now.
                db.session.rollback()
        self._transient(call, "The rule changed during each run; trying again later.")

    def _rule(self, rule_id: int, *, fresh: bool) -> RuleToRun | None:
        """The rule as this worker last read it, or read now (``fresh``, or not read yet)."""
        held = None if fresh else self._rules.get(rule_id)
        if held is not None:
            return held
        session = db.session()
        with database_errors():
            current = revision.current(session)
            rule = session.get(AutomationRule, rule_id)
            if rule is None:
                session.rollback()
                self._rules.pop(rule_id, None)
                return None
            problem = None
            if not rule.active:
                problem = "The rule is archived: the call did not run."
            elif rule.trigger != "on_webhook":
                problem = "The rule is no longer triggered On webhook: the call did not run."
            held = RuleToRun(
                spec=RuleSpec.of(rule),
                revision=current,
                log_calls=bool(rule.log_calls),
                keep_payloads=bool(rule.keep_payloads),
                problem=problem,
            )
            session.rollback()  # end the read: the run's transaction begins afresh
        self._rules[rule_id] = held
        return held

    def _confirmer(self, rule: RuleToRun) -> Callable[[], None]:
        """What raises :class:`StaleRule` if ``rule`` changed since it was read (called in the
        run's transaction, before its commit: one primary-key read)."""

        def confirm() -> None:
            if revision.current(db.session()) != rule.revision:
                self._rules.pop(rule.spec.id, None)
                raise StaleRule

        return confirm

    # --- Recording -------------------------------------------------------------------------

    def _entry(
        self, started: dt.datetime, result: str, error: str | None, ms: float
    ) -> dict[str, Any]:
        return {
            "at": started.isoformat(timespec="milliseconds") + "Z",
            "worker": self.id,
            "result": result,
            "error": error,
            "duration_ms": round(ms, 3),
        }

    def _attempts(self, call: Claimed, entry: dict[str, Any]) -> list[dict[str, Any]]:
        return [*call.attempt_log, entry][-MAX_LOGGED_ATTEMPTS:]

    def _mine(self, call: Claimed) -> tuple[Any, ...]:
        return (
            _CALLS.c.id == call.id,
            _CALLS.c.claimed_by == self.id,
            _CALLS.c.status == "running",
        )

    def _final(
        self, call: Claimed, outcome: Outcome, started: dt.datetime, kept: str | None
    ) -> None:
        """A rule error (or a call that cannot run): ``error``, for good; own transaction."""
        entry = self._entry(started, "error", outcome.error, outcome.duration_ms)
        self._write_own(
            call,
            {
                "status": "error",
                "http_status": outcome.http_status,
                "error_message": outcome.error,
                "traceback": outcome.traceback,
                "duration_ms": round(outcome.duration_ms, 3),
                "attempt_log": self._attempts(call, entry),
                "claimed_by": None,
                "claimed_until": None,
                "next_attempt_at": None,
                "run_payload": kept,
            },
        )
        log.info("inbox: call %s attempt %d: error (final)", call.id, call.attempts)

    def _transient(self, call: Claimed, error: str, ms: float = 0.0) -> None:
        """A failure that is not the rule's: run again after the next delay (own
        transaction); an error once the delays are used up."""
        started = self.clock()
        schedule = self.settings.schedule
        if call.attempts > len(schedule):
            message = f"Gave up after {call.attempts} attempts: {error}"
            self._final(call, Outcome(503, {}, error=message, duration_ms=ms), started, None)
            return
        delay = schedule[call.attempts - 1]
        entry = self._entry(started, "retry", error, ms)
        self._write_own(
            call,
            {
                "status": "accepted",
                "error_message": error,
                "attempt_log": self._attempts(call, entry),
                "claimed_by": None,
                "claimed_until": None,
                "next_attempt_at": started + dt.timedelta(seconds=delay),
            },
        )
        log.info(
            "inbox: call %s attempt %d failed (%s); next attempt in %g s",
            call.id,
            call.attempts,
            error,
            delay,
        )

    def _write_own(self, call: Claimed, values: dict[str, Any]) -> None:
        """Update the call's row in a transaction of its own, if it is still ours. A database
        that cannot take it leaves the call ``running``: its lease runs out and it runs
        again (nothing of this run was kept)."""
        session = db.session()
        try:
            begin_write(session)
            with database_errors():
                session.execute(sa.update(_CALLS).where(*self._mine(call)).values(**values))
                session.commit()
        except DatabaseProblem as problem:
            session.rollback()
            log.warning(
                "inbox: could not record call %s's attempt (%s); it runs again once its lease "
                "runs out",
                call.id,
                problem.detail,
            )


@dataclass
class _Finish:
    """Writes a background run's end into its call-log row (see ``transactions.Finish``)."""

    worker: InboxWorker
    call: Claimed
    rule: RuleToRun
    kept: str | None
    started: dt.datetime

    def succeeded(self, outcome: Outcome) -> None:
        worker, call = self.worker, self.call
        mine = worker._mine(call)
        connection = db.session.connection()
        if not self.rule.log_calls and call.replay_of is None:
            # Log Calls off: the row was only the inbox entry.
            done = connection.execute(sa.delete(_CALLS).where(*mine)).rowcount
        else:
            entry = worker._entry(self.started, "ok", None, outcome.duration_ms)
            done = connection.execute(
                sa.update(_CALLS)
                .where(*mine)
                .values(
                    status="ok",
                    http_status=outcome.http_status,
                    error_message=None,
                    traceback=None,
                    duration_ms=round(outcome.duration_ms, 3),
                    attempt_log=worker._attempts(call, entry),
                    claimed_by=None,
                    claimed_until=None,
                    next_attempt_at=None,
                    run_payload=self.kept,
                )
            ).rowcount
        if done != 1:
            raise _LostClaim
        if call.id % PRUNE_EVERY == 0:
            # Retention, as a direct call's log row applies it (cheap, indexed deletes).
            prune_in_transaction(call.rule_id, utcnow())

    def failed(self, outcome: Outcome) -> None:
        if outcome.crashed:
            self.worker._transient(self.call, outcome.error or "", outcome.duration_ms)
        else:
            self.worker._final(self.call, outcome, self.started, self.kept)
