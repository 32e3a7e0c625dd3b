"""Send Webhook Notification over HTTP: the type in the lists, its settings checked on the form
and over the API, the message written to the outbox with the change (and rolled back with it),
the form's sample, the action's signing secret and its rotation."""

from __future__ import annotations

import datetime as dt
import decimal
import html
import json
import re
from typing import Any

import pytest
from flask import Flask

from addons.webhooks.action_types import ActionContext
from addons.webhooks.action_types.send_webhook import SendWebhook
from addons.webhooks.models import ServerAction
from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import location, options
from tests.addons.webhooks.test_action_form import error_of, post_action
from tests.support.web import (
    ApiClient,
    WebClient,
    csrf_token_from,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

ACTIONS = "/api/v1/ir_actions_server/"
URL = "https://erp.example.com/hooks/orders"
FIELDS = ["partner_id", "date_order", "amount_total", "state"]


def send(fields: list[str] | None = None, **settings: Any) -> dict[str, Any]:
    return {
        "name": "Notify ERP",
        "action_type": "send_webhook",
        "settings": {"url": URL, "fields": fields if fields is not None else FIELDS, **settings},
    }


def deliveries(app: Flask) -> list[dict[str, Any]]:
    return read(
        app,
        "webhook.delivery",
        [],
        [
            "rule_id",
            "action_id",
            "model",
            "record_id",
            "url",
            "body",
            "headers",
            "timeout_seconds",
            "state",
        ],
    )


def order(app: Flask, order_id: int) -> dict[str, Any]:
    return read(app, "sale.order", [("id", "=", order_id)], FIELDS)[0]


def action_id(app: Flask, rule_id: int, name: str = "Notify ERP") -> int:
    found = read(app, "ir.actions.server", [("rule_id", "=", rule_id), ("name", "=", name)], [])
    return found[0]["id"]


# ------------------------------------------------------------------ the type


def test_the_type_is_listed_on_the_form_and_in_the_api(
    admin_web: WebClient, api: ApiClient, make_rule
) -> None:
    rule = make_rule("sale.order")
    page = admin_web.get(f"/serveractionview/add?rule_id={rule['id']}").get_data(as_text=True)
    assert ("send_webhook", "Send Webhook Notification") in options(page, "action_type")
    # The multi-select offers the model's fields (read-only ones too), never a secret.
    fields = dict(options(page, "send_webhook-fields"))
    assert {"partner_id", "date_order", "amount_total", "name", "id"} <= set(fields)
    assert fields["name"] == "Order Reference"  # computed, sent too
    assert fields["partner_id"] == "Customer"
    response = api.post(ACTIONS, {"rule_id": rule["id"], "name": "x", "action_type": "fax"})
    assert "send_webhook" in response.get_json()["message"]["action_type"][0]
    secret_rule = make_rule("base.automation")
    page = admin_web.get(f"/serveractionview/add?rule_id={secret_rule['id']}")
    names = {v for v, _ in options(page.get_data(as_text=True), "send_webhook-fields")}
    assert "name" in names and not {n for n in names if "secret" in n}


BAD_SETTINGS = [
    ({"url": "ftp://erp.example.com/x"}, "url", "Give an http:// or https:// URL."),
    ({"url": "javascript:alert(1)"}, "url", "Give an http:// or https:// URL."),
    (
        {"url": "https://user:pw@erp.example.com/x"},
        "url",
        "The url may not contain a user name or password (use a header).",
    ),
    ({"url": "https://"}, "url", "The URL has no host."),
    ({"url": "https://e.com/" + "a" * 2048}, "url", "Length must be between 1 and 2048."),
    ({"fields": ["partner_id", "nope"]}, "fields", "sale.order has no field 'nope'."),
    (
        {"headers": {"Host": "evil.example"}},
        "headers",
        "The header 'Host' is set by the sender and cannot be changed.",
    ),
    (
        {"headers": {"webhook-signature": "v1,forged"}},
        "headers",
        "The header 'webhook-signature' is set by the sender and cannot be changed.",
    ),
    (
        {"headers": {"Content-Type": "text/plain"}},
        "headers",
        "The header 'Content-Type' is set by the sender and cannot be changed.",
    ),
    ({"headers": {"Bad Name": "x"}}, "headers", "'Bad Name' is not a valid header name"),
    ({"headers": {"X-A": "a\r\nX-B: b"}}, "headers", "must not contain line breaks"),
    (
        {"headers": {f"X-H{n}": "v" for n in range(21)}},
        "headers",
        "At most 20 extra headers.",
    ),
    ({"timeout": 0}, "timeout", "Must be greater than or equal to 1 and less than or equal"),
    ({"timeout": 31}, "timeout", "Must be greater than or equal to 1 and less than or equal"),
]


@pytest.mark.parametrize(("change", "key", "message"), BAD_SETTINGS)
def test_bad_settings_are_refused_over_the_api(
    app: Flask, api: ApiClient, make_rule, change: dict[str, Any], key: str, message: str
) -> None:
    rule = make_rule("sale.order")
    body = send()
    body["settings"].update(change)
    response = api.post(ACTIONS, {"rule_id": rule["id"], **body})
    assert response.status_code == 422, response.get_json()
    problems = response.get_json()["message"]["settings"][key]
    assert any(message in p for p in problems), problems
    assert read(app, "ir.actions.server", [], []) == []


FORM_BAD = [
    ({"send_webhook-url": "ftp://erp.example.com/x"}, "url", "Give an http:// or https:// URL."),
    ({"send_webhook-url": ""}, "url", "Missing data for required field."),
    ({"send_webhook-headers": "Host: evil.example"}, "headers", "set by the sender"),
    ({"send_webhook-headers": "no colon here"}, "headers", "write the header as Name: value"),
    ({"send_webhook-timeout": "45"}, "timeout", "less than or equal to 30"),
    ({"send_webhook-fields": ["partner_id", "nope"]}, "fields", "sale.order has no field 'nope'."),
]


@pytest.mark.parametrize(("change", "key", "message"), FORM_BAD)
def test_bad_settings_are_shown_on_the_form(
    app: Flask, admin_web: WebClient, make_rule, change: dict[str, Any], key: str, message: str
) -> None:
    rule = make_rule("sale.order")
    values = {
        "name": "Notify ERP",
        "action_type": "send_webhook",
        "send_webhook-url": URL,
        "send_webhook-fields": ["partner_id"],
        **change,
    }
    response = post_action(admin_web, f"/serveractionview/add?rule_id={rule['id']}", values)
    assert response.status_code == 200
    assert message in error_of(page_text(response), key)
    assert read(app, "ir.actions.server", [], []) == []


def test_the_form_saves_typed_settings_and_shows_them_again(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    rule = make_rule("sale.order")
    url = f"/serveractionview/add?rule_id={rule['id']}"
    response = post_action(
        admin_web,
        url,
        {
            "name": "Notify ERP",
            "action_type": "send_webhook",
            "send_webhook-url": URL,
            "send_webhook-fields": ["partner_id", "date_order"],
            "send_webhook-headers": "Authorization: Bearer abc\nX-Tenant: 42\n",
            "send_webhook-timeout": "",
        },
    )
    assert location(response) == f"/webhookview/show/{rule['id']}"
    (action,) = read(app, "ir.actions.server", [("rule_id", "=", rule["id"])], ["settings"])
    assert action["settings"] == {
        "url": URL,
        "fields": ["partner_id", "date_order"],
        "headers": {"Authorization": "Bearer abc", "X-Tenant": "42"},
        "timeout": 10,
    }
    page = admin_web.get(f"/serveractionview/edit/{action['id']}").get_data(as_text=True)
    assert re.search(r'<option value="partner_id" selected>', page)
    assert re.search(r'<option value="date_order" selected>', page)
    assert "Authorization: Bearer abc\nX-Tenant: 42</textarea>" in page
    # The rule's page names the headers, never their values (often credentials).
    rule_page = page_text(admin_web.get(f"/webhookview/show/{rule['id']}"))
    assert "Authorization, X-Tenant" in rule_page and "Bearer abc" not in rule_page


# ------------------------------------------------------------ the message


def test_a_call_writes_one_message_per_target_record_with_the_exact_body(
    app: Flask, make_rule
) -> None:
    rule = make_rule(
        "sale.order",
        actions=[send(headers={"Authorization": "Bearer t"}, timeout=5)],
        target_record="model.browse([6, 7])",
    )
    response = app.test_client().post(rule["path"], json={})
    assert response.status_code == 200, response.get_json()
    aid = action_id(app, rule["id"])
    rows = deliveries(app)
    assert [r["record_id"] for r in rows] == [6, 7]
    for row in rows:
        values = order(app, row["record_id"])
        assert row["body"] == json.dumps(
            {
                "_model": "sale.order",
                "_id": row["record_id"],
                "_action": f"Notify ERP(#{aid})",
                "partner_id": values["partner_id"][0],  # the id, not (id, name)
                "date_order": values["date_order"].isoformat(),  # "2024-…"
                "amount_total": float(values["amount_total"]),  # a number: 120.0
                "state": values["state"],
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        assert re.search(r'"date_order":"\d{4}-\d\d-\d\d"', row["body"])
        assert row["rule_id"][0] == rule["id"] and row["action_id"][0] == aid
        assert (row["model"], row["url"], row["state"]) == ("sale.order", URL, "pending")
        assert row["headers"] == {"Authorization": "Bearer t"}
        assert row["timeout_seconds"] == 5.0


def test_a_computed_field_is_sent_too(app: Flask, make_rule) -> None:
    rule = make_rule("sale.order", actions=[send(fields=["name", "currency_id"])])
    response = app.test_client().post(rule["path"], json={"_model": "sale.order", "_id": 7})
    assert response.status_code == 200, response.get_json()
    (row,) = deliveries(app)
    body = json.loads(row["body"])
    usd_or_other = read(app, "sale.order", [("id", "=", 7)], ["currency_id"])[0]["currency_id"]
    assert body["name"] == "S00007" and body["currency_id"] == usd_or_other[0]


def test_a_failed_rule_leaves_no_message(app: Flask, make_rule) -> None:
    fail = {
        "name": "Refuse",
        "action_type": "execute_code",
        "settings": {"code": "raise UserError('Order refused')"},
    }
    note = {
        "name": "Note",
        "action_type": "update_record",
        "settings": {"field": "note", "value": "x"},
    }
    rule = make_rule("sale.order", actions=[note, send(), fail])
    before = order(app, 7)
    response = app.test_client().post(rule["path"], json={"_model": "sale.order", "_id": 7})
    assert response.status_code == 500
    assert response.get_json() == {"status": "error", "message": "Action 3 'Refuse': Order refused"}
    assert deliveries(app) == []  # the message was rolled back with the change
    assert order(app, 7) == before
    assert read(app, "sale.order", [("id", "=", 7)], ["note"])[0]["note"] != "x"


def test_a_deleted_record_is_sent_from_its_last_values(app: Flask, make_rule) -> None:
    """On delete the row is gone: the message is built from the values the engine kept."""
    rule = make_rule("sale.order", actions=[send()])
    aid = action_id(app, rule["id"])
    with app.app_context():
        from addons.webhooks.rules.state import get_webhooks

        env = get_env()
        gone = env["sale.order"].browse(999_999)  # no such row, as after a delete
        context = ActionContext(
            env=env,
            payload={},
            sandbox=get_webhooks().sandbox,
            records=gone,
            helpers={},
            rule_name="Test rule",
            rule_id=rule["id"],
            event="unlink",
            action_id=aid,
            action_name="Notify ERP",
            deleted_values={
                999_999: {
                    "partner_id": None,  # an empty many-to-one is null
                    "date_order": dt.date(2024, 5, 6),
                    "amount_total": decimal.Decimal("99.95"),
                    "state": "cancel",
                }
            },
        )
        SendWebhook().run(context, gone, {"url": URL, "fields": FIELDS, "timeout": 10})
        db.session.commit()
    (row,) = deliveries(app)
    assert row["record_id"] == 999_999
    assert row["body"] == (
        f'{{"_model":"sale.order","_id":999999,"_action":"Notify ERP(#{aid})",'
        '"partner_id":null,"date_order":"2024-05-06","amount_total":99.95,"state":"cancel"}'
    )


# -------------------------------------------------------------- the sample


def test_the_form_shows_the_exact_json_that_is_sent(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    with app.app_context():
        first = get_env()["sale.order"].search([], limit=1).id  # what the sample is built from
    rule = make_rule("sale.order", actions=[send()])
    aid = action_id(app, rule["id"])
    page = admin_web.get(f"/serveractionview/edit/{aid}").get_data(as_text=True)
    shown = re.search(
        r'<pre class="webhook-preview" id="send_webhook-preview"[^>]*>(.*?)</pre>', page
    )
    assert shown, "no sample on the form"
    sample = html.unescape(shown.group(1))
    # The sample follows the chosen fields (what the form's script asks for).
    preview = admin_web.get(
        f"/serveractionview/preview?rule_id={rule['id']}&action_id={aid}&name=Notify+ERP"
        "&action_type=send_webhook&send_webhook-fields=state&send_webhook-fields=partner_id"
    ).get_json()["preview"]
    assert json.loads(preview) == {
        "_model": "sale.order",
        "_id": first,
        "_action": f"Notify ERP(#{aid})",
        "state": order(app, first)["state"],
        "partner_id": order(app, first)["partner_id"][0],
    }
    # ...and is exactly what a call about that record sends.
    response = app.test_client().post(rule["path"], json={"_model": "sale.order", "_id": first})
    assert response.status_code == 200
    (row,) = deliveries(app)
    assert row["body"] == sample


def test_without_records_the_sample_uses_placeholder_values(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    rule = make_rule("webhook.delivery.attempt")  # no attempt exists
    preview = admin_web.get(
        f"/serveractionview/preview?rule_id={rule['id']}&name=N&action_type=send_webhook"
        "&send_webhook-fields=status_code&send_webhook-fields=attempted_at"
        "&send_webhook-fields=delivery_id&send_webhook-fields=nope"
    ).get_json()["preview"]
    assert json.loads(preview) == {
        "_model": "webhook.delivery.attempt",
        "_id": 1,
        "_action": "N(#new)",
        "status_code": 1,
        "attempted_at": "2024-01-31T09:30:00Z",
        "delivery_id": 1,
    }
    assert (
        admin_web.get(
            f"/serveractionview/preview?rule_id={rule['id']}&action_type=execute_code"
        ).status_code
        == 404
    )


# ------------------------------------------------------- the signing secret


def test_the_signing_secret_is_on_the_actions_page_and_rotates_with_grace(
    app: Flask, admin_web: WebClient, api: ApiClient, make_rule
) -> None:
    rule = make_rule("sale.order", actions=[send()])
    aid = action_id(app, rule["id"])
    secret = read(app, "ir.actions.server", [("id", "=", aid)], ["signing_secret"])[0][
        "signing_secret"
    ]
    page = admin_web.get(f"/serveractionview/show/{aid}").get_data(as_text=True)
    assert (
        f'id="action-signing-secret" class="form-control" type="text" readonly value="{secret}"'
        in page
    )
    assert api.get(f"{ACTIONS}{aid}").get_json()["result"]["signing_secret"] == secret

    token = csrf_token_from(page)
    url = f"/serveractionview/rotate_signing_secret/{aid}"
    assert admin_web.client.post(url, data={"grace": "24h"}).status_code == 400  # no token
    response = admin_web.client.post(url, data={"grace": "24h", "csrf_token": token})
    assert location(response) == f"/serveractionview/show/{aid}"
    with app.app_context():
        action = db.session.get(ServerAction, aid)
        assert action.previous_signing_secret == secret
        assert action.signing_secrets() == [action.signing_secret, secret]
        new = action.signing_secret
    page = page_text(admin_web.get(f"/serveractionview/show/{aid}"))
    assert "The previous secret also signs messages until" in page and new in page
    assert admin_web.client.post(url, data={"grace": "1y", "csrf_token": token}).status_code == 400

    # Over the API: no grace, the old secret stops at once.
    rotated = api.post(f"{ACTIONS}{aid}/rotate_signing_secret", {"grace": "none"})
    assert rotated.status_code == 200
    result = rotated.get_json()["result"]
    assert result["signing_secret"].startswith("whsec_") and result["signing_secret"] != new
    with app.app_context():
        assert db.session.get(ServerAction, aid).signing_secrets() == [result["signing_secret"]]
    rotated = api.post(f"{ACTIONS}{aid}/rotate_signing_secret", {"grace": "1h"}).get_json()
    assert "previous_secret_signs_until" in rotated["result"]
    with app.app_context():
        assert len(db.session.get(ServerAction, aid).signing_secrets()) == 2
    assert api.post(f"{ACTIONS}{aid}/rotate_signing_secret", {"grace": "1y"}).status_code == 400
    assert api.post(f"{ACTIONS}999999/rotate_signing_secret").status_code == 404


@pytest.mark.parametrize(
    ("model", "field"),
    [("ir.actions.server", "settings"), ("webhook.delivery", "headers")],
)
def test_a_field_declared_secret_cannot_be_sent(
    app: Flask, api: ApiClient, make_rule, model: str, field: str
) -> None:
    """Fields declared secret (an action's settings, a message's headers) are no field to send,
    though their names say nothing of secrets."""
    rule = make_rule(model)
    body = send()
    body["settings"]["fields"] = [field]
    response = api.post(ACTIONS, {"rule_id": rule["id"], **body})
    assert response.status_code == 422, response.get_json()
    problems = response.get_json()["message"]["settings"]["fields"]
    assert any(field in p for p in problems), problems
