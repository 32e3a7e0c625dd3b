"""Rotate Secret with a grace period: the previous URL keeps working until it expires."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient

from addons.webhooks.models import AutomationRule, secret_digest
from nightpos_app.extensions import db
from tests.addons.webhooks.test_api import RULES
from tests.support.web import ADMIN, WebClient, api_client

PAYLOAD = {"_model": "sale.order", "_id": 7}
NOOP = [{"name": "noop", "action_type": "execute_code", "settings": {"code": "pass"}}]


def _expire_grace(app: Flask, rule_id: int) -> None:
    """Simulate the grace period running out: its end moves into the past."""
    with app.app_context():
        rule = db.session.get(AutomationRule, rule_id)
        rule.previous_secret_expires_at = dt.datetime(2000, 1, 1)
        db.session.commit()


def _secret(app: Flask, rule_id: int) -> str:
    with app.app_context():
        return db.session.get(AutomationRule, rule_id).webhook_secret


def _rotate_on_screen(web: WebClient, rule_id: int, grace: str | None) -> str:
    url = f"/webhookview/rotate_secret/{rule_id}"
    data = {} if grace is None else {"grace": grace}
    response = web.submit(url, data, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_with_grace_the_old_url_works_until_it_expires(
    app: Flask, admin_web: WebClient, client: FlaskClient, make_rule
) -> None:
    rule = make_rule("sale.order", actions=NOOP)
    confirm = admin_web.get(f"/webhookview/rotate_secret/{rule['id']}").get_data(as_text=True)
    assert 'name="grace"' in confirm and 'value="24h"' in confirm
    page = _rotate_on_screen(admin_web, rule["id"], "24h")
    assert "The previous URL keeps working until" in page
    new_path = f"/web/hook/{_secret(app, rule['id'])}"
    assert new_path != rule["path"]
    assert client.post(rule["path"], json=PAYLOAD).status_code == 200
    assert client.post(new_path, json=PAYLOAD).status_code == 200
    with app.app_context():  # only the digest of the old secret is kept
        stored = db.session.get(AutomationRule, rule["id"])
        assert stored.previous_secret_digest == secret_digest(rule["secret"])
    _expire_grace(app, rule["id"])
    assert client.post(rule["path"], json=PAYLOAD).status_code == 404
    assert client.post(new_path, json=PAYLOAD).status_code == 200
    page = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    assert "The previous URL keeps working until" not in page


@pytest.mark.parametrize("grace", [None, "none"])
def test_without_grace_the_old_url_stops_at_once(
    app: Flask, admin_web: WebClient, client: FlaskClient, make_rule, grace: str | None
) -> None:
    rule = make_rule("sale.order", actions=NOOP)
    page = _rotate_on_screen(admin_web, rule["id"], grace)
    assert "The previous URL keeps working until" not in page
    assert client.post(rule["path"], json=PAYLOAD).status_code == 404


def test_a_second_rotation_forgets_the_first_previous_secret(
    app: Flask, admin_web: WebClient, client: FlaskClient, make_rule
) -> None:
    rule = make_rule("sale.order", actions=NOOP)
    _rotate_on_screen(admin_web, rule["id"], "7d")
    second = f"/web/hook/{_secret(app, rule['id'])}"
    _rotate_on_screen(admin_web, rule["id"], "1h")
    assert client.post(rule["path"], json=PAYLOAD).status_code == 404
    assert client.post(second, json=PAYLOAD).status_code == 200


def test_the_api_rotates_with_an_optional_grace(app: Flask, client: FlaskClient, make_rule) -> None:
    rule = make_rule("sale.order", actions=NOOP)
    api = api_client(app.test_client(), ADMIN)
    refused = api.post(f"{RULES}{rule['id']}/rotate_secret", {"grace": "forever"})
    assert refused.status_code == 400
    rotated = api.post(f"{RULES}{rule['id']}/rotate_secret", {"grace": "1h"}).get_json()
    until = dt.datetime.fromisoformat(rotated["result"]["previous_url_works_until"])
    assert dt.timedelta(minutes=59) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    assert client.post(rule["path"], json=PAYLOAD).status_code == 200
    shown = api.get(f"{RULES}{rule['id']}").get_data(as_text=True)
    assert "previous_secret_digest" not in shown
    _expire_grace(app, rule["id"])
    assert client.post(rule["path"], json=PAYLOAD).status_code == 404
    second = f"/web/hook/{rotated['result']['webhook_secret']}"
    api.post(f"{RULES}{rule['id']}/rotate_secret")  # no body: no grace
    assert client.post(second, json=PAYLOAD).status_code == 404
