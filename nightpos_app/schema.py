"""The database schema: NightPOS's migrations and each addon's own, run together.

NightPOS's own history (``migrations/versions``: the host, FAB and the built-in addons) is the
*core* history, kept in Alembic's usual ``alembic_version`` table. An addon may carry a history
of its own: a ``migrations/`` folder beside its ``__init__.py`` holding Alembic revision files.
Each such history is kept in a version table of its own, ``alembic_version_<addon>``, and
manages only the addon's tables (``migrations/env.py`` filters autogenerate to them).

Why a version table per addon rather than Alembic branches in one table: the one table would
hold a row for every addon ever migrated, and Alembic refuses to run anything while a row names
a revision it cannot find — uninstalling an addon would stop every later migration. Here a
disabled or uninstalled addon's table is simply not read; enabled again, its history goes on
from where it stopped. Dependencies stand in for Alembic's ``depends_on``: the histories run in
addon dependency order (core first), each to its head, so an addon's migrations always find its
dependencies' tables as their newest revision left them.

:func:`upgrade` runs every history in one transaction: a failing revision rolls back all of
them, and start-up stops with a :class:`MigrationError` naming the addon and the revision.
PostgreSQL and SQLite both roll DDL back (NightPOS emits SQLite's ``BEGIN`` itself,
``nightpos_app/sqlite.py``, so pysqlite's autocommit of DDL does not apply).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from nightpos_app.exceptions import StartupError
from nightpos_app.extensions import db

if TYPE_CHECKING:
    from flask import Flask

    from nightpos_app.addons import Addon

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
#: The folder, beside an addon's ``__init__.py``, that holds its own revision files.
ADDON_MIGRATIONS = "migrations"
CORE_VERSION_TABLE = "alembic_version"
#: What :class:`History` objects are passed to ``migrations/env.py`` as.
HISTORY_ATTRIBUTE = "nightpos_history"


@dataclass(frozen=True)
class History:
    """One migration history: the core one (``addon`` is ``None``) or one addon's."""

    addon: str | None
    directory: Path
    version_table: str

    @property
    def title(self) -> str:
        return "NightPOS core" if self.addon is None else f"addon {self.addon!r}"


class MigrationError(StartupError):
    """A revision failed; nothing of the run was kept (the whole run is one transaction)."""

    def __init__(self, history: History, revision: str | None, error: BaseException) -> None:
        self.addon = history.addon
        self.revision = revision
        where = f"migration revision {revision!r}" if revision else "migrations"
        super().__init__(
            f"{history.title}: {where} ({history.directory}) failed: "
            f"{type(error).__name__}: {error}. The database was left as it was before this "
            "start-up's migrations: fix the revision, or disable the addon, and start again."
        )


def core_history() -> History:
    return History(None, MIGRATIONS_DIR / "versions", CORE_VERSION_TABLE)


def addon_history(addon: Addon) -> History | None:
    """The addon's own history, when its package has a ``migrations/`` folder."""
    module_file = getattr(addon.module, "__file__", None)
    if not module_file:
        return None
    directory = Path(module_file).resolve().parent / ADDON_MIGRATIONS
    if not directory.is_dir():
        return None
    return History(addon.name, directory, f"alembic_version_{addon.name}")


def histories(addons: list[Addon]) -> list[History]:
    """Core first, then the enabled addons that have their own, in dependency order."""
    found = [core_history()]
    found.extend(h for h in map(addon_history, addons) if h is not None)
    return found


def addons_with_history(addons: list[Addon]) -> frozenset[str]:
    return frozenset(h.addon for h in histories(addons) if h.addon is not None)


def alembic_config(history: History, connection: sa.Connection | None = None) -> Config:
    """An Alembic configuration for one history: NightPOS's env.py, the history's folder."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(history.directory))
    # ConfigParser interpolation would read a % in a path as a variable.
    config.set_main_option("path_separator", "os")
    config.attributes[HISTORY_ATTRIBUTE] = history
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def failing_revision(error: BaseException, directory: Path) -> str | None:
    """The revision whose ``upgrade`` raised ``error``: its frame is in the traceback."""
    found = None
    traceback = error.__traceback__
    while traceback is not None:
        names = traceback.tb_frame.f_globals
        module_file = names.get("__file__")
        if (
            "down_revision" in names
            and module_file
            and Path(module_file).resolve().parent == directory
        ):
            found = str(names.get("revision"))
        traceback = traceback.tb_next
    return found


@contextmanager
def _naming(history: History) -> Iterator[None]:
    try:
        yield
    except StartupError:
        raise
    except Exception as exc:
        raise MigrationError(history, failing_revision(exc, history.directory), exc) from exc


def upgrade(app: Flask) -> None:
    """Bring every history of ``app``'s enabled addons to its head, all or nothing."""
    from nightpos_app.state import get_state

    runs = histories(get_state(app).addons)
    with (
        app.app_context(),
        db.engine.connect() as connection,
        _sqlite_schema_change(connection),
        connection.begin(),
    ):
        for history in runs:
            with _naming(history):
                logger.info("migrating %s", history.title)
                config = alembic_config(history, connection)
                config.attributes["configure_args"] = {
                    "on_version_apply": [_foreign_key_check(history, connection)]
                }
                command.upgrade(config, "heads")


@contextmanager
def _sqlite_schema_change(connection: sa.Connection) -> Iterator[None]:
    """On SQLite, foreign keys off while the migrations run, as SQLite's own procedure for
    schema changes has it.

    Alembic's batch mode rewrites a table by copying it, dropping it and renaming the copy.
    With foreign keys on, dropping a table that other rows refer to carries out their
    ``ON DELETE`` (a refusal, or a cascade that deletes them). Off, nothing is deleted, and
    :func:`_foreign_key_check` refuses the run if a reference is left dangling. The pragma has
    no effect inside a transaction: it is set before ``BEGIN`` and restored after the end.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _foreign_key_check(history: History, connection: sa.Connection) -> Any:
    """An ``on_version_apply`` callback: on SQLite, refuse a revision that left a row referring
    to a row that does not exist (PostgreSQL checks every constraint as statements run)."""

    def check(*, step: Any, **_: Any) -> None:
        if connection.dialect.name != "sqlite":
            return
        problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            table, rowid, parent, _ = problems[0]
            error = RuntimeError(
                f"{len(problems)} row(s) refer to rows that do not exist, the first in table "
                f"{table!r} (rowid {rowid}) to table {parent!r}"
            )
            raise MigrationError(history, step.up_revision_id, error)

    return check


def current_heads(app: Flask, history: History) -> tuple[str, ...]:
    """The revisions the database is at in one history (empty: none applied)."""
    from alembic.runtime.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": history.version_table}
        )
        return tuple(context.get_current_heads())


def find_history(app: Flask, addon_name: str | None) -> History:
    """The history ``make migration addon=<name>`` writes into; a clear error otherwise."""
    from nightpos_app.state import get_state

    if addon_name is None:
        return core_history()
    addons = {addon.name: addon for addon in get_state(app).addons}
    if addon_name not in addons:
        raise StartupError(
            f"addon {addon_name!r} is not enabled: add it to NIGHTPOS_ADDONS to generate its "
            "migrations"
        )
    history = addon_history(addons[addon_name])
    if history is None:
        folder = Path(addons[addon_name].module.__file__).resolve().parent / ADDON_MIGRATIONS
        raise StartupError(
            f"addon {addon_name!r} has no migrations of its own: create the folder {folder} "
            "(empty) to give it some. The built-in addons' tables are in migrations/versions."
        )
    return history


def autogenerate(app: Flask, addon_name: str | None, message: str, **options: Any) -> list[str]:
    """Write a new revision of one history from the difference between its models and the
    database (brought to every head first); returns the paths written (none: no change)."""
    history = find_history(app, addon_name)
    upgrade(app)
    config = alembic_config(history)
    # What `flask db migrate` sets: env.py then writes no revision when nothing changed.
    config.cmd_opts = argparse.Namespace(autogenerate=True)
    base = {} if current_heads(app, history) else {"branch_label": history.addon}
    with app.app_context():
        scripts = command.revision(config, message=message, autogenerate=True, **base, **options)
    if scripts is None:
        return []
    scripts = scripts if isinstance(scripts, list) else [scripts]
    return [script.path for script in scripts if script is not None]
