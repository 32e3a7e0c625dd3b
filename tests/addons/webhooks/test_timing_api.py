"""Timing rules through the REST API: each trigger's settings are checked, a scheduled rule
tells its next run and runs now, a date rule lists its due records."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from tests.addons.webhooks.test_api import RULES, create
from tests.addons.webhooks.timing_support import clock_for, drain, timer_calls, write
from tests.support.web import ApiClient

T0 = dt.datetime(2033, 7, 1, 10, 0, 0)


def test_each_triggers_settings_are_checked(api: ApiClient) -> None:  # noqa: F811
    cases = [
        (
            {
                "trigger": "on_time",
                "trg_date_field": "state",
                "trg_date_range": 1,
                "trg_date_range_type": "days",
            },
            {"trg_date_field": ["Choose a date or datetime field of sale.order."]},
        ),
        (
            {"trigger": "on_time_created", "trg_date_range": 1, "trg_date_range_type": "years"},
            {"trg_date_range_type": ["Must be one of: minutes, hours, days, months."]},
        ),
        (
            {
                "trigger": "on_schedule",
                "target_record": "model",
                "interval_number": 0,
                "interval_type": "days",
            },
            {"interval_number": ["A whole number between 1 and 3650."]},
        ),
        (
            {"trigger": "on_value_set", "trg_selection_field": "note", "trg_selection_value": "x"},
            {"trg_selection_field": ["Choose a selection field of sale.order."]},
        ),
    ]
    for values, expected in cases:
        response = api.post(RULES, {"name": "R", "model": "sale.order", **values})
        assert response.status_code == 422, values
        assert response.get_json() == {"message": expected}


def test_a_scheduled_rule_tells_its_next_run_and_runs_now(
    app: Flask,
    api: ApiClient,  # noqa: F811
) -> None:
    with clock_for(app, start=T0) as clock:
        rule = create(
            api,
            RULES,
            {
                "name": "Weekly",
                "model": "sale.order",
                "trigger": "on_schedule",
                "target_record": "model.search([('state', '=', 'draft')])",
                "interval_number": 1,
                "interval_type": "weeks",
            },
        )
        due = api.get(f"{RULES}{rule['id']}/due").get_json()
        assert due["result"] == {"next_run_at": "2033-07-08T10:00:00Z"}
        clock.advance(minutes=5)
        answer = api.post(f"{RULES}{rule['id']}/run_now").get_json()
        assert answer["result"] == {"next_run_at": "2033-07-01T10:05:00Z"}
        assert drain(app) == 1
        assert [c["status"] for c in timer_calls(app, rule["id"])] == ["ok"]
        due = api.get(f"{RULES}{rule['id']}/due").get_json()
        assert due["result"] == {"next_run_at": "2033-07-08T10:05:00Z"}


def test_a_date_rule_lists_the_records_due_in_the_next_24_hours(
    app: Flask,
    api: ApiClient,  # noqa: F811
) -> None:
    with clock_for(app, start=T0):
        rule = create(
            api,
            RULES,
            {
                "name": "Day before",
                "model": "sale.order",
                "trigger": "on_time",
                "trg_date_field": "date_order",
                "trg_date_range": -1,
                "trg_date_range_type": "days",
            },
        )
        write(app, "sale.order", 5, {"date_order": dt.date(2033, 7, 2)})
        write(app, "sale.order", 6, {"date_order": dt.date(2033, 7, 9)})
        due = api.get(f"{RULES}{rule['id']}/due").get_json()
        assert due["result"] == {"records": [{"record_id": 5, "due_at": "2033-07-01T00:00:00Z"}]}
        assert api.post(f"{RULES}{rule['id']}/run_now").status_code == 400
