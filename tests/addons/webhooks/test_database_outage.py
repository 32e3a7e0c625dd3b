"""A database that is busy, that makes a transaction lose a race, or that is gone.

Busy or gone: the call is answered 503 with ``Retry-After`` and JSON, nothing is written (not
even a call-log row), and once the database is back calls succeed without a restart. A lost
race (deadlock, serialization failure): the whole transaction runs again, and counts once.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import make_url

from addons.webhooks.models import WebhookCall
from addons.webhooks.rules import transactions
from addons.webhooks.rules.state import get_webhooks
from nightpos_app import create_app
from nightpos_app.bootstrap import migrate_database
from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.conftest import TEST_DATABASE_URL

PROJECT_DIR = Path(__file__).resolve().parents[3]
PG_BIN = Path("/usr/lib/postgresql/15/bin")

INCREMENT = {
    "name": "Count",
    "action_type": "execute_code",
    "settings": {"code": "record.write({'customer_rank': record.customer_rank + 1})"},
}
BUSY = "The database is busy; nothing was changed. Try again shortly."
UNAVAILABLE = "The database is unavailable; nothing was changed. Try again later."


def rank_and_calls(app: Flask, rule_id: int) -> tuple[int, list[str]]:
    """The counter (contact 1's customer rank) and the statuses of the rule's logged calls."""
    with app.app_context():
        rank = get_env()["res.partner"].browse(1).customer_rank
        calls = list(
            db.session.scalars(
                sa.select(WebhookCall.status)
                .where(WebhookCall.rule_id == rule_id)
                .order_by(WebhookCall.id)
            )
        )
        return rank, calls


def assert_503(response: Any, message: str, retry_after: str) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == retry_after
    assert response.get_json() == {"status": "error", "message": message}


@pytest.fixture
def counter_rule(make_rule) -> dict[str, Any]:
    return make_rule(
        "res.partner", target_record="model.browse([1])", actions=[INCREMENT], log_calls=True
    )


# --- SQLite: another connection holds the write lock ----------------------------------------


@pytest.fixture
def short_busy_app(app: Flask, tmp_path: Path) -> Iterator[Flask]:
    """A second app on the suite's SQLite file that waits 200 ms for a lock, not 30 s."""
    busy_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "INSTANCE_DIR": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "NIGHTPOS_SQLITE_BUSY_TIMEOUT_MS": 200,
        }
    )
    yield busy_app
    with busy_app.app_context():
        db.engine.dispose()


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's write lock")
def test_sqlite_locked_longer_than_the_busy_timeout_is_503_then_works(
    app, short_busy_app, counter_rule
):
    client = short_busy_app.test_client()
    before = rank_and_calls(app, counter_rule["id"])
    blocker = sqlite3.connect(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    blocker.isolation_level = None
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.perf_counter()
        response = client.post(counter_rule["path"], json={})
        elapsed = time.perf_counter() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert_503(response, BUSY, "1")
    assert 0.2 <= elapsed < 3  # it waited the busy timeout, once (waiting again would not help)
    assert rank_and_calls(app, counter_rule["id"]) == before  # nothing, not even a log row

    response = client.post(counter_rule["path"], json={})
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert rank_and_calls(app, counter_rule["id"]) == (before[0] + 1, [*before[1], "ok"])


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's write lock")
def test_sqlite_rule_code_holds_no_lock_before_its_first_statement(
    app, short_busy_app, make_rule, counter_rule
):
    """A call takes the write lock at its first statement: code that works from the payload
    alone is not held back by another writer; code that writes waits for the lock then."""
    check_only = {
        "name": "Check",
        "action_type": "execute_code",
        "settings": {"code": "if not payload.get('name'):\n    raise UserError('name, please')"},
    }
    quiet = make_rule("res.partner", target_record="model.browse([1])", actions=[check_only])
    client = short_busy_app.test_client()
    before = rank_and_calls(app, counter_rule["id"])
    blocker = sqlite3.connect(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    blocker.isolation_level = None
    blocker.execute("BEGIN IMMEDIATE")
    try:
        ok = client.post(quiet["path"], json={"name": "Ada"})
        refused = client.post(quiet["path"], json={})
        busy = client.post(counter_rule["path"], json={})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (ok.status_code, ok.get_json()) == (200, {"status": "ok"})
    assert (refused.status_code, refused.get_json()["message"]) == (
        500,
        "Action 1 'Check': name, please",
    )
    assert_503(busy, BUSY, "1")
    assert rank_and_calls(app, counter_rule["id"]) == before


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's write lock")
def test_sqlite_time_queued_for_the_write_lock_is_not_the_codes_time(app, make_rule, monkeypatch):
    """The lock is taken in the middle of the code's run; waiting for it behind other writers
    does not count against the call's wall time, which is the code's."""
    monkeypatch.setattr(get_webhooks(app).sandbox, "wall_seconds", 0.5)
    rule = make_rule(
        "res.partner",
        target_record="model.browse([1])",
        actions=[INCREMENT],
        log_calls=True,
        cpu_seconds=0.5,
    )
    before = rank_and_calls(app, rule["id"])
    blocker = sqlite3.connect(
        make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database, check_same_thread=False
    )
    blocker.isolation_level = None
    blocker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, blocker.execute, ("ROLLBACK",))  # twice the wall time
    release.start()
    try:
        started = time.perf_counter()
        response = app.test_client().post(rule["path"], json={})
        waited = time.perf_counter() - started
    finally:
        release.join()
        blocker.close()
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert waited >= 1.0
    assert rank_and_calls(app, rule["id"]) == (before[0] + 1, [*before[1], "ok"])


# --- Lost races: the transaction runs again --------------------------------------------------


class FakeDriverError(Exception):
    """What psycopg raises for a deadlock (SQLSTATE 40P01)."""

    sqlstate = "40P01"


def deadlock() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("UPDATE ...", {}, FakeDriverError("deadlock detected"))


def test_a_deadlock_at_commit_runs_the_call_again_and_counts_once(
    app, client, counter_rule, monkeypatch
):
    # The conflict comes after the rule wrote: the retry must not count twice.
    real_add_call = transactions.add_call
    failures = iter([deadlock(), deadlock()])

    def add_call_losing_twice(*args: Any) -> None:
        real_add_call(*args)
        error = next(failures, None)
        if error is not None:
            raise error

    monkeypatch.setattr(transactions, "add_call", add_call_losing_twice)
    before = rank_and_calls(app, counter_rule["id"])
    response = client.post(counter_rule["path"], json={})
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert rank_and_calls(app, counter_rule["id"]) == (before[0] + 1, [*before[1], "ok"])


def test_a_deadlock_under_admin_code_runs_the_call_again(app, client, counter_rule, monkeypatch):
    # The error reaches the engine wrapped in the sandbox's own error: it is still the
    # database's, not the rule's.
    from nightpos_app.orm.recordset import RecordSet

    real_write = RecordSet.write
    failures = iter([deadlock()])

    def write_losing_once(self: RecordSet, vals: Any) -> bool:
        error = next(failures, None)
        if error is not None:
            raise error
        return real_write(self, vals)

    monkeypatch.setattr(RecordSet, "write", write_losing_once)
    before = rank_and_calls(app, counter_rule["id"])
    response = client.post(counter_rule["path"], json={})
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert rank_and_calls(app, counter_rule["id"]) == (before[0] + 1, [*before[1], "ok"])


def test_a_race_lost_every_time_is_503_and_changes_nothing(app, client, counter_rule, monkeypatch):
    attempts = []

    def always_losing(*_args: Any) -> None:
        attempts.append(1)
        raise deadlock()

    monkeypatch.setattr(transactions, "add_call", always_losing)
    monkeypatch.setattr(transactions, "RETRY_PAUSE_SECONDS", 0.001)
    before = rank_and_calls(app, counter_rule["id"])
    response = client.post(counter_rule["path"], json={})
    assert_503(response, BUSY, "1")
    assert len(attempts) == transactions.MAX_ATTEMPTS
    assert rank_and_calls(app, counter_rule["id"]) == before


# --- PostgreSQL: the server goes away and comes back -----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def throwaway_postgres(command: str, folder: str, port: int | None = None) -> str:
    args = [str(PROJECT_DIR / "scripts/throwaway-postgres.sh"), command, folder]
    if port is not None:
        args.append(str(port))
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


@pytest.mark.slow
@pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL 15 is not installed")
def test_postgresql_gone_is_503_and_back_works_without_a_restart(tmp_path):
    # The script gives the server's folder to its own account: not under pytest's private tmp.
    folder = tempfile.mkdtemp(prefix="nightpos-pg-outage-")
    port = free_port()
    outage_app = None
    try:
        url = throwaway_postgres("start", folder, port)
        outage_app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test-secret-key-not-for-production",
                "INSTANCE_DIR": str(tmp_path),
                "SQLALCHEMY_DATABASE_URI": url,
            }
        )
        with outage_app.app_context():
            migrate_database()
            env = get_env(trusted=True)
            env["res.partner"].create({"name": "Counter"})
            rule = env["base.automation"].create(
                {
                    "name": "Count",
                    "model": "res.partner",
                    "target_record": "model.search([], limit=1)",
                    "log_calls": True,
                }
            )
            env["ir.actions.server"].create({"rule_id": rule.id, **INCREMENT})
            path, rule_id = f"/web/hook/{rule.webhook_secret}", rule.id
            db.session.commit()
        client = outage_app.test_client()
        assert client.post(path, json={}).status_code == 200

        throwaway_postgres("stop", folder)
        started = time.perf_counter()
        response = client.post(path, json={})
        assert_503(response, UNAVAILABLE, "5")
        assert time.perf_counter() - started < 5

        throwaway_postgres("start", folder, port)
        response = client.post(path, json={})
        assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
        with outage_app.app_context():
            counter = get_env()["res.partner"].search([], limit=1)
            assert counter.customer_rank == 2  # the call answered 503 left nothing behind
            statuses = db.session.scalars(
                sa.select(WebhookCall.status).where(WebhookCall.rule_id == rule_id)
            ).all()
            assert statuses == ["ok", "ok"]
    finally:
        if outage_app is not None:
            with outage_app.app_context():
                db.engine.dispose()
        throwaway_postgres("stop", folder)
        shutil.rmtree(folder, ignore_errors=True)
