"""Helpers for tests that start real servers as processes."""

from __future__ import annotations

import socket
import time
import urllib.request


def free_port() -> int:
    """A TCP port free on the loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(port: int, seconds: float = 120) -> None:
    """Wait until the server on ``port`` answers its login page."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer")
