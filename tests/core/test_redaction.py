"""Secrets in URLs never reach the access log, whatever server writes it."""

from __future__ import annotations

import logging
import threading
import urllib.request

from werkzeug.serving import make_server

from nightpos_app.redaction import redact_in_logs


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
    assert any("/test-secret/<redacted>" in line for line in lines), lines
    assert all("s3cr3tValue" not in line for line in lines)


def test_gunicorn_access_logger_is_filtered_too(caplog):
    redact_in_logs(r"/test-secret/[A-Za-z0-9_-]+", "/test-secret/<redacted>")
    logger = logging.getLogger("gunicorn.access")
    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        logger.info('%s "%s"', "127.0.0.1", "POST /test-secret/abcDEF123 HTTP/1.1")
    assert caplog.records[-1].getMessage() == '127.0.0.1 "POST /test-secret/<redacted> HTTP/1.1"'
