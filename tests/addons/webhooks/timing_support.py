"""Helpers for timing-rule tests: a clock the tests move, the rules and records they set up
(through the record API or the rule form), and what the rules did."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import AutomationDue, WebhookCall
from addons.webhooks.rules.due import CLOCK_SETTING
from addons.webhooks.timing.scheduler import Scheduler
from nightpos_app.extensions import db
from tests.support.web import WebClient, form_values

#: The rule form, opened from the Sales app.
ADD = "/automationruleview/add?model=sale.order"

#: Appends "x" to the record's note: a record's note tells how many times the rule ran on it.
MARK_ACTION = {
    "name": "Mark",
    "action_type": "execute_code",
    "settings": {"code": "record.write({'note': (record.note or '') + 'x'})"},
}


def post_rule(web: WebClient, url: str = ADD, **values: Any) -> Any:
    """Post the rule form at ``url`` as a browser would, with ``values`` filled in (a list for
    a multiple drop-down)."""
    data = {**form_values(web.get(url).get_data(as_text=True)), **values}
    return web.client.post(url, data=data)


def date_rule(
    make_rule: Callable[..., dict[str, Any]], delay: int = 0, unit: str = "minutes", **values: Any
) -> dict[str, Any]:
    """A *Based on date field* rule on the sales orders' Order Date that marks each order."""
    return make_rule(
        trigger="on_time",
        trg_date_field="date_order",
        trg_date_range=delay,
        trg_date_range_type=unit,
        actions=[MARK_ACTION],
        **values,
    )


def new_order(app: Flask) -> int:
    """A new sales order (created through the record API, committed); its id."""
    from nightpos_app.state import get_env

    with app.app_context():
        order = get_env(trusted=True)["sale.order"].create({"partner_id": 1, "currency_id": 1})
        db.session.commit()
        return order.id


def drain(app: Flask, **options: Any) -> int:
    """Run what is due now with a scheduler of its own (no tick wait); how many it ran."""
    return Scheduler(app, tick_seconds=0, **options).drain()


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
            sa.select(WebhookCall.status, WebhookCall.payload, WebhookCall.error_message).where(
                WebhookCall.rule_id == rule_id, WebhookCall.method == "TIMER"
            )
        )
        return [dict(row._mapping) for row in rows]


def write(app: Flask, model: str, record_id: int, values: dict[str, Any]) -> None:
    """A change as the screens make it: the record API, committed."""
    from nightpos_app.state import get_env

    with app.app_context():
        get_env(trusted=True)[model].browse(record_id).write(values)
        db.session.commit()


PROJECT_DIR = Path(__file__).resolve().parents[3]
FLASK = Path(sys.executable).with_name("flask")


@contextmanager
def worker_process(
    database_url: str, instance_dir: Path, **settings: str
) -> Iterator[subprocess.Popen[str]]:
    """``flask nightpos worker`` against the tests' database, with timing ``settings``; killed
    after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIGHTPOS_", "WEBHOOK_"))}
    env.update(
        NIGHTPOS_DATABASE_URL=database_url,
        NIGHTPOS_INSTANCE_DIR=str(instance_dir),
        NIGHTPOS_SECRET_KEY="test-secret-key-not-for-production",
        WEBHOOK_TIMING_TICK_SECONDS="0.05",
        **settings,
    )
    process = subprocess.Popen(
        [str(FLASK), "--app", "nightpos_app", "nightpos", "worker", "--poll", "0.05"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _children(pid: int) -> list[int]:
    """The processes ``pid``'s threads started (a runner is started by the pool's thread)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def cpu_seconds_of_children(pid: int) -> float:
    """CPU time used so far by the processes ``pid`` started, and theirs (its runners)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pending = _children(pid)
    while pending:
        child = pending.pop()
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        pending.extend(_children(child))
    return total


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something true (a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
