"""The retry policy and the message's headers, on their own (no network, no database)."""

from __future__ import annotations

import datetime as dt
import email.utils
import random

import pytest

from addons.webhooks.incoming.guards import verify_standard
from addons.webhooks.models import new_signing_secret
from addons.webhooks.outgoing import retry, signing
from addons.webhooks.outgoing.sender import Message, Result, send

NOW = dt.datetime(2024, 5, 6, 12, 0, 0)
POLICY = retry.Policy()


def http(status: int, retry_after: str | None = None) -> Result:
    error = None if status < 300 else f"HTTP {status}"
    return Result("http", 12.0, status_code=status, error=error, retry_after=retry_after)


@pytest.mark.parametrize(
    ("result", "state"),
    [
        (http(200), "delivered"),
        (http(204), "delivered"),
        (http(500), "pending"),
        (http(503), "pending"),
        (http(429), "pending"),
        (Result("timeout", 1.0, error="no answer"), "pending"),
        (Result("connection", 1.0, error="refused"), "pending"),
        (http(400), "failed"),
        (http(404), "failed"),
        (http(301), "failed"),
        (http(410), "failed"),
        (Result("refused", 0.1, error="refused: 10.0.0.1 is a private address"), "failed"),
        (Result("invalid", 0.1, error="bad header"), "failed"),
    ],
)
def test_what_each_result_means(result: Result, state: str) -> None:
    decision = retry.decide(result, 1, POLICY, NOW)
    assert decision.state == state
    assert decision.deactivate_action is (result.status_code == 410)
    assert (decision.next_attempt_at is not None) is (state == "pending")


def test_eight_attempts_by_default_then_dead() -> None:
    assert POLICY.max_attempts == 8
    assert retry.decide(http(500), 7, POLICY, NOW).state == "pending"
    dead = retry.decide(http(500), 8, POLICY, NOW)
    assert dead.state == "dead" and dead.error == "HTTP 500 (gave up after 8 attempts)"


def test_delays_follow_the_schedule_within_the_jitter() -> None:
    rng = random.Random(7)
    for attempt, base in enumerate(POLICY.schedule, start=1):
        delays = [retry.retry_delay(POLICY, attempt, None, rng) for _ in range(200)]
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
        assert max(delays) - min(delays) > base * 0.2  # spread, not all the same second


def test_retry_after_in_seconds_or_as_a_date_wins_when_longer_and_is_capped() -> None:
    no_jitter = retry.Policy(schedule=(5, 300), jitter=0.0, retry_after_max=3600)
    assert retry.retry_delay(no_jitter, 1, 120.0) == 120.0
    assert retry.retry_delay(no_jitter, 2, 120.0) == 300.0  # shorter than the schedule
    assert retry.retry_delay(no_jitter, 1, 10 * 86400.0) == 3600.0

    assert retry.parse_retry_after("120", NOW) == 120.0
    date = email.utils.format_datetime(
        (NOW + dt.timedelta(minutes=10)).replace(tzinfo=dt.UTC), usegmt=True
    )
    assert retry.parse_retry_after(date, NOW) == 600.0
    assert retry.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 0.0
    assert retry.parse_retry_after("soon", NOW) is None
    assert retry.parse_retry_after(None, NOW) is None

    decision = retry.decide(http(429, retry_after="120"), 1, no_jitter, NOW)
    assert decision.next_attempt_at == NOW + dt.timedelta(seconds=120)


@pytest.mark.parametrize(
    "value", ["¹²⁰", "١٢٠", "１２０", " ¹ "], ids=["sup", "arabic", "fw", "one"]
)
def test_retry_after_in_digits_other_than_ascii_is_not_a_number(value: str) -> None:
    # isdigit() is true for each; float() refused superscripts (the worker's decision raised)
    # and read the others as 120 seconds, which no HTTP sender writes.
    assert retry.parse_retry_after(value, NOW) is None
    no_jitter = retry.Policy(schedule=(5, 300), jitter=0.0)
    decision = retry.decide(http(503, retry_after=value), 1, no_jitter, NOW)
    assert decision.state == "pending"
    assert decision.next_attempt_at == NOW + dt.timedelta(seconds=5)  # the schedule's delay


def test_signatures_verify_with_each_secret() -> None:
    current, previous = new_signing_secret(), new_signing_secret()
    body = b'{"a": 1}'
    headers = signing.message_headers(
        message_id="msg_1",
        timestamp=1_700_000_000,
        body=body,
        secrets=[current, previous],
        host="example.com",
        extra={"WEBHOOK-SIGNATURE": "v1,forged", "host": "evil", "Authorization": "Bearer t"},
    )
    assert headers["Host"] == "example.com" and headers["Authorization"] == "Bearer t"
    assert headers["webhook-signature"].count("v1,") == 2
    assert "forged" not in str(headers.values())
    for secret in (current, previous):
        assert verify_standard(secret, headers, body, now=1_700_000_000) is None
    assert verify_standard(new_signing_secret(), headers, body, now=1_700_000_000) is not None


def test_a_header_that_cannot_be_sent_fails_the_message_without_showing_its_value() -> None:
    message = Message(
        id=1,
        message_id="msg_1",
        url="http://93.184.216.34/",
        body="{}",
        headers={"X-Token": "secret-value\r\nX-Injected: 1"},
        timeout_seconds=1,
        secrets=[new_signing_secret()],
    )
    result = send(message)
    assert result.kind == "invalid"
    assert "X-Token" in result.error and "secret-value" not in result.error
    assert retry.decide(result, 1, POLICY, NOW).state == "failed"
