"""``/metrics``: off without a token, refused with a wrong one, and its values move as webhook
calls, rule-code failures, record rules and deliveries happen (read over HTTP, as Prometheus
reads them, from the real app)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from addons.webhooks.models import AutomationDue, WebhookCall
from addons.webhooks.outgoing.worker import OutboxWorker
from nightpos_app.extensions import db
from nightpos_app.models import utcnow
from nightpos_app.state import get_env
from tests.addons.webhooks.inbox_support import Clock, contact_rule, worker
from tests.addons.webhooks.receiver import Receiver, app_config, enqueue_message, settle
from tests.addons.webhooks.test_runner_isolation import DEEP_TUPLE_HASH

TOKEN = "metrics-token-for-tests"  # noqa: S105
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEFAULT_PAYLOAD = {"_model": "sale.order", "_id": 1}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metrics_on(app: Flask) -> Iterator[None]:
    with app_config(app, NIGHTPOS_METRICS_TOKEN=TOKEN):
        yield


def scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.data[:500]
    assert response.content_type.startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: Any) -> float:
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())), 0.0)


def code_rule(make_rule: Callable[..., dict[str, Any]], code: str, **values: Any) -> dict:
    action = {"name": "code", "action_type": "execute_code", "settings": {"code": code}}
    return make_rule("sale.order", actions=[action], **values)


def test_metrics_are_off_without_a_token(app: Flask, anonymous: FlaskClient) -> None:
    with app_config(app, NIGHTPOS_METRICS_TOKEN=""):
        assert anonymous.get("/metrics").status_code == 404


@pytest.mark.usefixtures("metrics_on")
def test_a_wrong_or_missing_token_is_refused(anonymous: FlaskClient) -> None:
    wrong = (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        # Not ASCII (a header is latin-1 text): refused like any wrong token, not a 500.
        {"Authorization": "Bearer mé".encode().decode("latin-1")},
        {"Authorization": "Bearer " + TOKEN + "\u00e9"},
    )
    for headers in wrong:
        response = anonymous.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert b"nightpos_" not in response.data


@pytest.mark.usefixtures("metrics_on")
def test_webhook_calls_are_counted_by_rule_and_status(
    anonymous: FlaskClient, make_rule: Callable[..., dict[str, Any]]
) -> None:
    good = code_rule(make_rule, "record.write({'note': 'seen'})")
    bad = code_rule(make_rule, "raise UserError('no thanks')")
    before = scrape(anonymous)
    for _ in range(3):
        assert anonymous.post(good["path"], json=DEFAULT_PAYLOAD).status_code == 200
    assert anonymous.post(bad["path"], json=DEFAULT_PAYLOAD).status_code == 500
    assert anonymous.post("/web/hook/" + "x" * 43, json={}).status_code == 404
    after = scrape(anonymous)

    calls = "nightpos_webhook_calls_total"
    assert (
        value(after, calls, rule_id=good["id"], status=200)
        - value(before, calls, rule_id=good["id"], status=200)
        == 3
    )
    assert (
        value(after, calls, rule_id=bad["id"], status=500)
        - value(before, calls, rule_id=bad["id"], status=500)
        == 1
    )
    assert (
        value(after, calls, rule_id="none", status=404)
        - value(before, calls, rule_id="none", status=404)
        == 1
    )
    histogram = "nightpos_webhook_call_duration_seconds_count"
    assert (
        value(after, histogram, rule_id=good["id"]) - value(before, histogram, rule_id=good["id"])
        == 3
    )
    assert value(after, "nightpos_webhook_call_duration_seconds_sum", rule_id=good["id"]) > 0
    # Rule code ran each time: three ok, one error.
    runs = "nightpos_rule_code_runs_total"
    assert value(after, runs, outcome="ok") - value(before, runs, outcome="ok") >= 3
    assert value(after, runs, outcome="error") - value(before, runs, outcome="error") == 1
    # Labels carry rule ids, never the secret or the payload.
    text = anonymous.get("/metrics", headers=AUTH).get_data(as_text=True)
    assert good["secret"] not in text and "seen" not in text


@pytest.mark.usefixtures("metrics_on")
def test_rule_code_over_its_limits_is_counted_by_outcome(
    anonymous: FlaskClient, make_rule: Callable[..., dict[str, Any]]
) -> None:
    spin = code_rule(make_rule, "while True:\n    pass", cpu_seconds=0.3)
    crash = code_rule(make_rule, DEEP_TUPLE_HASH, cpu_seconds=1.5)
    hog = code_rule(make_rule, "blocks = []\nwhile True:\n    blocks.append('x' * 2**20)")
    before = scrape(anonymous)
    assert anonymous.post(spin["path"], json=DEFAULT_PAYLOAD).status_code == 500
    answer = anonymous.post(hog["path"], json=DEFAULT_PAYLOAD)
    assert answer.status_code == 500 and "memory" in answer.get_json()["message"], answer.json
    answer = anonymous.post(crash["path"], json=DEFAULT_PAYLOAD)
    assert answer.status_code == 500 and "crashed" in answer.get_json()["message"]
    after = scrape(anonymous)

    def moved(name: str, **labels: Any) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("nightpos_rule_code_runs_total", outcome="cpu_limit") == 1
    assert moved("nightpos_rule_code_runs_total", outcome="crashed") == 1
    assert moved("nightpos_rule_code_runs_total", outcome="memory_limit") == 1
    assert moved("nightpos_runner_kills_total", reason="crashed") == 1
    # The pool keeps runners ready (a new one is started only when fewer than its size are
    # idle: the test app's pool has kept the runners earlier tests gave back).
    assert value(after, "nightpos_runner_pool_idle") >= 1
    assert value(after, "nightpos_runner_starts_total") >= 1


@pytest.mark.usefixtures("metrics_on")
def test_record_rule_runs_are_counted(
    app: Flask, anonymous: FlaskClient, make_rule: Callable[..., dict[str, Any]]
) -> None:
    action = {"name": "code", "action_type": "execute_code", "settings": {"code": "pass"}}
    rule = make_rule("res.partner", actions=[action], trigger="on_create")
    before = scrape(anonymous)
    with app.app_context():
        get_env()["res.partner"].create({"name": "Counted"})
        db.session.commit()
    after = scrape(anonymous)
    runs = "nightpos_record_rule_runs_total"
    assert (
        value(after, runs, rule_id=rule["id"], outcome="ok")
        - value(before, runs, rule_id=rule["id"], outcome="ok")
        == 1
    )


@pytest.mark.usefixtures("metrics_on")
def test_the_outbox_and_deliveries_are_measured(
    app: Flask, anonymous: FlaskClient, receiver: Receiver, action: dict[str, int]
) -> None:
    before = scrape(anonymous)
    [ok] = enqueue_message(app, action["rule_id"], action["action_id"], receiver.url)
    [doomed] = enqueue_message(app, action["rule_id"], action["action_id"], receiver.url)
    waiting = scrape(anonymous)
    depth = "nightpos_webhook_outbox_messages"
    assert value(waiting, depth, state="pending") - value(before, depth, state="pending") == 2
    assert value(waiting, "nightpos_webhook_outbox_oldest_due_seconds") >= 0

    # The first message is delivered; the second fails every attempt (3: the schedule's two
    # retries and the first) and goes dead.
    receiver.answer(200, 500, 500, 500)
    with app_config(app, WEBHOOK_RETRY_SCHEDULE=[0.01, 0.01]):
        worker = OutboxWorker(app, worker_id="metrics-worker", batch=1)
        assert settle(app, worker, ok)["state"] == "delivered"
        assert settle(app, worker, doomed)["state"] == "dead"
    after = scrape(anonymous)

    def moved(name: str, **labels: Any) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    attempts = "nightpos_webhook_delivery_attempts_total"
    assert moved(attempts, outcome="delivered") == 1
    assert moved(attempts, outcome="retry") == 2
    assert moved(attempts, outcome="dead") == 1
    assert moved("nightpos_webhook_messages_dead_total") == 1
    assert value(after, depth, state="pending") == value(before, depth, state="pending")
    assert moved(depth, state="dead") == 1


@pytest.mark.usefixtures("metrics_on")
def test_the_timing_schedulers_lag_is_measured(
    app: Flask, anonymous: FlaskClient, make_rule: Callable[..., dict[str, Any]]
) -> None:
    rule = make_rule("sale.order")
    before = scrape(anonymous)
    # A run due 30 s ago that no scheduler has started (none runs in the tests' app).
    with app.app_context():
        row = AutomationDue(
            rule_id=rule["id"], record_id=1, due_at=utcnow() - dt.timedelta(seconds=30)
        )
        db.session.add(row)
        db.session.commit()
        row_id = row.id
    late = scrape(anonymous)
    assert value(late, "nightpos_timing_due_runs") - value(before, "nightpos_timing_due_runs") == 1
    assert value(late, "nightpos_timing_scheduler_lag_seconds") >= 30
    with app.app_context():
        db.session.get(AutomationDue, row_id).state = "done"
        db.session.commit()
    after = scrape(anonymous)
    assert value(after, "nightpos_timing_due_runs") == value(before, "nightpos_timing_due_runs")


@pytest.mark.usefixtures("metrics_on")
def test_the_inbox_backlog_is_measured(
    app: Flask, anonymous: FlaskClient, client: FlaskClient, make_rule: Callable[..., Any]
) -> None:
    rule = contact_rule(make_rule, respond="at_once")
    backlog = "nightpos_webhook_inbox_calls"
    before = scrape(anonymous)
    for n in (1, 2):
        assert client.post(rule["path"], json={"n": n}).status_code == 202
    waiting = scrape(anonymous)
    assert value(waiting, backlog, state="accepted") - value(before, backlog, state="accepted") == 2
    assert value(waiting, "nightpos_webhook_inbox_oldest_accepted_seconds") >= 0
    # Two minutes on, by the database's own rows: the oldest accepted call's age shows it.
    with app.app_context():
        db.session.execute(
            sa.update(WebhookCall)
            .where(WebhookCall.rule_id == rule["id"])
            .values(called_at=utcnow() - dt.timedelta(minutes=2))
        )
        db.session.commit()
    assert value(scrape(anonymous), "nightpos_webhook_inbox_oldest_accepted_seconds") >= 120
    assert worker(app, Clock()).drain() == 2
    after = scrape(anonymous)
    assert value(after, backlog, state="accepted") == value(before, backlog, state="accepted")
    assert value(after, backlog, state="running") == 0
