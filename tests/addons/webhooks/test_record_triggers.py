"""Record triggers: rules that run when records are created, updated or deleted.

Every change here goes through a real writer: the CRUD screens (form posts), the REST API
(JWT), the record API, or another rule's action run by a real webhook call. Results are read
back from the database in a fresh session.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.support.spec import USE_CASE_1_PAYLOAD
from tests.support.web import (
    ADMIN,
    WebClient,
    api_client,
    create_record,
    edit_through_form,
    page_text,
    read_records,
)

ORDERS = "/saleorderview"
PARTNERS = "/respartnerview"
ORDER_API = "/api/v1/sale_order/"
PARTNER_API = "/api/v1/res_partner/"

#: What the contact form posts besides the name.
NEW_CONTACT = {"company_type": "person", "customer_rank": "0", "supplier_rank": "0", "active": "y"}

MakeRule = Callable[..., dict[str, Any]]


def set_field(name: str, field: str, value: Any) -> dict[str, Any]:
    return {
        "name": name,
        "action_type": "update_record",
        "settings": {"field": field, "value": value},
    }


def run_code(name: str, code: str) -> dict[str, Any]:
    return {"name": name, "action_type": "execute_code", "settings": {"code": code}}


def order(app: Flask, order_id: int) -> dict[str, Any]:
    return read_records(app, "sale.order", [("id", "=", order_id)])[0]


def currency(app: Flask, code: str) -> int:
    return read_records(app, "res.currency", [("name", "=", code)], ["id"])[0]["id"]


def write_order(app: Flask, order_id: int, values: dict[str, Any]) -> None:
    with app.app_context():
        get_env()["sale.order"].browse(order_id).write(values)
        db.session.commit()


# ------------------------------------------------------------------------------- on create
def test_on_create_runs_for_a_record_created_through_the_record_api(
    app: Flask, make_rule: MakeRule
) -> None:
    make_rule(
        model="res.partner",
        trigger="on_create",
        actions=[set_field("Tag new contacts", "phone", "new")],
    )
    partner = create_record(app, "res.partner", {"name": "Dao"})
    assert read_records(app, "res.partner", [("id", "=", partner)], ["phone"])[0]["phone"] == "new"


def test_on_create_runs_for_the_rest_api_and_respects_the_domain(
    app: Flask, client: FlaskClient, make_rule: MakeRule
) -> None:
    make_rule(
        model="res.partner",
        trigger="on_create",
        filter_domain="[('email', 'ilike', '@example.com')]",
        actions=[set_field("Tag", "phone", "example")],
    )
    api = api_client(client, ADMIN)
    matching = api.post(PARTNER_API, json={"name": "Ann", "email": "ann@example.com"})
    other = api.post(PARTNER_API, json={"name": "Bo", "email": "bo@elsewhere.org"})
    assert matching.status_code == 201 and other.status_code == 201
    phones = {
        row["name"]: row["phone"]
        for row in read_records(
            app, "res.partner", [("name", "in", ["Ann", "Bo"])], ["name", "phone"]
        )
    }
    assert phones == {"Ann": "example", "Bo": None}


def test_on_create_runs_for_the_screens(
    app: Flask, admin_web: WebClient, make_rule: MakeRule
) -> None:
    make_rule(
        model="res.partner", trigger="on_create", actions=[set_field("Tag", "phone", "screen")]
    )
    response = admin_web.submit(
        f"{PARTNERS}/add", {**NEW_CONTACT, "name": "Chai"}, follow_redirects=True
    )
    assert response.status_code == 200
    rows = read_records(app, "res.partner", [("name", "=", "Chai")], ["phone"])
    assert rows == [{"id": rows[0]["id"], "phone": "screen"}]


# ------------------------------------------------------------------------------- on update
def test_on_update_with_trigger_fields_runs_only_when_one_of_them_changes(
    app: Flask, make_rule: MakeRule
) -> None:
    make_rule(
        trigger="on_write",
        trigger_fields="currency_id",
        actions=[set_field("Note currency change", "note", "currency changed")],
    )
    write_order(app, 3, {"state": "sent"})
    assert order(app, 3)["note"] is None
    write_order(app, 3, {"currency_id": currency(app, "USD")})
    assert order(app, 3)["note"] == "currency changed"


def test_on_update_through_the_edit_screen_counts_a_many_to_one_set_by_its_relationship(
    app: Flask, admin_web: WebClient, make_rule: MakeRule
) -> None:
    make_rule(
        trigger="on_write",
        trigger_fields="currency_id",
        actions=[set_field("Note", "note", "seen by the rule")],
    )
    response = edit_through_form(
        admin_web, f"{ORDERS}/edit/4", {"currency": str(currency(app, "GBP"))}
    )
    assert response.status_code == 302, page_text(response)
    after = order(app, 4)
    assert after["currency_id"][1] == "GBP"
    assert after["note"] == "seen by the rule"


def test_before_update_domain_selects_transitions(
    app: Flask, client: FlaskClient, make_rule: MakeRule
) -> None:
    """Only orders going from quotation to confirmed: not confirmed ones edited again."""
    make_rule(
        trigger="on_write",
        filter_pre_domain="[('state', '=', 'draft')]",
        filter_domain="[('state', '=', 'sale')]",
        actions=[run_code("Count", "record.write({'note': (record.note or '') + 'confirmed;'})")],
    )
    api = api_client(client, ADMIN)
    drafts = [r["id"] for r in read_records(app, "sale.order", [("state", "=", "draft")], ["id"])]
    target = drafts[0]
    assert api.put(f"{ORDER_API}{target}", json={"state": "sale"}).status_code == 200
    assert order(app, target)["note"] == "confirmed;"
    # Already confirmed before this change: not a transition.
    assert api.put(f"{ORDER_API}{target}", json={"amount_total": 10}).status_code == 200
    assert order(app, target)["note"] == "confirmed;"
    # Quotation to cancelled: the domain after the change does not match.
    other = drafts[1]
    assert api.put(f"{ORDER_API}{other}", json={"state": "cancel"}).status_code == 200
    assert order(app, other)["note"] is None


# ------------------------------------------------------------------------------- on delete
def test_on_delete_runs_with_the_domain_read_before_the_delete(
    app: Flask, admin_web: WebClient, make_rule: MakeRule
) -> None:
    make_rule(
        model="res.partner",
        trigger="on_unlink",
        filter_domain="[('email', 'ilike', '@example.com')]",
        actions=[
            run_code(
                "Keep a trace",
                "env['res.partner'].create({'name': 'Deleted #%d' % record.id})",
            )
        ],
    )
    watched = create_record(app, "res.partner", {"name": "Gone", "email": "g@example.com"})
    ignored = create_record(app, "res.partner", {"name": "Also gone", "email": "a@else.org"})
    for partner in (watched, ignored):
        response = admin_web.submit(
            f"{PARTNERS}/list/", {}, post_url=f"{PARTNERS}/delete/{partner}"
        )
        assert response.status_code == 302
    traces = read_records(app, "res.partner", [("name", "like", "Deleted #")], ["name"])
    assert [t["name"] for t in traces] == [f"Deleted #{watched}"]
    assert read_records(app, "res.partner", [("id", "in", [watched, ignored])]) == []


# ------------------------------------------------------------------ failures roll back the change
FAILING = "raise UserError('Orders in USD need a manager approval')"


def test_a_failing_rule_rolls_back_a_rest_api_change_and_says_why(
    app: Flask, client: FlaskClient, make_rule: MakeRule
) -> None:
    make_rule(trigger="on_write", name="Approval", actions=[run_code("Refuse", FAILING)])
    before = order(app, 5)
    response = api_client(client, ADMIN).put(f"{ORDER_API}5", json={"note": "changed"})
    assert response.status_code == 422
    message = response.get_json()["message"]
    assert "Approval" in message and "Orders in USD need a manager approval" in message
    assert order(app, 5) == before


def test_a_failing_rule_rolls_back_a_screen_edit_and_the_user_sees_its_error(
    app: Flask, admin_web: WebClient, make_rule: MakeRule
) -> None:
    make_rule(trigger="on_write", name="Approval", actions=[run_code("Refuse", FAILING)])
    before = order(app, 6)
    response = edit_through_form(admin_web, f"{ORDERS}/edit/6", {"note": "changed"})
    page = page_text(admin_web.get(response.headers.get("Location", f"{ORDERS}/list/")))
    assert "Orders in USD need a manager approval" in page
    assert order(app, 6) == before


def test_a_failing_rule_rolls_back_a_screen_create(
    app: Flask, admin_web: WebClient, make_rule: MakeRule
) -> None:
    make_rule(
        model="res.partner",
        trigger="on_create",
        name="No new contacts",
        actions=[run_code("Refuse", "raise UserError('Contacts are frozen')")],
    )
    response = admin_web.submit(
        f"{PARTNERS}/add", {**NEW_CONTACT, "name": "Dee"}, follow_redirects=True
    )
    assert "Contacts are frozen" in page_text(response)
    assert read_records(app, "res.partner", [("name", "=", "Dee")]) == []


def test_a_failing_record_rule_fails_the_webhook_call_that_triggered_it(
    app: Flask, client: FlaskClient, make_rule: MakeRule
) -> None:
    """Another rule's action is a writer too: its change triggers, and the failure is the
    webhook call's, with nothing of either rule kept."""
    usd = currency(app, "USD")
    hook = make_rule(actions=[set_field("Set USD", "currency_id", usd)])
    make_rule(
        name="Approval",
        trigger="on_write",
        trigger_fields="currency_id",
        actions=[run_code("Refuse", FAILING)],
    )
    before = order(app, 7)
    response = client.post(hook["path"], json=USE_CASE_1_PAYLOAD)
    assert response.status_code == 500
    assert "Orders in USD need a manager approval" in response.get_json()["message"]
    assert order(app, 7) == before


def test_a_webhook_rules_change_triggers_a_record_rule(
    app: Flask, client: FlaskClient, make_rule: MakeRule
) -> None:
    usd = currency(app, "USD")
    hook = make_rule(actions=[set_field("Set USD", "currency_id", usd)])
    make_rule(
        trigger="on_write",
        trigger_fields="currency_id",
        actions=[set_field("Note", "note", "now in USD")],
    )
    assert client.post(hook["path"], json=USE_CASE_1_PAYLOAD).status_code == 200
    after = order(app, 7)
    assert after["currency_id"] == (usd, "USD")
    assert after["note"] == "now in USD"


# ------------------------------------------------------------------------------ loop guard
def test_a_rule_writing_what_it_watches_runs_once(
    app: Flask, make_rule: MakeRule, caplog: pytest.LogCaptureFixture
) -> None:
    rule = make_rule(
        name="Append",
        trigger="on_write",
        actions=[run_code("Append", "record.write({'note': (record.note or '') + 'x'})")],
    )
    with caplog.at_level(logging.INFO, logger="addons.webhooks.rules.triggers"):
        write_order(app, 7, {"state": "sent"})
    assert order(app, 7)["note"] == "x"
    assert any(
        f"automation rule {rule['id']} (Append): not run again by its own change" in line
        and "loop guard" in line
        for line in caplog.messages
    )


def test_rules_triggering_each_other_stop_once_each_has_run(
    app: Flask, make_rule: MakeRule
) -> None:
    make_rule(
        name="A",
        trigger="on_write",
        trigger_fields="note",
        actions=[run_code("A", "record.write({'amount_total': (record.amount_total or 0) + 1})")],
    )
    make_rule(
        name="B",
        trigger="on_write",
        trigger_fields="amount_total",
        actions=[run_code("B", "record.write({'note': (record.note or '') + 'b'})")],
    )
    start = order(app, 8)["amount_total"]
    write_order(app, 8, {"note": "go"})
    after = order(app, 8)
    # A ran on the outside change, B on A's, and A did not run again on B's.
    assert after["note"] == "gob"
    assert after["amount_total"] == start + 1


def test_an_inactive_rule_does_not_run(app: Flask, make_rule: MakeRule) -> None:
    make_rule(trigger="on_write", active=False, actions=[set_field("Note", "note", "ran")])
    write_order(app, 9, {"state": "sent"})
    assert order(app, 9)["note"] is None


# ----------------------------------------------------------------------------- the rule form
RULES = "/automationruleview"


def rule_form_data(**values: str) -> dict[str, str]:
    return {
        "name": "Watch orders",
        "model": "sale.order",
        "trigger": "on_write",
        "active": "y",
        "target_record": "model.browse(1)",
        "auth_scheme": "none",
        "auth_header": "X-Webhook-Token",
        **values,
    }


def test_the_automation_rules_form_saves_a_record_rule_that_then_runs(
    app: Flask, admin_web: WebClient, clean_rules: None
) -> None:
    page = page_text(admin_web.get(f"{RULES}/add"))
    for trigger, label in (
        ("on_create", "On create"),
        ("on_write", "On update"),
        ("on_create_or_write", "On create or update"),
        ("on_unlink", "On delete"),
    ):
        assert f'value="{trigger}"' in page and label in page
    response = admin_web.submit(
        f"{RULES}/add",
        rule_form_data(
            trigger_fields="state",
            filter_domain="[('state', '=', 'cancel')]",
        ),
    )
    assert response.status_code == 302, page_text(response)
    rule = read_records(
        app,
        "base.automation",
        [("name", "=", "Watch orders")],
        ["trigger", "trigger_fields", "filter_domain", "filter_pre_domain"],
    )[0]
    assert rule["trigger"] == "on_write"
    assert rule["trigger_fields"] == "state"
    assert rule["filter_domain"] == "[('state', '=', 'cancel')]"
    assert rule["filter_pre_domain"] is None
    with app.app_context():
        get_env(trusted=True)["ir.actions.server"].create(
            {
                "rule_id": rule["id"],
                "name": "Note",
                "action_type": "update_record",
                "settings": {"field": "note", "value": "cancelled"},
            }
        )
        db.session.commit()
    write_order(app, 2, {"state": "cancel"})
    assert order(app, 2)["note"] == "cancelled"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"filter_domain": "[('nope', '=', 1)]"}, "filter_domain", "nope"),
        ({"filter_domain": "__import__('os')"}, "filter_domain", "A domain is a list"),
        ({"filter_pre_domain": "[('state', '=')]"}, "filter_pre_domain", "domain term must be"),
        ({"trigger_fields": "state, colour"}, "trigger_fields", "colour"),
    ],
)
def test_the_rule_form_refuses_bad_record_filters(
    app: Flask,
    admin_web: WebClient,
    clean_rules: None,
    values: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = admin_web.submit(f"{RULES}/add", rule_form_data(**values))
    assert response.status_code == 200, "the form comes back with its error"
    page = page_text(response)
    row = re.search(rf'<label for="{field}".*?</tr>', page, re.S)
    assert row and message in row.group(0)
    assert read_records(app, "base.automation", [("name", "=", "Watch orders")]) == []


def test_the_form_drops_the_fields_the_chosen_trigger_does_not_use(
    app: Flask, admin_web: WebClient, clean_rules: None
) -> None:
    """Trigger Fields and Before Update Domain are On update's: the form hides them for On
    create, and a value left in them from another choice is dropped, not refused."""
    values = rule_form_data(
        trigger="on_create", trigger_fields="state", filter_pre_domain="[('state', '=', 'x')]"
    )
    response = admin_web.submit(f"{RULES}/add", values)
    assert response.status_code == 302, page_text(response)[:2000]
    [saved] = read_records(
        app,
        "base.automation",
        [("name", "=", "Watch orders")],
        ["trigger", "trigger_fields", "filter_pre_domain"],
    )
    assert (saved["trigger"], saved["trigger_fields"], saved["filter_pre_domain"]) == (
        "on_create",
        None,
        None,
    )


def test_the_webhooks_screen_offers_only_the_webhook_trigger(
    admin_web: WebClient, clean_rules: None
) -> None:
    page = page_text(admin_web.get("/webhookview/add"))
    assert 'value="on_webhook"' in page
    assert 'value="on_write"' not in page
    assert 'name="filter_domain"' not in page


# ------------------------------------------------------------------------------ over the API
RULE_API = "/api/v1/base_automation/"


def test_the_api_creates_a_record_rule_and_refuses_bad_filters(
    app: Flask, client: FlaskClient, clean_rules: None
) -> None:
    api = api_client(client, ADMIN)
    bad = api.post(
        RULE_API,
        json={
            "name": "Bad",
            "model": "sale.order",
            "trigger": "on_write",
            "filter_domain": "[('colour', '=', 'red')]",
            "trigger_fields": "colour",
        },
    )
    assert bad.status_code == 422
    messages = bad.get_json()["message"]
    assert "colour" in " ".join(messages["filter_domain"])
    assert "colour" in " ".join(messages["trigger_fields"])
    good = api.post(
        RULE_API,
        json={
            "name": "Good",
            "model": "sale.order",
            "trigger": "on_write",
            "filter_domain": "[('state', '=', 'sale')]",
            "trigger_fields": "state",
        },
    )
    assert good.status_code == 201, good.get_json()
    # A partial update is checked against what the rule already has.
    rule = good.get_json()["id"]
    response = api.put(f"{RULE_API}{rule}", json={"trigger": "on_create"})
    assert response.status_code == 422
    assert response.get_json()["message"]["trigger_fields"] == [
        "Only rules triggered on update use this."
    ]
    assert api.put(f"{RULE_API}{rule}", json={"trigger": "on_sunrise"}).status_code in (400, 422)


def test_the_api_lists_the_action_types_with_their_settings(client: FlaskClient) -> None:
    response = api_client(client, ADMIN).get("/api/v1/ir_actions_server/action_types")
    assert response.status_code == 200
    types = {t["key"]: t for t in response.get_json()["result"]}
    assert {"update_record", "create_record", "execute_code", "send_webhook"} <= set(types)
    send = types["send_webhook"]
    assert send["label"] == "Send Webhook Notification"
    settings = {s["name"]: s for s in send["settings"]}
    assert settings["url"]["required"] is True
    assert {"fields", "headers", "timeout"} <= set(settings)
    assert client.get("/api/v1/ir_actions_server/action_types").status_code == 401
