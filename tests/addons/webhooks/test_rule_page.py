"""A rule's page over HTTP: the dry run, Rotate Secret, the Logs, escaping, who sees the URL."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from addons.webhooks.models import AutomationRule
from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import input_value, link, location
from tests.support.web import (
    WebClient,
    api_client,
    csrf_token_from,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

SET_USD = {
    "name": "Set USD",
    "action_type": "update_record",
    "settings": {
        "field": "currency_id",
        "expression": "env['res.currency'].search([('name', '=', 'USD')]).id",
    },
}


def orders(app: Flask) -> list[dict]:
    return read(app, "sale.order", [], ["currency_id", "note"])


def dry_run(web: WebClient, rule_id: int, payload: str) -> str:
    page = web.get(f"/webhookview/show/{rule_id}").get_data(as_text=True)
    response = web.client.post(
        f"/webhookview/dry_run/{rule_id}",
        data={"payload": payload, "csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 200
    return page_text(response)


def section(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:div|ul|table|pre)>', page, re.S)
    assert found, f"no #{element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


# ------------------------------------------------------------------------ dry run


def test_the_page_offers_a_sample_payload_and_a_curl_command(admin_web: WebClient, make_rule):
    rule = make_rule("sale.order", actions=[SET_USD])
    page = page_text(admin_web.get(f"/webhookview/show/{rule['id']}"))
    payload = re.search(r'id="webhook-payload"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert payload.split() == ["{", '"_id":', "1,", '"_model":', '"sale.order"', "}"]
    curl = input_value(
        admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True), "webhook-curl"
    )
    assert curl.startswith(f"curl -X POST http://localhost{rule['path']} ")
    assert """-d '{"_model": "sale.order", "_id": 1}'""" in curl


def test_dry_run_shows_target_changes_and_response_and_keeps_nothing(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    rule = make_rule("sale.order", actions=[SET_USD], log_calls=True)
    before = orders(app)
    page = dry_run(admin_web, rule["id"], '{"_model": "sale.order", "_id": "7"}')
    assert section(page, "webhook-dry-run-response") == '200 {"status": "ok"}'
    assert section(page, "webhook-dry-run-targets") == "S00007 (id 7)"
    changes = section(page, "webhook-dry-run-changes")
    old = next(o for o in before if o["id"] == 7)["currency_id"][1]
    assert f"Set USD Updated Sales Order: S00007 (id 7) Currency {old} USD" in changes
    # Nothing was kept, nothing logged.
    assert orders(app) == before
    assert read(app, "base.automation.call", [("rule_id", "=", rule["id"])], ["status"]) == []
    # The pasted payload stays in the box.
    assert '"_id": "7"' in page


def test_dry_run_shows_the_error_the_sender_would_get(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    rule = make_rule("sale.order", actions=[SET_USD])
    page = dry_run(admin_web, rule["id"], '{"_model": "sale.order", "_id": "99999"}')
    response = section(page, "webhook-dry-run-response")
    assert response.startswith('500 {"status": "error", "message": ')
    assert "99999" in section(page, "webhook-dry-run-error")
    assert "No record found." in page


def test_dry_run_of_code_that_creates_a_contact_lists_it_and_keeps_nothing(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    code = (
        "log('creating ' + payload['name'])\n"
        "env['res.partner'].create({'name': payload['name'], 'email': payload['email']})\n"
    )
    rule = make_rule(
        "res.partner",
        target_record="model.browse([2])",
        actions=[
            {"name": "Create contact", "action_type": "execute_code", "settings": {"code": code}}
        ],
    )
    page = dry_run(admin_web, rule["id"], '{"name": "Dry Ann", "email": "ann@dry.test"}')
    assert section(page, "webhook-dry-run-response") == '200 {"status": "ok"}'
    changes = section(page, "webhook-dry-run-changes")
    assert "Create contact Created Contact: New record" in changes
    assert "Name Dry Ann" in changes and "Email ann@dry.test" in changes
    assert section(page, "webhook-dry-run-logs") == "creating Dry Ann"
    assert read(app, "res.partner", [("name", "=", "Dry Ann")], ["name"]) == []


@pytest.mark.parametrize(
    ("payload", "problem"),
    [("{not json", "is not valid JSON"), ("[1, 2]", "must be an object"), ('{"a": NaN}', "NaN")],
)
def test_dry_run_refuses_a_payload_that_is_not_a_json_object(
    admin_web: WebClient, make_rule, payload: str, problem: str
) -> None:
    rule = make_rule("sale.order", actions=[SET_USD])
    page = dry_run(admin_web, rule["id"], payload)
    assert problem in section(page, "webhook-dry-run-problem")
    assert 'id="webhook-dry-run"' not in page


def test_dry_run_needs_the_csrf_token(app: Flask, admin_web: WebClient, make_rule) -> None:
    rule = make_rule("sale.order", actions=[SET_USD])
    response = admin_web.client.post(
        f"/webhookview/dry_run/{rule['id']}", data={"payload": '{"_model": "sale.order", "_id": 7}'}
    )
    assert response.status_code == 400


# ------------------------------------------------------------------ Rotate Secret


def test_rotate_secret_asks_then_retires_the_old_url(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    rule = make_rule("sale.order", actions=[SET_USD])
    page = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    confirm_url = link(page, "webhook-rotate")
    assert confirm_url == f"/webhookview/rotate_secret/{rule['id']}"
    confirm = admin_web.get(confirm_url)
    assert confirm.status_code == 200
    assert "The current URL stops working" in page_text(confirm)
    # A GET asks; it changes nothing.
    assert (
        admin_web.client.post(rule["path"], json={"_model": "sale.order", "_id": "3"}).status_code
        == 200
    )

    # Without the CSRF token the post is refused.
    assert admin_web.client.post(confirm_url).status_code == 400
    assert (
        admin_web.client.post(rule["path"], json={"_model": "sale.order", "_id": "3"}).status_code
        == 200
    )

    token = csrf_token_from(confirm.get_data(as_text=True))
    response = admin_web.client.post(confirm_url, data={"csrf_token": token})
    assert location(response) == f"/webhookview/show/{rule['id']}"
    shown = admin_web.get(f"/webhookview/show/{rule['id']}")
    assert "The secret was rotated: the old URL no longer works." in page_text(shown)
    page = shown.get_data(as_text=True)
    new_url = input_value(page, "webhook-url")
    new_path = re.sub(r"^https?://[^/]+", "", new_url)
    assert new_path != rule["path"]
    old = admin_web.client.post(rule["path"], json={"_model": "sale.order", "_id": "4"})
    assert (old.status_code, old.get_json()) == (404, {"status": "error"})
    new = admin_web.client.post(new_path, json={"_model": "sale.order", "_id": "4"})
    assert (new.status_code, new.get_json()) == (200, {"status": "ok"})
    with app.app_context():
        assert (
            db.session.get(AutomationRule, rule["id"]).webhook_secret == new_path.rsplit("/", 1)[1]
        )


# -------------------------------------------------------------------------- Logs


def test_logs_open_the_rules_calls_only(app: Flask, admin_web: WebClient, make_rule) -> None:
    first = make_rule("sale.order", actions=[SET_USD], log_calls=True, name="First")
    with app.app_context():
        from nightpos_app.state import get_env

        second = get_env(trusted=True)["base.automation"].create(
            {"name": "Second", "model": "sale.order", "log_calls": True}
        )
        second_path = f"/web/hook/{second.webhook_secret}"
        db.session.commit()
    admin_web.client.post(first["path"], json={"_model": "sale.order", "_id": "7"})
    admin_web.client.post(first["path"], json={"_model": "sale.order", "_id": "99999"})
    admin_web.client.post(second_path, json={"_model": "sale.order", "_id": "7"})

    page = page_text(admin_web.get(f"/webhookview/show/{first['id']}"))
    assert re.search(r'id="webhook-logs-count">2<', page)
    logs = page_text(admin_web.get(link(page, "webhook-logs")))
    assert "Logs: First" in logs
    assert "Record Count:</strong> 2" in logs
    assert "Error" in logs and "500" in logs
    # The log is read-only.
    assert admin_web.get("/webhookcallview/add").status_code == 404


# ----------------------------------------------------------------- safety


def test_names_and_code_are_escaped(app: Flask, admin_web: WebClient, make_rule) -> None:
    rule = make_rule(
        "sale.order",
        name="<script>alert('rule')</script>",
        actions=[
            {
                "name": "<img src=x onerror=alert(1)>",
                "action_type": "execute_code",
                "settings": {"code": "log('<b>bold</b>')"},
            }
        ],
    )
    raw = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    assert "<script>alert(" not in raw and "<img src=x" not in raw
    assert "&lt;script&gt;alert(" in raw
    token = csrf_token_from(raw)
    raw = admin_web.client.post(
        f"/webhookview/dry_run/{rule['id']}",
        data={
            "payload": '{"_model": "sale.order", "_id": "</textarea><b>x</b>"}',
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert "<b>bold</b>" not in raw and "</textarea><b>x</b>" not in raw


@pytest.fixture
def reader(app: Flask):
    """A user whose role may list and show webhooks, but has no other right."""
    from tests.support.web import Credentials

    who = Credentials("webhook-reader", "Re4der-test-password")
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.find_role("Webhook Reader") or sm.add_role("Webhook Reader")
        for permission, view in (
            ("can_list", "WebhookView"),
            ("can_show", "WebhookView"),
            ("can_get", "BaseAutomationApi"),
        ):
            sm.add_permission_role(role, sm.find_permission_view_menu(permission, view))
        if sm.find_user(username=who.username) is None:
            sm.add_user(
                who.username, "Web", "Reader", "reader@test.local", role, password=who.password
            )
        db.session.commit()
    return who


def test_a_reader_sees_the_rule_but_not_its_url(app: Flask, make_rule, reader) -> None:
    rule = make_rule("sale.order", actions=[SET_USD])
    web = WebClient(app.test_client())
    web.login(reader)
    page = web.get(f"/webhookview/show/{rule['id']}")
    assert page.status_code == 200
    raw = page.get_data(as_text=True)
    secret = rule["path"].rsplit("/", 1)[1]
    assert "Test rule" in raw
    assert secret not in raw
    assert 'id="webhook-url"' not in raw and 'id="webhook-curl"' not in raw
    assert "may not see this webhook's URL" in page_text(page)
    # Reading is not running: the dry run and Rotate Secret need the right to edit.
    token = csrf_token_from(raw)
    assert (
        web.client.post(
            f"/webhookview/dry_run/{rule['id']}", data={"payload": "{}", "csrf_token": token}
        ).status_code
        == 403
    )
    assert web.get(f"/webhookview/rotate_secret/{rule['id']}").status_code == 403
    api = api_client(app.test_client(), reader)
    assert api.get(f"/api/v1/base_automation/{rule['id']}").status_code == 200
