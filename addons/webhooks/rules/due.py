"""Due work of timing rules: when each rule has to run on each record, kept current.

Timing rules (Based on date field, After creation, After last update) do not run when a record
changes: the change makes the record *due* at a time, written to ``base_automation_due`` (one
row per rule and record) in the transaction of the change, and the scheduler
(addons/webhooks/timing) runs the rows whose time has come. A scheduled rule has one row,
record 0, holding its next run.

* The record-trigger hooks (addons/webhooks/triggers.py) call :func:`schedule` for the records
  a change concerns. Each row remembers the value its time was computed from (``basis``): a
  record whose date changes becomes due again at the new date, and a write that leaves the date
  as it was changes nothing, so each date value runs once.
* Saving a rule calls :func:`sync_rule` before the commit: Based on date field looks at the
  model's records once (dates to come only: a new rule does not act on the past); the other
  timing rules move their pending rows to the new delay; a scheduled rule gets its next run.

Times are naive UTC, as every time NightPOS stores; a date field's value counts from midnight
UTC. :func:`now` is the clock, replaceable through the app's ``NIGHTPOS_TIMING_CLOCK`` (tests).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from addons.webhooks.models import (
    SCHEDULE_RECORD,
    SCHEDULE_TRIGGER,
    TIMING_TRIGGERS,
    AutomationDue,
    AutomationRule,
)
from nightpos_app.models import utcnow
from nightpos_app.state import get_state

#: App config key: a callable returning naive UTC now, for the timing machinery only.
CLOCK_SETTING = "NIGHTPOS_TIMING_CLOCK"
#: ``session.info`` key: rules saved in this transaction, synced before the commit.
_SAVED_RULES = "nightpos.due.saved_rules"
#: Records read at a time when a rule's due work is rebuilt.
_CHUNK = 500

TABLE = AutomationDue.__table__


def now() -> dt.datetime:
    """The timing machinery's clock: naive UTC."""
    clock = current_app.config.get(CLOCK_SETTING) if has_app_context() else None
    return clock() if clock is not None else utcnow()


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` ``months`` calendar months later (earlier if negative); the day is kept, or
    the month's last day when the month is shorter (31 January + 1 month = 28/29 February)."""
    year, month0 = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def shift(moment: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """``moment`` plus ``amount`` ``unit`` (minutes, hours, days, weeks or months).

    Never raises: a time past the calendar's ends (year 9999 and a delay after it, from a
    record's date or a rule saved before delays were bounded) is the end itself, a time that
    never comes (or came long ago). Raising here failed every write of the rule's model.
    """
    try:
        if unit == "months":
            return add_months(moment, amount)
        seconds = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400}[unit]
        return moment + dt.timedelta(seconds=amount * seconds)
    except (OverflowError, ValueError):
        return dt.datetime.max if amount > 0 else dt.datetime.min


def as_moment(value: Any) -> dt.datetime | None:
    """A date or datetime field's value as naive UTC (a date: its midnight)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return None


def basis_text(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


@dataclass(frozen=True)
class Timing:
    """A timing rule's settings, as scheduling needs them."""

    trigger: str
    date_field: str | None
    delay: int
    unit: str

    @classmethod
    def of(cls, rule: Any) -> Timing:
        """From a rule (an ORM object or a row with the same names)."""
        return cls(
            trigger=rule.trigger,
            date_field=rule.trg_date_field,
            delay=int(rule.trg_date_range or 0),
            unit=rule.trg_date_range_type or "days",
        )

    def due_at(self, basis: dt.datetime) -> dt.datetime:
        return shift(basis, self.delay, self.unit)


def _bases(
    session: Session, model: str, timing: Timing, ids: Sequence[int], moment: dt.datetime
) -> dict[int, dt.datetime | None]:
    """What each record's time counts from: its date (Based on date field), else now."""
    if timing.trigger != "on_time":
        return {record_id: moment for record_id in ids}
    cls = get_state().registry[model].model_class
    column = getattr(cls, timing.date_field or "", None)
    if column is None:  # the field was removed since the rule was saved
        return {}
    rows = session.execute(sa.select(cls.id, column).where(cls.id.in_(list(ids))))
    return {record_id: as_moment(value) for record_id, value in rows}


def schedule(
    session: Session, rule_id: int, model: str, timing: Timing, ids: Sequence[int]
) -> None:
    """Make records ``ids`` due for the rule after a change of theirs (in that transaction).

    After last update pushes the time on every change; the others set it when the value it
    counts from is new (a date cleared makes the record not due).
    """
    if not ids:
        return
    bases = _bases(session, model, timing, ids, now())
    existing = {
        row.record_id: row
        for row in session.execute(
            sa.select(TABLE.c.id, TABLE.c.record_id, TABLE.c.basis, TABLE.c.state).where(
                TABLE.c.rule_id == rule_id, TABLE.c.record_id.in_(list(bases))
            )
        )
    }
    for record_id, basis in bases.items():
        row = existing.get(record_id)
        if basis is None:
            if row is not None and row.state != "running":
                session.execute(sa.delete(TABLE).where(TABLE.c.id == row.id))
            continue
        text = basis_text(basis)
        if row is not None and row.basis == text and timing.trigger != "on_time_updated":
            continue  # this value is due already, or has run
        values = {
            "due_at": timing.due_at(basis),
            "basis": text,
            "state": "pending",
            "claimed_by": None,
            "claimed_until": None,
            "last_error": None,
        }
        if row is None:
            session.execute(sa.insert(TABLE).values(rule_id=rule_id, record_id=record_id, **values))
        else:
            session.execute(sa.update(TABLE).where(TABLE.c.id == row.id).values(**values))


def next_run(moment: dt.datetime, number: int | None, unit: str | None) -> dt.datetime:
    """A scheduled rule's next run after ``moment``: one period later (at least a minute)."""
    later = shift(moment, max(int(number or 1), 1), unit or "days")
    return max(later, moment + dt.timedelta(minutes=1))


def sync_rule(session: Session, rule_id: int) -> None:
    """Bring a saved rule's due work in line with its settings (before the commit)."""
    rule = session.get(AutomationRule, rule_id)
    if rule is None:
        return  # deleted: its rows went with it (ON DELETE CASCADE)
    timed = rule.trigger in TIMING_TRIGGERS or rule.trigger == SCHEDULE_TRIGGER
    if not rule.active or not timed:
        session.execute(
            sa.delete(TABLE).where(TABLE.c.rule_id == rule_id, TABLE.c.state != "running")
        )
        return
    moment = now()
    if rule.trigger == SCHEDULE_TRIGGER:
        _sync_schedule(session, rule, moment)
        return
    # A scheduled rule turned into a timing rule leaves no run behind.
    session.execute(
        sa.delete(TABLE).where(
            TABLE.c.rule_id == rule_id,
            TABLE.c.record_id == SCHEDULE_RECORD,
            TABLE.c.state != "running",
        )
    )
    timing = Timing.of(rule)
    if rule.trigger == "on_time":
        _rebuild_dates(session, rule, timing, moment)
        return
    # After creation / last update: pending rows keep what they count from, with the new delay.
    for row in session.execute(
        sa.select(TABLE.c.id, TABLE.c.basis).where(
            TABLE.c.rule_id == rule_id, TABLE.c.state == "pending"
        )
    ).all():
        if row.basis:
            due_at = timing.due_at(dt.datetime.fromisoformat(row.basis))
            session.execute(sa.update(TABLE).where(TABLE.c.id == row.id).values(due_at=due_at))


def _sync_schedule(session: Session, rule: AutomationRule, moment: dt.datetime) -> None:
    """One row, record 0: created with the next run one period from now; a shorter period
    brings a later next run forward."""
    due_at = next_run(moment, rule.interval_number, rule.interval_type)
    row = session.execute(
        sa.select(TABLE.c.id, TABLE.c.due_at, TABLE.c.state).where(
            TABLE.c.rule_id == rule.id, TABLE.c.record_id == SCHEDULE_RECORD
        )
    ).first()
    if row is None:
        session.execute(
            sa.insert(TABLE).values(
                rule_id=rule.id, record_id=SCHEDULE_RECORD, due_at=due_at, state="pending"
            )
        )
    elif row.state != "running" and (row.due_at > due_at or row.state != "pending"):
        session.execute(
            sa.update(TABLE)
            .where(TABLE.c.id == row.id)
            .values(due_at=due_at, state="pending", claimed_by=None, claimed_until=None)
        )
    # Record rows left by a timing trigger this rule had before.
    session.execute(
        sa.delete(TABLE).where(
            TABLE.c.rule_id == rule.id,
            TABLE.c.record_id != SCHEDULE_RECORD,
            TABLE.c.state != "running",
        )
    )


def _rebuild_dates(
    session: Session, rule: AutomationRule, timing: Timing, moment: dt.datetime
) -> None:
    """Based on date field: every record's time from its date, for times to come.

    A row whose date is the record's date keeps its state (done or failed: that date has run),
    a pending one gets the delay as saved now, even when it is past (a missed run is still
    owed). A new date (the rule's Date Field changed, or the record's while the rule was off)
    is due if its time is still ahead: a new rule acts on dates to come, not on history.
    """
    registry = get_state().registry
    cls = registry[rule.model].model_class if rule.model in registry else None
    column = getattr(cls, timing.date_field or "", None) if cls is not None else None
    left = {
        row.record_id: (row.id, row.basis, row.state, row.due_at)
        for row in session.execute(
            sa.select(
                TABLE.c.id, TABLE.c.record_id, TABLE.c.basis, TABLE.c.state, TABLE.c.due_at
            ).where(TABLE.c.rule_id == rule.id)
        )
    }
    seen: set[int] = set()
    rows: list[dict[str, Any]] = []
    records = (
        session.execute(
            sa.select(cls.id, column)
            .where(column.is_not(None))
            .order_by(cls.id)
            .execution_options(yield_per=_CHUNK)
        )
        if column is not None
        else ()
    )
    for record_id, value in records:
        basis = as_moment(value)
        if basis is None:
            continue
        seen.add(record_id)
        due_at, text = timing.due_at(basis), basis_text(basis)
        if record_id not in left:
            if due_at >= moment:
                rows.append(
                    {
                        "rule_id": rule.id,
                        "record_id": record_id,
                        "due_at": due_at,
                        "basis": text,
                        "state": "pending",
                    }
                )
            continue
        row_id, old, state, old_due = left[record_id]
        change: dict[str, Any] | None = None
        if state == "running":
            continue
        if old == text:
            if state == "pending" and old_due != due_at:
                change = {"due_at": due_at}  # the delay changed
        elif due_at >= moment:
            change = {"due_at": due_at, "basis": text, "state": "pending", "last_error": None}
        elif state == "pending":
            seen.discard(record_id)  # a new date already past: nothing owed
        if change:
            session.execute(sa.update(TABLE).where(TABLE.c.id == row_id).values(**change))
    # Pending rows of records without a date now (or gone, or the field is): nothing is due.
    stale = [
        row_id
        for record_id, (row_id, _basis, state, _due) in left.items()
        if state == "pending" and record_id not in seen
    ]
    for start in range(0, len(stale), _CHUNK):
        session.execute(sa.delete(TABLE).where(TABLE.c.id.in_(stale[start : start + _CHUNK])))
    for start in range(0, len(rows), _CHUNK):
        session.execute(sa.insert(TABLE), rows[start : start + _CHUNK])


def due_rows(session: Session, rule_id: int, until: dt.datetime, limit: int = 100) -> list[Any]:
    """A rule's pending rows due by ``until``, soonest first (the Test panel's list)."""
    return list(
        session.execute(
            sa.select(TABLE.c.record_id, TABLE.c.due_at, TABLE.c.basis)
            .where(
                TABLE.c.rule_id == rule_id,
                TABLE.c.state == "pending",
                TABLE.c.due_at <= until,
            )
            .order_by(TABLE.c.due_at, TABLE.c.record_id)
            .limit(limit)
        )
    )


def next_scheduled_run(session: Session, rule_id: int) -> dt.datetime | None:
    """A scheduled rule's next run (UTC), or None."""
    return session.scalar(
        sa.select(TABLE.c.due_at).where(
            TABLE.c.rule_id == rule_id, TABLE.c.record_id == SCHEDULE_RECORD
        )
    )


# ------------------------------------------------------------------------- session listeners
def _after_flush(session: Session, _context: Any) -> None:
    saved: set[int] | None = None
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, AutomationRule) and obj.id is not None:
            saved = session.info.setdefault(_SAVED_RULES, set())
            saved.add(obj.id)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    saved: set[int] = session.info.pop(_SAVED_RULES, set())
    if not saved:
        return
    for rule_id in sorted(saved):
        sync_rule(session, rule_id)
    session.flush()


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_SAVED_RULES, None)


def sync_saved_rules(session: Session) -> None:
    """Sync the rules saved so far in this transaction now (before the commit would)."""
    session.flush()
    _before_commit(session)


def install(session_class: Any) -> None:
    """Keep due work in line with rule saves on ``session_class``'s sessions (once)."""
    for name, listener in (
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_rollback", _forget),
    ):
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)
