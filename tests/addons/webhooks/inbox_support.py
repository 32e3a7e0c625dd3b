"""Helpers for the inbox tests: a clock tests move, rules that respond at once, call rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import Flask

from addons.webhooks.incoming.worker import InboxWorker
from addons.webhooks.models import WebhookCall
from nightpos_app.extensions import db
from nightpos_app.models import utcnow
from tests.addons.webhooks.conftest import read

#: Execute Code that creates a contact named after the payload's ``n``: each run leaves one.
CREATE_CONTACT = (
    "env['res.partner'].create({'name': 'inbox-%s' % payload['n'], "
    "'email': 'inbox%s@example.com' % payload['n']})"
)
#: Execute Code that fails when the payload asks it to (a rule error: final).
FAIL_ON_ASK = "if payload.get('fail'):\n    raise UserError('asked to fail')\n" + CREATE_CONTACT


class Clock:
    """Naive UTC time that moves only when told (the worker's leases and delays)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def contact_rule(make_rule: Any, code: str = CREATE_CONTACT, **values: Any) -> dict[str, Any]:
    """A res.partner rule whose one action runs ``code``."""
    return make_rule(
        "res.partner",
        target_record="model.browse([2])",
        actions=[{"name": "Contact", "action_type": "execute_code", "settings": {"code": code}}],
        **values,
    )


def contacts(app: Flask) -> list[str]:
    """The names of the contacts the rules made, in the order they were created."""
    rows = read(app, "res.partner", [("name", "=like", "inbox-%")], ["name"])
    return [row["name"] for row in rows]


def calls(app: Flask, rule_id: int | None = None) -> list[dict[str, Any]]:
    """The call-log rows (of one rule), oldest first, as dicts."""
    with app.app_context():
        query = sa.select(WebhookCall.__table__).order_by(WebhookCall.id)
        if rule_id is not None:
            query = query.where(WebhookCall.rule_id == rule_id)
        rows = [dict(row._mapping) for row in db.session.execute(query)]
        db.session.rollback()
        return rows


def worker(app: Flask, clock: Clock, name: str = "w1", **kwargs: Any) -> InboxWorker:
    """An inbox worker on the test's clock, retrying after 10 s then 60 s by default."""
    kwargs.setdefault("retry_schedule", (10.0, 60.0))
    return InboxWorker(app, worker_id=name, clock=clock, **kwargs)
