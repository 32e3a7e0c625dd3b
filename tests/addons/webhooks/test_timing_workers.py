"""Schedulers side by side and as real processes: two racing over 200 due records run each
exactly once; a worker killed in the middle of a run loses nothing and duplicates nothing."""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import WebhookCall
from addons.webhooks.timing.scheduler import Scheduler
from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.addons.webhooks.timing_support import (
    MARK_ACTION,
    clock_for,
    cpu_seconds_of_children,
    due_rows,
    notes,
    timer_calls,
    wait_until,
    worker_process,
)

T0 = dt.datetime(2031, 1, 1, 8, 0, 0)


def create_orders(app: Flask, count: int) -> list[int]:
    with app.app_context():
        env = get_env(trusted=True)
        ids = [
            env["sale.order"].create({"partner_id": 1, "currency_id": 1}).id for _ in range(count)
        ]
        db.session.commit()
        return ids


def test_two_schedulers_racing_over_200_due_records_run_each_exactly_once(
    app: Flask, second_app: Flask, make_rule: Callable[..., dict[str, Any]]
) -> None:
    with clock_for(app, second_app, start=T0) as clock:
        rule = make_rule(
            trigger="on_time_created",
            trg_date_range=1,
            trg_date_range_type="minutes",
            actions=[MARK_ACTION],
        )
        ids = create_orders(app, 200)
        clock.advance(minutes=2)
        schedulers = [
            Scheduler(app, scheduler_id="s1", batch=5),
            Scheduler(second_app, scheduler_id="s2", batch=5),
        ]
        counts: dict[str, int] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def drain(scheduler: Scheduler) -> None:
            try:
                start.wait()
                counts[scheduler.id] = scheduler.drain()
            except BaseException as error:  # noqa: BLE001 (reported by the test)
                errors.append(error)

        threads = [threading.Thread(target=drain, args=(s,)) for s in schedulers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not errors, errors

    assert set(notes(app, ids).values()) == {"x"}
    calls = Counter(json.loads(c["payload"])["_id"] for c in timer_calls(app, rule["id"]))
    assert calls == dict.fromkeys(ids, 1)
    assert {r["state"] for r in due_rows(app, rule["id"])} == {"done"}
    # Both took part: the work was shared, not done twice.
    assert counts["s1"] + counts["s2"] == 200 and counts["s1"] > 0 and counts["s2"] > 0, counts


#: Appends "x" after a few seconds of CPU: long enough to kill the worker in the middle.
SLOW_MARK = {
    "name": "Slow mark",
    "action_type": "execute_code",
    "settings": {
        "code": (
            "record.write({'note': (record.note or '') + 'x'})\n"
            "n = 0\n"
            "while n < 3000000:\n"
            "    n += 1\n"
        )
    },
}


def test_a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing(
    app: Flask,
    make_rule: Callable[..., dict[str, Any]],
    database_url: str,
    instance_dir: Path,
) -> None:
    rule = make_rule(
        trigger="on_time_created",
        trg_date_range=0,
        trg_date_range_type="minutes",
        cpu_seconds=8,
        actions=[SLOW_MARK],
    )
    [order] = create_orders(app, 1)
    settings = {"WEBHOOK_TIMING_LEASE_SECONDS": "1", "WEBHOOK_WALL_SECONDS": "4"}
    with worker_process(database_url, instance_dir, **settings) as first:
        claimed = wait_until(
            lambda: next((r for r in due_rows(app, rule["id"]) if r["state"] == "running"), None),
            timeout=60,
            what="the first worker's claim",
        )
        # In the middle of the run: its runner process is busy with the rule's loop.
        wait_until(lambda: cpu_seconds_of_children(first.pid) > 0.3, 30, "the run to start")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    # Nothing of the run is kept, and the row is still the dead worker's until its lease ends.
    assert notes(app, [order]) == {order: ""}
    [row] = due_rows(app, rule["id"])
    assert row["state"] == "running" and row["claimed_by"] == claimed["claimed_by"]
    assert timer_calls(app, rule["id"]) == []

    with worker_process(database_url, instance_dir) as second:
        wait_until(
            lambda: due_rows(app, rule["id"])[0]["state"] == "done", 90, "the second worker's run"
        )
        second.send_signal(signal.SIGTERM)
    assert notes(app, [order]) == {order: "x"}
    [row] = due_rows(app, rule["id"])
    assert row["claimed_by"] is None and row["last_run_at"] >= claimed["claimed_until"]
    assert [c["status"] for c in timer_calls(app, rule["id"])] == ["ok"]
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count()).where(WebhookCall.rule_id == rule["id"]))
            == 1
        )


def test_the_outbox_worker_loop_runs_due_timing_rules(
    app: Flask, make_rule: Callable[..., dict[str, Any]]
) -> None:
    """What `make run`'s thread and `flask nightpos worker` run: the outbox worker's loop, with
    the scheduler as its job."""
    from addons.webhooks.outgoing.worker import OutboxWorker

    with clock_for(app, start=T0) as clock:
        rule = make_rule(
            trigger="on_schedule",
            target_record="model.browse([8])",
            interval_number=5,
            interval_type="minutes",
            actions=[MARK_ACTION],
        )
        clock.advance(minutes=5)
        worker = OutboxWorker(app, worker_id="loop", poll_seconds=0.02)
        thread = worker.start_thread()
        try:
            wait_until(lambda: timer_calls(app, rule["id"]), 60, "the timed run")
        finally:
            worker.stop()
            thread.join(timeout=30)
    assert notes(app, [8]) == {8: "x"}
