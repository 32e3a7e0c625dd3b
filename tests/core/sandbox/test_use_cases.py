"""The specification's two use cases and common admin code, on the real record API."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from nightpos_app.exceptions import UserError, ValidationError
from nightpos_app.orm import Environment, RecordSet
from nightpos_app.sandbox import Sandbox, SandboxError
from tests.core.sandbox.conftest import webhook_names
from tests.support.spec import TARGET_RECORD, USE_CASE_2_CODE

CREATE_CONTACT = USE_CASE_2_CODE

CONTACT_PAYLOAD = {
    "name": "CONTACT NAME",
    "email": "CONTACTEMAIL@EMAIL.COM",
    "phone": "CONTACT PHONE NUMBER",
}


def test_use_case_1_target_record(sandbox: Sandbox, env: Environment) -> None:
    order = env["sale.order"].search([], limit=1)
    payload = {"_model": "sale.order", "_id": str(order.id)}
    target = sandbox.evaluate(TARGET_RECORD, webhook_names(env, "sale.order", payload))
    assert isinstance(target, RecordSet)
    assert target.model_name == "sale.order"
    assert target.ids == [order.id]


def test_use_case_1_with_the_order_number_as_an_int(sandbox: Sandbox, env: Environment) -> None:
    order = env["sale.order"].search([], limit=1)
    payload = {"_model": "sale.order", "_id": order.id}
    target = sandbox.evaluate(TARGET_RECORD, webhook_names(env, "sale.order", payload))
    assert target == order


def test_use_case_1_bad_payloads_give_clear_errors(sandbox: Sandbox, env: Environment) -> None:
    names = webhook_names(env, "sale.order", {"_model": "sale.order", "_id": "SALES ORDER NUMBER"})
    with pytest.raises(SandboxError) as caught:
        sandbox.evaluate(TARGET_RECORD, names)
    assert caught.value.kind == "error"
    assert caught.value.message == "invalid literal for int() with base 10: 'SALES ORDER NUMBER'"
    assert isinstance(caught.value.__cause__, ValueError)

    names = webhook_names(env, "sale.order", {"_model": "no.such", "_id": "7"})
    with pytest.raises(SandboxError) as caught:
        sandbox.evaluate(TARGET_RECORD, names)
    assert caught.value.message == "unknown model 'no.such'"


def test_use_case_2_placeholder_target(sandbox: Sandbox, env: Environment) -> None:
    target = sandbox.evaluate("model.browse([2])", webhook_names(env, "res.partner", {}))
    assert isinstance(target, RecordSet) and target.ids == [2]


def test_use_case_2_creates_the_contact(sandbox: Sandbox, env: Environment) -> None:
    names = webhook_names(env, "res.partner", CONTACT_PAYLOAD)
    namespace = sandbox.execute(CREATE_CONTACT, names, filename="<code>")
    partner = namespace["new_partner"]
    assert isinstance(partner, RecordSet) and len(partner) == 1
    found = env["res.partner"].search([("email", "=", "CONTACTEMAIL@EMAIL.COM")])
    assert found == partner
    assert (found.name, found.phone, found.company_type) == (
        "CONTACT NAME",
        "CONTACT PHONE NUMBER",
        "person",
    )


@pytest.mark.parametrize(
    "payload", [{}, {"name": "Only a name"}, {"email": "only@email.example", "phone": "1"}]
)
def test_use_case_2_missing_fields_message_is_exact(
    sandbox: Sandbox, env: Environment, payload: dict[str, Any]
) -> None:
    count = env["res.partner"].search_count([])
    with pytest.raises(SandboxError) as caught:
        sandbox.execute(CREATE_CONTACT, webhook_names(env, "res.partner", payload))
    error = caught.value
    assert error.message == "Missing required fields: 'name' and 'email'"
    assert str(error) == error.message
    assert error.kind == "error"
    assert error.lineno == 17
    assert isinstance(error, UserError)
    assert isinstance(error.__cause__, ValueError)
    assert env["res.partner"].search_count([]) == count


def test_record_api_errors_keep_their_own_message(sandbox: Sandbox, env: Environment) -> None:
    names = webhook_names(env, "res.partner", {})
    with pytest.raises(SandboxError) as caught:
        sandbox.execute("env['res.partner'].create({'email': 'x@example.com'})", names)
    assert isinstance(caught.value.__cause__, ValidationError)
    assert caught.value.message == caught.value.__cause__.message
    with pytest.raises(SandboxError) as caught:
        sandbox.execute("raise UserError('Refused: no stock')", names)
    assert caught.value.message == "Refused: no stock"
    with pytest.raises(SandboxError) as caught:
        sandbox.evaluate("model.browse(10**9).name", names)
    assert "does not exist" in caught.value.message


COMMON_CODE = """\
usd = env['res.currency'].search([('name', '=', 'USD')], limit=1)
lines = []
for order in records:
    lines.append(f"{order.name}: {order.currency_id.name} {order.amount_total}")
totals = {o.name: float(o.amount_total) for o in records}
customers = sorted({o.partner_id.name for o in records})
biggest = max(totals.values())
smallest = min(totals.values())
total = sum(o.amount_total for o in records)
count = len(records)

def label(order, prefix='#'):
    return prefix + str(order.id) + '/' + order.state

labels = [label(o) for o in records if o.state == 'sale']
records.write({'currency_id': usd.id})
moved = [o.currency_id.name for o in records]
today = datetime.date.today()
week_ago = today - datetime.timedelta(days=7)
stamp = datetime.datetime(2024, 1, 2, 3, 4, 5).isoformat()
dumped = json.dumps(payload)
loaded = json.loads('{"a": [1, 2]}')
log('moved %d orders to %s' % (count, usd.name))
try:
    int('not a number')
except ValueError as exc:
    problem = str(exc)
partner = record.partner_id
partner.name = 'Renamed by code'
seen = {}
seen['count'] = count
seen['count'] += 1
is_text = isinstance(partner.name, str) and not isinstance(partner.name, (int, list))
pairs = list(zip(range(3), 'abc'))
indexed = {i: v for i, v in enumerate(['x', 'y'])}
first, *rest = [1, 2, 3]
squares = list(map(lambda x: x * x, range(5)))
evens = [x for x in range(10) if x % 2 == 0]
text = ', '.join(str(x) for x in evens)
n = 0
while n < 5:
    n += 1
"""


def test_common_admin_code(env: Environment, logs: list[str]) -> None:
    records = env["sale.order"].search([("state", "=", "sale")])
    names = {
        **webhook_names(env, "sale.order", {"a": 1}, logs),
        "records": records,
        "record": records[0],
    }
    customers = sorted({o.partner_id.name for o in records})
    ns = Sandbox().execute(COMMON_CODE, names)

    assert ns["count"] == len(records) > 1
    assert len(ns["lines"]) == len(records)
    assert ns["lines"][0].startswith(records[0].name + ": ")
    assert ns["total"] == sum((o.amount_total for o in records), Decimal(0))
    assert ns["biggest"] == max(float(o.amount_total) for o in records)
    assert ns["smallest"] == min(float(o.amount_total) for o in records)
    assert ns["customers"] == customers
    assert all(label.startswith("#") and label.endswith("/sale") for label in ns["labels"])
    assert set(ns["moved"]) == {"USD"}
    assert {o.currency_id.name for o in records} == {"USD"}
    assert ns["today"] == dt.date.today()
    assert ns["week_ago"] == dt.date.today() - dt.timedelta(days=7)
    assert ns["stamp"] == "2024-01-02T03:04:05"
    assert json.loads(ns["dumped"]) == {"a": 1}
    assert ns["loaded"] == {"a": [1, 2]}
    assert logs == [f"moved {len(records)} orders to USD"]
    assert ns["problem"].startswith("invalid literal for int()")
    assert records[0].partner_id.name == "Renamed by code"
    assert ns["seen"] == {"count": len(records) + 1}
    assert ns["is_text"] is True
    assert ns["pairs"] == [(0, "a"), (1, "b"), (2, "c")]
    assert ns["indexed"] == {0: "x", 1: "y"}
    assert (ns["first"], ns["rest"]) == (1, [2, 3])
    assert ns["squares"] == [0, 1, 4, 9, 16]
    assert ns["text"] == "0, 2, 4, 6, 8"
    assert ns["n"] == 5


def test_records_helpers_and_reads(env: Environment) -> None:
    records = env["sale.order"].search([])
    names = {**webhook_names(env, "sale.order", {}), "records": records}
    sandbox = Sandbox()
    assert sandbox.evaluate("records.ids", names) == records.ids
    assert sandbox.evaluate("records.mapped('currency_id.name')", names) == records.mapped(
        "currency_id.name"
    )
    assert sandbox.evaluate(
        "records.filtered(lambda o: o.state == 'draft')", names
    ) == records.filtered(lambda o: o.state == "draft")
    assert sandbox.evaluate("records.mapped(lambda o: o.id)", names) == records.ids
    assert sandbox.evaluate("records[0]['state']", names) == records[0].state
    assert sandbox.evaluate("records.read(['state'])", names) == records.read(["state"])
    assert sandbox.evaluate("records.search_count([])", names) == len(records)
    assert sandbox.evaluate("len(records[1:3])", names) == 2
    assert sandbox.evaluate("records[0] in records", names) is True
    assert sandbox.evaluate("records.env['res.partner'].model_name", names) == "res.partner"
    assert sandbox.evaluate("records[0].display_name", names) == records[0].display_name
    assert sandbox.evaluate("records[0].date_order", names) == records[0].date_order
