"""Request authentication over HTTP: Standard Webhooks, GitHub signatures, a shared header.

The senders here sign with their own code (hashlib and base64 directly, written apart from
addons/webhooks/guards.py), so a mistake in the server's verification cannot cancel out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
import sqlalchemy as sa

from addons.webhooks.models import AutomationRule, WebhookCall
from nightpos_app.extensions import db
from tests.addons.webhooks.guard_support import counting_rule, runs


def signing_secret(app, rule_id):
    with app.app_context():
        return db.session.get(AutomationRule, rule_id).signing_secret


def standard_headers(secret, body, *, msg_id=None, timestamp=None):
    """Standard Webhooks headers, per the specification's text."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(secret[len("whsec_") :])
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature}",
    }


def github_headers(secret, body):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


def body_for(name):
    return json.dumps({"name": name}).encode()


@pytest.fixture
def standard_rule(app, make_rule):
    rule = counting_rule(make_rule, auth_scheme="standard", log_calls=True)
    rule["signing_secret"] = signing_secret(app, rule["id"])
    return rule


def post(client, rule, body, headers):
    return client.post(rule["path"], data=body, headers=headers, content_type="application/json")


def test_rules_have_a_generated_signing_secret_and_no_authentication_by_default(app, make_rule):
    first, second = counting_rule(make_rule), counting_rule(make_rule)
    with app.app_context():
        one = db.session.get(AutomationRule, first["id"])
        two = db.session.get(AutomationRule, second["id"])
        assert one.auth_scheme == "none"
        assert one.signing_secret.startswith("whsec_")
        assert len(base64.b64decode(one.signing_secret[6:])) == 32
        assert one.signing_secret != two.signing_secret


def test_standard_signature_passes(app, client, standard_rule):
    body = body_for("std ok")
    headers = standard_headers(standard_rule["signing_secret"], body)
    response = post(client, standard_rule, body, headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert runs(app, "std ok") == 1


def test_one_of_several_signatures_may_match(app, client, standard_rule):
    body = body_for("std rotate")
    headers = standard_headers(standard_rule["signing_secret"], body)
    headers["webhook-signature"] = "v1,AAAA v2,xyz " + headers["webhook-signature"]
    assert post(client, standard_rule, body, headers).status_code == 200
    assert runs(app, "std rotate") == 1


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda h, s, b: standard_headers("whsec_" + "A" * 44, b), id="wrong-secret"),
        pytest.param(
            lambda h, s, b: {**h, "webhook-signature": h["webhook-signature"][:-4] + "AAA="},
            id="wrong-signature",
        ),
        pytest.param(
            lambda h, s, b: standard_headers(s, b, timestamp=int(time.time()) - 6 * 60),
            id="old-timestamp",
        ),
        pytest.param(
            lambda h, s, b: standard_headers(s, b, timestamp=int(time.time()) + 6 * 60),
            id="future-timestamp",
        ),
        pytest.param(lambda h, s, b: {**h, "webhook-timestamp": "nan"}, id="bad-timestamp"),
        pytest.param(lambda h, s, b: {**h, "webhook-signature": "v1,%%%"}, id="not-base64"),
        pytest.param(lambda h, s, b: {**h, "webhook-signature": "garbage"}, id="no-version"),
        pytest.param(lambda h, s, b: {k: v for k, v in h.items() if k != "webhook-id"}, id="no-id"),
        pytest.param(lambda h, s, b: {}, id="no-headers"),
    ],
)
def test_bad_standard_signatures_are_refused_and_nothing_runs(app, client, standard_rule, spoil):
    body = body_for("std refused")
    secret = standard_rule["signing_secret"]
    headers = spoil(standard_headers(secret, body), secret, body)
    response = post(client, standard_rule, body, headers)
    assert response.status_code == 401
    reply = response.get_json()
    assert reply["status"] == "error" and reply["message"]
    assert secret not in response.get_data(as_text=True)
    assert runs(app, "std refused") == 0


def test_tampered_body_is_refused(app, client, standard_rule):
    headers = standard_headers(standard_rule["signing_secret"], body_for("std original"))
    response = post(client, standard_rule, body_for("std tampered"), headers)
    assert response.status_code == 401
    assert runs(app, "std tampered") == 0 and runs(app, "std original") == 0


def test_refusals_are_logged_without_the_secret(app, client, standard_rule):
    body = body_for("std logged")
    post(client, standard_rule, body, standard_headers("whsec_" + "B" * 44, body))
    with app.app_context():
        rows = db.session.scalars(
            sa.select(WebhookCall).where(WebhookCall.rule_id == standard_rule["id"])
        ).all()
        assert [(row.status, row.http_status) for row in rows] == [("error", 401)]
        assert standard_rule["signing_secret"] not in (rows[0].error_message or "")


def test_a_replayed_webhook_id_is_not_run_twice(app, client, standard_rule):
    body = body_for("std replay")
    headers = standard_headers(standard_rule["signing_secret"], body, msg_id="msg_replay_1")
    first = post(client, standard_rule, body, headers)
    second = post(client, standard_rule, body, headers)
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert runs(app, "std replay") == 1


def test_a_form_body_is_verified_and_parsed(app, client, standard_rule):
    body = b"name=std+form"
    headers = standard_headers(standard_rule["signing_secret"], body)
    response = client.post(
        standard_rule["path"],
        data=body,
        headers=headers,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert runs(app, "std form") == 1


def test_a_too_large_body_is_413_before_authentication(app, client, standard_rule):
    app.config["WEBHOOK_MAX_BODY_BYTES"] = 100
    try:
        response = post(client, standard_rule, b"{" + b" " * 200 + b"}", {})
    finally:
        del app.config["WEBHOOK_MAX_BODY_BYTES"]
    assert response.status_code == 413


def test_github_signature(app, client, make_rule):
    rule = counting_rule(make_rule, auth_scheme="github")
    secret = signing_secret(app, rule["id"])
    body = body_for("gh ok")
    assert post(client, rule, body, github_headers(secret, body)).status_code == 200
    assert runs(app, "gh ok") == 1
    for headers in (
        github_headers("wrong secret", body_for("gh bad")),
        github_headers(secret, body),  # signed another body
        {"X-Hub-Signature-256": "sha1=abc"},
        {},
    ):
        response = post(client, rule, body_for("gh bad"), headers)
        assert response.status_code == 401
        assert response.get_json()["status"] == "error"
    assert runs(app, "gh bad") == 0


def test_shared_secret_header(app, client, make_rule):
    rule = counting_rule(make_rule, auth_scheme="header", auth_header="X-Shop-Token")
    secret = signing_secret(app, rule["id"])
    ok = post(client, rule, body_for("hdr ok"), {"X-Shop-Token": secret})
    assert ok.status_code == 200
    for headers in ({"X-Shop-Token": secret[:-1]}, {"X-Webhook-Token": secret}, {}):
        assert post(client, rule, body_for("hdr bad"), headers).status_code == 401
    assert runs(app, "hdr ok") == 1 and runs(app, "hdr bad") == 0


def test_signatures_made_by_the_standard_webhooks_library_pass(app, client, standard_rule):
    """Interoperability: a sender using the reference library (standardwebhooks) is accepted."""
    import datetime as dt

    from standardwebhooks.webhooks import Webhook

    body = body_for("signed by the library")
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = dt.datetime.now(dt.UTC)
    signature = Webhook(standard_rule["signing_secret"]).sign(msg_id, now, body.decode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    response = post(client, standard_rule, body, headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert runs(app, "signed by the library") == 1

    # The same library-made headers on another body are refused.
    tampered = body_for("tampered")
    assert post(client, standard_rule, tampered, headers).status_code == 401
    assert runs(app, "tampered") == 0
