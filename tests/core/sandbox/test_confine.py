"""The kernel's side of a runner's confinement: what a confined process can no longer do.

Each check runs in a fresh interpreter that confines itself exactly as a runner does
(:mod:`nightpos_app.sandbox.process.confine`), then tries what an escaped piece of admin
code would: every attempt must fail with an error, reading stays possible.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from nightpos_app.sandbox.process.confine import seccomp_available

ATTEMPTS = textwrap.dedent(
    """
    import json, os, resource, signal, socket, sys
    from nightpos_app.sandbox.process.confine import apply_limits, apply_seccomp, cpu_backstop
    apply_limits(128 * 2**20)
    confined = apply_seccomp()
    cpu_backstop(1.0)  # a run's own CPU limit may still be set

    def attempt(what, action):
        try:
            action()
        except (OSError, ValueError) as exc:  # setrlimit says EPERM as a ValueError
            return what, type(exc).__name__
        return what, "allowed"

    results = dict([
        attempt("fork", os.fork),
        attempt("exec", lambda: os.execv("/bin/true", ["true"])),
        attempt("socket", lambda: socket.socket()),
        attempt("socketpair", lambda: socket.socketpair()),
        attempt("write a file", lambda: open("/tmp/nightpos-confine-test", "w")),
        attempt("append to a file", lambda: open("/dev/null", "a")),
        attempt("delete a file", lambda: os.unlink("/tmp/nightpos-confine-missing")),
        attempt("make a folder", lambda: os.mkdir("/tmp/nightpos-confine-dir")),
        attempt("signal another process", lambda: os.kill(1, 0)),
        attempt("raise the memory limit", lambda: resource.setrlimit(
            resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))),
    ])
    with open("/etc/hostname" if os.path.exists("/etc/hostname") else sys.executable, "rb") as f:
        f.read(1)
    results["read a file"] = "allowed"
    limits = {"fsize": resource.getrlimit(resource.RLIMIT_FSIZE)}
    print(json.dumps({"confined": confined, "results": results, "limits": limits}))
    """
)


def _confined_run() -> dict:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", ATTEMPTS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_resource_limits_hold_without_seccomp_too() -> None:
    report = _confined_run()
    assert report["limits"]["fsize"] == [0, 0]
    assert report["results"]["write a file"] != "allowed"  # RLIMIT_FSIZE alone: EFBIG on write


@pytest.mark.skipif(not seccomp_available(), reason="libseccomp is not on this system")
def test_a_confined_process_can_only_read() -> None:
    report = _confined_run()
    assert report["confined"] is True
    results = report["results"]
    assert results.pop("read a file") == "allowed"
    # setrlimit turns EPERM into "ValueError: not allowed to raise maximum limit".
    assert results.pop("raise the memory limit") == "ValueError"
    refused = {what: how for what, how in results.items() if how != "PermissionError"}
    assert not refused, f"allowed or failed otherwise: {refused}"
