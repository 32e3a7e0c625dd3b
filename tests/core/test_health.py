"""``/healthz`` and ``/readyz``: JSON, no login, nothing secret; ready only with a reachable
database at the migrations' head and runner processes that start."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from nightpos_app import create_app
from nightpos_app.extensions import db
from nightpos_app.health import migration_heads
from nightpos_app.sandbox.process.runner import pool_for
from tests.support.processes import free_port


def _other_app(tmp_path: Path, url: str) -> Iterator[Flask]:
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "INSTANCE_DIR": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": url,
        }
    )
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def _ready(client: FlaskClient) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def _wait_for_runners(app: Flask) -> None:
    """The app's first runners start in the background: wait for them (up to 60 s)."""
    with app.app_context():
        pool = pool_for(int(app.config.get("WEBHOOK_MEMORY_MB", 128) * 2**20))
    deadline = time.monotonic() + 60
    while not pool.ready() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_healthz_answers_without_login(anonymous: FlaskClient) -> None:
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ready_on_the_migrated_database(app: Flask, anonymous: FlaskClient) -> None:
    _wait_for_runners(app)
    status, body = _ready(anonymous)
    assert status == 200, body
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "runners": "ok"},
    }


def test_readyz_fails_when_the_migrations_are_not_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    for other in _other_app(tmp_path, url):
        client = other.test_client()
        # An empty database: no migration ran.
        status, body = _ready(client)
        assert status == 503
        assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
        assert "head" in body["checks"]["migrations"]
        # A database one migration behind the code's head, then at it.
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32))")
            connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('0007')")
        assert _ready(client)[0] == 503
        [head] = migration_heads()
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        engine.dispose()
        _wait_for_runners(other)
        status, body = _ready(client)
        assert status == 200, body


def test_readyz_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    # Nothing listens on this port: the connection is refused.
    url = f"postgresql+psycopg://nightpos:s3cret-pw@127.0.0.1:{free_port()}/nightpos"
    for other in _other_app(tmp_path, url):
        client = other.test_client()
        status, body = _ready(client)
        assert status == 503
        assert body["checks"]["database"] == "unreachable"
        text = json.dumps(body)
        assert "s3cret-pw" not in text and "127.0.0.1" not in text and "nightpos:" not in text
        # Alive all the same: the process serves.
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_take_only_get(anonymous: FlaskClient, path: str) -> None:
    assert anonymous.post(path).status_code == 405
