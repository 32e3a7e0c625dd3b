"""The automation configuration's revision, and per-process caches of what is read from rules.

Every webhook call needs its rule, and every transaction that changes records needs the active
record rules; both change rarely. So a process keeps what it read, keyed by the *revision*: the
counter in ``base_automation_revision``, bumped in the same transaction by every flush that
changes a rule or an action. A transaction reads the counter once (a primary-key read) and uses
what the process holds for that revision; a change commits a new revision, so every process sees
it from its next transaction on, as when everything was read every time.

Two rules keep a cache right:

* what is cached under revision R was read no earlier than R: the counter is read first, or in
  the same statement (:data:`REVISION_COLUMN`). On PostgreSQL each statement of a READ
  COMMITTED transaction may see a later commit, so data read after the counter can only be
  newer than its revision, which costs at most an early refresh.
* a transaction that changed rules itself neither uses nor fills the caches (:func:`current`
  answers None): what it reads is not committed and may yet be rolled back.

Bulk statements on rules and actions executed through the session bump it too; changes made
around the app (SQL by hand, ``sa.text`` included) must bump the counter themselves:
``UPDATE base_automation_revision SET revision = revision + 1``.
"""

from __future__ import annotations

import threading
from itertools import chain
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from addons.webhooks.models import AUTOMATION_REVISION, AutomationRule, ServerAction

_TABLE = AUTOMATION_REVISION
_READ = sa.select(_TABLE.c.revision).where(_TABLE.c.id == 1)
_BUMP = sa.update(_TABLE).where(_TABLE.c.id == 1).values(revision=_TABLE.c.revision + 1)

#: The revision as a column of another query, read in the same statement as the rest.
REVISION_COLUMN = _READ.scalar_subquery().label("revision")

#: ``session.info`` keys, for one transaction: the revision it read; whether it changed rules.
_REVISION = "nightpos.revision"
_CHANGED = "nightpos.revision.changed"

K = TypeVar("K")
V = TypeVar("V")


def current(session: Session) -> int | None:
    """The revision ``session``'s transaction works with, read once per transaction.

    None when the transaction has changed rules or actions itself: caches are not to be used
    (or filled) then.
    """
    if session.info.get(_CHANGED):
        return None
    revision: int | None = session.info.get(_REVISION)
    if revision is None:
        revision = session.connection().execute(_READ).scalar_one_or_none()
        session.info[_REVISION] = revision
    return revision


class RevisionCache(Generic[K, V]):
    """Values read from rules, each with the revision it was read at.

    Shared by a process's threads: entries are replaced whole, never changed in place, so a
    reader sees an old value or a new one. Bounded: past ``max_entries`` keys it starts again
    (a process serving more rules than that reads some again).
    """

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: dict[K, tuple[int, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, revision: int | None = None) -> tuple[int, V] | None:
        """The entry for ``key``; with ``revision``, only if it was read at that revision."""
        entry = self._entries.get(key)
        if entry is None or (revision is not None and entry[0] != revision):
            return None
        return entry

    def put(self, key: K, revision: int | None, value: V) -> None:
        """Keep ``value`` read at ``revision`` (None: nothing to key it by, so not kept)."""
        if revision is None:
            return
        with self._lock:
            # Replaced even by an older revision (a thread that read before another's later
            # read): a miss, not a wrong answer, and it cannot stick if the database itself
            # went back (restored from a backup).
            if key not in self._entries and len(self._entries) >= self._max_entries:
                self._entries = {}
            self._entries[key] = (revision, value)

    def discard(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries = {}


# ------------------------------------------------------------------------- session listeners
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    # Every flush that changes rules bumps the counter (not just the first of a transaction):
    # a savepoint rolled back may have undone an earlier bump.
    touched = chain(session.new, session.dirty, session.deleted)
    if any(isinstance(obj, (AutomationRule, ServerAction)) for obj in touched):
        _bump(session)


def _bump(session: Session) -> None:
    session.connection().execute(_BUMP)
    session.info[_CHANGED] = True
    session.info.pop(_REVISION, None)


_WATCHED_TABLES = frozenset({AutomationRule.__table__, ServerAction.__table__})


def _do_orm_execute(state: ORMExecuteState) -> None:
    # Bulk statements through the session (``session.execute(sa.update(ServerAction)...)``)
    # change rules without the unit of work seeing them.
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    if getattr(state.statement, "table", None) in _WATCHED_TABLES:
        _bump(state.session)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction itself, not a savepoint within it
        session.info.pop(_REVISION, None)
        session.info.pop(_CHANGED, None)


def install(session_class: Any) -> None:
    """Bump the revision on ``session_class``'s sessions (once per process)."""
    for name, listener in (
        ("before_flush", _before_flush),
        ("do_orm_execute", _do_orm_execute),
        ("after_transaction_end", _after_transaction_end),
    ):
        if not event.contains(session_class, name, listener):
            event.listen(session_class, name, listener)
