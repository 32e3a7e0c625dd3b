"""Many senders at once on one rule that increments a counter: no lost update, no lost call.

Real HTTP (a threaded werkzeug server) and real concurrency, on the suite's database (SQLite,
or PostgreSQL with NIGHTPOS_TEST_DATABASE_URL): 16 senders x 300 calls. Every call must be
answered 200, the counter must end exactly 4,800 higher, and the call log must hold 4,800
rows. The test bounds its own time: senders stop at a deadline and the test fails then.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter

import sqlalchemy as sa

from addons.webhooks.models import WebhookCall
from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.live_server import serving

SENDERS = 16
CALLS_PER_SENDER = 300
#: The whole run must end before this (it takes a fraction of it; see the report it prints).
DEADLINE_SECONDS = 120
REQUEST_TIMEOUT_SECONDS = 30

INCREMENT = {
    "name": "Count",
    "action_type": "execute_code",
    "settings": {"code": "record.write({'customer_rank': record.customer_rank + 1})"},
}


def rank_of_partner_1(app) -> int:
    return read(app, "res.partner", [("id", "=", 1)], ["customer_rank"])[0]["customer_rank"]


def test_parallel_calls_all_count_and_are_all_logged(app, make_rule, record_property):
    rule = make_rule(
        "res.partner", target_record="model.browse([1])", actions=[INCREMENT], log_calls=True
    )
    before = rank_of_partner_1(app)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(host: str, port: int, number: int) -> None:
        # One connection object per sender, kept alive when the server allows it (werkzeug's
        # development server closes each one; http.client then reconnects by itself).
        connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            for call in range(CALLS_PER_SENDER):
                if stop.is_set():
                    return
                body = json.dumps({"sender": number, "call": call})
                try:
                    connection.request(
                        "POST",
                        rule["path"],
                        body=body,
                        headers={"Content-Type": "application/json"},
                    )
                    response = connection.getresponse()
                    answer = response.read()
                except OSError as exc:
                    connection.close()
                    with lock:
                        errors.append(f"sender {number} call {call}: {exc!r}")
                    continue
                with lock:
                    statuses[response.status] += 1
                    if response.status != 200:
                        errors.append(f"{response.status}: {answer[:200]!r}")
        finally:
            connection.close()

    with serving(app) as (host, port):
        started = time.perf_counter()
        threads = [
            threading.Thread(target=sender, args=(host, port, n), daemon=True)
            for n in range(SENDERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, started + DEADLINE_SECONDS - time.perf_counter()))
        stop.set()
        for thread in threads:  # a request in flight ends within its own timeout
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS)
        elapsed = time.perf_counter() - started

    total = SENDERS * CALLS_PER_SENDER
    record_property("seconds", round(elapsed, 2))
    record_property("requests_per_second", round(total / elapsed, 1))
    database = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
    print(f"\n{total} calls in {elapsed:.2f} s: {total / elapsed:.0f} req/s on {database}")
    assert not any(t.is_alive() for t in threads), f"senders still running after {elapsed:.0f} s"
    assert errors == [], errors[:5]
    assert statuses == {200: total}
    assert rank_of_partner_1(app) == before + total
    with app.app_context():
        logged = db.session.execute(
            sa.select(WebhookCall.status, sa.func.count())
            .where(WebhookCall.rule_id == rule["id"])
            .group_by(WebhookCall.status)
        ).all()
    assert dict(logged) == {"ok": total}
