"""The record API (``env``) through the real app and the real migrated database.

Runs on SQLite, and on PostgreSQL when ``NIGHTPOS_TEST_DATABASE_URL`` is set.
Demo data is fresh for every test; ids are never assumed (PostgreSQL sequences
keep counting across tests), records are found by name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from nightpos_app.exceptions import (
    MissingError,
    SingletonError,
    UnknownFieldError,
    UnknownModelError,
    UserError,
    ValidationError,
)
from nightpos_app.extensions import db
from nightpos_app.orm import Environment, RecordSet
from nightpos_app.orm.store import final_writes
from nightpos_app.state import get_env


def partner(env: Environment, name: str) -> RecordSet:
    found = env["res.partner"].search([("name", "=", name)])
    assert len(found) == 1, name
    return found


def currency(env: Environment, code: str) -> RecordSet:
    found = env["res.currency"].search([("name", "=", code)])
    assert len(found) == 1, code
    return found


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    statements: list[str] = []

    def before(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


# --------------------------------------------------------------- environment


def test_models_are_registered_by_technical_name(env: Environment) -> None:
    for name in ("res.partner", "res.currency", "sale.order"):
        assert name in env
        model = env[name]
        assert isinstance(model, RecordSet)
        assert model.model_name == name
        assert len(model) == 0 and not model


def test_unknown_model_is_a_key_error_naming_it(env: Environment) -> None:
    with pytest.raises(KeyError) as caught:
        env["no.such.model"]
    assert isinstance(caught.value, UnknownModelError)
    assert str(caught.value) == "unknown model 'no.such.model'"
    with pytest.raises(UnknownModelError, match="None"):
        env[None]  # type: ignore[index]  # a payload without "_model"
    assert "no.such.model" not in env
    assert None not in env


def test_registry_refuses_models_the_record_api_cannot_serve() -> None:
    from nightpos_app.exceptions import StartupError
    from nightpos_app.orm import ModelRegistry

    class Base(sa.orm.DeclarativeBase):
        pass

    class Keyed(Base):
        __tablename__ = "keyed"
        __model_name__ = "x.keyed"
        code = sa.Column(sa.String(8), primary_key=True)

    class Sorted(Base):
        __tablename__ = "sorted"
        __model_name__ = "x.sorted"
        __model_order__ = "colour desc"
        id = sa.Column(sa.Integer, primary_key=True)

    class Twin(Base):
        __tablename__ = "twin"
        __model_name__ = "x.sorted"
        id = sa.Column(sa.Integer, primary_key=True)

    registry = ModelRegistry()
    with pytest.raises(StartupError, match="integer primary key named 'id'"):
        registry.register(Keyed, "fx")
    registry.register(Sorted, "fx")
    with pytest.raises(StartupError, match="'x.sorted' .* already registered by addon 'fx'"):
        registry.register(Twin, "fx2")
    with pytest.raises(StartupError, match="model 'x.sorted': order on x.sorted: unknown field"):
        registry.finalize()


def test_model_env_gives_the_environment(env: Environment) -> None:
    model = env["sale.order"]
    assert model.env is env
    assert model.env["res.partner"].model_name == "res.partner"


def test_public_surface_exposes_no_session_mapping_or_registry(env: Environment) -> None:
    """What sandboxed admin code could reach: nothing but the record API."""
    from sqlalchemy.orm import InstanceState, Session

    from nightpos_app.orm.registry import ModelEntry, ModelRegistry

    def assert_harmless(value: object, what: str) -> None:
        assert not isinstance(value, (Session, sa.orm.scoped_session, type)), what
        assert not isinstance(value, (ModelRegistry, ModelEntry)), what
        # A mapped instance (or anything SQLAlchemy can inspect as one).
        assert not isinstance(sa.inspect(value, raiseerr=False), InstanceState), what

    assert [name for name in dir(env) if not name.startswith("_")] == []
    order = env["sale.order"].search([], limit=1)
    public = [name for name in dir(order) if not name.startswith("_")]
    assert {"browse", "search", "create", "write", "unlink", "env", "ids"} <= set(public)
    for name in public:
        assert_harmless(getattr(order, name), name)
    for name, value in order.read()[0].items():
        assert_harmless(value, name)
        assert_harmless(order[name], name)
    # The check itself can fail: a mapped object is caught.
    with pytest.raises(AssertionError):
        assert_harmless(order._record(), "a mapped object")


# -------------------------------------------------------- browse and reading


def test_browse_makes_no_query_and_reads_fields(env: Environment) -> None:
    siam = partner(env, "Siam Trading Co., Ltd.")
    db.session.expire_all()
    with count_queries() as queries:
        record = env["res.partner"].browse(siam.id)
        also = env["res.partner"].browse([siam.id])
    assert queries == []
    assert record == also == siam
    assert record.id == siam.id and record.ids == [siam.id]
    assert record.name == "Siam Trading Co., Ltd."
    assert record.email == "orders@siamtrading.example"
    assert record.company_type == "company"
    assert record.customer_rank == 3
    assert record.active is True
    assert record["name"] == "Siam Trading Co., Ltd."
    assert record.display_name == "Siam Trading Co., Ltd."


def test_browse_refuses_what_is_not_an_id(env: Environment) -> None:
    model = env["res.partner"]
    for bad in ("7", 7.0, True, ["1"], [1, None], {"id": 1}, b"1"):
        with pytest.raises(ValidationError, match="integers"):
            model.browse(bad)
    with pytest.raises(ValidationError, match="res.currency"):
        model.browse(env["res.currency"].search([], limit=1))
    assert model.browse() == model.browse(None) == model.browse(False) == model.browse([])
    assert not model.browse([])


def test_browse_keeps_order_and_drops_duplicates(env: Environment) -> None:
    ids = env["res.partner"].search([]).ids
    picked = env["res.partner"].browse([ids[2], ids[0], ids[2], ids[1]])
    assert picked.ids == [ids[2], ids[0], ids[1]]


def test_missing_records_raise_missing_error_when_used(env: Environment) -> None:
    model = env["res.partner"]
    biggest = max(model.search([]).ids)
    ghost = model.browse(biggest + 1000)
    assert ghost  # browse does not check
    assert not ghost.exists()
    with pytest.raises(MissingError, match=str(biggest + 1000)):
        ghost.name
    with pytest.raises(MissingError):
        ghost.write({"phone": "1"})
    with pytest.raises(MissingError):
        ghost.unlink()
    with pytest.raises(MissingError):
        ghost.read(["name"])
    # Mixed: exists() keeps the real ones, in order.
    real = partner(env, "Anong Srisuk")
    mixed = model.browse([biggest + 1000, real.id, -5, 0])
    assert mixed.exists().ids == [real.id]


def test_ids_beyond_any_column_simply_do_not_exist(env: Environment) -> None:
    """Huge ids (from a payload) must not crash SQLite or abort PostgreSQL's transaction."""
    model = env["sale.order"]
    for huge in (2**31, 2**63, 2**200, -(2**70)):
        record = model.browse(huge)
        assert not record.exists()
        with pytest.raises(MissingError):
            record.name
    assert model.search_count([]) == 12  # the transaction is still usable


def test_id_and_ensure_one(env: Environment) -> None:
    model = env["res.partner"]
    several = model.search([])
    assert model.id is False
    assert model.browse().ids == []
    with pytest.raises(SingletonError, match="Expected a single res.partner record, got 6"):
        several.id
    with pytest.raises(ValueError, match="got 0"):
        model.ensure_one()
    one = several[0]
    assert one.ensure_one() is one
    with pytest.raises(SingletonError):
        several.name  # a field of many records is ambiguous


def test_empty_recordset_reads_as_empty(env: Environment) -> None:
    orders = env["sale.order"]
    assert orders.state is False
    assert orders.name is False
    assert orders.display_name is False
    assert orders.partner_id == env["res.partner"]
    assert orders.partner_id.model_name == "res.partner"
    assert orders.partner_id.name is False
    assert orders.read() == []
    assert orders.mapped("partner_id") == env["res.partner"]
    assert orders.mapped("state") == []
    assert orders.filtered(lambda r: True) == orders
    assert list(orders) == []
    assert orders.exists() == orders


def test_many2one_reads_as_a_recordset(env: Environment) -> None:
    thb = currency(env, "THB")
    order = env["sale.order"].search([("currency_id", "=", thb.id)], limit=1)
    assert isinstance(order.currency_id, RecordSet)
    assert order.currency_id == thb
    assert order.currency_id.name == "THB"
    assert order.currency_id.symbol == "฿"
    assert order.partner_id.model_name == "res.partner"
    assert order.amount_total == Decimal(order.read(["amount_total"])[0]["amount_total"])
    assert isinstance(order.date_order, dt.date)


def test_sale_order_name_is_s_and_the_id_on_five_digits(env: Environment) -> None:
    for order in env["sale.order"].search([]):
        assert order.name == f"S{order.id:05d}"
        assert order.display_name == order.name
        assert len(order.name) == 6 and order.name.startswith("S0")
    record = env["sale.order"].search([], limit=1)
    assert record.read(["name"]) == [{"id": record.id, "name": f"S{record.id:05d}"}]


def test_unknown_attribute_is_a_clear_attribute_error(env: Environment) -> None:
    record = partner(env, "Anong Srisuk")
    with pytest.raises(AttributeError, match="res.partner has no field 'colour'") as caught:
        record.colour
    assert isinstance(caught.value, UnknownFieldError)
    assert not hasattr(record, "colour")
    assert hasattr(record, "email")
    with pytest.raises(UnknownFieldError):
        record["colour"]
    with pytest.raises(AttributeError):
        record._session


def test_reads_after_loading_cost_one_query_per_model(env: Environment) -> None:
    orders = env["sale.order"].search([])
    db.session.expire_all()
    with count_queries() as queries:
        names = [(o.name, o.partner_id.name, o.currency_id.name) for o in orders]
    assert len(names) == 12
    # One for the orders, one for their customers, one for their currencies.
    assert len(queries) == 3, queries
    with count_queries() as queries:
        rows = orders.read(["partner_id", "state"])
    assert queries == []
    db.session.expire_all()
    with count_queries() as queries:
        rows = orders.read(["partner_id", "currency_id", "name"])
    assert len(rows) == 12 and len(queries) == 3, queries
    assert {row["partner_id"][1] for row in rows} >= {"Siam Trading Co., Ltd."}


def test_reads_see_changes_committed_by_another_session(app: Flask, env: Environment) -> None:
    record = partner(env, "Anong Srisuk")
    assert record.phone == "+66 81 234 5678"
    db.session.commit()  # expires what the session holds, as after any commit
    with app.app_context():
        get_env()["res.partner"].browse(record.id).write({"phone": "+66 2 000 0000"})
        db.session.commit()
    assert record.phone == "+66 2 000 0000"


# ------------------------------------------------------ recordset behaviour


def test_iteration_indexing_and_set_operations(env: Environment) -> None:
    partners = env["res.partner"].search([], order="id")
    assert len(partners) == 6 and bool(partners)
    records = list(partners)
    assert all(isinstance(r, RecordSet) and len(r) == 1 for r in records)
    assert [r.id for r in records] == partners.ids
    assert partners[0].id == partners.ids[0]
    assert partners[-1].id == partners.ids[-1]
    assert partners[1:3].ids == partners.ids[1:3]
    with pytest.raises(IndexError):
        partners[6]
    with pytest.raises(TypeError):
        partners[1.0]  # type: ignore[index]
    first, rest = partners[0], partners[1:]
    assert first in partners and partners[1:3] in partners
    assert first not in rest
    assert env["res.currency"].search([], limit=1) not in partners
    assert (first | rest) == partners
    assert (first + first) == first
    assert (partners - first) == rest
    assert (partners & first) == first
    assert partners[:2] | partners[1:3] == partners[:3]
    assert len({first, partners[0], partners[1]}) == 2  # hashable, by model and ids
    assert partners != env["res.partner"]
    assert partners.browse(list(reversed(partners.ids))) == partners  # a set, order aside
    assert repr(first) == f"res.partner({first.id},)"
    with pytest.raises(UserError, match="cannot combine"):
        partners | env["res.currency"]


def test_mapped_and_filtered(env: Environment) -> None:
    orders = env["sale.order"].search([], order="id")
    customers = orders.mapped("partner_id")
    assert customers.model_name == "res.partner"
    assert len(customers) == 6  # merged: each customer once
    assert sorted(orders.mapped("partner_id.name")) == sorted(
        env["res.partner"].search([]).mapped("name")
    )
    assert orders.mapped("state") == [o.state for o in orders]
    assert orders.mapped(lambda o: o.name) == [f"S{i:05d}" for i in orders.ids]
    assert orders.mapped(lambda o: o.currency_id) == orders.mapped("currency_id")
    assert set(orders.mapped("currency_id.name")) == {"THB", "EUR", "GBP", "JPY"}
    with pytest.raises(UnknownFieldError):
        orders.mapped("colour")
    with pytest.raises(UnknownFieldError):
        env["sale.order"].mapped("colour")  # checked even with no records
    with pytest.raises(UnknownFieldError, match="cannot follow"):
        orders.mapped("state.name")

    sold = orders.filtered(lambda o: o.state == "sale")
    assert len(sold) == 6 and all(o.state == "sale" for o in sold)
    suppliers = env["res.partner"].search([]).filtered("supplier_rank")
    assert suppliers.mapped("name") == ["Mekong Supplies"]
    euro = orders.filtered(lambda o: o.currency_id.name == "EUR")
    assert euro == env["sale.order"].search([("currency_id.name", "=", "EUR")])
    assert orders.filtered("partner_id") == orders


def test_read_gives_dicts_with_many2one_pairs(env: Environment) -> None:
    thb = currency(env, "THB")
    order = env["sale.order"].search([("currency_id", "=", thb.id)], limit=1)
    (row,) = order.read(["currency_id", "state", "partner_id"])
    assert list(row) == ["id", "currency_id", "state", "partner_id"]
    assert row["currency_id"] == (thb.id, "THB")
    assert row["partner_id"] == (order.partner_id.id, order.partner_id.name)
    everything = order.read()[0]
    assert set(everything) == {
        "id",
        "partner_id",
        "currency_id",
        "date_order",
        "state",
        "amount_total",
        "note",
        "name",
    }
    assert everything["note"] is None
    assert order.read("state") == [{"id": order.id, "state": order.state}]
    with pytest.raises(UnknownFieldError, match="'colour'"):
        order.read(["state", "colour"])
    with pytest.raises(ValidationError):
        order.read(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------- writes


def test_create_one_and_many(env: Environment) -> None:
    model = env["res.partner"]
    one = model.create({"name": "Solo"})
    assert len(one) == 1 and one.name == "Solo"
    # Defaults apply to what is not given.
    assert one.company_type == "person"
    assert one.customer_rank == 0 and one.active is True and one.email is None
    many = model.create([{"name": "Alpha"}, {"name": "Beta", "company_type": "company"}])
    assert len(many) == 2
    assert many.mapped("name") == ["Alpha", "Beta"]
    assert model.create([]) == model
    assert model.search_count([]) == 9


def test_create_refuses_what_is_not_values(env: Environment) -> None:
    for bad in (None, "name", 42, {"name"}):
        with pytest.raises(ValidationError, match="res.partner"):
            env["res.partner"].create(bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="dictionary"):
        env["res.partner"].create([{"name": "ok"}, "not a dict"])  # type: ignore[list-item]
    assert env["res.partner"].search_count([]) == 6


def test_write_many_records_and_many2one_by_id_or_recordset(env: Environment) -> None:
    usd, eur = currency(env, "USD"), currency(env, "EUR")
    drafts = env["sale.order"].search([("state", "=", "draft")])
    assert len(drafts) == 3
    assert drafts.write({"currency_id": usd.id, "note": "Moved"}) is True
    assert set(drafts.mapped("currency_id.name")) == {"USD"}
    assert drafts.mapped("note") == ["Moved"] * 3
    drafts[0].write({"currency_id": eur})
    assert drafts[0].currency_id == eur
    drafts[0].currency_id = usd  # attribute assignment writes
    assert drafts[0].currency_id == usd
    assert env["sale.order"].search_count([("currency_id", "=", usd.id)]) == 3
    assert env["sale.order"].browse().write({"note": "nothing"}) is True
    with pytest.raises(AttributeError, match="no writable field 'colour'"):
        drafts[0].colour = "red"
    with pytest.raises(AttributeError):
        drafts[0].name = "S99999"  # computed


def test_write_false_clears_an_optional_field(env: Environment) -> None:
    record = partner(env, "Anong Srisuk")
    record.write({"email": False, "phone": None})
    assert record.email is None and record.phone is None
    assert env["res.partner"].search_count([("email", "=", False)]) == 1


def test_unlink(env: Environment) -> None:
    record = env["res.partner"].create({"name": "Short-lived"})
    record_id = record.id
    assert record.unlink() is True
    assert not record.exists()
    assert not env["res.partner"].search([("id", "=", record_id)])
    with pytest.raises(MissingError):
        record.name
    assert env["res.partner"].unlink() is True  # nothing to delete
    cancelled = env["sale.order"].search([("state", "=", "cancel")])
    cancelled.unlink()
    assert env["sale.order"].search_count([]) == 11


# --------------------------------------------------- atomicity and savepoints


def test_db_constraint_error_leaves_nothing_and_the_session_usable(
    app: Flask, env: Environment
) -> None:
    before = env["res.partner"].create({"name": "Made Before The Error"})
    with pytest.raises(ValidationError, match="res.currency: cannot create") as caught:
        env["res.currency"].create({"name": "USD", "symbol": "$"})
    assert "name" in str(caught.value)  # the unique column, as each database words it
    # The session goes on: earlier work is kept, queries and writes still work.
    assert before.exists()
    assert env["res.currency"].search_count([]) == 5
    after = env["res.currency"].create({"name": "CHF", "symbol": "Fr"})
    db.session.commit()
    with app.app_context():
        fresh = get_env()
        assert fresh["res.partner"].search_count([("name", "=", "Made Before The Error")]) == 1
        assert sorted(fresh["res.currency"].search([]).mapped("name")) == [
            "CHF",
            "EUR",
            "GBP",
            "JPY",
            "THB",
            "USD",
        ]
        assert fresh["res.currency"].browse(after.id).name == "CHF"


def test_failed_batch_create_creates_none(app: Flask, env: Environment) -> None:
    with pytest.raises(ValidationError, match="cannot create"):
        env["res.currency"].create(
            [
                {"name": "AAA", "symbol": "a"},
                {"name": "BBB", "symbol": "b"},
                {"name": "AAA", "symbol": "c"},
            ]
        )
    with pytest.raises(ValidationError, match="symbol"):
        env["res.currency"].create([{"name": "CCC", "symbol": "c"}, {"name": "DDD"}])
    db.session.commit()
    with app.app_context():
        assert (
            get_env()["res.currency"].search_count([("name", "in", ["AAA", "BBB", "CCC", "DDD"])])
            == 0
        )


def test_failed_write_changes_no_record(app: Flask, env: Environment) -> None:
    eur, gbp = currency(env, "EUR"), currency(env, "GBP")
    both = eur | gbp
    with pytest.raises(ValidationError, match="cannot write"):
        both.write({"name": "XXX"})  # the second record breaks the unique code
    # In this session, the records read back as they are in the database.
    assert eur.name == "EUR" and gbp.name == "GBP"
    with pytest.raises(ValidationError, match="cannot write"):
        eur.write({"name": "USD"})
    assert eur.name == "EUR"
    eur.write({"symbol": "EUR"})  # the session still writes
    db.session.commit()
    with app.app_context():
        fresh = get_env()["res.currency"]
        assert fresh.browse(eur.id).read(["name", "symbol"]) == [
            {"id": eur.id, "name": "EUR", "symbol": "EUR"}
        ]
        assert fresh.browse(gbp.id).name == "GBP"


def test_a_write_that_changes_nothing_sends_no_statement(env: Environment) -> None:
    eur = currency(env, "EUR")
    assert eur.name == "EUR"  # loaded
    with count_queries() as statements:
        assert eur.write({"name": "EUR", "symbol": eur.symbol}) is True
        db.session.flush()
    assert statements == []
    with count_queries() as statements:
        eur.write({"name": "EUR", "symbol": "E"})  # one field differs: written
    assert any(s.startswith("UPDATE res_currency") for s in statements)
    assert eur.symbol == "E"
    # A many-to-one kept as it is is not looked up either (what a record holds exists).
    order = env["sale.order"].browse(7)
    currency_id = order.currency_id.id
    with count_queries() as statements:
        order.write({"currency_id": currency_id})
    assert statements == []


def test_final_writes_go_without_a_savepoint_and_fail_just_as_clearly(
    env: Environment,
) -> None:
    eur = currency(env, "EUR")
    with count_queries() as statements, final_writes(env):
        eur.write({"symbol": "E"})
    assert any(s.startswith("UPDATE res_currency") for s in statements)
    assert not any("SAVEPOINT" in s for s in statements)
    refused = "res.currency: cannot write: the database refused"
    with pytest.raises(ValidationError, match=refused), final_writes(env):
        eur.write({"name": "USD"})
    # No savepoint to fall back to: the transaction is over, for the caller to roll back.
    assert not db.session.is_active
    db.session.rollback()
    assert currency(env, "EUR").symbol == "€"


def test_unlink_refused_by_a_foreign_key_keeps_the_record(app: Flask, env: Environment) -> None:
    siam = partner(env, "Siam Trading Co., Ltd.")
    lonely = env["res.partner"].create({"name": "No Orders"})
    with pytest.raises(ValidationError, match="res.partner: cannot delete"):
        (lonely | siam).unlink()
    assert siam.exists() and lonely.exists()
    assert siam.name == "Siam Trading Co., Ltd."
    assert env["sale.order"].search_count([("partner_id", "=", siam.id)]) == 2
    db.session.commit()
    with app.app_context():
        assert get_env()["res.partner"].browse([siam.id, lonely.id]).exists() == get_env()[
            "res.partner"
        ].browse([siam.id, lonely.id])


def test_validation_error_happens_before_any_change(env: Environment) -> None:
    orders = env["sale.order"].search([])
    states = orders.mapped("state")
    with pytest.raises(ValidationError, match="state"):
        orders.write({"note": "changed", "state": "lost"})
    assert orders.mapped("state") == states
    assert orders.mapped("note") == [None] * 12


# ---------------------------------------------------- the specification's code


def test_specification_target_record_and_update_currency(env: Environment) -> None:
    """Use case 1: the Target Record finds the order from the payload; USD is set."""
    order = env["sale.order"].search([("state", "=", "sale")], limit=1)
    payload = {"_model": "sale.order", "_id": str(order.id)}
    model = env["sale.order"]
    target = model.env[payload.get("_model")].browse(int(payload.get("_id")))
    assert target == order
    assert target.name == f"S{order.id:05d}"
    usd = env["res.currency"].search([("name", "=", "USD")])
    target.write({"currency_id": usd.id})
    assert target.currency_id.name == "USD"
    assert env["sale.order"].search([("currency_id.name", "=", "USD")]) == order


def test_specification_placeholder_target_record(env: Environment) -> None:
    model = env["res.partner"]
    target = model.browse([2])
    assert target.ids == [2] and target.model_name == "res.partner"


def test_specification_create_contact_code(env: Environment) -> None:
    """Use case 2, the Execute Code body as the specification gives it."""
    payload = {
        "name": "CONTACT NAME",
        "email": "CONTACTEMAIL@EMAIL.COM",
        "phone": "CONTACT PHONE NUMBER",
    }
    contact_name = payload.get("name")
    contact_email = payload.get("email")
    contact_phone = payload.get("phone")
    new_partner = env["res.partner"].create(
        {
            "name": contact_name,
            "email": contact_email,
            "phone": contact_phone,
            "company_type": "person",
            "customer_rank": 1,
        }
    )
    assert new_partner.read(["name", "email", "phone", "company_type", "customer_rank"]) == [
        {
            "id": new_partner.id,
            "name": "CONTACT NAME",
            "email": "CONTACTEMAIL@EMAIL.COM",
            "phone": "CONTACT PHONE NUMBER",
            "company_type": "person",
            "customer_rank": 1,
        }
    ]
    # A payload without a phone still creates the contact.
    no_phone = env["res.partner"].create(
        {
            "name": "N",
            "email": "n@x.example",
            "phone": {}.get("phone"),
            "company_type": "person",
            "customer_rank": 1,
        }
    )
    assert no_phone.phone is None
