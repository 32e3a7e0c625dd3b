"""Idempotency keys over HTTP: a repeated key gets the first answer and the rule runs once."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import threading

import sqlalchemy as sa

from addons.webhooks.incoming.idempotency import prune_requests
from addons.webhooks.models import WebhookCall, WebhookRequest
from nightpos_app.extensions import db
from nightpos_app.models import utcnow
from nightpos_app.state import get_env
from tests.addons.webhooks.guard_support import counting_rule, runs
from tests.addons.webhooks.live_server import serving
from tests.support.web import ADMIN, api_client


def post(client, rule, name, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(rule["path"], json={"name": name}, headers=headers)


def test_a_repeated_key_replays_the_first_answer_and_runs_once(app, client, make_rule):
    rule = counting_rule(make_rule, idempotency=True)
    first = post(client, rule, "idem once", key="order-42")
    again = post(client, rule, "idem once", key="order-42")
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json() == {"status": "ok"}
    assert again.headers["Idempotent-Replayed"] == "true"
    assert runs(app, "idem once") == 1
    # Another key runs.
    assert post(client, rule, "idem once", key="order-43").status_code == 200
    assert runs(app, "idem once") == 2


def test_a_failed_first_answer_is_replayed_too(app, client, make_rule):
    rule = make_rule("sale.order", target_record="model.browse([])", idempotency=True)
    first = post(client, rule, "x", key="fails")
    again = post(client, rule, "x", key="fails")
    assert first.status_code == again.status_code == 500
    assert again.get_json() == first.get_json()


def test_keys_are_per_rule_and_ignored_when_the_rule_has_them_off(app, client, make_rule):
    one = counting_rule(make_rule, idempotency=True)
    two = counting_rule(make_rule, idempotency=True)
    off = counting_rule(make_rule)
    post(client, one, "idem per rule", key="k")
    post(client, two, "idem per rule", key="k")
    assert runs(app, "idem per rule") == 2
    post(client, off, "idem off", key="k")
    post(client, off, "idem off", key="k")
    assert runs(app, "idem off") == 2


def test_a_duplicate_while_the_first_still_runs_gets_409(app, client, make_rule):
    rule = counting_rule(make_rule, idempotency=True)
    with app.app_context():  # the first call's claim, before its answer is stored
        db.session.add(WebhookRequest(rule_id=rule["id"], key="busy"))
        db.session.commit()
    response = post(client, rule, "idem busy", key="busy")
    assert response.status_code == 409
    assert response.headers["Retry-After"].isdigit()
    assert runs(app, "idem busy") == 0


def test_too_long_a_key_is_refused(app, client, make_rule):
    rule = counting_rule(make_rule, idempotency=True)
    assert post(client, rule, "idem long", key="k" * 256).status_code == 400
    assert runs(app, "idem long") == 0


def test_old_keys_expire_and_are_pruned(app, client, make_rule):
    rule = counting_rule(make_rule, idempotency=True)
    post(client, rule, "idem old", key="old")
    with app.app_context():
        db.session.execute(
            sa.update(WebhookRequest).values(created_at=utcnow() - dt.timedelta(hours=25))
        )
        db.session.commit()
    # Past 24 hours the key is new again...
    assert post(client, rule, "idem old", key="old").status_code == 200
    assert runs(app, "idem old") == 2
    with app.app_context():
        db.session.execute(
            sa.update(WebhookRequest).values(created_at=utcnow() - dt.timedelta(hours=25))
        )
        db.session.commit()
        # ...and pruning removes what is older.
        assert prune_requests() == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookRequest)) == 0


def test_concurrent_duplicates_run_once(app, make_rule):
    rule = counting_rule(make_rule, idempotency=True)
    statuses: list[int] = []
    start = threading.Barrier(8)

    def sender(host: str, port: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        start.wait()
        connection.request(
            "POST",
            rule["path"],
            body=json.dumps({"name": "idem race"}),
            headers={"Content-Type": "application/json", "Idempotency-Key": "race"},
        )
        statuses.append(connection.getresponse().status)
        connection.close()

    with serving(app) as (host, port):
        threads = [threading.Thread(target=sender, args=(host, port)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert len(statuses) == 8
    # One ran; the others got its answer or were told it is still running.
    assert set(statuses) <= {200, 409} and 200 in statuses
    assert runs(app, "idem race") == 1


def _unanswered_claim(app, rule, key, age_seconds):
    """The row a call leaves when its process is killed after claiming ``key``."""
    with app.app_context():
        db.session.add(
            WebhookRequest(
                rule_id=rule["id"],
                key=key,
                created_at=utcnow() - dt.timedelta(seconds=age_seconds),
            )
        )
        db.session.commit()


def test_a_claim_left_by_a_killed_call_is_taken_over_once_old(app, client, make_rule):
    rule = counting_rule(make_rule, idempotency=True)
    _unanswered_claim(app, rule, "killed-mid-call", age_seconds=5)
    # Recent: the first call may still be running.
    assert post(client, rule, "idem takeover", key="killed-mid-call").status_code == 409
    assert runs(app, "idem takeover") == 0
    app.config["WEBHOOK_IDEMPOTENCY_TAKEOVER_SECONDS"] = 2
    try:
        taken = post(client, rule, "idem takeover", key="killed-mid-call")
        again = post(client, rule, "idem takeover", key="killed-mid-call")
    finally:
        del app.config["WEBHOOK_IDEMPOTENCY_TAKEOVER_SECONDS"]
    assert taken.status_code == 200 and taken.get_json() == {"status": "ok"}
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert runs(app, "idem takeover") == 1


def test_a_slow_call_whose_claim_was_taken_over_keeps_nothing(app, make_rule):
    """The answer is stored in the call's own transaction: a call that finds its claim taken
    over rolls its work back, and the duplicate that took it over is the one that counts."""
    rule = counting_rule(make_rule, idempotency=True)
    with app.test_request_context():
        from addons.webhooks.incoming.idempotency import Answer, once, store_answer

        def slow_run(claim):
            # Meanwhile a duplicate took the key over (what _take_over writes).
            db.session.execute(
                sa.update(WebhookRequest)
                .where(WebhookRequest.rule_id == rule["id"], WebhookRequest.key == "slow")
                .values(created_at=utcnow())
            )
            db.session.commit()
            get_env(trusted=True)["res.partner"].create({"name": "kept by mistake"})
            store_answer(claim, Answer(200, {"status": "ok"}, {}))
            raise AssertionError("store_answer must refuse a claim taken over")

        answer = once(rule["id"], "slow", slow_run)
    assert answer.status == 409  # the duplicate's run is the one in progress
    with app.app_context():
        row = db.session.scalars(
            sa.select(WebhookRequest).where(WebhookRequest.key == "slow")
        ).one()
        assert row.http_status is None  # left for the call that took it over
        assert not get_env(trusted=True)["res.partner"].search([("name", "=", "kept by mistake")])


# --- Replays in the call log: every request that reached the URL is there ---------------


def logged_calls(app, rule_id):
    with app.app_context():
        return [
            (row.status, row.http_status, row.replayed, row.error_message)
            for row in db.session.scalars(
                sa.select(WebhookCall)
                .where(WebhookCall.rule_id == rule_id)
                .order_by(WebhookCall.id)
            )
        ]


def test_a_replayed_call_is_logged_marked_as_a_replay(app, client, make_rule):
    rule = counting_rule(make_rule, idempotency=True, log_calls=True)
    post(client, rule, "idem logged", key="log-1")
    again = post(client, rule, "idem logged", key="log-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert runs(app, "idem logged") == 1
    assert logged_calls(app, rule["id"]) == [("ok", 200, False, None), ("ok", 200, True, None)]
    with app.app_context():
        replay = db.session.scalars(
            sa.select(WebhookCall).where(WebhookCall.replayed.is_(True))
        ).one()
        # What was sent, as for any call: the auditor sees the request, not only that it came.
        assert json.loads(replay.payload) == {"name": "idem logged"}
        assert replay.method == "POST" and replay.remote_addr == "127.0.0.1"


def test_a_replayed_failure_and_a_duplicate_still_running_are_logged_too(app, client, make_rule):
    rule = make_rule(
        "sale.order", target_record="model.browse([])", idempotency=True, log_calls=True
    )
    post(client, rule, "x", key="fails")
    post(client, rule, "x", key="fails")
    with app.app_context():
        db.session.add(WebhookRequest(rule_id=rule["id"], key="busy"))
        db.session.commit()
    assert post(client, rule, "x", key="busy").status_code == 409
    [first, replay, busy] = logged_calls(app, rule["id"])
    assert first[:3] == ("error", 500, False)
    assert replay == ("error", 500, True, first[3])  # the stored answer's message
    assert busy == ("error", 409, True, "A request with this key is still being processed.")


def test_replays_follow_log_calls_as_every_call_does(app, client, make_rule):
    rule = counting_rule(make_rule, idempotency=True)  # Log Calls off: nothing is logged
    post(client, rule, "idem unlogged", key="k")
    post(client, rule, "idem unlogged", key="k")
    assert logged_calls(app, rule["id"]) == []


def test_a_replay_shows_in_the_call_log_screen_and_rest_resource(app, client, make_rule, admin_web):
    rule = counting_rule(make_rule, idempotency=True, log_calls=True)
    post(client, rule, "idem shown", key="shown")
    post(client, rule, "idem shown", key="shown")
    api = api_client(app.test_client(), ADMIN)
    listed = api.get(
        "/api/v1/base_automation_call/",
        query_string={"q": f"(filters:!((col:rule_id,opr:eq,value:{rule['id']})))"},
    )
    assert listed.status_code == 200, listed.get_json()
    assert sorted(row["replayed"] for row in listed.get_json()["result"]) == [False, True]
    # As docs/api.md says: the replays alone.
    replays = api.get(
        "/api/v1/base_automation_call/",
        query_string={"q": "(filters:!((col:replayed,opr:eq,value:!t)))"},
    )
    assert replays.status_code == 200, replays.get_json()
    assert [row["replayed"] for row in replays.get_json()["result"]] == [True]
    spec = api.get("/api/v1/_openapi").get_json()
    assert any(
        "replayed" in schema.get("properties", {})
        for schema in spec["components"]["schemas"].values()
    )
    page = admin_web.get(f"/webhookcallview/list/?rule_id={rule['id']}").get_data(as_text=True)
    assert "Answered Again (Same Key)" in page
    with app.app_context():
        replay_id = db.session.scalar(
            sa.select(WebhookCall.id).where(WebhookCall.replayed.is_(True))
        )
    shown = admin_web.get(f"/webhookcallview/show/{replay_id}").get_data(as_text=True)
    assert re.search(r"Answered Again \(Same Key\)</th>\s*<td>\s*<span[^>]*>Yes<", shown), shown


def test_logging_a_replay_costs_one_insert(app, client, make_rule):
    rule = counting_rule(make_rule, idempotency=True, log_calls=True)
    post(client, rule, "idem cost", key="cost")
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()[:3]).upper())

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert post(client, rule, "idem cost", key="cost").headers["Idempotent-Replayed"]
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    writes = [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    # The key's claim (refused: the key is there) and the replay's one log row, nothing else.
    assert writes == [
        "DELETE FROM BASE_AUTOMATION_REQUEST",
        "INSERT INTO BASE_AUTOMATION_REQUEST",
        "INSERT INTO BASE_AUTOMATION_CALL",
    ], statements
