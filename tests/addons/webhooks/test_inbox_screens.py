"""The screens of Respond at once and Replay: the rule form's choices, a call's state and
attempts, Replay (dry run) and Replay on a call's page, a selection replayed from the Logs."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from addons.webhooks.incoming.replay import NOT_KEPT
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.inbox_support import (
    CREATE_CONTACT,
    Clock,
    calls,
    contact_rule,
    contacts,
    worker,
)
from tests.addons.webhooks.screens import location
from tests.addons.webhooks.test_replay import set_code
from tests.support.web import WebClient, csrf_token_from, edit_through_form, page_text


def test_the_rule_form_sets_respond_ordered_and_keep_payloads(
    app: Flask, admin_web: WebClient, make_rule: Any
) -> None:
    rule = make_rule("sale.order")
    page = admin_web.get(f"/webhookview/edit/{rule['id']}").get_data(as_text=True)
    assert 'name="respond"' in page and 'name="ordered"' in page
    response = edit_through_form(
        admin_web,
        f"/webhookview/edit/{rule['id']}",
        {"respond": "at_once", "ordered": "y", "keep_payloads": "y"},
    )
    assert location(response) == f"/webhookview/show/{rule['id']}"
    [saved] = read(app, "base.automation", [("id", "=", rule["id"])], ["respond", "ordered"])
    assert (saved["respond"], saved["ordered"]) == ("at_once", True)
    shown = page_text(admin_web.get(f"/webhookview/show/{rule['id']}"))
    assert "At once (202), then run in the background" in shown
    assert "Keep Payloads for Replay" in shown


def test_a_calls_page_shows_its_state_attempts_and_replays_it(
    app: Flask, admin_web: WebClient, make_rule: Any
) -> None:
    rule = contact_rule(make_rule, respond="at_once", log_calls=True, keep_payloads=True)
    accepted = admin_web.client.post(rule["path"], json={"n": 1}).get_json()
    page = admin_web.get(f"/webhookcallview/show/{accepted['id']}").get_data(as_text=True)
    assert re.search(r'id="call-state"[^>]*>Accepted<', page)
    assert 'id="call-replay"' not in page  # not run yet
    worker(app, Clock()).drain()
    url = f"/webhookcallview/show/{accepted['id']}"
    page = admin_web.get(url).get_data(as_text=True)
    assert re.search(r'id="call-state"[^>]*>OK<', page)
    assert page.count('class="call-attempt"') == 1 and "w1" in page

    token = csrf_token_from(page)
    replay_url = f"/webhookcallview/replay/{accepted['id']}"
    dry = admin_web.client.post(replay_url, data={"csrf_token": token, "dry_run": "1"})
    assert dry.status_code == 200
    text = page_text(dry)
    assert "Changes (not saved)" in text and "inbox-1" in text
    assert contacts(app) == ["inbox-1"]
    assert admin_web.client.post(replay_url, data={"csrf_token": "forged"}).status_code == 400

    real = admin_web.client.post(replay_url, data={"csrf_token": token})
    new_id = calls(app, rule["id"])[-1]["id"]
    assert location(real) == f"/webhookcallview/show/{new_id}"
    assert f"as call #{new_id}" in page_text(admin_web.get(location(real)))
    worker(app, Clock()).drain()
    assert contacts(app) == ["inbox-1", "inbox-1"]
    assert calls(app, rule["id"])[-1]["replay_of"] == accepted["id"]


def test_a_call_whose_payload_was_not_kept_says_why(
    app: Flask, admin_web: WebClient, make_rule: Any
) -> None:
    rule = contact_rule(make_rule, log_calls=True)
    admin_web.client.post(rule["path"], json={"n": 1})
    [call] = calls(app, rule["id"])
    page = admin_web.get(f"/webhookcallview/show/{call['id']}").get_data(as_text=True)
    assert 'id="call-replay"' not in page
    assert NOT_KEPT.replace("'", "&#39;") in page


def test_the_logs_replay_a_rules_errors(app: Flask, admin_web: WebClient, make_rule: Any) -> None:
    rule = contact_rule(make_rule, log_calls=True, keep_payloads=True)
    set_code(app, rule["id"], "raise UserError('broken')")
    for n in (1, 2):
        assert admin_web.client.post(rule["path"], json={"n": n}).status_code == 500
    set_code(app, rule["id"], CREATE_CONTACT)
    logs = f"/webhookcallview/list/?rule_id={rule['id']}"
    page = admin_web.get(logs).get_data(as_text=True)
    assert 'id="call-replay-selection"' in page
    form = {"rule_id": str(rule["id"]), "status": "error", "since": "2000-01-01T00:00"}
    dry = admin_web.submit(
        logs, {**form, "dry_run": "1"}, post_url="/webhookcallview/replay_selection"
    )
    assert dry.status_code == 200
    assert page_text(dry).count("Changes (not saved)") == 2
    real = admin_web.submit(logs, form, post_url="/webhookcallview/replay_selection")
    assert location(real) == logs
    assert worker(app, Clock()).drain() == 2
    assert contacts(app) == ["inbox-1", "inbox-2"]
    none_left = admin_web.submit(
        logs, {**form, "since": "2999-01-01T00:00"}, post_url="/webhookcallview/replay_selection"
    )
    assert "No call that can be replayed matches." in page_text(admin_web.get(location(none_left)))
