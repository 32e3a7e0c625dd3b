"""Database errors users can read, for the generic CRUD screens and REST resources.

A change the database refuses (deleting a currency that orders still use, a
concurrent duplicate) is one plain sentence: the screens flash it, the REST
resources answer it in a 422. The SQL statement is logged, never shown.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import g
from flask_appbuilder.exceptions import DatabaseException
from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from nightpos_app.crud.columns import _description, _out_of_range, number_range
from nightpos_app.exceptions import UserError

# --------------------------------------------------------------------------
# Database errors users can read
# --------------------------------------------------------------------------


class RecordError(Exception):
    """A database refusal, said in words for the user (no SQL in it)."""


class RecordInUse(RecordError):
    """A delete the database refused because other records still refer to the record (a
    conflict with the database's state, not a bad request: the REST API answers 409)."""


def _integrity_kind(exc: IntegrityError) -> str:
    """``foreign_key``/``unique``/``not_null``/``check``/``other``, on PostgreSQL and SQLite."""
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg 3
    by_state = {"23503": "foreign_key", "23505": "unique", "23502": "not_null", "23514": "check"}
    if sqlstate in by_state:
        return by_state[sqlstate]
    text = str(exc.orig).upper()  # sqlite3: "FOREIGN KEY constraint failed", …
    for marker, kind in (
        ("FOREIGN KEY", "foreign_key"),
        ("UNIQUE", "unique"),
        ("NOT NULL", "not_null"),
        ("CHECK", "check"),
    ):
        if marker in text:
            return kind
    return "other"


def describe_database_error(exc: BaseException, item: Any, action: str) -> str:
    """One sentence on why the database refused to ``action`` (save/delete) ``item``."""
    what = _description(type(item))
    if isinstance(exc, IntegrityError):
        kind = _integrity_kind(exc)
        if kind == "foreign_key" and action == "delete":
            return f"{what} {item} cannot be deleted: other records still refer to it."
        messages = {
            "foreign_key": f"The {what} refers to a record that does not exist.",
            "unique": f"Another {what} already has one of these values (it must be unique).",
            "not_null": f"A required field of the {what} is empty.",
            "check": f"A field of the {what} has a value that is not allowed.",
        }
        if kind in messages:
            return messages[kind]
    return f"The database refused to {action} the {what}."


class RecordInterface(SQLAInterface):
    """FAB's SQLAlchemy interface, raising database errors users can read.

    FAB 5.3 shows a database error as it is: the screens flash the exception
    text (the SQL statement included) and the API answers ``Database exception
    occurred: <SQL>``; and ``add`` re-raises the raw SQLAlchemy error, which
    the API's ``except DatabaseException`` misses, so a refused POST is a 500.
    Here every refusal is a :class:`~flask_appbuilder.exceptions.DatabaseException`
    whose text and cause are one plain sentence (FAB has already logged the
    original with its statement and rolled back).
    """

    def get(self, id: Any, *args: Any, **kwargs: Any) -> Model | None:
        # An id the key column cannot hold is no record (PostgreSQL would
        # refuse the query: a 500 on /show/99999999999 or /api/v1/…/99999999999).
        keys = self.obj.__mapper__.primary_key
        if len(keys) == 1 and number_range(keys[0]) is not None:
            try:
                if _out_of_range(keys[0], int(id)):
                    return None
            except (TypeError, ValueError):
                return None
        return super().get(id, *args, **kwargs)

    def add(self, item: Model, commit: bool = True) -> None:
        try:
            super().add(item, commit)
        except (SQLAlchemyError, DatabaseException, UserError) as exc:
            self._refuse(exc, item, "save")

    def edit(self, item: Model, commit: bool = True) -> None:
        try:
            super().edit(item, commit)
        except (SQLAlchemyError, DatabaseException, UserError) as exc:
            self._refuse(exc, item, "save")

    def delete(self, item: Model, commit: bool = True) -> None:
        try:
            super().delete(item, commit)
        except (SQLAlchemyError, DatabaseException, UserError) as exc:
            self._refuse(exc, item, "delete")

    def _refuse(self, exc: BaseException, item: Any, action: str) -> NoReturn:
        """Raise the refusal as one sentence. A ``UserError`` raised while committing (an
        automation rule the change triggered failed) is said in its own words; FAB rolls
        back only its database errors, so the transaction is rolled back here for it."""
        cause: type[RecordError] = RecordError
        if isinstance(exc, UserError):
            self.session.rollback()
            message = exc.message
        else:
            original = (exc.__cause__ if isinstance(exc, DatabaseException) else exc) or exc
            message = describe_database_error(original, item, action)
            if (
                action == "delete"
                and isinstance(original, IntegrityError)
                and _integrity_kind(original) == "foreign_key"
            ):
                cause = RecordInUse
        # FAB's edit screen flashes a fixed message: the view shows this one instead.
        g.nightpos_record_error = message
        # The API answers from ``__cause__`` (nightpos_app/crud/api.py); the screens flash
        # ``str()``.
        raise DatabaseException(message) from cause(message)
