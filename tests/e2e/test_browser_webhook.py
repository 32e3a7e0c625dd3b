"""Use case 1 as an admin does it in a real browser, then an external system calls the URL.

This is the README's "Your first webhook in five minutes", step by step, and it takes the
README's screenshots (`make screenshots`). Sales → Webhooks → New, name it, Log Calls on,
save; Add an action: Update Record, Currency, USD (no name: it names itself); save; copy the
URL. The test POSTs the specification's payload to it, then the admin sees
order S00007 in USD and the call in the rule's Logs.
"""

from __future__ import annotations

import json
import urllib.request

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_base import log_in


def post_json(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_use_case_1_in_the_browser(page, demo, clean_rules) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page)

    page.click("text=Sales")
    page.click("li.dropdown.open a:has-text('Webhooks')")
    page.click("a[href*='/webhookview/add']")
    assert "Sales Order" in page.inner_text(".panel-heading")  # the app's model, chosen for us
    assert page.input_value("textarea[name=target_record]") == (
        "model.env[payload.get('_model')].browse(int(payload.get('_id')))"
    )
    # ... shown in the code editor (the textarea it writes to is what the form posts).
    assert "browse(int(payload.get('_id')))" in page.inner_text(
        "[data-rule-field=target_record] .ace_content"
    )
    page.fill("input[name=name]", "Orders to USD")
    page.check("input[name=log_calls]")
    screenshot(page, "webhook-new")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/webhookview/show/*")
    rule_page = page.url

    page.click("text=Add an action")
    page.wait_for_url("**/serveractionview/add*")
    page.wait_for_load_state("load")  # the form's scripts follow the choices below
    # The README's step 3 types no name: the action names itself from its type and settings.
    page.select_option("select[name=action_type]", "update_record")
    page.select_option("#update_record-field", "currency_id")
    page.select_option("select#update_record-value", label="USD")  # the list of currencies
    screenshot(page, "webhook-action")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/webhookview/show/*")
    assert "Update Sales Order: Currency = USD" in page.inner_text("#webhook-actions")

    page.click("#webhook-url-panel button:has-text('Copy')")
    url = page.evaluate("navigator.clipboard.readText()")  # what the Copy button put there
    assert url == page.input_value("#webhook-url") and "/web/hook/" in url
    screenshot(page, "webhook-rule")

    # Test before going live: a dry run shows what would change, and changes nothing.
    page.fill("textarea[name=payload]", '{"_model": "sale.order", "_id": "7"}')
    page.click("button:has-text('Test (dry run)')")
    page.wait_for_selector("text=S00007")
    result = page.inner_text("body")
    assert "JPY" in result and "USD" in result  # order 7's currency, before and after
    screenshot(page, "webhook-dry-run")
    page.goto("/saleorderview/show/7")
    assert "JPY" in page.inner_text("table")

    status, body = post_json(url, {"_model": "sale.order", "_id": "7"})
    assert (status, body) == (200, {"status": "ok"})

    page.goto("/saleorderview/show/7")
    assert "USD" in page.inner_text("table")

    page.goto(rule_page)
    assert page.inner_text("a:has-text('Logs')").split()[-1] == "1"
    page.click("a:has-text('Logs')")
    page.wait_for_selector("text=POST")
    logs = page.inner_text("body")
    assert "200" in logs and "Orders to USD" in logs
    screenshot(page, "webhook-logs")
