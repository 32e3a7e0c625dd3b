"""Run an automation rule on a payload: Target Record, then each action on each record.

One transaction per run: everything the rule did is committed on success and rolled back on
any failure (or always, for a dry run). A database that is busy or gone is not the rule's
failure: it is told apart (503) so that the caller can try again. Errors the rule raises on
purpose (``UserError``, ``ValueError`` from admin code, record API validation) are reported with
their own message;
anything else with a generic message and a reference that is also in the server log.
"""

from __future__ import annotations

import copy
import logging
import time
import traceback
import uuid
from collections.abc import Iterable
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from addons.webhooks.action_types import ActionContext, ActionType
from addons.webhooks.database import (
    DatabaseProblem,
    database_errors,
    database_problem,
    lock_records,
)
from addons.webhooks.models import AutomationRule
from addons.webhooks.rules.changes import Change, ChangeRecorder, recording_changes
from addons.webhooks.rules.known_targets import shortcut
from addons.webhooks.rules.state import get_webhooks
from addons.webhooks.rules.steps import (
    TARGET_STEP,
    action_step,
    in_step,
    in_step_error,
    target_problem,
)
from addons.webhooks.rules.triggers import fire_pending, running_rule
from addons.webhooks.settings import rule_cpu_seconds
from nightpos_app.exceptions import UserError
from nightpos_app.extensions import db
from nightpos_app.orm import Environment, RecordSet
from nightpos_app.state import get_env, get_state

if TYPE_CHECKING:
    from nightpos_app.sandbox.process import IsolatedSandbox

logger = logging.getLogger(__name__)

NO_TARGET = "No record to run the automation on was found"


@dataclass
class Outcome:
    """What a run produced: the HTTP answer, and details for the call log and the dry run."""

    http_status: int
    body: dict[str, Any]
    error: str | None = None
    traceback: str | None = None
    duration_ms: float = 0.0
    #: (id, display name) of each record the Target Record found.
    targets: list[tuple[int, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    #: The step that failed: "Target Record", "Action 2 'Notify'" (None: none did, or the
    #: record rules run after the actions, whose message names their rule).
    step: str | None = None
    #: The runner process running the code died (a crash, killed from outside): nothing says
    #: the rule is wrong, so a background run tries again (addons/webhooks/incoming/worker.py).
    crashed: bool = False

    @property
    def ok(self) -> bool:
        return self.http_status == 200


def find_target(
    model_name: str,
    target_record: str,
    names: dict[str, Any],
    sandbox: IsolatedSandbox | None = None,
) -> RecordSet:
    """Evaluate a rule's Target Record and check it gives records of the rule's model.

    ``sandbox`` is the rule's (with its CPU budget); the app's by default. The default
    expression and fixed ids are evaluated without a runner
    (:mod:`addons.webhooks.rules.known_targets`).
    """
    quick = shortcut(target_record) if isinstance(target_record, str) else None
    target = quick(names["model"], names.get("payload")) if quick is not None else None
    if target is None:
        sandbox = sandbox or get_webhooks().sandbox
        target = sandbox.evaluate(target_record, names, filename="<target record>")
    if target is None or target is False or (isinstance(target, RecordSet) and not target):
        raise UserError(NO_TARGET)
    if not isinstance(target, RecordSet):
        raise UserError(f"expected {model_name} records, got {type(target).__name__}")
    if target.model_name != model_name:
        raise UserError(f"expected {model_name} records, got {target.model_name} records")
    return target


@dataclass(frozen=True)
class ActionSpec:
    """One action of a rule, as the run needs it."""

    id: int
    name: str
    type_key: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class RuleSpec:
    """What running a rule needs from it, read once.

    It outlives the transaction it was read in: a webhook call reads its rule, ends that read
    transaction, and runs the rule in a write transaction of its own (maybe more than once).
    """

    id: int
    name: str
    model: str
    target_record: str
    #: Each active action, in order.
    actions: tuple[ActionSpec, ...]
    #: The rule's CPU Time Limit as saved (None: the default); see :func:`rule_sandbox`.
    cpu_seconds: float | None = None

    @classmethod
    def of(cls, rule: AutomationRule) -> RuleSpec:
        with database_errors():
            return cls.with_actions(
                rule,
                (
                    ActionSpec(a.id, a.name, a.action_type, dict(a.settings or {}))
                    for a in rule.actions
                    if a.active is not False
                ),
            )

    @classmethod
    def with_actions(cls, rule: Any, actions: Iterable[ActionSpec]) -> RuleSpec:
        """A rule's values (an ORM object or a row with the same names) and its actions."""
        return cls(
            id=rule.id,
            name=rule.name,
            model=rule.model,
            target_record=rule.target_record,
            actions=tuple(actions),
            cpu_seconds=rule.cpu_seconds,
        )


def rule_sandbox(spec: RuleSpec) -> IsolatedSandbox:
    """The app's sandbox with the rule's CPU budget.

    A run opens one call of this sandbox (``with sandbox.call()``): the Target Record, each
    action on each record and the record rules they trigger share the rule's budget and one
    runner. A shallow copy rather than a ``cpu_seconds=`` argument threaded through every
    action type: action types written elsewhere keep calling ``context.sandbox.evaluate(...)``
    and are bounded all the same.
    """
    sandbox = copy.copy(get_webhooks().sandbox)
    sandbox.cpu_seconds = rule_cpu_seconds(spec.cpu_seconds)
    return sandbox


def execute_rule(
    rule: AutomationRule | RuleSpec,
    payload: Any,
    *,
    dry_run: bool = False,
    target_optional: bool = False,
) -> Outcome:
    """Run ``rule`` on ``payload`` in the session's current transaction.

    ``target_optional`` (a scheduled rule): a Target Record that is just ``model`` (or empty)
    runs the actions once, on no record (``record`` is the model's empty recordset); one that
    finds no record is a run with nothing to do, not an error.

    The work is flushed but neither committed nor rolled back: the caller ends the
    transaction (commit only an ``ok`` outcome). The rule's own failures come back as an
    outcome; a database that is busy or unavailable raises
    :class:`~addons.webhooks.database.DatabaseProblem` instead (roll back, and maybe run
    again), whether it failed in the engine or under admin code.
    """
    started = time.perf_counter()
    webhooks = get_webhooks()
    session = db.session
    env = get_env()
    logs: list[str] = []
    spec = rule if isinstance(rule, RuleSpec) else RuleSpec.of(rule)
    registry = get_state().registry
    outcome: Outcome
    # Only the dry run reports changes: a real call is spared the per-flush history walk.
    # The step running now, so that every error says where it came from (steps.py).
    step: str | None = TARGET_STEP
    targets: list[tuple[int, str]] = []
    with (
        recording_changes(session, registry) if dry_run else nullcontext(ChangeRecorder(registry))
    ) as recorder:
        try:
            helpers = webhooks.helpers(logs.append)
            model = rule_model(env, spec.name, spec.model)
            base_names = {**helpers, "env": env, "model": model, "payload": payload}
            sandbox = rule_sandbox(spec)
            # One budget for the whole call: every piece of code it runs draws on it.
            with sandbox.call():
                no_record = target_optional and is_no_record(spec.target_record)
                try:
                    records = (
                        model
                        if no_record
                        else find_target(
                            spec.model,
                            spec.target_record,
                            {**base_names, "record": model, "records": model},
                            sandbox,
                        )
                    )
                except UserError as exc:
                    if not (target_optional and exc.message == NO_TARGET):
                        raise target_problem(exc, spec.model, spec.target_record) from exc
                    records = model  # nothing found: nothing to do this time
                # Actions often read a record and write it back (a counter, a status): the
                # rows are locked when first read, and read as the last call committed them.
                lock_records(records)
                targets[:] = (
                    [(r.id, r.display_name) for r in records]
                    if dry_run
                    else [(i, "") for i in records.ids]
                )
                context = ActionContext(
                    env=env,
                    payload=payload,
                    sandbox=sandbox,
                    records=records,
                    helpers=helpers,
                    rule_name=spec.name,
                    rule_id=spec.id,
                )
                step = None  # run_actions names each action's step itself
                with running_rule(session, spec.id):
                    run_actions(spec, context, recorder, once_without_record=no_record)
                # Record rules that these changes trigger run now, in this transaction: their
                # failure is this call's failure, and a dry run shows their changes too.
                recorder.current_action = ""
                fire_pending(session)
            outcome = Outcome(200, {"status": "ok"}, targets=targets)
            if dry_run:
                outcome.changes = describe_changes(env, recorder.changes)
        except UserError as exc:
            _raise_database_problem(exc)
            outcome = error_outcome(exc, targets)
            outcome.crashed = runner_crashed(exc)
        except Exception as exc:  # anything unexpected: log it, answer generically
            _raise_database_problem(exc)
            outcome = unexpected_outcome(exc, f"webhook rule {spec.id}", step, targets)
    outcome.logs = logs
    outcome.duration_ms = (time.perf_counter() - started) * 1000
    return outcome


def is_no_record(target_record: str | None) -> bool:
    """A scheduled rule's Target Record that names no record: empty, or just ``model``."""
    return (target_record or "").strip() in ("", "model")


def run_actions(
    spec: RuleSpec,
    context: ActionContext,
    recorder: ChangeRecorder | None,
    *,
    once_without_record: bool = False,
) -> None:
    """Each action of ``spec`` on each record of ``context.records``, in order; or once, on
    the empty recordset, when ``once_without_record`` (a scheduled rule with no record).

    An action's error names the action (``Action 2 'Notify': ...``): a ``UserError`` is raised
    again with that prefix, anything else carries it as ``nightpos_step`` for the generic
    message. A database that failed is not the action's fault and passes through as it is.
    """
    for record in (context.records,) if once_without_record else context.records:
        for number, action in enumerate(spec.actions, 1):
            context.action_id, context.action_name = action.id, action.name
            if recorder is not None:
                recorder.current_action = action.name
            step = action_step(number, action.name)
            try:
                kind = action_type(action.name, action.type_key)
                kind.run(context, record, dict(action.settings))
            except UserError as exc:
                if database_problem(exc) is not None:
                    raise
                raise in_step_error(step, exc) from exc
            except Exception as exc:
                if not hasattr(exc, "nightpos_step"):
                    with suppress(AttributeError):  # an exception type with __slots__
                        exc.nightpos_step = step  # type: ignore[attr-defined]
                raise


def run_on_records(
    rule_id: int,
    records: RecordSet,
    event: str,
    deleted_values: dict[int, dict[str, Any]] | None = None,
) -> None:
    """Run a record rule's actions on ``records`` for a change (``create``, ``write`` or
    ``unlink``) in the current transaction; errors are raised to the trigger machinery."""
    rule = db.session.get(AutomationRule, rule_id)
    if rule is None:  # deleted by another transaction since this one read the rules
        logger.info("automation rule %s is gone; its actions did not run", rule_id)
        return
    spec = RuleSpec.of(rule)
    logs: list[str] = []
    webhooks = get_webhooks()
    context = ActionContext(
        env=records.env,
        payload={},
        sandbox=rule_sandbox(spec),
        records=records,
        helpers=webhooks.helpers(logs.append),
        rule_name=spec.name,
        rule_id=spec.id,
        event=event,
        deleted_values=deleted_values or {},
    )
    try:
        with context.sandbox.call():
            run_actions(spec, context, None)
    finally:
        for line in logs:
            logger.info("automation rule %s: %s", spec.id, line)


def rule_model(env: Environment, rule_name: str, model_name: str) -> RecordSet:
    """The empty recordset of a rule's model; a ``UserError`` saying so when no enabled addon
    provides the model (its addon was disabled or uninstalled after the rule was saved: its
    table and records are still in the database, untouched)."""
    if model_name not in get_state().registry:
        raise UserError(
            f"The rule {rule_name!r} is on the model {model_name!r}, which no enabled addon "
            "provides: enable the addon that provides it, or archive the rule."
        )
    return env[model_name]


def action_type(action_name: str, type_key: str) -> ActionType:
    """The registered type of an action; a ``UserError`` saying so when no enabled addon
    provides it (its addon was disabled or uninstalled after the action was saved)."""
    types = get_webhooks().action_types
    if type_key not in types:
        raise UserError(
            f"The action {action_name!r} is of type {type_key!r}, which no enabled addon "
            "provides: enable the addon that provides it, or change the action."
        )
    return types[type_key]


def runner_crashed(error: BaseException) -> bool:
    """Whether ``error`` (or one of its causes) says the runner process died under the code."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "kind", None) == "crashed":
            return True
        current = current.__cause__ or current.__context__
    return False


def _raise_database_problem(error: BaseException) -> None:
    """Re-raise ``error`` as a DatabaseProblem if the database is what failed."""
    problem = database_problem(error)
    if problem is not None:
        raise problem from error


def error_outcome(error: UserError, targets: list[tuple[int, str]] | None = None) -> Outcome:
    """A run that failed with ``error`` (its message is the answer; it names its step)."""
    return Outcome(
        500,
        {"status": "error", "message": error.message},
        error=error.message,
        traceback=traceback.format_exc(),
        targets=targets or [],
        step=getattr(error, "step", None),
    )


def unexpected_outcome(
    error: Exception,
    what: str,
    step: str | None = None,
    targets: list[tuple[int, str]] | None = None,
) -> Outcome:
    """A run that failed with an error nobody expected: logged with its traceback under a
    reference, answered with the reference only (the error's text may hold anything)."""
    reference = uuid.uuid4().hex[:12]
    logger.exception("%s failed unexpectedly (reference %s)", what, reference)
    step = getattr(error, "nightpos_step", step)
    message = in_step(step, f"An unexpected error occurred (reference {reference}).")
    return Outcome(
        500,
        {"status": "error", "message": message},
        error=f"{message} {type(error).__name__}: {error}",
        traceback=traceback.format_exc(),
        targets=targets or [],
        step=step,
    )


def problem_outcome(problem: DatabaseProblem, started: float) -> Outcome:
    """The answer when the database was busy or unavailable: 503, nothing kept."""
    return Outcome(
        503,
        {"status": "error", "message": problem.message},
        error=str(problem),
        duration_ms=(time.perf_counter() - started) * 1000,
    )


def run_rule(
    rule: AutomationRule,
    payload: Any,
    *,
    dry_run: bool = False,
    target_optional: bool = False,
) -> Outcome:
    """Run ``rule`` on ``payload`` in one transaction; never raises for the rule's failures.

    Commits what the rule did when it succeeded (unless ``dry_run``), rolls it all back
    otherwise. A busy or unavailable database is a 503 outcome. The webhook URL runs rules
    through :func:`addons.webhooks.rules.transactions.run_call` instead, which adds the write lock,
    retries and the call log.
    """
    started = time.perf_counter()
    session = db.session
    try:
        outcome = execute_rule(rule, payload, dry_run=dry_run, target_optional=target_optional)
        if outcome.ok and not dry_run:
            with database_errors():
                session.commit()
            return outcome
    except DatabaseProblem as problem:
        session.rollback()
        return problem_outcome(problem, started)
    session.rollback()
    return outcome


def describe_changes(env: Environment, changes: list[Change]) -> list[Change]:
    """Many-to-one ids shown as the related records' names (before the dry run rolls back)."""
    registry = get_state().registry
    for change in changes:
        entry = registry[change.model]
        for name, (old, new) in list(change.fields.items()):
            fld = entry.fields[name]
            if fld.type == "many2one":
                change.fields[name] = tuple(  # type: ignore[assignment]
                    env[fld.comodel].browse(v).display_name if v else "" for v in (old, new)
                )
            else:
                change.fields[name] = (
                    "" if old is None else str(old),
                    "" if new is None else str(new),
                )
    return changes
