"""A webhook's secret stays out of the server's logs, the call log, answers and tracebacks.

The secret is the URL's credential: whoever reads a log line with it can act on the database.
The webhooks addon registers ``/web/hook/<secret>`` with the host's access-log redaction at
start-up; these tests go through the real app (and, for the access log, a real Werkzeug
server writing its real request lines).
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from addons.webhooks import SECRET_IN_URL
from nightpos_app.redaction import _FILTER
from tests.addons.webhooks.conftest import read
from tests.support.web import one_context_per_request

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

CALL_COLUMNS = ["status", "http_status", "payload", "error_message", "traceback", "remote_addr"]


def all_logged_text(caplog: pytest.LogCaptureFixture) -> str:
    """Everything any logger wrote during the test: messages and formatted tracebacks."""
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The app behind Werkzeug's own server, with its default request handler (access log on)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def fetch(url: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(  # noqa: S310 (a loopback test server)
        url, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_addon_registers_its_url_pattern_at_start_up(app: Flask) -> None:
    assert any(pattern.pattern == SECRET_IN_URL for pattern, _ in _FILTER.patterns)
    assert _FILTER in logging.getLogger("werkzeug").filters


def test_the_access_log_line_of_a_call_has_no_secret(
    app: Flask, make_rule, server: str, caplog: pytest.LogCaptureFixture
) -> None:
    rule = make_rule("sale.order", log_calls=True, target_record="model.browse(7)")
    secret = rule["secret"]
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        assert fetch(f"{server}{rule['path']}", b'{"_model": "sale.order", "_id": 7}') == 200
        # GET with query parameters, one of them a credential of the sender's.
        assert fetch(f"{server}{rule['path']}?_id=7&api_token=tok-123") == 200
        assert fetch(f"{server}/web/hook/{secret}x") == 404  # a near miss is a secret too
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    calls = [line for line in lines if "/web/hook/" in line]
    assert len(calls) == 3, lines
    assert all("/web/hook/[redacted]" in line for line in calls), calls
    assert '" 200 ' in calls[0] and '" 404 ' in calls[2], "the line still tells what happened"
    assert "?_id=***&api_token=*** HTTP/1.1" in calls[1], "the query's keys, not its values"
    assert secret not in all_logged_text(caplog)
    assert "tok-123" not in "\n".join(lines)


@pytest.mark.parametrize(
    "code",
    [
        "raise UserError('the order ' + str(record.id) + ' is closed')",
        "1 / 0",
        "payload['missing']",
    ],
    ids=["user-error", "zero-division", "key-error"],
)
def test_a_failing_rule_leaks_no_secret(
    app: Flask, make_rule, caplog: pytest.LogCaptureFixture, code: str
) -> None:
    rule = make_rule(
        "sale.order",
        log_calls=True,
        actions=[{"name": "Fail", "action_type": "execute_code", "settings": {"code": code}}],
    )
    secret = rule["secret"]
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().post(rule["path"], json={"_model": "sale.order", "_id": 7})
    assert response.status_code == 500
    body = response.get_json()
    assert body["status"] == "error" and body["message"]
    assert secret not in response.get_data(as_text=True)
    (call,) = read(app, "base.automation.call", [("rule_id", "=", rule["id"])], CALL_COLUMNS)
    assert call["status"] == "error" and call["error_message"]
    assert all(secret not in str(value) for value in call.values()), call
    assert secret not in all_logged_text(caplog)


@pytest.mark.parametrize(
    ("suffix", "body", "status"),
    [
        ("", b'{"_model": "sale.order", "_id": 7', 400),  # invalid JSON
        ("", b'["a list"]', 400),
        ("", b'{"_model": "no.such.model", "_id": 7}', 500),
        ("/extra/path", b"{}", 404),
        ("%00", b"{}", 404),
        ("-wrong", b"{}", 404),
    ],
    ids=["bad-json", "array", "bad-model", "extra-path", "nul", "wrong-secret"],
)
def test_error_answers_do_not_echo_the_secret(
    app: Flask,
    make_rule,
    caplog: pytest.LogCaptureFixture,
    suffix: str,
    body: bytes,
    status: int,
) -> None:
    rule = make_rule("sale.order", log_calls=True)
    secret = rule["secret"]
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().post(
            rule["path"] + suffix, data=body, content_type="application/json"
        )
    assert response.status_code == status
    assert secret not in response.get_data(as_text=True)
    for call in read(app, "base.automation.call", [("rule_id", "=", rule["id"])], CALL_COLUMNS):
        assert all(secret not in str(value) for value in call.values()), call
    assert secret not in all_logged_text(caplog)


def test_an_unknown_secret_is_not_echoed(app: Flask, clean_rules: Any) -> None:
    guess = "Guessed-Secret-0123456789abcdefghijklmnopqrstu"
    for method in ("GET", "POST", "PUT", "DELETE"):
        response = app.test_client().open(f"/web/hook/{guess}", method=method, json={})
        assert response.status_code in (404, 405), (method, response.status_code)
        assert guess not in response.get_data(as_text=True)
