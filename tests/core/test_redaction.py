"""Secrets in URLs never reach the access log, whatever server writes it.

Two kinds: patterns addons register (a webhook's secret in its path), and every query string's
values, on every URL (``?api_token=…``), masked with their keys kept. Each server is checked
through the text it really writes: Werkzeug's server serving the real app, gunicorn's own
access logger (in process, each atom it offers), and gunicorn itself serving the real app.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from werkzeug.serving import make_server

from nightpos_app.redaction import mask_query, mask_query_strings, redact_in_logs
from tests.support.processes import free_port, wait_until_serving

PROJECT_DIR = Path(__file__).resolve().parents[2]

#: Values that must never be in a log line; each request below carries some of them.
SECRETS = ("tok-123", "pw-456", "s3cr3t-a", "s3cr3t-b", "s3cr3t-c", "sig-789")


def test_werkzeug_request_line_is_redacted(caplog):
    redact_in_logs(r"/test-secret/[A-Za-z0-9_-]+", "/test-secret/<redacted>")

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            urllib.request.urlopen(
                f"http://127.0.0.1:{server.server_port}/test-secret/s3cr3tValue?x=1"
            ).read()
    finally:
        server.shutdown()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/test-secret/<redacted>?x=***" in line for line in lines), lines
    assert all("s3cr3tValue" not in line for line in lines)


def test_gunicorn_access_logger_is_filtered_too(caplog):
    redact_in_logs(r"/test-secret/[A-Za-z0-9_-]+", "/test-secret/<redacted>")
    logger = logging.getLogger("gunicorn.access")
    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        logger.info('%s "%s"', "127.0.0.1", "POST /test-secret/abcDEF123?k=v HTTP/1.1")
    assert (
        caplog.records[-1].getMessage() == '127.0.0.1 "POST /test-secret/<redacted>?k=*** HTTP/1.1"'
    )


def test_every_app_masks_query_strings_whatever_its_addons(tmp_path: Path) -> None:
    from nightpos_app import create_app
    from nightpos_app.redaction import _FILTER, ACCESS_LOGGERS

    for name in ACCESS_LOGGERS:
        logging.getLogger(name).removeFilter(_FILTER)
    create_app(
        {
            "SECRET_KEY": "test",
            "INSTANCE_DIR": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no-addons.db'}",
            "NIGHTPOS_ADDONS": [],  # no addon registers anything
        }
    )
    assert all(_FILTER in logging.getLogger(name).filters for name in ACCESS_LOGGERS)


# --- What a masked query looks like ----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "masked"),
    [
        ("api_token=tok-123", "api_token=***"),
        ("a=1&password=pw&b=", "a=***&password=***&b="),
        ("s3cr3t-a", "***"),  # a bare value may be the token itself
        ("a=1&&b=2", "a=***&&b=***"),
        ("k=v=w", "k=***"),
        ("", ""),
    ],
)
def test_mask_query_keeps_the_keys_only(query: str, masked: str) -> None:
    assert mask_query(query) == masked


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /p?a=s3cr3t-a HTTP/1.1" 200 -', '"GET /p?a=*** HTTP/1.1" 200 -'),
        # Werkzeug logs the query decoded: quotes and no-break spaces belong to the value.
        ('"GET /p?t=s3"cr\xa03t-a&b=1 HTTP/1.1" 200', '"GET /p?t=***&b=*** HTTP/1.1" 200'),
        # ...and a malformed request line as it came, spaces and all.
        ("('GET /p?t=s3cr3t-a s3cr3t-b HTTP/1.1')", "('GET /p?t=*** HTTP/1.1')"),
        ("\x1b[31mGET /p?t=s3cr3t-a HTTP/1.1\x1b[0m", "\x1b[31mGET /p?t=*** HTTP/1.1\x1b[0m"),
        (
            '"-" "http://shop.example/back?session=s3cr3t-a" "curl/8"',
            '"-" "http://shop.example/back?session=***" "curl/8"',
        ),
        ("GET /p HTTP/1.1", "GET /p HTTP/1.1"),
        ("Is it? Yes.", "Is it? Yes."),
    ],
)
def test_query_strings_are_masked_wherever_they_are_in_a_line(line: str, expected: str) -> None:
    assert mask_query_strings(line) == expected


# --- Werkzeug's server, serving the real app -------------------------------------------------


@pytest.fixture
def werkzeug_log(app: Flask) -> Iterator[tuple[str, io.StringIO]]:
    """The real app behind Werkzeug's server with its default request handler; what its
    access log writes (a handler on the ``werkzeug`` logger, as Werkzeug's own would be)."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}", output
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        logger.removeHandler(handler)
        logger.setLevel(level)


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def raw_request_line(address: str, line: bytes) -> None:
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(line + b"\r\nHost: test\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass


def test_werkzeug_access_log_masks_query_values_on_every_url(werkzeug_log) -> None:
    address, output = werkzeug_log
    base = f"http://{address}"
    assert get(f"{base}/login/?next=%2Fsales&api_token=tok-123") == 200
    assert get(f"{base}/web/hook/no-such-secret?password=pw-456&_id=7") == 404
    assert get(f"{base}/api/v1/nothing?sig=s3cr%22et-a%C2%A0x&empty=") == 404
    raw_request_line(address, b"GET /login/?key=s3cr3t-b s3cr3t-c HTTP/1.1")  # 400

    text = output.getvalue()
    assert "/login/?next=***&api_token=*** HTTP/1.1" in text, text
    assert "/web/hook/[redacted]?password=***&_id=*** HTTP/1.1" in text, text
    assert "/api/v1/nothing?sig=***&empty= HTTP/1.1" in text, text
    assert "/login/?key=*** HTTP/1.1" in text, text
    assert '" 200 ' in text and '" 404 ' in text and '" 400 ' in text  # still says what happened
    leaked = [value for value in (*SECRETS, "s3cr", "et-a") if value in text]
    assert not leaked, text


# --- gunicorn's access logger, in process ----------------------------------------------------


@pytest.fixture
def gunicorn_logger(tmp_path: Path) -> Iterator[tuple[object, Path]]:
    """gunicorn's own ``Logger`` writing its access log to a file; the loggers put back after
    (it replaces their handlers and stops their propagation)."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    names = ("gunicorn.access", "gunicorn.error")
    saved = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in names
    }
    log_file = tmp_path / "access.log"
    config = Config()
    config.set("accesslog", str(log_file))
    config.set("errorlog", str(tmp_path / "error.log"))
    try:
        yield Logger(config), log_file
    finally:
        for name, (handlers, propagate) in saved.items():
            logger = logging.getLogger(name)
            for handler in logger.handlers:
                if handler not in handlers:
                    handler.close()
            logger.handlers[:] = handlers
            logger.propagate = propagate


def gunicorn_access(glogger, path: str, query: str, referer: str) -> None:
    """What a gunicorn worker does after answering a request: ``Logger.access``."""
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": referer,
        "HTTP_USER_AGENT": "curl/8.5",
    }
    response = SimpleNamespace(status="200 OK", sent=2, headers=[("Content-Type", "text/plain")])
    request = SimpleNamespace(headers=[("REFERER", referer), ("USER-AGENT", "curl/8.5")])
    glogger.access(response, request, environ, dt.timedelta(milliseconds=3))


@pytest.mark.parametrize(
    ("log_format", "expected"),
    [
        pytest.param(
            None,  # gunicorn's default: the request line, the referer
            '"GET /web/hook/[redacted]?api_token=***&_id=*** HTTP/1.1" 200 2 '
            '"https://shop.example/back?session=***" "curl/8.5"',
            id="default",
        ),
        pytest.param(
            "%(U)s %(q)s | %({query_string}e)s | %({raw_uri}e)s | %({referer}i)s",
            "/web/hook/[redacted] api_token=***&_id=*** | api_token=***&_id=*** | "
            "/web/hook/[redacted]?api_token=***&_id=*** | https://shop.example/back?session=***",
            id="every-atom-with-a-query",
        ),
    ],
)
def test_gunicorn_access_log_masks_query_values(
    app: Flask, gunicorn_logger, log_format: str | None, expected: str
) -> None:
    glogger, log_file = gunicorn_logger
    if log_format is not None:
        glogger.cfg.set("access_log_format", log_format)
    gunicorn_access(
        glogger,
        "/web/hook/s3cr3t-a",
        "api_token=tok-123&_id=7",
        "https://shop.example/back?session=pw-456",
    )
    text = log_file.read_text()
    assert expected in text, text
    assert not [value for value in SECRETS if value in text], text


# --- gunicorn itself, serving the real app ---------------------------------------------------


@pytest.mark.slow
def test_gunicorn_serving_the_app_masks_query_values(
    app: Flask, database_url: str, instance_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    log_file = tmp_path / "access.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTPOS_")}
    env.update(
        NIGHTPOS_DATABASE_URL=database_url,
        NIGHTPOS_INSTANCE_DIR=str(instance_dir),
        NIGHTPOS_SECRET_KEY="test-secret-key-not-for-production",
        NIGHTPOS_OUTBOX_WORKER="off",
    )
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind"]
    command += [f"127.0.0.1:{port}", "--access-logfile", str(log_file), "nightpos_app:create_app()"]
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_until_serving(port)
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/login/?next=%2Fsales&api_token=tok-123") == 200
        assert get(f"{base}/web/hook/s3cr3t-a?password=pw-456&_id=7") == 404
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    text = log_file.read_text()
    assert '"GET /login/?next=***&api_token=*** HTTP/1.1" 200' in text, (text, errors[-2000:])
    assert '"GET /web/hook/[redacted]?password=***&_id=*** HTTP/1.1" 404' in text, text
    assert not [value for value in SECRETS if value in text], text
