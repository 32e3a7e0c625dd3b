"""Idempotency keys over HTTP: a repeated key gets the first answer and the rule runs once."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading

import sqlalchemy as sa

from addons.webhooks.incoming.idempotency import prune_requests
from addons.webhooks.models import WebhookRequest
from nightpos_app.extensions import db
from nightpos_app.models import utcnow
from tests.addons.webhooks.guard_support import counting_rule, runs
from tests.addons.webhooks.live_server import serving


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
