"""SQL per webhook call: what NightPOS sends to the database for each case, against the baseline.

Both apps run in this process (NightPOS through its test client, the baseline's Flask app the
same way) on one prepared instance, and every statement either sends is counted with
SQLAlchemy's engine events — statements (``before_cursor_execute``) and transaction control
(``begin``, ``commit``, ``rollback``), each a round trip on PostgreSQL. A few calls warm the
caches first (a rule is read once per process), then the calls measured are averaged. The
statements NightPOS sends that the baseline does not are listed by their first words:
docs/performance.md says what each buys.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from bench.common import (
    USE_CASE_1_PAYLOAD,
    USE_CASE_2_PAYLOAD,
    Context,
    Report,
    Table,
    app_context,
    other_currency_id,
    prepare_instance,
    usd_id,
    use_case_rules,
)

CASES = [
    ("uc1", "UC1 Update Record, Log Calls off", USE_CASE_1_PAYLOAD),
    ("uc1_log", "UC1 Update Record, Log Calls on", USE_CASE_1_PAYLOAD),
    ("uc2", "UC2 Execute Code, create contact", USE_CASE_2_PAYLOAD),
    ("toggle", "Execute Code reads and writes", USE_CASE_1_PAYLOAD),
]
#: The baseline's case for each of NightPOS's (it writes no call log).
BASELINE_CASE = {"uc1": "uc1", "uc1_log": "uc1", "uc2": "uc2", "toggle": "toggle"}
_WORDS = re.compile(r"^\s*(\w+(?:\s+\w+)?(?:\s+\w+)?)")


class Counting:
    """Statements and transaction-control calls of every engine while active."""

    def __init__(self) -> None:
        self.statements: Counter[str] = Counter()
        self.control: Counter[str] = Counter()
        self.active = False

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # A BEGIN sent as a statement (the baseline's BEGIN IMMEDIATE on SQLite) is the
        # transaction's start, counted by the "begin" event already.
        kind = _kind(statement)
        if self.active and not kind.startswith("BEGIN"):
            self.statements[kind] += 1

    def _control(self, name: str) -> Callable[..., None]:
        def count(*_args: Any) -> None:
            if self.active:
                self.control[name] += 1

        return count

    @contextmanager
    def installed(self) -> Iterator[Counting]:
        listeners: list[tuple[str, Callable[..., Any]]] = [
            ("before_cursor_execute", self._statement),
            *((name, self._control(name)) for name in ("begin", "commit", "rollback")),
        ]
        for name, listener in listeners:
            sa.event.listen(sa.engine.Engine, name, listener)
        try:
            yield self
        finally:
            for name, listener in listeners:
                sa.event.remove(sa.engine.Engine, name, listener)


def _kind(statement: str) -> str:
    """A statement's first words and its table: ``SELECT … FROM base_automation_revision``."""
    text = " ".join(statement.split())
    words = _WORDS.match(text)
    head = words.group(1).upper() if words else text[:20]
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", text, re.IGNORECASE)
    return f"{head.split()[0]} {table.group(1)}" if table else head


def _per_call(
    post: Callable[[], int], expect: int, warmup: int, calls: int
) -> tuple[dict[str, float], dict[str, float]]:
    counting = Counting()
    with counting.installed():
        for _ in range(warmup):
            post()
        counting.active = True
        for _ in range(calls):
            status = post()
            if status != expect:
                raise RuntimeError(f"a measured call answered {status}, not {expect}")
    statements = {kind: count / calls for kind, count in counting.statements.items()}
    control = {kind: count / calls for kind, count in counting.control.items()}
    return statements, control


def run(ctx: Context) -> Report:
    report = Report("statements")
    instance = prepare_instance(ctx, "statements")
    warmup, calls = (2, 5) if ctx.quick else (5, 50)
    with app_context(instance) as app:
        rules = use_case_rules()
        usd, other = usd_id(), other_currency_id()
        nightpos = app.test_client()
        os.environ.update(
            NIGHTPOS_DATABASE_URL=instance.url,
            BENCH_BASELINE_USD_ID=str(usd),
            BENCH_BASELINE_OTHER_ID=str(other),
            BENCH_BASELINE_SECRETS=json.dumps(
                {rules[key]["secret"]: key for key in ("uc1", "uc2", "toggle")}
            ),
        )
        from bench.baseline_app import create_app as baseline_app

        baseline = baseline_app().test_client()
        rows = []
        for key, label, payload in CASES:
            ours_path = rules[key]["path"]
            theirs_path = rules[BASELINE_CASE[key]]["path"]
            ours, ours_control = _per_call(
                lambda p=ours_path, b=payload: nightpos.post(p, json=b).status_code,
                200,
                warmup,
                calls,
            )
            theirs, theirs_control = _per_call(
                lambda p=theirs_path, b=payload: baseline.post(p, json=b).status_code,
                200,
                warmup,
                calls,
            )
            extra = {
                kind: count - theirs.get(kind, 0.0)
                for kind, count in ours.items()
                if count - theirs.get(kind, 0.0) > 0
            }
            report.data[key] = {
                "nightpos": {"statements": ours, "control": ours_control},
                "baseline": {"statements": theirs, "control": theirs_control},
            }
            rows.append(
                [
                    label,
                    f"{sum(ours.values()):.1f} + {sum(ours_control.values()):.1f}",
                    f"{sum(theirs.values()):.1f} + {sum(theirs_control.values()):.1f}",
                    "; ".join(f"{kind} ×{count:g}" for kind, count in sorted(extra.items()))
                    or "none",
                ]
            )
    report.tables.append(
        Table(
            f"SQL per webhook call ({instance.url.split(':')[0]}; {calls} calls each, "
            "after the caches are warm)",
            ["case", "NightPOS", "baseline", "statements only NightPOS sends (per call)"],
            rows,
            note="statements + transaction control (begin, commit, rollback); on PostgreSQL "
            "each is a round trip. docs/performance.md says what each extra statement buys.",
        )
    )
    return report
