"""SQLite made to behave like the production database where it matters.

pysqlite's own transaction handling breaks SAVEPOINT (the record API uses them), so BEGIN is
emitted by SQLAlchemy instead; foreign keys are off in SQLite unless asked for; WAL lets readers
work while a request writes.

A transaction that is going to write can ask for the write lock up front with the connection
execution option ``sqlite_begin_immediate=True`` (``BEGIN IMMEDIATE``). A plain ``BEGIN`` that
reads and then writes cannot wait for a concurrent writer: SQLite answers SQLITE_BUSY at once
rather than risk a deadlock, whatever the busy timeout. ``BEGIN IMMEDIATE`` waits (up to
``NIGHTPOS_SQLITE_BUSY_TIMEOUT_MS``, default 30 s) for the lock instead, so concurrent writers
queue, in short steps (:func:`begin_immediate`). Inside :func:`write_lock_at_first_statement`,
the next transaction takes the lock that way too, but only when its first statement runs, so
that work done before it touches the database (a webhook call's rule code) holds no lock.
"""

from __future__ import annotations

import contextvars
import itertools
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: SQLite's primary result code for "the database is locked".
_SQLITE_BUSY = 5
#: Pauses between two attempts to take the write lock, in seconds (the last one repeats), each
#: scaled by a random factor between 0.5 and 1.5 so that waiting writers do not move in step.
LOCK_RETRY_PAUSES = (0.0001, 0.0002, 0.0005, 0.001, 0.002)
#: The statement an error names when the write lock could not be had in time.
BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"

#: The connection execution option that makes SQLite's BEGIN an IMMEDIATE one (read by the
#: begin listener below; other databases ignore it).
BEGIN_IMMEDIATE_OPTION = "sqlite_begin_immediate"

#: Whether the next transaction begun in this context is to take the write lock.
_lock_next_begin: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "nightpos_sqlite_lock_next_begin", default=False
)


@contextmanager
def write_lock_at_first_statement() -> Iterator[None]:
    """Make the next transaction begun inside the block a ``BEGIN IMMEDIATE`` one.

    A session begins its transaction when it first needs its connection, that is at its first
    statement: whatever runs before that (nothing of it read from the database) holds no lock,
    and everything from the first statement on sees the database as no other writer can
    change it. Only the first transaction is concerned: one begun after it ended (a failed
    call's log row, say) asks for the lock itself if it needs it.
    """
    token = _lock_next_begin.set(True)
    try:
        yield
    finally:
        _lock_next_begin.reset(token)


def begin_write_transaction(session: Session) -> None:
    """Begin ``session``'s transaction for work that writes: on SQLite with the write lock
    (``BEGIN IMMEDIATE``, waiting for it up to the busy timeout, see :func:`begin_immediate`).

    A transaction in progress must only have read: it is rolled back first, since SQLite
    cannot turn it into one that holds the lock. On other databases the option is ignored and
    a plain transaction begins. Errors are SQLAlchemy's, for the caller to answer: a webhook
    call's 503 (``addons/webhooks/database.py``), a REST write's error
    (``nightpos_app/rest.py``).
    """
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={BEGIN_IMMEDIATE_OPTION: True})


def configure(engine: Engine, busy_timeout_ms: int) -> None:
    """Set up every connection of ``engine`` (a SQLite one) as described above."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # SQLite's own lower() folds ASCII only; ilike must fold 'É' like PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # On the DBAPI connection: SQLAlchemy's statement machinery cost more than the BEGIN.
        dbapi_connection = connection.connection.dbapi_connection
        immediate = connection.get_execution_options().get(BEGIN_IMMEDIATE_OPTION)
        if _lock_next_begin.get():
            _lock_next_begin.set(False)
            immediate = True
        try:
            if immediate:
                started = time.monotonic()
                try:
                    begin_immediate(dbapi_connection, busy_timeout_ms)
                finally:
                    _lock_waits.seconds = lock_wait_seconds() + time.monotonic() - started
            else:
                dbapi_connection.execute("BEGIN")
        except sqlite3.Error as exc:  # wrapped as SQLAlchemy wraps its own statements' errors
            statement = BEGIN_IMMEDIATE if immediate else "BEGIN"
            raise DBAPIError.instance(statement, (), exc, sqlite3.Error) from exc


#: Per thread: the seconds it has spent waiting for the write lock, in all.
_lock_waits = threading.local()


def lock_wait_seconds() -> float:
    """How long this thread has waited for the write lock (``BEGIN IMMEDIATE``), in all.

    The difference between two readings is the time a piece of work spent queued behind other
    writers: not its own doing, so a deadline of its own (a webhook call's) leaves it out.
    """
    seconds: float = getattr(_lock_waits, "seconds", 0.0)
    return seconds


#: Held by the one thread of this process that waits for the write lock in short steps.
_POLLING = threading.Lock()


def begin_immediate(dbapi_connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``busy_timeout_ms`` for the write lock in short steps.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ms... between its attempts, so a
    writer that finds the lock taken a few times in a row waits tens of milliseconds for a lock
    that is held for one or two: the slowest calls under concurrent writes were these waits.
    Trying again every 0.1 to 2 ms hands the lock on soon after it is released. Raises
    ``sqlite3.OperationalError`` (database is locked) once the time is up, as SQLite would.

    One thread per process waits that way; the process's other writers wait in SQLite's busy
    handler, which sleeps without holding Python's GIL: many threads of one server polling
    from Python took the CPU time the lock's holder needed (1.7 times slower with 16 threads).
    """
    if not _POLLING.acquire(blocking=False):
        dbapi_connection.execute("BEGIN IMMEDIATE")  # the connection's own busy timeout
        return
    try:
        _poll_begin_immediate(dbapi_connection, busy_timeout_ms)
    finally:
        _POLLING.release()


def _poll_begin_immediate(dbapi_connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + busy_timeout_ms / 1000
        for attempt in itertools.count():
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            pause = LOCK_RETRY_PAUSES[min(attempt, len(LOCK_RETRY_PAUSES) - 1)]
            # Jitter, not a secret: S311 does not apply.
            time.sleep(pause * (0.5 + random.random()))  # noqa: S311
    finally:
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
        cursor.close()


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
