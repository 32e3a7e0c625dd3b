"""The webhooks addon's REST resources with a JWT: both use cases made through the API, the
secret shown only to those who may read it, settings validated by their action type."""

from __future__ import annotations

import re
from typing import Any

import prison
import pytest
from flask import Flask

from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import read
from tests.support.spec import USE_CASE_2_CODE
from tests.support.web import ApiClient, Credentials, api_client, one_context_per_request

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

RULES = "/api/v1/base_automation/"
ACTIONS = "/api/v1/ir_actions_server/"
CALLS = "/api/v1/base_automation_call/"


def usd(app: Flask) -> int:
    return read(app, "res.currency", [("name", "=", "USD")], ["name"])[0]["id"]


def create(api: ApiClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(url, body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def hook_path(url: str) -> str:
    assert re.fullmatch(r"http://localhost/web/hook/[A-Za-z0-9_-]{43}", url), url
    return url.removeprefix("http://localhost")


# ---------------------------------------------------------------- the use cases


def test_use_case_1_through_the_api(app: Flask, api: ApiClient) -> None:
    rule = create(api, RULES, {"name": "Orders to USD", "model": "sale.order", "log_calls": True})
    assert rule["result"]["trigger"] == "on_webhook"
    assert "webhook_secret" not in rule["result"], "the secret is read with GET"
    create(
        api,
        ACTIONS,
        {
            "rule_id": rule["id"],
            "name": "Set USD",
            "action_type": "update_record",
            "settings": {"field": "currency_id", "value": usd(app)},
        },
    )
    shown = api.get(f"{RULES}{rule['id']}").get_json()["result"]
    assert shown["target_record"] == (
        "model.env[payload.get('_model')].browse(int(payload.get('_id')))"
    )
    path = hook_path(shown["url"])
    assert path.endswith(shown["webhook_secret"])

    response = api.client.post(path, json={"_model": "sale.order", "_id": "7"})
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert read(app, "sale.order", [("id", "=", 7)], ["currency_id"])[0]["currency_id"][1] == "USD"

    q = prison.dumps({"filters": [{"col": "rule_id", "opr": "eq", "value": rule["id"]}]})
    calls = api.get(f"{CALLS}?q={q}").get_json()
    assert calls["count"] == 1
    assert (calls["result"][0]["status"], calls["result"][0]["http_status"]) == ("ok", 200)


def test_use_case_2_through_the_api(app: Flask, api: ApiClient) -> None:
    rule = create(
        api,
        RULES,
        {
            "name": "New contact",
            "model": "res.partner",
            "target_record": "model.browse([2])",
        },
    )
    create(
        api,
        ACTIONS,
        {
            "rule_id": rule["id"],
            "name": "Create contact",
            "action_type": "execute_code",
            "settings": {"code": USE_CASE_2_CODE},
        },
    )
    path = hook_path(api.get(f"{RULES}{rule['id']}").get_json()["result"]["url"])
    payload = {
        "name": "CONTACT NAME",
        "email": "CONTACTEMAIL@EMAIL.COM",
        "phone": "CONTACT PHONE NUMBER",
    }
    response = api.client.post(path, json=payload)
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    created = read(app, "res.partner", [("email", "=", "CONTACTEMAIL@EMAIL.COM")], ["name"])
    assert [c["name"] for c in created] == ["CONTACT NAME"]


# ------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            {"action_type": "update_record", "settings": {"field": "nope", "value": 1}},
            {"settings": {"field": ["sale.order has no writable field 'nope'."]}},
        ),
        (
            {"action_type": "update_record", "settings": {"field": "currency_id"}},
            {"settings": {"value": ["Give either a value or an expression."]}},
        ),
        (
            {"action_type": "update_record", "settings": {"value": 1}},
            {"settings": {"field": ["Missing data for required field."]}},
        ),
        (
            {"action_type": "execute_code", "settings": {}},
            {"settings": {"code": ["Missing data for required field."]}},
        ),
        (
            {"action_type": "execute_code", "settings": {"code": "x", "extra": 1}},
            {"settings": {"extra": ["Unknown field."]}},
        ),
        (
            {"action_type": "execute_code", "settings": "print(1)"},
            {"settings": {"settings": ["Action details must be an object."]}},
        ),
        (
            {"action_type": "send_fax", "settings": {}},
            {
                "action_type": [
                    "Unknown action type 'send_fax' "
                    "(known: update_record, create_record, execute_code, send_webhook)."
                ]
            },
        ),
    ],
)
def test_invalid_settings_are_refused_with_messages(
    app: Flask, api: ApiClient, action: dict[str, Any], expected: dict[str, Any]
) -> None:
    rule = create(api, RULES, {"name": "R", "model": "sale.order"})
    response = api.post(ACTIONS, {"rule_id": rule["id"], "name": "A", **action})
    assert response.status_code == 422
    assert response.get_json() == {"message": expected}
    assert api.get(ACTIONS).get_json()["count"] == 0


def test_code_that_does_not_compile_is_refused(api: ApiClient) -> None:
    rule = create(api, RULES, {"name": "R", "model": "res.partner"})
    response = api.post(
        ACTIONS,
        {
            "rule_id": rule["id"],
            "name": "A",
            "action_type": "execute_code",
            "settings": {"code": "import os"},
        },
    )
    assert response.status_code == 422
    (message,) = response.get_json()["message"]["settings"]["code"]
    assert "import" in message.lower()


def test_put_validates_the_settings_too(app: Flask, api: ApiClient) -> None:
    rule = create(api, RULES, {"name": "R", "model": "sale.order"})
    action = create(
        api,
        ACTIONS,
        {
            "rule_id": rule["id"],
            "name": "A",
            "action_type": "update_record",
            "settings": {"field": "note", "value": "x"},
        },
    )
    response = api.put(
        f"{ACTIONS}{action['id']}", {"settings": {"field": "state", "value": "shipped"}}
    )
    assert response.status_code == 422
    assert "'shipped' is not one of" in response.get_json()["message"]["settings"]["field"][0]
    response = api.put(
        f"{ACTIONS}{action['id']}", {"settings": {"field": "state", "value": "sale"}}
    )
    assert response.status_code == 200
    assert read(app, "ir.actions.server", [("id", "=", action["id"])], ["settings"])[0][
        "settings"
    ] == {
        "field": "state",
        "value": "sale",
    }


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"model": "no.such.model"},
            "model",
            "Unknown model 'no.such.model': give a technical name.",
        ),
        ({"model": "sale.order", "target_record": "model.browse("}, "target_record", "Line 1"),
        (
            {"model": "sale.order", "target_record": "__import__('os')"},
            "target_record",
            "__import__",
        ),
    ],
)
def test_a_rule_needs_a_registered_model_and_a_target_that_compiles(
    api: ApiClient, body: dict[str, Any], field: str, message: str
) -> None:
    response = api.post(RULES, {"name": "R", **body})
    assert response.status_code == 422
    assert message in response.get_json()["message"][field][0]
    assert api.get(RULES).get_json()["count"] == 0


def test_a_rules_new_model_must_suit_its_actions(app: Flask, api: ApiClient) -> None:
    rule = create(api, RULES, {"name": "R", "model": "sale.order"})
    create(
        api,
        ACTIONS,
        {
            "rule_id": rule["id"],
            "name": "Set USD",
            "action_type": "update_record",
            "settings": {"field": "currency_id", "value": usd(app)},
        },
    )
    response = api.put(f"{RULES}{rule['id']}", {"model": "res.partner"})
    assert response.status_code == 422
    assert "does not suit this model" in response.get_json()["message"]["model"][0]
    assert api.put(f"{RULES}{rule['id']}", {"name": "Renamed"}).status_code == 200


# ---------------------------------------------------------------------- secrets


@pytest.fixture
def reader(app: Flask) -> Credentials:
    """A role that may read rules through the API, and nothing more."""
    who = Credentials("api-rule-reader", "Re4der-api-password")
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.find_role("Rule Reader") or sm.add_role("Rule Reader")
        sm.add_permission_role(role, sm.find_permission_view_menu("can_get", "BaseAutomationApi"))
        sm.add_permission_role(
            role, sm.find_permission_view_menu("can_get", "BaseAutomationCallApi")
        )
        if sm.find_user(username=who.username) is None:
            sm.add_user(
                who.username, "Api", "Reader", "api-reader@test.local", role, password=who.password
            )
        db.session.commit()
    return who


def test_the_secret_and_url_are_for_admins_only(
    app: Flask, api: ApiClient, make_rule, reader: Credentials
) -> None:
    rule = make_rule("sale.order", name="Secret rule")
    secret = rule["path"].rsplit("/", 1)[1]
    admin_view = api.get(f"{RULES}{rule['id']}").get_json()["result"]
    assert admin_view["webhook_secret"] == secret
    assert admin_view["url"] == f"http://localhost{rule['path']}"
    assert api.get(RULES).get_json()["result"][0]["webhook_secret"] == secret

    other = api_client(app.test_client(), reader)
    shown = other.get(f"{RULES}{rule['id']}")
    assert shown.status_code == 200
    listed = other.get(RULES)
    chosen = other.get(
        f"{RULES}{rule['id']}?q={prison.dumps({'columns': ['name', 'webhook_secret']})}"
    )
    for response in (shown, listed, chosen):
        assert response.status_code == 200, response.get_json()
        assert secret not in response.get_data(as_text=True)
    assert shown.get_json()["result"]["name"] == "Secret rule"
    assert "url" not in shown.get_json()["result"]
    assert "webhook_secret" not in listed.get_json()["result"][0]
    # Reading is not writing.
    assert other.post(f"{RULES}{rule['id']}/rotate_secret").status_code == 403
    assert other.post(RULES, {"name": "X", "model": "sale.order"}).status_code == 403


@pytest.mark.parametrize("column", ["webhook_secret", "webhook_secret_digest"])
def test_nobody_filters_or_sorts_on_the_secret(api: ApiClient, make_rule, column: str) -> None:
    rule = make_rule("sale.order")
    secret = rule["path"].rsplit("/", 1)[1]
    q = prison.dumps({"filters": [{"col": column, "opr": "sw", "value": secret[:1]}]})
    assert api.get(f"{RULES}?q={q}").status_code == 400
    q = prison.dumps({"order_column": column, "order_direction": "asc"})
    assert api.get(f"{RULES}?q={q}").status_code == 400


def test_rotate_secret_through_the_api(app: Flask, api: ApiClient, make_rule) -> None:
    rule = make_rule("sale.order")
    response = api.post(f"{RULES}{rule['id']}/rotate_secret")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == rule["id"]
    new_path = hook_path(body["result"]["url"])
    assert new_path != rule["path"]
    assert api.client.post(rule["path"], json={"_model": "sale.order", "_id": 7}).status_code == 404
    assert api.client.post(new_path, json={"_model": "sale.order", "_id": 7}).status_code == 200
    assert api.post(f"{RULES}999999/rotate_secret").status_code == 404
    # The browser's session cookie does not authorise it (the API takes JWTs only).
    assert app.test_client().post(f"{RULES}{rule['id']}/rotate_secret").status_code == 401


def test_the_call_log_is_read_only(app: Flask, api: ApiClient, make_rule) -> None:
    rule = make_rule("sale.order", log_calls=True)
    api.client.post(rule["path"], json={"_model": "res.partner", "_id": "1"})
    calls = api.get(CALLS).get_json()
    assert calls["count"] == 1
    call = calls["result"][0]
    assert (call["rule_id"], call["status"], call["http_status"]) == (rule["id"], "error", 500)
    for method, response in (
        ("POST", api.post(CALLS, {"rule_id": rule["id"], "method": "POST"})),
        ("PUT", api.put(f"{CALLS}{call['id']}", {"status": "ok"})),
        ("DELETE", api.delete(f"{CALLS}{call['id']}")),
    ):
        # No write route at all: the router's 405, in the API's shape, with what it allows.
        assert response.status_code == 405
        assert response.get_json() == {
            "message": f"{method} is not allowed here: this URL takes GET."
        }
        assert "GET" in response.headers["Allow"]
    assert api.get(CALLS).get_json()["count"] == 1


@pytest.mark.parametrize("rule_id", [999999, 2**40, -1])
def test_an_action_needs_an_existing_rule(api: ApiClient, rule_id: int) -> None:
    response = api.post(
        ACTIONS,
        {
            "rule_id": rule_id,
            "name": "A",
            "action_type": "execute_code",
            "settings": {"code": "pass"},
        },
    )
    assert response.status_code == 422
    assert "rule_id" in response.get_json()["message"]
