"""Workers as real processes and side by side: a killed worker's message is delivered by
another, SIGTERM finishes the message in hand, and two workers never send one message twice at
the same time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import WebhookDelivery
from addons.webhooks.outgoing.worker import OutboxWorker
from nightpos_app.extensions import db
from tests.addons.webhooks.receiver import (
    Answer,
    Receiver,
    delivery,
    enqueue_message,
    settle,
)
from tests.conftest import TEST_DATABASE_URL

PROJECT_DIR = Path(__file__).resolve().parents[3]
FLASK = Path(sys.executable).with_name("flask")


@contextmanager
def worker_process(
    database_url: str, instance_dir: Path, *args: str
) -> Iterator[subprocess.Popen[str]]:
    """``flask nightpos worker`` against the tests' database, loopback allowed; killed after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIGHTPOS_", "WEBHOOK_"))}
    env.update(
        NIGHTPOS_DATABASE_URL=database_url,
        NIGHTPOS_INSTANCE_DIR=str(instance_dir),
        NIGHTPOS_SECRET_KEY="test-secret-key-not-for-production",
        WEBHOOK_OUTGOING_ALLOWED_CIDRS="127.0.0.0/8",
        WEBHOOK_RETRY_SCHEDULE="0.05,0.1",
    )
    process = subprocess.Popen(
        [str(FLASK), "--app", "nightpos_app", "nightpos", "worker", "--poll", "0.05", *args],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def wait_for_state(app: Flask, message: int, state: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = delivery(app, message)
        if row["state"] == state:
            return row
        time.sleep(0.05)
    raise AssertionError(f"message {message} is not {state}: {delivery(app, message)}")


def test_a_killed_workers_message_is_delivered_by_another_with_the_same_id(
    app: Flask, receiver: Receiver, action: dict[str, int], database_url: str, instance_dir: Path
) -> None:
    hang = threading.Event()
    receiver.answer(Answer(200, hold=hang), 200)
    [message] = enqueue_message(
        app, action["rule_id"], action["action_id"], receiver.url, timeout=1
    )
    try:
        with worker_process(database_url, instance_dir, "--claim-seconds", "1") as first:
            receiver.wait_for(1, timeout=60)  # start-up of a real app takes a few seconds
            claimed = delivery(app, message)
            assert claimed["state"] == "sending" and claimed["claimed_by"]
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
    finally:
        hang.set()
    # The dead worker's claim is its own until it runs out: a second worker must wait for it.
    second = OutboxWorker(app, worker_id="second-worker", claim_seconds=1)
    assert second.run_once() == 0
    row = settle(app, second, message, timeout=30)

    assert row["state"] == "delivered"
    assert [r.webhook_id for r in receiver.requests] == [row["message_id"]] * 2
    assert [a["worker"] for a in row["attempts"]] == ["second-worker"]
    assert row["attempts"][0]["attempted_at"] > claimed["claimed_until"]


def test_sigterm_finishes_the_message_in_hand(
    app: Flask, receiver: Receiver, action: dict[str, int], database_url: str, instance_dir: Path
) -> None:
    receiver.answer(Answer(200, delay=1.0))
    [message] = enqueue_message(app, action["rule_id"], action["action_id"], receiver.url)
    with worker_process(database_url, instance_dir) as process:
        receiver.wait_for(1, timeout=60)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
    row = delivery(app, message)
    assert row["state"] == "delivered", output
    assert "SIGTERM, stopping" in output and "stopped" in output
    assert row["attempts"][0]["worker"] in output


def test_two_workers_share_a_batch_and_never_send_a_message_twice(
    app: Flask, receiver: Receiver, action: dict[str, int]
) -> None:
    # PostgreSQL shares the outbox with SKIP LOCKED; SQLite serializes claims (a smaller batch).
    count = 200 if TEST_DATABASE_URL else 60
    receiver.default = Answer(200, delay=0.005)
    ids = enqueue_message(
        app, action["rule_id"], action["action_id"], receiver.url, count=count, body="{}"
    )
    workers = [OutboxWorker(app, worker_id=f"w{n}", batch=5, poll_seconds=0.02) for n in (1, 2)]
    threads = [w.start_thread() for w in workers]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with app.app_context():
                left = db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(ids), WebhookDelivery.state != "delivered")
                )
            if left == 0:
                break
            time.sleep(0.1)
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=30)
    assert left == 0

    received = Counter(r.webhook_id for r in receiver.requests)
    assert len(received) == count and set(received.values()) == {1}
    with app.app_context():
        senders = Counter(
            db.session.scalars(
                sa.select(WebhookDelivery.attempt_count).where(WebhookDelivery.id.in_(ids))
            )
        )
        assert senders == {1: count}
    # Both took part: the claims were shared, not one worker doing all of it.
    everyone: Counter[str] = Counter()
    for message in ids:
        everyone.update(a["worker"] for a in delivery(app, message)["attempts"])
    assert everyone["w1"] > 0 and everyone["w2"] > 0, everyone


@pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="LISTEN/NOTIFY is PostgreSQL's; SQLite's workers poll",
)
def test_on_postgresql_a_commit_in_another_process_wakes_the_worker_at_once(
    app: Flask, receiver: Receiver, action: dict[str, int], database_url: str, instance_dir: Path
) -> None:
    """The worker polls only every 60 s here: the message arrives because the commit that
    added it notified the worker's process, not because the worker looked."""
    with worker_process(database_url, instance_dir, "--poll", "60") as process:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "listening for new messages" in line:
                break
        else:
            raise AssertionError("the worker did not start listening:\n" + "".join(lines))
        time.sleep(1.0)  # the look the worker takes once it listens is over: it now waits 60 s
        started = time.monotonic()
        [message] = enqueue_message(app, action["rule_id"], action["action_id"], receiver.url)
        receiver.wait_for(1, timeout=20)
        assert time.monotonic() - started < 10
    assert receiver.requests[0].webhook_id == delivery(app, message)["message_id"]
