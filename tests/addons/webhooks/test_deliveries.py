"""Studio → Deliveries over HTTP: the outbox newest first, filtered by rule and state, a message's
page with its attempts and body, Retry now and Replay (CSRF-protected, refused in other
states), and the read-only REST resource."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import WebhookDelivery, WebhookDeliveryAttempt
from addons.webhooks.outgoing import outbox
from addons.webhooks.outgoing.worker import OutboxWorker
from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.receiver import Answer, Receiver, enqueue_message, settle
from tests.addons.webhooks.screens import location
from tests.support.web import (
    ADMIN,
    WebClient,
    api_client,
    csrf_token_from,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

SEND = {
    "name": "Notify ERP",
    "action_type": "send_webhook",
    "settings": {"url": "https://erp.example.com/hook", "fields": ["state"]},
}


def state_of(app: Flask, delivery_id: int) -> dict[str, Any]:
    return read(app, "webhook.delivery", [("id", "=", delivery_id)], ["state", "attempt_count"])[0]


def round_attempts(app: Flask, delivery_id: int) -> int:
    with app.app_context():
        return db.session.get(WebhookDelivery, delivery_id).round_attempt_count


def add_delivery(app: Flask, rule_id: int, record_id: int, state: str, attempts: int = 0) -> int:
    """A message as Send Webhook Notification writes it, then as the worker left it."""
    with app.app_context():
        action_id = read(app, "ir.actions.server", [("rule_id", "=", rule_id)], [])[0]["id"]
        delivery = outbox.enqueue(
            db.session,
            rule_id=rule_id,
            action_id=action_id,
            model="sale.order",
            record_id=record_id,
            url="https://erp.example.com/hook",
            body=f'{{"_model":"sale.order","_id":{record_id}}}',
            headers={},
            timeout_seconds=10,
        )
        delivery.state = state
        delivery.attempt_count = delivery.round_attempt_count = attempts
        if state == "delivered":
            delivery.delivered_at = dt.datetime(2024, 5, 6, 10, 0, 0)
            delivery.last_status_code = 200
        for number in range(attempts):
            delivery.attempts.append(
                WebhookDeliveryAttempt(
                    attempted_at=dt.datetime(2024, 5, 6, 9, 0, number),
                    status_code=503 if state != "delivered" else 200,
                    duration_ms=12.5,
                    error="Service Unavailable" if state != "delivered" else None,
                    response_excerpt=f"<h1>try {number}</h1>",
                    worker="w1",
                )
            )
        db.session.commit()
        return int(delivery.id)


@pytest.fixture
def outbox_rows(app: Flask, make_rule) -> dict[str, Any]:
    first = make_rule("sale.order", actions=[SEND], name="First")
    second = make_rule("sale.order", actions=[SEND], name="Second")
    return {
        "first": first,
        "second": second,
        "pending": add_delivery(app, first["id"], 1, "pending"),
        "failed": add_delivery(app, first["id"], 2, "failed", attempts=2),
        "dead": add_delivery(app, first["id"], 3, "dead", attempts=3),
        "delivered": add_delivery(app, second["id"], 4, "delivered", attempts=1),
    }


def listed_ids(page: str) -> list[int]:
    """The messages of a list page, in order (each row links to its page)."""
    return [int(i) for i in re.findall(r'href="/webhookdeliveryview/show/(\d+)', page)]


def test_the_list_is_newest_first_with_labelled_states_and_filters(
    app: Flask, admin_web: WebClient, outbox_rows: dict[str, Any]
) -> None:
    home = page_text(admin_web.get("/"))
    assert "/webhookdeliveryview/list/" in home and "Deliveries" in home
    response = admin_web.get("/webhookdeliveryview/list/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    ids = [outbox_rows[k] for k in ("delivered", "dead", "failed", "pending")]
    assert listed_ids(page) == ids
    text = page_text(response)
    for label in ("Pending", "Failed", "Dead", "Delivered", "First", "Second", "Sales Order"):
        assert label in text

    first = outbox_rows["first"]["id"]
    page = admin_web.get(f"/webhookdeliveryview/list/?rule_id={first}")
    assert listed_ids(page.get_data(as_text=True)) == ids[1:]
    assert "Deliveries: First" in page_text(page)
    page = admin_web.get(f"/webhookdeliveryview/list/?rule_id={first}&state=failed")
    assert listed_ids(page.get_data(as_text=True)) == [outbox_rows["failed"]]
    assert "Deliveries: First (Failed)" in page_text(page)
    # The state links keep the rule.
    assert f"/webhookdeliveryview/list/?rule_id={first}&amp;state=dead" in page.get_data(
        as_text=True
    )
    # Nonsense filters are ignored, not echoed.
    page = admin_web.get("/webhookdeliveryview/list/?rule_id=abc&state=<script>")
    assert listed_ids(page.get_data(as_text=True)) == ids
    assert "<script>" not in page.get_data(as_text=True)
    # FAB's search works too (state equal to "dead").
    page = admin_web.get("/webhookdeliveryview/list/?_flt_0_state=dead")
    assert listed_ids(page.get_data(as_text=True)) == [outbox_rows["dead"]]
    # A rule's page links to its deliveries.
    rule_page = admin_web.get(f"/webhookview/show/{first}").get_data(as_text=True)
    assert f'href="/webhookdeliveryview/list/?rule_id={first}"' in rule_page


def test_a_messages_page_lists_its_attempts_and_shows_the_body(
    app: Flask, admin_web: WebClient, outbox_rows: dict[str, Any]
) -> None:
    failed = outbox_rows["failed"]
    response = admin_web.get(f"/webhookdeliveryview/show/{failed}")
    assert response.status_code == 200
    text = page_text(response)
    with app.app_context():
        message_id = db.session.get(WebhookDelivery, failed).message_id
    assert re.fullmatch(r"msg_[0-9a-f]{32}", message_id) and message_id in text
    assert '{"_model":"sale.order","_id":2}' in text
    rows = re.findall(r'<tr class="delivery-attempt">(.*?)</tr>', text, re.S)
    assert len(rows) == 2
    assert (
        "2024-05-06 09:00:00" in rows[0] and "503" in rows[0] and "Service Unavailable" in rows[0]
    )
    # A receiver's answer is shown as text, never as markup.
    assert "&lt;h1&gt;try 0&lt;/h1&gt;" in response.get_data(as_text=True)
    assert 'id="delivery-retry"' in text and 'id="delivery-replay"' not in text
    delivered = admin_web.get(f"/webhookdeliveryview/show/{outbox_rows['delivered']}")
    assert 'id="delivery-replay"' in delivered.get_data(as_text=True)
    assert 'id="delivery-retry"' not in delivered.get_data(as_text=True)
    pending = admin_web.get(f"/webhookdeliveryview/show/{outbox_rows['pending']}")
    assert "Not tried yet." in page_text(pending)
    assert admin_web.get("/webhookdeliveryview/show/999999").status_code == 404
    # No edit, add or delete screens.
    assert admin_web.get(f"/webhookdeliveryview/edit/{failed}").status_code == 404
    assert admin_web.get("/webhookdeliveryview/add").status_code == 404


@pytest.mark.parametrize(
    ("which", "button", "works"),
    [
        ("failed", "retry", True),
        ("dead", "retry", True),
        ("delivered", "replay", True),
        ("pending", "retry", False),
        ("delivered", "retry", False),
        ("failed", "replay", False),
        ("pending", "replay", False),
    ],
)
def test_retry_now_and_replay_make_a_message_pending_again(
    app: Flask,
    admin_web: WebClient,
    outbox_rows: dict[str, Any],
    which: str,
    button: str,
    works: bool,
) -> None:
    delivery = outbox_rows[which]
    page = admin_web.get(f"/webhookdeliveryview/show/{delivery}").get_data(as_text=True)
    token = csrf_token_from(page)
    url = f"/webhookdeliveryview/{button}/{delivery}"
    before = state_of(app, delivery)
    # Without the page's token: refused, nothing changes.
    assert admin_web.client.post(url).status_code == 400
    assert admin_web.client.post(url, data={"csrf_token": "forged"}).status_code == 400
    assert state_of(app, delivery) == before
    response = admin_web.client.post(url, data={"csrf_token": token})
    assert location(response) == f"/webhookdeliveryview/show/{delivery}"
    shown = page_text(admin_web.get(location(response)))
    if works:
        # A new round of the schedule: the message still counts the attempts it had.
        assert state_of(app, delivery) == {
            "id": delivery,
            "state": "pending",
            "attempt_count": before["attempt_count"],
        }
        assert round_attempts(app, delivery) == 0
        assert "The message will be sent again shortly" in shown
        # The earlier attempts stay; the message id does not change.
        with app.app_context():
            assert (
                len(db.session.get(WebhookDelivery, delivery).attempts) == before["attempt_count"]
            )
    else:
        assert state_of(app, delivery) == before
        assert "can be retried; this one is" in shown or "can be replayed; this one is" in shown


def test_the_rest_resource_is_read_only_but_can_send_again(
    app: Flask, outbox_rows: dict[str, Any]
) -> None:
    api = api_client(app.test_client(), ADMIN)
    base = "/api/v1/webhook_delivery/"
    listed = api.get(f"{base}?q=(order_column:id,order_direction:desc)").get_json()
    assert listed["count"] == 4
    assert [r["state"] for r in listed["result"]] == ["delivered", "dead", "failed", "pending"]
    failed = outbox_rows["failed"]
    shown = api.get(f"{base}{failed}").get_json()["result"]
    assert shown["body"] == '{"_model":"sale.order","_id":2}' and shown["headers"] == {}
    assert api.post(base, {"rule_id": 1}).status_code == 405
    assert api.put(f"{base}{failed}", {"state": "pending"}).status_code == 405
    assert api.delete(f"{base}{failed}").get_json() == {
        "message": "DELETE is not allowed here: this URL takes GET."
    }
    assert api.post(f"{base}{outbox_rows['pending']}/retry").status_code == 409
    assert api.post(f"{base}{failed}/retry").status_code == 200
    assert state_of(app, failed)["state"] == "pending"
    assert api.post(f"{base}{outbox_rows['delivered']}/replay").status_code == 200
    assert state_of(app, outbox_rows["delivered"])["state"] == "pending"
    assert api.post(f"{base}999999/retry").status_code == 404
    attempts = api.get("/api/v1/webhook_delivery_attempt/").get_json()
    assert attempts["count"] == 6
    assert api.delete(f"/api/v1/webhook_delivery_attempt/{attempts['ids'][0]}").status_code == 405


def test_prune_calls_also_prunes_old_finished_messages_never_those_to_send(
    app: Flask, outbox_rows: dict[str, Any]
) -> None:
    with app.app_context():
        # Everything is a year old; the pending one must survive anyway.
        db.session.execute(sa.update(WebhookDelivery).values(created_at=dt.datetime(2020, 1, 1)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["webhooks", "prune-calls"])
    assert result.exit_code == 0, result.output
    assert "Deleted 3 finished outgoing messages." in result.output
    left = read(app, "webhook.delivery", [], ["state"])
    assert [row["state"] for row in left] == ["pending"]
    assert read(app, "webhook.delivery.attempt", [], []) == []


def test_the_list_count_stops_at_the_cap(
    admin_web: WebClient, outbox_rows: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log's list page counts at most count_cap + 1 rows (a million-row count would be
    most of the page's time); the rows themselves are all still there to page through."""
    from addons.webhooks.views.deliveries import WebhookDeliveryView

    def record_count(url: str) -> int:
        text = page_text(admin_web.get(url))
        return int(re.search(r"Record Count:(?:</strong>)?\s*(\d+)", text).group(1))

    assert record_count("/webhookdeliveryview/list/") == 4
    monkeypatch.setattr(WebhookDeliveryView.datamodel, "count_cap", 2)
    assert record_count("/webhookdeliveryview/list/") == 3
    assert len(listed_ids(admin_web.get("/webhookdeliveryview/list/").get_data(as_text=True))) == 4


def test_a_dead_message_retried_by_hand_counts_every_attempt_and_says_so(
    app: Flask, admin_web: WebClient, receiver: Receiver, action: dict[str, Any]
) -> None:
    # A receiver that keeps failing; the schedule [0.05, 0.1]: three attempts a round.
    receiver.default = Answer(500)
    worker = OutboxWorker(app, worker_id="test-worker")
    [message] = enqueue_message(app, action["rule_id"], action["action_id"], receiver.url)
    first = settle(app, worker, message)
    assert (first["state"], first["attempt_count"], first["round_attempt_count"]) == ("dead", 3, 3)
    assert first["last_error"] == "HTTP 500 (gave up after 3 attempts)"

    # Retry over REST: the schedule runs again, the count goes on.
    api = api_client(app.test_client(), ADMIN)
    assert api.post(f"/api/v1/webhook_delivery/{message}/retry").status_code == 200
    second = settle(app, worker, message)
    assert len(second["attempts"]) == len(receiver.requests) == 6
    assert (second["state"], second["attempt_count"], second["round_attempt_count"]) == (
        "dead",
        6,
        3,
    )
    assert second["last_error"] == "HTTP 500 (gave up after 3 attempts in this round, 6 in all)"
    shown = api.get(f"/api/v1/webhook_delivery/{message}").get_json()["result"]
    assert (shown["attempt_count"], shown["round_attempt_count"]) == (6, 3)

    # Retry now on the screen: the same, and the page says it.
    page = admin_web.get(f"/webhookdeliveryview/show/{message}").get_data(as_text=True)
    response = admin_web.client.post(
        f"/webhookdeliveryview/retry/{message}", data={"csrf_token": csrf_token_from(page)}
    )
    assert location(response) == f"/webhookdeliveryview/show/{message}"
    third = settle(app, worker, message)
    assert len(third["attempts"]) == 9 and third["attempt_count"] == 9
    assert third["last_error"] == "HTTP 500 (gave up after 3 attempts in this round, 9 in all)"
    shown_page = page_text(admin_web.get(f"/webhookdeliveryview/show/{message}"))
    assert "Attempts This Round" in shown_page
    assert "gave up after 3 attempts in this round, 9 in all" in shown_page
