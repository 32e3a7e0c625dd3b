"""A scheduled rule keeps its period whatever other timing rules have due.

Attack (a rule author): a Based on date field / After creation rule over a large model makes
thousands of records due at once; the scheduler took due rows oldest first, so every scheduled
rule due a moment later waited until all of them had run (measured: a rule every minute ran
after 500 rows, about 5 s here; after 100,000, a quarter of an hour). Scheduled rules' rows are
now claimed first, found through the (rule, record) index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from addons.webhooks.timing.scheduler import Scheduler
from tests.addons.webhooks.test_timing_workers import T0, create_orders
from tests.addons.webhooks.timing_support import MARK_ACTION, clock_for, notes, timer_calls

LOG = {"name": "Tick", "action_type": "execute_code", "settings": {"code": "log('tick')"}}


def test_a_scheduled_rule_runs_before_a_backlog_of_record_rows(
    app: Flask, make_rule: Callable[..., dict[str, Any]]
) -> None:
    with clock_for(app, start=T0) as clock:
        mass = make_rule(
            name="After creation",
            trigger="on_time_created",
            trg_date_range=1,
            trg_date_range_type="minutes",
            actions=[MARK_ACTION],
        )
        ids = create_orders(app, 30)
        every_minute = make_rule(
            name="Every minute",
            trigger="on_schedule",
            target_record="model.browse([])",
            interval_number=1,
            interval_type="minutes",
            actions=[LOG],
        )
        clock.advance(minutes=3)  # the orders were due first, the scheduled rule since
        scheduler = Scheduler(app, scheduler_id="s1", batch=5)
        assert scheduler.run_once() == 5
        assert [c["status"] for c in timer_calls(app, every_minute["id"])] == ["ok"]
        # The backlog still runs, each record once.
        scheduler.drain()
    assert set(notes(app, ids).values()) == {"x"}
    assert len(timer_calls(app, mass["id"])) == 30
    assert len(timer_calls(app, every_minute["id"])) == 1
