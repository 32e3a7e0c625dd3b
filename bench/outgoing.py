"""Outgoing webhooks: messages delivered per second by one and by two worker processes, and
the time from the commit that enqueued a message to its delivery.

A local receiver (a threaded ``http.server`` in this process, answering 200) gets the
messages of a rule's Send Webhook Notification action (created with the record API). Messages
are enqueued with ``addons.webhooks.outgoing.outbox.enqueue`` in this process's app context and
committed at once; ``flask nightpos worker`` processes (``WEBHOOK_OUTGOING_ALLOWED_CIDRS`` lets
them reach 127.0.0.1) send them.

* Throughput: the workers are started and idle first, then a batch is committed; the rate is
  counted from the first delivery to the last (a worker's start-up and its poll wait are not
  the sending rate). One- and two-worker rounds alternate; medians.
* Latency: one idle worker; enqueue one message, commit, time until the receiver has it;
  a random pause before each, so the commits fall anywhere in the worker's poll interval.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import (
    BIN,
    ROOT,
    Context,
    Instance,
    Report,
    Table,
    app_context,
    make_rule,
    median,
    prepare_instance,
)

WORKER_ENV = {"WEBHOOK_OUTGOING_ALLOWED_CIDRS": "127.0.0.0/8"}


class Receiver:
    """Counts the POSTs it gets and when each arrived."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.arrivals.append(time.perf_counter())
                    receiver.lock.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: len(self.arrivals) >= count, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Workers:
    """``flask nightpos worker`` processes, started and waited for until they are idle."""

    def __init__(self, instance: Instance, count: int, log_dir: Path) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        for index in range(count):
            log_path = log_dir / f"worker-{time.monotonic_ns()}-{index}.log"
            with open(log_path, "wb") as log_file:
                self.processes.append(
                    subprocess.Popen(
                        [
                            str(BIN / "flask"),
                            "--app",
                            "nightpos_app:create_app()",
                            "nightpos",
                            "worker",
                        ],
                        cwd=ROOT,
                        env=instance.env(**WORKER_ENV),
                        stdout=log_file,
                        stderr=log_file,
                    )
                )
            self.logs.append(log_path)
        deadline = time.monotonic() + 120
        while not all("started" in path.read_text() for path in self.logs):
            for process, path in zip(self.processes, self.logs, strict=True):
                if process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"outbox worker did not start:\n{path.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _enqueue(rule: dict[str, Any], url: str, count: int) -> float:
    """Commit ``count`` messages; the time of the commit (perf_counter)."""
    from addons.webhooks.outgoing.outbox import enqueue
    from nightpos_app.extensions import db

    for index in range(count):
        enqueue(
            db.session,
            rule_id=rule["id"],
            action_id=rule["actions"][0],
            model="sale.order",
            record_id=7,
            url=url,
            body=f'{{"_model": "sale.order", "_id": 7, "state": "sale", "n": {index}}}',
            headers={},
            timeout_seconds=10,
        )
    db.session.commit()
    return time.perf_counter()


def run(ctx: Context) -> Report:
    report = Report("outgoing")
    batch = 30 if ctx.quick else 1000
    pings = 3 if ctx.quick else 12
    instance = prepare_instance(ctx, "outgoing")
    receiver = Receiver()
    url = f"http://127.0.0.1:{receiver.port}/hook"
    rates: dict[int, list[float]] = {1: [], 2: []}
    latencies: list[float] = []
    try:
        with app_context(instance) as app:
            send = {
                "name": "Notify",
                "action_type": "send_webhook",
                "settings": {"url": url, "fields": ["state"]},
            }
            rule = make_rule("sale.order", [send], name="Notify receiver", trigger="on_webhook")
            poll = app.config.get("WEBHOOK_OUTBOX_POLL_SECONDS", 1.0)
            for round_ in range(ctx.rounds):
                for count in (1, 2) if round_ % 2 == 0 else (2, 1):
                    ctx.log(f"  outgoing: round {round_ + 1}, {count} worker(s), {batch} messages")
                    workers = Workers(instance, count, instance.directory)
                    try:
                        time.sleep(0.5)
                        before = len(receiver.arrivals)
                        _enqueue(rule, url, batch)
                        if not receiver.wait_for(before + batch, timeout=300):
                            raise RuntimeError(
                                f"only {len(receiver.arrivals) - before} of {batch} delivered"
                            )
                        arrivals = receiver.arrivals[before : before + batch]
                        span = arrivals[-1] - arrivals[0]
                        rates[count].append((batch - 1) / span if span > 0 else 0.0)
                    finally:
                        workers.stop()
            ctx.log(f"  outgoing: commit-to-delivery, {pings} messages")
            workers = Workers(instance, 1, instance.directory)
            try:
                time.sleep(0.5)
                for _ in range(pings):
                    time.sleep(random.uniform(0, 1.2 * float(poll)))  # noqa: S311
                    before = len(receiver.arrivals)
                    committed = _enqueue(rule, url, 1)
                    if not receiver.wait_for(before + 1, timeout=60):
                        raise RuntimeError("a message was not delivered within 60 s")
                    latencies.append((receiver.arrivals[before] - committed) * 1000)
            finally:
                workers.stop()
    finally:
        receiver.close()

    one, two = median(rates[1]), median(rates[2])
    report.data = {
        "messages_per_round": batch,
        "rate_1_worker": one,
        "rate_2_workers": two,
        "rates": rates,
        "latency_ms": latencies,
        "poll_seconds": poll,
    }
    report.tables.append(
        Table(
            f"Outgoing: {batch:,} messages a round, {ctx.rounds} rounds, medians",
            ["workers", "messages/s", "x one worker"],
            [["1", one, "1.00"], ["2", two, f"{two / one:.2f}" if one else "-"]],
        )
    )
    report.tables.append(
        Table(
            f"Outgoing: commit to delivery, one idle worker ({pings} messages, "
            f"WEBHOOK_OUTBOX_POLL_SECONDS={poll:g})",
            ["p50 ms", "max ms", "min ms"],
            [[median(latencies), max(latencies), min(latencies)]],
            note=(
                "On PostgreSQL the commit wakes the worker (LISTEN/NOTIFY)."
                if ctx.database_url is not None
                else "A commit in another process does not wake the worker on SQLite: it finds "
                "the message at its next poll."
            ),
        )
    )
    return report
