"""Per-rule rate limits over HTTP: 429 with Retry-After past the limit, per rule."""

from __future__ import annotations

import pytest

from addons.webhooks.incoming.guards import parse_rate_limit
from tests.addons.webhooks.guard_support import counting_rule, runs


@pytest.fixture(autouse=True)
def fresh_counts(app):
    """A new in-memory storage for each test (rule ids are reused between tests)."""
    app.extensions.pop("nightpos_webhook_limiter", None)
    yield
    app.extensions.pop("nightpos_webhook_limiter", None)


def test_calls_past_the_limit_get_429_with_retry_after(app, client, make_rule):
    rule = counting_rule(make_rule, rate_limit="3/minute", log_calls=True)
    statuses = [client.post(rule["path"], json={"name": "limited"}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = client.post(rule["path"], json={"name": "limited"})
    assert refused.status_code == 429
    assert refused.get_json()["status"] == "error"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert runs(app, "limited") == 3


def test_limits_are_per_rule(app, client, make_rule):
    one = counting_rule(make_rule, rate_limit="1/minute")
    two = counting_rule(make_rule, rate_limit="1/minute")
    assert client.post(one["path"], json={"name": "per rule"}).status_code == 200
    assert client.post(two["path"], json={"name": "per rule"}).status_code == 200
    assert client.post(one["path"], json={"name": "per rule"}).status_code == 429


def test_no_limit_by_default(app, client, make_rule):
    rule = counting_rule(make_rule)
    for _ in range(5):
        assert client.post(rule["path"], json={"name": "unlimited"}).status_code == 200


def test_rate_limit_text():
    assert parse_rate_limit("60/minute").amount == 60
    assert parse_rate_limit("10 per second").amount == 10
    with pytest.raises(ValueError, match="not a rate limit"):
        parse_rate_limit("fast")
