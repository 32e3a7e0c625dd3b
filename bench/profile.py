"""Profile a benchmark case in process with pyinstrument (the ``bench`` extra).

    python -m bench.profile uc1 --calls 2000       # the webhook, Flask's test client
    python -m bench.profile uc1_log | uc2 | 404
    python -m bench.profile sandbox-target | sandbox-execute

Prints pyinstrument's text report (``--html FILE`` writes the HTML one). The webhook cases run
through the whole Flask app (routing, the endpoint, the engine, the commit) on a fresh SQLite
instance (``BENCH_DATABASE_URL``: a PostgreSQL database made for the run), without gunicorn and
the network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    TARGET_RECORD,
    USE_CASE_1_PAYLOAD,
    USE_CASE_2_PAYLOAD,
    Context,
    app_context,
    drop_databases,
    prepare_instance,
    use_case_rules,
)

CASES = ["uc1", "uc1_log", "uc2", "404", "sandbox-target", "sandbox-execute"]


def main(argv: list[str] | None = None) -> int:
    from pyinstrument import Profiler

    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("case", choices=CASES)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=0.0002, help="sampling, seconds")
    parser.add_argument("--html", type=Path)
    parser.add_argument("--all", action="store_true", help="show library frames too")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="nightpos-profile-"))
    database = os.environ.get("BENCH_DATABASE_URL") or None  # PostgreSQL, as `make bench` takes it
    ctx = Context(quick=True, rounds=1, duration=1, tmp=tmp, database_url=database)
    try:
        instance = prepare_instance(ctx, "profile")
        with app_context(instance) as app:
            rules = use_case_rules()
            run = _webhook(app, rules, args.case) if not args.case.startswith("sandbox") else None
            if run is None:
                ctx_manager = app.test_request_context()
                ctx_manager.push()
                run = _sandbox(rules, args.case)
            for _ in range(min(50, args.calls)):
                run()  # warm
            profiler = Profiler(interval=args.interval)
            profiler.start()
            for _ in range(args.calls):
                run()
            profiler.stop()
    finally:
        drop_databases(ctx)
        shutil.rmtree(tmp, ignore_errors=True)
    if args.html:
        args.html.write_text(profiler.output_html())
    print(profiler.output_text(unicode=False, color=False, show_all=args.all, short_mode=False))
    return 0


def _webhook(app: Any, rules: dict[str, Any], case: str) -> Any:
    client = app.test_client()
    path = rules[case]["path"] if case != "404" else "/web/hook/" + "x" * 43
    payload = USE_CASE_2_PAYLOAD if case == "uc2" else USE_CASE_1_PAYLOAD
    expect = 404 if case == "404" else 200

    def run() -> None:
        response = client.post(path, json=payload)
        if response.status_code != expect:
            sys.exit(f"{case}: {response.status_code} {response.get_data(as_text=True)}")

    return run


def _sandbox(rules: dict[str, Any], case: str) -> Any:
    from addons.webhooks.incoming.webhook_rules import find_rule
    from addons.webhooks.rules.engine import rule_sandbox
    from bench.sandbox import SMALL_CODE, SMALL_PAYLOAD, in_process_sandbox, sandbox_names

    found = find_rule(rules["uc1"]["secret"])
    assert found is not None
    sandbox = in_process_sandbox(rule_sandbox(found.spec))
    if case == "sandbox-target":
        names = sandbox_names("sale.order", USE_CASE_1_PAYLOAD, lambda _line: None)
        return lambda: sandbox.evaluate(TARGET_RECORD, names, filename="<target record>")
    names = sandbox_names("sale.order", SMALL_PAYLOAD, lambda _line: None)
    return lambda: sandbox.execute(SMALL_CODE, names, filename="<code>")


if __name__ == "__main__":
    raise SystemExit(main())
