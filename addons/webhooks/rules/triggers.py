"""Record triggers: rules that run when records of their model are created, updated or deleted.

Changes are seen where every writer meets, the SQLAlchemy session, so a rule fires whatever
made the change: the CRUD screens, the REST API, the record API, or another rule's action.

* ``before_flush`` notes what is about to change: which fields of which updated records (and
  which of them matched each rule's *Before Update Domain*, read while the database still holds
  the old values), and the last values and domain matches of records about to be deleted.
* ``after_flush`` makes those notes pending events (a flush that fails leaves none), with the
  ids of the created records, now known.
* The pending events are handled by :func:`fire_pending`, still inside the transaction: at the
  end of a webhook rule's run (the engine calls it) and in ``before_commit`` for every other
  writer. Each matching rule's actions run on the matching records; an action that fails raises
  :class:`AutomationError`, which undoes the whole transaction, the change that triggered the
  rule included, and tells the user which rule failed and why.

Loop guard: an event remembers which rules were running when its change was made; a rule never
handles an event its own actions caused (directly or through other rules), and says so in the
log. So a rule that writes the records it watches runs once per outside change, and rules that
trigger one another stop once each has run.

The active record rules are needed once per transaction, only when records change, and read
only when a rule changed since the process last read them (addons/webhooks/rules/revision.py).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from addons.webhooks.metrics import observe_record_rule
from addons.webhooks.models import (
    RECORD_TRIGGERS,
    TIMING_TRIGGERS,
    AutomationRule,
    ServerAction,
)
from addons.webhooks.rules import due, revision
from addons.webhooks.rules.record_filters import parse_domain, parse_fields
from addons.webhooks.rules.state import EXTENSION_KEY
from nightpos_app.exceptions import UserError
from nightpos_app.orm import Environment
from nightpos_app.orm.registry import ModelEntry, ModelRegistry
from nightpos_app.state import get_state

logger = logging.getLogger(__name__)

#: ``session.info`` keys. Rules are cached for the transaction; events wait to be handled.
_RULES = "nightpos.triggers.rules"
_STAGED = "nightpos.triggers.staged"
_NEW = "nightpos.triggers.new"
_PENDING = "nightpos.triggers.pending"
_RUNNING = "nightpos.triggers.running"
_DEPTH = "nightpos.triggers.depth"
_FIRING = "nightpos.triggers.firing"

#: Rules triggering rules: deeper than this is refused (a chain this long is a design error).
MAX_DEPTH = 8


class AutomationError(UserError):
    """A rule triggered by a record change failed; the change is rolled back with it."""


# --------------------------------------------------------------------------------- the state
@dataclass(frozen=True)
class RecordRule:
    """An active rule with a record trigger, as the trigger machinery needs it."""

    id: int
    name: str
    model: str
    kinds: frozenset[str]
    domain: tuple[Any, ...]
    pre_domain: tuple[Any, ...]
    fields: frozenset[str]
    #: A timing rule: a change makes the records due later (rules/due.py) instead of running.
    timing: due.Timing | None = None


@dataclass
class RecordEvent:
    """A change of records of one model, waiting for the rules that react to it."""

    kind: str  # create, write or unlink
    model: str
    ids: list[int]
    #: The rules whose actions made the change (the loop guard).
    origin: frozenset[int]
    #: write: the fields that changed, by record id.
    changed: dict[int, frozenset[str]] = field(default_factory=dict)
    #: write: the ids that matched each rule's Before Update Domain; unlink: its domain.
    matched_before: dict[int, set[int]] = field(default_factory=dict)
    #: unlink: the deleted records' last values.
    values: dict[int, dict[str, Any]] = field(default_factory=dict)
    depth: int = 0


def _enabled() -> bool:
    return has_app_context() and EXTENSION_KEY in current_app.extensions


_RULE_TABLE = AutomationRule.__table__
#: The active record rules, read with Core: this runs in every transaction that changes records,
#: and the ORM's execution layer cost several times the query itself. Built once, so SQLAlchemy
#: compiles it once.
_ACTIVE_RECORD_RULES = (
    sa.select(
        _RULE_TABLE.c.id,
        _RULE_TABLE.c.name,
        _RULE_TABLE.c.model,
        _RULE_TABLE.c.trigger,
        _RULE_TABLE.c.filter_domain,
        _RULE_TABLE.c.filter_pre_domain,
        _RULE_TABLE.c.trigger_fields,
        _RULE_TABLE.c.trg_selection_field,
        _RULE_TABLE.c.trg_selection_value,
        _RULE_TABLE.c.trg_date_field,
        _RULE_TABLE.c.trg_date_range,
        _RULE_TABLE.c.trg_date_range_type,
    )
    .where(
        _RULE_TABLE.c.active.is_(True),
        _RULE_TABLE.c.trigger.in_([*RECORD_TRIGGERS, *TIMING_TRIGGERS]),
        # Says in the partial index's own words what the IN implies, so that the databases
        # use ix_base_automation_record_trigger (see AutomationRule.__table_args__).
        # A literal, not a bound parameter: SQLite matches the index's condition as written.
        _RULE_TABLE.c.trigger != sa.literal_column("'on_webhook'"),
    )
    .order_by(_RULE_TABLE.c.id)
)


def _rules(session: Session) -> tuple[RecordRule, ...]:
    """The active record rules, once per transaction: the process's copy when the revision is
    the one it was read at, else read (rules edited by another process take effect in the next
    transaction)."""
    cached = session.info.get(_RULES)
    if cached is not None:
        return cached
    at = revision.current(session)
    cache = current_app.extensions[EXTENSION_KEY].record_rules
    held = cache.get("active", at) if at is not None else None
    if held is not None:
        rules = held[1]
    else:
        rules = tuple(
            rule
            for row in session.connection().execute(_ACTIVE_RECORD_RULES)
            if (rule := _record_rule(tuple(row))) is not None
        )
        cache.put("active", at, rules)
    session.info[_RULES] = rules
    return rules


@functools.lru_cache(maxsize=1024)
def _record_rule(row: tuple[Any, ...]) -> RecordRule | None:
    """A rule's row as the machinery needs it; cached on the row's values, so the domains of
    an unchanged rule are parsed once per process."""
    (rule_id, name, model, trigger, filter_domain, filter_pre_domain, trigger_fields) = row[:7]
    selection_field, selection_value, date_field, delay, unit = row[7:]
    try:
        domain, pre_domain = parse_domain(filter_domain), parse_domain(filter_pre_domain)
    except ValueError as exc:  # saved before validation existed, or by hand in SQL
        logger.warning("automation rule %s: bad filter, rule skipped: %s", rule_id, exc)
        return None
    fields = parse_fields(trigger_fields)
    if trigger in TIMING_TRIGGERS:
        # The Extra Conditions are checked when the record is due, not when it changes.
        timing = due.Timing(trigger, date_field, int(delay or 0), unit or "days")
        watched = frozenset({date_field}) if trigger == "on_time" and date_field else frozenset()
        return RecordRule(rule_id, name, model, TIMING_TRIGGERS[trigger], (), (), watched, timing)
    if trigger == "on_value_set":
        # On create or update, when the field changes to the value: Odoo's "State is set to".
        if not selection_field:
            return None
        domain = [*domain, (selection_field, "=", selection_value)]
        fields, pre_domain = frozenset({selection_field}), []
    return RecordRule(
        id=rule_id,
        name=name,
        model=model,
        kinds=RECORD_TRIGGERS[trigger],
        domain=_frozen(domain),
        pre_domain=_frozen(pre_domain),
        fields=fields,
    )


def _frozen(domain: list[Any]) -> tuple[Any, ...]:
    """A domain that a cached rule can share safely: its terms as tuples."""
    return tuple(tuple(term) if isinstance(term, list) else term for term in domain)


def _watched(session: Session, registry: ModelRegistry, obj: Any) -> ModelEntry | None:
    try:
        return registry.entry_for_class(type(obj))
    except KeyError:
        return None


def _env(session: Session) -> Environment:
    """The environment record rules' actions (their admin code too) and domains run in: one
    for automation code, never trusted (nightpos_app/orm/environment.py)."""
    return Environment(session, get_state().registry)


def _matching(env: Environment, model: str, ids: Sequence[int], domain: Sequence[Any]) -> set[int]:
    """Which of ``ids`` match ``domain`` now (no flush: before_flush reads the old values)."""
    if not ids:
        return set()
    with env._session.no_autoflush:
        return set(env[model].search([("id", "in", list(ids)), *domain]).ids)


# ------------------------------------------------------------------------- session listeners
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if not _enabled():
        return
    # Rules themselves change: read them again when next needed.
    if any(isinstance(o, (AutomationRule, ServerAction)) for o in _touched(session)):
        session.info.pop(_RULES, None)
    rules = _rules(session)
    if not rules:
        return
    registry = get_state().registry
    watched = {rule.model for rule in rules}
    origin: frozenset[int] = session.info.get(_RUNNING, frozenset())
    depth: int = session.info.get(_DEPTH, 0)
    env = _env(session)
    staged: list[RecordEvent] = session.info.setdefault(_STAGED, [])
    new: list[tuple[str, Any, frozenset[int], int]] = session.info.setdefault(_NEW, [])

    updates: dict[str, RecordEvent] = {}
    for obj in session.dirty:
        entry = _watched(session, registry, obj)
        if entry is None or entry.name not in watched or obj.id is None:
            continue
        changed = _changed_fields(entry, obj)
        if not changed:
            continue
        change = updates.setdefault(
            entry.name, RecordEvent("write", entry.name, [], origin, depth=depth)
        )
        change.ids.append(obj.id)
        change.changed[obj.id] = changed
    for model, change in updates.items():
        for rule in rules:
            if rule.model == model and "write" in rule.kinds and rule.pre_domain:
                change.matched_before[rule.id] = _matching(env, model, change.ids, rule.pre_domain)
        staged.append(change)

    deletions: dict[str, RecordEvent] = {}
    for obj in session.deleted:
        entry = _watched(session, registry, obj)
        if entry is None or obj.id is None:
            continue
        if not any(r.model == entry.name and "unlink" in r.kinds for r in rules):
            continue
        gone = deletions.setdefault(
            entry.name, RecordEvent("unlink", entry.name, [], origin, depth=depth)
        )
        gone.ids.append(obj.id)
        # Their last values, for the actions (Send Webhook Notification sends them): never a
        # secret field, which nothing a rule does may read.
        gone.values[obj.id] = {
            name: getattr(obj, name) for name, fld in entry.fields.items() if not fld.secret
        }
    for model, gone in deletions.items():
        for rule in rules:
            if rule.model == model and "unlink" in rule.kinds:
                gone.matched_before[rule.id] = _matching(env, model, gone.ids, rule.domain)
        staged.append(gone)

    for obj in session.new:
        entry = _watched(session, registry, obj)
        if entry is not None and any(r.model == entry.name and "create" in r.kinds for r in rules):
            new.append((entry.name, obj, origin, depth))


def _changed_fields(entry: ModelEntry, obj: Any) -> frozenset[str]:
    """The fields of ``obj`` with unflushed changes. A many-to-one set through its
    relationship (as the screens do: ``order.currency = usd``) counts as its id field."""
    state = sa.inspect(obj)
    mapper = state.mapper
    changed = {
        name
        for name in entry.fields
        if name in state.attrs and state.attrs[name].history.has_changes()
    }
    for relationship in mapper.relationships:
        if relationship.direction.name != "MANYTOONE":
            continue
        if state.attrs[relationship.key].history.has_changes():
            for column in relationship.local_columns:
                key = mapper.get_property_by_column(column).key
                if key in entry.fields:
                    changed.add(key)
    return frozenset(changed)


def _touched(session: Session) -> Iterator[Any]:
    yield from session.new
    yield from session.dirty
    yield from session.deleted


def _after_flush(session: Session, _context: Any) -> None:
    staged = session.info.pop(_STAGED, None)
    new = session.info.pop(_NEW, None)
    if not staged and not new:
        return
    pending: list[RecordEvent] = session.info.setdefault(_PENDING, [])
    creations: dict[tuple[str, frozenset[int], int], RecordEvent] = {}
    for model, obj, origin, depth in new or ():
        key = (model, origin, depth)
        creations.setdefault(key, RecordEvent("create", model, [], origin, depth=depth))
        creations[key].ids.append(obj.id)
    pending.extend(creations.values())
    pending.extend(staged or ())


def _forget(session: Session, *_args: Any) -> None:
    """A rollback undoes the changes: their events go, and the rules are read again."""
    for key in (_RULES, _STAGED, _NEW, _PENDING):
        session.info.pop(key, None)


def _forget_rules(session: Session, *_args: Any) -> None:
    session.info.pop(_RULES, None)


def _before_commit(session: Session) -> None:
    # before_commit also fires when a savepoint is released: only the real commit handles
    # events, so a record API write inside a larger transaction is handled with the rest.
    if session.in_nested_transaction() or not _enabled():
        return
    fire_pending(session)


def install(session_class: Any) -> None:
    """Listen to ``session_class``'s sessions (once per process, whatever the number of apps)."""
    for name, listener in (
        ("before_flush", _before_flush),
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_rollback", _forget),
        ("after_commit", _forget_rules),
    ):
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)


# ------------------------------------------------------------------------------- firing rules
def fire_pending(session: Session) -> None:
    """Run the rules the changes so far trigger, and those their actions trigger in turn.

    Raises :class:`AutomationError` when a rule fails (the caller rolls back); database
    errors are raised as they are.
    """
    if session.info.get(_FIRING):
        return  # the outer call handles the events the running actions add
    session.info[_FIRING] = True
    try:
        session.flush()
        pending: list[RecordEvent] = session.info.get(_PENDING, [])
        while pending:
            change = pending.pop(0)
            for rule in _rules(session):
                if rule.model == change.model and change.kind in rule.kinds:
                    _handle(session, rule, change)
            session.flush()
            pending = session.info.get(_PENDING, [])
    finally:
        session.info.pop(_FIRING, None)


def _handle(session: Session, rule: RecordRule, change: RecordEvent) -> None:
    if rule.id in change.origin:
        logger.info(
            "automation rule %s (%s): not run again by its own change of %s %s (loop guard)",
            rule.id,
            rule.name,
            change.model,
            change.ids,
        )
        return
    if change.depth >= MAX_DEPTH:
        raise AutomationError(
            f"Automation rule {rule.name!r}: rules triggered one another more than "
            f"{MAX_DEPTH} levels deep; the change was not saved."
        )
    ids = _selected(session, rule, change)
    if not ids:
        return
    if rule.timing is not None:
        due.schedule(session, rule.id, rule.model, rule.timing, ids)
        return
    from addons.webhooks.rules.engine import run_on_records  # the engine imports this module

    records = _env(session)[rule.model].browse(ids)
    try:
        with _running(session, change.origin | {rule.id}, change.depth + 1):
            run_on_records(rule.id, records, change.kind, change.values)
        observe_record_rule(rule.id, ok=True)
    except UserError as exc:
        observe_record_rule(rule.id, ok=False)
        raise AutomationError(f"Automation rule {rule.name!r}: {exc.message}") from exc
    except SQLAlchemyError:
        raise
    except Exception as exc:  # admin code or an addon's type failed unexpectedly
        observe_record_rule(rule.id, ok=False)
        reference = uuid.uuid4().hex[:12]
        logger.exception("automation rule %s failed (reference %s)", rule.id, reference)
        raise AutomationError(
            f"Automation rule {rule.name!r} failed unexpectedly (reference {reference})."
        ) from exc


def _selected(session: Session, rule: RecordRule, change: RecordEvent) -> list[int]:
    """The records of ``change`` that ``rule`` runs on: its fields, domains, and existence."""
    ids = change.ids
    if change.kind == "write" and rule.fields:
        ids = [i for i in ids if change.changed.get(i, frozenset()) & rule.fields]
    if rule.id in change.matched_before:
        ids = [i for i in ids if i in change.matched_before[rule.id]]
    if change.kind == "unlink":
        return ids
    if not ids:
        return []
    # The domain on the records as they are now (a deleted record drops out).
    found = _matching(_env(session), rule.model, ids, rule.domain)
    return [i for i in ids if i in found]


@contextmanager
def _running(session: Session, rules: frozenset[int], depth: int) -> Iterator[None]:
    """Changes made inside are caused by ``rules``, ``depth`` rules deep.

    The block's changes are flushed before it ends, so that they are seen as theirs.
    """
    saved = session.info.get(_RUNNING, frozenset()), session.info.get(_DEPTH, 0)
    session.info[_RUNNING], session.info[_DEPTH] = rules, depth
    try:
        yield
        session.flush()
    finally:
        session.info[_RUNNING], session.info[_DEPTH] = saved


@contextmanager
def running_rule(session: Session, rule_id: int) -> Iterator[None]:
    """While a webhook runs ``rule_id``: changes it makes do not trigger it again."""
    with _running(session, session.info.get(_RUNNING, frozenset()) | {rule_id}, 1):
        yield
