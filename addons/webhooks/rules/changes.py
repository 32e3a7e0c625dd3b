"""Record what a rule changes in the database, for the dry run's report.

A SQLAlchemy ``after_flush`` listener sees every insert, update and delete the record API
flushes, with the attribute history still in place, so the report needs no cooperation from
the action types (a third-party type's changes are reported too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from nightpos_app.orm.registry import ModelRegistry


@dataclass
class Change:
    """One record created, updated or deleted by one action."""

    action: str
    operation: str  # "create" | "update" | "delete"
    model: str
    record_id: int | None
    display_name: str
    #: field technical name -> (old value, new value), as stored (ids for many-to-ones).
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)


class ChangeRecorder:
    """Collects :class:`Change` rows from a session's flushes while active."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self.current_action = ""
        self.changes: list[Change] = []

    def _entry(self, obj: Any) -> Any:
        try:
            return self.registry.entry_for_class(type(obj))
        except KeyError:
            return None  # not a record API model (e.g. a FAB table)

    def after_flush(self, session: Session, _context: Any) -> None:
        for obj, operation in [
            *((o, "create") for o in session.new),
            *((o, "update") for o in session.dirty),
            *((o, "delete") for o in session.deleted),
        ]:
            entry = self._entry(obj)
            if entry is None:
                continue
            state = sa.inspect(obj)
            changed: dict[str, tuple[Any, Any]] = {}
            for name in entry.fields:
                history = state.attrs[name].history
                if operation == "create" and name != "id":
                    changed[name] = (None, getattr(obj, name))
                elif operation == "update" and history.has_changes():
                    old = history.deleted[0] if history.deleted else None
                    new = history.added[0] if history.added else None
                    changed[name] = (old, new)
            if operation == "update" and not changed:
                continue
            self.changes.append(
                Change(
                    self.current_action,
                    operation,
                    entry.name,
                    getattr(obj, "id", None),
                    str(obj),
                    changed,
                )
            )


@contextmanager
def recording_changes(session: Session, registry: ModelRegistry) -> Iterator[ChangeRecorder]:
    """Record the changes flushed through ``session`` inside the block."""
    recorder = ChangeRecorder(registry)
    target = session() if callable(session) and not isinstance(session, Session) else session
    sa.event.listen(target, "after_flush", recorder.after_flush)
    try:
        yield recorder
    finally:
        sa.event.remove(target, "after_flush", recorder.after_flush)
