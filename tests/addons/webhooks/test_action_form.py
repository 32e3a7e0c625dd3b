"""The action form over HTTP: every registered type's settings, typed values, validation by
the type with its messages on the form, editing and deleting an action."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from marshmallow import Schema, fields, validate

from addons.webhooks.action_types import ActionType, SettingsError
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import link, location, options
from tests.support.web import (
    WebClient,
    csrf_token_from,
    form_values,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request


def post_action(web: WebClient, url: str, values: dict[str, Any]):
    page = web.get(url)
    assert page.status_code == 200
    data = {**form_values(page.get_data(as_text=True)), **values}
    return web.client.post(url, data={k: v for k, v in data.items() if v is not None})


def error_of(page: str, setting: str) -> str:
    found = re.search(
        rf'class="alert alert-danger webhook-error" data-setting="{setting}">(.*?)</div>\s*</div>',
        page,
        re.S,
    )
    assert found, f"no error shown for {setting}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def actions(app: Flask, rule_id: int) -> list[dict[str, Any]]:
    return read(
        app,
        "ir.actions.server",
        [("rule_id", "=", rule_id)],
        ["name", "sequence", "action_type", "settings"],
    )


@pytest.fixture
def order_rule(make_rule) -> dict[str, Any]:
    return make_rule("sale.order")


def add_url(rule: dict[str, Any]) -> str:
    return f"/serveractionview/add?rule_id={rule['id']}"


def test_every_registered_type_has_its_settings_on_the_form(
    app: Flask, admin_web: WebClient, order_rule
) -> None:
    from addons.webhooks.rules.state import get_webhooks

    page = admin_web.get(add_url(order_rule)).get_data(as_text=True)
    with app.app_context():
        registered = get_webhooks().action_types.choices()
    assert options(page, "action_type") == registered
    for key, label in registered:
        assert f'data-action-type="{key}"' in page
        assert f"Action details: {label}" in page_text(admin_web.get(add_url(order_rule)))
    assert '<textarea class="form-control webhook-code" name="execute_code-code"' in page


@pytest.mark.parametrize(
    ("field", "text", "stored"),
    [
        ("state", "sale", "sale"),
        ("date_order", "2024-05-06", "2024-05-06"),
        ("amount_total", "99.95", 99.95),
        ("note", "Paid in USD", "Paid in USD"),
        ("partner_id", None, None),  # the id of a customer, chosen from the list
    ],
)
def test_update_record_values_are_stored_typed(
    app: Flask, admin_web: WebClient, order_rule, field: str, text: str | None, stored: Any
) -> None:
    if field == "partner_id":
        partner = read(app, "res.partner", [("name", "=", "Mekong Supplies")], ["name"])[0]["id"]
        choices = admin_web.get(
            f"/serveractionview/value_choices?rule_id={order_rule['id']}&field=partner_id"
        ).get_json()
        assert [str(partner), "Mekong Supplies"] in choices["choices"]
        text, stored = str(partner), partner
    response = post_action(
        admin_web,
        add_url(order_rule),
        {
            "name": f"Set {field}",
            "action_type": "update_record",
            "update_record-field": field,
            "update_record-value": text,
        },
    )
    assert location(response) == f"/webhookview/show/{order_rule['id']}"
    (action,) = actions(app, order_rule["id"])
    assert action["settings"] == {"field": field, "value": stored}


def test_value_choices_follow_the_field_type(admin_web: WebClient, order_rule) -> None:
    def spec(field: str) -> dict[str, Any]:
        url = f"/serveractionview/value_choices?rule_id={order_rule['id']}&field={field}"
        return admin_web.get(url).get_json()

    assert spec("state") == {
        "kind": "select",
        "choices": [
            ["", ""],
            ["draft", "Quotation"],
            ["sent", "Quotation Sent"],
            ["sale", "Sales Order"],
            ["cancel", "Cancelled"],
        ],
        "note": "",
    }
    assert spec("date_order")["kind"] == "date"
    assert spec("amount_total")["kind"] == "number"
    assert spec("note")["kind"] == "textarea"
    assert spec("nonexistent")["kind"] == "text"
    assert (
        admin_web.get("/serveractionview/value_choices?rule_id=999999&field=x").status_code == 404
    )
    fields = admin_web.get("/serveractionview/model_fields?model=res.partner").get_json()["fields"]
    assert ["email", "Email"] in fields and ["id", "Id"] not in fields


def test_a_computed_value_instead_of_a_fixed_one(app: Flask, admin_web: WebClient, order_rule):
    expression = "env['res.currency'].search([('name', '=', 'USD')]).id"
    response = post_action(
        admin_web,
        add_url(order_rule),
        {
            "name": "Set USD",
            "action_type": "update_record",
            "update_record-field": "currency_id",
            "update_record-value-source": "expression",
            "update_record-expression": expression,
            "update_record-value": "ignored",
        },
    )
    assert location(response) == f"/webhookview/show/{order_rule['id']}"
    (action,) = actions(app, order_rule["id"])
    assert action["settings"] == {"field": "currency_id", "expression": expression}
    # The edit form shows the expression chosen.
    page = admin_web.get(f"/serveractionview/edit/{action['id']}").get_data(as_text=True)
    values = form_values(page)
    assert values["update_record-value-source"] == "expression"
    assert values["update_record-expression"] == expression


@pytest.mark.parametrize(
    ("values", "setting", "message"),
    [
        (
            {"update_record-field": "", "update_record-value": "1"},
            "field",
            "Missing data for required field.",
        ),
        (
            {"update_record-field": "nope", "update_record-value": "1"},
            "field",
            "sale.order has no writable field 'nope'.",
        ),
        (
            {"update_record-field": "state", "update_record-value": "shipped"},
            "field",
            "'shipped' is not one of",
        ),
        (
            {"update_record-field": "amount_total", "update_record-value": "lots"},
            "value",
            "'lots' is not a number.",
        ),
        (
            {"update_record-field": "currency_id", "update_record-value": "999999"},
            "field",
            "res.currency record 999999 does not exist",
        ),
        (
            {
                "update_record-field": "currency_id",
                "update_record-value-source": "expression",
                "update_record-expression": "1 +",
            },
            "field",
            "Currency:",
        ),
    ],
)
def test_update_record_settings_are_validated_on_the_form(
    app: Flask, admin_web: WebClient, order_rule, values: dict, setting: str, message: str
) -> None:
    response = post_action(
        admin_web, add_url(order_rule), {"name": "Bad", "action_type": "update_record", **values}
    )
    assert response.status_code == 200, "the form comes back"
    assert message in error_of(page_text(response), setting)
    assert actions(app, order_rule["id"]) == []


def test_execute_code_is_checked_before_it_is_saved(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    rule = make_rule("res.partner", target_record="model.browse([2])")
    for code, message in [
        ("if True print('x')", "invalid syntax"),
        ("import os", "import"),
        ("", "Missing data for required field."),
    ]:
        response = post_action(
            admin_web,
            add_url(rule),
            {"name": "Code", "action_type": "execute_code", "execute_code-code": code},
        )
        assert response.status_code == 200
        page = page_text(response)
        assert message.lower() in error_of(page, "code").lower(), (code, error_of(page, "code"))
        # What was typed is kept (and escaped) for correction.
        assert form_values(response.get_data(as_text=True))["execute_code-code"] == code
    assert actions(app, rule["id"]) == []


def test_create_record_through_the_form(app: Flask, admin_web: WebClient, order_rule) -> None:
    response = post_action(
        admin_web,
        add_url(order_rule),
        {
            "name": "Note the call",
            "action_type": "create_record",
            "create_record-model": "res.partner",
            "create_record-values-0-field": "name",
            "create_record-values-0-value": "From a webhook",
            "create_record-values-1-field": "customer_rank",
            "create_record-values-1-value": "2",
            "create_record-values-2-field": "email",
            "create_record-values-2-source": "expression",
            "create_record-values-2-value": "payload.get('email')",
        },
    )
    assert location(response) == f"/webhookview/show/{order_rule['id']}", page_text(response)[
        -3000:
    ]
    (action,) = actions(app, order_rule["id"])
    assert action["settings"] == {
        "model": "res.partner",
        "values": [
            {"field": "name", "value": "From a webhook"},
            {"field": "customer_rank", "value": 2},
            {"field": "email", "expression": "payload.get('email')"},
        ],
    }
    rule_page = page_text(admin_web.get(f"/webhookview/show/{order_rule['id']}"))
    assert "Name = From a webhook; Customer Rank = 2; Email = payload.get('email')" in rule_page
    # The edit form shows the lines with the model's fields to choose from.
    page = admin_web.get(f"/serveractionview/edit/{action['id']}").get_data(as_text=True)
    assert ("email", "Email") in options(page, "create_record-values-0-field")
    values = form_values(page)
    assert values["create_record-values-1-value"] == "2"


def test_edit_and_delete_an_action_from_the_rule_page(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    rule = make_rule(
        "sale.order",
        actions=[
            {
                "name": "Note",
                "action_type": "update_record",
                "settings": {"field": "note", "value": "old"},
            }
        ],
    )
    (action,) = actions(app, rule["id"])
    page = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    edit_url = f"/serveractionview/edit/{action['id']}"
    assert edit_url in page
    form = admin_web.get(edit_url).get_data(as_text=True)
    assert form_values(form)["update_record-field"] == "note"
    assert form_values(form)["update_record-value"] == "old"
    response = post_action(admin_web, edit_url, {"update_record-value": "new", "sequence": "5"})
    assert location(response) == f"/webhookview/show/{rule['id']}"
    (after,) = actions(app, rule["id"])
    assert (after["sequence"], after["settings"]) == (5, {"field": "note", "value": "new"})

    delete_url = f"/serveractionview/delete/{action['id']}"
    assert admin_web.client.post(delete_url).status_code == 400, "no CSRF token, no delete"
    response = admin_web.client.post(delete_url, data={"csrf_token": csrf_token_from(page)})
    assert location(response) == f"/webhookview/show/{rule['id']}"
    assert actions(app, rule["id"]) == []


def test_actions_run_in_sequence_order(app: Flask, admin_web: WebClient, make_rule) -> None:
    rule = make_rule("sale.order")
    for name, sequence, note in (("Second", "20", "second"), ("First", "10", "first")):
        post_action(
            admin_web,
            add_url(rule),
            {
                "name": name,
                "sequence": sequence,
                "action_type": "update_record",
                "update_record-field": "note",
                "update_record-value": note,
            },
        )
    page = page_text(admin_web.get(f"/webhookview/show/{rule['id']}"))
    assert page.index(">First<") < page.index(">Second<")
    assert (
        admin_web.client.post(rule["path"], json={"_model": "sale.order", "_id": "7"}).status_code
        == 200
    )
    assert read(app, "sale.order", [("id", "=", 7)], ["note"])[0]["note"] == "second"
    assert link(page, "webhook-add-action") == add_url(rule)


# ------------------------------------------------------- a third-party action type


class NotifySchema(Schema):
    channel = fields.String(
        required=True, validate=validate.OneOf(["email", "sms"], labels=["E-mail", "SMS"])
    )
    retries = fields.Integer(load_default=3)
    urgent = fields.Boolean(load_default=False)
    tags = fields.List(fields.String(), load_default=list)
    message = fields.String(metadata={"widget": "textarea", "label": "Message text"})


class Notify(ActionType):
    """An addon's own type, registered like the built-in ones; the screens know nothing of it."""

    key = "test_notify"
    label = "Notify Someone"
    description = "Tell someone that the webhook ran."
    schema = NotifySchema

    def check(self, settings, model, env, sandbox) -> None:
        if settings["urgent"] and settings["retries"] < 1:
            raise SettingsError({"retries": ["An urgent notice needs at least one retry."]})

    def run(self, context, record, settings) -> None:
        context.helpers["log"](f"notify {settings['channel']}: {settings.get('message', '')}")


@pytest.fixture
def notify_type(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from addons.webhooks.rules.state import get_webhooks

    monkeypatch.setitem(get_webhooks(app).action_types._types, Notify.key, Notify())


def test_a_third_party_type_gets_its_form_from_its_schema(
    app: Flask, admin_web: WebClient, order_rule, notify_type
) -> None:
    page = admin_web.get(add_url(order_rule)).get_data(as_text=True)
    assert ("test_notify", "Notify Someone") in options(page, "action_type")
    assert options(page, "test_notify-channel") == [("email", "E-mail"), ("sms", "SMS")]
    assert re.search(r'<input type="checkbox" name="test_notify-urgent"', page)
    assert re.search(
        r'<input class="form-control" type="number" step="1" name="test_notify-retries"', page
    )
    assert re.search(r'<textarea class="form-control webhook-code" name="test_notify-tags"', page)
    assert "Message text" in page

    base = {"name": "Tell", "action_type": "test_notify", "test_notify-channel": "sms"}
    refused = post_action(
        admin_web,
        add_url(order_rule),
        {
            **base,
            "test_notify-urgent": "y",
            "test_notify-retries": "0",
        },
    )
    assert refused.status_code == 200
    assert error_of(page_text(refused), "retries") == "An urgent notice needs at least one retry."
    refused = post_action(admin_web, add_url(order_rule), {**base, "test_notify-tags": "[oops"})
    assert "Not valid JSON" in error_of(page_text(refused), "tags")
    assert actions(app, order_rule["id"]) == []

    saved = post_action(
        admin_web,
        add_url(order_rule),
        {
            **base,
            "test_notify-urgent": "y",
            "test_notify-retries": "2",
            "test_notify-tags": '["vip"]',
            "test_notify-message": "Order updated",
        },
    )
    assert location(saved) == f"/webhookview/show/{order_rule['id']}"
    (action,) = actions(app, order_rule["id"])
    assert action["settings"] == {
        "channel": "sms",
        "retries": 2,
        "urgent": True,
        "tags": ["vip"],
        "message": "Order updated",
    }
    rule_page = admin_web.get(f"/webhookview/show/{order_rule['id']}")
    assert "Notify Someone" in page_text(rule_page)
    dry = admin_web.client.post(
        f"/webhookview/dry_run/{order_rule['id']}",
        data={
            "payload": '{"_model": "sale.order", "_id": 7}',
            "csrf_token": csrf_token_from(rule_page.get_data(as_text=True)),
        },
    )
    assert "notify sms: Order updated" in page_text(dry)
