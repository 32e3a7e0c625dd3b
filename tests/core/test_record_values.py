"""Values written through the record API: validated, converted, and named in errors.

Through the real app and database for the demo models; field types that no
demo model has (datetime, plain float, JSON) are checked on the converter
with the field metadata the registry would build.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from nightpos_app.exceptions import ValidationError
from nightpos_app.orm import Environment, RecordSet
from nightpos_app.orm.fields import FieldInfo, read_fields
from nightpos_app.orm.values import BadValue, coerce_value


def a_partner(env: Environment) -> RecordSet:
    return env["res.partner"].search([("name", "=", "Anong Srisuk")])


def an_order(env: Environment) -> RecordSet:
    return env["sale.order"].search([("state", "=", "draft")], limit=1)


def refused(record: RecordSet, vals: dict[str, Any], message: str) -> None:
    """Writing ``vals`` fails with ``message``, and changes nothing."""
    before = record.read()
    with pytest.raises(ValidationError) as caught:
        record.write(vals)
    assert message in str(caught.value)
    assert record.read() == before


# --------------------------------------------------------------- field metadata


def test_fields_come_from_the_mapping(env: Environment) -> None:
    from nightpos_app.state import get_state

    order = get_state().registry["sale.order"].fields
    assert list(order) == [
        "id",
        "partner_id",
        "currency_id",
        "date_order",
        "state",
        "amount_total",
        "note",
    ]
    assert order["partner_id"].type == "many2one"
    assert order["partner_id"].comodel == "res.partner"
    assert order["partner_id"].relationship == "partner"
    assert order["partner_id"].label == "Customer"
    assert order["partner_id"].required and not order["partner_id"].has_default
    assert order["state"].type == "selection" and order["state"].required
    assert order["state"].has_default
    assert order["state"].selection[0] == ("draft", "Quotation")
    assert order["amount_total"].decimal and order["amount_total"].digits == (14, 2)
    assert order["note"].type == "text" and not order["note"].required
    assert order["id"].readonly and order["id"].bounds == (-(2**31), 2**31 - 1)
    partner = get_state().registry["res.partner"].fields
    assert partner["name"].size == 256 and partner["name"].type == "char"
    assert partner["active"].type == "boolean"


def test_a_foreign_key_to_an_unregistered_class_is_an_integer() -> None:
    class Base(sa.orm.DeclarativeBase):
        pass

    class Owner(Base):
        __tablename__ = "owner"
        id = sa.Column(sa.Integer, primary_key=True)

    class Thing(Base):
        __tablename__ = "thing"
        id = sa.Column(sa.Integer, primary_key=True)
        owner_ref = sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"))
        owner = sa.orm.relationship(Owner)
        weight = sa.Column(sa.Float)
        seen = sa.Column(sa.DateTime(timezone=True))
        data = sa.Column(sa.JSON)

    alone = read_fields(sa.inspect(Thing), {Thing: "x.thing"})
    assert alone["owner_ref"].type == "integer"
    known = read_fields(sa.inspect(Thing), {Thing: "x.thing", Owner: "x.owner"})
    # The attribute name (owner_ref), not the column's (owner_id), is the field.
    assert known["owner_ref"].type == "many2one" and known["owner_ref"].comodel == "x.owner"
    assert known["weight"].type == "float" and not known["weight"].decimal
    assert known["seen"].type == "datetime" and known["seen"].timezone
    assert known["data"].type == "json"


# ----------------------------------------------------------------- required


def test_required_fields_on_create(env: Environment) -> None:
    with pytest.raises(ValidationError, match=r"missing required field\(s\): name \(Name\)"):
        env["res.partner"].create({"email": "x@example.com"})
    with pytest.raises(ValidationError) as caught:
        env["sale.order"].create({"state": "draft"})
    assert "partner_id (Customer)" in str(caught.value)
    assert "currency_id (Currency)" in str(caught.value)
    assert "date_order" not in str(caught.value)  # it has a default
    assert env["res.partner"].search_count([]) == 6


@pytest.mark.parametrize("empty", [None, False, "", "   "])
def test_a_required_text_cannot_be_emptied(env: Environment, empty: Any) -> None:
    refused(a_partner(env), {"name": empty}, "res.partner.name (Name): a value is required")


@pytest.mark.parametrize(
    ("field", "value"),
    [("company_type", False), ("customer_rank", None), ("active", None), ("partner_id", False)],
)
def test_a_not_null_field_with_a_default_cannot_be_cleared(
    env: Environment, field: str, value: Any
) -> None:
    record = an_order(env) if field == "partner_id" else a_partner(env)
    refused(record, {field: value}, f".{field} (")


# ------------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("vals", "message"),
    [
        ({"customer_rank": True}, "customer_rank (Customer Rank): expected an integer, got True"),
        ({"customer_rank": "3"}, "expected an integer, got '3'"),
        ({"customer_rank": 1.0}, "expected an integer, got 1.0"),
        ({"customer_rank": 2**31}, "integer out of range"),
        ({"customer_rank": -(2**31) - 1}, "integer out of range"),
        ({"customer_rank": 2**200}, "integer out of range"),
        ({"active": 1}, "active (Active): expected true or false, got 1"),
        ({"active": "true"}, "expected true or false"),
        (
            {"company_type": "robot"},
            "company_type (Company Type): 'robot' is not one of 'person', 'company'",
        ),
        ({"company_type": "Person"}, "is not one of"),
        ({"name": 42}, "name (Name): expected text, got int"),
        ({"name": ["x"]}, "expected text, got list"),
        ({"name": "x" * 257}, "name (Name): text longer than 256 characters"),
        ({"phone": "1" * 65}, "phone (Phone): text longer than 64 characters"),
        ({"name": "a\x00b"}, "cannot contain NUL"),
        ({"name": "bad \ud800"}, "not valid Unicode"),
        ({"colour": "red"}, "res.partner: unknown field 'colour'"),
        ({"id": 5}, "res.partner.id (Id): the field is read-only"),
        ({1: "x"}, "unknown field 1"),
    ],
)
def test_partner_values_are_checked(env: Environment, vals: dict[str, Any], message: str) -> None:
    refused(a_partner(env), vals, message)


def test_limits_are_inclusive(env: Environment) -> None:
    record = a_partner(env)
    record.write({"name": "x" * 256, "phone": "7" * 64, "customer_rank": 2**31 - 1})
    assert record.name == "x" * 256 and record.customer_rank == 2**31 - 1
    record.write({"customer_rank": -(2**31), "name": "ชื่อไทย 名前"})
    assert record.customer_rank == -(2**31) and record.name == "ชื่อไทย 名前"


def test_values_must_be_a_dict(env: Environment) -> None:
    with pytest.raises(ValidationError, match="values must be a dictionary, got list"):
        a_partner(env).write([("name", "x")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("vals", "message"),
    [
        ({"amount_total": float("nan")}, "amount_total (Total): expected a finite number"),
        ({"amount_total": float("inf")}, "expected a finite number"),
        ({"amount_total": Decimal("NaN")}, "expected a finite number"),
        ({"amount_total": Decimal("-Infinity")}, "expected a finite number"),
        ({"amount_total": True}, "expected a number, got True"),
        ({"amount_total": "12.50"}, "expected a number, got '12.50'"),
        ({"amount_total": 10**12}, "number too large"),
        ({"amount_total": Decimal("999999999999.995")}, "number too large"),
        ({"amount_total": 10**400}, "number too large"),
        (
            {"date_order": "2024-02-30"},
            "date_order (Order Date): '2024-02-30' is not an ISO 8601 date",
        ),
        ({"date_order": "yesterday"}, "is not an ISO 8601 date"),
        ({"date_order": 20240101}, "expected an ISO 8601 date"),
        (
            {"state": "done"},
            "state (Status): 'done' is not one of 'draft', 'sent', 'sale', 'cancel'",
        ),
        ({"partner_id": "3"}, "partner_id (Customer): expected the id of a res.partner record"),
        ({"partner_id": True}, "expected the id of a res.partner record, got True"),
        ({"partner_id": 2**40}, "res.partner record 1099511627776 does not exist"),
        ({"currency_id": -1}, "currency_id (Currency): res.currency record -1 does not exist"),
        ({"name": "S99999"}, "sale.order.name: the field is computed, read-only"),
    ],
)
def test_order_values_are_checked(env: Environment, vals: dict[str, Any], message: str) -> None:
    refused(an_order(env), vals, message)


def test_many2one_accepts_ids_and_single_records_of_its_model(env: Environment) -> None:
    order = an_order(env)
    usd = env["res.currency"].search([("name", "=", "USD")])
    partners = env["res.partner"].search([])
    refused(order, {"currency_id": partners[0]}, "expected a res.currency record, got res.partner")
    refused(
        order,
        {"currency_id": env["res.currency"].search([])},
        "expected one res.currency record, got 5",
    )
    refused(order, {"currency_id": env["res.currency"]}, "a value is required")  # empty = no value
    missing = max(env["res.currency"].search([]).ids) + 1
    refused(order, {"currency_id": missing}, f"res.currency record {missing} does not exist")
    order.write({"currency_id": usd})
    assert order.currency_id == usd
    order.write({"partner_id": partners[-1].id})
    assert order.partner_id == partners[-1]


def test_numbers_are_stored_exactly(env: Environment) -> None:
    order = an_order(env)
    for given, stored in [
        (1.005, Decimal("1.01")),  # rounded half away from zero, as PostgreSQL does
        (-1.005, Decimal("-1.01")),
        (0.1, Decimal("0.10")),
        (7, Decimal("7.00")),
        (Decimal("999999999999.99"), Decimal("999999999999.99")),
        (Decimal("12.344"), Decimal("12.34")),
    ]:
        order.write({"amount_total": given})
        assert order.amount_total == stored, given
        assert (
            env["sale.order"].search_count([("amount_total", "=", stored), ("id", "=", order.id)])
            == 1
        )


def test_dates_accept_dates_datetimes_and_iso_text(env: Environment) -> None:
    order = an_order(env)
    order.write({"date_order": "2024-02-29"})
    assert order.date_order == dt.date(2024, 2, 29)
    order.write({"date_order": dt.datetime(2023, 12, 31, 23, 59)})
    assert order.date_order == dt.date(2023, 12, 31)
    order.write({"date_order": dt.date(2025, 1, 2)})
    assert order.date_order == dt.date(2025, 1, 2)
    assert env["sale.order"].search([("date_order", "=", "2025-01-02")]) == order


def test_false_clears_and_empty_text_is_kept(env: Environment) -> None:
    record = a_partner(env)
    record.write({"email": False, "phone": ""})
    assert record.email is None and record.phone == ""
    order = an_order(env)
    order.write({"note": "Terms"})
    order.write({"note": False})
    assert order.note is None
    record.write({"active": False})  # False is a value for a boolean
    assert record.active is False


# ------------------------------------------- converter, for the other field types


def field(type_: str, **extra: Any) -> FieldInfo:
    return FieldInfo(name="f", label="F", type=type_, **extra)


def test_datetimes() -> None:
    naive = field("datetime")
    assert coerce_value(naive, "2024-05-01T10:30:00") == dt.datetime(2024, 5, 1, 10, 30)
    assert coerce_value(naive, "2024-05-01") == dt.datetime(2024, 5, 1)
    assert coerce_value(naive, dt.date(2024, 5, 1)) == dt.datetime(2024, 5, 1)
    # An aware time is stored as UTC in a naive column.
    assert coerce_value(naive, "2024-05-01T10:30:00+07:00") == dt.datetime(2024, 5, 1, 3, 30)
    aware = field("datetime", timezone=True)
    value = coerce_value(aware, "2024-05-01T10:30:00+07:00")
    assert value.utcoffset() == dt.timedelta(hours=7)
    with pytest.raises(BadValue, match="not an ISO 8601 datetime"):
        coerce_value(naive, "2024-13-01T00:00")
    with pytest.raises(BadValue, match="expected an ISO 8601 datetime"):
        coerce_value(naive, 1714550000)


def test_plain_floats() -> None:
    plain = field("float")
    assert coerce_value(plain, 3) == 3.0 and isinstance(coerce_value(plain, 3), float)
    assert coerce_value(plain, Decimal("2.5")) == 2.5
    for bad in (math.nan, math.inf, 10**400, True, "1"):
        with pytest.raises(BadValue):
            coerce_value(plain, bad)


def test_json_values() -> None:
    data = field("json")
    assert coerce_value(data, {"a": [1, "x", None, True]}) == {"a": [1, "x", None, True]}
    for bad in ({"a": math.nan}, {"a": object()}, {1, 2}):
        with pytest.raises(BadValue, match="expected JSON data"):
            coerce_value(data, bad)
