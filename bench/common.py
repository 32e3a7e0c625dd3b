"""What the benchmarks share: databases, instances, gunicorn servers, rules, load runs, tables.

A benchmark gets a :class:`Context` (quick or full, rounds, a temporary folder) and returns a
:class:`Report`: its tables, its targets and its raw numbers (for bench/results/latest.json).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105  (a throwaway instance's)
#: Gunicorn settings shared by NightPOS and the baseline: 2 sync workers, as the README's.
GUNICORN_WORKERS = 2
CONNECTIONS = 8

#: The specification's use cases (tests/support/spec.py is the verbatim copy).
sys.path.insert(0, str(ROOT))
from tests.support.spec import (  # noqa: E402
    TARGET_RECORD,
    USE_CASE_1_PAYLOAD,
    USE_CASE_2_CODE,
    USE_CASE_2_PAYLOAD,
    USE_CASE_2_TARGET,
)

__all__ = [
    "TARGET_RECORD",
    "USE_CASE_1_PAYLOAD",
    "USE_CASE_2_CODE",
    "USE_CASE_2_PAYLOAD",
    "USE_CASE_2_TARGET",
]


# --- Results --------------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool


@dataclass
class Report:
    name: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    quick: bool
    rounds: int
    duration: float
    tmp: Path
    database_url: str | None  # BENCH_DATABASE_URL (PostgreSQL), or None for SQLite files
    log: Callable[[str], None] = print


_NUMBER = re.compile(r"^[-+]?[\d,.]*( ?%)?$")


def fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(table: Table) -> str:
    cells = [[fmt(c) for c in row] for row in table.rows]
    numeric = [
        all(isinstance(row[i], (int, float)) or _NUMBER.match(str(row[i])) for row in table.rows)
        for i in range(len(table.headers))
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
        for i, h in enumerate(table.headers)
    ]
    line = "  ".join("-" * w for w in widths)
    out = [table.title, line]
    out.append("  ".join(h.ljust(w) for h, w in zip(table.headers, widths, strict=True)))
    out.append(line)
    for row in cells:
        out.append(
            "  ".join(
                c.rjust(w) if numeric[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    out.append(line)
    if table.note:
        out.append(table.note)
    return "\n".join(out)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


# --- Databases and instances ----------------------------------------------------------------


def database_label(ctx: Context) -> str:
    """Which database the run measures, and on PostgreSQL whether the server is durable: a
    throwaway one skips fsync and synchronous commit, a production one does not, and that
    moves every writing case (``make bench-pg`` and ``make bench-pg PG_DURABLE=1``)."""
    if ctx.database_url is None:
        return "sqlite"
    engine = sa.create_engine(ctx.database_url)
    try:
        with engine.connect() as connection:
            fsync = connection.exec_driver_sql("SHOW fsync").scalar()
            commit = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
    finally:
        engine.dispose()
    return f"postgresql (fsync {fsync}, synchronous_commit {commit})"


def database_url(ctx: Context, name: str) -> str:
    """A fresh, empty database for one benchmark: a SQLite file, or a PostgreSQL database
    named after BENCH_DATABASE_URL's with ``_<name>`` appended (dropped and created)."""
    if ctx.database_url is None:
        return f"sqlite:///{ctx.tmp / name / 'nightpos.db'}"
    url = sa.engine.make_url(ctx.database_url)
    dbname = f"{url.database}_{name}"
    if not re.fullmatch(r"[A-Za-z0-9_]+", dbname):
        raise ValueError(f"unusable database name {dbname!r}")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{dbname}"')
    admin.dispose()
    return url.set(database=dbname).render_as_string(hide_password=False)


def drop_database(ctx: Context, url: str) -> None:
    if ctx.database_url is None:
        return
    dbname = sa.engine.make_url(url).database
    admin = sa.create_engine(ctx.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    admin.dispose()


@dataclass
class Instance:
    """A prepared NightPOS instance: its folder, database and the environment to run it."""

    directory: Path
    url: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("NIGHTPOS_", "WEBHOOK_", "FLASK_"))
        }
        env.update(
            NIGHTPOS_INSTANCE_DIR=str(self.directory),
            NIGHTPOS_DATABASE_URL=self.url,
            NIGHTPOS_ADMIN_PASSWORD=ADMIN_PASSWORD,
            NIGHTPOS_OUTBOX_WORKER="off",
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.update(extra)
        return env

    def config(self) -> dict[str, Any]:
        return {"SQLALCHEMY_DATABASE_URI": self.url, "INSTANCE_DIR": str(self.directory)}


def prepare_instance(ctx: Context, name: str) -> Instance:
    """A new instance with the demo data and the admin (``flask nightpos init --demo``)."""
    directory = ctx.tmp / name
    directory.mkdir(parents=True, exist_ok=True)
    instance = Instance(directory, database_url(ctx, name))
    subprocess.run(
        [str(BIN / "flask"), "--app", "nightpos_app:create_app()", "nightpos", "init", "--demo"],
        cwd=ROOT,
        env=instance.env(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return instance


@contextmanager
def app_context(instance: Instance) -> Iterator[Any]:
    """An in-process NightPOS app on the instance's database (set-up and in-process timings);
    its connections are closed on exit, so the servers have the database to themselves."""
    from nightpos_app import create_app
    from nightpos_app.extensions import db

    app = create_app(instance.config())
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def make_rule(model: str, actions: Sequence[dict[str, Any]] = (), **values: Any) -> dict[str, Any]:
    """Create a rule and its actions with the record API and commit (in an app context)."""
    from nightpos_app.extensions import db
    from nightpos_app.state import get_env

    env = get_env(trusted=True)  # the bench's own set-up, as the screens would
    rule = env["base.automation"].create({"name": "Bench rule", "model": model, **values})
    action_ids = []
    for sequence, action in enumerate(actions, start=1):
        made = env["ir.actions.server"].create({"rule_id": rule.id, "sequence": sequence, **action})
        action_ids.append(made.id)
    secret = rule.webhook_secret
    db.session.commit()
    return {"id": rule.id, "secret": secret, "path": f"/web/hook/{secret}", "actions": action_ids}


def usd_id() -> int:
    from nightpos_app.state import get_env

    return get_env()["res.currency"].search([("name", "=", "USD")]).id


def other_currency_id() -> int:
    """A currency other than USD (the one the "toggle" case switches orders to and from)."""
    from nightpos_app.state import get_env

    return get_env()["res.currency"].search([("name", "!=", "USD")], limit=1, order="id").id


def toggle_code(usd: int, other: int) -> str:
    """Execute Code that reads the order's currency and writes the other one: every call
    reads and writes, whatever came before."""
    return f"record.write({{'currency_id': {other} if record.currency_id.id == {usd} else {usd}}})"


def use_case_rules() -> dict[str, dict[str, Any]]:
    """The specification's rules (use case 1 with Log Calls off and on, and responding at once;
    use case 2), and an Execute Code rule that reads a field and writes the other value
    ("toggle")."""
    update = {
        "name": "Set USD",
        "action_type": "update_record",
        "settings": {"field": "currency_id", "value": usd_id()},
    }
    code = {"name": "Create contact", "action_type": "execute_code"}
    code["settings"] = {"code": USE_CASE_2_CODE}
    return {
        "uc1": make_rule("sale.order", [update], name="Orders to USD", log_calls=False),
        "uc1_log": make_rule("sale.order", [update], name="Orders to USD (logged)", log_calls=True),
        "uc2": make_rule(
            "res.partner", [code], name="New contact", target_record=USE_CASE_2_TARGET
        ),
        # Respond at once: the call is only accepted (checked, stored, 202); nothing drains the
        # inbox during the bench, so the accept path is what is measured.
        "accept": make_rule(
            "sale.order", [update], name="Orders to USD (at once)", respond="at_once"
        ),
        "toggle": make_rule(
            "sale.order",
            [
                {
                    "name": "Switch currency",
                    "action_type": "execute_code",
                    "settings": {"code": toggle_code(usd_id(), other_currency_id())},
                }
            ],
            name="Switch the order's currency",
        ),
    }


# --- Servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    ready_dir: Path
    log_path: Path

    def worker_pids(self) -> list[int]:
        pids = []
        for path in self.ready_dir.glob("ready-*"):
            pid = int(path.name.split("-", 1)[1])
            if Path(f"/proc/{pid}").exists():
                pids.append(pid)
        return sorted(pids)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gunicorn(
    name: str,
    app_spec: str,
    instance: Instance,
    *,
    extra_env: dict[str, str] | None = None,
    root: Path = ROOT,
    bin_dir: Path = BIN,
) -> Server:
    """Serve ``app_spec`` with gunicorn (2 sync workers) on a free port; wait for both workers.

    ``root`` and ``bin_dir``: the checkout and the venv to serve from (this one by default)."""
    port = free_port()
    ready_dir = instance.directory / f"ready-{name}-{port}"
    ready_dir.mkdir(parents=True)
    log_path = instance.directory / f"gunicorn-{name}-{port}.log"
    env = instance.env(BENCH_READY_DIR=str(ready_dir), **(extra_env or {}))
    command = [
        str(bin_dir / "gunicorn"),
        "--workers",
        str(GUNICORN_WORKERS),
        "--bind",
        f"127.0.0.1:{port}",
        "--config",
        str(ROOT / "bench" / "gunicorn_conf.py"),
        app_spec,
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log_file, stderr=log_file)
    server = Server(name, port, process, ready_dir, log_path)
    deadline = time.monotonic() + 120
    while len(server.worker_pids()) < GUNICORN_WORKERS:
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{name} did not start; see {log_path}:\n{log_path.read_text()}")
        time.sleep(0.1)
    return server


@contextmanager
def servers(*specs: tuple[str, str, Instance, dict[str, str] | None]) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        for name, app_spec, instance, extra in specs:
            started.append(start_gunicorn(name, app_spec, instance, extra_env=extra))
        yield started
    finally:
        for server in started:
            server.stop()


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# --- Load -----------------------------------------------------------------------------------


def load(
    server: Server,
    path: str,
    payload: Any,
    *,
    duration: float | None = None,
    count: int | None = None,
    expect: int = 200,
    connections: int = CONNECTIONS,
) -> dict[str, Any]:
    """Run bench.loadgen in a process of its own against ``server``; its JSON result."""
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--port",
        str(server.port),
        "--path",
        path,
        "--body",
        json.dumps(payload),
        "--connections",
        str(connections),
        "--expect",
        str(expect),
    ]
    command += ["--count", str(count)] if count is not None else ["--duration", str(duration)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


# --- A logged-in browser session ------------------------------------------------------------


class Browser:
    """A minimal cookie-keeping HTTP client for the screens (one keep-alive connection)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection: HTTPConnection | None = None

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        headers = {"User-Agent": "nightpos-bench"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode("utf-8", errors="replace")
                break
            except (OSError, ConnectionError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                cookie = value.split(";", 1)[0]
                key, _, val = cookie.partition("=")
                self.cookies[key.strip()] = val.strip()
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        return response.status, dict(response.getheaders()), text

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        _status, _headers, page = self.request("GET", "/login/")
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page
        )
        if match is None:
            raise RuntimeError("no CSRF token on the login form")
        status, headers, _ = self.request(
            "POST",
            "/login/",
            {"csrf_token": match.group(1), "username": username, "password": password},
        )
        location = headers.get("Location", "")
        if status != 302 or "login" in location:
            raise RuntimeError(f"login failed: {status} {location}")

    def timed_get(self, path: str) -> float:
        started = time.perf_counter()
        status, _headers, _text = self.request("GET", path)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return elapsed
