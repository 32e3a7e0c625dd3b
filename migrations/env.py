"""Alembic environment for NightPOS (run through Flask-Migrate: `flask db ...`).

The metadata is the one shared by FAB's tables and every addon's models. It
holds every table whose model was ever imported in this process, so only some
are managed: the tables of the models this app registered (its enabled
addons), with their many-to-many link tables and the internal tables a model
names in ``__owned_tables__``, FAB's (``ab_*``) and the host's
(``nightpos_*``). A table of an addon that is not enabled, or of a model a
test fixture imported, is never created or dropped by autogenerate, and a
table in the database that none of these claim is left alone.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig
from typing import Any

import sqlalchemy as sa
from alembic import context
from flask import current_app

from nightpos_app.extensions import db
from nightpos_app.state import get_state

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

HOST_TABLE_PREFIXES = ("ab_", "nightpos_")


def model_tables() -> frozenset[str]:
    """The tables of this app's registered models, and their link tables."""
    tables: set[str] = set()
    for entry in get_state().registry:
        mapper = sa.inspect(entry.model_class)
        # `mapper.tables`, not `__table__`: joined inheritance maps to several.
        tables.update(table.name for table in mapper.tables)
        tables.update(
            rel.secondary.name
            for rel in mapper.relationships
            if isinstance(rel.secondary, sa.Table)
        )
        # Internal tables a model owns without being a model of their own (no screens, no
        # record API), e.g. the webhooks' idempotency keys.
        tables.update(getattr(entry.model_class, "__owned_tables__", ()))
    return frozenset(tables)


MODEL_TABLES = model_tables()


def is_managed(table_name: str | None) -> bool:
    return table_name is not None and (
        table_name in MODEL_TABLES or table_name.startswith(HOST_TABLE_PREFIXES)
    )


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate's filter: tables (and their columns, indexes…) this app manages."""
    if type_ == "table":
        return is_managed(name)
    table = getattr(obj, "table", None)
    return table is None or is_managed(table.name)


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
