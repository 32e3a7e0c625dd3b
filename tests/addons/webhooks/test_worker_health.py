"""The outbox worker's heartbeat file and ``flask nightpos worker-health``; JSON-line logs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from addons.webhooks.outgoing.heartbeat import check
from nightpos_app.jsonlog import JsonFormatter
from tests.addons.webhooks.test_outgoing_workers import worker_process
from tests.support.processes import free_port

DEFAULT_PAYLOAD = {"_model": "sale.order", "_id": 1}


def _wait_for_file(path: Path, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"no heartbeat file {path}")


def test_a_running_worker_keeps_its_heartbeat_and_worker_health_says_so(
    app: Flask, database_url: str, instance_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run" / "worker.heartbeat"
    cli = app.test_cli_runner()
    with worker_process(database_url, instance_dir, "--heartbeat-file", str(path)) as process:
        first = _wait_for_file(path)
        assert first["pid"] == process.pid and first["database_ok"] is True
        # The loop goes round (every 50 ms here): the file is rewritten, about once a second.
        deadline = time.monotonic() + 30
        while json.loads(path.read_text())["at"] == first["at"]:
            assert time.monotonic() < deadline, "the heartbeat was not renewed"
            time.sleep(0.1)
        result = cli.invoke(args=["nightpos", "worker-health", "--heartbeat-file", str(path)])
        assert result.exit_code == 0, result.output
        assert "alive" in result.output and first["worker"] in result.output
    # Killed: the file stays, and ages past the limit.
    healthy, message = check(path, max_age=30, now=time.time() + 31)
    assert not healthy and "last heartbeat" in message


def test_worker_health_fails_without_a_heartbeat(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(
        args=["nightpos", "worker-health", "--heartbeat-file", str(tmp_path / "none")]
    )
    assert result.exit_code == 1
    assert "no heartbeat" in result.output


@contextmanager
def json_lines(logger_name: str) -> Iterator[list[str]]:
    """What ``logger_name`` writes in the block, as the JSON log format writes it."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_one_json_event_per_webhook_call(
    anonymous: FlaskClient, make_rule: Callable[..., dict[str, Any]]
) -> None:
    rule = make_rule("sale.order")
    with json_lines("nightpos.webhooks.calls") as lines:
        assert anonymous.post(rule["path"], json=DEFAULT_PAYLOAD).status_code == 200
        assert anonymous.post(rule["path"] + "?token=abc", json={}).status_code == 500
    events = [json.loads(line) for line in lines]
    assert [e["status"] for e in events] == [200, 500]
    for event in events:
        assert event["event"] == "webhook_call" and event["rule_id"] == rule["id"]
        assert len(event["call_id"]) == 32 and event["duration_ms"] > 0
        assert event["level"] == "info" and event["ts"].endswith("+00:00")
    assert events[0]["call_id"] != events[1]["call_id"]
    assert rule["secret"] not in "".join(lines) and "abc" not in "".join(lines)


def test_json_logs_redact_secrets_and_cover_the_whole_process(tmp_path: Path) -> None:
    script = (
        "import logging\n"
        "from nightpos_app.jsonlog import install\n"
        "from nightpos_app.redaction import redact_in_logs\n"
        "redact_in_logs(r'/web/hook/[^/?#\\s]+', '/web/hook/[redacted]')\n"
        "assert install({'NIGHTPOS_LOG_FORMAT': 'json'})\n"
        "logging.getLogger('any.module').warning('called /web/hook/s3cr3t?api_token=t0k')\n"
        "logging.getLogger('any.module').debug('not written')\n"
        "try:\n"
        "    raise ValueError('/web/hook/s3cr3t')\n"
        "except ValueError:\n"
        "    logging.getLogger('x').exception('failed')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["level"] for line in lines] == ["warning", "error"]
    assert lines[0]["message"] == "called /web/hook/[redacted]?api_token=***"
    assert lines[0]["logger"] == "any.module"
    assert "s3cr3t" not in result.stderr and "t0k" not in result.stderr
    assert "ValueError" in lines[1]["exception"]


def test_a_worker_serves_its_metrics_on_a_port_when_asked(
    app: Flask, database_url: str, instance_dir: Path
) -> None:
    port = free_port()
    with worker_process(database_url, instance_dir, "--metrics-port", str(port)):
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "the worker's metrics port did not answer"
                time.sleep(0.1)
    assert "nightpos_webhook_delivery_attempts_total" in text
