"""Fixtures for the loyalty example addon's tests: databases of their own, apps over them.

Each test module (or test) starts from an empty database of its own (a SQLite file, or a
PostgreSQL schema of its own when ``NIGHTPOS_TEST_DATABASE_URL`` names one), set up by the real
``flask nightpos init`` steps; addons are then enabled over it as an operator would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from nightpos_app import create_app
from nightpos_app.bootstrap import initialise
from nightpos_app.extensions import db
from tests.fixtures import addons as fixture_addons
from tests.support.web import ADMIN, WebClient

TEST_DATABASE_URL = os.environ.get("NIGHTPOS_TEST_DATABASE_URL", "")
DEFAULT_ADDONS = ["contacts", "sales", "webhooks"]
ADDON = "loyalty"


def database_config(tmp_path: Path, name: str) -> Iterator[dict[str, Any]]:
    """Config for an empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        yield {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'{name}.db'}"}
        return
    schema = f"{name}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(TEST_DATABASE_URL)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield {
            "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL,
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_pre_ping": True,
                "connect_args": {"options": f"-csearch_path={schema}"},
            },
        }
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


class Apps:
    """Apps over one database, each with its own ``NIGHTPOS_ADDONS`` (one server each)."""

    def __init__(self, tmp_path: Path, database: dict[str, Any]) -> None:
        self.tmp_path = tmp_path
        self.database = database
        self.built: list[Flask] = []

    def build(self, addons: list[str]) -> Flask:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "loyalty-tests-secret-key-of-32-bytes-or-more",
                "INSTANCE_DIR": str(self.tmp_path / "instance"),
                "NIGHTPOS_ADDONS": addons,
                "NIGHTPOS_ADDON_MODULES": fixture_addons.MODULES,
                "NIGHTPOS_ADMIN_USERNAME": ADMIN.username,
                **self.database,
            }
        )
        self.built.append(app)
        return app

    @staticmethod
    def init(app: Flask) -> None:
        """``flask nightpos init --demo``, the admin being the tests' admin."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("NIGHTPOS_ADMIN_PASSWORD", ADMIN.password)
            initialise(app, demo=True)

    def close(self) -> None:
        for app in self.built:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Flask]]:
    """An existing database (set up without the addon), then the addon enabled over it."""
    tmp_path = tmp_path_factory.mktemp("loyalty")
    for database in database_config(tmp_path, "loyalty"):
        built = Apps(tmp_path, database)
        try:
            without = built.build(DEFAULT_ADDONS)
            built.init(without)
            with without.app_context():
                assert "loyalty_card" not in sa.inspect(db.engine).get_table_names()
            with_loyalty = built.build([*DEFAULT_ADDONS, ADDON])
            built.init(with_loyalty)  # enabling the addon: its migrations and demo data
            yield {"without": without, "with": with_loyalty}
        finally:
            built.close()


@pytest.fixture
def fresh_apps(tmp_path: Path) -> Iterator[Apps]:
    """Apps over an empty database of this test's own."""
    for database in database_config(tmp_path, "fresh"):
        built = Apps(tmp_path, database)
        try:
            yield built
        finally:
            built.close()


def web_for(app: Flask) -> WebClient:
    web = WebClient(app.test_client())
    web.login(ADMIN)
    return web


def cards(app: Flask) -> list[tuple[str, int, str]]:
    """The loyalty cards, read with SQL: works whether the addon is enabled or not."""
    with app.app_context():
        rows = db.session.execute(
            sa.text("SELECT number, points, tier FROM loyalty_card ORDER BY number")
        )
        return [tuple(row) for row in rows]


def tables(app: Flask) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())
