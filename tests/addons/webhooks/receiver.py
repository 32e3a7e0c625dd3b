"""A real webhook receiver for tests: a threaded HTTP server on 127.0.0.1 that answers from a
script and records every request it gets (headers, body, when it started and ended); and the
outbox's side of those tests: messages enqueued in the real database, a real worker run until
they settle."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import ServerAction, WebhookDelivery, WebhookDeliveryAttempt
from addons.webhooks.outgoing import outbox
from addons.webhooks.outgoing.worker import OutboxWorker
from nightpos_app.extensions import db


@dataclass(frozen=True)
class Answer:
    """One scripted answer: a status, headers and body, after ``delay`` seconds (or after
    ``hold`` is set, when given: a receiver that hangs until the test lets it go)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    hold: threading.Event | None = None


@dataclass
class Received:
    """A request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    started: float
    ended: float | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


class Receiver:
    """The server's state: the script of answers (the default once it runs out) and the log."""

    def __init__(self) -> None:
        self.script: deque[Answer] = deque()
        self.default = Answer()
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.url = ""
        self.port = 0

    def answer(self, *answers: Answer | int) -> None:
        """Queue answers, in order (an int is a status with the default body)."""
        with self.lock:
            self.script.extend(a if isinstance(a, Answer) else Answer(a) for a in answers)

    def next_answer(self) -> Answer:
        with self.lock:
            return self.script.popleft() if self.script else self.default

    def record(self, request: Received) -> None:
        with self.lock:
            self.requests.append(request)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` requests have come in; the requests."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.requests)} requests came, not {count}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                method="POST",
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
                started=time.monotonic(),
            )
            receiver.record(request)
            answer = receiver.next_answer()
            if answer.hold is not None:
                answer.hold.wait(60)
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the sender gave up waiting (a timeout test)
            request.ended = time.monotonic()

        do_GET = do_POST  # noqa: N815 (a redirect followed by mistake would GET)

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a sender that hung up early is expected here, not an error worth printing


@contextmanager
def receiving() -> Iterator[Receiver]:
    """Run a receiver on a free loopback port for the block; ``receiver.url`` is its URL."""
    receiver = Receiver()
    server = _Server(("127.0.0.1", 0), _handler(receiver))
    receiver.port = server.server_address[1]
    receiver.url = f"http://127.0.0.1:{receiver.port}/hook"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- The outbox's side: messages in the real database, sent by a real worker ---------------

#: Settings for sending to the receiver: loopback allowed, a quick retry schedule, no jitter.
#: An action for tests that enqueue messages themselves: the rule needs one, it does nothing.
NOTIFY_ACTION = {"name": "Notify", "action_type": "execute_code", "settings": {"code": "pass"}}

LOOPBACK_SETTINGS: dict[str, Any] = {
    "WEBHOOK_OUTGOING_ALLOWED_CIDRS": ["127.0.0.0/8"],
    "WEBHOOK_RETRY_SCHEDULE": [0.05, 0.1],
    "WEBHOOK_RETRY_JITTER": 0.0,
    "WEBHOOK_OUTBOX_POLL_SECONDS": 0.05,
}
FINAL_STATES = ("delivered", "failed", "dead")


@contextmanager
def app_config(app: Flask, **values: Any) -> Iterator[None]:
    """Set config values of the shared test app for the block, then put the old ones back."""
    missing = object()
    saved = {key: app.config.get(key, missing) for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is missing:
                app.config.pop(key, None)
            else:
                app.config[key] = value


def action_ids(app: Flask, rule_id: int) -> list[int]:
    """The ids of a rule's actions, in order."""
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(ServerAction.id)
                .where(ServerAction.rule_id == rule_id)
                .order_by(ServerAction.sequence, ServerAction.id)
            )
        )


def enqueue_message(
    app: Flask,
    rule_id: int,
    action_id: int,
    url: str,
    *,
    body: str = '{"_model": "sale.order", "_id": 1}',
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
    count: int = 1,
) -> list[int]:
    """Put ``count`` messages in the outbox through ``outbox.enqueue`` and commit; their ids."""
    with app.app_context():
        deliveries = [
            outbox.enqueue(
                db.session,
                rule_id=rule_id,
                action_id=action_id,
                model="sale.order",
                record_id=1,
                url=url,
                body=body,
                headers=headers or {},
                timeout_seconds=timeout,
            )
            for _ in range(count)
        ]
        db.session.commit()
        return [d.id for d in deliveries]


def delivery(app: Flask, delivery_id: int) -> dict[str, Any]:
    """A message's row as a dict, with its attempts (dicts too) under ``attempts``."""
    with app.app_context():
        row = db.session.get(WebhookDelivery, delivery_id)
        assert row is not None
        values = {c.name: getattr(row, c.name) for c in WebhookDelivery.__table__.columns}
        values["attempts"] = [
            {c.name: getattr(a, c.name) for c in WebhookDeliveryAttempt.__table__.columns}
            for a in row.attempts
        ]
        return values


def settle(app: Flask, worker: OutboxWorker, delivery_id: int, timeout: float = 15.0) -> dict:
    """Run ``worker`` until the message is delivered, failed or dead; its row."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.run_once() == 0:
            row = delivery(app, delivery_id)
            if row["state"] in FINAL_STATES:
                return row
            time.sleep(0.02)
    raise AssertionError(f"message {delivery_id} did not settle: {delivery(app, delivery_id)}")
