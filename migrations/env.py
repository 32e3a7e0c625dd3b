"""Alembic environment for NightPOS (run through Flask-Migrate: `flask db ...`).

The metadata is the one shared by FAB's tables and every addon's models.
Only the tables of this app's enabled addons, FAB's (``ab_*``) and the host's
(``nightpos_*``) are managed: a table of an addon that is not enabled, or a
model defined by a test fixture, is never created or dropped by autogenerate.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from flask import current_app

from nightpos_app.extensions import db
from nightpos_app.state import get_state

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

HOST_TABLE_PREFIXES = ("ab_", "nightpos_")


def managed_tables() -> set[str]:
    tables = {entry.table_name for entry in get_state().registry}
    tables.update(name for name in db.metadata.tables if name.startswith(HOST_TABLE_PREFIXES))
    return tables


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table":
        return name in MANAGED_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name in MANAGED_TABLES


MANAGED_TABLES = managed_tables()


def run_migrations_offline() -> None:
    context.configure(
        url=db.engine.url.render_as_string(hide_password=False),
        target_metadata=db.metadata,
        include_object=include_object,
        render_as_batch=True,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def skip_empty(_context: Any, _revision: Any, directives: list[Any]) -> None:
        # `flask db migrate` with no model change writes no empty revision.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    configure_args = dict(current_app.extensions["migrate"].configure_args)
    configure_args.setdefault("process_revision_directives", skip_empty)
    # SQLite cannot ALTER most things: batch mode recreates tables instead.
    configure_args["render_as_batch"] = True
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            include_object=include_object,
            **configure_args,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
