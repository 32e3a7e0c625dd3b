"""Every webhooks form and button needs its CSRF token; only ``/web/hook/<secret>`` is exempt.

A POST without the token, or with a forged one, is answered 400 by Flask-WTF before any view
runs, whatever language the user chose, and changes nothing. The host-level checks (login,
business add/edit/delete, the API taking JWTs only) are in ``tests/core/test_web_security.py``;
here: the webhooks screens, and a sweep of the whole URL map proving the exemption list.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from nightpos_app.extensions import csrf
from tests.addons.webhooks.conftest import read
from tests.core.test_developer_mode import stored
from tests.support.web import ADMIN, WebClient, csrf_token_from, one_context_per_request

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

SET_NOTE = {
    "name": "Note",
    "action_type": "update_record",
    "settings": {"field": "note", "value": "seen"},
}


@pytest.fixture
def rule(app: Flask, make_rule) -> dict[str, Any]:
    made = make_rule("sale.order", actions=[SET_NOTE], log_calls=True)
    made["action"] = read(app, "ir.actions.server", [("rule_id", "=", made["id"])], [])[0]["id"]
    return made


def snapshot(app: Flask) -> list[list[dict[str, Any]]]:
    return [
        read(app, "base.automation", [], ["name", "webhook_secret", "active", "model"]),
        read(app, "ir.actions.server", [], ["name", "settings", "sequence"]),
        read(app, "base.automation.call", [], ["status"]),
        read(app, "sale.order", [("id", "=", 7)], ["note"]),
    ]


def forms_and_buttons(rule: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """Each webhooks form and button, with what a browser would post (less the token)."""
    rid, aid = rule["id"], rule["action"]
    new_rule = {"name": "Forged", "model": "sale.order", "trigger": "on_webhook"}
    action = {"name": "Forged", "action_type": "update_record", "sequence": "1"}
    return {
        "rule add": ("/webhookview/add", new_rule),
        "rule edit": (f"/webhookview/edit/{rid}", new_rule),
        "rule delete": (f"/webhookview/delete/{rid}", {}),
        "automation rule add": ("/automationruleview/add", new_rule),
        "automation rule edit": (f"/automationruleview/edit/{rid}", new_rule),
        "automation rule delete": (f"/automationruleview/delete/{rid}", {}),
        "action add": (f"/serveractionview/add?rule_id={rid}", action),
        "action edit": (f"/serveractionview/edit/{aid}", action),
        "action delete": (f"/serveractionview/delete/{aid}", {}),
        "rotate secret": (f"/webhookview/rotate_secret/{rid}", {}),
        "dry run": (
            f"/webhookview/dry_run/{rid}",
            {"payload": '{"_model": "sale.order", "_id": 7}'},
        ),
        "developer mode": ("/devmode/toggle", {"next": "/"}),
    }


@pytest.mark.parametrize("language", ["en", "th"])
@pytest.mark.parametrize("token", [None, "forged"], ids=["missing", "forged"])
def test_every_webhooks_form_and_button_needs_the_token(
    app: Flask, admin_web: WebClient, rule: dict[str, Any], language: str, token: str | None
) -> None:
    assert admin_web.get(f"/lang/{language}").status_code == 302
    before = snapshot(app)
    devmode = stored(app, ADMIN.username)
    for name, (url, data) in forms_and_buttons(rule).items():
        body = dict(data, csrf_token=token) if token else dict(data)
        response = admin_web.client.post(url, data=body)
        assert response.status_code == 400, f"{name}: {response.status_code}"
    assert snapshot(app) == before
    assert stored(app, ADMIN.username) == devmode


def test_the_pages_token_is_what_makes_a_post_work(
    app: Flask, admin_web: WebClient, rule: dict[str, Any]
) -> None:
    # The counter-proof, on the buttons of the rule's page: same posts, with the page's token.
    page = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    token = csrf_token_from(page)
    buttons = forms_and_buttons(rule)
    url, data = buttons["dry run"]
    assert admin_web.client.post(url, data={**data, "csrf_token": token}).status_code == 200
    url, data = buttons["rotate secret"]
    assert admin_web.client.post(url, data={**data, "csrf_token": token}).status_code == 302
    after = read(app, "base.automation", [("id", "=", rule["id"])], ["webhook_secret"])[0]
    assert after["webhook_secret"] != rule["secret"]


#: The only routes outside the REST API that take a POST without a CSRF token.
EXEMPT_PREFIXES = ("/web/hook/",)


def test_only_the_webhook_endpoint_takes_a_post_without_a_token(
    app: Flask, admin_web: WebClient, rule: dict[str, Any]
) -> None:
    """Every state-changing route outside /api/ refuses a tokenless POST, as a logged-in admin
    (so no permission check could be what refuses)."""
    before = snapshot(app)
    checked = []
    for url_rule in app.url_map.iter_rules():
        methods = (url_rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
        if not methods or url_rule.rule.startswith(("/api/", *EXEMPT_PREFIXES)):
            continue
        url = re.sub(r"<(?:int:|string:)?pk>", str(rule["id"]), url_rule.rule)
        url = re.sub(r"<[^>]+>", "x", url)
        for method in sorted(methods):
            response = admin_web.client.open(url, method=method, data={"name": "Forged"})
            assert response.status_code == 400, f"{method} {url}: {response.status_code}"
            checked.append(f"{method} {url}")
    assert snapshot(app) == before
    for route in ("/webhookview/rotate_secret/", "/webhookview/dry_run/", "/devmode/toggle"):
        assert any(route in line for line in checked), route
    assert len(checked) >= 30, checked

    # The exempt one really is exempt: the secret is its credential.
    response = app.test_client().post(rule["path"], json={"_model": "sale.order", "_id": 7})
    assert response.status_code == 200, response.get_json()


def test_the_exemptions_are_the_webhook_blueprint_and_fabs_rest_apis(app: Flask) -> None:
    """Flask-WTF's own exemption list: the webhook blueprint, FAB's API blueprints (JWT only,
    see test_web_security), no single view."""
    assert app.config["WTF_CSRF_ENABLED"] is not False
    assert not csrf._exempt_views
    exempt = {bp.name if hasattr(bp, "name") else bp for bp in csrf._exempt_blueprints}
    assert "webhook_endpoint" in exempt
    prefixes = {}
    for url_rule in app.url_map.iter_rules():
        blueprint = url_rule.endpoint.rpartition(".")[0]
        if blueprint in exempt:
            prefixes.setdefault(blueprint, set()).add(url_rule.rule)
    for blueprint, rules in prefixes.items():
        expected = "/web/hook/" if blueprint == "webhook_endpoint" else "/api/"
        assert all(rule.startswith(expected) for rule in rules), (blueprint, rules)
