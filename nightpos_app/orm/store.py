"""How recordsets reach the database: loading in batches, and savepoints.

Kept apart from :mod:`nightpos_app.orm.recordset` so the public record API
stays a thin layer; everything here takes the environment and works on the
private session, never handed to admin code.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm.util import identity_key

from nightpos_app.exceptions import ValidationError

if TYPE_CHECKING:
    from nightpos_app.orm.environment import Environment
    from nightpos_app.orm.recordset import RecordSet
    from nightpos_app.orm.registry import ModelEntry

#: Ids per ``IN (...)``: far below SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 1000


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def storable(entry: ModelEntry, ids: Iterable[int]) -> list[int]:
    """The ids the id column can hold. No other id can exist, and binding one
    would make the database raise (SQLite overflows, PostgreSQL aborts)."""
    low, high = entry.fields["id"].bounds or (-(2**63), 2**63 - 1)
    return [i for i in ids if low <= i <= high]


@functools.cache
def _ids_in(cls: type[Any]) -> sa.Select[Any]:
    """``SELECT id FROM <table> WHERE id IN (:ids)``, built once per model: the record API asks
    it on every many-to-one it validates, and building the expression cost more than running
    it. A Core statement, so that the session's execution skips the ORM's work."""
    table = cls.__table__
    return sa.select(table.c.id).where(table.c.id.in_(sa.bindparam("ids", expanding=True)))


@functools.cache
def _rows_in(cls: type[Any]) -> sa.Select[Any]:
    """``SELECT <model> WHERE id IN (:ids)``, built once per model (see :func:`_ids_in`)."""
    return sa.select(cls).where(cls.id.in_(sa.bindparam("ids", expanding=True)))


@functools.cache
def _row_by_id(cls: type[Any]) -> sa.Select[Any]:
    """``SELECT <model> WHERE id = :id``: one record (a webhook's target, most often) without
    the expanding parameter's rendering on every call."""
    return sa.select(cls).where(cls.id == sa.bindparam("id"))


def existing_ids(env: Environment, entry: ModelEntry, ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` are in the database (in this transaction)."""
    query = _ids_in(entry.model_class)
    found: set[int] = set()
    for chunk in _chunks(storable(entry, ids)):
        found.update(env._session.scalars(query, {"ids": list(chunk)}))
    return found


def cached(env: Environment, entry: ModelEntry, ids: Iterable[int]) -> dict[int, Any]:
    """The mapped objects of ``ids`` that the session holds with fresh values.

    Expired objects (after a commit or a rolled-back savepoint) are left out:
    a query reloads them, and drops the ones deleted meanwhile.
    """
    identity_map = env._session.identity_map
    cls = entry.model_class
    columns = entry.fields.keys()  # expired relationships do not matter
    result = {}
    for record_id in ids:
        obj = identity_map.get(identity_key(cls, record_id))
        if obj is not None and columns.isdisjoint(sa.inspect(obj).expired_attributes):
            result[record_id] = obj
    return result


def load(
    env: Environment, entry: ModelEntry, ids: Sequence[int], group: Iterable[int]
) -> dict[int, Any]:
    """The mapped objects of ``ids`` that exist, by id.

    On a miss the whole prefetch ``group`` is loaded in one query (per
    chunk), so the next records read are already there. The session holds
    objects weakly, so the environment keeps them.
    """
    cls = entry.model_class
    pending = _pending_locks(env).get(cls)
    if pending and not pending.isdisjoint(ids):
        # Rows marked by lock_on_load, read for the first time (or loaded meanwhile without
        # the lock, by a relationship): all of them are locked, and read, now.
        _load_for_update(env, entry, pending)
        pending.clear()
    found = cached(env, entry, ids)
    if len(found) == len(ids):
        return found
    everything = dict.fromkeys([*ids, *group])
    fresh = cached(env, entry, everything)
    wanted = set(ids)
    for chunk in _chunks(storable(entry, [i for i in everything if i not in fresh])):
        if len(chunk) == 1:
            rows = env._session.scalars(_row_by_id(cls), {"id": chunk[0]})
        else:
            rows = env._session.scalars(_rows_in(cls), {"ids": list(chunk)})
        for obj in rows:
            env._loaded[cls, obj.id] = obj
            if obj.id in wanted:
                found[obj.id] = obj
    return found


def holds(entry: ModelEntry, obj: Any, name: str, value: Any) -> bool:
    """Whether field ``name`` of the mapped object ``obj`` already holds ``value``, as its
    column type compares values (as the ORM does when it decides what to UPDATE)."""
    column = entry.model_class.__table__.c[name]
    return bool(column.type.compare_values(getattr(obj, name), value))


@contextmanager
def savepoint(env: Environment, entry: ModelEntry, action: str) -> Iterator[None]:
    """Run a change in a savepoint; a database refusal undoes just that change.

    The refusal becomes a :class:`ValidationError` saying why; the session and
    the surrounding transaction stay usable (on SQLite too, where the app
    makes SQLAlchemy emit BEGIN itself so that SAVEPOINT works). Inside
    :func:`final_writes` there is no savepoint: the change is flushed at once and
    a refusal, the same ValidationError, leaves a transaction to roll back.
    """
    try:
        if env._final_writes:
            yield
            env._session.flush()
        else:
            with env._session.begin_nested():
                yield  # leaving the block flushes, then releases the savepoint
    except (IntegrityError, DataError) as exc:
        lines = str(exc.orig).splitlines() if exc.orig else []
        # PostgreSQL names the column and the value on a DETAIL line.
        reason = "; ".join(
            line.removeprefix("DETAIL:").strip()
            for i, line in enumerate(lines)
            if i == 0 or line.startswith("DETAIL:")
        )
        raise ValidationError(
            f"{entry.name}: cannot {action}: the database refused it "
            f"({reason or 'a constraint was violated'})"
        ) from None


@contextmanager
def final_writes(env: Environment) -> Iterator[None]:
    """Writes in the block whose refusal ends the whole transaction, so need no savepoint.

    For host code that rolls the transaction back whenever a write fails (a rule's built-in
    actions): a savepoint costs two statements per write and protects nothing then. Never
    around admin code, which may catch the error and go on writing.
    """
    previous, env._final_writes = env._final_writes, True
    try:
        yield
    finally:
        env._final_writes = previous


#: ``session.info`` key: the rows to lock at their first load, and the transaction they are for.
_LOCK_ON_LOAD = "nightpos.lock_on_load"


def lock_on_load(records: RecordSet) -> None:
    """Lock the rows of ``records`` until the transaction ends, when it first loads them.

    ``SELECT ... FOR UPDATE`` waits for any transaction that changed a row and returns the
    committed values, so that a read-modify-write (a counter, a status) cannot lose another's
    update. The lock is taken when the records are first read, through any recordset of this
    session, rather than at once: a rule whose actions never read its Target Record (a
    placeholder, as in the specification's use case 2) holds no row lock, and concurrent calls
    do not queue on it. The rows the transaction has already read are locked (and read again)
    at once. All the rows of one call are locked together, in id order, so that two
    transactions on overlapping records cannot deadlock. Host code only (the engine of a run).

    SQLite has no row locks: a writer there holds the whole database's write lock from its
    ``BEGIN IMMEDIATE``, so nothing it reads can change under it, and nothing is done here.
    """
    env, entry = records._env, records._entry
    if env._dialect == "sqlite":
        return
    env._session.connection()  # the transaction the locks are for, begun if it was not
    ids = set(storable(entry, records.ids))
    if cached(env, entry, ids):
        _load_for_update(env, entry, ids)
        return
    _pending_locks(env, create=True).setdefault(entry.model_class, set()).update(ids)


def _pending_locks(env: Environment, create: bool = False) -> dict[type[Any], set[int]]:
    """The rows this transaction is to lock at their first load, by model class (kept with
    the transaction they are for, so that they do not outlive it)."""
    session = env._session
    if isinstance(session, scoped_session):
        session = session()
    transaction = session.get_transaction()
    held = session.info.get(_LOCK_ON_LOAD)
    if held is not None and held[0] is transaction:
        return held[1]
    pending: dict[type[Any], set[int]] = {}
    if create and transaction is not None:
        session.info[_LOCK_ON_LOAD] = (transaction, pending)
    return pending


def _load_for_update(env: Environment, entry: ModelEntry, ids: Iterable[int]) -> None:
    """``SELECT ... FOR UPDATE`` of ``ids``, in id order; the loaded objects replace what the
    session had (``populate_existing``), so later reads see the locked values."""
    cls = entry.model_class
    for chunk in _chunks(sorted(ids)):
        if len(chunk) == 1:
            rows = env._session.scalars(_row_by_id_for_update(cls), {"id": chunk[0]})
        else:
            rows = env._session.scalars(_rows_in_for_update(cls), {"ids": list(chunk)})
        for obj in rows:
            env._loaded[cls, obj.id] = obj


@functools.cache
def _row_by_id_for_update(cls: type[Any]) -> sa.Select[Any]:
    """:func:`_row_by_id` locking its row, its values replacing the session's."""
    return _row_by_id(cls).with_for_update().execution_options(populate_existing=True)


@functools.cache
def _rows_in_for_update(cls: type[Any]) -> sa.Select[Any]:
    """:func:`_rows_in` locking its rows in id order, their values replacing the session's."""
    return (
        _rows_in(cls).order_by(cls.id).with_for_update().execution_options(populate_existing=True)
    )
