"""Serving and loading instances: gunicorn servers, their workers' memory, load runs
(bench.loadgen in a process of its own), and a logged-in browser session for the screens."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from bench.base import ADMIN_PASSWORD, BIN, CONNECTIONS, GUNICORN_WORKERS, ROOT
from bench.instances import Instance


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
