"""The webhook call log (``base.automation.call``): read-only, newest first, per rule.

A rule page's ``Logs`` button opens ``/webhookcallview/list/?rule_id=<id>``: that rule's calls.
Each call shows its state (accepted, running, ok, error) and its background attempts; a call
whose payload was kept whole can be replayed (``Replay (dry run)``, ``Replay``), and the list
replays a selection — the rule's errors since a time, say (addons/webhooks/incoming/replay.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.security.decorators import has_access, permission_name
from werkzeug.wrappers import Response

from addons.webhooks.incoming import replay as replays
from addons.webhooks.models import CALL_STATUSES, AutomationRule, WebhookCall
from addons.webhooks.rules.engine import Outcome
from addons.webhooks.views.formats import json_text, preformatted, utc_time
from addons.webhooks.views.rule_page import dry_run_report
from nightpos_app.crud import LogInterface, RecordModelView
from nightpos_app.digits import ascii_int
from nightpos_app.extensions import db
from nightpos_app.i18n import N_, lazy, translate

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


def _since(text: str) -> dt.datetime | None:
    """A ``datetime-local`` value (UTC, as the log shows times), or None if empty or not one."""
    try:
        return dt.datetime.fromisoformat(text.strip()[:32]) if text.strip() else None
    except ValueError:
        return None


class WebhookCallView(RecordModelView):
    """Calls to webhook URLs, as kept by rules with Log Calls on (and every call of a rule that
    responds at once until it has run). Nobody edits the log; calls can be replayed."""

    datamodel = LogInterface(WebhookCall)
    route_base = "/webhookcallview"
    include_route_methods = {"list", "show", "replay", "replay_selection"}
    list_template = "webhooks/call_list.html"
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
        "attempts",
        "duration_ms",
    ]
    show_columns = [
        "called_at",
        "rule",
        "method",
        "status",
        "http_status",
        "attempts",
        "next_attempt_at",
        "claimed_by",
        "replay_of",
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
        "replayed": lazy("Answered Again (Same Key)"),
        "remote_addr": lazy("Remote Address"),
        "duration_ms": lazy("Duration (ms)"),
        "payload": lazy("Payload"),
        "payload_truncated": lazy("Payload Truncated"),
        "error_message": lazy("Error"),
        "traceback": lazy("Traceback"),
        "attempts": lazy("Attempts"),
        "next_attempt_at": lazy("Next Attempt"),
        "claimed_by": lazy("Worker"),
        "replay_of": lazy("Replay Of"),
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
        "next_attempt_at": utc_time,
        "claimed_by": _text,
        "replay_of": _text,
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

    def list_page_context(self) -> dict[str, Any]:
        rule_id = rule_filter_id()
        rule = db.session.get(AutomationRule, rule_id) if rule_id is not None else None
        return {
            "replay_rule": rule,
            "replay_states": [(key, translate(CALL_STATUSES[key])) for key in replays.FINISHED],
        }

    # ------------------------------------------------------------------ one call

    def _get_call(self, pk: Any) -> WebhookCall:
        call = self.datamodel.get(pk, self._base_filters)
        if call is None:
            abort(404)
        return call

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk: Any) -> str:
        call = self._get_call(pk)
        self.update_redirect()
        problem = replays.why_not(call)
        return self.render_template(
            "webhooks/call_show.html",
            pk=call.id,
            title=f"{self.show_title}: #{call.id}",
            widgets=self._get_show_widget(call.id, call),
            call=call,
            state=_status(call.status),
            attempt_log=list(call.attempt_log or []),
            replay_problem=translate(problem) if problem else None,
        )

    # ------------------------------------------------------------------ replay

    def _refused(self, exc: replays.ReplayRefused) -> None:
        reason = translate(exc.reason, **exc.values)
        flash(translate(N_("Call #%(id)s: %(reason)s"), id=exc.call_id, reason=reason), "warning")

    def _dry_run_page(self, calls: list[WebhookCall], title: str) -> str:
        reports = []
        for call in calls:
            outcome: Outcome = replays.dry_run(call)
            reports.append((call.id, dry_run_report(outcome)))
        return self.render_template(
            "webhooks/call_replay.html", title=title, reports=reports, endpoint=self.endpoint
        )

    @expose("/replay/<pk>", methods=["POST"])
    @has_access
    @permission_name("replay")
    def replay(self, pk: Any) -> Response | str:
        """Replay one call (POST, CSRF token): ``dry_run=1`` shows what it would change now;
        otherwise it runs again, in the background, as a call of its own."""
        call = self._get_call(pk)
        try:
            if request.form.get("dry_run"):
                return self._dry_run_page([call], translate("Replay (dry run)") + f": #{call.id}")
            [new_id] = replays.replay([call])
        except replays.ReplayRefused as exc:
            self._refused(exc)
            return redirect(url_for(f"{self.endpoint}.show", pk=pk))
        flash(
            translate(N_("The call will run again shortly, as call #%(id)s."), id=new_id), "success"
        )
        return redirect(url_for(f"{self.endpoint}.show", pk=new_id))

    @expose("/replay_selection", methods=["POST"])
    @has_access
    @permission_name("replay")
    def replay_selection(self) -> Response | str:
        """Replay the calls a rule's Logs select: a state, since a time (UTC), oldest first."""
        rule_id = ascii_int(request.form.get(RULE_ARG, ""), max_digits=9)
        status = request.form.get("status") or None
        selection = replays.Selection(
            rule_id=rule_id,
            status=status if status in replays.FINISHED else None,
            since=_since(request.form.get("since", "")),
        )
        dry_run = bool(request.form.get("dry_run"))
        calls = replays.selected(
            selection, replays.MAX_DRY_RUNS if dry_run else replays.replay_cap()
        )
        back = url_for(f"{self.endpoint}.list", **({RULE_ARG: rule_id} if rule_id else {}))
        if not calls:
            flash(translate(N_("No call that can be replayed matches.")), "warning")
            return redirect(back)
        try:
            if dry_run:
                return self._dry_run_page(calls, translate("Replay (dry run)"))
            ids = replays.replay(calls)
        except replays.ReplayRefused as exc:
            self._refused(exc)
            return redirect(back)
        flash(translate(N_("%(count)s calls will run again shortly."), count=len(ids)), "success")
        return redirect(back)
