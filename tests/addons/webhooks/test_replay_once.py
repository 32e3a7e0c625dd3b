"""A replay runs a call again once, as the admin meant: never twice by accident.

Attacks (an admin in a hurry, or two admins): replaying the same call twice before its replay
ran (a double click, a page posted again, two people on the Logs) put two replays in the inbox,
so the rule's side effects (a contact created, an order confirmed, a message sent) happened
twice more. And a selection ("every error since 10:00") asked again took the errors *and*
their replays: the originals were replayed a second time, their failed replays too, doubling
each round. Now a call whose replay has not run is refused, under a lock (concurrent replays
on PostgreSQL too), and a selection takes each call's latest run only.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
from typing import Any

from flask import Flask

from addons.webhooks.incoming.replay import NOT_KEPT, REPLAYING
from tests.addons.webhooks.inbox_support import Clock, calls, contact_rule, contacts, worker
from tests.addons.webhooks.live_server import serving
from tests.addons.webhooks.test_replay import CALLS, set_code
from tests.support.web import (
    ApiClient,
    WebClient,
    csrf_token_from,
    one_context_per_request,
    page_text,
)

_ = one_context_per_request

BROKEN = "raise UserError('broken')"


def one_logged_call(app: Flask, api: ApiClient, make_rule: Any) -> tuple[dict[str, Any], int]:
    rule = contact_rule(make_rule, log_calls=True, keep_payloads=True)
    assert api.client.post(rule["path"], json={"n": 1}).status_code == 200
    [call] = calls(app, rule["id"])
    return rule, call["id"]


def test_a_call_whose_replay_has_not_run_is_not_replayed_again(
    app: Flask, api: ApiClient, make_rule: Any
) -> None:
    rule, call_id = one_logged_call(app, api, make_rule)
    first = api.post(f"{CALLS}{call_id}/replay", {})
    assert first.status_code == 202, first.get_json()
    [new] = first.get_json()["result"]["replays"]
    second = api.post(f"{CALLS}{call_id}/replay", {})
    assert second.status_code == 409
    assert second.get_json()["message"] == f"Call {call_id}: " + REPLAYING % {"id": new["id"]}
    # A selection leaves it out: its replay stands for it.
    assert api.post(f"{CALLS}replay", {"rule_id": rule["id"]}).get_json()["result"] == {
        "dry_run": False,
        "message": "The calls will run again shortly; each replay is a call of its own.",
        "replays": [],
    }
    # A dry run changes nothing: still allowed.
    assert api.post(f"{CALLS}{call_id}/replay", {"dry_run": True}).status_code == 200
    worker(app, Clock()).drain()
    assert contacts(app) == ["inbox-1", "inbox-1"]  # the call, and its one replay
    # Once the replay has run, replaying the call again is the admin's choice.
    assert api.post(f"{CALLS}{call_id}/replay", {}).status_code == 202


def test_the_same_selection_asked_twice_replays_nothing_twice(
    app: Flask, api: ApiClient, make_rule: Any
) -> None:
    rule = contact_rule(make_rule, log_calls=True, keep_payloads=True)
    set_code(app, rule["id"], BROKEN)
    for n in (1, 2):
        assert api.client.post(rule["path"], json={"n": n}).status_code == 500
    selection = {"rule_id": rule["id"], "status": "error"}
    # Still broken: the replays fail too.
    assert len(api.post(f"{CALLS}replay", selection).get_json()["result"]["replays"]) == 2
    worker(app, Clock()).drain()
    # Asked again: the two failed replays (the latest runs), not the originals again.
    again = api.post(f"{CALLS}replay", selection).get_json()["result"]["replays"]
    originals = [row["id"] for row in calls(app, rule["id"])[:2]]
    assert len(again) == 2 and not {r["call_id"] for r in again} & set(originals)
    worker(app, Clock()).drain()
    set_code(app, rule["id"], "env['res.partner'].create({'name': 'inbox-%s' % payload['n']})")
    fixed = api.post(f"{CALLS}replay", selection).get_json()["result"]["replays"]
    assert len(fixed) == 2
    worker(app, Clock()).drain()
    assert sorted(contacts(app)) == ["inbox-1", "inbox-2"]  # each call's work done once
    assert api.post(f"{CALLS}replay", selection).get_json()["result"]["replays"] == []


def test_the_logs_screen_refuses_a_second_replay_with_the_reason(
    app: Flask, admin_web: WebClient, make_rule: Any, clean_rules: None
) -> None:
    rule = contact_rule(make_rule, log_calls=True, keep_payloads=True)
    assert admin_web.client.post(rule["path"], json={"n": 1}).status_code == 200
    [call] = calls(app, rule["id"])
    page = admin_web.get(f"/webhookcallview/show/{call['id']}").get_data(as_text=True)
    token = csrf_token_from(page)
    url = f"/webhookcallview/replay/{call['id']}"
    # The same form posted twice (a double click).
    first = admin_web.client.post(url, data={"csrf_token": token})
    second = admin_web.client.post(url, data={"csrf_token": token}, follow_redirects=True)
    assert first.status_code == 302
    assert "is being replayed already" in page_text(second)
    assert len(calls(app, rule["id"])) == 2
    worker(app, Clock()).drain()
    assert contacts(app) == ["inbox-1", "inbox-1"]


def test_concurrent_replays_of_one_call_store_one(
    app: Flask, api: ApiClient, make_rule: Any
) -> None:
    """Eight admins' replays of one call at the same moment, over a real threaded server (on
    PostgreSQL too): one is stored, the others refused."""
    _rule, call_id = one_logged_call(app, api, make_rule)
    headers = {**api.headers, "Content-Type": "application/json"}

    def replay(host: str, port: int) -> int:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.request("POST", f"{CALLS}{call_id}/replay", json.dumps({}), headers)
        status = connection.getresponse().status
        connection.close()
        return status

    with serving(app) as (host, port), concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _i: replay(host, port), range(8)))
    assert statuses == [202] + [409] * 7, statuses
    replays = [row for row in calls(app) if row["replay_of"] == call_id]
    assert len(replays) == 1


def test_a_rule_that_no_longer_keeps_payloads_has_its_old_calls_replayed_by_nobody(
    app: Flask, api: ApiClient, make_rule: Any
) -> None:
    """Keep Payloads for Replay turned off: the payloads kept before are not run again, for
    real or as a dry run (whose changes and logs would show what they held)."""
    rule, call_id = one_logged_call(app, api, make_rule)
    assert (
        api.put(f"/api/v1/base_automation/{rule['id']}", {"keep_payloads": False}).status_code
        == 200
    )
    message = f"Call {call_id}: {NOT_KEPT}"
    for body in ({}, {"dry_run": True}):
        refused = api.post(f"{CALLS}{call_id}/replay", body)
        assert (refused.status_code, refused.get_json()["message"]) == (409, message), body
        selected = api.post(f"{CALLS}replay", {**body, "rule_id": rule["id"]}).get_json()["result"]
        assert selected.get("replays", selected.get("calls")) == [], body
    assert len(calls(app, rule["id"])) == 1
    # Turned on again, the kept payload (still within retention) can be replayed.
    assert (
        api.put(f"/api/v1/base_automation/{rule['id']}", {"keep_payloads": True}).status_code == 200
    )
    assert api.post(f"{CALLS}{call_id}/replay", {}).status_code == 202
