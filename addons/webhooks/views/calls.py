"""The webhook call log (``base.automation.call``): read-only, newest first, per rule.

A rule page's ``Logs`` button opens ``/webhookcallview/list/?rule_id=<id>``: that rule's calls.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.models.sqla.filters import FilterEqual

from addons.webhooks.models import CALL_STATUSES, AutomationRule, WebhookCall
from addons.webhooks.views.formats import json_text, preformatted, utc_time
from nightpos_app.crud import LogInterface, RecordModelView
from nightpos_app.digits import ascii_int
from nightpos_app.extensions import db
from nightpos_app.i18n import lazy, translate

#: The query argument that limits the list to one rule's calls.
RULE_ARG = "rule_id"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _status(value: Any) -> str:
    return translate(CALL_STATUSES[value]) if value in CALL_STATUSES else _text(value)


def _yes_no(value: Any) -> str:
    return translate("Yes") if value else translate("No")


def rule_filter_id() -> int | None:
    """The rule whose calls the list shows (``?rule_id=``); a non-number is ignored."""
    raw = request.args.get(RULE_ARG, "")
    return ascii_int(raw, max_digits=9)


class WebhookCallView(RecordModelView):
    """Calls to webhook URLs, as kept by rules with Log Calls on. Nobody edits the log."""

    datamodel = LogInterface(WebhookCall)
    route_base = "/webhookcallview"
    include_route_methods = {"list", "show"}
    list_title = lazy("Webhook Calls")
    show_title = lazy("Webhook Call")
    list_columns = [
        "called_at",
        "rule",
        "method",
        "status",
        "http_status",
        "replayed",
        "error_message",
        "duration_ms",
    ]
    show_columns = [
        "called_at",
        "rule",
        "method",
        "status",
        "http_status",
        "replayed",
        "remote_addr",
        "duration_ms",
        "payload",
        "payload_truncated",
        "error_message",
        "traceback",
    ]
    # Not the time: FAB's search form would use WTForms' deprecated DateTimeField for it. Not
    # the rule: FAB's search form lists every rule in a drop-down, which with thousands of
    # rules is most of the page's time and size; a rule's calls are its Logs (?rule_id=).
    search_columns = ["status", "http_status", "method", "replayed"]
    order_columns = ["called_at", "status", "http_status", "duration_ms"]
    label_columns = {
        "called_at": lazy("Time"),
        "rule": lazy("Automation Rule"),
        "method": lazy("Method"),
        "status": lazy("Status"),
        "http_status": lazy("HTTP Status"),
        "replayed": lazy("Replayed"),
        "remote_addr": lazy("Remote Address"),
        "duration_ms": lazy("Duration (ms)"),
        "payload": lazy("Payload"),
        "payload_truncated": lazy("Payload Truncated"),
        "error_message": lazy("Error"),
        "traceback": lazy("Traceback"),
    }
    formatters_columns = {
        "called_at": utc_time,
        "status": _status,
        "payload_truncated": _yes_no,
        "replayed": _yes_no,
        "error_message": _text,
        "traceback": preformatted,
        "payload": json_text,
        "remote_addr": _text,
    }
    base_order = ("id", "desc")
    page_size = 50

    def _get_list_widget(self, filters: Any, **kwargs: Any) -> dict[str, Any]:
        rule_id = rule_filter_id()
        if rule_id is not None:
            # A copy: FAB keeps one Filters object per view, shared by every request.
            filters = filters.copy()
            filters.add_filter("rule_id", FilterEqual, rule_id)
        return super()._get_list_widget(filters, **kwargs)

    def list_page_title(self) -> str:
        rule_id = rule_filter_id()
        rule = db.session.get(AutomationRule, rule_id) if rule_id is not None else None
        if rule is not None:
            return translate("Logs") + f": {rule.name}"
        return str(self.list_title)
