"""Respond at once and Replay in a real browser: an admin turns a rule to respond at once, an
external system's call is answered 202 and run by a worker, and the admin replays it from its
page (dry run, then for real) and a selection from the rule's Logs."""

from __future__ import annotations

import json
import urllib.request

from tests.addons.webhooks.inbox_support import Clock, calls, contact_rule, contacts, worker
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


def test_respond_at_once_and_replay_in_the_browser(page, app, live_url, demo, make_rule) -> None:
    rule = contact_rule(make_rule, log_calls=True)
    log_in(page)
    page.goto(f"/webhookview/edit/{rule['id']}")
    page.select_option("select[name=respond]", "at_once")
    page.check("input[name=keep_payloads]")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"**/webhookview/show/{rule['id']}")
    assert "At once (202), then run in the background" in page.inner_text("body")

    status, body = post_json(live_url + rule["path"], {"n": 1})
    assert (status, body["status"]) == (202, "accepted")
    page.goto(f"/webhookcallview/show/{body['id']}")
    assert page.inner_text("#call-state") == "Accepted"
    assert worker(app, Clock()).drain() == 1
    page.reload()
    assert page.inner_text("#call-state") == "OK"
    assert page.locator("tr.call-attempt").count() == 1

    page.click("#call-replay-dry button")
    page.wait_for_url("**/webhookcallview/replay/*")
    assert "inbox-1" in page.inner_text(".call-replay-report")
    assert contacts(app) == ["inbox-1"]

    page.goto(f"/webhookcallview/show/{body['id']}")
    page.click("#call-replay button")
    page.wait_for_url("**/webhookcallview/show/*")
    replay_id = calls(app, rule["id"])[-1]["id"]
    assert page.url.endswith(f"/webhookcallview/show/{replay_id}")
    assert page.inner_text("#call-state") == "Accepted"
    worker(app, Clock()).drain()
    assert contacts(app) == ["inbox-1", "inbox-1"]

    page.goto(f"/webhookcallview/list/?rule_id={rule['id']}")
    page.click("#call-replay-selection summary")
    page.select_option("#replay-status", "ok")
    page.click("#replay-submit")  # a dry run: the box is ticked by default
    page.wait_for_url("**/webhookcallview/replay_selection")
    # Each call's latest run: the call was replayed, so its replay stands for it (one report).
    assert page.locator(".call-replay-report").count() == 1
