"""Timing triggers and scheduled rules, run by the real scheduler on the real database, with a
clock the tests move (no sleeps): each trigger runs when its time comes and not before, once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from addons.webhooks.timing.scheduler import Scheduler
from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.addons.webhooks.timing_support import (
    MARK_ACTION,
    clock_for,
    date_rule,
    due_rows,
    new_order,
    notes,
    timer_calls,
    write,
)

T0 = dt.datetime(2030, 5, 10, 9, 0, 0)


@pytest.fixture
def scheduler(app: Flask) -> Scheduler:
    return Scheduler(app, tick_seconds=0, batch=5)


def test_based_on_date_field_runs_at_the_date_plus_delay_once_and_again_when_the_date_moves(
    app: Flask, make_rule: Callable[..., dict[str, Any]], scheduler: Scheduler
) -> None:
    with clock_for(app, start=T0) as clock:
        write(app, "sale.order", 3, {"date_order": dt.date(2030, 5, 12)})
        rule = date_rule(make_rule, 30, "minutes", name="Remind")
        rows = {row["record_id"]: row for row in due_rows(app, rule["id"])}
        # Demo orders dated before now are not made due by the new rule; order 3 is.
        assert rows[3]["due_at"] == dt.datetime(2030, 5, 12, 0, 30)
        assert all(row["due_at"] >= T0 for row in rows.values())

        clock.now = dt.datetime(2030, 5, 12, 0, 29)
        assert scheduler.drain() == 0
        assert notes(app, [3]) == {3: ""}
        clock.now = dt.datetime(2030, 5, 12, 0, 30)
        assert scheduler.drain() == 1
        assert notes(app, [3]) == {3: "x"}
        clock.advance(days=1)
        assert scheduler.drain() == 0  # each date value runs once
        # A change of another field leaves it done; a new date makes it due again.
        write(app, "sale.order", 3, {"amount_total": 5})
        assert {r["record_id"]: r["state"] for r in due_rows(app, rule["id"])}[3] == "done"
        write(app, "sale.order", 3, {"date_order": dt.date(2030, 5, 20)})
        row = {r["record_id"]: r for r in due_rows(app, rule["id"])}[3]
        assert (row["state"], row["due_at"]) == ("pending", dt.datetime(2030, 5, 20, 0, 30))
        clock.now = dt.datetime(2030, 5, 20, 0, 31)
        assert scheduler.drain() == 1
        assert notes(app, [3]) == {3: "xx"}
        calls = timer_calls(app, rule["id"])
        assert [c["status"] for c in calls] == ["ok", "ok"]
        assert json.loads(calls[0]["payload"])["_id"] == 3


def test_a_negative_delay_runs_before_the_date_and_extra_conditions_are_checked_when_due(
    app: Flask, make_rule: Callable[..., dict[str, Any]], scheduler: Scheduler
) -> None:
    with clock_for(app, start=T0) as clock:
        rule = date_rule(make_rule, -1, "days", filter_domain="[('state', '=', 'draft')]")
        write(app, "sale.order", 4, {"date_order": dt.date(2030, 6, 1), "state": "draft"})
        write(app, "sale.order", 5, {"date_order": dt.date(2030, 6, 1), "state": "draft"})
        write(app, "sale.order", 5, {"state": "cancel"})
        clock.now = dt.datetime(2030, 5, 30, 23, 59)
        assert scheduler.drain() == 0
        clock.now = dt.datetime(2030, 5, 31, 0, 0)
        assert scheduler.drain() == 2
        assert notes(app, [4, 5]) == {4: "x", 5: ""}  # 5 no longer matched: done, not run
        assert len(timer_calls(app, rule["id"])) == 1


def test_after_creation_runs_the_delay_after_the_record_was_created(
    app: Flask, make_rule: Callable[..., dict[str, Any]], scheduler: Scheduler
) -> None:
    with clock_for(app, start=T0) as clock:
        make_rule(
            trigger="on_time_created",
            trg_date_range=5,
            trg_date_range_type="minutes",
            actions=[MARK_ACTION],
        )
        new_id = new_order(app)
        write(app, "sale.order", 2, {"amount_total": 9})  # an update is not a creation
        clock.advance(minutes=4, seconds=59)
        assert scheduler.drain() == 0
        clock.advance(seconds=1)
        assert scheduler.drain() == 1
        assert notes(app, [new_id, 2]) == {new_id: "x", 2: ""}
        clock.advance(hours=1)
        assert scheduler.drain() == 0


def test_after_last_update_waits_for_the_delay_after_the_last_change(
    app: Flask, make_rule: Callable[..., dict[str, Any]], scheduler: Scheduler
) -> None:
    with clock_for(app, start=T0) as clock:
        make_rule(
            trigger="on_time_updated",
            trg_date_range=10,
            trg_date_range_type="minutes",
            actions=[MARK_ACTION],
        )
        write(app, "sale.order", 6, {"amount_total": 1})
        clock.advance(minutes=8)
        write(app, "sale.order", 6, {"amount_total": 2})  # pushes the run to T0 + 18 min
        clock.advance(minutes=4)
        assert scheduler.drain() == 0
        clock.advance(minutes=6)
        assert scheduler.drain() == 1
        # The rule's own write (the note) does not make the record due again (loop guard).
        clock.advance(hours=1)
        assert scheduler.drain() == 0
        assert notes(app, [6]) == {6: "x"}


def test_values_set_runs_when_the_field_takes_the_value_only(
    app: Flask, make_rule: Callable[..., dict[str, Any]]
) -> None:
    make_rule(
        trigger="on_value_set",
        trg_selection_field="state",
        trg_selection_value="sale",
        actions=[MARK_ACTION],
    )
    write(app, "sale.order", 2, {"state": "draft"})
    write(app, "sale.order", 3, {"state": "draft"})
    write(app, "sale.order", 2, {"state": "sale"})
    write(app, "sale.order", 2, {"amount_total": 3})  # still "sale": not set again
    write(app, "sale.order", 3, {"state": "sent"})
    assert notes(app, [2, 3]) == {2: "x", 3: ""}
    with app.app_context():
        order = get_env(trusted=True)["sale.order"].create(
            {"partner_id": 1, "currency_id": 1, "state": "sale"}
        )
        db.session.commit()
        assert order.note == "x"


def test_a_scheduled_rule_runs_every_period_and_once_after_downtime(
    app: Flask, make_rule: Callable[..., dict[str, Any]], scheduler: Scheduler
) -> None:
    count = {
        "name": "Count",
        "action_type": "execute_code",
        "settings": {
            "code": (
                "order = env['sale.order'].browse(1)\n"
                "order.write({'note': (order.note or '') + 's'})"
            )
        },
    }
    with clock_for(app, start=T0) as clock:
        rule = make_rule(
            trigger="on_schedule",
            target_record="model",
            interval_number=1,
            interval_type="hours",
            actions=[count],
        )
        [row] = due_rows(app, rule["id"])
        assert (row["record_id"], row["due_at"]) == (0, T0 + dt.timedelta(hours=1))
        clock.advance(minutes=59)
        assert scheduler.drain() == 0
        clock.advance(minutes=1)
        assert scheduler.drain() == 1
        assert notes(app, [1]) == {1: "s"}
        # Down for ten hours: one run now, the next an hour from now.
        clock.advance(hours=10, minutes=30)
        assert scheduler.drain() == 1
        assert notes(app, [1]) == {1: "ss"}
        [row] = due_rows(app, rule["id"])
        assert row["due_at"] == clock.now + dt.timedelta(hours=1)
        assert [c["status"] for c in timer_calls(app, rule["id"])] == ["ok", "ok"]


def test_a_failing_timed_run_is_rolled_back_logged_and_not_run_again(
    app: Flask, make_rule: Callable[..., dict[str, Any]], scheduler: Scheduler
) -> None:
    failing = {
        "name": "Fail",
        "action_type": "execute_code",
        "settings": {"code": "record.write({'note': 'half'})\nraise UserError('no stock')"},
    }
    with clock_for(app, start=T0) as clock:
        rule = make_rule(
            trigger="on_time_created",
            trg_date_range=1,
            trg_date_range_type="minutes",
            actions=[failing],
        )
        new_id = new_order(app)
        clock.advance(minutes=2)
        assert scheduler.drain() == 1
        assert notes(app, [new_id]) == {new_id: ""}
        [row] = due_rows(app, rule["id"])
        assert row["state"] == "failed" and "no stock" in row["last_error"]
        [call] = timer_calls(app, rule["id"])
        assert call["status"] == "error" and "no stock" in call["error_message"]
        assert scheduler.drain() == 0


def test_the_demo_orders_give_a_new_date_rule_orders_due_ahead_not_the_past(
    app: Flask, make_rule: Callable[..., dict[str, Any]]
) -> None:
    rule = date_rule(make_rule, 0, "minutes")
    with app.app_context():
        ahead = get_env(trusted=True)["sale.order"].search([("date_order", ">", dt.date.today())])
        assert len(ahead) == 2
        assert len(get_env(trusted=True)["sale.order"].search([])) > len(ahead)
    assert sorted(r["record_id"] for r in due_rows(app, rule["id"])) == sorted(ahead.ids)


def test_records_missed_during_downtime_each_run_once(
    app: Flask, make_rule: Callable[..., dict[str, Any]], scheduler: Scheduler
) -> None:
    with clock_for(app, start=T0) as clock:
        date_rule(make_rule, 9, "hours")
        for day, order in enumerate((2, 3, 4), start=11):
            write(app, "sale.order", order, {"date_order": dt.date(2030, 5, day)})
        clock.now = dt.datetime(2030, 6, 1)  # the worker was down for three weeks
        assert scheduler.drain() == 3
        assert scheduler.drain() == 0
        assert notes(app, [2, 3, 4]) == {2: "x", 3: "x", 4: "x"}


def test_a_run_whose_claim_was_lost_meanwhile_is_rolled_back(
    app: Flask, make_rule: Callable[..., dict[str, Any]]
) -> None:
    """A slow scheduler whose lease ran out (another ran the row) or whose record moved to a
    new date (the row is pending again) keeps nothing of its run."""
    slow = Scheduler(app, scheduler_id="slow", lease_seconds=60, batch=5)
    fast = Scheduler(app, scheduler_id="fast", lease_seconds=60, batch=5)
    with clock_for(app, start=T0) as clock:
        rule = date_rule(make_rule, 0, "minutes")
        write(app, "sale.order", 2, {"date_order": dt.date(2030, 5, 11)})
        write(app, "sale.order", 3, {"date_order": dt.date(2030, 5, 11)})
        clock.now = dt.datetime(2030, 5, 11, 0, 1)
        with app.app_context():
            claims = {c.record_id: c for c in slow._claim(db.session())}
        assert set(claims) == {2, 3}
        # Order 2 moves to a new date: due again then. Order 3's lease runs out: taken over.
        write(app, "sale.order", 2, {"date_order": dt.date(2030, 5, 12)})
        clock.advance(minutes=5)
        assert fast.drain() == 1
        with app.app_context():
            for claim in claims.values():
                slow._run(db.session(), claim)
        assert notes(app, [2, 3]) == {2: "", 3: "x"}
        assert len(timer_calls(app, rule["id"])) == 1
        clock.now = dt.datetime(2030, 5, 12, 0, 0)
        assert fast.drain() == 1
        assert notes(app, [2, 3]) == {2: "x", 3: "x"}


def test_the_due_rows_are_found_through_their_index_not_a_scan(app: Flask) -> None:
    from addons.webhooks.timing.scheduler import TABLE, due_condition

    query = sa.select(TABLE.c.id).where(due_condition(T0)).order_by(TABLE.c.due_at).limit(20)
    with app.app_context():
        connection = db.session.connection()
        compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
        if connection.dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            )
            assert "ix_base_automation_due_state_due_at" in plan, plan
            assert "SCAN base_automation_due" not in plan, plan
        else:
            # A tiny test table would be scanned anyway: ask whether the index can serve it.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in connection.exec_driver_sql(f"EXPLAIN {compiled}"))
            assert "ix_base_automation_due_state_due_at" in plan, plan
        db.session.rollback()


def test_saving_a_date_rule_keeps_missed_runs_and_moves_pending_ones_to_the_new_delay(
    app: Flask, make_rule: Callable[..., dict[str, Any]], scheduler: Scheduler
) -> None:
    with clock_for(app, start=T0) as clock:
        rule = date_rule(make_rule, 1, "hours")
        write(app, "sale.order", 2, {"date_order": dt.date(2030, 5, 11)})
        write(app, "sale.order", 3, {"date_order": dt.date(2030, 5, 20)})
        clock.now = dt.datetime(2030, 5, 12)  # order 2 was due on the 11th: missed so far
        write(app, "base.automation", rule["id"], {"trg_date_range": 2, "name": "Renamed"})
        rows = {r["record_id"]: r for r in due_rows(app, rule["id"])}
        assert rows[2]["state"] == "pending"
        assert rows[2]["due_at"] == dt.datetime(2030, 5, 11, 2, 0)
        assert rows[3]["due_at"] == dt.datetime(2030, 5, 20, 2, 0)
        assert scheduler.drain() == 1
        assert notes(app, [2, 3]) == {2: "x", 3: ""}
        # A rule switched off forgets its due work (switched on, it looks at the dates again).
        write(app, "base.automation", rule["id"], {"active": False})
        assert due_rows(app, rule["id"]) == []
