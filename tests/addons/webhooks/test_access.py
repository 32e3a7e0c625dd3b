"""Who may see and change automation rules, actions, secrets, URLs and call logs.

Only admins and the ``Automation Manager`` role (declared by the addon, created at permission
sync): any other user gets 403 from every webhooks screen and REST route, an anonymous visitor
the login page (screens) or 401 (API), and nothing changes. A role that may read rules but lacks
``can_read_secret`` never gets a secret or URL.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from addons.webhooks.rules.hidden_headers import HIDDEN
from addons.webhooks.security import AUTOMATION_MANAGER, CODE_PERMISSION, SECRET_PERMISSION
from nightpos_app.bootstrap import sync_permissions
from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import create_rule, location
from tests.support.web import (
    USER,
    Credentials,
    WebClient,
    api_client,
    csrf_token_from,
    edit_through_form,
    form_values,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

ACTIONS = "/api/v1/ir_actions_server/"

MANAGER = Credentials("test-automation-manager", "Aut0mation-test-password")
SALES = Credentials("test-sales", "S4les-test-password")
NO_SECRET = Credentials("test-rule-editor", "Ed1tor-test-password")

#: The views and menus of the Sales and Contacts apps: a Sales role has all of them.
SALES_VIEWS = (
    "SaleOrderView",
    "SaleOrderApi",
    "ResPartnerView",
    "ResPartnerApi",
    "ResCurrencyView",
    "ResCurrencyApi",
)
SALES_MENUS = ("Sales", "Orders", "Contacts", "Currencies")

SET_NOTE = {
    "name": "Note",
    "action_type": "update_record",
    "settings": {"field": "note", "value": "seen"},
}


def _user(app: Flask, who: Credentials, role_name: str, pairs: list[tuple[str, str]]) -> None:
    """Give ``who`` a role with exactly ``pairs`` (plus nothing else)."""
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(role_name)
        for permission, view in pairs:
            pv = sm.find_permission_view_menu(permission, view)
            assert pv is not None, (permission, view)
            sm.add_permission_role(role, pv)
        if sm.find_user(username=who.username) is None:
            sm.add_user(
                who.username, "Test", role_name, f"{who.username}@t.local", role, who.password
            )
        db.session.commit()


@pytest.fixture(scope="module")
def users(app: Flask) -> None:
    """The Sales user, the Automation Manager, and an editor of rules without the secret."""
    with app.app_context():
        sm = app.appbuilder.sm
        sales = [
            (pv.permission.name, pv.view_menu.name)
            for name in SALES_VIEWS
            for pv in sm.find_permissions_view_menu(sm.find_view_menu(name))
        ]
        sales += [("menu_access", m) for m in SALES_MENUS]
    _user(app, SALES, "Sales", sales)
    _user(app, MANAGER, AUTOMATION_MANAGER, [])  # the role as the permission sync made it
    editor = [
        (p, view)
        for view in (
            "WebhookView",
            "BaseAutomationApi",
            "ServerActionView",
            "IrActionsServerApi",
            "WebhookDeliveryView",
            "WebhookDeliveryApi",
        )
        for p in ("can_list", "can_show", "can_edit", "can_get", "can_put")
        if p.startswith("can_")
    ]
    with app.app_context():
        editor = [pair for pair in editor if app.appbuilder.sm.find_permission_view_menu(*pair)]
    _user(app, NO_SECRET, "Rule Editor Without Secrets", editor)


@pytest.fixture
def rule(app: Flask, make_rule, users: None) -> dict[str, Any]:
    """A logged webhook rule with one action and one logged call."""
    made = make_rule("sale.order", actions=[SET_NOTE], log_calls=True)
    app.test_client().post(made["path"], json={"_model": "sale.order", "_id": 7})
    with app.app_context():
        made["action"] = read(app, "ir.actions.server", [("rule_id", "=", made["id"])], [])[0]["id"]
        made["call"] = read(app, "base.automation.call", [("rule_id", "=", made["id"])], [])[0][
            "id"
        ]
    made["delivery"] = failed_delivery(app, made["id"], made["action"])
    return made


def failed_delivery(app: Flask, rule_id: int, action_id: int) -> int:
    """A message in the outbox that failed for good (as the worker would leave it)."""
    from addons.webhooks.outgoing import outbox

    with app.app_context():
        delivery = outbox.enqueue(
            db.session,
            rule_id=rule_id,
            action_id=action_id,
            model="sale.order",
            record_id=7,
            url="https://receiver.example/hook",
            body='{"_model":"sale.order","_id":7}',
            headers={"Authorization": "Bearer receiver-token"},
            timeout_seconds=10,
        )
        delivery.state = "failed"
        db.session.commit()
        return int(delivery.id)


def snapshot(app: Flask) -> list[list[dict[str, Any]]]:
    """Every rule (with its secret), action and call, as the database holds them."""
    return [
        read(app, "base.automation", [], ["name", "webhook_secret", "active", "model"]),
        read(app, "ir.actions.server", [], ["name", "settings", "sequence"]),
        read(app, "base.automation.call", [], ["status"]),
        read(app, "webhook.delivery", [], ["state", "attempt_count", "next_attempt_at"]),
    ]


def logged_in(app: Flask, who: Credentials) -> tuple[WebClient, str]:
    """A browser logged in as ``who``, and a valid CSRF token of its session."""
    web = WebClient(app.test_client())
    token = csrf_token_from(web.get("/login/").get_data(as_text=True))
    response = web.client.post(
        "/login/", data={"username": who.username, "password": who.password, "csrf_token": token}
    )
    assert response.status_code == 302
    return web, token


def screen_gets(rule: dict[str, Any]) -> list[str]:
    rid, aid, cid = rule["id"], rule["action"], rule["call"]
    return [
        "/webhookview/list/",
        "/webhookview/list/?model=sale.order",
        f"/webhookview/show/{rid}",
        "/webhookview/add",
        f"/webhookview/edit/{rid}",
        f"/webhookview/rotate_secret/{rid}",
        "/automationruleview/list/",
        f"/automationruleview/show/{rid}",
        "/automationruleview/add",
        f"/automationruleview/edit/{rid}",
        f"/serveractionview/add?rule_id={rid}",
        f"/serveractionview/edit/{aid}",
        f"/webhookcallview/list/?rule_id={rid}",
        f"/webhookcallview/show/{cid}",
        "/serveractionview/value_choices?model=sale.order&field=currency_id",
        "/serveractionview/model_fields?model=sale.order",
        f"/serveractionview/show/{aid}",
        f"/serveractionview/preview?rule_id={rid}&action_type=send_webhook",
        "/webhookdeliveryview/list/",
        f"/webhookdeliveryview/list/?rule_id={rid}&state=failed",
        f"/webhookdeliveryview/show/{rule['delivery']}",
        "/webhookdeliveryattemptview/list/",
    ]


def screen_posts(rule: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    rid, aid = rule["id"], rule["action"]
    new_rule = {"name": "Forged", "model": "sale.order", "trigger": "on_webhook"}
    action = {"name": "Forged", "action_type": "update_record", "sequence": "1"}
    return [
        ("/webhookview/add", new_rule),
        (f"/webhookview/edit/{rid}", new_rule),
        (f"/webhookview/delete/{rid}", {}),
        (f"/webhookview/rotate_secret/{rid}", {}),
        (f"/webhookview/dry_run/{rid}", {"payload": '{"_model": "sale.order", "_id": 7}'}),
        ("/automationruleview/add", new_rule),
        (f"/automationruleview/edit/{rid}", new_rule),
        (f"/automationruleview/delete/{rid}", {}),
        (f"/automationruleview/rotate_secret/{rid}", {}),
        (f"/serveractionview/add?rule_id={rid}", action),
        (f"/serveractionview/edit/{aid}", action),
        (f"/serveractionview/delete/{aid}", {}),
        (f"/serveractionview/rotate_signing_secret/{aid}", {}),
        (f"/webhookdeliveryview/retry/{rule['delivery']}", {}),
        (f"/webhookdeliveryview/replay/{rule['delivery']}", {}),
    ]


def api_calls(rule: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every route of the addon's resources (the call log and the outbox have no write route:
    a write there is the router's 405 for everyone, tests/addons/webhooks/test_api_contract.py)."""
    rid, aid, cid, did = rule["id"], rule["action"], rule["call"], rule["delivery"]
    rules, actions, calls, deliveries = (
        "/api/v1/base_automation/",
        "/api/v1/ir_actions_server/",
        "/api/v1/base_automation_call/",
        "/api/v1/webhook_delivery/",
    )
    return [
        ("GET", rules, None),
        ("GET", f"{rules}{rid}", None),
        ("GET", f"{rules}_info", None),
        ("POST", rules, {"name": "Forged", "model": "sale.order"}),
        ("PUT", f"{rules}{rid}", {"name": "Forged"}),
        ("DELETE", f"{rules}{rid}", None),
        ("POST", f"{rules}{rid}/rotate_secret", None),
        ("GET", actions, None),
        ("GET", f"{actions}{aid}", None),
        ("POST", actions, {"rule_id": rid, "name": "Forged", "action_type": "update_record"}),
        ("PUT", f"{actions}{aid}", {"name": "Forged"}),
        ("DELETE", f"{actions}{aid}", None),
        ("GET", calls, None),
        ("GET", f"{calls}{cid}", None),
        ("POST", f"{actions}{aid}/rotate_signing_secret", None),
        ("GET", deliveries, None),
        ("GET", f"{deliveries}{did}", None),
        ("POST", f"{deliveries}{did}/retry", None),
        ("POST", f"{deliveries}{did}/replay", None),
        ("GET", "/api/v1/webhook_delivery_attempt/", None),
    ]


# ------------------------------------------------------------------ the role


def test_the_automation_manager_role_has_exactly_the_addons_permissions(
    app: Flask, users: None
) -> None:
    with app.app_context():
        sync_permissions(app)  # a second sync changes nothing
        role = app.appbuilder.sm.find_role(AUTOMATION_MANAGER)
        granted = {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}
    views = {
        "WebhookView",
        "AutomationRuleView",
        "ServerActionView",
        "WebhookCallView",
        "BaseAutomationApi",
        "IrActionsServerApi",
        "BaseAutomationCallApi",
        "WebhookDeliveryView",
        "WebhookDeliveryApi",
        "WebhookDeliveryAttemptView",
        "WebhookDeliveryAttemptApi",
    }
    menus = {
        "Studio",
        "Webhooks",
        "Automation Rules",
        "Deliveries",
        "Sales Webhooks",
        "Contacts Webhooks",
    }
    assert {view for _, view in granted} == views | menus
    assert (SECRET_PERMISSION, "BaseAutomationApi") in granted
    assert (CODE_PERMISSION, "BaseAutomationApi") in granted  # the role builds rules
    assert ("can_edit", "ServerActionView") in granted  # value choices, model fields
    assert ("can_edit", "WebhookView") in granted  # rotate, dry run
    assert ("can_resend", "WebhookDeliveryView") in granted  # Retry now, Replay
    assert ("can_resend", "WebhookDeliveryApi") in granted
    assert {p for p, v in granted if v in menus} == {"menu_access"}
    # Nothing of the business apps or of user administration.
    assert not {v for _, v in granted} & {*SALES_VIEWS, "Sales", "UserDBModelView", "RoleModelView"}


# ------------------------------------------------------------ refused users


@pytest.mark.parametrize("who", [USER, SALES], ids=["no-permission", "sales"])
def test_other_users_get_403_from_every_screen_and_nothing_changes(
    app: Flask, rule: dict[str, Any], who: Credentials
) -> None:
    before = snapshot(app)
    web, token = logged_in(app, who)
    for url in screen_gets(rule):
        assert web.get(url).status_code == 403, url
    for url, data in screen_posts(rule):
        # With a valid CSRF token: the permission check is what refuses.
        assert web.client.post(url, data={**data, "csrf_token": token}).status_code == 403, url
    assert snapshot(app) == before
    # No menu entry leads there either.
    home = page_text(web.get("/"))
    for link in ("/webhookview/", "/automationruleview/", "/webhookcallview/", "/webhookdelivery"):
        assert link not in home
    if who is SALES:  # the Sales user still uses Sales: only webhooks are closed
        assert web.get("/saleorderview/list/").status_code == 200
        assert "/saleorderview/list/" in home


@pytest.mark.parametrize("who", [USER, SALES], ids=["no-permission", "sales"])
def test_other_users_get_403_from_every_api_route_and_no_secret(
    app: Flask, rule: dict[str, Any], who: Credentials
) -> None:
    before = snapshot(app)
    api = api_client(app.test_client(), who)
    for method, url, body in api_calls(rule):
        response = api.client.open(url, method=method, headers=api.headers, json=body)
        assert response.status_code == 403, f"{method} {url}: {response.status_code}"
        assert response.get_json() == {"message": "Forbidden"}
        assert rule["secret"] not in response.get_data(as_text=True)
    assert snapshot(app) == before
    if who is SALES:
        assert api.get("/api/v1/sale_order/").status_code == 200


def test_anonymous_visitors_are_sent_to_login_or_get_401(
    app: Flask, rule: dict[str, Any], anonymous: FlaskClient
) -> None:
    before = snapshot(app)
    token = csrf_token_from(anonymous.get("/login/").get_data(as_text=True))
    for url in screen_gets(rule):
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login/"), url
    for url, data in screen_posts(rule):
        response = anonymous.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login/"), url
    for method, url, body in api_calls(rule):
        response = anonymous.open(url, method=method, json=body)
        assert response.status_code == 401, f"{method} {url}"
        assert rule["secret"] not in response.get_data(as_text=True)
    assert snapshot(app) == before


# ------------------------------------------------------- the Automation Manager


def test_the_automation_manager_uses_every_screen(app: Flask, rule: dict[str, Any]) -> None:
    web, token = logged_in(app, MANAGER)
    for url in screen_gets(rule):
        assert web.get(url).status_code == 200, url
    page = web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    assert rule["secret"] in page, "the manager sees the URL"
    assert web.get("/serveractionview/value_choices?model=sale.order&field=currency_id").is_json
    home = page_text(web.get("/"))
    assert "/webhookview/list/" in home and "/automationruleview/list/" in home
    assert "/webhookdeliveryview/list/" in home

    # Add and edit a rule; add, edit and delete an action; dry run; rotate; delete the rule.
    new_id = create_rule(web, "/webhookview/add", name="Manager's rule", model="sale.order")
    response = edit_through_form(web, f"/webhookview/edit/{new_id}", {"name": "Renamed"})
    assert location(response) == f"/webhookview/show/{new_id}"
    add_url = f"/serveractionview/add?rule_id={new_id}"
    form = form_values(web.get(add_url).get_data(as_text=True))
    form.update({"name": "Note", "action_type": "update_record", "update_record-field": "note"})
    form["update_record-value"] = "x"
    assert location(web.client.post(add_url, data=form)) == f"/webhookview/show/{new_id}"
    (action,) = read(app, "ir.actions.server", [("rule_id", "=", new_id)], ["name"])
    response = edit_through_form(web, f"/serveractionview/edit/{action['id']}", {"name": "N2"})
    assert location(response) == f"/webhookview/show/{new_id}"
    assert read(app, "ir.actions.server", [("id", "=", action["id"])], ["name"])[0]["name"] == "N2"
    dry = web.client.post(
        f"/webhookview/dry_run/{new_id}",
        data={"payload": '{"_model": "sale.order", "_id": 7}', "csrf_token": token},
    )
    assert dry.status_code == 200
    response = web.client.post(
        f"/serveractionview/delete/{action['id']}", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert read(app, "ir.actions.server", [("rule_id", "=", new_id)], []) == []
    old = read(app, "base.automation", [("id", "=", new_id)], ["webhook_secret"])[0]
    response = web.client.post(f"/webhookview/rotate_secret/{new_id}", data={"csrf_token": token})
    assert location(response) == f"/webhookview/show/{new_id}"
    new = read(app, "base.automation", [("id", "=", new_id)], ["webhook_secret"])[0]
    assert new["webhook_secret"] != old["webhook_secret"]
    response = web.client.post(f"/webhookview/delete/{new_id}", data={"csrf_token": token})
    assert response.status_code == 302
    assert read(app, "base.automation", [("id", "=", new_id)], []) == []


def test_the_automation_manager_uses_every_api_route(app: Flask, rule: dict[str, Any]) -> None:
    api = api_client(app.test_client(), MANAGER)
    rules, actions = "/api/v1/base_automation/", "/api/v1/ir_actions_server/"
    shown = api.get(f"{rules}{rule['id']}").get_json()["result"]
    assert shown["webhook_secret"] == rule["secret"]
    assert shown["url"].endswith(rule["path"])
    assert api.get(rules).status_code == 200
    created = api.post(rules, {"name": "API rule", "model": "sale.order"})
    assert created.status_code == 201, created.get_json()
    new_id = created.get_json()["id"]
    assert api.put(f"{rules}{new_id}", {"name": "API rule 2"}).status_code == 200
    rotated = api.post(f"{rules}{new_id}/rotate_secret").get_json()["result"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", rotated["webhook_secret"])
    action = api.post(
        actions,
        {
            "rule_id": new_id,
            "name": "Note",
            "action_type": "update_record",
            "settings": {"field": "note", "value": "x"},
        },
    )
    assert action.status_code == 201, action.get_json()
    action_id = action.get_json()["id"]
    assert api.get(f"{actions}{action_id}").status_code == 200
    assert api.put(f"{actions}{action_id}", {"name": "Note 2"}).status_code == 200
    assert api.delete(f"{actions}{action_id}").status_code == 200
    calls = api.get("/api/v1/base_automation_call/")
    assert calls.status_code == 200 and calls.get_json()["count"] >= 1
    assert api.get(f"/api/v1/base_automation_call/{rule['call']}").status_code == 200
    # The log stays read-only, for the manager too.
    assert api.delete(f"/api/v1/base_automation_call/{rule['call']}").status_code == 405
    assert api.delete(f"{rules}{new_id}").status_code == 200


# ------------------------------------------------- may edit, may not read secrets


def test_an_editor_without_can_read_secret_never_gets_the_secret(
    app: Flask, rule: dict[str, Any]
) -> None:
    secret = rule["secret"]
    web, token = logged_in(app, NO_SECRET)
    for url in (
        "/webhookview/list/",
        f"/webhookview/show/{rule['id']}",
        f"/webhookview/edit/{rule['id']}",
        f"/webhookview/rotate_secret/{rule['id']}",
    ):
        response = web.get(url)
        assert response.status_code == 200, url
        assert secret not in response.get_data(as_text=True), url
    dry = web.client.post(
        f"/webhookview/dry_run/{rule['id']}",
        data={"payload": '{"_model": "sale.order", "_id": 7}', "csrf_token": token},
    )
    assert dry.status_code == 200 and secret not in dry.get_data(as_text=True)
    # Rotating (an edit) works, and neither the redirect nor the page shows the new secret.
    response = web.client.post(
        f"/webhookview/rotate_secret/{rule['id']}",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200
    new_secret = read(app, "base.automation", [("id", "=", rule["id"])], ["webhook_secret"])[0][
        "webhook_secret"
    ]
    assert new_secret != secret
    assert new_secret not in response.get_data(as_text=True)

    api = api_client(app.test_client(), NO_SECRET)
    rules = "/api/v1/base_automation/"
    responses = [
        api.get(rules),
        api.get(f"{rules}{rule['id']}"),
        api.put(f"{rules}{rule['id']}", {"name": "Still secret"}),
        api.post(f"{rules}{rule['id']}/rotate_secret"),
    ]
    final = read(app, "base.automation", [("id", "=", rule["id"])], ["webhook_secret"])[0]
    for response in responses:
        assert response.status_code == 200, response.get_json()
        text = response.get_data(as_text=True)
        for value in (secret, new_secret, final["webhook_secret"], "/web/hook/"):
            assert value not in text
        result = response.get_json()["result"]
        for row in result if isinstance(result, list) else [result]:
            assert "webhook_secret" not in row and "url" not in row

    # An action's signing secret and a message's extra headers are secrets too.
    action = read(app, "ir.actions.server", [("id", "=", rule["action"])], ["signing_secret"])[0]
    signing = action["signing_secret"]
    for url in (
        f"/serveractionview/show/{rule['action']}",
        f"/serveractionview/edit/{rule['action']}",
        f"/webhookdeliveryview/show/{rule['delivery']}",
        "/webhookdeliveryview/list/",
    ):
        response = web.get(url)
        assert response.status_code == 200, url
        text = response.get_data(as_text=True)
        assert signing not in text and "receiver-token" not in text, url
    actions = "/api/v1/ir_actions_server/"
    for response in (
        api.get(actions),
        api.get(f"{actions}{rule['action']}"),
        api.post(f"{actions}{rule['action']}/rotate_signing_secret", {"grace": "1h"}),
        api.get("/api/v1/webhook_delivery/"),
        api.get(f"/api/v1/webhook_delivery/{rule['delivery']}"),
    ):
        assert response.status_code == 200, response.get_json()
        text = response.get_data(as_text=True)
        assert "whsec_" not in text and "receiver-token" not in text
        result = response.get_json()["result"]
        for row in result if isinstance(result, list) else [result]:
            assert "signing_secret" not in row and "previous_signing_secret" not in row
            assert "headers" not in row
    # Nobody filters on a secret, whatever they may read.
    flt = "(filters:!((col:signing_secret,opr:sw,value:whsec_)))"
    assert api.get(f"{actions}?q={flt}").status_code == 400


def test_an_editor_without_can_read_secret_sees_header_names_not_values(
    app: Flask, make_rule: Any, users: None
) -> None:
    headers = {"Authorization": "Bearer receiver-token", "X-Shop": "north"}
    notify = {
        "name": "Notify ERP",
        "action_type": "send_webhook",
        "settings": {"url": "https://erp.example.com/hooks", "fields": ["state"]},
    }
    notify["settings"]["headers"] = headers
    rule = make_rule("sale.order", actions=[notify])
    aid = read(app, "ir.actions.server", [("rule_id", "=", rule["id"])], [])[0]["id"]

    def stored() -> dict[str, Any]:
        return read(app, "ir.actions.server", [("id", "=", aid)], ["settings"])[0]["settings"]

    web, _token = logged_in(app, NO_SECRET)
    for url in (f"/serveractionview/show/{aid}", f"/serveractionview/edit/{aid}"):
        text = web.get(url).get_data(as_text=True)
        assert "receiver-token" not in text and "north" not in text, url
        assert "Authorization" in text, url
    # The form shows each value as hidden; the page lists the headers by name only.
    assert HIDDEN in web.get(f"/serveractionview/edit/{aid}").get_data(as_text=True)
    # The form posted as shown (a new timeout) keeps the values it did not show.
    response = edit_through_form(
        web, f"/serveractionview/edit/{aid}", {"send_webhook-timeout": "7"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert stored()["headers"] == headers and stored()["timeout"] == 7

    api = api_client(app.test_client(), NO_SECRET)
    shown = api.get(f"{ACTIONS}{aid}").get_json()["result"]["settings"]
    assert shown["headers"] == {"Authorization": HIDDEN, "X-Shop": HIDDEN}
    listed = api.get(ACTIONS).get_data(as_text=True)
    assert "receiver-token" not in listed
    # Put back as read, one value changed: the hidden one keeps what is stored.
    shown["headers"]["X-Shop"] = "south"
    response = api.put(f"{ACTIONS}{aid}", {"action_type": "send_webhook", "settings": shown})
    assert response.status_code == 200, response.get_json()
    assert stored()["headers"] == {"Authorization": "Bearer receiver-token", "X-Shop": "south"}
    # A new header cannot be "hidden": there is nothing to keep.
    shown["headers"]["X-New"] = HIDDEN
    response = api.put(f"{ACTIONS}{aid}", {"action_type": "send_webhook", "settings": shown})
    assert response.status_code in (400, 422)
    assert "X-New" in response.get_data(as_text=True)
    assert "X-New" not in stored()["headers"]

    # Whoever may read secrets reads the values.
    manager = api_client(app.test_client(), MANAGER)
    assert manager.get(f"{ACTIONS}{aid}").get_json()["result"]["settings"]["headers"] == {
        "Authorization": "Bearer receiver-token",
        "X-Shop": "south",
    }
