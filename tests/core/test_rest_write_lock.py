"""REST writes on SQLite wait for the write lock another connection holds, then succeed.

A transaction that reads and then writes cannot wait for a concurrent writer on SQLite: once
that writer commits, the reader's snapshot is stale and SQLite refuses its write at once
("database is locked", which the API answered 422). A REST write therefore takes the write lock
before anything runs (``nightpos_app/rest.py``), as webhook calls do, and waits for it.

The other writer here is a plain connection that holds ``BEGIN IMMEDIATE`` with a write in
progress until the test lets it go: once the REST request has started to take the lock
(seen by SQLite's statement trace on the app's connections), never after a guessed pause.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event

from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.addons.webhooks.live_server import serving
from tests.support.web import ADMIN, WebClient

#: Statements that need the write lock: the lock taken up front, or a write of a transaction
#: that read first (what a REST write did before it took the lock up front).
LOCKING = ("BEGIN IMMEDIATE", "INSERT", "UPDATE", "DELETE")


@pytest.fixture
def sqlite_file(app: Flask, demo: None) -> Path:
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        pytest.skip("SQLite's write lock; PostgreSQL locks rows")
    return Path(url.database or "")


@pytest.fixture
def write_attempts(app: Flask) -> Iterator[threading.Event]:
    """Set when one of the app's connections starts a statement that needs the write lock."""
    attempted = threading.Event()
    traced: list[Any] = []

    def trace(statement: str) -> None:
        if statement.lstrip().upper().startswith(LOCKING):
            attempted.set()

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # At checkout, before the transaction begins: its BEGIN IMMEDIATE is traced too.
        dbapi_connection.set_trace_callback(trace)
        traced.append(dbapi_connection)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "checkout", on_checkout)
    try:
        yield attempted
    finally:
        event.remove(engine, "checkout", on_checkout)
        for dbapi_connection in traced:
            dbapi_connection.set_trace_callback(None)


class LockHolder:
    """A connection of its own holding the write lock, a write in progress, until released."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.holding = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT INTO res_partner (name, company_type, customer_rank, supplier_rank, "
                "active) VALUES ('Lock holder', 'person', 0, 0, 1)"
            )
            self.holding.set()
            self.release.wait(60)
            connection.execute("COMMIT")
        finally:
            connection.close()

    def __enter__(self) -> LockHolder:
        self.thread.start()
        assert self.holding.wait(30), "the holder did not get the write lock"
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.thread.join(30)


def request(host: str, port: int, method: str, path: str, token: str, body: Any) -> Any:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(
            method,
            path,
            body=json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def partner_id(app: Flask, name: str) -> int:
    with app.app_context():
        return get_env(trusted=True)["res.partner"].search([("name", "=", name)]).id


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_rest_write_waits_for_the_write_lock_and_succeeds(
    app: Flask, sqlite_file: Path, write_attempts: threading.Event, method: str
) -> None:
    token = WebClient(app.test_client()).api_token(ADMIN)  # the login writes too: before
    if method == "POST":
        path, body, name = "/api/v1/res_partner/", {"name": "Waited POST"}, "Waited POST"
    else:
        with app.app_context():
            target = get_env(trusted=True)["res.partner"].create({"name": "Before PUT"})
            db.session.commit()
        path, body, name = f"/api/v1/res_partner/{target.id}", {"name": "Waited PUT"}, "Waited PUT"
    answers: list[Any] = []
    try:
        with serving(app) as (host, port), LockHolder(sqlite_file) as holder:
            write_attempts.clear()  # the login's and the set-up's writes came before
            sender = threading.Thread(
                target=lambda: answers.append(request(host, port, method, path, token, body))
            )
            sender.start()
            # The request asks for the lock while the holder has it; then the holder commits.
            assert write_attempts.wait(30), "the request never tried to write"
            holder.release.set()
            sender.join(60)
        status, answer = answers[0]
        assert status == (201 if method == "POST" else 200), answer
        assert partner_id(app, name)
        # The holder's write is kept as well: both writers got their turn.
        assert partner_id(app, "Lock holder")
    finally:
        with app.app_context():
            db.session.execute(sa.text("DELETE FROM res_partner WHERE name = 'Lock holder'"))
            db.session.commit()
