"""The scheduler: claim due work of timing rules and scheduled rules, and run it.

A tick looks for due rows of ``base_automation_due`` through its (state, due_at) index, never
at the records themselves, and claims a few in a short transaction: ``state`` becomes
``running``, with the scheduler's id and a lease (``claimed_by``/``claimed_until``). On
PostgreSQL the claim query skips rows another scheduler is claiming (``FOR UPDATE SKIP
LOCKED``); on SQLite claims are serialized by the write lock (``BEGIN IMMEDIATE``).

Each claimed row then runs in a transaction of its own, the one a webhook call would have
(:func:`addons.webhooks.database.write_transaction`): the rule runs through the engine (same
runner processes, budgets and loop guard); its effects, its call-log row (method ``TIMER``) and
the row marked done commit together. The row is marked by an UPDATE that requires the claim to
be still this scheduler's: when it is not (the lease ran out and another scheduler took the row,
or a change of the record made it due at a new date), the run is rolled back. The row is
locked only then, after the records the actions locked, in the order a change of a record
locks them too (the record, then its due row), so the two cannot deadlock.

A scheduler killed mid-run leaves nothing half done: its transaction dies with it, the row
stays claimed until the lease runs out, and another scheduler runs it then, once. A run that
fails is rolled back and the row marked failed, in a
transaction of its own, with a call-log row saying why.

A scheduled rule's row is due again one period after the run ends, counted from then: a
scheduler that was down for ten periods runs the rule once, not ten times. Each record row
missed during the downtime runs once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from addons.webhooks.database import (
    DatabaseProblem,
    begin_write,
    database_errors,
    write_transaction,
)
from addons.webhooks.models import (
    DEFAULT_TARGET_RECORD,
    SCHEDULE_RECORD,
    SCHEDULE_TRIGGER,
    TIMING_TRIGGERS,
    AutomationRule,
)
from addons.webhooks.rules import due
from addons.webhooks.rules.calllog import LoggedPayload, add_call, record_call
from addons.webhooks.rules.engine import Outcome, RuleSpec, execute_rule
from addons.webhooks.rules.record_filters import parse_domain
from addons.webhooks.settings import setting
from nightpos_app.extensions import db
from nightpos_app.state import get_env

log = logging.getLogger("nightpos.webhooks.timing")

#: The call log's method column for timed runs (a webhook call's is GET or POST).
TIMER_METHOD = "TIMER"
TABLE = due.TABLE


@dataclass(frozen=True)
class Claim:
    """A due row this scheduler has claimed."""

    id: int
    rule_id: int
    record_id: int
    due_at: dt.datetime
    basis: str | None


def due_condition(moment: dt.datetime) -> sa.ColumnElement[bool]:
    """The rows to run at ``moment``: both branches start with ``state``, so the databases
    read them through ix_base_automation_due_state_due_at (tested), never the whole table."""
    return sa.or_(
        sa.and_(TABLE.c.state == "pending", TABLE.c.due_at <= moment),
        # A lease that ran out: its scheduler died or hung before marking the row.
        sa.and_(TABLE.c.state == "running", TABLE.c.claimed_until < moment),
    )


def _scheduled_rows(session: Session) -> sa.ColumnElement[bool] | None:
    """Where the rows of scheduled rules are, or None when there are none: their ids first
    (a few rules, by the trigger's index), then (rule, record 0) pairs that the unique
    (rule, record) index finds one by one, whatever the number of other due rows."""
    rules = AutomationRule.__table__
    ids = list(
        session.scalars(
            sa.select(rules.c.id).where(rules.c.trigger == SCHEDULE_TRIGGER, rules.c.active)
        )
    )
    if not ids:
        return None
    return sa.and_(TABLE.c.rule_id.in_(ids), TABLE.c.record_id == SCHEDULE_RECORD)


def new_scheduler_id() -> str:
    """``host:pid:random``: which process holds a claim."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:t{secrets.token_hex(3)}"


class Scheduler:
    """Runs the due work of ``app``'s database: call :meth:`tick` often (the worker loop
    does), or :meth:`run_once` / :meth:`drain` (tests). Settings not given come from the
    app's config; the clock is :func:`addons.webhooks.rules.due.now`."""

    def __init__(
        self,
        app: Flask,
        *,
        scheduler_id: str | None = None,
        batch: int | None = None,
        lease_seconds: float | None = None,
        tick_seconds: float | None = None,
    ) -> None:
        self.app = app
        self.id = (scheduler_id or new_scheduler_id())[:64]
        with app.app_context():
            self.batch = int(batch or setting("WEBHOOK_TIMING_BATCH"))
            self.lease_seconds = float(lease_seconds or setting("WEBHOOK_TIMING_LEASE_SECONDS"))
            self.tick_seconds = float(
                tick_seconds if tick_seconds is not None else setting("WEBHOOK_TIMING_TICK_SECONDS")
            )
            # A claim covers the runs ahead of it in its batch: each may take the whole wall
            # time the sandbox allows.
            self.run_seconds = float(setting("WEBHOOK_WALL_SECONDS")) + 2.0
        self._next_tick = 0.0
        self._schema_ready = False

    def tick(self) -> int:
        """Run what is due if a tick interval has passed since the last look; the number run."""
        if time.monotonic() < self._next_tick:
            return 0
        handled = self.run_once()
        # A full batch: more may be due, look again at once rather than a tick later.
        self._next_tick = 0.0 if handled >= self.batch else time.monotonic() + self.tick_seconds
        return handled

    def drain(self) -> int:
        """Run everything due now; the number of rows handled."""
        total = 0
        while handled := self.run_once():
            total += handled
        return total

    def run_once(self) -> int:
        """Claim a batch of due rows and run them; the number claimed."""
        with self.app.app_context():
            if not self._schema_ready:
                # Started with the app, the scheduler may look before the migrations ran.
                if not sa.inspect(db.engine).has_table(TABLE.name):
                    return 0
                self._schema_ready = True
            session = db.session()
            claims = self._claim(session)
            for claim in claims:
                self._run(session, claim)
            return len(claims)

    # --- Claiming --------------------------------------------------------------------------

    def _claim(self, session: Session) -> list[Claim]:
        moment = due.now()
        is_due = due_condition(moment)
        if session.get_bind().dialect.name == "sqlite":
            # Look before taking SQLite's one write lock: an idle tick must not hold up writers.
            found = session.scalar(sa.select(TABLE.c.id).where(is_due).limit(1))
            session.rollback()
            if found is None:
                return []
        begin_write(session)
        try:
            # Scheduled rules first, then the oldest due rows: a rule with thousands of records
            # due at once (a date rule over a large model) held a scheduled rule back until all
            # had run (500 rows ahead: its every-minute run came after them all).
            scheduled = _scheduled_rows(session)
            rows = (
                self._select(session, sa.and_(is_due, scheduled), self.batch)
                if scheduled is not None
                else []
            )
            if len(rows) < self.batch:
                taken = [row.id for row in rows]
                rest = sa.and_(is_due, TABLE.c.id.not_in(taken)) if taken else is_due
                rows += self._select(session, rest, self.batch - len(rows))
            claims: list[Claim] = []
            for index, row in enumerate(rows):
                if row.state == "running":
                    log.warning(
                        "timing: rule %s record %s was claimed by %s, whose lease ran out; "
                        "running it again",
                        row.rule_id,
                        row.record_id,
                        row.claimed_by,
                    )
                lease = max(self.lease_seconds, (index + 1) * self.run_seconds)
                session.execute(
                    sa.update(TABLE)
                    .where(TABLE.c.id == row.id)
                    .values(
                        state="running",
                        claimed_by=self.id,
                        claimed_until=moment + dt.timedelta(seconds=lease),
                    )
                )
                claims.append(Claim(row.id, row.rule_id, row.record_id, row.due_at, row.basis))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return claims

    @staticmethod
    def _select(session: Session, where: sa.ColumnElement[bool], limit: int) -> list[Any]:
        """Up to ``limit`` rows matching ``where``, oldest first, locked (others skipped)."""
        return list(
            session.execute(
                sa.select(
                    TABLE.c.id,
                    TABLE.c.rule_id,
                    TABLE.c.record_id,
                    TABLE.c.due_at,
                    TABLE.c.basis,
                    TABLE.c.state,
                    TABLE.c.claimed_by,
                )
                .where(where)
                .order_by(TABLE.c.due_at, TABLE.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
        )

    # --- Running ---------------------------------------------------------------------------

    def _run(self, session: Session, claim: Claim) -> None:
        """Run one claimed row; a busy database leaves the claim to run out (run again)."""
        try:
            self._run_once(session, claim)
        except DatabaseProblem as problem:
            session.rollback()
            log.warning(
                "timing: rule %s record %s not run now (%s); it runs again after its lease",
                claim.rule_id,
                claim.record_id,
                problem.detail,
            )

    def _run_once(self, session: Session, claim: Claim) -> None:
        with database_errors():
            rule = session.get(AutomationRule, claim.rule_id)
            timed = rule is not None and (
                rule.trigger in TIMING_TRIGGERS or rule.trigger == SCHEDULE_TRIGGER
            )
            spec = RuleSpec.of(rule) if rule is not None and timed and rule.active else None
            values = (
                {"domain": rule.filter_domain, "trigger": rule.trigger, "model": rule.model}
                if rule is not None
                else {}
            )
            interval = (rule.interval_number, rule.interval_type) if rule is not None else None
            session.rollback()  # what was read is kept; the run reads again, locked
        with write_transaction(session):
            if not self._still_mine(session, claim):  # a cheap early look; _finish decides
                session.rollback()
                log.info("timing: row %s is no longer claimed by %s; skipped", claim.id, self.id)
                return
            if spec is None:  # the rule was deleted, switched off or given another trigger
                session.execute(sa.delete(TABLE).where(TABLE.c.id == claim.id))
                session.commit()
                return
            scheduled = claim.record_id == SCHEDULE_RECORD
            payload = self._payload(claim, values["model"])
            if not scheduled and not self._applies(claim, values):
                if self._finish(session, claim, None, interval):
                    session.commit()
                else:
                    session.rollback()
                return
            run_spec = (
                spec
                if scheduled
                else dataclasses.replace(spec, target_record=DEFAULT_TARGET_RECORD)
            )
            outcome = execute_rule(run_spec, payload, target_optional=scheduled)
            if outcome.ok:
                with database_errors():
                    if not self._finish(session, claim, None, interval):
                        session.rollback()
                        log.warning(
                            "timing: rule %s record %s: the claim was lost during the run "
                            "(lease over, or the record is due at a new time); rolled back",
                            spec.id,
                            claim.record_id,
                        )
                        return
                    add_call(spec.id, TIMER_METHOD, LoggedPayload.of(payload), outcome, None)
                    session.commit()
                log.info("timing: rule %s record %s ran", spec.id, claim.record_id)
                return
            session.rollback()
        self._failed(session, claim, payload, outcome, interval)

    def _still_mine(self, session: Session, claim: Claim) -> bool:
        """Whether the claim is still this scheduler's (no lock: :meth:`_finish` checks again
        when it marks the row)."""
        found = session.execute(
            sa.select(TABLE.c.id).where(
                TABLE.c.id == claim.id,
                TABLE.c.claimed_by == self.id,
                TABLE.c.state == "running",
            )
        ).first()
        return found is not None

    @staticmethod
    def _payload(claim: Claim, model: str | None) -> dict[str, Any]:
        """What the actions see as ``payload`` (and the call log keeps)."""
        if claim.record_id == SCHEDULE_RECORD:
            return {"_model": model, "_scheduled_at": due.basis_text(claim.due_at)}
        return {
            "_model": model,
            "_id": claim.record_id,
            "_due_at": due.basis_text(claim.due_at),
            "_basis": claim.basis,
        }

    @staticmethod
    def _applies(claim: Claim, values: dict[str, Any]) -> bool:
        """The record is still there and matches the Extra Conditions (read in the run's
        transaction); otherwise the row is done without running."""
        try:
            domain = parse_domain(values.get("domain"))
        except ValueError:
            return False
        model = get_env()[values["model"]]
        return bool(model.search_count([("id", "=", claim.record_id), *domain]))

    def _finish(
        self,
        session: Session,
        claim: Claim,
        error: str | None,
        interval: tuple[Any, Any] | None,
    ) -> bool:
        """Mark the row run (in the caller's transaction): done or failed, or a scheduled
        rule's next run, one period from now. False, marking nothing, when the claim is no
        longer this scheduler's."""
        moment = due.now()
        values: dict[str, Any] = {
            "claimed_by": None,
            "claimed_until": None,
            "last_run_at": moment,
            "last_error": error,
        }
        if claim.record_id == SCHEDULE_RECORD:
            number, unit = interval or (None, None)
            values.update(state="pending", due_at=due.next_run(moment, number, unit))
        else:
            values.update(state="failed" if error else "done")
        marked = session.execute(
            sa.update(TABLE)
            .where(
                TABLE.c.id == claim.id,
                TABLE.c.claimed_by == self.id,
                TABLE.c.state == "running",
            )
            .values(**values)
        )
        return marked.rowcount == 1

    def _failed(
        self,
        session: Session,
        claim: Claim,
        payload: dict[str, Any],
        outcome: Outcome,
        interval: tuple[Any, Any] | None,
    ) -> None:
        """A run that failed: rolled back already; mark the row and log the call, together."""
        log.warning(
            "timing: rule %s record %s failed: %s", claim.rule_id, claim.record_id, outcome.error
        )
        begin_write(session)
        try:
            with database_errors():
                if not self._finish(session, claim, outcome.error or "failed", interval):
                    session.rollback()
                    return
                session.commit()
        except BaseException:
            session.rollback()
            raise
        try:
            record_call(claim.rule_id, TIMER_METHOD, LoggedPayload.of(payload), outcome, None)
        except DatabaseProblem as problem:
            log.warning("timing: the failure of rule %s was not logged: %s", claim.rule_id, problem)


def run_now(rule_id: int) -> None:
    """Make a scheduled rule due at once (Run now); the scheduler runs it at its next tick,
    and its next run is one period after that. Commits."""
    session = db.session
    begin_write(session)
    session.execute(
        sa.update(TABLE)
        .where(
            TABLE.c.rule_id == rule_id,
            TABLE.c.record_id == SCHEDULE_RECORD,
            TABLE.c.state == "pending",
        )
        .values(due_at=due.now())
    )
    session.commit()
