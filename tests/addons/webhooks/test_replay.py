"""Replay from the Logs through the REST API: one call or a selection, as a dry run (what it
would change now, nothing kept) or for real (a new call in the inbox, logged as a replay)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from addons.webhooks.incoming.replay import NOT_FINISHED, NOT_KEPT
from nightpos_app.extensions import db
from nightpos_app.models import utcnow
from nightpos_app.state import get_env
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.inbox_support import (
    CREATE_CONTACT,
    Clock,
    calls,
    contact_rule,
    contacts,
    worker,
)
from tests.support.web import USER, ApiClient, api_client, one_context_per_request

_ = one_context_per_request

CALLS = "/api/v1/base_automation_call/"


def currency_of_order_7(app: Flask) -> str:
    return read(app, "sale.order", [("id", "=", 7)], ["currency_id"])[0]["currency_id"][1]


def set_code(app: Flask, rule_id: int, code: str) -> None:
    """Change the rule's one action's code, as an admin's edit would."""
    with app.app_context():
        env = get_env(trusted=True)
        action = env["ir.actions.server"].search([("rule_id", "=", rule_id)])
        action.write({"settings": {"code": code}})
        db.session.commit()


def test_one_call_dry_run_then_for_real(app: Flask, api: ApiClient, make_rule: Any) -> None:
    with app.app_context():
        env = get_env(trusted=True)
        usd = env["res.currency"].search([("name", "=", "USD")]).id
        jpy = env["res.currency"].search([("name", "=", "JPY")]).id
    rule = make_rule(
        "sale.order",
        log_calls=True,
        keep_payloads=True,
        actions=[
            {
                "name": "Set USD",
                "action_type": "update_record",
                "settings": {"field": "currency_id", "value": usd},
            }
        ],
    )
    sent = {"_model": "sale.order", "_id": "7", "secret_token": "abc"}
    assert api.client.post(rule["path"], json=sent).status_code == 200
    [original] = calls(app, rule["id"])
    with app.app_context():  # someone sets the order back
        get_env(trusted=True)["sale.order"].browse(7).write({"currency_id": jpy})
        db.session.commit()

    dry = api.post(f"{CALLS}{original['id']}/replay", {"dry_run": True})
    assert dry.status_code == 200, dry.get_json()
    [result] = dry.get_json()["result"]["calls"]
    assert (result["call_id"], result["http_status"], result["answer"]) == (
        original["id"],
        200,
        {"status": "ok"},
    )
    assert result["targets"] == [{"id": 7, "name": "S00007"}]
    [change] = result["changes"]
    assert (change["operation"], change["model"], change["record_id"]) == (
        "update",
        "sale.order",
        7,
    )
    assert change["fields"]["currency_id"] == {"old": "JPY", "new": "USD"}
    assert currency_of_order_7(app) == "JPY"  # nothing kept
    assert len(calls(app, rule["id"])) == 1  # and nothing logged

    real = api.post(f"{CALLS}{original['id']}/replay", {})
    assert real.status_code == 202, real.get_json()
    [made] = real.get_json()["result"]["replays"]
    assert made["call_id"] == original["id"]
    assert worker(app, Clock()).drain() == 1
    assert currency_of_order_7(app) == "USD"
    replayed = calls(app, rule["id"])[-1]
    assert (replayed["id"], replayed["status"], replayed["replay_of"]) == (
        made["id"],
        "ok",
        original["id"],
    )
    assert '"secret_token": "***"' in replayed["payload"]  # masked keys stay masked
    shown = api.get(f"{CALLS}{made['id']}").get_json()["result"]
    assert shown["replay_of"] == original["id"] and "run_payload" not in shown


def test_every_error_since_a_time_is_replayed_against_the_fixed_rule(
    app: Flask, api: ApiClient, make_rule: Any
) -> None:
    rule = contact_rule(make_rule, log_calls=True, keep_payloads=True)
    other = contact_rule(make_rule, log_calls=True, keep_payloads=True)
    assert api.client.post(rule["path"], json={"n": 1}).status_code == 200
    broken_at = utcnow().isoformat() + "Z"
    set_code(app, rule["id"], "raise UserError('broken')")
    set_code(app, other["id"], "raise UserError('broken')")
    for n in (2, 3):
        assert api.client.post(rule["path"], json={"n": n}).status_code == 500
    assert api.client.post(other["path"], json={"n": 9}).status_code == 500
    set_code(app, rule["id"], CREATE_CONTACT)  # fixed
    selection = {"rule_id": rule["id"], "status": "error", "since": broken_at}

    dry = api.post(f"{CALLS}replay", {**selection, "dry_run": True})
    assert dry.status_code == 200, dry.get_json()
    results = dry.get_json()["result"]["calls"]
    assert [r["http_status"] for r in results] == [200, 200]
    assert [r["changes"][0]["fields"]["name"]["new"] for r in results] == ["inbox-2", "inbox-3"]
    assert contacts(app) == ["inbox-1"]

    real = api.post(f"{CALLS}replay", selection)
    assert real.status_code == 202, real.get_json()
    assert len(real.get_json()["result"]["replays"]) == 2
    assert worker(app, Clock()).drain() == 2
    assert contacts(app) == ["inbox-1", "inbox-2", "inbox-3"]
    rows = calls(app, rule["id"])
    assert [(r["status"], r["replay_of"] is not None) for r in rows] == [
        ("ok", False),
        ("error", False),
        ("error", False),
        ("ok", True),
        ("ok", True),
    ]
    # The other rule's error was not selected; a time after everything selects nothing.
    assert [r["status"] for r in calls(app, other["id"])] == ["error"]
    later = api.post(f"{CALLS}replay", {"since": "2999-01-01T00:00:00+07:00"})
    assert (later.status_code, later.get_json()["result"]["replays"]) == (202, [])


def test_what_cannot_be_replayed_is_refused_with_the_reason(
    app: Flask, api: ApiClient, make_rule: Any
) -> None:
    unkept = contact_rule(make_rule, log_calls=True)
    api.client.post(unkept["path"], json={"n": 1})
    [call] = calls(app, unkept["id"])
    refused = api.post(f"{CALLS}{call['id']}/replay", {"dry_run": True})
    assert refused.status_code == 409
    assert refused.get_json()["message"] == f"Call {call['id']}: {NOT_KEPT}"

    waiting = contact_rule(make_rule, respond="at_once", keep_payloads=True)
    accepted = api.client.post(waiting["path"], json={"n": 2}).get_json()
    refused = api.post(f"{CALLS}{accepted['id']}/replay", {})
    assert refused.get_json()["message"] == f"Call {accepted['id']}: {NOT_FINISHED}"

    bad = (
        {"dry_run": "yes"},
        {"since": "yesterday"},
        {"status": "running"},
        {"x": 1},
        {"until": None},
    )
    for body in bad:
        assert api.post(f"{CALLS}replay", body).status_code == 422, body
    assert api.post(f"{CALLS}999999/replay", {}).status_code == 404


def test_replay_takes_the_replay_permission(app: Flask, make_rule: Any, clean_rules: None) -> None:
    rule = contact_rule(make_rule, log_calls=True, keep_payloads=True)
    client = app.test_client()
    client.post(rule["path"], json={"n": 1})
    [call] = calls(app, rule["id"])
    user = api_client(app.test_client(), USER)
    assert user.post(f"{CALLS}{call['id']}/replay", {"dry_run": True}).status_code == 403
    assert user.post(f"{CALLS}replay", {"dry_run": True}).status_code == 403
    assert len(calls(app, rule["id"])) == 1
