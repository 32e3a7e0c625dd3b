"""A timing rule's delay or period cannot take the model's writes down.

Attack (a rule author, or a typo): delays and periods were bounded by a number of minutes
whatever the unit, so "5,256,000 days" or "months" saved (or answered 500 on saving), and once
saved, *every write of the rule's model* answered 500 (the time past year 9999 overflowed when
the write made a record due): a whole model's screens, API and webhooks down. A record's own
date near the calendar's end (9999-12-31) did the same with a small delay. Now each unit is
bounded to about ten years (the form and the API say the unit's bound; a delay before a
record's creation or update, which ran every record at once, is refused too), and a time past
the calendar's end is its end (never due) rather than an error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from addons.webhooks.models import MAX_DELAY
from addons.webhooks.rules.timing_settings import max_amount
from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.test_api import RULES, create
from tests.addons.webhooks.timing_support import due_rows, write
from tests.support.web import ApiClient, WebClient, edit_through_form, page_text

MOST = {"minutes": MAX_DELAY, "hours": 87_600, "days": 3_650, "weeks": 521, "months": 130}


def timing(trigger: str, amount: int, unit: str) -> dict[str, Any]:
    if trigger == "on_schedule":
        return {"trigger": trigger, "target_record": "model.browse([])", **period(amount, unit)}
    values = {"trigger": trigger, "trg_date_range": amount, "trg_date_range_type": unit}
    return {**values, "trg_date_field": "date_order"} if trigger == "on_time" else values


def period(amount: int, unit: str) -> dict[str, Any]:
    return {"interval_number": amount, "interval_type": unit}


CASES = [
    *(("on_schedule", unit) for unit in MOST),
    *(
        (trigger, unit)
        for trigger in ("on_time", "on_time_created", "on_time_updated")
        for unit in ("minutes", "hours", "days", "months")
    ),
]


@pytest.mark.parametrize(("trigger", "unit"), CASES)
def test_each_unit_is_bounded_to_about_ten_years_and_writes_go_on(
    app: Flask,
    api: ApiClient,  # noqa: F811
    trigger: str,
    unit: str,
) -> None:
    assert max_amount(unit) == MOST[unit]
    column = "interval_number" if trigger == "on_schedule" else "trg_date_range"
    # Before a date, yes; before a record's creation or update, or a period of 0, no.
    low = {"on_schedule": 1, "on_time": -MOST[unit]}.get(trigger, 0)
    for too_far in ([MOST[unit] + 1, MAX_DELAY] if unit != "minutes" else [MAX_DELAY + 1]) + [
        -MAX_DELAY - 1,
        low - 1,
    ]:
        response = api.post(
            RULES, {"name": "R", "model": "sale.order", **timing(trigger, too_far, unit)}
        )
        assert response.status_code == 422, (too_far, response.get_json())
        message = f"A whole number between {low} and {MOST[unit]}."
        assert response.get_json() == {"message": {column: [message]}}
    for amount in {low, MOST[unit]}:
        values = {"name": f"R{amount}", "model": "sale.order", **timing(trigger, amount, unit)}
        create(api, RULES, values)
    # Every write of the model still works (and makes records due where the rule says so).
    assert api.put("/api/v1/sale_order/7", {"note": "still writable"}).status_code == 200
    assert api.put("/api/v1/sale_order/7", {"date_order": "2030-01-31"}).status_code == 200


def test_a_time_past_the_calendars_end_is_never_due_rather_than_an_error(
    app: Flask,
    api: ApiClient,  # noqa: F811
) -> None:
    # A rule saved before delays were bounded (written as an older release let it be)...
    with app.app_context():
        rule = get_env(trusted=True)["base.automation"].create(
            {"name": "Old", "model": "sale.order", **timing("on_time_updated", 1, "days")}
        )
        rule_id = rule.id
        db.session.commit()
        db.session.execute(
            db.text("UPDATE base_automation SET trg_date_range = :n WHERE id = :id"),
            {"n": MAX_DELAY, "id": rule_id},
        )
        db.session.commit()
    assert api.put("/api/v1/sale_order/7", {"note": "after an old rule"}).status_code == 200
    [row] = due_rows(app, rule_id)
    assert row["due_at"] == dt.datetime.max
    # ...and a record's own date at the calendar's end, with a rule a few days after it.
    dated = create(
        api, RULES, {"name": "Dated", "model": "sale.order", **timing("on_time", 3, "days")}
    )
    assert api.put("/api/v1/sale_order/7", {"date_order": "9999-12-31"}).status_code == 200
    write(app, "sale.order", 7, {"note": "written again"})
    [row] = [r for r in due_rows(app, dated["id"]) if r["record_id"] == 7]
    assert row["due_at"] == dt.datetime.max


def test_the_form_says_the_units_bound_and_saves_nothing(
    app: Flask, admin_web: WebClient, make_rule: Any
) -> None:
    rule = make_rule("sale.order", name="Weekly", **timing("on_schedule", 1, "weeks"))
    url = f"/automationruleview/edit/{rule['id']}"
    before = read(app, "base.automation", [("id", "=", rule["id"])], None)
    for amount, unit in ((600, "weeks"), (0, "minutes"), (-1, "days"), (10**12, "hours")):
        response = edit_through_form(admin_web, url, period(amount, unit))
        assert response.status_code == 200, (amount, unit)
        assert f"A whole number between 1 and {MOST[unit]}." in page_text(response)
        assert read(app, "base.automation", [("id", "=", rule["id"])], None) == before
    response = edit_through_form(admin_web, url, period(521, "weeks"))
    assert response.status_code == 302
