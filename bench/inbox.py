"""Respond at once: how fast one worker drains the inbox, against direct calls one at a time.

Issue 16 asks that the backlog drain "at the rate of direct calls per worker". Both sides run
use case 1 (Update Record, the call logged) one call at a time in one process:

* **direct**: the rule with Log Calls on, Respond after running, served by gunicorn and called
  by the load generator over **one** connection (one call at a time: what one web worker
  does for one sender);
* **drain**: the same rule responding at once; a burst of calls is accepted first (8
  connections, nothing drains meanwhile), then one ``flask nightpos worker`` process runs
  them. Its rate is counted from the first run's start to the last run's end, as the call
  rows' attempt logs record them (the worker's start-up is not the draining rate).

Rounds alternate which side goes first; medians.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import sqlalchemy as sa

from bench.common import (
    USE_CASE_1_PAYLOAD,
    Context,
    Instance,
    Report,
    Table,
    Target,
    app_context,
    load,
    make_rule,
    median,
    prepare_instance,
    servers,
    usd_id,
    use_case_rules,
)
from bench.outgoing import Workers

#: The drained rate at least this share of the direct one.
DRAIN_RATIO_TARGET = 0.9


def run(ctx: Context) -> Report:
    report = Report("inbox")
    burst = 50 if ctx.quick else 1000
    instance = prepare_instance(ctx, "inbox")
    with app_context(instance):
        direct_rule = use_case_rules()["uc1_log"]
        # Logged, as the direct side is: a rule that does not log calls drops each call's row
        # once it has run, and the rows' attempt logs are what this benchmark reads.
        inbox_rule = make_rule(
            "sale.order",
            [
                {
                    "name": "Set USD",
                    "action_type": "update_record",
                    "settings": {"field": "currency_id", "value": usd_id()},
                }
            ],
            name="Orders to USD (at once, logged)",
            respond="at_once",
            log_calls=True,
        )
    direct_path, accept_path = direct_rule["path"], inbox_rule["path"]
    direct: list[float] = []
    drained: list[float] = []
    with servers(("nightpos", "nightpos_app:create_app()", instance, None)) as (server,):
        load(server, direct_path, USE_CASE_1_PAYLOAD, duration=0.5, connections=1)
        for round_ in range(ctx.rounds):
            sides = ["direct", "drain"] if round_ % 2 == 0 else ["drain", "direct"]
            for side in sides:
                ctx.log(f"  inbox: round {round_ + 1}, {side}")
                if side == "direct":
                    result = load(
                        server,
                        direct_path,
                        USE_CASE_1_PAYLOAD,
                        duration=ctx.duration,
                        connections=1,
                    )
                    direct.append(result["rps"])
                else:
                    accepted = load(
                        server, accept_path, USE_CASE_1_PAYLOAD, count=burst, expect=202
                    )
                    if accepted["errors"]:
                        raise RuntimeError(f"accepting failed: {accepted['first_error']}")
                    drained.append(_drain(instance, inbox_rule["id"], burst))

    direct_rate, drain_rate = median(direct), median(drained)
    ratio = drain_rate / direct_rate if direct_rate else 0.0
    report.data = {
        "burst": burst,
        "direct_calls_per_s": direct,
        "drained_calls_per_s": drained,
        "ratio": ratio,
    }
    report.tables.append(
        Table(
            f"Respond at once: one worker draining {burst:,} accepted calls against direct "
            f"calls one at a time ({ctx.rounds} rounds, medians)",
            ["side", "calls/s", "x direct"],
            [
                ["direct (1 connection)", direct_rate, "1.00"],
                ["drain (1 worker)", drain_rate, f"{ratio:.2f}"],
            ],
            note="use case 1 logged on both sides; the drain's rate is the span of the call "
            "rows' attempt logs, from the first run's start to the last run's end.",
        )
    )
    report.targets.append(
        Target(
            "Inbox drain rate, one worker",
            f">= {DRAIN_RATIO_TARGET:g} x direct calls one at a time",
            f"{ratio:.2f} x ({drain_rate:.0f} vs {direct_rate:.0f} calls/s)",
            ratio >= DRAIN_RATIO_TARGET,
        )
    )
    return report


def _drain(instance: Instance, rule_id: int, burst: int) -> float:
    """Start one worker, wait until the rule's backlog is run, stop it; calls per second."""
    since = _waiting(instance, rule_id)
    if since["waiting"] < burst:
        raise RuntimeError(f"only {since['waiting']} of {burst} calls wait in the inbox")
    workers = Workers(instance, 1, instance.directory)
    try:
        deadline = time.monotonic() + 600
        while _waiting(instance, rule_id)["waiting"]:
            if time.monotonic() > deadline:
                raise RuntimeError("the inbox did not drain within 10 minutes")
            time.sleep(0.2)
    finally:
        workers.stop()
    return _rate(instance, rule_id, since["last_done"])


def _query(instance: Instance, sql: str, **params: Any) -> list[Any]:
    """The rows of ``sql`` on the instance's database, through a connection of its own."""
    engine = sa.create_engine(instance.url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params).all())
    finally:
        engine.dispose()


def _waiting(instance: Instance, rule_id: int) -> dict[str, Any]:
    """How many of the rule's calls wait to run, and the id of its last finished call."""
    ((waiting, last_done),) = _query(
        instance,
        "SELECT sum(CASE WHEN status IN ('accepted', 'running') THEN 1 ELSE 0 END), "
        "max(CASE WHEN status IN ('accepted', 'running') THEN NULL ELSE id END) "
        "FROM base_automation_call WHERE rule_id = :rule",
        rule=rule_id,
    )
    return {"waiting": waiting or 0, "last_done": last_done or 0}


def _rate(instance: Instance, rule_id: int, after_id: int) -> float:
    """Calls per second over the span of the runs of the rule's calls after ``after_id``."""
    logs = _query(
        instance,
        "SELECT status, attempt_log FROM base_automation_call "
        "WHERE rule_id = :rule AND id > :after",
        rule=rule_id,
        after=after_id,
    )
    failed = [status for status, _log in logs if status != "ok"]
    if failed:
        raise RuntimeError(f"{len(failed)} drained calls did not end ok: {failed[:3]}")
    starts, ends = [], []
    for _status, attempt_log in logs:
        attempts = json.loads(attempt_log) if isinstance(attempt_log, str) else attempt_log
        last = attempts[-1]
        start = dt.datetime.fromisoformat(last["at"].removesuffix("Z"))
        starts.append(start)
        ends.append(start + dt.timedelta(milliseconds=last["duration_ms"]))
    span = (max(ends) - min(starts)).total_seconds()
    return len(logs) / span if span > 0 else 0.0
