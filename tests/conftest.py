"""Test fixtures: one real NightPOS app over a real, migrated database.

The database is SQLite in a temporary folder, or the PostgreSQL database named
by ``NIGHTPOS_TEST_DATABASE_URL`` (CI runs the suite on both). The schema is
built by the real migrations, permissions and users by the real bootstrap.
Tests that change data ask for ``demo`` to start from fresh demo data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from nightpos_app import create_app
from nightpos_app.bootstrap import load_demo_data, migrate_database, sync_permissions
from nightpos_app.extensions import db
from nightpos_app.models import InstalledAddon
from nightpos_app.orm import Environment
from nightpos_app.state import get_env, get_state
from tests.support.web import ADMIN, USER, WebClient, one_context_per_request  # noqa: F401

TEST_DATABASE_URL = os.environ.get("NIGHTPOS_TEST_DATABASE_URL")

# `one_context_per_request` (imported above) replaces pytest-flask's autouse fixture that runs a
# whole test in one request context: here every test request gets its own, as on a server.


def reset_database_schema(url: str) -> None:
    """Drop every table of a throwaway PostgreSQL test database."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def database_url(instance_dir: Path) -> str:
    if TEST_DATABASE_URL:
        reset_database_schema(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    return f"sqlite:///{instance_dir / 'test.db'}"


@pytest.fixture(scope="session")
def app(instance_dir: Path, database_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-not-for-production",
            "INSTANCE_DIR": str(instance_dir),
            "SQLALCHEMY_DATABASE_URI": database_url,
        }
    )
    with app.app_context():
        migrate_database()
        sync_permissions(app)
        sm = app.appbuilder.sm
        sm.add_role("Sales User")
        for user in (ADMIN, USER):
            role = sm.find_role(sm.auth_role_admin if user is ADMIN else "Sales User")
            sm.add_user(
                user.username,
                "Test",
                user.username,
                f"{user.username}@test.local",
                role,
                password=user.password,
            )
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


BUSINESS_TABLES = ("sale_order", "res_currency", "res_partner")


@pytest.fixture
def demo(app: Flask) -> Iterator[None]:
    """Fresh demo data for one test (committed, as a real request would see it).

    Ids start at 1 again on every database, so order 7 is S00007 as in the specification.
    """
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            tables = ", ".join(BUSINESS_TABLES)
            db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:  # SQLite reuses ids from max(id) + 1 once the rows are gone
            for table in BUSINESS_TABLES:
                db.session.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (fixed names)
        db.session.execute(sa.delete(InstalledAddon))
        db.session.commit()
        load_demo_data()
    yield


@pytest.fixture
def env(app: Flask, demo: None) -> Iterator[Environment]:
    """The record API inside an app context; changes are rolled back afterwards."""
    with app.app_context():
        yield get_env()
        db.session.rollback()


@pytest.fixture
def registry(app: Flask):
    return get_state(app).registry


@pytest.fixture
def web(app: Flask) -> WebClient:
    """A browser-like client: cookies, login form, CSRF tokens from the pages."""
    return WebClient(app.test_client())


@pytest.fixture
def admin_web(web: WebClient) -> WebClient:
    web.login(ADMIN)
    return web


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    return app.test_client()
