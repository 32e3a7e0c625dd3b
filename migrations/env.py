"""Alembic environment for NightPOS: the core history and every addon's own.

``nightpos_app.schema`` runs it once per history (core first, then each enabled addon with a
``migrations/`` folder, in dependency order), on one connection in one transaction, with the
history in ``config.attributes``; Flask-Migrate's ``flask db ...`` runs it for the core
history alone. Each history has its version table (``alembic_version``, and
``alembic_version_<addon>`` for an addon's) and manages its own tables only.

The metadata is the one shared by FAB's tables and every addon's models. It
holds every table whose model was ever imported in this process, so only some
are managed: the tables of the models this app registered (its enabled
addons), with their many-to-many link tables and the internal tables a model
names in ``__owned_tables__``, FAB's (``ab_*``) and the host's
(``nightpos_*``); the core history leaves out the tables of addons that have a history of
their own, and an addon's history manages its models' tables and nothing else. A table of an
addon that is not enabled, or of a model a test fixture imported, is never created or dropped
by autogenerate, and a table in the database that none of these claim is left alone.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from logging.config import fileConfig
from typing import Any

import sqlalchemy as sa
from alembic import context
from flask import current_app

from nightpos_app.extensions import db
from nightpos_app.schema import HISTORY_ATTRIBUTE, History, addons_with_history, core_history
from nightpos_app.state import get_state

config = context.config
HISTORY: History = config.attributes.get(HISTORY_ATTRIBUTE) or core_history()
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

HOST_TABLE_PREFIXES = ("ab_", "nightpos_")


def model_tables() -> frozenset[str]:
    """The tables of the models this history manages, and their link tables."""
    state = get_state()
    own_history = addons_with_history(state.addons)
    tables: set[str] = set()
    for entry in state.registry:
        addon = entry.addon if entry.addon in own_history else None
        if addon != HISTORY.addon:
            continue  # another history's table
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
    if table_name is None:
        return False
    if HISTORY.addon is not None:
        return table_name in MODEL_TABLES
    return table_name in MODEL_TABLES or table_name.startswith(HOST_TABLE_PREFIXES)


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
        version_table=HISTORY.version_table,
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
    # nightpos_app.schema's own options (a check after each revision).
    configure_args.update(config.attributes.get("configure_args", {}))
    given = config.attributes.get("connection")
    # nightpos_app.schema passes its connection, in the transaction of all the histories: a
    # failing revision rolls back every history's changes. Alembic then opens no transaction.
    with nullcontext(given) if given is not None else db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            include_object=include_object,
            version_table=HISTORY.version_table,
            **configure_args,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
