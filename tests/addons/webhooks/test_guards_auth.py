"""Request authentication over HTTP: Standard Webhooks, GitHub signatures, a shared header.

The senders here sign with their own code (hashlib and base64 directly, written apart from
addons/webhooks/incoming/guards.py), so a mistake in the server's verification cannot cancel out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
import uuid

import pytest
import sqlalchemy as sa

from addons.webhooks.models import AutomationRule, WebhookCall
from nightpos_app.extensions import db
from tests.addons.webhooks.guard_support import counting_rule, runs
from tests.addons.webhooks.live_server import serving


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


# --- Digits other than ASCII's (docs/security.md, "Request authentication") ----------------

#: ``str.isdigit()`` is true for each of these; ``int()`` refuses superscripts (once a 500) and
#: reads the others as numbers (once a timestamp the sender signed as other bytes).
DIGITS = {
    "superscript": str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"),
    "arabic-indic": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
    "fullwidth": str.maketrans("0123456789", "０１２３４５６７８９"),
}
NOT_A_TIME = "The webhook-timestamp header is not a Unix time in seconds."


def calls_logged(app, rule_id):
    with app.app_context():
        return [
            (row.status, row.http_status)
            for row in db.session.scalars(
                sa.select(WebhookCall)
                .where(WebhookCall.rule_id == rule_id)
                .order_by(WebhookCall.id)
            )
        ]


@pytest.mark.parametrize("script", DIGITS)
def test_a_timestamp_in_other_digits_is_401(app, client, standard_rule, script):
    body = body_for(f"std digits {script}")
    secret = standard_rule["signing_secret"]
    # "123", and the current time correctly signed in those digits: neither is a Unix time.
    for number in ("123", str(int(time.time()))):
        headers = standard_headers(secret, body, timestamp=number.translate(DIGITS[script]))
        response = post(client, standard_rule, body, headers)
        assert (response.status_code, response.get_json()) == (
            401,
            {"status": "error", "message": NOT_A_TIME},
        ), response.get_data(as_text=True)
    assert runs(app, f"std digits {script}") == 0
    assert calls_logged(app, standard_rule["id"]) == [("error", 401), ("error", 401)]


@pytest.mark.parametrize("script", DIGITS)
def test_signatures_in_other_digits_are_401(app, client, standard_rule, make_rule, script):
    body = body_for(f"sig digits {script}")
    table = DIGITS[script]
    headers = standard_headers(standard_rule["signing_secret"], body)
    headers["webhook-signature"] = "v1," + ("0123456789" * 4 + "AAAA").translate(table)
    response = post(client, standard_rule, body, headers)
    assert (response.status_code, response.get_json()) == (
        401,
        {"status": "error", "message": "The webhook-signature does not match."},
    )

    github = counting_rule(make_rule, auth_scheme="github")
    spoilt = {
        "X-Hub-Signature-256": "sha256="
        + hmac.new(signing_secret(app, github["id"]).encode(), body, hashlib.sha256)
        .hexdigest()
        .translate(table)
    }
    assert any(not c.isascii() for c in spoilt["X-Hub-Signature-256"])
    response = post(client, github, body, spoilt)
    assert (response.status_code, response.get_json()) == (
        401,
        {"status": "error", "message": "The X-Hub-Signature-256 signature does not match."},
    )
    assert runs(app, f"sig digits {script}") == 0


def test_other_digits_as_raw_header_bytes_over_a_real_server_are_401(app, standard_rule):
    # Over a socket, header bytes reach the app decoded as Latin-1: "\xb9\xb9\xb9" is "¹¹¹"
    # (the report's case), UTF-8 digits of other scripts arrive as other characters.
    body = body_for("raw digits")
    secret = standard_rule["signing_secret"]
    with serving(app) as (host, port):
        for raw in (b"\xb9\xb9\xb9", b"\xb2\xb3", "١٢٣".encode(), "１２３".encode()):
            headers = {
                **standard_headers(secret, body),
                "webhook-timestamp": raw,
                "Content-Type": "application/json",
            }
            connection = http.client.HTTPConnection(host, port, timeout=10)
            try:
                connection.request("POST", standard_rule["path"], body=body, headers=headers)
                response = connection.getresponse()
                answer = (response.status, response.getheader("Content-Type"), response.read())
            finally:
                connection.close()
            assert answer[:2] == (401, "application/json"), answer
            assert json.loads(answer[2]) == {"status": "error", "message": NOT_A_TIME}
    assert runs(app, "raw digits") == 0


def test_a_github_redelivery_answers_the_stored_response_without_running_again(app, make_rule):
    # GitHub's "Redeliver" sends the same body, signature and X-GitHub-Delivery again.
    rule = counting_rule(make_rule, auth_scheme="github", log_calls=True)
    secret = signing_secret(app, rule["id"])
    assert secret.startswith("whsec_")  # GitHub is given the whole text, and signs with it
    body = body_for("gh redelivery")
    delivery = str(uuid.uuid4())
    headers = {
        **github_headers(secret, body),
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "push",
        "Content-Type": "application/json",
    }

    def send(extra=None):
        connection = http.client.HTTPConnection(host, port, timeout=10)
        try:
            connection.request(
                "POST", rule["path"], body=body, headers={**headers, **(extra or {})}
            )
            response = connection.getresponse()
            return response.status, response.getheader("Idempotent-Replayed"), response.read()
        finally:
            connection.close()

    with serving(app) as (host, port):
        first = send()
        again = send()
        other = send({"X-GitHub-Delivery": str(uuid.uuid4())})  # a new delivery runs
    assert first == (200, None, again[2]) and json.loads(first[2]) == {"status": "ok"}
    assert again[:2] == (200, "true")
    assert other[:2] == (200, None)
    assert runs(app, "gh redelivery") == 2
    with app.app_context():
        assert [
            row.replayed
            for row in db.session.scalars(
                sa.select(WebhookCall)
                .where(WebhookCall.rule_id == rule["id"])
                .order_by(WebhookCall.id)
            )
        ] == [False, True, False]


def test_a_github_delivery_id_too_long_to_keep_is_refused(app, client, make_rule):
    rule = counting_rule(make_rule, auth_scheme="github")
    secret = signing_secret(app, rule["id"])
    body = body_for("gh long id")
    headers = {**github_headers(secret, body), "X-GitHub-Delivery": "d" * 256}
    assert post(client, rule, body, headers).status_code == 400
    assert runs(app, "gh long id") == 0
