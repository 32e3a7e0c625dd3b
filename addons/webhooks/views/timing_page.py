"""What a timing rule's page adds: a scheduled rule's next run and *Run now*, and for a rule
with due records, those due now and in the next 24 hours (each can be tried as a dry run).

Times are stored in UTC; the page writes them in UTC and in a ``<time>`` element that
webhooks.js shows in the browser's time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import flash, redirect, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from werkzeug.wrappers import Response

from addons.webhooks.models import SCHEDULE_TRIGGER, TIMING_TRIGGERS, AutomationRule
from addons.webhooks.rules import due
from addons.webhooks.timing.scheduler import run_now
from nightpos_app.extensions import db
from nightpos_app.i18n import translate
from nightpos_app.state import get_env, get_state

#: How far ahead the Test panel lists due records.
DUE_AHEAD = dt.timedelta(hours=24)
#: Rows listed in each of the Test panel's lists.
DUE_LIMIT = 50


@dataclass
class DueRecord:
    """A record a timing rule will run on, and when."""

    id: int
    name: str
    due_at: dt.datetime


@dataclass
class TimingPanel:
    """The timing part of a rule's page."""

    scheduled: bool
    next_run: dt.datetime | None = None
    due_now: list[DueRecord] = field(default_factory=list)
    due_soon: list[DueRecord] = field(default_factory=list)


def is_timed(rule: AutomationRule) -> bool:
    """Whether the rule runs from the scheduler (a timing trigger or a schedule)."""
    return rule.trigger in TIMING_TRIGGERS or rule.trigger == SCHEDULE_TRIGGER


def timing_panel(rule: AutomationRule) -> TimingPanel | None:
    """The page's timing part, or None for a rule that is not timed."""
    if not is_timed(rule):
        return None
    session = db.session
    if rule.trigger == SCHEDULE_TRIGGER:
        return TimingPanel(scheduled=True, next_run=due.next_scheduled_run(session, rule.id))
    moment = due.now()
    rows = due.due_rows(session, rule.id, moment + DUE_AHEAD, limit=2 * DUE_LIMIT)
    names: dict[int, str] = {}
    if rule.model in get_state().registry and rows:
        found = get_env()[rule.model].browse([row.record_id for row in rows]).exists()
        names = {record.id: record.display_name for record in found}
    panel = TimingPanel(scheduled=False)
    for row in rows:
        if row.record_id not in names:
            continue  # deleted since: the scheduler drops it when due
        item = DueRecord(row.record_id, names[row.record_id], row.due_at)
        target = panel.due_now if row.due_at <= moment else panel.due_soon
        if len(target) < DUE_LIMIT:
            target.append(item)
    return panel


class TimingRoutes:
    """The rule screens' routes for timed rules (mixed into the rule views)."""

    endpoint: str

    def _get_rule(self, pk: Any) -> AutomationRule:  # provided by the rule view
        raise NotImplementedError

    @expose("/run_now/<pk>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def run_now(self, pk: Any) -> Response:
        """Make a scheduled rule due at once: the worker runs it at its next tick (its actions
        run as on schedule, logged), and its next run is one period after that."""
        rule = self._get_rule(pk)
        if rule.trigger != SCHEDULE_TRIGGER or not rule.active:
            flash(translate("Only an active scheduled rule can be run now."), "danger")
        else:
            run_now(rule.id)
            flash(
                translate("The rule runs at the worker's next look for due work (see Logs)."),
                "success",
            )
        return redirect(url_for(f"{self.endpoint}.show", pk=rule.id))
