"""The migrations and the models agree, and the history runs both ways.

The comparison is Alembic's autogenerate (``compare_metadata``) on a
migration context configured by ``migrations/env.py`` itself, so it sees
exactly what ``flask db migrate`` would: the same options and the same
``include_object`` filter, which limits it to the tables of this app's
enabled addons, FAB's and the host's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_migrate import downgrade, upgrade

from nightpos_app import create_app
from nightpos_app.extensions import db
from tests.fixtures import addons as fixture_addons

TEST_DATABASE_URL = os.environ.get("NIGHTPOS_TEST_DATABASE_URL", "")
FIXTURE_TABLES = {"fx_widget", "fx_widget_partner_rel"}


def alembic_script() -> ScriptDirectory:
    config = current_app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config)


def autogenerate_diffs() -> list[Any]:
    """What ``flask db migrate`` would put in a new revision for the current app."""
    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    diffs: list[Any] = []

    def compare(_revision: Any, context: MigrationContext) -> list[Any]:
        diffs.extend(compare_metadata(context, context.opts["target_metadata"]))
        return []  # no migration steps to run

    with EnvironmentContext(config, script, fn=compare):
        script.run_env()
    return diffs


def table_of(diff: Any) -> str:
    """The table one autogenerate diff is about (modify diffs come as lists)."""
    first = diff[0] if isinstance(diff, list) else diff
    kind, obj = first[0], first[1]
    if kind in ("add_table", "remove_table"):
        return obj.name
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        return obj.table.name
    if kind in ("add_fk", "remove_fk"):
        return obj.parent.name
    return first[2]  # (kind, schema, table name, ...) for columns and modifications


def added_tables(diffs: list[Any]) -> set[str]:
    return {diff[1].name for diff in diffs if isinstance(diff, tuple) and diff[0] == "add_table"}


def table_names() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


# --- The test database of the session -----------------------------------------


def test_one_linear_history_and_the_database_is_at_its_head(app: Flask) -> None:
    with app.app_context():
        script = alembic_script()
        revisions = list(script.walk_revisions())
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()

    assert len(script.get_bases()) == 1
    assert [rev.revision for rev in revisions if rev.is_merge_point or rev.is_branch_point] == []
    assert current == tuple(script.get_heads())
    assert len(current) == 1


def test_migrated_database_matches_the_models(app: Flask) -> None:
    # A model of an addon this app does not enable is in FAB's one metadata
    # as soon as it is imported (other tests import this one): the filter
    # must keep it out, or every test run would ask for its table.
    from tests.fixtures.addons.fx_widgets.models import FxWidget  # noqa: F401

    assert set(db.metadata.tables) >= FIXTURE_TABLES

    with app.app_context():
        diffs = autogenerate_diffs()

    assert diffs == [], "the models differ from the migrations; run `flask db migrate`"


# --- Fresh databases of their own ---------------------------------------------

FRESH_DATABASES = ["sqlite"]
if TEST_DATABASE_URL.startswith("postgresql"):
    FRESH_DATABASES.append("postgresql")


@pytest.fixture(params=FRESH_DATABASES)
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Config for an empty database: a SQLite file, or a PostgreSQL schema of its own.

    On PostgreSQL a schema (first on the search path) in the test database
    stands in for a database: it needs no CREATE DATABASE right, and leaves
    the session's tables in ``public`` alone.
    """
    if request.param == "sqlite":
        yield {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}"}
        return
    schema = f"fresh_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture
def fresh_app(
    app: Flask, fresh_database: dict[str, Any], tmp_path: Path
) -> Iterator[Callable[..., Flask]]:
    """Build apps over the fresh database, with the session app's addons (plus ``extra``)."""
    built: list[Flask] = []

    def build(*extra: str) -> Flask:
        fresh = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "migration-tests-secret",
                "INSTANCE_DIR": str(tmp_path / "instance"),
                "NIGHTPOS_ADDONS": [*app.config["NIGHTPOS_ADDONS"], *extra],
                "NIGHTPOS_ADDON_MODULES": fixture_addons.MODULES,
                **fresh_database,
            }
        )
        built.append(fresh)
        return fresh

    yield build
    for fresh in built:
        with fresh.app_context():
            db.session.remove()
            db.engine.dispose()


def test_downgrade_to_base_and_upgrade_to_head(fresh_app: Callable[..., Flask]) -> None:
    with fresh_app().app_context():
        assert table_names() == set()
        upgrade()
        migrated = table_names()
        assert migrated >= {"alembic_version", "ab_user", "nightpos_addon", "res_partner"}
        assert autogenerate_diffs() == []

        downgrade(revision="base")
        assert table_names() <= {"alembic_version"}
        # From nothing, the comparison asks for exactly the tables the
        # migrations create: the filter hides none of them (a hidden table's
        # drift would go unnoticed above).
        assert added_tables(autogenerate_diffs()) == migrated - {"alembic_version"}

        upgrade()
        assert table_names() == migrated
        assert autogenerate_diffs() == []


def test_autogenerate_manages_only_the_tables_of_enabled_addons(
    fresh_app: Callable[..., Flask],
) -> None:
    with fresh_app("fx_widgets").app_context():
        assert table_names() == set()
        upgrade()
        # A table no enabled addon claims (say, of an addon since disabled).
        with db.engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE fx_leftover (id INTEGER PRIMARY KEY)")

        diffs = autogenerate_diffs()

    # The enabled third-party addon's tables, its many-to-many link table
    # included; nothing about the leftover table, nor any other table.
    assert added_tables(diffs) == FIXTURE_TABLES
    assert {table_of(diff) for diff in diffs} == FIXTURE_TABLES
