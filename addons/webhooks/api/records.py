"""The read-only resources: what the addon records, never what a client writes.

* ``/api/v1/base_automation_call/`` — the call log, written by the webhook endpoint and the
  inbox's workers alone, so that it tells what really happened (old calls are pruned by
  ``flask webhooks prune-calls``). ``POST …/<id>/replay`` and ``POST …/replay`` (a selection)
  run logged calls' payloads again, as a dry run or for real (addons/webhooks/incoming/replay.py).
* ``/api/v1/webhook_delivery/`` — the outbox: messages written by Send Webhook Notification in
  the transaction of the change they report, their state by the worker. A message's extra
  headers only for ``can_read_secret`` (they often carry a receiver's credentials).
  ``POST …/<id>/retry`` makes a failed or dead message due again, ``POST …/<id>/replay`` sends
  a delivered one again (same message id).
* ``/api/v1/webhook_delivery_attempt/`` — each attempt to send a message, written by the worker.

They have no POST, PUT or DELETE route: those methods answer 405 with an ``Allow`` header, and
the spec does not list them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from werkzeug.wrappers import Response

from addons.webhooks.api.base import WebhooksApi
from addons.webhooks.incoming import replay as replays
from addons.webhooks.outgoing import outbox
from nightpos_app.extensions import db


class _BadRequest(ValueError):
    """A replay request's body is wrong (a 422 with this message)."""


def _when(body: dict[str, Any], name: str) -> dt.datetime | None:
    """An ISO 8601 time of the body as naive UTC (the call log's times); None if absent."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise _BadRequest(f"{name} must be an ISO 8601 time, e.g. 2026-12-03T10:00:00Z.")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _BadRequest(f"{name} must be an ISO 8601 time, e.g. 2026-12-03T10:00:00Z.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not int or not 0 < value < 2**31:
        raise _BadRequest(f"{name} must be a positive integer.")
    return value


def _replay_body() -> tuple[bool, replays.Selection]:
    """``dry_run`` and the selection a replay request asks for."""
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise _BadRequest("The body must be a JSON object.")
    unknown = set(body) - {"dry_run", "rule_id", "status", "since", "until", "limit"}
    if unknown:
        raise _BadRequest(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    given_null = sorted(name for name, value in body.items() if value is None)
    if given_null:
        raise _BadRequest(
            f"Leave out what you do not set (null given for {', '.join(given_null)})."
        )
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise _BadRequest("dry_run must be true or false.")
    status = body.get("status")
    if status is not None and status not in replays.FINISHED:
        raise _BadRequest(f"status must be one of {', '.join(replays.FINISHED)}.")
    selection = replays.Selection(
        rule_id=_int(body, "rule_id"),
        status=status,
        since=_when(body, "since"),
        until=_when(body, "until"),
        limit=_int(body, "limit"),
    )
    return dry_run, selection


class CallApi(WebhooksApi):
    """The call log over REST: read-only, but a logged call can be replayed."""

    read_only = True
    # The payload to run is the payload as sent until the call has run: never returned.
    hidden_columns = ("run_payload",)

    def _replay(self, calls: list[Any], dry_run: bool) -> Response:
        try:
            if dry_run:
                results = [replays.describe(c.id, replays.dry_run(c)) for c in calls]
                return self.response(200, result={"dry_run": True, "calls": results})
            ids = replays.replay(calls)
        except replays.ReplayRefused as exc:
            return self.response(409, message=str(exc))
        result = {
            "dry_run": False,
            "message": "The calls will run again shortly; each replay is a call of its own.",
            "replays": [{"call_id": c.id, "id": new} for c, new in zip(calls, ids, strict=True)],
        }
        return self.response(202, result=result)

    @expose("/<pk:pk>/replay", methods=["POST"])
    @protect()
    @safe
    @permission_name("replay")
    def replay(self, pk: int) -> Response:
        """Run a logged call's payload again against its rule as it is now.
        ---
        post:
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  type: object
                  additionalProperties: false
                  properties:
                    dry_run:
                      type: boolean
                      description: >-
                        true: answer what the call would change, keep nothing (default false)
          parameters:
          - pk
          responses:
            200:
              $ref: '#/components/responses/DryRun'
            202:
              $ref: '#/components/responses/Replayed'
            404:
              $ref: '#/components/responses/404'
            409:
              $ref: '#/components/responses/409'
            422:
              $ref: '#/components/responses/422'
        """
        call = self.datamodel.get(pk, self._base_filters)
        if call is None:
            return self.response_404()
        try:
            dry_run, _selection = _replay_body()
        except _BadRequest as exc:
            return self.response(422, message=str(exc))
        return self._replay([call], dry_run)

    @expose("/replay", methods=["POST"])
    @protect()
    @safe
    @permission_name("replay")
    def replay_selection(self) -> Response:
        """Replay a selection of logged calls (e.g. a rule's errors since a time), oldest first.
        ---
        post:
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  type: object
                  additionalProperties: false
                  properties:
                    dry_run:
                      type: boolean
                    rule_id:
                      type: integer
                      minimum: 1
                      maximum: 2147483647
                    status:
                      type: string
                      enum: [ok, error]
                    since:
                      type: string
                      format: date-time
                    until:
                      type: string
                      format: date-time
                    limit:
                      type: integer
                      minimum: 1
                      maximum: 2147483647
          responses:
            200:
              $ref: '#/components/responses/DryRun'
            202:
              $ref: '#/components/responses/Replayed'
            422:
              $ref: '#/components/responses/422'
        """
        try:
            dry_run, selection = _replay_body()
        except _BadRequest as exc:
            return self.response(422, message=str(exc))
        cap = replays.MAX_DRY_RUNS if dry_run else replays.replay_cap()
        return self._replay(replays.selected(selection, cap), dry_run)


class AttemptApi(WebhooksApi):
    """Delivery attempts over REST, read-only."""

    read_only = True


class DeliveryApi(WebhooksApi):
    """The outbox over REST: read-only, but a message can be sent again."""

    read_only = True
    secret_columns = ("headers",)

    def _send_again(self, pk: int, how: Callable[[Any, Any], None]) -> Response:
        delivery = self.datamodel.get(pk, self._base_filters)
        if delivery is None:
            return self.response_404()
        try:
            how(db.session, delivery)
        except ValueError as exc:
            return self.response(409, message=str(exc))
        db.session.commit()
        result = {"message": "The message will be sent again.", "state": "pending"}
        return self.response(200, id=delivery.id, result=result)

    @expose("/<pk:pk>/retry", methods=["POST"])
    @protect()
    @safe
    @permission_name("resend")
    def retry(self, pk: int) -> Response:
        """Make a failed or dead message due again at once.
        ---
        post:
          parameters:
          - pk
          responses:
            200:
              $ref: '#/components/responses/SentAgain'
            409:
              $ref: '#/components/responses/409'
        """
        return self._send_again(pk, outbox.retry_now)

    @expose("/<pk:pk>/replay", methods=["POST"])
    @protect()
    @safe
    @permission_name("resend")
    def replay(self, pk: int) -> Response:
        """Send a delivered message again, with the same message id.
        ---
        post:
          parameters:
          - pk
          responses:
            200:
              $ref: '#/components/responses/SentAgain'
            409:
              $ref: '#/components/responses/409'
        """
        return self._send_again(pk, outbox.replay)
