"""The webhooks addon's panels on the home page: what needs an admin's attention.

Rules whose calls failed in the last 24 hours (with the last error), outgoing messages that
failed or are dead, and the calls of today; with no rule yet, how to make the first one. Each
is one grouped query, so the home page stays cheap with a large call log (the call log and the
outbox are indexed by time and state).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for

from addons.webhooks.models import AutomationRule, WebhookCall, WebhookDelivery
from addons.webhooks.views.rule_page import rule_url
from nightpos_app.extensions import db
from nightpos_app.i18n import translate
from nightpos_app.models import utcnow
from nightpos_app.views import HomePanel

#: How far back "recent errors" look.
RECENT = dt.timedelta(hours=24)
#: Rules listed at most in the errors panel (the worst first).
MAX_RULES = 8


def _failing_rules(now: dt.datetime) -> list[dict[str, Any]]:
    """Rules with failed calls since ``now - RECENT``: name, link, count, last error."""
    since = now - RECENT
    counts = (
        sa.select(
            WebhookCall.rule_id,
            sa.func.count().label("failed"),
            sa.func.max(WebhookCall.id).label("last_id"),
        )
        .where(WebhookCall.status == "error", WebhookCall.called_at >= since)
        .group_by(WebhookCall.rule_id)
        .order_by(sa.desc("failed"))
        .limit(MAX_RULES)
    )
    rows = db.session.execute(counts).all()
    found = []
    for rule_id, failed, last_id in rows:
        rule = db.session.get(AutomationRule, rule_id)
        last = db.session.get(WebhookCall, last_id)
        if rule is None:
            continue
        found.append(
            {
                "name": rule.name,
                "url": rule_url(rule),
                "logs": url_for("WebhookCallView.list", rule_id=rule.id),
                "failed": int(failed),
                "error": (last.error_message or "") if last is not None else "",
            }
        )
    return found


def _delivery_counts() -> dict[str, int]:
    query = (
        sa.select(WebhookDelivery.state, sa.func.count())
        .where(WebhookDelivery.state.in_(("failed", "dead")))
        .group_by(WebhookDelivery.state)
    )
    counts = {"failed": 0, "dead": 0}
    counts.update({state: int(n) for state, n in db.session.execute(query).all()})
    retrying = sa.select(sa.func.count()).where(
        WebhookDelivery.state == "pending", WebhookDelivery.round_attempt_count > 0
    )
    counts["retrying"] = int(db.session.scalar(retrying) or 0)
    return counts


def _calls_today(now: dt.datetime) -> dict[str, int]:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    query = (
        sa.select(WebhookCall.status, sa.func.count())
        .where(WebhookCall.called_at >= midnight)
        .group_by(WebhookCall.status)
    )
    counts = {"ok": 0, "error": 0}
    counts.update({status: int(n) for status, n in db.session.execute(query).all()})
    counts["all"] = counts["ok"] + counts["error"]
    return counts


def _may_list(view: str) -> bool:
    """Whether the current user may open ``view``'s list: a panel shows only what its reader
    may open (a link, a count of rows they may not see, would tell too much)."""
    return bool(current_app.appbuilder.sm.has_access("can_list", view))


def home_panels(now: dt.datetime | None = None) -> list[HomePanel]:
    """The panels the user may see, worst news first."""
    if not (_may_list("WebhookView") and _may_list("AutomationRuleView")):
        return []
    now = now or utcnow()
    if not db.session.scalar(sa.select(sa.func.count()).select_from(AutomationRule)):
        return [
            HomePanel(
                translate("Your first webhook"),
                "webhooks/home/first_rule.html",
                {"new_url": url_for("WebhookView.add", model="sale.order")},
                "info",
            )
        ]
    panels = []
    if _may_list("WebhookCallView"):
        failing = _failing_rules(now)
        panels.append(
            HomePanel(
                translate("Rules with errors (last 24 hours)"),
                "webhooks/home/failing_rules.html",
                {"rules": failing},
                "danger" if failing else "success",
            )
        )
    if _may_list("WebhookDeliveryView"):
        deliveries = _delivery_counts()
        stuck = deliveries["failed"] + deliveries["dead"]
        panels.append(
            HomePanel(
                translate("Outgoing deliveries"),
                "webhooks/home/deliveries.html",
                {**deliveries, "list_url": url_for("WebhookDeliveryView.list")},
                "danger" if stuck else ("warning" if deliveries["retrying"] else "success"),
            )
        )
    if _may_list("WebhookCallView"):
        calls = _calls_today(now)
        panels.append(
            HomePanel(
                translate("Calls today (UTC)"),
                "webhooks/home/calls_today.html",
                {**calls, "list_url": url_for("WebhookCallView.list")},
                "warning" if calls["error"] else "default",
            )
        )
    return panels
