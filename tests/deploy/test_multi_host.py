"""Several hosts behind a load balancer lose nothing: docs/deploy.md's set-up, for real.

HAProxy (the configuration docs/deploy.md shows, addresses aside) in front of two gunicorn app
hosts and two outbox workers, on one throwaway PostgreSQL, with Redis for the rate limits, all
on loopback ports. Eight senders call a rule that adds 1 to an order's total and sends an
outgoing webhook, each call with its own ``Idempotency-Key``, retrying on a connection error,
a 5xx or a 409 as a real sender would. Midway one app host is killed with SIGKILL, and later
restarted; one worker is killed with SIGKILL while it sends a message.

Afterwards: the total went up by the number of distinct keys exactly, each key is in the call
log once, and the receiver saw every outgoing message at least once and, deduplicated by
``webhook-id``, exactly once.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from tests.addons.webhooks.receiver import Answer, Receiver, receiving
from tests.support.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::ResourceWarning")]

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEPLOY_DOC = PROJECT_DIR / "docs" / "deploy.md"
BIN = Path(sys.executable).parent
PASSWORD = "multi-host-admin-password"  # noqa: S105
METRICS_TOKEN = "multi-host-metrics-token"  # noqa: S105
SENDERS = 8
KEYS_PER_PHASE = 80
ORDER_ID = 1


# --- The HAProxy configuration: docs/deploy.md's -------------------------------------------


def haproxy_config(front_port: int, host_ports: list[int]) -> str:
    """docs/deploy.md's HAProxy configuration with loopback addresses: only the ``bind`` and
    ``server`` addresses change; every other line is the doc's."""
    blocks = re.findall(r"```haproxy\n(.*?)```", DEPLOY_DOC.read_text(), re.S)
    assert len(blocks) == 1, "docs/deploy.md shows one HAProxy configuration"
    doc = blocks[0]
    assert re.search(r"^\s*option httpchk GET /readyz$", doc, re.M), "health checks on /readyz"
    ports = iter(host_ports)
    lines = []
    for line in doc.splitlines():
        words = line.split()
        if words[:1] == ["bind"]:
            line = line.replace(words[1], f"127.0.0.1:{front_port}")
        elif words[:1] == ["server"]:
            assert "check" in words, line
            line = line.replace(words[2], f"127.0.0.1:{next(ports)}")
        lines.append(line)
    assert next(ports, None) is None, "the doc's backend has as many app hosts as the test"
    changed = [a for a, b in zip(doc.splitlines(), lines, strict=True) if a != b]
    assert len(changed) == 1 + len(host_ports), changed
    return "\n".join(lines) + "\n"


# --- Processes --------------------------------------------------------------------------


class Cluster:
    """The processes of the run, each in a session of its own (killed as a group)."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, command: list[str], **env: str) -> subprocess.Popen[bytes]:
        log = (self.directory / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                kill_group(process, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_group(process, signal.SIGKILL)
                process.wait(timeout=30)


def kill_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def eventually(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not after {seconds} s: {what}")
        time.sleep(0.1)


def http_status(url: str, headers: dict[str, str] | None = None) -> int | None:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=10
        ) as r:
            return r.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, http.client.HTTPException):
        return None


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    if not Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "initdb").exists():
        pytest.fail("this test needs PostgreSQL 15 (apt-get install postgresql-15)")
    # Under /tmp, not pytest's folder: the server runs as its own user, who must reach it.
    directory = tempfile.mkdtemp(prefix="nightpos-multi-host-pg.")
    script = str(PROJECT_DIR / "scripts" / "throwaway-postgres.sh")
    url = subprocess.run(
        [script, "start", directory, str(free_port())],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([script, "stop", directory], check=False, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("this test needs redis-server (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- The API, as an admin's client would use it --------------------------------------------


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def log_in(self) -> None:
        status, body = self.call(
            "POST",
            "/api/v1/security/login",
            {"username": "admin", "password": PASSWORD, "provider": "db"},
        )
        assert status == 200, body
        self.token = body["access_token"]


def send(base: str, path: str, key: str) -> tuple[int, int]:
    """One call, retried on a connection error, a 5xx or a 409 (the key still in progress),
    as a sender with an Idempotency-Key does; (final status, attempts)."""
    body = json.dumps({"_model": "sale.order", "_id": ORDER_ID, "key": key}).encode()
    deadline = time.monotonic() + 180
    attempts = 0
    while True:
        attempts += 1
        request = urllib.request.Request(
            base + path,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": key},
        )
        status: int | None
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            error.read()
            status = error.code
        except (OSError, http.client.HTTPException):
            status = None
        if status is not None and status < 500 and status != 409:
            return status, attempts
        assert time.monotonic() < deadline, f"{key}: no answer but {status} for 180 s"
        time.sleep(0.1)  # the sender's back-off


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# --- The run ----------------------------------------------------------------------------


def test_two_hosts_and_two_workers_behind_haproxy_lose_nothing(tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.fail("this test needs HAProxy (apt-get install haproxy)")
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_postgres())
        redis_url = stack.enter_context(redis_server(tmp_path))
        receiver: Receiver = stack.enter_context(receiving())
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("NIGHTPOS_", "WEBHOOK_", "PROMETHEUS_"))
        }
        env.update(
            NIGHTPOS_DATABASE_URL=database_url,
            NIGHTPOS_SECRET_KEY="multi-host-secret-key-not-for-production",
            NIGHTPOS_ADMIN_PASSWORD=PASSWORD,
            NIGHTPOS_METRICS_TOKEN=METRICS_TOKEN,
            NIGHTPOS_LOG_FORMAT="json",
            WEBHOOK_TRUSTED_PROXIES="1",
            WEBHOOK_RATELIMIT_STORAGE_URI=redis_url,
            WEBHOOK_RUNNERS="1",
            WEBHOOK_OUTGOING_ALLOWED_CIDRS="127.0.0.0/8",
            WEBHOOK_RETRY_SCHEDULE="0.5,1,2,4",
            # A call killed with its host leaves its key claimed: taken over after this.
            WEBHOOK_IDEMPOTENCY_TAKEOVER_SECONDS="5",
        )
        cluster = Cluster(tmp_path, env)
        stack.callback(cluster.stop_all)

        init = subprocess.run(
            [str(BIN / "flask"), "--app", "nightpos_app", "nightpos", "init", "--demo"],
            cwd=PROJECT_DIR,
            env={**env, "NIGHTPOS_INSTANCE_DIR": str(tmp_path / "init")},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert init.returncode == 0, init.stdout + init.stderr

        ports = {"a": free_port(), "b": free_port()}
        metrics_dirs = {name: tmp_path / f"metrics-{name}" for name in ports}

        def start_host(name: str, log: str) -> subprocess.Popen[bytes]:
            metrics_dirs[name].mkdir(exist_ok=True)
            return cluster.start(
                log,
                [
                    str(BIN / "gunicorn"),
                    "--workers",
                    "2",
                    "--bind",
                    f"127.0.0.1:{ports[name]}",
                    "--config",
                    "python:nightpos_app.gunicorn_conf",
                    "--access-logfile",
                    "-",
                    "nightpos_app:create_app()",
                ],
                NIGHTPOS_INSTANCE_DIR=str(tmp_path / f"instance-{name}"),
                PROMETHEUS_MULTIPROC_DIR=str(metrics_dirs[name]),
            )

        hosts = {name: start_host(name, f"host-{name}") for name in ports}
        # The workers run on host b: their counts are in b's /metrics.
        workers = [
            cluster.start(
                f"worker-{n}",
                [
                    str(BIN / "flask"),
                    "--app",
                    "nightpos_app",
                    "nightpos",
                    "worker",
                    "--batch",
                    "1",
                    "--poll",
                    "0.2",
                    "--heartbeat-file",
                    str(tmp_path / f"worker-{n}.heartbeat"),
                ],
                NIGHTPOS_INSTANCE_DIR=str(tmp_path / f"instance-worker-{n}"),
                PROMETHEUS_MULTIPROC_DIR=str(metrics_dirs["b"]),
            )
            for n in (1, 2)
        ]
        front = free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(haproxy_config(front, [ports["a"], ports["b"]]))
        check = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        cluster.start("haproxy", [haproxy, "-db", "-f", str(config)])
        base = f"http://127.0.0.1:{front}"

        for name, port in ports.items():
            eventually(
                lambda port=port: http_status(f"http://127.0.0.1:{port}/readyz") == 200,
                180,
                f"host {name} ready\n{cluster.log('host-' + name)[-3000:]}",
            )
        eventually(lambda: http_status(base + "/readyz") == 200, 60, "HAProxy serves")

        # The rule, made by an admin through the REST API (through the balancer).
        api = Api(base)
        api.log_in()
        status, rule = api.call(
            "POST",
            "/api/v1/base_automation/",
            {
                "name": "Count calls",
                "model": "sale.order",
                "log_calls": True,
                "idempotency": True,
                "rate_limit": "100000/minute",  # counted in Redis, shared by the hosts
            },
        )
        assert status == 201, rule
        for action in (
            {
                "name": "Add one",
                "action_type": "execute_code",
                "settings": {"code": "record.write({'amount_total': record.amount_total + 1})"},
            },
            {
                "name": "Tell the receiver",
                "action_type": "send_webhook",
                "settings": {"url": receiver.url, "fields": ["amount_total"], "timeout": 10},
            },
        ):
            status, body = api.call(
                "POST", "/api/v1/ir_actions_server/", {"rule_id": rule["id"], **action}
            )
            assert status == 201, body
        status, body = api.call("GET", f"/api/v1/base_automation/{rule['id']}")
        path = "/web/hook/" + body["result"]["url"].split("/web/hook/", 1)[1]

        engine = sa.create_engine(database_url)
        stack.callback(engine.dispose)

        def total() -> float:
            with engine.connect() as connection:
                return float(
                    connection.execute(
                        sa.text("SELECT amount_total FROM sale_order WHERE id = :id"),
                        {"id": ORDER_ID},
                    ).scalar_one()
                )

        total_before = total()

        # The first outgoing message is held by the receiver: its worker is killed mid-send.
        hold = threading.Event()
        stack.callback(hold.set)
        receiver.answer(Answer(200, hold=hold))

        keys: queue.Queue[str | None] = queue.Queue()
        results: dict[str, tuple[int, int]] = {}
        errors: list[BaseException] = []

        def sender() -> None:
            while (key := keys.get()) is not None:
                try:
                    results[key] = send(base, path, key)
                except BaseException as error:  # reported by the test thread
                    errors.append(error)
                finally:
                    keys.task_done()
            keys.task_done()

        threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
        for thread in threads:
            thread.start()

        # Phase 1: calls; host a is killed with SIGKILL (master, workers, runners) midway,
        # and one worker while the receiver holds the message it sends.
        for n in range(KEYS_PER_PHASE):
            keys.put(f"phase1-{n}")
        [held] = receiver.wait_for(1, timeout=120)[:1]
        with engine.connect() as connection:
            claimed_by = connection.execute(
                sa.text("SELECT claimed_by FROM webhook_delivery WHERE message_id = :m"),
                {"m": held.webhook_id},
            ).scalar_one()
        pid = int(claimed_by.split(":")[1])
        [victim] = [w for w in workers if w.pid == pid]
        kill_group(victim, signal.SIGKILL)
        victim.wait(timeout=30)
        hold.set()
        eventually(lambda: len(results) >= KEYS_PER_PHASE // 3, 120, "a third of phase 1")
        answered_before_the_kill = len(results)
        kill_group(hosts["a"], signal.SIGKILL)
        hosts["a"].wait(timeout=30)
        keys.join()
        assert not errors, errors

        # Host a comes back; HAProxy sends it traffic again once two checks pass.
        start_host("a", "host-a-restarted")
        eventually(
            lambda: (
                cluster.log("host-a-restarted").count("GET /readyz HTTP/1.0") >= 2
                and http_status(f"http://127.0.0.1:{ports['a']}/readyz") == 200
            ),
            180,
            "host a back and checked by HAProxy\n" + cluster.log("host-a-restarted")[-3000:],
        )

        # Phase 2: more calls, over both hosts again.
        for n in range(KEYS_PER_PHASE):
            keys.put(f"phase2-{n}")
        keys.join()
        for _ in threads:
            keys.put(None)
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors

        all_keys = {f"phase{p}-{n}" for p in (1, 2) for n in range(KEYS_PER_PHASE)}
        assert set(results) == all_keys
        assert {status for status, _attempts in results.values()} == {200}, Counter(
            status for status, _ in results.values()
        )
        # The host died midway: calls were still to come (some may have been retried by their
        # sender, or re-sent by HAProxy itself — `option redispatch` — so a sender may see no
        # error at all: the count below is what must hold either way).
        assert answered_before_the_kill < KEYS_PER_PHASE, "host a was killed mid-traffic"
        restarted_calls = [
            line
            for line in cluster.log("host-a-restarted").splitlines()
            if '"event": "webhook_call"' in line
        ]
        assert restarted_calls, "the restarted host served calls"

        # Exactly once: the total went up by the number of distinct keys...
        assert total() - total_before == len(all_keys)
        # ...and each key's call is in the rule's call log once (a retry answered from the
        # idempotency store is logged too, marked as replayed: the rule did not run).
        with engine.connect() as connection:
            logged = [
                json.loads(payload)["key"]
                for payload in connection.execute(
                    sa.text(
                        "SELECT payload FROM base_automation_call "
                        "WHERE rule_id = :r AND status = 'ok' AND NOT replayed"
                    ),
                    {"r": rule["id"]},
                ).scalars()
            ]
        assert Counter(logged) == Counter(all_keys)

        # Every outgoing message delivered (the killed worker's one by the other worker once
        # its claim ran out), and seen by the receiver at least once, exactly once by id.
        def undelivered() -> int:
            with engine.connect() as connection:
                return connection.execute(
                    sa.text(
                        "SELECT count(*) FROM webhook_delivery "
                        "WHERE rule_id = :r AND state <> 'delivered'"
                    ),
                    {"r": rule["id"]},
                ).scalar_one()

        eventually(lambda: undelivered() == 0, 120, "every message delivered")
        with engine.connect() as connection:
            message_ids = set(
                connection.execute(
                    sa.text("SELECT message_id FROM webhook_delivery WHERE rule_id = :r"),
                    {"r": rule["id"]},
                ).scalars()
            )
        assert len(message_ids) == len(all_keys)
        seen = Counter(request.webhook_id for request in receiver.requests)
        assert set(seen) == message_ids
        assert seen[held.webhook_id] >= 2, "the killed worker's message was sent again"

        # Host b's /metrics adds up its gunicorn workers and the outbox workers' processes.
        metrics = scrape(f"http://127.0.0.1:{ports['b']}/metrics")
        calls_b = sum(
            v
            for (name, labels), v in metrics.items()
            if name == "nightpos_webhook_calls_total" and ("rule_id", str(rule["id"])) in labels
        )
        assert calls_b > 0
        delivered = metrics[
            ("nightpos_webhook_delivery_attempts_total", frozenset({("outcome", "delivered")}))
        ]
        assert delivered == len(all_keys)
        pending = metrics[("nightpos_webhook_outbox_messages", frozenset({("state", "pending")}))]
        assert pending == 0
