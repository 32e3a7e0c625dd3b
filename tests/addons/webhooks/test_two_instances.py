"""NightPOS to NightPOS, no coding: two real instances, each with its own database.

On instance A a rule ``On update`` of sale orders sends a webhook (Send Webhook Notification)
to the URL of a webhook rule on instance B whose Target Record is the default and whose action
sets the order's currency to USD. Everything is set up as an admin would, through each
instance's REST API; the instances are real servers (``run.py``, the dev server with its outbox
worker) on two ports. On PostgreSQL runs, each instance gets a database of its own on the
test server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.processes import free_port, wait_until_serving

PROJECT_DIR = Path(__file__).resolve().parents[3]
PASSWORD = "two-instances-" + uuid.uuid4().hex[:8]


class Instance:
    """A running NightPOS, reached over HTTP as an API client."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
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

    def find(self, resource: str, **filters: Any) -> list[dict[str, Any]]:
        query = {
            "filters": [{"col": col, "opr": "eq", "value": value} for col, value in filters.items()]
        }
        rison = urllib.parse.quote(_rison(query))
        status, body = self.call("GET", f"/api/v1/{resource}/?q={rison}")
        assert status == 200, body
        return body["result"]


def _rison(value: Any) -> str:
    """The little of Rison that FAB's list query needs (dicts, lists, strings, numbers)."""
    if isinstance(value, dict):
        return "(" + ",".join(f"{k}:{_rison(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return "!(" + ",".join(_rison(v) for v in value) + ")"
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("!", "!!").replace("'", "!'") + "'"


@contextmanager
def database_for(name: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one instance: an SQLite file, or a new PostgreSQL database
    on the test server (dropped afterwards)."""
    test_url = os.environ.get("NIGHTPOS_TEST_DATABASE_URL", "")
    if not test_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / name}.db"
        return
    database = f"nightpos_{name}_{uuid.uuid4().hex[:8]}"
    server = sa.create_engine(test_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    try:
        yield (
            sa.engine.make_url(test_url)
            .set(database=database)
            .render_as_string(hide_password=False)
        )
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        server.dispose()


@contextmanager
def running(name: str, tmp_path: Path, database_url: str, **env: str) -> Iterator[Instance]:
    """``run.py`` (migrations, demo data, admin, dev server and its outbox worker) on a port."""
    port = free_port()
    instance_dir = tmp_path / name
    instance_dir.mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTPOS_")}
    environment.update(
        NIGHTPOS_INSTANCE_DIR=str(instance_dir),
        NIGHTPOS_DATABASE_URL=database_url,
        NIGHTPOS_ADMIN_PASSWORD=PASSWORD,
        HOST="127.0.0.1",
        PORT=str(port),
        **env,
    )
    log = (tmp_path / f"{name}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "run.py"],
        cwd=PROJECT_DIR,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_serving(port)
        instance = Instance(port)
        instance.log_in()
        yield instance
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def eventually(check: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_a_change_on_instance_a_changes_the_same_order_on_instance_b(tmp_path: Path) -> None:
    with ExitStack() as stack:
        b = stack.enter_context(
            running("b", tmp_path, stack.enter_context(database_for("b", tmp_path)))
        )
        # A sends to B on this machine's loopback: the SSRF guard must be told it is allowed.
        a = stack.enter_context(
            running(
                "a",
                tmp_path,
                stack.enter_context(database_for("a", tmp_path)),
                WEBHOOK_OUTGOING_ALLOWED_CIDRS="127.0.0.0/8",
            )
        )

        # B: a webhook rule with the default Target Record, setting the order's currency to USD.
        usd = b.find("res_currency", name="USD")[0]["id"]
        status, rule_b = b.call(
            "POST",
            "/api/v1/base_automation/",
            {"name": "Orders from A to USD", "model": "sale.order", "log_calls": True},
        )
        assert status == 201, rule_b
        status, body = b.call(
            "POST",
            "/api/v1/ir_actions_server/",
            {
                "rule_id": rule_b["id"],
                "name": "Set USD",
                "action_type": "update_record",
                "settings": {"field": "currency_id", "value": usd},
            },
        )
        assert status == 201, body
        status, body = b.call("GET", f"/api/v1/base_automation/{rule_b['id']}")
        url_b = body["result"]["url"]
        assert url_b.startswith(b.base + "/web/hook/")

        # A: On update of sale orders, send the order to B's URL.
        status, rule_a = a.call(
            "POST",
            "/api/v1/base_automation/",
            {"name": "Orders to B", "model": "sale.order", "trigger": "on_write"},
        )
        assert status == 201, rule_a
        status, action_a = a.call(
            "POST",
            "/api/v1/ir_actions_server/",
            {
                "rule_id": rule_a["id"],
                "name": "Notify B",
                "action_type": "send_webhook",
                "settings": {"url": url_b, "fields": ["state", "currency_id"]},
            },
        )
        assert status == 201, action_a

        order_b_before = b.call("GET", "/api/v1/sale_order/3")[1]["result"]
        assert order_b_before["currency_id"] != usd

        # Change order S00003 on A.
        status, body = a.call("PUT", "/api/v1/sale_order/3", {"note": "Invoice in USD"})
        assert status == 200, body

        # B's order S00003 is now in USD...
        def order_b_in_usd() -> bool:
            return b.call("GET", "/api/v1/sale_order/3")[1]["result"]["currency_id"] == usd

        assert eventually(order_b_in_usd), (tmp_path / "a.log").read_text()
        # ...A's delivery shows as delivered...
        delivered = eventually(
            lambda: [d for d in a.find("webhook_delivery") if d["state"] == "delivered"]
        )
        assert len(delivered) == 1, a.find("webhook_delivery")
        assert delivered[0]["record_id"] == 3
        # ...and the call is in B's Logs, with the payload A sent.
        calls = b.find("base_automation_call", rule_id=rule_b["id"])
        assert [call["status"] for call in calls] == ["ok"]
        payload = json.loads(calls[0]["payload"])
        assert payload["_model"] == "sale.order" and payload["_id"] == 3
        assert payload["_action"] == f"Notify B(#{action_a['id']})"
        # Nothing else on B changed that order.
        order_b_after = b.call("GET", "/api/v1/sale_order/3")[1]["result"]
        currency = ("currency_id", "currency")
        assert {k: v for k, v in order_b_after.items() if k not in currency} == {
            k: v for k, v in order_b_before.items() if k not in currency
        }


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
