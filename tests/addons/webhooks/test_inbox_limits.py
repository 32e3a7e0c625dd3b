"""What an unauthenticated sender with a rule's URL can make the inbox do (Respond at once).

Attack: a flood on a URL that responds at once, while no worker runs (or faster than they run),
stored every call, each with its payload (up to 1 MiB), until the database filled: the rate
limit bounds the rate, not the total. Now a rule's backlog is capped
(``WEBHOOK_INBOX_MAX_BACKLOG``): past it, 503 with ``Retry-After``, nothing stored or logged,
and the call's idempotency key stays free for the sender's retry. Other rules are not held up.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from addons.webhooks.incoming.inbox import FULL_RETRY_AFTER, InboxFull
from tests.addons.webhooks.inbox_support import Clock, calls, contact_rule, contacts, worker
from tests.addons.webhooks.receiver import app_config

CAP = 3


def flood(client: Any, path: str, count: int, start: int = 0, **headers: str) -> list[Any]:
    return [client.post(path, json={"n": start + i}, headers=headers) for i in range(count)]


def assert_refused(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json() == {"status": "error", "message": InboxFull.message}
    assert response.headers["Retry-After"] == str(FULL_RETRY_AFTER)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("log_calls", [True, False])
def test_a_flood_stops_at_the_rules_backlog_cap(
    app: Flask, client: Any, make_rule: Any, log_calls: bool
) -> None:
    flooded = contact_rule(make_rule, respond="at_once", log_calls=log_calls)
    other = contact_rule(make_rule, respond="at_once", log_calls=log_calls)
    # Counted on every call here: the cap holds exactly.
    with app_config(app, WEBHOOK_INBOX_MAX_BACKLOG=CAP, WEBHOOK_INBOX_BACKLOG_CHECK_SECONDS=0):
        answers = flood(client, flooded["path"], 10)
        assert [a.status_code for a in answers] == [202] * CAP + [503] * (10 - CAP)
        for answer in answers[CAP:]:
            assert_refused(answer)
        # Nothing of the refused calls was stored, logged or run.
        assert [row["status"] for row in calls(app, flooded["id"])] == ["accepted"] * CAP
        # Another rule's calls are not held up by this one's backlog.
        assert client.post(other["path"], json={"n": 100}).status_code == 202
        # Once the worker has run the backlog, calls are accepted again.
        assert worker(app, Clock()).drain() == CAP + 1
        assert sorted(contacts(app)) == sorted(f"inbox-{n}" for n in (0, 1, 2, 100))
        assert client.post(flooded["path"], json={"n": 50}).status_code == 202


def test_calls_counted_between_two_counts_still_stop_at_the_cap(
    app: Flask, client: Any, make_rule: Any
) -> None:
    """The backlog is counted once a second (per rule and process), not per call: the calls
    this process accepts meanwhile are added to the count, so a fast flood stops at the cap."""
    rule = contact_rule(make_rule, respond="at_once")
    with app_config(app, WEBHOOK_INBOX_MAX_BACKLOG=5, WEBHOOK_INBOX_BACKLOG_CHECK_SECONDS=0):
        assert client.post(rule["path"], json={"n": 0}).status_code == 202  # counted: 0 before
    with app_config(app, WEBHOOK_INBOX_MAX_BACKLOG=5, WEBHOOK_INBOX_BACKLOG_CHECK_SECONDS=3600):
        answers = flood(client, rule["path"], 8, start=1)
    assert [a.status_code for a in answers] == [202] * 4 + [503] * 4
    assert len(calls(app, rule["id"])) == 5


def test_a_refused_calls_idempotency_key_is_free_for_the_retry(
    app: Flask, client: Any, make_rule: Any
) -> None:
    rule = contact_rule(make_rule, respond="at_once", idempotency=True)
    with app_config(app, WEBHOOK_INBOX_MAX_BACKLOG=1, WEBHOOK_INBOX_BACKLOG_CHECK_SECONDS=0):
        assert client.post(rule["path"], json={"n": 1}).status_code == 202
        refused = client.post(rule["path"], json={"n": 2}, headers={"Idempotency-Key": "k-2"})
        assert_refused(refused)
        worker(app, Clock()).drain()
        retried = client.post(rule["path"], json={"n": 2}, headers={"Idempotency-Key": "k-2"})
        assert retried.status_code == 202, retried.get_json()
        again = client.post(rule["path"], json={"n": 2}, headers={"Idempotency-Key": "k-2"})
        assert (again.status_code, again.get_json()) == (202, retried.get_json())
        worker(app, Clock()).drain()
    assert contacts(app) == ["inbox-1", "inbox-2"]
