"""The secret webhook URL: ``/web/hook/<secret>`` (no login, CSRF-exempt).

Anyone with the URL can run the rule, so the secret is the credential: 256 random bits, looked
up by its SHA-256 digest and compared in constant time. Answers are JSON and never contain a
traceback: 200 and 500 come from the rule, 400 and 413 from reading the request, 404 for an
unknown secret, 405 for a method other than GET and POST, 503 (with ``Retry-After``) when the
database is busy or unavailable. docs/security.md lists what each bad input gets.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request

from addons.webhooks.database import DatabaseProblem, database_errors
from addons.webhooks.engine import ActionSpec, Outcome, RuleSpec
from addons.webhooks.guards import RuleGuards, admit, request_key
from addons.webhooks.idempotency import Answer, once
from addons.webhooks.models import AutomationRule, ServerAction, secret_digest
from addons.webhooks.payloads import PayloadError, parse_payload
from addons.webhooks.settings import setting
from addons.webhooks.transactions import CallLog, log_failure, run_call
from nightpos_app.extensions import db
from nightpos_app.models import utcnow

logger = logging.getLogger(__name__)

blueprint = Blueprint("webhook_endpoint", __name__)

#: Secrets are token_urlsafe(32): 43 characters. Longer input is not looked up at all.
MAX_SECRET_LENGTH = 128

ALLOWED_METHODS = ("GET", "POST")
#: Methods answered 405 in JSON here rather than by the router in HTML. HEAD is one of them: it
#: would run the rule as GET does, for a caller that only wanted to check the URL.
REFUSED_METHODS = ("HEAD", "OPTIONS", "PUT", "PATCH", "DELETE", "TRACE")


_RULES = AutomationRule.__table__
_ACTIONS = ServerAction.__table__
#: The rule and its actions in one query, read with Core: a call needs their values, not ORM
#: objects, and building those cost more than the rest of the look-up.
_FIND_RULE = (
    sa.select(
        _RULES,
        _ACTIONS.c.id.label("action_id"),
        _ACTIONS.c.name.label("action_name"),
        _ACTIONS.c.action_type.label("action_type"),
        _ACTIONS.c.settings.label("action_settings"),
    )
    # Only active actions (a webhook receiver answering 410 Gone deactivates a Send Webhook).
    .outerjoin(_ACTIONS, sa.and_(_ACTIONS.c.rule_id == _RULES.c.id, _ACTIONS.c.active.is_(True)))
    # The current secret, or the previous one during a rotation's grace period: both columns
    # are indexed, so this stays two index look-ups.
    .where(
        sa.or_(
            _RULES.c.webhook_secret_digest == sa.bindparam("digest"),
            _RULES.c.previous_secret_digest == sa.bindparam("digest"),
        )
    )
    .order_by(_ACTIONS.c.sequence, _ACTIONS.c.id)
)


def find_rule(secret: str) -> tuple[sa.Row[Any], RuleSpec] | None:
    """The active webhook rule whose secret is ``secret``, or None.

    Returns the rule's row (its columns as attributes) and what running it needs.
    """
    if len(secret) > MAX_SECRET_LENGTH:
        return None
    digest = secret_digest(secret)
    found = db.session.execute(_FIND_RULE, {"digest": digest}).all()
    if not found:
        return None
    # A secret is some rule's current one or (in a grace period) another's previous one;
    # prefer the current match, and keep only that rule's rows.
    rule = next((r for r in found if r.webhook_secret_digest == digest), found[0])
    rows = [r for r in found if r.id == rule.id]
    if hmac.compare_digest(rule.webhook_secret_digest.encode(), digest.encode()):
        if not hmac.compare_digest(rule.webhook_secret.encode(), secret.encode()):
            return None
    elif not (
        # Only the previous secret's digest is stored: compare digests, in constant time too.
        hmac.compare_digest((rule.previous_secret_digest or "").encode(), digest.encode())
        and rule.previous_secret_expires_at is not None
        and rule.previous_secret_expires_at > utcnow()
    ):
        return None
    if not rule.active or rule.trigger != "on_webhook":
        return None
    spec = RuleSpec(
        id=rule.id,
        name=rule.name,
        model=rule.model,
        target_record=rule.target_record,
        actions=tuple(
            ActionSpec(
                row.action_id, row.action_name, row.action_type, dict(row.action_settings or {})
            )
            for row in rows
            if row.action_id is not None
        ),
        cpu_seconds=rule.cpu_seconds,
    )
    return rule, spec


def _answer(status: int, body: dict[str, object], **headers: str) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers)
    return response


@blueprint.route(
    "/web/hook/<string:secret>",
    methods=[*ALLOWED_METHODS, *REFUSED_METHODS],
    provide_automatic_options=False,
)
def webhook(secret: str) -> Response:
    if request.method not in ALLOWED_METHODS:
        return _answer(
            405,
            {"status": "error", "message": "Use POST (or GET with query parameters)."},
            Allow=", ".join(ALLOWED_METHODS),
        )
    try:
        return _call(secret)
    except DatabaseProblem as problem:
        _discard_transaction()
        logger.warning("webhook call answered 503: %s", problem)
        return _answer(
            503,
            {"status": "error", "message": problem.message},
            **{"Retry-After": str(problem.retry_after)},
        )
    except Exception:  # a bug of ours: the caller gets a reference, the log the details
        _discard_transaction()
        reference = uuid.uuid4().hex[:12]
        logger.exception("webhook call failed unexpectedly (reference %s)", reference)
        message = f"An unexpected error occurred (reference {reference})."
        return _answer(500, {"status": "error", "message": message})


def _discard_transaction() -> None:
    """Roll back whatever is left; a connection that is gone cannot spoil the answer."""
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        logger.debug("rollback after a failed webhook call failed too", exc_info=True)


def _call(secret: str) -> Response:
    with database_errors():
        found = find_rule(secret)
        if found is None:
            return _answer(404, {"status": "error"})
        rule, spec = found
        guards = RuleGuards.of(rule)
        log = CallLog(rule.id, request.method, request.remote_addr) if rule.log_calls else None
    # The rule's guards (addons/webhooks/guards.py): 403, 413, 401, 429 before anything runs.
    refusal = admit(guards, request, setting("WEBHOOK_MAX_BODY_BYTES"))
    if refusal is not None:
        if log is not None:
            log_failure(log, None, Outcome(refusal.status, refusal.body, error=refusal.message))
        return _answer(refusal.status, refusal.body, **refusal.headers)
    try:
        payload = parse_payload(request, setting("WEBHOOK_MAX_BODY_BYTES"))
    except PayloadError as exc:
        body = {"status": "error", "message": exc.message}
        if log is not None:
            log_failure(log, None, Outcome(exc.status, body, error=exc.message))
        return _answer(exc.status, body)
    key = request_key(guards, request)
    if key is None:
        outcome = run_call(spec, payload, log)
        return _answer(outcome.http_status, outcome.body)

    def run() -> Answer:
        outcome = run_call(spec, payload, log)
        return Answer(outcome.http_status, outcome.body, {})

    # A key seen before gets its first answer again, without running (idempotency.py).
    answer = once(guards.rule_id, key, run)
    return _answer(answer.status, answer.body, **answer.headers)
