"""Helpers for timing-rule tests: a clock the tests move, and what the rules did."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import AutomationDue, WebhookCall
from addons.webhooks.rules.due import CLOCK_SETTING
from nightpos_app.extensions import db

#: Appends "x" to the record's note: a record's note tells how many times the rule ran on it.
MARK_ACTION = {
    "name": "Mark",
    "action_type": "execute_code",
    "settings": {"code": "record.write({'note': (record.note or '') + 'x'})"},
}


class Clock:
    """Naive UTC now, moved by the test."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@contextmanager
def clock_for(*apps: Flask, start: dt.datetime) -> Iterator[Clock]:
    clock = Clock(start)
    for app in apps:
        app.config[CLOCK_SETTING] = clock
    try:
        yield clock
    finally:
        for app in apps:
            app.config.pop(CLOCK_SETTING, None)


def due_rows(app: Flask, rule_id: int) -> list[dict[str, Any]]:
    with app.app_context():
        table = AutomationDue.__table__
        rows = db.session.execute(
            sa.select(table).where(table.c.rule_id == rule_id).order_by(table.c.record_id)
        )
        return [dict(row._mapping) for row in rows]


def notes(app: Flask, ids: list[int]) -> dict[int, str]:
    with app.app_context():
        rows = db.session.execute(
            sa.text("SELECT id, note FROM sale_order WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        )
        return {row.id: row.note or "" for row in rows}


def timer_calls(app: Flask, rule_id: int) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                WebhookCall.status, WebhookCall.payload, WebhookCall.error_message
            ).where(WebhookCall.rule_id == rule_id, WebhookCall.method == "TIMER")
        )
        return [dict(row._mapping) for row in rows]


def write(app: Flask, model: str, record_id: int, values: dict[str, Any]) -> None:
    """A change as the screens make it: the record API, committed."""
    from nightpos_app.state import get_env

    with app.app_context():
        get_env(trusted=True)[model].browse(record_id).write(values)
        db.session.commit()
