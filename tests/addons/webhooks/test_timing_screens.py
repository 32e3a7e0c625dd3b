"""Timing rules on the screens (HTTP through the real app): the form takes each trigger's
settings and refuses bad ones; the page shows a scheduled rule's next run and Run now, the
records due now and in the next 24 hours, and dry-runs one; Logs shows the timed runs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from flask import Flask

from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.test_devmode_and_rule_form import rule_form_error
from tests.addons.webhooks.timing_support import (
    clock_for,
    date_rule,
    drain,
    due_rows,
    notes,
    post_rule,
    write,
)
from tests.support.web import WebClient, csrf_token_from, page_text

T0 = dt.datetime(2032, 3, 1, 12, 0, 0)


def test_the_form_saves_a_date_rule_and_refuses_a_field_that_is_no_date(
    app: Flask, admin_web: WebClient, clean_rules: None
) -> None:
    response = post_rule(
        admin_web,
        name="Late",
        trigger="on_time",
        trg_date_field="note",
        trg_date_range="-2",
        trg_date_range_type="hours",
    )
    assert response.status_code == 200
    assert "date or datetime field" in rule_form_error(
        response.get_data(as_text=True), "trg_date_field"
    )
    response = post_rule(
        admin_web,
        name="Late",
        trigger="on_time",
        trg_date_field="date_order",
        trg_date_range="-2",
        trg_date_range_type="hours",
        filter_domain="[('state', '=', 'draft')]",
    )
    assert response.status_code == 302
    [rule] = read(
        app,
        "base.automation",
        [],
        ["trigger", "trg_date_field", "trg_date_range", "trg_date_range_type", "interval_type"],
    )
    assert rule["trg_date_field"] == "date_order" and rule["trg_date_range"] == -2
    assert rule["trg_date_range_type"] == "hours" and rule["interval_type"] is None


def test_values_set_checks_the_value_against_the_selection(
    app: Flask, admin_web: WebClient, clean_rules: None
) -> None:
    response = post_rule(
        admin_web,
        name="Won",
        trigger="on_value_set",
        trg_selection_field="state",
        trg_selection_value="won",
    )
    assert "Choose one of draft, sent, sale, cancel." in rule_form_error(
        response.get_data(as_text=True), "trg_selection_value"
    )
    response = post_rule(
        admin_web,
        name="Won",
        trigger="on_value_set",
        trg_selection_field="state",
        trg_selection_value="sale",
    )
    assert response.status_code == 302


def test_a_scheduled_rule_shows_its_next_run_and_runs_now(
    app: Flask, admin_web: WebClient, clean_rules: None
) -> None:
    with clock_for(app, start=T0) as clock:
        response = post_rule(
            admin_web,
            name="Nightly",
            trigger="on_schedule",
            interval_number="2",
            interval_type="days",
        )
        assert response.status_code == 302, page_text(response)
        page_url = response.headers["Location"]
        rule_id = int(page_url.rstrip("/").rsplit("/", 1)[1])
        [rule] = read(app, "base.automation", [("id", "=", rule_id)], ["target_record"])
        assert rule["target_record"] == "model"  # no record: the actions run once
        page = admin_web.get(page_url).get_data(as_text=True)
        assert 'datetime="2032-03-03T12:00:00Z"' in page  # next run, shown in local time by JS
        token = csrf_token_from(page)
        response = admin_web.client.post(
            f"/automationruleview/run_now/{rule_id}", data={"csrf_token": token}
        )
        assert response.status_code == 302
        [row] = due_rows(app, rule_id)
        assert row["due_at"] == T0
        clock.advance(seconds=1)
        assert drain(app) == 1
        # Logs shows the timed run.
        logs = admin_web.get(f"/webhookcallview/list/?rule_id={rule_id}")
        assert "TIMER" in page_text(logs)


def test_the_test_panel_lists_records_due_now_and_soon_and_dry_runs_one(
    app: Flask,
    admin_web: WebClient,
    make_rule: Callable[..., dict[str, Any]],
) -> None:
    with clock_for(app, start=T0) as clock:
        rule = date_rule(make_rule)
        write(app, "sale.order", 2, {"date_order": dt.date(2032, 3, 2)})
        write(app, "sale.order", 3, {"date_order": dt.date(2032, 3, 5)})
        write(app, "sale.order", 4, {"date_order": dt.date(2032, 3, 2)})
        clock.now = dt.datetime(2032, 3, 2, 6, 0)
        write(app, "sale.order", 4, {"date_order": dt.date(2032, 3, 3)})
        page_url = f"/automationruleview/show/{rule['id']}"
        page = admin_web.get(page_url).get_data(as_text=True)
        due_now = re.search(r'id="timing-due-now">(.*?)</table>', page, re.S)
        due_soon = re.search(r'id="timing-due-soon">(.*?)</table>', page, re.S)
        assert due_now and "S00002" in due_now.group(1) and "S00004" not in due_now.group(1)
        assert due_soon and "S00004" in due_soon.group(1)
        assert "S00003" not in due_now.group(1) + due_soon.group(1)  # due in 3 days
        response = admin_web.client.post(
            f"/automationruleview/record_test/{rule['id']}",
            data={"csrf_token": csrf_token_from(page), "record_id": "2"},
        )
        assert response.status_code == 200
        result = page_text(response)
        assert "Terms and Conditions" in result and "S00002" in result  # the change it would make
        assert notes(app, [2]) == {2: ""}  # a dry run: nothing kept
