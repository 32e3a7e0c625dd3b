"""What models declare for automation code, and the record API enforcing it.

A model says what automation code may do with its records (``__model_code_access__``:
``write``, ``read`` or ``none``) and which columns are secrets (``info={"secret": True}``). An
environment that is not trusted — the one admin-written code gets — enforces both on every
path: attributes, ``record['x']``, ``read()``, ``mapped()``, ``filtered()``, domains (dotted
paths too), orders, ``create``, ``write``, ``unlink``. A trusted environment (host code) sees
everything. These tests use a registry of their own over an in-memory SQLite database; the
webhooks addon's models are covered over real webhook calls in
``tests/addons/webhooks/test_code_access.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import DeclarativeBase, Session, relationship

from nightpos_app.exceptions import (
    DomainError,
    StartupError,
    UnknownFieldError,
    UnknownModelError,
    UserError,
    ValidationError,
)
from nightpos_app.orm import Environment, ModelRegistry
from nightpos_app.state import get_state


class Base(DeclarativeBase):
    pass


class Closed(Base):
    """A model automation code cannot reach at all."""

    __tablename__ = "closed"
    __model_name__ = "x.closed"
    __model_code_access__ = "none"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(32))


class Log(Base):
    """A model automation code may read and search, never change."""

    __tablename__ = "log"
    __model_name__ = "x.log"
    __model_code_access__ = "read"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(32))
    token = sa.Column(sa.String(32), info={"secret": True})


class Vault(Base):
    """An ordinary model with a secret column and links to the two others."""

    __tablename__ = "vault"
    __model_name__ = "x.vault"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(32), nullable=False)
    token = sa.Column(sa.String(32), info={"secret": True})
    log_id = sa.Column(sa.Integer, sa.ForeignKey("log.id"))
    log = relationship(Log)
    closed_id = sa.Column(sa.Integer, sa.ForeignKey("closed.id"))
    closed = relationship(Closed)

    def __str__(self) -> str:
        return str(self.name)


@pytest.fixture(scope="module")
def registry() -> ModelRegistry:
    registry = ModelRegistry()
    for cls in (Closed, Log, Vault):
        registry.register(cls, "fx")
    registry.finalize()
    return registry


@pytest.fixture
def session() -> Iterator[Session]:
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        closed = Closed(name="hidden")
        log = Log(name="entry", token="log-token")  # noqa: S106 (test data)
        session.add_all([closed, log])
        session.flush()
        session.add_all(
            [
                Vault(name="a", token="tok-a", log_id=log.id, closed_id=closed.id),  # noqa: S106
                Vault(name="b", token="tok-b"),  # noqa: S106
            ]
        )
        session.commit()
        yield session
    engine.dispose()


@pytest.fixture
def code_env(session: Session, registry: ModelRegistry) -> Environment:
    """What admin-written code is handed: an environment that is not trusted."""
    return Environment(session, registry)


@pytest.fixture
def host_env(session: Session, registry: ModelRegistry) -> Environment:
    return Environment(session, registry, trusted=True)


# -------------------------------------------------------------------- the declarations


def test_fields_and_entries_carry_the_declarations(registry: ModelRegistry) -> None:
    assert registry["x.vault"].fields["token"].secret
    assert not registry["x.vault"].fields["name"].secret
    assert [registry[n].code_access for n in ("x.vault", "x.log", "x.closed")] == [
        "write",
        "read",
        "none",
    ]


def test_the_registry_refuses_bad_declarations() -> None:
    class Other(DeclarativeBase):
        pass

    class Typo(Other):
        __tablename__ = "typo"
        __model_name__ = "x.typo"
        __model_code_access__ = "readonly"
        id = sa.Column(sa.Integer, primary_key=True)

    class Users(Other):
        __tablename__ = "ab_user_copy"
        __model_name__ = "x.users"
        id = sa.Column(sa.Integer, primary_key=True)
        password = sa.Column(sa.String(256))

    class SortedBySecret(Other):
        __tablename__ = "sorted_by_secret"
        __model_name__ = "x.sorted"
        __model_order__ = "token"
        id = sa.Column(sa.Integer, primary_key=True)
        token = sa.Column(sa.String(32), info={"secret": True})

    registry = ModelRegistry()
    with pytest.raises(StartupError, match="__model_code_access__ must be one of 'write'"):
        registry.register(Typo, "fx")
    with pytest.raises(StartupError, match="Flask-AppBuilder's security tables"):
        registry.register(Users, "fx")
    registry.register(SortedBySecret, "fx")
    with pytest.raises(StartupError, match="x.sorted.token cannot be sorted by automation code"):
        registry.finalize()


def test_no_model_of_the_app_is_a_fab_security_table(app: Flask) -> None:
    """Users (password hashes), roles, permissions and API keys are not reachable by any
    environment: none of FAB's ``ab_*`` tables is a registered model, and no field leads there
    (a foreign key to FAB's users stays a plain integer)."""
    from flask_appbuilder import Model

    fab_tables = {name for name in Model.metadata.tables if name.startswith("ab_")}
    assert {"ab_user", "ab_role", "ab_api_key"} <= fab_tables
    for entry in get_state(app).registry:
        assert entry.table_name not in fab_tables, entry.name
        for fld in entry.fields.values():
            assert fld.comodel is None or not fld.comodel.startswith("ab_"), (entry.name, fld)


# --------------------------------------------------------------- reading a secret field


def test_code_cannot_read_a_secret_field_any_way(code_env: Environment) -> None:
    vault = code_env["x.vault"].search([("name", "=", "a")])
    assert vault.name == "a"
    attempts = [
        lambda: vault.token,
        lambda: vault["token"],
        lambda: vault.read(["name", "token"]),
        lambda: vault.read("token"),
        lambda: code_env["x.vault"].search([]).mapped("token"),
        lambda: code_env["x.vault"].search([]).filtered("token"),
        lambda: vault.mapped("log_id.token"),
        lambda: vault.log_id.token,
        lambda: vault.log_id["token"],
    ]
    for attempt in attempts:
        with pytest.raises(UnknownFieldError, match=r"\.token cannot be read by automation code"):
            attempt()
    assert not hasattr(vault, "token")  # an AttributeError, as for a field that is not there
    # read() without names gives everything else.
    (row,) = vault.read()
    assert "token" not in row and row["name"] == "a"
    assert row["log_id"][0] == vault.log_id.id


@pytest.mark.parametrize(
    "domain",
    [
        [("token", "like", "tok%")],
        [("token", "=", "tok-a")],
        [("token", "!=", False)],
        [("token", "in", ["tok-a"])],
        ["|", ("name", "=", "zz"), ("token", "ilike", "A")],
        ["!", ("token", "=like", "t%")],
        [("log_id.token", "like", "log%")],
    ],
)
def test_code_cannot_search_by_a_secret(code_env: Environment, domain: list[Any]) -> None:
    with pytest.raises(DomainError, match=r"\.token cannot be searched by automation code"):
        code_env["x.vault"].search(domain)
    with pytest.raises(DomainError, match=r"\.token cannot be searched by automation code"):
        code_env["x.vault"].search_count(domain)


@pytest.mark.parametrize("order", ["token", "token desc", "name, token", "id desc,token asc"])
def test_code_cannot_sort_by_a_secret(code_env: Environment, order: str) -> None:
    with pytest.raises(DomainError, match="x.vault.token cannot be sorted by automation code"):
        code_env["x.vault"].search([], order=order)


def test_code_cannot_write_a_secret(code_env: Environment) -> None:
    vault = code_env["x.vault"].search([("name", "=", "b")])
    for attempt in (
        lambda: vault.write({"token": "mine"}),
        lambda: setattr(vault, "token", "mine"),
        lambda: code_env["x.vault"].create({"name": "c", "token": "mine"}),
    ):
        with pytest.raises(ValidationError, match="x.vault.token cannot be written by automation"):
            attempt()
    vault.write({"name": "b2"})  # the rest of the model is code's to change
    assert code_env["x.vault"].create({"name": "c"}).name == "c"


# --------------------------------------------------------------- read-only and closed


def test_a_read_only_model_is_read_and_searched_but_never_changed(code_env: Environment) -> None:
    logs = code_env["x.log"].search([("name", "=", "entry")])
    assert len(logs) == 1 and logs.name == "entry"
    message = "x.log records are read-only to automation code"
    for attempt in (
        lambda: logs.write({"name": "changed"}),
        lambda: setattr(logs, "name", "changed"),
        lambda: logs.unlink(),
        lambda: code_env["x.log"].create({"name": "forged"}),
        lambda: code_env["x.log"].browse([]).unlink(),  # no oracle either way
    ):
        with pytest.raises(ValidationError, match=message):
            attempt()
    assert code_env["x.log"].search_count([]) == 1


def test_a_closed_model_is_unknown_to_code(code_env: Environment) -> None:
    assert "x.closed" not in code_env and "x.vault" in code_env
    with pytest.raises(UnknownModelError, match="'x.closed' is not available to automation code"):
        code_env["x.closed"]
    vault = code_env["x.vault"].search([("name", "=", "a")])
    with pytest.raises(UnknownModelError, match="not available to automation code"):
        vault.closed_id  # noqa: B018 (the read is the test)
    with pytest.raises(DomainError, match="x.closed records are not available to automation"):
        code_env["x.vault"].search([("closed_id.name", "=", "hidden")])
    # Its id is still a plain filter on the model that holds it, and read() leaves it out.
    assert code_env["x.vault"].search([("closed_id", "!=", False)]) == vault
    assert "closed_id" not in vault.read()[0]


def test_errors_are_user_errors(code_env: Environment) -> None:
    """The engine reports UserErrors with their own message (a webhook call's 500 body)."""
    vault = code_env["x.vault"].search([], limit=1)
    for attempt in (
        lambda: vault.token,
        lambda: code_env["x.vault"].search([("token", "=", "x")]),
        lambda: code_env["x.log"].create({"name": "x"}),
        lambda: code_env["x.closed"],
    ):
        with pytest.raises(UserError):
            attempt()


def test_a_trusted_environment_sees_and_changes_everything(host_env: Environment) -> None:
    vault = host_env["x.vault"].search([("token", "like", "tok-a")], order="token desc")
    assert vault.token == "tok-a"
    assert "token" in vault.read()[0]
    assert vault.closed_id.name == "hidden"
    host_env["x.log"].create({"name": "by the host"})
    host_env["x.closed"].search([]).unlink()


def test_code_cannot_turn_its_environment_into_a_trusted_one(code_env: Environment) -> None:
    """Everything public leads back to the same environment; the flag is private."""
    vault = code_env["x.vault"].search([], limit=1)
    assert vault.env is code_env
    assert vault.log_id.env is code_env
    assert [name for name in dir(code_env) if not name.startswith("_")] == []
    with pytest.raises(UnknownFieldError):
        vault.env["x.vault"].browse(vault.id).token  # noqa: B018
