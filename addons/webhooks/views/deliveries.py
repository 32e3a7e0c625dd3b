"""Studio → Deliveries: the outgoing webhook messages (``webhook.delivery``), newest first.

Each message Send Webhook Notification wrote to the outbox, with its state, attempts and last
answer. ``?rule_id=<id>``, ``?action_id=<id>`` and ``?state=<state>`` narrow the list (a rule's
page links to its deliveries), FAB's search does the rest. A message's page lists its attempts
and shows the exact body and message id; ``Retry now`` (a failed or dead message) and
``Replay`` (a delivered one) make it due again for the worker, with the same message id.

Nobody edits a message: the outbox is written by the action, the states by the worker. The
attempts (``webhook.delivery.attempt``) have read-only screens of their own, so that the
generic, editable ones are never built for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from addons.webhooks.models import (
    DELIVERY_STATES,
    AutomationRule,
    ServerAction,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from addons.webhooks.outgoing import outbox
from addons.webhooks.security import can_read_secrets
from addons.webhooks.views.formats import utc_time
from addons.webhooks.views.naming import model_label
from nightpos_app.crud import LogInterface, RecordModelView
from nightpos_app.digits import ascii_int
from nightpos_app.extensions import db
from nightpos_app.i18n import N_, lazy, translate
from nightpos_app.state import get_state

#: Query arguments that narrow the list: to one rule's, one action's, one state's messages.
RULE_ARG = "rule_id"
ACTION_ARG = "action_id"
STATE_ARG = "state"
#: The states a message can be sent again from, and how.
RETRYABLE = ("failed", "dead")
REPLAYABLE = ("delivered",)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def state_label(value: Any) -> str:
    """A message's state in the user's language."""
    return translate(DELIVERY_STATES[value]) if value in DELIVERY_STATES else _text(value)


def _id_arg(name: str) -> int | None:
    """An id from the query string; a non-number is ignored rather than echoed."""
    raw = request.args.get(name, "")
    return ascii_int(raw, max_digits=9)


def state_filter() -> str | None:
    """The state the list is narrowed to (``?state=``), if it is one."""
    state = request.args.get(STATE_ARG, "")
    return state if state in DELIVERY_STATES else None


def record_url(model: str, record_id: int | None) -> str | None:
    """The page of the record a message is about, when it has screens (and still exists)."""
    views = get_state().views
    if record_id is None or views is None or model not in views.views:
        return None
    if db.session.get(get_state().registry[model].model_class, record_id) is None:
        return None
    return url_for(f"{views.views[model].endpoint}.show", pk=record_id)


class WebhookDeliveryView(RecordModelView):
    """Outgoing webhook messages, newest first; read-only, with Retry now and Replay."""

    datamodel = LogInterface(WebhookDelivery)
    route_base = "/webhookdeliveryview"
    include_route_methods = {"list", "show", "retry", "replay"}
    list_template = "webhooks/delivery_list.html"
    list_title = lazy("Deliveries")
    show_title = lazy("Delivery")
    list_columns = [
        "created_at",
        "rule",
        "action",
        "model",
        "record_id",
        "state",
        "attempt_count",
        "last_status_code",
        "delivered_at",
    ]
    show_columns = [
        "message_id",
        "created_at",
        "rule",
        "action",
        "model",
        "record_id",
        "url",
        "state",
        "attempt_count",
        "round_attempt_count",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "timeout_seconds",
    ]
    # Not the times: FAB's search form would use WTForms' deprecated DateTimeField for them.
    # No related columns: FAB's search form would list every rule or action in a drop-down
    # (thousands make the page slow and heavy). A rule's or an action's messages are its
    # Deliveries (?rule_id=, ?action_id=).
    search_columns = ["state", "model", "last_status_code", "message_id"]
    order_columns = ["created_at", "state", "attempt_count", "last_status_code", "delivered_at"]
    label_columns = {
        "message_id": lazy("Message ID"),
        "created_at": lazy("Created"),
        "rule": lazy("Automation Rule"),
        "action": lazy("Action"),
        "model": lazy("Model"),
        "record_id": lazy("Record ID"),
        "url": lazy("URL"),
        "state": lazy("State"),
        "attempt_count": lazy("Attempts"),
        "round_attempt_count": lazy("Attempts This Round"),
        "next_attempt_at": lazy("Next Attempt"),
        "last_status_code": lazy("Last HTTP Status"),
        "last_error": lazy("Last Error"),
        "delivered_at": lazy("Delivered"),
        "timeout_seconds": lazy("Timeout (s)"),
    }
    formatters_columns = {
        "state": state_label,
        "model": model_label,
        "record_id": _text,
        "last_status_code": _text,
        "last_error": _text,
        "created_at": utc_time,
        "delivered_at": utc_time,
        "next_attempt_at": utc_time,
        "claimed_until": utc_time,
    }
    base_order = ("id", "desc")
    page_size = 50

    # ------------------------------------------------------------------ list

    def _get_list_widget(self, filters: Any, **kwargs: Any) -> dict[str, Any]:
        narrowed = [
            (column, value)
            for column, value in (
                ("rule_id", _id_arg(RULE_ARG)),
                ("action_id", _id_arg(ACTION_ARG)),
                ("state", state_filter()),
            )
            if value is not None
        ]
        if narrowed:
            # A copy: FAB keeps one Filters object per view, shared by every request.
            filters = filters.copy()
            for column, value in narrowed:
                filters.add_filter(column, FilterEqual, value)
        return super()._get_list_widget(filters, **kwargs)

    def _state_links(self) -> list[tuple[str, str, bool]]:
        """(label, URL, current) for All and each state, keeping the rule and action."""
        keep = {
            name: value for name in (RULE_ARG, ACTION_ARG) if (value := _id_arg(name)) is not None
        }
        current = state_filter()
        links = [(translate("All"), url_for(f"{self.endpoint}.list", **keep), current is None)]
        for state, label in DELIVERY_STATES.items():
            url = url_for(f"{self.endpoint}.list", **keep, **{STATE_ARG: state})
            links.append((translate(label), url, current == state))
        return links

    def list_page_title(self) -> str:
        title = str(self.list_title)
        rule_id, action_id = _id_arg(RULE_ARG), _id_arg(ACTION_ARG)
        rule = db.session.get(AutomationRule, rule_id) if rule_id is not None else None
        action = db.session.get(ServerAction, action_id) if action_id is not None else None
        if action is not None:
            title += f": {action.rule.name} / {action.name}"
        elif rule is not None:
            title += f": {rule.name}"
        state = state_filter()
        if state is not None:
            title += f" ({state_label(state)})"
        return title

    def list_page_context(self) -> dict[str, Any]:
        return {"state_links": self._state_links()}

    # ----------------------------------------------------------- the message

    def _get_delivery(self, pk: Any) -> WebhookDelivery:
        delivery = self.datamodel.get(pk, self._base_filters)
        if delivery is None:
            abort(404)
        return delivery

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk: Any) -> str:
        delivery = self._get_delivery(pk)
        self.update_redirect()
        secrets = can_read_secrets()
        headers = dict(delivery.headers or {})
        return self.render_template(
            "webhooks/delivery_show.html",
            pk=delivery.id,
            title=f"{self.show_title}: {delivery.message_id}",
            widgets=self._get_show_widget(delivery.id, delivery),
            delivery=delivery,
            state=state_label(delivery.state),
            attempts=list(delivery.attempts),
            # Header values are often a receiver's credentials: only for those who may read
            # secrets; the others see the names.
            headers=[(name, value if secrets else "••••••") for name, value in headers.items()],
            record_url=record_url(delivery.model, delivery.record_id),
            can_retry=delivery.state in RETRYABLE,
            can_replay=delivery.state in REPLAYABLE,
        )

    def _send_again(
        self,
        pk: Any,
        allowed: tuple[str, ...],
        how: Callable[[Session, WebhookDelivery], None],
        done: str,
        refused: str,
    ) -> Response:
        delivery = self._get_delivery(pk)
        if delivery.state not in allowed:
            flash(translate(refused, state=state_label(delivery.state)), "warning")
        else:
            how(db.session, delivery)
            db.session.commit()
            flash(translate(done), "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=delivery.id))

    @expose("/retry/<pk>", methods=["POST"])
    @has_access
    @permission_name("resend")
    def retry(self, pk: Any) -> Response:
        """Retry now: a failed or dead message is due again at once (POST, CSRF token)."""
        return self._send_again(
            pk,
            RETRYABLE,
            outbox.retry_now,
            N_("The message will be sent again shortly."),
            N_("Only a failed or dead message can be retried; this one is %(state)s."),
        )

    @expose("/replay/<pk>", methods=["POST"])
    @has_access
    @permission_name("resend")
    def replay(self, pk: Any) -> Response:
        """Replay: a delivered message is sent again, with the same message id."""
        return self._send_again(
            pk,
            REPLAYABLE,
            outbox.replay,
            N_("The message will be sent again shortly, with the same message ID."),
            N_("Only a delivered message can be replayed; this one is %(state)s."),
        )


class WebhookDeliveryAttemptView(RecordModelView):
    """The tries at sending messages; read-only (a message's page lists its own)."""

    datamodel = LogInterface(WebhookDeliveryAttempt)
    route_base = "/webhookdeliveryattemptview"
    include_route_methods = {"list", "show"}
    list_title = lazy("Delivery Attempts")
    show_title = lazy("Delivery Attempt")
    list_columns = ["attempted_at", "delivery", "status_code", "duration_ms", "error", "worker"]
    show_columns = [
        "attempted_at",
        "delivery",
        "status_code",
        "duration_ms",
        "error",
        "response_excerpt",
        "worker",
    ]
    # Not the delivery: the search form would list every message in a drop-down.
    search_columns = ["status_code", "worker"]
    order_columns = ["attempted_at", "status_code", "duration_ms"]
    label_columns = {
        "attempted_at": lazy("Time"),
        "delivery": lazy("Delivery"),
        "status_code": lazy("HTTP Status"),
        "duration_ms": lazy("Duration (ms)"),
        "error": lazy("Error"),
        "response_excerpt": lazy("Response Excerpt"),
        "worker": lazy("Worker"),
    }
    formatters_columns = {
        "attempted_at": utc_time,
        "status_code": _text,
        "error": _text,
        "response_excerpt": _text,
        "worker": _text,
    }
    base_order = ("id", "desc")
    page_size = 50
