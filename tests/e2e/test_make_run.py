"""The README's first command, for real: `make run` on a fresh instance folder."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import free_port, wait_until_serving
from tests.support.web import csrf_token_from

PROJECT_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@contextmanager
def make_run(instance: Path, **extra_env: str) -> Iterator[tuple[int, list[str]]]:
    """Start `make run`, wait until it serves, yield (port, output lines), then stop it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTPOS_")}
    env.update(NIGHTPOS_INSTANCE_DIR=str(instance), PORT=str(port), HOST="127.0.0.1", **extra_env)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 180
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "Running on" in line or time.monotonic() > deadline:
                break
        assert any("Admin login:" in line for line in lines), "\n".join(lines)
        wait_until_serving(port)
        yield port, lines
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def log_in(port: int, username: str, password: str) -> str:
    """Log in through the real login form; return the home page HTML."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    login_page = opener.open(f"{base}/login/").read().decode()
    form = {"username": username, "password": password, "csrf_token": csrf_token_from(login_page)}
    opener.open(f"{base}/login/", urllib.parse.urlencode(form).encode())
    return opener.open(f"{base}/saleorderview/list/").read().decode()


def count_rows(instance: Path, table: str) -> int:
    with sqlite3.connect(instance / "nightpos.db") as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def test_make_run_serves_demo_data_with_a_generated_admin_password(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    with make_run(instance) as (port, lines):
        login_line = next(line for line in lines if "Admin login:" in line)
        password = re.search(r"admin / (\S+)", login_line).group(1)
        assert len(password) >= 20
        assert (instance / "admin_password").read_text().strip() == password
        assert oct((instance / "admin_password").stat().st_mode & 0o777) == "0o600"
        orders_page = log_in(port, "admin", password)
        assert "S00001" in orders_page and "Sales Order" in orders_page
    orders = count_rows(instance, "sale_order")
    assert orders >= 10

    # A second run keeps the data, loads no demo twice, and says where the password is.
    with make_run(instance) as (port, lines):
        login_line = next(line for line in lines if "Admin login:" in line)
        assert password not in login_line
        assert str(instance / "admin_password") in login_line
        assert "S00001" in log_in(port, "admin", password)
    assert count_rows(instance, "sale_order") == orders


def test_make_run_uses_the_password_from_the_environment(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    chosen = "Chosen-by-the-operator-42"
    with make_run(instance, NIGHTPOS_ADMIN_PASSWORD=chosen) as (port, lines):
        assert not (instance / "admin_password").exists()
        assert all(chosen not in line for line in lines), "the password must not be printed"
        assert "S00001" in log_in(port, "admin", chosen)
