"""Growth: the webhook path and the log pages with a big call log and many rules vs a small one.

Two instances, both serving at once: *small* (the benchmark rule with 1,000 logged calls) and
*large* (10,000 rules and 1,000,000 call-log rows: the benchmark rule holds 10,000 of them, the
retention cap ``WEBHOOK_LOG_MAX_ROWS_PER_RULE``, the other rules the rest, all younger than the
age limit so that nothing is pruned away). Filled with bulk ``INSERT ... SELECT`` (a recursive
CTE on SQLite, ``generate_series`` on PostgreSQL). Measured, alternating small and large:

* the webhook path: use case 1 with Log Calls on (the log insert and its pruning included),
  by the load generator, median latency;
* the rule's Logs page ``/webhookcallview/list/?rule_id=<id>`` and the call-log list
  ``/webhookcallview/list/``, as the logged-in admin, median time of sequential GETs.

Ratio = large / small (time); the target is under 1.3.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from bench.common import (
    TARGET_RECORD,
    USE_CASE_1_PAYLOAD,
    Browser,
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
)

RATIO_TARGET = 1.3

_RULES_SQL = """
INSERT INTO base_automation (name, model, "trigger", active, webhook_secret,
    webhook_secret_digest, target_record, log_calls, created_at, updated_at, auth_scheme,
    signing_secret, auth_header, idempotency)
SELECT 'Filler rule ' || n, 'sale.order', 'on_webhook', :yes, 'filler-secret-' || n,
    'filler-digest-' || n, :target, :yes, :now, :now, 'none', 'whsec_filler',
    'X-Webhook-Token', :no
FROM {series}
"""

_CALLS_SQL = """
INSERT INTO base_automation_call (rule_id, called_at, method, status, http_status, payload,
    payload_truncated, error_message, traceback, duration_ms, remote_addr)
SELECT {rule_id}, {called_at}, 'POST', 'ok', 200, :payload, :no, NULL, NULL, 3.5, '127.0.0.1'
FROM {series}
"""


def _series(dialect: str, count: int) -> str:
    if dialect == "sqlite":
        return (
            f"(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
            f"WHERE n < {int(count)}) SELECT n FROM seq) AS s"
        )
    return f"generate_series(1, {int(count)}) AS s(n)"


def _called_at(dialect: str) -> str:
    # Spread over the last 25 days (the age limit is 30): newest rows last.
    if dialect == "sqlite":
        return "datetime(:start, '+' || (n % 2160000) || ' seconds')"
    return "(:start + (n % 2160000) * interval '1 second')"


def fill(rule_id: int, rules: int, calls: int, own_calls: int) -> None:
    """Add ``rules - 1`` filler rules and ``calls`` call-log rows, ``own_calls`` of them the
    benchmark rule's (in an app context; commits)."""
    from nightpos_app.extensions import db

    connection = db.session.connection()
    dialect = connection.dialect.name
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    start = now - dt.timedelta(days=25)
    payload = json.dumps(USE_CASE_1_PAYLOAD, indent=2)
    common = {"yes": True, "no": False, "now": now, "start": start, "payload": payload}
    fillers = rules - 1
    if fillers > 0:
        connection.execute(
            sa.text(_RULES_SQL.format(series=_series(dialect, fillers))),
            {**common, "target": TARGET_RECORD},
        )
    if own_calls:
        connection.execute(
            sa.text(
                _CALLS_SQL.format(
                    rule_id=int(rule_id),
                    called_at=_called_at(dialect),
                    series=_series(dialect, own_calls),
                )
            ),
            common,
        )
    others = calls - own_calls
    if others > 0 and fillers > 0:
        first = db.session.scalar(
            sa.text("SELECT min(id) FROM base_automation WHERE name LIKE 'Filler rule %'")
        )
        connection.execute(
            sa.text(
                _CALLS_SQL.format(
                    rule_id=f"({int(first)} + n % {int(fillers)})",
                    called_at=_called_at(dialect),
                    series=_series(dialect, others),
                )
            ),
            common,
        )
    db.session.commit()
    if dialect == "postgresql":
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    else:
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def _prepare(ctx: Context, name: str, rules: int, calls: int, own: int) -> tuple[Instance, Any]:
    instance = prepare_instance(ctx, name)
    with app_context(instance):
        update = {
            "name": "Set USD",
            "action_type": "update_record",
            "settings": {"field": "currency_id", "value": usd_id()},
        }
        rule = make_rule("sale.order", [update], name="Orders to USD", log_calls=True)
        fill(rule["id"], rules, calls, own)
    return instance, rule


def run(ctx: Context) -> Report:
    report = Report("growth")
    if ctx.quick:
        small_size, large_size = (5, 100, 100), (100, 10_000, 1_000)
    else:
        small_size, large_size = (10, 1_000, 1_000), (10_000, 1_000_000, 10_000)
    ctx.log(f"  growth: filling small {small_size} and large {large_size} (rules, calls, own)")
    small, small_rule = _prepare(ctx, "growth_small", *small_size)
    large, large_rule = _prepare(ctx, "growth_large", *large_size)
    page_gets = 5 if ctx.quick else 30
    with servers(
        ("small", "nightpos_app:create_app()", small, None),
        ("large", "nightpos_app:create_app()", large, None),
    ) as (small_server, large_server):
        sides = {
            "small": (small_server, small_rule, Browser(small_server.port)),
            "large": (large_server, large_rule, Browser(large_server.port)),
        }
        for _server, _rule, browser in sides.values():
            browser.login()
        measured: dict[tuple[str, str], list[float]] = {}
        for round_ in range(ctx.rounds):
            order = ["small", "large"] if round_ % 2 == 0 else ["large", "small"]
            for side in order:
                server, rule, browser = sides[side]
                result = load(server, rule["path"], USE_CASE_1_PAYLOAD, duration=ctx.duration)
                if result["errors"]:
                    raise RuntimeError(f"growth webhook {side}: {result}")
                measured.setdefault(("webhook", side), []).append(result["p50_ms"])
                pages = {
                    "logs": f"/webhookcallview/list/?rule_id={rule['id']}",
                    "calls": "/webhookcallview/list/",
                }
                for key, path in pages.items():
                    browser.timed_get(path)  # warm
                    times = [browser.timed_get(path) * 1000 for _ in range(page_gets)]
                    measured.setdefault((key, side), []).append(median(times))

    labels = {
        "webhook": "Webhook path (UC1, Log Calls on), p50",
        "logs": "Rule's Logs page",
        "calls": "Call-log list page",
    }
    rows = []
    for key, label in labels.items():
        small_ms = median(measured[(key, "small")])
        large_ms = median(measured[(key, "large")])
        ratio = large_ms / small_ms if small_ms else 0.0
        rows.append([label, small_ms, large_ms, f"{ratio:.2f}"])
        report.data[key] = {"small_ms": small_ms, "large_ms": large_ms, "ratio": ratio}
        report.targets.append(
            Target(
                f"Growth, {label}",
                f"< {RATIO_TARGET:.1f} x small",
                f"{ratio:.2f} x ({large_ms:.1f} vs {small_ms:.1f} ms)",
                ratio < RATIO_TARGET,
            )
        )
    report.data["sizes"] = {"small": small_size, "large": large_size}
    report.tables.append(
        Table(
            f"Growth: small ({small_size[0]:,} rules, {small_size[1]:,} calls) vs large "
            f"({large_size[0]:,} rules, {large_size[1]:,} calls; the rule's own "
            f"{small_size[2]:,} vs {large_size[2]:,}), {ctx.rounds} rounds, medians",
            ["measure", "small ms", "large ms", "ratio"],
            rows,
        )
    )
    return report
