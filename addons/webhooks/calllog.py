"""The webhook call log: one row per call of a rule with Log Calls on, and its retention."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from addons.webhooks.engine import Outcome
from addons.webhooks.models import WebhookCall
from addons.webhooks.settings import setting
from nightpos_app.extensions import db
from nightpos_app.models import utcnow

TRUNCATION_MARK = "\n… (truncated)"


def payload_text(payload: Any, limit: int) -> tuple[str, bool]:
    """The payload as indented JSON, cut at ``limit`` bytes; and whether it was cut."""
    text = json.dumps(payload, ensure_ascii=False, indent=2, default=str)
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode("utf-8", errors="ignore") + TRUNCATION_MARK, True


#: Retention is applied every this many logged calls (cheap, indexed deletes).
PRUNE_EVERY = 100


def record_call(
    rule_id: int, method: str, payload: Any, outcome: Outcome, remote_addr: str | None
) -> None:
    """Write the call's row in its own transaction (the rule's may have rolled back)."""
    text, truncated = payload_text(payload, setting("WEBHOOK_LOG_PAYLOAD_BYTES"))
    call = WebhookCall(
        rule_id=rule_id,
        method=method,
        status="ok" if outcome.ok else "error",
        http_status=outcome.http_status,
        payload=text,
        payload_truncated=truncated,
        error_message=outcome.error,
        traceback=outcome.traceback,
        duration_ms=round(outcome.duration_ms, 3),
        remote_addr=remote_addr,
    )
    db.session.add(call)
    db.session.commit()
    if call.id % PRUNE_EVERY == 0:
        prune_calls(rule_id)


def prune_calls(rule_id: int | None = None, now: dt.datetime | None = None) -> int:
    """Delete calls older than the maximum age and beyond the maximum rows per rule.

    Returns how many rows were deleted. ``rule_id`` limits the row-count pruning to one rule.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=setting("WEBHOOK_LOG_MAX_AGE_DAYS"))
    deleted = (
        db.session.execute(sa.delete(WebhookCall).where(WebhookCall.called_at < cutoff)).rowcount
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
                        WebhookCall.rule_id == rid, WebhookCall.id < boundary
                    )
                ).rowcount
                or 0
            )
    db.session.commit()
    return deleted
