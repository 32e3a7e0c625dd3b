"""The webhook call log: one row per call of a rule with Log Calls on, and its retention.

Every call that reached the URL and found its rule is logged when the rule has Log Calls on:
those the rule ran (ok or error), those a guard refused or whose body could not be read, and
those answered from the idempotency store without running (``replayed``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from addons.webhooks.database import begin_write, database_errors
from addons.webhooks.masking import mask_payload, masked_json
from addons.webhooks.models import WebhookCall
from addons.webhooks.rules.engine import Outcome
from addons.webhooks.settings import setting
from nightpos_app.extensions import db
from nightpos_app.models import utcnow

TRUNCATION_MARK = "\n… (truncated)"
_MARK_BYTES = TRUNCATION_MARK.encode("utf-8")


def payload_text(
    payload: Any, limit: int, masked_keys: Iterable[str] | str = ()
) -> tuple[str, bool]:
    """The payload as indented JSON, secret-looking keys' values masked, at most ``limit``
    bytes of UTF-8 (the truncation mark included); and whether it was cut.

    The text is made piece by piece (:func:`~addons.webhooks.masking.masked_json`) and the
    making stops once past the limit: memory and time are bounded by the limit, not by the
    payload (a 1 MiB payload nested 99 deep once took 5 s and 217 MB, indented in full before
    being cut).
    """
    pieces: list[str] = []
    size = 0
    for piece in masked_json(payload, masked_keys, max_chars=limit + 1):
        pieces.append(piece)
        size += len(piece) if piece.isascii() else len(piece.encode("utf-8"))
        if size > limit:
            break
    else:
        return "".join(pieces), False
    room = max(0, limit - len(_MARK_BYTES))
    kept = "".join(pieces).encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return kept + TRUNCATION_MARK, True


#: Retention is applied every this many logged calls (cheap, indexed deletes).
PRUNE_EVERY = 100

#: A plain INSERT, built once: the ORM's unit of work would cost more than the rule's own
#: write, and a call-log row is never a record that rules react to. Column defaults (the time)
#: still apply.
_INSERT_CALL = sa.insert(WebhookCall.__table__).returning(WebhookCall.__table__.c.id)


def compact_json(payload: Any) -> str:
    """``payload`` as compact JSON (what the inbox and replays run from)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)


def kept_payload(payload: Any) -> str | None:
    """The payload whole, for replay: masked keys masked, as compact JSON; None when larger
    than ``WEBHOOK_REPLAY_PAYLOAD_BYTES`` (such a call cannot be replayed)."""
    text = compact_json(mask_payload(payload, setting("WEBHOOK_LOG_MASKED_KEYS")))
    limit = int(setting("WEBHOOK_REPLAY_PAYLOAD_BYTES"))
    if len(text) > limit or len(text.encode("utf-8")) > limit:
        return None
    return text


@dataclass(frozen=True)
class LoggedPayload:
    """A payload as the call log keeps it: masked, as indented JSON, cut at the size limit;
    and whole (``kept``, compact and masked) when the rule keeps payloads for replay."""

    text: str
    truncated: bool
    kept: str | None = None

    @classmethod
    def of(cls, payload: Any, *, keep: bool = False) -> LoggedPayload:
        limit = setting("WEBHOOK_LOG_PAYLOAD_BYTES")
        text, truncated = payload_text(payload, limit, setting("WEBHOOK_LOG_MASKED_KEYS"))
        return cls(text, truncated, kept_payload(payload) if keep else None)


def add_call(
    rule_id: int,
    method: str,
    payload: LoggedPayload,
    outcome: Outcome,
    remote_addr: str | None,
    replay_of: int | None = None,
    *,
    replayed: bool = False,
) -> int:
    """Add the call's row to the session's transaction, which the caller commits.

    A successful call's row is added to the rule's own transaction: the rule's changes and
    their log row are kept together, with one commit. The payload's text is made beforehand,
    outside the transaction (on SQLite it holds the database's write lock). ``replayed``: the
    call was answered from the idempotency store, the rule did not run.
    """
    # On the session's connection: the ORM's execution layer has nothing to add to an INSERT.
    call_id = (
        db.session.connection()
        .execute(
            _INSERT_CALL,
            {
                "rule_id": rule_id,
                "method": method,
                "status": "ok" if outcome.ok else "error",
                "http_status": outcome.http_status,
                "payload": payload.text,
                "payload_truncated": payload.truncated,
                "error_message": outcome.error,
                "traceback": outcome.traceback,
                "duration_ms": round(outcome.duration_ms, 3),
                "remote_addr": remote_addr,
                "run_payload": payload.kept,
                "replay_of": replay_of,
                "replayed": replayed,
            },
        )
        .scalar_one()
    )
    if call_id % PRUNE_EVERY == 0:
        _prune(rule_id, utcnow())
    return call_id


def record_call(
    rule_id: int,
    method: str,
    payload: LoggedPayload,
    outcome: Outcome,
    remote_addr: str | None,
    replay_of: int | None = None,
    *,
    replayed: bool = False,
    check: Callable[[], None] | None = None,
) -> None:
    """Write the call's row in its own transaction (the rule's may have rolled back).

    ``check`` runs in that transaction before the insert (it may raise to write nothing: the
    rule read from the process's cache has changed). Raises
    :class:`~addons.webhooks.database.DatabaseProblem` if the database is busy or
    unavailable; nothing is written then.
    """
    session = db.session
    begin_write(session)
    try:
        with database_errors():
            if check is not None:
                check()
            add_call(rule_id, method, payload, outcome, remote_addr, replay_of, replayed=replayed)
            session.commit()
    except BaseException:
        session.rollback()
        raise


def prune_calls(rule_id: int | None = None, now: dt.datetime | None = None) -> int:
    """Delete calls older than the maximum age and beyond the maximum rows per rule; commit.

    Returns how many rows were deleted. ``rule_id`` limits the row-count pruning to one rule.
    """
    deleted = _prune(rule_id, now or utcnow())
    db.session.commit()
    return deleted


def prune_in_transaction(rule_id: int, now: dt.datetime) -> int:
    """Retention for one rule, in the session's transaction (the caller commits)."""
    return _prune(rule_id, now)


def _prune(rule_id: int | None, now: dt.datetime) -> int:
    """The deletes of :func:`prune_calls`, in the session's transaction."""
    cutoff = now - dt.timedelta(days=setting("WEBHOOK_LOG_MAX_AGE_DAYS"))
    # Calls still to run (the inbox of rules that respond at once) are never pruned.
    finished = WebhookCall.status.in_(("ok", "error"))
    deleted = (
        db.session.execute(
            sa.delete(WebhookCall).where(WebhookCall.called_at < cutoff, finished)
        ).rowcount
        or 0
    )
    keep = setting("WEBHOOK_LOG_MAX_ROWS_PER_RULE")
    rule_ids = (
        [rule_id]
        if rule_id is not None
        else list(db.session.scalars(sa.select(WebhookCall.rule_id).distinct()))
    )
    for rid in rule_ids:
        # The id of the oldest row to keep: everything older goes (one indexed query).
        boundary = db.session.scalar(
            sa.select(WebhookCall.id)
            .where(WebhookCall.rule_id == rid)
            .order_by(WebhookCall.id.desc())
            .offset(keep - 1)
            .limit(1)
        )
        if boundary is not None:
            deleted += (
                db.session.execute(
                    sa.delete(WebhookCall).where(
                        WebhookCall.rule_id == rid, WebhookCall.id < boundary, finished
                    )
                ).rowcount
                or 0
            )
    return deleted
