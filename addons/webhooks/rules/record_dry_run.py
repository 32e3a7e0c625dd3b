"""The test of a record-trigger rule: what its actions would change if a chosen record were
saved (created, updated or deleted, as the rule's trigger says), with everything rolled back.

A webhook rule is tried with a payload (``engine.run_rule(..., dry_run=True)``); a rule On
create, On update or On delete has no payload: its actions run on a record that changed. So the
admin picks a record, the actions run on it exactly as the trigger would run them (same
sandbox, same budget, the record rules they trigger in turn), the changes are listed, and the
transaction is rolled back: nothing is saved, no message is sent.
"""

from __future__ import annotations

import time
from typing import Any

from addons.webhooks.action_types import ActionContext
from addons.webhooks.database import DatabaseProblem, database_problem
from addons.webhooks.models import AutomationRule
from addons.webhooks.rules.changes import recording_changes
from addons.webhooks.rules.engine import (
    Outcome,
    RuleSpec,
    describe_changes,
    error_outcome,
    problem_outcome,
    rule_sandbox,
    run_actions,
    unexpected_outcome,
)
from addons.webhooks.rules.state import get_webhooks
from addons.webhooks.rules.triggers import fire_pending, running_rule
from nightpos_app.exceptions import UserError
from nightpos_app.extensions import db
from nightpos_app.state import get_env, get_state

#: The change each record trigger reacts to, as its actions see it (``context.event``).
EVENTS = {
    "on_create": "create",
    "on_write": "write",
    "on_create_or_write": "write",
    "on_unlink": "unlink",
}
#: The step named when the chosen record is not there.
RECORD_STEP = "Record"


def record_choices(model: str, limit: int = 100) -> list[tuple[int, str]]:
    """The records the test may pick: the latest ``limit`` of the rule's model, newest first."""
    env = get_env()
    if model not in get_state().registry:
        return []
    records = env[model].search([], limit=limit, order="id desc")
    return [(r.id, r.display_name) for r in records]


def _last_values(records: Any) -> dict[int, dict[str, Any]]:
    """On delete the actions read the deleted records' last values (the rows are gone)."""
    entry = get_state().registry[records.model_name]
    names = [name for name, fld in entry.fields.items() if not fld.secret]
    return {row["id"]: row for row in records.read(names)}


def dry_run_on_record(rule: AutomationRule, record_id: int) -> Outcome:
    """Run ``rule``'s actions on record ``record_id`` of its model as its trigger would, and
    roll everything back; the outcome lists the changes (or the error, with its step)."""
    started = time.perf_counter()
    session = db.session
    env = get_env()
    registry = get_state().registry
    logs: list[str] = []
    spec = RuleSpec.of(rule)
    outcome: Outcome
    with recording_changes(session, registry) as recorder:
        try:
            records = env[spec.model].browse([record_id]).exists()
            if not records:
                raise UserError(f"{RECORD_STEP}: no {spec.model} record with id {record_id}.")
            event = EVENTS.get(rule.trigger, "write")
            targets = [(r.id, r.display_name) for r in records]
            context = ActionContext(
                env=env,
                payload={},
                sandbox=rule_sandbox(spec),
                records=records,
                helpers=get_webhooks().helpers(logs.append),
                rule_name=spec.name,
                rule_id=spec.id,
                event=event,
                deleted_values=_last_values(records) if event == "unlink" else {},
            )
            with context.sandbox.call(), running_rule(session, spec.id):
                run_actions(spec, context, recorder)
                recorder.current_action = ""
                fire_pending(session)
            outcome = Outcome(200, {"status": "ok"}, targets=targets)
            outcome.changes = describe_changes(env, recorder.changes)
        except UserError as exc:
            if (problem := database_problem(exc)) is not None:
                session.rollback()
                return problem_outcome(problem, started)
            outcome = error_outcome(exc)
        except DatabaseProblem as problem:
            session.rollback()
            return problem_outcome(problem, started)
        except Exception as exc:  # unexpected: the reference is in the server log too
            if (problem := database_problem(exc)) is not None:
                session.rollback()
                return problem_outcome(problem, started)
            outcome = unexpected_outcome(exc, f"test of rule {spec.id}")
    session.rollback()
    outcome.logs = logs
    outcome.duration_ms = (time.perf_counter() - started) * 1000
    return outcome
