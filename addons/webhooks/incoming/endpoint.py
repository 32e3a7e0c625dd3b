"""The secret webhook URL: ``/web/hook/<secret>`` (no login, CSRF-exempt).

Anyone with the URL can run the rule, so the secret is the credential: 256 random bits, looked
up by its SHA-256 digest and compared in constant time. Answers are JSON and never contain a
traceback: 200 and 500 come from the rule, 400 and 413 from reading the request, 404 for an
unknown secret, 405 for a method other than GET and POST, 503 (with ``Retry-After``) when the
database is busy or unavailable. docs/security.md lists what each bad input gets.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, g, jsonify, request

from addons.webhooks.database import DatabaseProblem, database_errors
from addons.webhooks.incoming.guards import admit, request_key
from addons.webhooks.incoming.idempotency import Answer, Claim, once, store_answer
from addons.webhooks.incoming.inbox import ACCEPTED, InboxFull, accept, accepted_body
from addons.webhooks.incoming.payloads import PayloadError, parse_payload
from addons.webhooks.incoming.webhook_rules import StaleRule, WebhookRule, find_rule, is_current
from addons.webhooks.metrics import observe_call
from addons.webhooks.rules.calllog import LoggedPayload
from addons.webhooks.rules.engine import Outcome
from addons.webhooks.rules.transactions import CallLog, log_failure, run_call
from addons.webhooks.settings import setting
from nightpos_app.extensions import db

logger = logging.getLogger(__name__)

blueprint = Blueprint("webhook_endpoint", __name__)

ALLOWED_METHODS = ("GET", "POST")
#: Methods answered 405 in JSON here rather than by the router in HTML. HEAD is one of them: it
#: would run the rule as GET does, for a caller that only wanted to check the URL.
REFUSED_METHODS = ("HEAD", "OPTIONS", "PUT", "PATCH", "DELETE", "TRACE")


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
    started = time.perf_counter()
    response = _answer_call(secret)
    # Metrics and the call's log event: in memory, no database work.
    observe_call(g.pop(_RULE_ID, None), response.status_code, time.perf_counter() - started)
    return response


#: Where the call's rule id is kept for its metrics (``flask.g``), once the secret matched.
_RULE_ID = "nightpos_webhook_rule_id"


def _answer_call(secret: str) -> Response:
    if request.method not in ALLOWED_METHODS:
        return _answer(
            405,
            {"status": "error", "message": "Use POST (or GET with query parameters)."},
            Allow=", ".join(ALLOWED_METHODS),
        )
    try:
        return _call(secret)
    except (DatabaseProblem, InboxFull) as problem:
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
        rule = find_rule(secret)
    if rule is None:
        return _answer(404, {"status": "error"})
    body = _Body()
    try:
        return _run(rule, body)
    except StaleRule:
        # The process's copy is out of date: answer as the rule is now. Nothing the old copy
        # did was kept (though a rate limit has counted the call twice).
        _discard_transaction()
        with database_errors():
            rule = find_rule(secret, use_cache=False)
        if rule is None:
            return _answer(404, {"status": "error"})
        return _run(rule, body)


class _Body:
    """The call's payload, parsed once (a call started again reads it from here)."""

    def __init__(self) -> None:
        self._parsed: Any = None
        self._read = False

    def payload(self) -> Any:
        """The payload, or the :class:`PayloadError` (400, 413) reading it raised."""
        if not self._read:
            try:
                self._parsed = parse_payload(request, setting("WEBHOOK_MAX_BODY_BYTES"))
            except PayloadError as exc:
                self._parsed = exc
            self._read = True
        if isinstance(self._parsed, PayloadError):
            raise self._parsed
        return self._parsed


def _run(rule: WebhookRule, body: _Body) -> Response:
    """Admit the call, read its payload and run ``rule``. With a rule that is not ``fresh``,
    a refusal or a bad payload is answered only once the rule is known to be current
    (:class:`StaleRule` otherwise), so that no call is refused by settings that changed."""
    setattr(g, _RULE_ID, rule.id)
    log = (
        CallLog(rule.id, request.method, request.remote_addr, rule.keep_payloads)
        if rule.log_calls
        else None
    )
    # The rule's guards (incoming/guards.py): 403, 413, 401, 429 before anything runs.
    refusal = admit(rule.guards, request, setting("WEBHOOK_MAX_BODY_BYTES"))
    if refusal is not None:
        _confirm(rule)
        if log is not None:
            log_failure(log, None, Outcome(refusal.status, refusal.body, error=refusal.message))
        return _answer(refusal.status, refusal.body, **refusal.headers)
    try:
        payload = body.payload()
    except PayloadError as exc:
        _confirm(rule)
        answer = {"status": "error", "message": exc.message}
        if log is not None:
            log_failure(log, None, Outcome(exc.status, answer, error=exc.message))
        return _answer(exc.status, answer)
    check = None if rule.fresh else functools.partial(_confirm, rule)
    key = request_key(rule.guards, request)
    if rule.at_once:
        # Respond at once (incoming/inbox.py): checked as above, stored, answered 202.
        def accept_call(claim: Claim | None = None) -> Answer:
            def store(call_id: int) -> None:
                # The key's answer is stored with the call, in one commit (idempotency.py).
                store_answer(claim, Answer(ACCEPTED, accepted_body(call_id), {}))

            call_id = accept(
                rule.id,
                request.method,
                payload,
                request.remote_addr,
                check,
                before_commit=store if claim is not None else None,
            )
            return Answer(ACCEPTED, accepted_body(call_id), {}, stored=claim is not None)

        answer = accept_call() if key is None else once(rule.id, key, accept_call)
        return _answer(answer.status, answer.body, **answer.headers)
    if key is None:
        outcome = run_call(rule.spec, payload, log, check)
        return _answer(outcome.http_status, outcome.body)

    def run(claim: Claim) -> Answer:
        def store(outcome: Outcome) -> None:
            store_answer(claim, Answer(outcome.http_status, outcome.body, {}))

        # A success's answer is kept with the rule's work, in one commit: a call killed
        # before it leaves nothing, and its key can be taken over (idempotency.py).
        outcome = run_call(rule.spec, payload, log, check, before_commit=store)
        return Answer(outcome.http_status, outcome.body, {}, stored=outcome.ok)

    # A key seen before gets its first answer again, without running (idempotency.py).
    started = time.perf_counter()
    answer = once(rule.id, key, run)
    if answer.replayed and log is not None:
        # The rule did not run, but the request reached the URL: an auditor sees it, marked.
        message = answer.body.get("message")
        outcome = Outcome(
            answer.status,
            answer.body,
            error=message if isinstance(message, str) else None,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        log_failure(log, LoggedPayload.of(payload), outcome, replayed=True, check=check)
    return _answer(answer.status, answer.body, **answer.headers)


def _confirm(rule: WebhookRule) -> None:
    """Raise :class:`StaleRule` if ``rule`` has changed since it was read."""
    with database_errors():
        current = is_current(rule)
    if not current:
        raise StaleRule
