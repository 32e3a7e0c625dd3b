"""Idempotency keys with control characters are a clean 400, never a 500.

Attack (a fuzzer with a rule's URL): ``Idempotency-Key: a\\x00b``. PostgreSQL refuses a NUL in
a text column, so claiming the key raised a DataError: 500 with a reference, in both modes.
Any ASCII control character in the key (or ``webhook-id``, the same key) is now refused with
400 before anything is claimed or run; non-ASCII keys (which arrive as Latin-1) still work.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.addons.webhooks.inbox_support import Clock, calls, contact_rule, contacts, worker


@pytest.mark.parametrize("respond", ["after_running", "at_once"])
@pytest.mark.parametrize("header", ["Idempotency-Key", "webhook-id"])
@pytest.mark.parametrize("key", ["a\x00b", "\x00", "a\x01", "tab\tkey", "del\x7f"])
def test_a_key_with_control_characters_is_400(
    app: Flask, client: Any, make_rule: Any, respond: str, header: str, key: str
) -> None:
    rule = contact_rule(make_rule, respond=respond, idempotency=True, log_calls=True)
    response = client.post(rule["path"], json={"n": 1}, headers={header: key})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json() == {
        "status": "error",
        "message": "The idempotency key holds control characters.",
    }
    worker(app, Clock()).drain()
    assert contacts(app) == []
    assert [row["http_status"] for row in calls(app, rule["id"])] == [400]


@pytest.mark.parametrize("respond", ["after_running", "at_once"])
def test_a_non_ascii_key_still_works_once(
    app: Flask, client: Any, make_rule: Any, respond: str
) -> None:
    rule = contact_rule(make_rule, respond=respond, idempotency=True)
    key = "ключ-€"  # UTF-8 on the wire: bytes 0x80-0x9F once decoded as Latin-1
    first = client.post(rule["path"], json={"n": 1}, headers={"Idempotency-Key": key})
    second = client.post(rule["path"], json={"n": 1}, headers={"Idempotency-Key": key})
    assert first.status_code in (200, 202) and second.status_code == first.status_code
    assert second.headers.get("Idempotent-Replayed") == "true"
    worker(app, Clock()).drain()
    assert contacts(app) == ["inbox-1"]
