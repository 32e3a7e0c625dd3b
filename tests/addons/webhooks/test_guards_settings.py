"""The request-guard settings on the rule form, the rule page and the REST API."""

from __future__ import annotations

import pytest
from flask import Flask

from addons.webhooks.models import AutomationRule
from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import location
from tests.addons.webhooks.test_api import RULES, reader  # noqa: F401 (a fixture)
from tests.addons.webhooks.test_devmode_and_rule_form import rule_form_error
from tests.support.web import (
    ADMIN,
    ApiClient,
    Credentials,
    WebClient,
    api_client,
    form_values,
    one_context_per_request,
    page_text,
)

_ = one_context_per_request

ADD = "/webhookview/add?model=sale.order"


def test_the_form_saves_the_guards(app: Flask, admin_web: WebClient, clean_rules) -> None:
    data = {
        **form_values(admin_web.get(ADD).get_data(as_text=True)),
        "name": "Guarded",
        "auth_scheme": "github",
        "ip_allowlist": "203.0.113.0/24\n2001:db8::/32",
        "rate_limit": "60/minute",
        "idempotency": "y",
    }
    response = admin_web.client.post(ADD, data=data)
    assert location(response).startswith("/webhookview/show/"), page_text(response)
    (rule,) = read(
        app,
        "base.automation",
        [("name", "=", "Guarded")],
        ["auth_scheme", "ip_allowlist", "rate_limit", "idempotency", "signing_secret"],
    )
    assert rule["auth_scheme"] == "github"
    assert rule["ip_allowlist"] == "203.0.113.0/24\n2001:db8::/32"
    assert (rule["rate_limit"], rule["idempotency"]) == ("60/minute", True)
    page = admin_web.get(location(response)).get_data(as_text=True)
    assert rule["signing_secret"] in page, "admins see the signing secret on the rule page"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ip_allowlist", "10.0.0.0/8\n300.1.2.3", "Line 2"),
        ("ip_allowlist", "2001:db8::/129", "Line 1"),
        ("rate_limit", "fast", "not a rate limit"),
    ],
)
def test_bad_guard_settings_are_refused_on_the_form(
    app: Flask, admin_web: WebClient, clean_rules, field: str, value: str, message: str
) -> None:
    data = {**form_values(admin_web.get(ADD).get_data(as_text=True)), "name": "Bad", field: value}
    response = admin_web.client.post(ADD, data=data)
    assert response.status_code == 200
    assert message in rule_form_error(response.get_data(as_text=True), field)
    assert read(app, "base.automation", [], ["name"]) == []


def test_the_api_shows_the_signing_secret_only_to_those_who_may_read_secrets(
    app: Flask,
    make_rule,
    reader: Credentials,  # noqa: F811 (the imported fixture)
) -> None:
    rule = make_rule("sale.order", auth_scheme="standard")
    with app.app_context():
        secret = db.session.get(AutomationRule, rule["id"]).signing_secret
    admin = api_client(app.test_client(), ADMIN)
    shown = admin.get(f"{RULES}{rule['id']}").get_json()["result"]
    assert shown["signing_secret"] == secret and shown["auth_scheme"] == "standard"
    other = api_client(app.test_client(), reader)
    for url in (f"{RULES}{rule['id']}", RULES):
        response = other.get(url)
        assert response.status_code == 200
        assert secret not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ip_allowlist": "not-an-ip"}, "ip_allowlist"),
        ({"rate_limit": "lots"}, "rate_limit"),
        ({"auth_scheme": "basic"}, "auth_scheme"),
    ],
)
def test_the_api_validates_the_guards(app: Flask, clean_rules, body, field) -> None:
    api: ApiClient = api_client(app.test_client(), ADMIN)
    response = api.post(RULES, {"name": "R", "model": "sale.order", **body})
    assert response.status_code == 422
    assert field in response.get_json()["message"]
    ok = api.post(
        RULES,
        {"name": "R", "model": "sale.order", "ip_allowlist": "::1", "rate_limit": "5/second"},
    )
    assert ok.status_code == 201, ok.get_json()


def test_rotating_the_signing_secret_through_the_api(
    app: Flask,
    client,
    make_rule,
    reader: Credentials,  # noqa: F811 (the imported fixture)
) -> None:
    rule = make_rule("sale.order", auth_scheme="header")
    with app.app_context():
        old = db.session.get(AutomationRule, rule["id"]).signing_secret
    other = api_client(app.test_client(), reader)
    assert other.post(f"{RULES}{rule['id']}/rotate_signing_secret").status_code == 403
    admin = api_client(app.test_client(), ADMIN)
    response = admin.post(f"{RULES}{rule['id']}/rotate_signing_secret")
    assert response.status_code == 200
    new = response.get_json()["result"]["signing_secret"]
    assert new.startswith("whsec_") and new != old
    assert client.post(rule["path"], json={}, headers={"X-Webhook-Token": old}).status_code == 401
