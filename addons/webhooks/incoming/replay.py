"""Replay from the Logs: run a logged call's payload again against its rule as it is now.

A call can be replayed when its rule keeps payloads for replay (*Keep Payloads for Replay*):
its row holds the payload whole (masked keys still masked: a replay gets ``***`` for them),
within ``WEBHOOK_REPLAY_PAYLOAD_BYTES``. Retention applies as to every call-log row.

* A **dry run** runs the rule on the payload in a transaction that is rolled back
  (:func:`~addons.webhooks.rules.engine.run_rule` with ``dry_run``, as the rule page's Test): the
  answer says what the call would change now, and nothing is written or logged.
* A **real** replay is a new call in the inbox (``addons/webhooks/incoming/inbox.py``), whose
  row names the call it replays (``replay_of``): a worker runs it like any call accepted at
  once, with the same retries, ordering and leases, and the Logs show it and its outcome.

One call, or a selection: a rule's calls, in a state, within a time range (e.g. every error
since a time), oldest first, at most ``WEBHOOK_REPLAY_MAX_CALLS`` real replays and
:data:`MAX_DRY_RUNS` dry runs per request.

A replay is a deliberate second run, so nothing runs twice by accident: a selection takes each
call's latest run (a call replayed already is left out: its replay stands for it, and is
taken if it failed too), so the same "every error since 10:00" asked twice replays nothing
twice; and a call whose replay has not run yet is not replayed again (a double click, a
second admin), checked under a lock on the call in the replay's own transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from addons.webhooks.incoming.inbox import UNFINISHED, inbox_row, store
from addons.webhooks.models import AutomationRule, WebhookCall
from addons.webhooks.rules.changes import Change
from addons.webhooks.rules.engine import Outcome, run_rule
from addons.webhooks.settings import setting
from nightpos_app.extensions import db
from nightpos_app.i18n import N_

#: Dry runs one request may do (each runs the rule; a real replay only stores a call).
MAX_DRY_RUNS = 50
#: The states a call can be replayed from: it has run.
FINISHED = ("ok", "error")

NOT_FINISHED = N_("The call has not run yet; it can be replayed once it has.")
REPLAYING = N_(
    "The call is being replayed already (call %(id)s has not run yet); replay it again once "
    "that has run."
)
NOT_KEPT = N_(
    "The call's payload was not kept whole: turn on Keep Payloads for Replay on its rule "
    "(payloads up to the size limit are kept from then on)."
)


class ReplayRefused(ValueError):
    """A call that cannot be replayed, and why (``reason``, English, for people)."""

    def __init__(self, call_id: int, reason: str, **values: Any) -> None:
        super().__init__(f"Call {call_id}: {reason % values if values else reason}")
        self.call_id = call_id
        self.reason = reason
        #: What ``reason``'s placeholders stand for (translated with it).
        self.values = values


@dataclass(frozen=True)
class Selection:
    """Which logged calls to replay: all of them optional, ANDed."""

    rule_id: int | None = None
    status: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None


def why_not(call: WebhookCall) -> str | None:
    """Why ``call`` cannot be replayed, or None.

    Its rule must keep payloads *now*: an admin who turned Keep Payloads for Replay off meant
    the payloads not to be run (nor their effects shown by a dry run) again, though the rows
    kept before stay until retention removes them.
    """
    if call.status not in FINISHED:
        return NOT_FINISHED
    if call.run_payload is None or call.rule is None or not call.rule.keep_payloads:
        return NOT_KEPT
    return None


def selected(selection: Selection, cap: int) -> list[WebhookCall]:
    """The replayable calls of ``selection``, oldest first, at most ``cap`` (and the
    selection's own limit)."""
    table = WebhookCall.__table__
    rules = AutomationRule.__table__
    query = (
        sa.select(WebhookCall)
        .join(rules, rules.c.id == table.c.rule_id)
        .where(
            table.c.status.in_(FINISHED),
            table.c.run_payload.is_not(None),
            rules.c.keep_payloads.is_(True),
        )
    )
    if selection.rule_id is not None:
        query = query.where(table.c.rule_id == selection.rule_id)
    if selection.status is not None:
        query = query.where(table.c.status == selection.status)
    if selection.since is not None:
        query = query.where(table.c.called_at >= selection.since)
    if selection.until is not None:
        query = query.where(table.c.called_at < selection.until)
    # Each call's latest run: one replayed already is represented by its replay.
    replayed = sa.select(table.c.replay_of).where(table.c.replay_of.is_not(None))
    if selection.rule_id is not None:
        replayed = replayed.where(table.c.rule_id == selection.rule_id)
    query = query.where(table.c.id.not_in(replayed))
    limit = min(cap, selection.limit or cap)
    return list(db.session.scalars(query.order_by(table.c.id).limit(limit)))


def replay(calls: list[WebhookCall]) -> list[int]:
    """Put the calls in the inbox again, as replays, in one transaction; the new calls' ids.

    Raises :class:`ReplayRefused` when one of them cannot be replayed (nothing is stored).
    """
    rows = []
    for call in calls:
        problem = why_not(call)
        if problem is not None:
            raise ReplayRefused(call.id, problem)
        rows.append(
            inbox_row(
                call.rule_id,
                call.method,
                json.loads(call.run_payload),
                None,
                replay_of=call.id,
                run_payload=call.run_payload,
            )
        )
    db.session.rollback()  # end the read: the inbox's transaction takes the write lock
    if not rows:
        return []
    originals = sorted(row["replay_of"] for row in rows)
    return store(rows, check=lambda: _not_replaying(originals))


def _not_replaying(call_ids: list[int]) -> None:
    """Raise :class:`ReplayRefused` if one of the calls has a replay that has not run yet; in
    the replay's transaction, the calls locked first (PostgreSQL: a concurrent replay of one of
    them waits for this one's commit, then sees its replay; SQLite's write lock does the same)."""
    table = WebhookCall.__table__
    session = db.session
    session.execute(sa.select(table.c.id).where(table.c.id.in_(call_ids)).with_for_update()).all()
    pending = session.execute(
        sa.select(table.c.replay_of, table.c.id)
        .where(table.c.replay_of.in_(call_ids), table.c.status.in_(UNFINISHED))
        .order_by(table.c.id)
    ).first()
    if pending is not None:
        raise ReplayRefused(pending.replay_of, REPLAYING, id=pending.id)


def dry_run(call: WebhookCall) -> Outcome:
    """What ``call``'s payload would do to its rule as it is now; nothing is kept."""
    problem = why_not(call)
    if problem is not None:
        raise ReplayRefused(call.id, problem)
    rule = db.session.get(AutomationRule, call.rule_id)
    if rule is None:  # pragma: no cover - the call is deleted with its rule
        raise ReplayRefused(call.id, N_("Its rule no longer exists."))
    return run_rule(rule, json.loads(call.run_payload), dry_run=True)


def replay_cap() -> int:
    """How many real replays one request may make."""
    return int(setting("WEBHOOK_REPLAY_MAX_CALLS"))


def describe(call_id: int, outcome: Outcome) -> dict[str, Any]:
    """A dry run's outcome as JSON: the answer the sender would get, and what would change."""
    return {
        "call_id": call_id,
        "http_status": outcome.http_status,
        "answer": outcome.body,
        "error": outcome.error,
        "step": outcome.step,
        "targets": [{"id": rid, "name": name} for rid, name in outcome.targets],
        "changes": [_change(change) for change in outcome.changes],
        "logs": outcome.logs,
    }


def _change(change: Change) -> dict[str, Any]:
    return {
        "action": change.action,
        "operation": change.operation,
        "model": change.model,
        "record_id": change.record_id,
        "record": change.display_name,
        "fields": {name: {"old": old, "new": new} for name, (old, new) in change.fields.items()},
    }
