"""Send Webhook Notification in a real browser: the action form shows the exact JSON that will
be sent, and the sample follows the fields picked in the multi-select without a reload."""

from __future__ import annotations

import json

from tests.addons.webhooks.conftest import make_rule  # noqa: F401  (fixture)
from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_base import log_in


def test_the_sample_json_follows_the_chosen_fields(page, demo, make_rule) -> None:  # noqa: F811
    rule = make_rule("sale.order")
    log_in(page)
    page.goto(f"/serveractionview/add?rule_id={rule['id']}")
    page.fill("input[name=name]", "Notify ERP")
    page.select_option("select[name=action_type]", "send_webhook")
    preview = page.locator("#send_webhook-preview")
    assert preview.is_visible()
    assert set(json.loads(preview.inner_text())) == {"_model", "_id", "_action"}

    page.select_option("#send_webhook-fields", ["partner_id", "date_order"])
    page.wait_for_function(
        "document.getElementById('send_webhook-preview').textContent.includes('date_order')"
    )
    body = json.loads(preview.inner_text())
    assert list(body)[:3] == ["_model", "_id", "_action"]
    assert body["_model"] == "sale.order" and body["_action"] == "Notify ERP(#new)"
    assert isinstance(body["partner_id"], int)  # a many-to-one is sent as the id
    assert len(body["date_order"]) == 10 and body["date_order"][4] == "-"  # ISO 8601

    page.select_option("#send_webhook-fields", ["amount_total"])
    page.wait_for_function(
        "!document.getElementById('send_webhook-preview').textContent.includes('date_order')"
    )
    body = json.loads(preview.inner_text())
    assert set(body) == {"_model", "_id", "_action", "amount_total"}
    assert isinstance(body["amount_total"], float)
    screenshot(page, "send-webhook-action")

    page.fill("#send_webhook-url", "https://erp.example.com/hooks/orders")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/webhookview/show/*")
    assert "Send Webhook Notification" in page.inner_text("#webhook-actions")
