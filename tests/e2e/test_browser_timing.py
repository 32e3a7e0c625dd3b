"""Timing rules in a real browser, in English and Thai: the form follows the chosen timing
trigger, its field pickers follow the chosen model, the page lists the records due in the next
24 hours and dry-runs one, a scheduled rule shows its next run in the browser's time zone and
runs now."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest

from addons.webhooks.rules.due import CLOCK_SETTING
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.timing_support import due_rows
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import LANGUAGES, start

ORDER_DATE = {"en": "Order Date", "th": "วันที่สั่ง"}
DUE_SOON = {"en": "Due in the next 24 hours", "th": "ถึงกำหนดภายใน 24 ชั่วโมงข้างหน้า"}
RUN_NOW_DONE = {
    "en": "The rule runs at the worker's next look for due work",
    "th": "กฎจะทำงานเมื่อ worker ตรวจหางานที่ถึงกำหนดครั้งถัดไป",
}


@pytest.fixture
def bangkok_page(browser, live_url: str) -> Iterator[object]:
    """A browser in Bangkok's time zone (UTC+7), to see times shown locally."""
    context = browser.new_context(
        base_url=live_url, viewport={"width": 1280, "height": 900}, timezone_id="Asia/Bangkok"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shown(page, field: str) -> bool:
    return page.locator(f"[data-rule-field={field}]").first.is_visible()


def option_values(page, name: str) -> list[str]:
    return page.eval_on_selector_all(
        f"select[name={name}] option", "options => options.map(o => o.value)"
    )


def wait_for_option(page, name: str, value: str, present: bool = True) -> None:
    """Until the drop-down ``name`` has (or no longer has) the option ``value``."""
    page.wait_for_function(
        "([name, value, present]) => [...document.querySelectorAll(`select[name=${name}] option`)]"
        ".some(o => o.value === value) === present",
        arg=[name, value, present],
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_field_pickers_follow_the_chosen_model(app, page, demo, clean_rules, language) -> None:
    start(page, language)
    page.goto("/automationruleview/add")  # from the Studio: the Model is a drop-down
    page.fill("input[name=name]", "Remind")
    page.select_option("select[name=trigger]", "on_time")
    page.select_option("select[name=model]", "sale.order")
    wait_for_option(page, "trg_date_field", "date_order")
    assert option_values(page, "trg_date_field") == ["", "date_order"]
    label = page.inner_text("select[name=trg_date_field] option[value=date_order]")
    assert label == ORDER_DATE[language]
    page.select_option("select[name=trg_date_field]", "date_order")

    # A Contact has no date field; its own fields replace the order's in Trigger Fields.
    page.select_option("select[name=model]", "res.partner")
    wait_for_option(page, "trg_date_field", "date_order", present=False)
    assert option_values(page, "trg_date_field") == [""]
    fields = option_values(page, "trigger_fields")
    assert "email" in fields and "date_order" not in fields
    # Values set: the Value follows the chosen selection field.
    page.select_option("select[name=trigger]", "on_value_set")
    page.select_option("select[name=trg_selection_field]", "company_type")
    wait_for_option(page, "trg_selection_value", "company")
    assert set(option_values(page, "trg_selection_value")) == {"", "person", "company"}

    # Back to Sales Orders: the date field is offered again, and the rule saves.
    page.select_option("select[name=model]", "sale.order")
    wait_for_option(page, "trg_date_field", "date_order")
    assert option_values(page, "trg_selection_value") == [""]  # company_type is gone
    page.select_option("select[name=trigger]", "on_time")
    page.select_option("select[name=trg_date_field]", "date_order")
    page.fill("input[name=trg_date_range]", "0")
    page.click("#model_form button[type=submit]")
    page.wait_for_url("**/automationruleview/show/*")
    [rule] = read(app, "base.automation", [], ["model", "trigger", "trg_date_field"])
    assert (rule["model"], rule["trigger"], rule["trg_date_field"]) == (
        "sale.order",
        "on_time",
        "date_order",
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_date_rule_from_the_form_lists_the_orders_due_soon_and_dry_runs_one(
    page, demo, clean_rules, language
) -> None:
    start(page, language)
    page.goto("/automationruleview/add?model=sale.order")
    page.fill("input[name=name]", "Remind the day of the order")
    page.select_option("select[name=trigger]", "on_time")
    page.wait_for_function("!document.querySelector('[data-rule-field=trg_date_field]').hidden")
    for used in ("trg_date_field", "trg_date_range", "trg_date_range_type", "filter_domain"):
        assert shown(page, used), used
    for unused in ("target_record", "interval_number", "trg_selection_field", "trigger_fields"):
        assert not shown(page, unused), unused
    page.select_option("select[name=trg_date_field]", "date_order")
    page.fill("input[name=trg_date_range]", "0")
    page.select_option("select[name=trg_date_range_type]", "minutes")
    screenshot(page, f"timing-rule-new-{language}")
    page.click("#model_form button[type=submit]")
    page.wait_for_url("**/automationruleview/show/*")

    # The demo's order dated tomorrow (S00009) is due within 24 hours; the one a week ahead not.
    assert DUE_SOON[language] in page.inner_text("#timing-due")
    soon = page.inner_text("#timing-due-soon")
    assert "S00009" in soon and "S00010" not in soon
    page.click("#timing-due-soon button[type=submit]")
    page.wait_for_selector("#webhook-dry-run")
    assert "S00009" in page.inner_text("#webhook-dry-run-targets")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_scheduled_rule_shows_its_next_run_in_local_time_and_runs_now(
    app, bangkok_page, demo, clean_rules, language
) -> None:
    page = bangkok_page
    start(page, language)
    page.goto("/automationruleview/add?model=sale.order")
    page.fill("input[name=name]", "Every evening")
    page.select_option("select[name=trigger]", "on_schedule")
    page.wait_for_function("!document.querySelector('[data-rule-field=interval_number]').hidden")
    assert shown(page, "target_record") and shown(page, "interval_type")
    assert not shown(page, "trg_date_field")
    page.fill("input[name=interval_number]", "1")
    page.select_option("select[name=interval_type]", "days")
    app.config[CLOCK_SETTING] = lambda: dt.datetime(2030, 1, 1, 12, 0)
    try:
        page.click("#model_form button[type=submit]")
        page.wait_for_url("**/automationruleview/show/*")
    finally:
        app.config.pop(CLOCK_SETTING, None)
    # Stored 2030-01-02 12:00 UTC; shown at 19:00 in Bangkok, UTC in the tooltip.
    when = page.locator("#timing-schedule time")
    assert re.search(r"\b(19[:.]00|7:00\sPM)", when.inner_text()), when.inner_text()
    assert when.get_attribute("title") == "2030-01-02 12:00 UTC"
    screenshot(page, f"timing-scheduled-{language}")
    rule_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.click("#timing-run-now-form button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert RUN_NOW_DONE[language] in page.inner_text(".alert-success")
    [row] = due_rows(app, rule_id)
    assert row["due_at"] < dt.datetime(2030, 1, 1)  # due now, on the real clock
