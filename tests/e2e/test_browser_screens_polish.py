"""Issue 13 in a real browser: the code editor, action names, outgoing URL warnings, the
models offered, the log's layout, the action page, flashes, the home page, the favicon, narrow
screens and the menu (findings 2, 4, 7, 8, 10, 11, 12, 13, 14), in English and in Thai."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import LANGUAGES, box, failing_call, start

CODE_NAMES = ("env", "model", "record", "records", "payload", "log(message)", "UserError")


@pytest.mark.parametrize("language", LANGUAGES)
def test_code_fields_are_a_python_editor_with_help(page, demo, make_rule, language) -> None:
    """Finding 13: Target Record and Execute Code are Ace editors (bundled, no CDN): Python
    highlighting, line numbers, the failing line marked on a refused save, a Help tab."""
    words = start(page, language)
    outside: list[str] = []
    page.on("request", lambda r: None if "127.0.0.1" in r.url else outside.append(r.url))
    page.goto("/webhookview/add?model=sale.order")
    editor = page.locator("[data-rule-field=target_record] .ace_editor")
    assert editor.is_visible()
    assert (
        page.locator("[data-rule-field=target_record] .ace_gutter-cell").first.inner_text() == "1"
    )
    assert (
        page.locator(
            "[data-rule-field=target_record] .ace_identifier, "
            "[data-rule-field=target_record] .ace_support"
        ).count()
        > 0
    )

    rule = make_rule("res.partner", target_record="model.browse([2])")
    page.goto(f"/serveractionview/add?rule_id={rule['id']}")
    page.select_option("select[name=action_type]", "execute_code")
    code = page.locator("[data-action-type=execute_code] .ace_editor")
    code.click()
    page.keyboard.type("if payload:\n")
    page.keyboard.type("log(1)\n")
    page.keyboard.press("Home")
    page.keyboard.type("x = = 2\n")  # line 3: not Python
    assert page.locator("[data-action-type=execute_code] .ace_keyword").first.inner_text() == "if"
    page.click(f"[data-action-type=execute_code] a:has-text('{words['help']}')")
    help_text = page.inner_text("[data-action-type=execute_code] .webhook-code-help-panel")
    for name in CODE_NAMES:
        assert name in help_text, name
    page.click(f"[data-action-type=execute_code] a:has-text('{words['code']}')")
    page.click("#model_form button[type=submit]")
    page.wait_for_selector("[data-action-type=execute_code] .webhook-error")
    marked = page.locator("[data-action-type=execute_code] .webhook-editor-box")
    error = page.inner_text("[data-action-type=execute_code] .webhook-error")
    line = re.search(r"(?:Line|บรรทัด(?:ที่)?)\s*(\d+)", error)
    assert line, error
    assert marked.get_attribute("data-error-row") == line.group(1)
    assert page.locator("[data-action-type=execute_code] .ace_gutter-cell.ace_error").count() == 1
    assert page.locator("[data-action-type=execute_code] .webhook-error-line").count() == 1
    screenshot(page, f"code-editor-{language}")
    assert outside == [], "everything the editor needs is served by the app"


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_unnamed_action_is_named_and_a_private_url_is_warned_about(
    page,
    demo,
    make_rule,
    language,
) -> None:
    """Findings 4 and 2: an action saved without a name is named from its type and settings;
    Send Webhook to a loopback address is saved with a warning naming the setting."""
    words = start(page, language)
    rule = make_rule("sale.order")
    page.goto(f"/serveractionview/add?rule_id={rule['id']}")
    page.select_option("select[name=action_type]", "update_record")
    page.select_option("#update_record-field", "currency_id")
    page.select_option("select#update_record-value", label="USD")
    page.click("#model_form button[type=submit]")
    page.wait_for_url("**/webhookview/show/*")
    assert "Update Sales Order: Currency = USD" in page.inner_text("#webhook-actions")

    page.goto(f"/serveractionview/add?rule_id={rule['id']}")
    page.select_option("select[name=action_type]", "send_webhook")
    page.fill("#send_webhook-url", "http://127.0.0.1:9/hook")
    page.click("#model_form button[type=submit]")
    page.wait_for_url("**/webhookview/show/*")
    warning = page.inner_text(".alert-warning")
    assert words["refused_hint"] in warning and "127.0.0.1" in warning
    assert "Send Webhook Notification: URL = http://127.0.0.1:9/hook" in page.inner_text(
        "#webhook-actions"
    )

    # The action's page lists its details in words, never as a dict.
    page.click("#webhook-actions a:has-text('Update Sales Order')")
    details = page.inner_text("#action-details")
    assert "USD" in details and "{" not in page.inner_text("#Home")


@pytest.mark.parametrize("language", LANGUAGES)
def test_new_without_developer_mode_offers_business_models_only(page, demo, language) -> None:
    """Finding 7: Studio → Webhooks → New lists no internal model."""
    start(page, language)
    page.goto("/webhookview/add")
    offered = page.eval_on_selector_all("select[name=model] option", "os => os.map(o => o.value)")
    assert {"sale.order", "res.partner", "res.currency"} <= set(offered)
    internal = {
        "ir.actions.server",
        "base.automation.call",
        "webhook.delivery",
        "webhook.delivery.attempt",
        "base.automation",
    }
    assert not internal & set(offered)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_log_keeps_the_payloads_layout_and_shows_times_in_utc(
    page,
    demo,
    make_rule,
    live_url,
    language,
) -> None:
    """Finding 8: payload and traceback keep their indentation; times to the second, in UTC."""
    failing = {"name": "Fail", "action_type": "execute_code", "settings": {"code": "1/0"}}
    rule = make_rule("sale.order", actions=[failing], log_calls=True)
    failing_call(live_url + rule["path"], {"_model": "sale.order", "_id": 7, "deep": {"a": 1}})
    start(page, language)
    page.goto(f"/webhookcallview/list/?rule_id={rule['id']}")
    listed = page.inner_text("table.nightpos-cards tbody")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", listed), listed
    assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", listed)
    page.click("table.nightpos-cards tbody a[href*='/webhookcallview/show/']")
    payload = page.inner_text("pre.nightpos-pre >> nth=0")
    assert json.loads(payload)["deep"] == {"a": 1}
    assert '\n  "deep": {\n    "a": 1\n  }' in payload  # indented, kept
    traceback = page.inner_text("pre.nightpos-pre >> nth=1")
    assert "\n  File " in traceback and "division by zero" in traceback  # indented lines kept
    screenshot(page, f"call-detail-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_home_flash_favicon_and_menu(
    page, demo, make_rule, live_url, clean_rules, language
) -> None:
    """Findings 11 and 14: a useful home page, flashes in the product's words, a favicon, the
    menu named as the specification names it."""
    words = start(page, language)
    page.goto("/")
    assert words["first_webhook"] in page.inner_text(".nightpos-home")
    assert page.locator("#home-new-webhook").is_visible()
    icon = page.request.get(live_url + "/favicon.ico")
    assert icon.status == 200 and icon.body()[:4] == b"\x89PNG"
    assert page.locator("link[rel=icon]").count() == 1

    failing = {
        "name": "Fail",
        "action_type": "execute_code",
        "settings": {"code": "raise UserError('x')"},
    }
    rule = make_rule("sale.order", actions=[failing], log_calls=True, name="Broken rule")
    failing_call(live_url + rule["path"], {"_model": "sale.order", "_id": 7})
    page.goto("/")
    home = page.inner_text(".nightpos-home")
    for title in ("rules_with_errors", "deliveries", "calls_today"):
        assert words[title] in home, title
    assert "Broken rule" in page.inner_text("#home-failing-rules")
    assert "Action 1 'Fail': x" in page.inner_text("#home-failing-rules")
    screenshot(page, f"home-{language}")

    page.click("a.dropdown-toggle:has-text('Studio'), a.dropdown-toggle:has-text('สตูดิโอ')")
    assert (
        page.locator(
            f"a[href='/automationruleview/list/']:has-text('{words['automations']}')"
        ).count()
        == 1
    )

    page.goto("/automationruleview/add?model=sale.order")
    page.fill("input[name=name]", "Named flash")
    page.click("#model_form button[type=submit]")
    page.wait_for_url("**/show/*")
    flashed = page.inner_text(".alert-success")
    assert words["created"].format(name="Named flash") in flashed
    assert "Added Row" not in flashed


@pytest.mark.parametrize("language", LANGUAGES)
def test_tables_are_usable_on_a_phone(page, demo, make_rule, live_url, language) -> None:
    """Finding 12: at 390 px the log and rule lists show every column, Status and Error
    included, without scrolling sideways."""
    failing = {
        "name": "Fail",
        "action_type": "execute_code",
        "settings": {"code": "raise UserError('" + "long " * 40 + "')"},
    }
    rule = make_rule("sale.order", actions=[failing], log_calls=True)
    failing_call(live_url + rule["path"], {"_model": "sale.order", "_id": 7})
    start(page, language)
    page.set_viewport_size({"width": 390, "height": 844})
    for url in (f"/webhookcallview/list/?rule_id={rule['id']}", "/automationruleview/list/"):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (url, width)
        for cell in page.locator("table.nightpos-cards tbody tr").first.locator("td").all():
            found = cell.bounding_box()
            if found:
                assert found["x"] >= 0 and found["x"] + found["width"] <= 391, (url, found)
    status = box(page, "table.nightpos-cards tbody td[data-label]")
    assert status["width"] > 200  # a card, not a squeezed column
    page.goto(f"/webhookcallview/list/?rule_id={rule['id']}")
    screenshot(page, f"phone-log-{language}")
