"""Taking SQLite's write lock (nightpos_app/sqlite.py), on real database files."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nightpos_app import sqlite as sqlite_module
from nightpos_app.sqlite import begin_immediate

BUSY_TIMEOUT_MS = 5_000


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "lock.db"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.close()
    yield path


def _connect(path: Path) -> sqlite3.Connection:
    # As the app's connections: no pysqlite transactions, the app's busy timeout.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return connection


def test_a_writer_waits_for_the_lock_and_gets_it_when_released(database: Path) -> None:
    holder, waiter = _connect(database), _connect(database)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.2, holder.execute, args=("COMMIT",))
    release.start()
    begin_immediate(waiter, BUSY_TIMEOUT_MS)  # waits out the holder's transaction
    release.join()
    assert waiter.in_transaction
    # The waiter began after the holder's commit, so it reads it.
    assert waiter.execute("SELECT n FROM t").fetchall() == [(1,)]
    waiter.execute("INSERT INTO t VALUES (2)")
    waiter.execute("COMMIT")
    assert holder.execute("SELECT count(*) FROM t").fetchone() == (2,)
    # The connection's own busy timeout is back for its other statements.
    assert waiter.execute("PRAGMA busy_timeout").fetchone() == (BUSY_TIMEOUT_MS,)


def test_a_lock_held_past_the_timeout_is_database_is_locked(database: Path) -> None:
    holder, waiter = _connect(database), _connect(database)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked") as caught:
        begin_immediate(waiter, 150)
    assert caught.value.sqlite_errorcode & 0xFF == 5  # SQLITE_BUSY: the app answers 503
    assert not waiter.in_transaction
    assert waiter.execute("PRAGMA busy_timeout").fetchone() == (150,)
    holder.execute("ROLLBACK")
    begin_immediate(waiter, 150)
    assert waiter.in_transaction


def test_other_errors_are_raised_at_once(tmp_path: Path) -> None:
    waiter = _connect(tmp_path / "lock.db")
    waiter.execute("BEGIN")  # a transaction already open: not a lock to wait for
    with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
        begin_immediate(waiter, BUSY_TIMEOUT_MS)


def test_while_another_thread_polls_a_writer_waits_in_sqlites_busy_handler(
    database: Path,
) -> None:
    holder, waiter = _connect(database), _connect(database)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, holder.execute, args=("COMMIT",))
    with sqlite_module._POLLING:  # as if another thread of this process were polling
        release.start()
        begin_immediate(waiter, BUSY_TIMEOUT_MS)
    release.join()
    assert waiter.in_transaction
    waiter.execute("COMMIT")
