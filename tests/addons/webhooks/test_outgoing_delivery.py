"""Sending the outbox to a real receiver: signatures, retries, and every kind of answer.

Messages are enqueued in the real test database and sent by the real worker to a threaded
HTTP server on 127.0.0.1 (allowlisted for these tests only).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
import standardwebhooks
from flask import Flask

from addons.webhooks.models import ServerAction
from addons.webhooks.outgoing import outbox
from addons.webhooks.outgoing.worker import OutboxWorker
from nightpos_app.extensions import db
from tests.addons.webhooks.receiver import (
    Answer,
    Receiver,
    delivery,
    enqueue_message,
    settle,
)


@pytest.fixture
def worker(app: Flask, receiver: Receiver) -> OutboxWorker:
    return OutboxWorker(app, worker_id="test-worker")


def send_one(app: Flask, action: dict[str, Any], url: str, **kwargs: Any) -> int:
    return enqueue_message(app, action["rule_id"], action["action_id"], url, **kwargs)[0]


def test_delivered_first_time_signed_with_standard_webhooks_headers(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker
) -> None:
    body = json.dumps({"_model": "sale.order", "_id": 7, "name": "S00007 ไทย"})
    message_id = send_one(
        app,
        action,
        receiver.url,
        body=body,
        headers={
            "X-Tenant": "night",
            "webhook-id": "forged",
            "Content-Type": "text/plain",
            "Host": "evil.example",
            "Content-Length": "1",
        },
    )
    row = settle(app, worker, message_id)

    assert row["state"] == "delivered"
    assert row["delivered_at"] is not None
    assert row["attempt_count"] == 1 and row["last_status_code"] == 200
    assert row["claimed_by"] is None and row["last_error"] is None
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.body == body.encode()
    headers = request.headers
    assert headers["webhook-id"] == row["message_id"]
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 30
    assert headers["content-type"] == "application/json"
    assert headers["host"] == f"127.0.0.1:{receiver.port}"
    assert headers["content-length"] == str(len(request.body))
    assert headers["user-agent"].startswith("NightPOS-Webhooks/")
    assert headers["x-tenant"] == "night"
    # The reference library accepts it (it raises otherwise) and reads the same JSON.
    assert standardwebhooks.Webhook(action["secret"]).verify(request.body, headers) == json.loads(
        body
    )
    [attempt] = row["attempts"]
    assert attempt["status_code"] == 200
    assert attempt["response_excerpt"] == "ok"
    assert attempt["worker"] == "test-worker"
    assert attempt["duration_ms"] > 0


def test_retried_then_delivered_with_one_attempt_row_each(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker
) -> None:
    receiver.answer(Answer(500, body=b"boom"), 503, 200)
    row = settle(app, worker, send_one(app, action, receiver.url))

    assert row["state"] == "delivered"
    assert row["attempt_count"] == 3
    assert [a["status_code"] for a in row["attempts"]] == [500, 503, 200]
    assert [a["error"] for a in row["attempts"]] == ["HTTP 500", "HTTP 503", None]
    assert row["attempts"][0]["response_excerpt"] == "boom"
    assert all(a["duration_ms"] > 0 for a in row["attempts"])
    # One message id on every attempt: the receiver can deduplicate.
    assert {r.webhook_id for r in receiver.requests} == {row["message_id"]}
    assert len(receiver.requests) == 3


def test_dead_after_the_last_attempt(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker
) -> None:
    receiver.default = Answer(500)
    row = settle(app, worker, send_one(app, action, receiver.url))

    assert row["state"] == "dead"
    assert row["attempt_count"] == 3  # the first attempt and one per delay of [0.05, 0.1]
    assert len(receiver.requests) == 3
    assert row["last_error"] == "HTTP 500 (gave up after 3 attempts)"
    assert row["next_attempt_at"] is None


def test_retry_after_is_honoured_when_longer_than_the_schedule(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker
) -> None:
    receiver.answer(Answer(429, headers={"Retry-After": "1"}), 200)
    message_id = send_one(app, action, receiver.url)
    worker.run_once()
    waiting = delivery(app, message_id)
    assert waiting["state"] == "pending" and waiting["last_status_code"] == 429
    wait = waiting["next_attempt_at"] - waiting["attempts"][0]["attempted_at"]
    assert dt.timedelta(seconds=0.9) < wait < dt.timedelta(seconds=5)
    assert worker.run_once() == 0  # not due yet, though the schedule says 0.05 s

    row = settle(app, worker, message_id)
    assert row["state"] == "delivered"
    first, second = receiver.requests
    assert second.started - first.started >= 0.95


@pytest.mark.parametrize(
    "value",
    [
        "¹²³",  # Latin-1 superscripts: sent as bytes B9 B2 B3, read back as "¹²³"
        "١٢٣".encode().decode("latin-1"),  # UTF-8 bytes on the wire, as a receiver may send
        "１２３".encode().decode("latin-1"),
    ],
    ids=["superscript", "arabic-indic", "fullwidth"],
)
def test_a_retry_after_in_other_digits_is_not_a_number(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker, value: str
) -> None:
    receiver.answer(Answer(503, headers={"Retry-After": value}), 200)
    message_id = send_one(app, action, receiver.url)
    worker.run_once()
    waiting = delivery(app, message_id)
    assert waiting["state"] == "pending" and waiting["last_status_code"] == 503
    wait = waiting["next_attempt_at"] - waiting["attempts"][0]["attempted_at"]
    assert wait < dt.timedelta(seconds=1)  # the schedule's 0.05 s: no Retry-After was read

    row = settle(app, worker, message_id)
    assert row["state"] == "delivered" and len(receiver.requests) == 2


def test_410_fails_the_message_and_deactivates_the_action(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker, caplog: Any
) -> None:
    receiver.answer(410)
    with caplog.at_level("WARNING", logger="nightpos.webhooks.outbox"):
        row = settle(app, worker, send_one(app, action, receiver.url))

    assert row["state"] == "failed" and row["attempt_count"] == 1
    assert "410" in row["last_error"] and "deactivated" in row["last_error"]
    with app.app_context():
        assert db.session.get(ServerAction, action["action_id"]).active is False
    assert any("deactivated" in r.getMessage() for r in caplog.records)
    assert action["secret"] not in caplog.text


def test_a_4xx_fails_at_once(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker
) -> None:
    receiver.answer(Answer(400, body=b'{"error": "bad field"}'))
    row = settle(app, worker, send_one(app, action, receiver.url))

    assert row["state"] == "failed" and row["attempt_count"] == 1
    assert row["last_error"] == "HTTP 400" and row["last_status_code"] == 400
    assert row["attempts"][0]["response_excerpt"] == '{"error": "bad field"}'
    with app.app_context():
        assert db.session.get(ServerAction, action["action_id"]).active is True


def test_a_timeout_is_retried(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker
) -> None:
    receiver.answer(Answer(200, delay=1.5), 200)
    row = settle(app, worker, send_one(app, action, receiver.url, timeout=0.3))

    assert row["state"] == "delivered" and row["attempt_count"] == 2
    first, second = row["attempts"]
    assert first["status_code"] is None and "within 0.3 s" in first["error"]
    assert 250 < first["duration_ms"] < 1400
    assert second["status_code"] == 200


def test_connection_refused_is_retried_until_dead(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker
) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    row = settle(app, worker, send_one(app, action, f"http://127.0.0.1:{port}/hook"))

    assert row["state"] == "dead" and row["attempt_count"] == 3
    assert all("refused" in a["error"].lower() for a in row["attempts"])
    assert all(a["status_code"] is None for a in row["attempts"])


def test_a_redirect_is_not_followed(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker
) -> None:
    receiver.answer(Answer(302, headers={"Location": receiver.url + "/elsewhere"}))
    row = settle(app, worker, send_one(app, action, receiver.url))

    assert row["state"] == "failed" and row["last_status_code"] == 302
    assert row["last_error"] == "HTTP 302: redirects are not followed"
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_rotation_grace_signs_with_both_secrets(
    app: Flask, receiver: Receiver, action: dict[str, Any], worker: OutboxWorker
) -> None:
    with app.app_context():
        row = db.session.get(ServerAction, action["action_id"])
        row.rotate_signing_secret(dt.timedelta(hours=1))
        new_secret = row.signing_secret
        db.session.commit()
    settle(app, worker, send_one(app, action, receiver.url))

    [request] = receiver.requests
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret, signature in zip((new_secret, action["secret"]), signatures, strict=True):
        headers = {**request.headers, "webhook-signature": signature}
        standardwebhooks.Webhook(secret).verify(request.body, headers)


def test_a_commit_that_enqueued_wakes_the_worker_and_a_rollback_does_not(
    app: Flask, receiver: Receiver, action: dict[str, Any]
) -> None:
    worker = OutboxWorker(app, poll_seconds=60)  # a wake-up, not a poll, must send it
    thread = worker.start_thread()
    try:
        time.sleep(0.2)  # the worker's first look found nothing; it waits for a minute now
        with app.app_context():
            outbox.enqueue(
                db.session,
                rule_id=action["rule_id"],
                action_id=action["action_id"],
                model="sale.order",
                record_id=1,
                url=receiver.url,
                body="{}",
                headers={},
                timeout_seconds=5,
            )
            db.session.rollback()
            assert outbox.ENQUEUED_KEY not in db.session.info
        time.sleep(0.3)
        assert receiver.requests == []

        started = time.monotonic()
        send_one(app, action, receiver.url)
        receiver.wait_for(1, timeout=5)
        assert time.monotonic() - started < 5
    finally:
        worker.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
