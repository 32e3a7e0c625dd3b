"""Webhook throughput and latency: NightPOS against the bare baseline, same gunicorn, same DB.

Both servers run at once (2 sync workers each); the load generator (8 connections, its own
process) drives one at a time, alternating which goes first each round. Each case's numbers
are the medians of the rounds.
"""

from __future__ import annotations

import json
import os
from typing import Any

from bench.common import (
    USE_CASE_1_PAYLOAD,
    USE_CASE_2_PAYLOAD,
    Context,
    Report,
    Table,
    Target,
    app_context,
    load,
    median,
    other_currency_id,
    prepare_instance,
    servers,
    usd_id,
    use_case_rules,
)

UNKNOWN_SECRET = "x" * 43

#: (key, label, payload, expected status, the baseline's case)
CASES = [
    ("uc1", "UC1 Update Record, Log Calls off", USE_CASE_1_PAYLOAD, 200, "uc1"),
    ("uc1_log", "UC1 Update Record, Log Calls on", USE_CASE_1_PAYLOAD, 200, "uc1"),
    ("uc2", "UC2 Execute Code, create contact", USE_CASE_2_PAYLOAD, 200, "uc2"),
    ("toggle", "Execute Code reads and writes", USE_CASE_1_PAYLOAD, 200, "toggle"),
    ("accept", "UC1 Respond at once: accepted (202)", USE_CASE_1_PAYLOAD, 202, "accept"),
    ("404", "Unknown secret (404)", USE_CASE_1_PAYLOAD, 404, "404"),
]

#: ``BENCH_WEBHOOK_CASES=uc2,404`` measures only those cases (a quicker look at one change).
_ONLY = {c.strip() for c in os.environ.get("BENCH_WEBHOOK_CASES", "").split(",") if c.strip()}
if _ONLY:
    CASES = [case for case in CASES if case[0] in _ONLY]

#: Issue 14's targets: each writing case at least 0.7 x the baseline, use case 1 with nothing
#: to change (both sides read and write nothing) 0.85 x, an unknown secret 0.8 x.
#: Issue 16's: accepting a call (Respond at once) at least 0.9 x a bare INSERT of the payload.
THROUGHPUT_TARGETS = {
    "uc1": 0.85,
    "uc1_log": 0.7,
    "uc2": 0.7,
    "toggle": 0.7,
    "404": 0.8,
    "accept": 0.9,
}
P99_TARGET = 1.5
P99_TARGETS = {"404": 1.3}


def run(ctx: Context) -> Report:
    report = Report("webhook")
    instance = prepare_instance(ctx, "webhook")
    with app_context(instance):
        rules = use_case_rules()
        usd, other = usd_id(), other_currency_id()
    paths = {key: rule["path"] for key, rule in rules.items()}
    paths["404"] = f"/web/hook/{UNKNOWN_SECRET}"
    baseline_paths = {key: paths[key] for key in ("uc1", "uc2", "toggle", "404", "accept")}
    baseline_env = {
        "BENCH_BASELINE_SECRETS": json.dumps(
            {rules[key]["secret"]: key for key in ("uc1", "uc2", "toggle", "accept")}
        ),
        "BENCH_BASELINE_ACCEPT_RULE_ID": str(rules["accept"]["id"]),
        "BENCH_BASELINE_USD_ID": str(usd),
        "BENCH_BASELINE_OTHER_ID": str(other),
    }
    warmup = 0.5 if ctx.quick else 2.0
    with servers(
        ("nightpos", "nightpos_app:create_app()", instance, None),
        ("baseline", "bench.baseline_app:create_app()", instance, baseline_env),
    ) as (nightpos, baseline):
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for key, label, payload, expect, base_key in CASES:
            ctx.log(f"  webhook: {label}")
            load(nightpos, paths[key], payload, duration=warmup, expect=expect)
            load(baseline, baseline_paths[base_key], payload, duration=warmup, expect=expect)
            for round_ in range(ctx.rounds):
                order = [("nightpos", nightpos), ("baseline", baseline)]
                if round_ % 2:
                    order.reverse()
                for name, server in order:
                    path = paths[key] if name == "nightpos" else baseline_paths[base_key]
                    result = load(server, path, payload, duration=ctx.duration, expect=expect)
                    runs.setdefault((key, name), []).append(result)

    rows = []
    for key, label, _payload, _expect, _base in CASES:
        ours, theirs = _summary(runs[(key, "nightpos")]), _summary(runs[(key, "baseline")])
        rps_ratio = ours["rps"] / theirs["rps"] if theirs["rps"] else 0.0
        p99_ratio = ours["p99_ms"] / theirs["p99_ms"] if theirs["p99_ms"] else 0.0
        report.data[key] = {
            "nightpos": ours,
            "baseline": theirs,
            "rps_ratio": rps_ratio,
            "p99_ratio": p99_ratio,
            "rounds": {name: runs[(key, name)] for name in ("nightpos", "baseline")},
        }
        rows.append(
            [label, "NightPOS", ours["rps"], ours["p50_ms"], ours["p99_ms"], ours["errors"], "", ""]
        )
        rows.append(
            [
                "",
                "baseline",
                theirs["rps"],
                theirs["p50_ms"],
                theirs["p99_ms"],
                theirs["errors"],
                f"{rps_ratio:.2f}",
                f"{p99_ratio:.2f}",
            ]
        )
        if key in THROUGHPUT_TARGETS:
            goal = THROUGHPUT_TARGETS[key]
            report.targets.append(
                Target(
                    f"Webhook throughput, {label}",
                    f">= {goal:g} x baseline",
                    f"{rps_ratio:.2f} x",
                    rps_ratio >= goal,
                )
            )
        p99_goal = P99_TARGETS.get(key, P99_TARGET)
        report.targets.append(
            Target(
                f"Webhook p99 latency, {label}",
                f"<= {p99_goal:g} x baseline",
                f"{p99_ratio:.2f} x ({ours['p99_ms']:.1f} vs {theirs['p99_ms']:.1f} ms)",
                0 < p99_ratio <= p99_goal,
            )
        )
    report.tables.append(
        Table(
            f"Webhook throughput and latency (gunicorn 2 sync workers, {8} connections, "
            f"{ctx.rounds} rounds x {ctx.duration:g} s, medians)",
            ["case", "server", "req/s", "p50 ms", "p99 ms", "errors", "req/s ratio", "p99 ratio"],
            rows,
            note="ratio = NightPOS / baseline; the baseline's UC1 reads the order and writes "
            "only a change, as Update Record does, and UC1 with Log Calls on is compared with "
            "it (the baseline writes no log); the reads-and-writes case switches the order's "
            "currency on both sides every call; Respond at once is compared with a bare "
            "INSERT of the payload into the same call table (no worker drains it meanwhile).",
        )
    )
    return report


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rps": median([r["rps"] for r in results]),
        "p50_ms": median([r["p50_ms"] for r in results]),
        "p99_ms": median([r["p99_ms"] for r in results]),
        "errors": sum(r["errors"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), None),
    }
