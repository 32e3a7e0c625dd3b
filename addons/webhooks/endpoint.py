"""The secret webhook URL: ``/web/hook/<secret>`` (no login, CSRF-exempt).

Anyone with the URL can run the rule, so the secret is the credential: 256 random bits, looked
up by its SHA-256 digest and compared in constant time. Answers are JSON and never contain a
traceback.
"""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request

from addons.webhooks.calllog import record_call
from addons.webhooks.engine import Outcome, run_rule
from addons.webhooks.models import AutomationRule, secret_digest
from addons.webhooks.payloads import PayloadError, parse_payload
from addons.webhooks.settings import setting
from nightpos_app.extensions import db

blueprint = Blueprint("webhook_endpoint", __name__)

#: Secrets are token_urlsafe(32): 43 characters. Longer input is not looked up at all.
MAX_SECRET_LENGTH = 128


def find_rule(secret: str) -> AutomationRule | None:
    """The active webhook rule whose secret is ``secret``, or None."""
    if len(secret) > MAX_SECRET_LENGTH:
        return None
    rule = db.session.scalar(
        sa.select(AutomationRule).where(
            AutomationRule.webhook_secret_digest == secret_digest(secret)
        )
    )
    if rule is None or not hmac.compare_digest(rule.webhook_secret.encode(), secret.encode()):
        return None
    if not rule.active or rule.trigger != "on_webhook":
        return None
    return rule


def _answer(status: int, body: dict[str, object]) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/web/hook/<string:secret>", methods=["GET", "POST"])
def webhook(secret: str) -> Response:
    rule = find_rule(secret)
    if rule is None:
        return _answer(404, {"status": "error"})
    rule_id, log_calls = rule.id, rule.log_calls
    try:
        payload = parse_payload(request, setting("WEBHOOK_MAX_BODY_BYTES"))
    except PayloadError as exc:
        body = {"status": "error", "message": exc.message}
        if log_calls:
            record_call(
                rule_id,
                request.method,
                None,
                Outcome(exc.status, body, error=exc.message),
                request.remote_addr,
            )
        return _answer(exc.status, body)
    outcome = run_rule(rule, payload)
    if log_calls:
        record_call(rule_id, request.method, payload, outcome, request.remote_addr)
    return _answer(outcome.http_status, outcome.body)
