"""What a webhook call needs from the database beyond the record API.

* :func:`begin_write` opens a transaction for writing: on SQLite it takes the write lock up
  front (``BEGIN IMMEDIATE``), so concurrent writers queue on the busy timeout instead of both
  reading and then failing to upgrade to a write lock. :func:`write_transaction` (a webhook
  call's) takes it the same way, but at the transaction's first statement.
* :func:`lock_records` locks the Target Record's rows (``SELECT ... FOR UPDATE`` on
  PostgreSQL) when they are first read, so that a read-modify-write by the actions sees the
  value the previous call committed, not a stale one.
* :func:`database_problem` tells a database that is busy or gone (a 503 for the caller, who
  should try again) from every other error, and whether the failed transaction is worth
  running again at once (a deadlock or a serialization failure: nothing was written).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import scoped_session

from nightpos_app import sqlite
from nightpos_app.orm import store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from nightpos_app.orm import RecordSet


class Kind(enum.Enum):
    """Why the database could not do the work."""

    #: The transaction lost a race (deadlock, serialization failure, SQLite's busy snapshot):
    #: it was rolled back and can be run again at once.
    CONFLICT = "conflict"
    #: The database is up but did not give what was needed in time (a lock held longer than the
    #: busy timeout, no free connection).
    BUSY = "busy"
    #: The database cannot be reached or cannot work (connection refused or lost, shut down,
    #: disk error).
    UNAVAILABLE = "unavailable"


#: What the caller reads, and how long it should wait before trying again.
_ANSWERS: dict[Kind, tuple[str, int]] = {
    Kind.CONFLICT: ("The database is busy; nothing was changed. Try again shortly.", 1),
    Kind.BUSY: ("The database is busy; nothing was changed. Try again shortly.", 1),
    Kind.UNAVAILABLE: ("The database is unavailable; nothing was changed. Try again later.", 5),
}

# SQLite primary result codes (the extended code's low byte).
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_SQLITE_UNAVAILABLE = {
    8,  # SQLITE_READONLY (the file or its folder became read-only)
    10,  # SQLITE_IOERR
    11,  # SQLITE_CORRUPT
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
}

# PostgreSQL SQLSTATEs.
_PG_CONFLICT = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_PG_BUSY = {"55P03", "57014", "53300"}  # lock_not_available, query_canceled, too_many_connections
_PG_UNAVAILABLE_CLASSES = ("08", "53", "57P", "58")  # connection, resources, shutdown, system


class DatabaseProblem(Exception):
    """The database was busy or unavailable: nothing the call did was kept.

    ``message`` is for the caller; ``detail`` (the driver's own words) is for the server log
    and the call log only.
    """

    def __init__(self, kind: Kind, detail: str) -> None:
        self.kind = kind
        self.message, self.retry_after = _ANSWERS[kind]
        self.detail = detail
        super().__init__(f"{self.message} ({detail})")

    @property
    def retryable(self) -> bool:
        """Whether running the transaction again at once may well succeed."""
        return self.kind is Kind.CONFLICT


def _kind_of_driver_error(orig: BaseException) -> Kind | None:
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        primary = sqlite_code & 0xFF
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return Kind.CONFLICT
        return Kind.UNAVAILABLE if primary in _SQLITE_UNAVAILABLE else None
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in _PG_CONFLICT:
            return Kind.CONFLICT
        if sqlstate in _PG_BUSY:
            return Kind.BUSY
        return Kind.UNAVAILABLE if sqlstate.startswith(_PG_UNAVAILABLE_CLASSES) else None
    # psycopg raises OperationalError with no SQLSTATE when there is no server to give one
    # (connection refused, server closed the connection); InterfaceError on a closed connection.
    if type(orig).__module__.startswith("psycopg") and type(orig).__name__ in (
        "OperationalError",
        "InterfaceError",
    ):
        return Kind.UNAVAILABLE
    return None


def _kind_of(error: BaseException) -> Kind | None:
    if isinstance(error, sa_exc.TimeoutError):  # no connection free in the pool in time
        return Kind.BUSY
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return Kind.UNAVAILABLE
        kind = _kind_of_driver_error(error.orig) if error.orig is not None else None
        if kind is Kind.CONFLICT and error.statement == sqlite.BEGIN_IMMEDIATE:
            # The write lock was held by others for the whole busy timeout: running again at
            # once would only wait again.
            return Kind.BUSY
        return kind
    return _kind_of_driver_error(error)


def database_problem(error: BaseException) -> DatabaseProblem | None:
    """The :class:`DatabaseProblem` behind ``error``, or None if the database is not at fault.

    The whole chain of causes is searched: a database error raised while admin code ran reaches
    the engine wrapped in the sandbox's error.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        kind = _kind_of(current)
        if kind is not None:
            orig = getattr(current, "orig", None) or current
            lines = str(orig).strip().splitlines()
            detail = type(orig).__name__ + (f": {lines[0]}" if lines else "")
            return DatabaseProblem(kind, detail)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn a database error inside the block into a :class:`DatabaseProblem` when it is one."""
    try:
        yield
    except sa_exc.SQLAlchemyError as error:
        problem = database_problem(error)
        if problem is None:
            raise
        raise problem from error


def begin_write(session: Session | scoped_session[Session]) -> None:
    """Make ``session``'s transaction ready for work that writes.

    A transaction in progress must only have read (a webhook call looks its rule up first).
    On SQLite it is ended and a new one begins with ``BEGIN IMMEDIATE``, which waits up to the
    busy timeout for the write lock: a :class:`DatabaseProblem` from here means the lock was
    held all that time (``BUSY``: running again at once would only wait again). Elsewhere
    (PostgreSQL, READ COMMITTED: every statement reads what is committed when it runs) the
    transaction in progress simply goes on, on the same connection; rows are locked as they
    are needed (:func:`lock_records`).
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction() and session.get_bind().dialect.name != "sqlite":
        return
    try:
        sqlite.begin_write_transaction(session)  # the REST API's writes take it the same way
    except sa_exc.SQLAlchemyError as error:
        session.rollback()
        problem = database_problem(error)
        if problem is None:
            raise
        raise problem from error


@contextmanager
def write_transaction(session: Session | scoped_session[Session]) -> Iterator[None]:
    """A transaction for work that may write, locked from its first statement.

    As :func:`begin_write`, except that on SQLite the write lock is taken when the transaction
    runs its first statement rather than now: a webhook call whose rule code works for a while
    before it reads or writes anything (use case 2 builds a contact from the payload, then
    creates it) does not hold every other writer back meanwhile. Nothing is read before the
    lock, so the call still sees the database as no other writer can change it.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    if session.in_transaction():
        session.rollback()
    with sqlite.write_lock_at_first_statement():
        yield


def lock_records(records: RecordSet) -> None:
    """Lock the rows of ``records`` until the transaction ends, from when they are first read.

    On PostgreSQL (READ COMMITTED) a row read before another transaction commits a change to it
    would be stale: ``SELECT ... FOR UPDATE`` waits for that transaction and returns the
    committed row (:func:`nightpos_app.orm.store.lock_on_load`). A rule whose actions never
    read its Target Record locks nothing.

    SQLite has no row locks and needs none: a webhook call's transaction holds the database's
    write lock from its first statement (:func:`begin_write`), so nothing it reads can change
    under it.
    """
    store.lock_on_load(records)
