"""Rate limits shared across server processes through Redis (WEBHOOK_RATELIMIT_STORAGE_URI).

Two app instances stand for two gunicorn workers: each has its own limiter and storage
connection. With the default in-memory storage each counts alone; with Redis they share one
count, so a rule's limit holds for the whole deployment.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from nightpos_app import create_app
from tests.addons.webhooks.guard_support import counting_rule, runs

REDIS_SERVER = shutil.which("redis-server")
LIMITER_KEY = "nightpos_webhook_limiter"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    if REDIS_SERVER is None:
        pytest.fail("these tests need redis-server (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def second_app(app, storage_uri: str):
    """Another app on the same database: a second server process's view of the world."""
    other = create_app(
        {
            **{
                k: app.config[k]
                for k in ("TESTING", "SECRET_KEY", "INSTANCE_DIR", "SQLALCHEMY_DATABASE_URI")
            },
            "WEBHOOK_RATELIMIT_STORAGE_URI": storage_uri,
        }
    )
    return other


def test_redis_storage_shares_one_count_between_processes(app, make_rule, redis_url):
    rule = counting_rule(make_rule, rate_limit="3/minute")
    app.config["WEBHOOK_RATELIMIT_STORAGE_URI"] = redis_url
    app.extensions.pop(LIMITER_KEY, None)
    other = second_app(app, redis_url)
    try:
        first, second = app.test_client(), other.test_client()
        statuses = [
            first.post(rule["path"], json={"name": "shared"}).status_code,
            second.post(rule["path"], json={"name": "shared"}).status_code,
            first.post(rule["path"], json={"name": "shared"}).status_code,
            second.post(rule["path"], json={"name": "shared"}).status_code,
            first.post(rule["path"], json={"name": "shared"}).status_code,
        ]
    finally:
        del app.config["WEBHOOK_RATELIMIT_STORAGE_URI"]
        app.extensions.pop(LIMITER_KEY, None)
    assert statuses == [200, 200, 200, 429, 429]
    assert runs(app, "shared") == 3


def test_memory_storage_counts_per_process(app, make_rule):
    rule = counting_rule(make_rule, rate_limit="2/minute")
    app.extensions.pop(LIMITER_KEY, None)
    other = second_app(app, "memory://")
    first, second = app.test_client(), other.test_client()
    statuses = [first.post(rule["path"], json={"name": "alone"}).status_code for _ in range(3)]
    statuses += [second.post(rule["path"], json={"name": "alone"}).status_code for _ in range(3)]
    app.extensions.pop(LIMITER_KEY, None)
    assert statuses == [200, 200, 429, 200, 200, 429]
    assert runs(app, "alone") == 4
