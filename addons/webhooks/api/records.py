"""The read-only resources: what the addon records, never what a client writes.

* ``/api/v1/base_automation_call/`` — the call log, written by the webhook endpoint alone, so
  that it tells what really happened (old calls are pruned by ``flask webhooks prune-calls``).
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

from collections.abc import Callable
from typing import Any

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from werkzeug.wrappers import Response

from addons.webhooks.api.base import WebhooksApi
from addons.webhooks.outgoing import outbox
from nightpos_app.extensions import db


class CallApi(WebhooksApi):
    """The call log over REST, read-only."""

    read_only = True


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
          - in: path
            schema:
              type: integer
            name: pk
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
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              $ref: '#/components/responses/SentAgain'
            409:
              $ref: '#/components/responses/409'
        """
        return self._send_again(pk, outbox.replay)

    responses = {
        **WebhooksApi.responses,
        "SentAgain": {
            "description": "The message is pending again",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "result": {
                                "type": "object",
                                "properties": {
                                    "message": {"type": "string"},
                                    "state": {"type": "string", "enum": ["pending"]},
                                },
                            },
                        },
                    }
                }
            },
        },
    }
