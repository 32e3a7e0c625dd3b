"""Respond at once over HTTP, beside Respond after running: the call is checked as today,
stored in one insert and answered 202; a worker runs it through the same engine, retries what
is transient and never what the rule got wrong, and runs an ordered rule's calls one at a time
in arrival order."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import AutomationRule
from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.inbox_support import (
    CREATE_CONTACT,
    FAIL_ON_ASK,
    Clock,
    calls,
    contact_rule,
    contacts,
    worker,
)
from tests.conftest import TEST_DATABASE_URL


class FakeDriverError(Exception):
    """What psycopg raises when the server connection is lost (SQLSTATE 08006)."""

    sqlstate = "08006"


def connection_lost() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("INSERT ...", {}, FakeDriverError("server closed"))


def test_both_modes_side_by_side(app: Flask, client: Any, make_rule: Any) -> None:
    after = contact_rule(make_rule, log_calls=True)
    at_once = contact_rule(make_rule, log_calls=True, respond="at_once", keep_payloads=True)

    direct = client.post(after["path"], json={"n": 1})
    assert (direct.status_code, direct.get_json()) == (200, {"status": "ok"})
    assert contacts(app) == ["inbox-1"]

    accepted = client.post(at_once["path"], json={"n": 2, "api_token": "s3cret"})
    assert accepted.status_code == 202
    body = accepted.get_json()
    assert body == {"status": "accepted", "id": body["id"]}
    assert accepted.headers["Cache-Control"] == "no-store"
    # Answered before running: nothing done yet, the call waits in the log.
    assert contacts(app) == ["inbox-1"]
    [row] = calls(app, at_once["id"])
    assert (row["id"], row["status"], row["http_status"], row["attempts"]) == (
        body["id"],
        "accepted",
        202,
        0,
    )
    assert '"api_token": "***"' in row["payload"]  # the shown payload is masked as ever

    clock = Clock()
    assert worker(app, clock).drain() == 1
    assert contacts(app) == ["inbox-1", "inbox-2"]
    [row] = calls(app, at_once["id"])
    assert (row["status"], row["http_status"], row["attempts"]) == ("ok", 200, 1)
    assert row["claimed_by"] is None and row["error_message"] is None
    assert [a["result"] for a in row["attempt_log"]] == ["ok"]
    assert row["attempt_log"][0]["worker"] == "w1"
    # Kept for replay: whole, masked keys masked.
    assert json.loads(row["run_payload"]) == {"n": 2, "api_token": "***"}
    # The direct call's row: ok at once, one attempt, no payload kept (the rule keeps none).
    [direct_row] = calls(app, after["id"])
    assert (direct_row["status"], direct_row["attempts"], direct_row["run_payload"]) == (
        "ok",
        1,
        None,
    )


def test_at_once_checks_the_call_exactly_as_today(app: Flask, client: Any, make_rule: Any) -> None:
    rule = contact_rule(
        make_rule, respond="at_once", auth_scheme="header", ip_allowlist="127.0.0.0/8"
    )
    with app.app_context():
        secret = db.session.get(AutomationRule, rule["id"]).signing_secret
    token = {"X-Webhook-Token": secret}
    assert client.post(rule["path"], json={"n": 1}).status_code == 401
    assert client.post(rule["path"], data="{nope", headers=token).status_code == 400
    big = {"n": "x" * (1024 * 1024 + 1)}
    assert client.post(rule["path"], json=big, headers=token).status_code == 413
    assert client.post("/web/hook/" + "x" * 43, json={"n": 1}).status_code == 404
    assert calls(app, rule["id"]) == []  # nothing refused was stored
    assert client.post(rule["path"], json={"n": 1}, headers=token).status_code == 202
    assert [c["status"] for c in calls(app, rule["id"])] == ["accepted"]


def test_an_idempotency_key_gets_the_same_acceptance_and_runs_once(
    app: Flask, client: Any, make_rule: Any
) -> None:
    rule = contact_rule(make_rule, respond="at_once", idempotency=True)
    headers = {"Idempotency-Key": "order-7-paid"}
    first = client.post(rule["path"], json={"n": 7}, headers=headers)
    again = client.post(rule["path"], json={"n": 7}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert worker(app, Clock()).drain() == 1
    assert contacts(app) == ["inbox-7"]


def test_log_calls_off_keeps_no_row_once_the_call_ran(
    app: Flask, client: Any, make_rule: Any
) -> None:
    rule = contact_rule(make_rule, respond="at_once", code=FAIL_ON_ASK)
    client.post(rule["path"], json={"n": 1})
    client.post(rule["path"], json={"n": 2, "fail": True})
    worker(app, Clock()).drain()
    # The successful call was only an inbox entry; the error stays to be seen.
    assert [(c["status"], c["error_message"]) for c in calls(app, rule["id"])] == [
        ("error", "Action 1 'Contact': asked to fail")
    ]


def test_a_rule_error_is_final_and_not_retried(app: Flask, client: Any, make_rule: Any) -> None:
    rule = contact_rule(make_rule, respond="at_once", log_calls=True, code=FAIL_ON_ASK)
    client.post(rule["path"], json={"n": 1, "fail": True})
    clock = Clock()
    inbox = worker(app, clock)
    assert inbox.drain() == 1
    clock.advance(3600)  # long past every retry delay and lease
    assert inbox.drain() == 0
    [row] = calls(app, rule["id"])
    assert (row["status"], row["http_status"], row["attempts"]) == ("error", 500, 1)
    assert row["error_message"] == "Action 1 'Contact': asked to fail"
    assert [a["result"] for a in row["attempt_log"]] == ["error"]
    assert contacts(app) == []


def test_a_transient_failure_is_retried_with_backoff(
    app: Flask, client: Any, make_rule: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nightpos_app.orm.recordset import RecordSet

    rule = contact_rule(make_rule, respond="at_once", log_calls=True)
    client.post(rule["path"], json={"n": 1})
    real_create = RecordSet.create
    failures = iter([connection_lost()])

    def create_losing_once(self: RecordSet, vals: Any) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return real_create(self, vals)

    monkeypatch.setattr(RecordSet, "create", create_losing_once)
    clock = Clock()
    inbox = worker(app, clock)
    assert inbox.drain() == 1
    [row] = calls(app, rule["id"])
    assert (row["status"], row["attempts"]) == ("accepted", 1)
    assert "The database is unavailable" in row["error_message"]
    assert contacts(app) == []
    clock.advance(9)  # the first delay is 10 s: not due yet
    assert inbox.drain() == 0
    clock.advance(1)
    assert inbox.drain() == 1
    [row] = calls(app, rule["id"])
    assert (row["status"], row["attempts"], row["error_message"]) == ("ok", 2, None)
    assert [a["result"] for a in row["attempt_log"]] == ["retry", "ok"]
    assert contacts(app) == ["inbox-1"]


def test_a_call_out_of_retries_is_an_error(
    app: Flask, client: Any, make_rule: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nightpos_app.orm.recordset import RecordSet

    def always_lost(self: RecordSet, vals: Any) -> Any:
        raise connection_lost()

    rule = contact_rule(make_rule, respond="at_once", log_calls=True)
    client.post(rule["path"], json={"n": 1})
    monkeypatch.setattr(RecordSet, "create", always_lost)
    clock = Clock()
    inbox = worker(app, clock, retry_schedule=(1.0,))
    assert inbox.drain() == 1
    clock.advance(1)
    assert inbox.drain() == 1
    [row] = calls(app, rule["id"])
    assert (row["status"], row["attempts"]) == ("error", 2)
    assert row["error_message"].startswith("Gave up after 2 attempts: The database is unavailable")
    clock.advance(3600)
    assert inbox.drain() == 0


def test_an_ordered_rule_runs_its_calls_one_at_a_time_in_arrival_order(
    app: Flask, client: Any, make_rule: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nightpos_app.orm.recordset import RecordSet

    ordered = contact_rule(make_rule, respond="at_once", ordered=True, log_calls=True)
    for n in (1, 2, 3):
        assert client.post(ordered["path"], json={"n": n}).status_code == 202
    # The first call fails transiently: the others wait for it, however many workers ask.
    real_create = RecordSet.create
    failures = iter([connection_lost()])

    def create_losing_once(self: RecordSet, vals: Any) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return real_create(self, vals)

    monkeypatch.setattr(RecordSet, "create", create_losing_once)
    clock = Clock()
    first, second = worker(app, clock, "w1"), worker(app, clock, "w2")
    assert first.run_once() == 1  # one call claimed, though the batch holds ten
    assert second.run_once() == 0
    assert first.run_once() == 0  # the failed call waits for its retry, the others for it
    assert contacts(app) == []
    clock.advance(10)
    for _ in range(3):
        with app.app_context():
            [call] = first._claim()
            assert second.run_once() == 0  # never two calls of this rule at once
            first._run(call)
    assert contacts(app) == ["inbox-1", "inbox-2", "inbox-3"]
    assert [c["status"] for c in calls(app, ordered["id"])] == ["ok"] * 3


def test_an_unordered_rule_is_claimed_in_batches(app: Flask, client: Any, make_rule: Any) -> None:
    rule = contact_rule(make_rule, respond="at_once")
    for n in range(5):
        client.post(rule["path"], json={"n": n})
    assert worker(app, Clock(), batch=3).run_once() == 3
    assert sorted(contacts(app)) == ["inbox-0", "inbox-1", "inbox-2"]


def test_a_lease_that_runs_out_lets_another_worker_run_the_call_once(
    app: Flask, client: Any, make_rule: Any
) -> None:
    rule = contact_rule(make_rule, respond="at_once", log_calls=True)
    client.post(rule["path"], json={"n": 1})
    clock = Clock()
    dead = worker(app, clock, "dead")
    with app.app_context():
        [claimed] = dead._claim()  # claimed, then the worker "dies" before running it
    [row] = calls(app, rule["id"])
    assert (row["status"], row["claimed_by"]) == ("running", "dead")
    other = worker(app, clock, "other")
    assert other.drain() == 0  # the lease is still the dead worker's
    clock.advance(other.settings.claim_seconds + 1)
    assert other.drain() == 1
    [row] = calls(app, rule["id"])
    assert (row["status"], row["attempts"]) == ("ok", 2)
    assert [a["worker"] for a in row["attempt_log"]] == ["other"]
    # The dead worker coming back cannot record (nor keep) a second run.
    with app.app_context():
        dead._run(claimed)
    assert contacts(app) == ["inbox-1"]
    assert calls(app, rule["id"])[0]["status"] == "ok"


def test_the_worker_loop_runs_the_inbox(app: Flask, client: Any, make_rule: Any) -> None:
    from addons.webhooks.outgoing.worker import OutboxWorker

    rule = contact_rule(make_rule, respond="at_once")
    client.post(rule["path"], json={"n": 1})
    loop = OutboxWorker(app, worker_id="loop")
    assert loop._run_jobs() == 1
    assert contacts(app) == ["inbox-1"]


def test_a_burst_of_2000_calls_is_accepted_faster_than_it_runs_and_each_runs_once(
    app: Flask, client: Any, make_rule: Any
) -> None:
    count = 2000
    rule = contact_rule(make_rule, respond="at_once", log_calls=True)
    started = time.perf_counter()
    ids = []
    for n in range(count):
        response = client.post(rule["path"], json={"n": n})
        assert response.status_code == 202
        ids.append(response.get_json()["id"])
    accepted_in = time.perf_counter() - started
    assert len(set(ids)) == count
    started = time.perf_counter()
    assert worker(app, Clock(), batch=50).drain() == count
    ran_in = time.perf_counter() - started
    names = contacts(app)
    assert sorted(names) == sorted(f"inbox-{n}" for n in range(count))  # each exactly once
    statuses = {c["status"] for c in calls(app, rule["id"])}
    assert statuses == {"ok"}
    print(f"accepted {count / accepted_in:.0f}/s, ran {count / ran_in:.0f}/s")
    assert accepted_in < ran_in


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="several workers share PostgreSQL's inbox")
def test_two_workers_share_the_inbox_and_never_run_a_call_twice(
    app: Flask, client: Any, make_rule: Any
) -> None:
    import threading

    count = 300
    rule = contact_rule(make_rule, respond="at_once", log_calls=True)
    for n in range(count):
        assert client.post(rule["path"], json={"n": n}).status_code == 202
    clock = Clock()
    workers = [worker(app, clock, f"w{n}", batch=5) for n in (1, 2)]
    done = [0, 0]

    def drain(index: int) -> None:
        done[index] = workers[index].drain()

    threads = [threading.Thread(target=drain, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sum(done) == count and min(done) > 0, done
    assert sorted(contacts(app)) == sorted(f"inbox-{n}" for n in range(count))
    rows = calls(app, rule["id"])
    assert {r["status"] for r in rows} == {"ok"} and {r["attempts"] for r in rows} == {1}


def test_create_contact_code_is_what_the_helpers_say() -> None:
    assert "payload['n']" in CREATE_CONTACT


COUNT = "record.write({'customer_rank': record.customer_rank + 1})"


def rank_of_contact_1(app: Flask) -> int:
    return read(app, "res.partner", [("id", "=", 1)], ["customer_rank"])[0]["customer_rank"]


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="a row lock holds the worker mid-run")
def test_a_sigkilled_worker_loses_nothing_and_the_call_runs_once(
    app: Flask, client: Any, make_rule: Any, database_url: str, instance_dir: Any
) -> None:
    from tests.addons.webhooks.test_outgoing_workers import worker_process

    rule = make_rule(
        "res.partner",
        target_record="model.browse([1])",
        actions=[{"name": "Count", "action_type": "execute_code", "settings": {"code": COUNT}}],
        respond="at_once",
        log_calls=True,
        idempotency=True,
    )
    before = rank_of_contact_1(app)
    headers = {"Idempotency-Key": "event-1"}
    accepted = client.post(rule["path"], json={}, headers=headers).get_json()
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as blocker:
            # Hold the contact's row: the worker claims the call, then waits on the row mid-run.
            blocker.execute(sa.text("SELECT id FROM res_partner WHERE id = 1 FOR UPDATE"))
            with worker_process(database_url, instance_dir) as process:
                deadline = time.monotonic() + 90  # a real app's start-up takes a few seconds
                while time.monotonic() < deadline:
                    [row] = calls(app, rule["id"])
                    if row["status"] == "running":
                        break
                    assert process.poll() is None, process.stdout.read()
                    time.sleep(0.05)
                assert row["status"] == "running", row
                assert row["claimed_by"].split(":")[1] == str(process.pid)
                process.kill()
                process.wait(timeout=10)
            blocker.rollback()
    finally:
        engine.dispose()
    # Nothing of the dead worker's run was kept; its lease holds until it runs out.
    assert rank_of_contact_1(app) == before
    clock = Clock()
    survivor = worker(app, clock, "survivor")
    assert survivor.drain() == 0
    clock.advance(survivor.settings.claim_seconds + 1)
    assert survivor.drain() == 1
    [row] = calls(app, rule["id"])
    assert (row["id"], row["status"], row["attempts"]) == (accepted["id"], "ok", 2)
    assert [a["worker"] for a in row["attempt_log"]] == ["survivor"]
    assert rank_of_contact_1(app) == before + 1
    # The sender's retry with the same key is the same call: it does not run again.
    again = client.post(rule["path"], json={}, headers=headers)
    assert (again.status_code, again.get_json()) == (202, accepted)
    assert survivor.drain() == 0
    assert rank_of_contact_1(app) == before + 1


def test_retention_never_prunes_calls_still_to_run(app: Flask, client: Any, make_rule: Any) -> None:
    import datetime as dt

    from addons.webhooks.models import WebhookCall
    from addons.webhooks.rules.calllog import prune_calls

    rule = contact_rule(make_rule, respond="at_once", log_calls=True)
    for n in range(4):
        client.post(rule["path"], json={"n": n})
    with app.app_context():
        db.session.execute(sa.update(WebhookCall).values(called_at=dt.datetime(2000, 1, 1)))
        db.session.commit()
        app.config["WEBHOOK_LOG_MAX_ROWS_PER_RULE"] = 1
        try:
            assert prune_calls() == 0  # old and beyond the limit, but not run yet
            assert worker(app, Clock(), batch=2).run_once() == 2
            assert prune_calls() == 2  # the two that ran are finished: retention applies
        finally:
            del app.config["WEBHOOK_LOG_MAX_ROWS_PER_RULE"]
    assert [c["status"] for c in calls(app, rule["id"])] == ["accepted", "accepted"]
    assert worker(app, Clock()).drain() == 2
    assert sorted(contacts(app)) == [f"inbox-{n}" for n in range(4)]


def test_a_stopping_worker_hands_back_the_calls_it_has_not_run(
    app: Flask, client: Any, make_rule: Any
) -> None:
    from addons.webhooks.outgoing.worker import OutboxWorker

    rule = contact_rule(make_rule, respond="at_once", log_calls=True)
    for n in (1, 2):
        client.post(rule["path"], json={"n": n})
    loop = OutboxWorker(app, worker_id="loop")
    from addons.webhooks.incoming.worker import InboxWorker

    [inbox] = [
        job.__self__
        for job in loop._jobs
        if isinstance(getattr(job, "__self__", None), InboxWorker)
    ]
    run_one = inbox._run

    def run_then_sigterm(call: Any) -> None:
        run_one(call)
        loop.stop()  # what SIGTERM does to `flask nightpos worker`

    inbox._run = run_then_sigterm  # type: ignore[method-assign]
    assert loop._run_jobs() == 2  # both claimed, one run
    assert [(c["status"], c["attempts"], c["claimed_by"]) for c in calls(app, rule["id"])] == [
        ("ok", 1, None),
        ("accepted", 0, None),
    ]
    assert inbox.run_once() == 0  # stopped
    assert worker(app, Clock()).drain() == 1  # due at once for another worker
    assert contacts(app) == ["inbox-1", "inbox-2"]
