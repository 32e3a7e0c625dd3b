"""The REST API checked from outside, against a throwaway NightPOS: Schemathesis and newman.

    python scripts/api_checks.py fuzz [--ci] [-- schemathesis options]
    python scripts/api_checks.py newman [--newman PATH]

Each starts a fresh instance of its own (``run.py`` on SQLite in a temporary folder, a free
loopback port, demo data, a generated admin password) with the outbox worker off, so that a
Send Webhook Notification action the fuzzer creates sends nothing; logs in at the JWT endpoint;
runs the tool; stops the server and removes the folder. The exit code is the tool's.

``fuzz`` runs Schemathesis on every operation of ``/api/v1/_openapi`` with every check and a
fixed seed; ``--ci`` is CI's short run (a few examples per operation, a time cap), the default
the longer local one (``make fuzz``). ``newman`` runs docs/postman/nightpos-use-cases.json (the
specification's two use cases) after creating the two rules through the REST API and giving
their secret URLs to the collection as environment variables.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
COLLECTION = PROJECT_DIR / "docs" / "postman" / "nightpos-use-cases.postman_collection.json"
BIN = Path(sys.executable).parent

#: CI's run: every operation, every check, this seed; at most this many examples per operation
#: and this many seconds in all (a few minutes on 2 cores).
CI_SEED = 20240612
CI_MAX_EXAMPLES = 12
CI_MAX_SECONDS = 200
#: ``make fuzz``: the longer local run (FUZZ_ARGS overrides; the admin's JWT lasts 15 minutes).
LOCAL_MAX_EXAMPLES = 100
LOCAL_MAX_SECONDS = 600


@dataclass(frozen=True)
class Instance:
    base_url: str
    username: str
    password: str
    log: Path

    def token(self) -> str:
        """A fresh JWT for the admin."""
        body = {"username": self.username, "password": self.password, "provider": "db"}
        return call(self.base_url + "/api/v1/security/login", body)["access_token"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, body: Any = None, token: str | None = None, method: str | None = None) -> Any:
    """One JSON request; the decoded answer (an HTTP error raises)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (our loopback)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read())


@contextmanager
def throwaway_instance(seconds: float = 180) -> Iterator[Instance]:
    """A NightPOS server process on a fresh SQLite instance, stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="nightpos-api-checks-"))
    port = free_port()
    password = secrets.token_urlsafe(18)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTPOS_")}
    env.update(
        NIGHTPOS_INSTANCE_DIR=str(folder / "instance"),
        NIGHTPOS_ADMIN_PASSWORD=password,
        # Generated Send Webhook Notification actions write to the outbox; nothing sends it.
        NIGHTPOS_OUTBOX_WORKER="off",
        HOST="127.0.0.1",
        PORT=str(port),
    )
    log = folder / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 (our own server)
            [sys.executable, str(PROJECT_DIR / "run.py")],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped:\n{log.read_text()[-4000:]}")
            try:
                urllib.request.urlopen(base_url + "/login/", timeout=2)  # noqa: S310
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    tail = log.read_text()[-4000:]
                    raise RuntimeError(f"the server did not answer:\n{tail}") from None
                time.sleep(0.2)
        yield Instance(base_url, "admin", password, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


#: The logger FAB reports a database refusal with before NightPOS answers it (a 422 naming
#: the problem): a refused foreign key or unique value is no server error.
REFUSAL_LOGGER = "[flask_appbuilder.models.sqla.interface]"


#: A log entry's first line: its level and logger.
ENTRY = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) +\[")


def server_errors(log: Path) -> list[str]:
    """Each log entry with a traceback (a 500 answered, or an error no answer showed); a
    database refusal only when the database did not answer (a locked database, an outage)."""
    entries: list[list[str]] = [[]]
    for line in log.read_text(errors="replace").splitlines():
        if ENTRY.match(line):
            entries.append([])
        entries[-1].append(line)
    errors = []
    for entry in entries:
        text = "\n".join(entry)
        if "Traceback" not in text:
            continue
        if REFUSAL_LOGGER in entry[0] and "OperationalError" not in text:
            continue
        errors.append(text)
    return errors


def fuzz(ci: bool, extra: list[str]) -> int:
    max_examples = CI_MAX_EXAMPLES if ci else LOCAL_MAX_EXAMPLES
    max_seconds = CI_MAX_SECONDS if ci else LOCAL_MAX_SECONDS
    with throwaway_instance() as instance:
        command = [
            str(BIN / "schemathesis"),
            "run",
            f"{instance.base_url}/api/v1/_openapi",
            "--checks",
            "all",
            "--seed",
            str(CI_SEED),
            "--max-examples",
            str(max_examples),
            "--max-time",
            str(max_seconds),
            # One worker: on CPython before 3.11.9, ast.parse in two threads at once (Hypothesis
            # describing its strategies) can fail with "AST constructor recursion depth
            # mismatch"; and the server has the other core.
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {instance.token()}",
            "--no-color",
            *extra,
        ]
        shown = ["Authorization: …" if p.startswith("Authorization") else p for p in command]
        print("$", " ".join(shown), flush=True)
        code = subprocess.call(command, cwd=PROJECT_DIR)  # noqa: S603
        errors = server_errors(instance.log)
        if errors:
            print(f"The server logged {len(errors)} traceback(s); the first ones:", flush=True)
            print("\n\n".join(errors[:5]), flush=True)
            return code or 1
        return code


def find_newman(given: str | None) -> str:
    local = PROJECT_DIR / "node_modules" / ".bin" / "newman"
    for candidate in (given, local, shutil.which("newman")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise SystemExit("newman not found: `make newman` installs it into node_modules/")


def create_use_case_rules(instance: Instance) -> dict[str, str]:
    """The specification's two rules, made through the REST API as docs/api.md does; their
    secret URLs (and an API token, for the collection's checks) as newman variables."""
    from tests.support.spec import TARGET_RECORD, USE_CASE_2_CODE, USE_CASE_2_TARGET

    api = instance.base_url + "/api/v1"
    token = instance.token()
    rule_1 = call(
        f"{api}/base_automation/",
        {
            "name": "Orders to USD",
            "model": "sale.order",
            "target_record": TARGET_RECORD,
            "log_calls": True,
        },
        token,
    )["id"]
    usd = call(
        f"{api}/res_currency/?q=(filters:!((col:name,opr:eq,value:USD)),columns:!(id))",
        token=token,
    )["result"][0]["id"]
    call(
        f"{api}/ir_actions_server/",
        {
            "rule_id": rule_1,
            "name": "Set USD",
            "action_type": "update_record",
            "settings": {"field": "currency_id", "value": usd},
        },
        token,
    )
    rule_2 = call(
        f"{api}/base_automation/",
        {
            "name": "New contact",
            "model": "res.partner",
            "target_record": USE_CASE_2_TARGET,
            "log_calls": True,
        },
        token,
    )["id"]
    call(
        f"{api}/ir_actions_server/",
        {
            "rule_id": rule_2,
            "name": "Create contact",
            "action_type": "execute_code",
            "settings": {"code": USE_CASE_2_CODE},
        },
        token,
    )
    return {
        "base_url": instance.base_url,
        "token": token,
        "use_case_1_url": call(f"{api}/base_automation/{rule_1}", token=token)["result"]["url"],
        "use_case_2_url": call(f"{api}/base_automation/{rule_2}", token=token)["result"]["url"],
    }


def newman(given: str | None, extra: list[str]) -> int:
    executable = find_newman(given)
    with throwaway_instance() as instance:
        variables = create_use_case_rules(instance)
        command = [executable, "run", str(COLLECTION), "--bail", "--color", "off"]
        for key, value in variables.items():
            command += ["--env-var", f"{key}={value}"]
        command += extra
        shown = COLLECTION.relative_to(PROJECT_DIR)
        print(f"$ newman run {shown} (and the rules' URLs as variables)", flush=True)
        return subprocess.call(command, cwd=PROJECT_DIR)  # noqa: S603


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fuzz_parser = sub.add_parser("fuzz", help="Schemathesis on every operation")
    fuzz_parser.add_argument("--ci", action="store_true", help="CI's short run")
    newman_parser = sub.add_parser("newman", help="the Postman collection of the use cases")
    newman_parser.add_argument("--newman", help="the newman executable")
    args, extra = parser.parse_known_args(argv)
    extra = [part for part in extra if part != "--"]
    sys.path.insert(0, str(PROJECT_DIR))
    if args.command == "fuzz":
        return fuzz(args.ci, extra)
    return newman(args.newman, extra)


if __name__ == "__main__":
    sys.exit(main())
