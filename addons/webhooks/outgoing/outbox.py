"""The outbox: messages written in the transaction of the change they report.

A message is a ``webhook.delivery`` row. It is added to the session of the change, so it is
committed with the change or rolled back with it, and a worker sends it only after the commit
(``addons/webhooks/outgoing/worker.py``). Each message has a stable ``message_id`` (the
Standard Webhooks ``webhook-id``) that stays the same on every attempt and replay, so that a
receiver can deduplicate.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from addons.webhooks.models import WebhookDelivery, WebhookDeliveryAttempt
from addons.webhooks.outgoing.notify import notify_workers
from nightpos_app.models import utcnow

#: Set in ``session.info`` when a message was added: after the commit, the worker of this
#: process is woken up instead of waiting for its next poll.
ENQUEUED_KEY = "nightpos.outbox.enqueued"


def new_message_id() -> str:
    """A unique, stable message id: ``msg_`` and 32 hex digits."""
    return f"msg_{uuid.uuid4().hex}"


def enqueue(
    session: Session,
    *,
    rule_id: int,
    action_id: int,
    model: str,
    record_id: int | None,
    url: str,
    body: str,
    headers: Mapping[str, str],
    timeout_seconds: float,
) -> WebhookDelivery:
    """Add a message to the outbox in ``session``'s transaction; due at once."""
    delivery = WebhookDelivery(
        message_id=new_message_id(),
        rule_id=rule_id,
        action_id=action_id,
        model=model,
        record_id=record_id,
        url=url,
        body=body,
        headers=dict(headers),
        timeout_seconds=timeout_seconds,
        state="pending",
        attempt_count=0,
        round_attempt_count=0,
        next_attempt_at=utcnow(),
    )
    session.add(delivery)
    session.info[ENQUEUED_KEY] = True
    notify_workers(session)
    return delivery


def retry_now(session: Session, delivery: WebhookDelivery) -> None:
    """Make a failed or dead message due again at once (the caller commits)."""
    if delivery.state not in ("failed", "dead"):
        raise ValueError(f"only a failed or dead message can be retried (it is {delivery.state})")
    _make_due(session, delivery)


def replay(session: Session, delivery: WebhookDelivery) -> None:
    """Send a delivered message again, with the same id (the caller commits)."""
    if delivery.state != "delivered":
        raise ValueError(f"only a delivered message can be replayed (it is {delivery.state})")
    _make_due(session, delivery)


def _make_due(session: Session, delivery: WebhookDelivery) -> None:
    # A new round of the retry schedule. The earlier attempts stay in the attempts table and in
    # attempt_count, which counts them all.
    delivery.round_attempt_count = 0
    delivery.state = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.claimed_by = None
    delivery.claimed_until = None
    session.info[ENQUEUED_KEY] = True
    notify_workers(session)


#: Messages in these states are finished: kept for the Deliveries screen, then pruned.
FINISHED_STATES = ("delivered", "failed", "dead")


def prune_finished(session: Session, max_age_days: float, now: dt.datetime | None = None) -> int:
    """Delete finished messages (and their attempts) created more than ``max_age_days`` ago;
    messages still to send are never pruned. The caller commits. Returns how many went."""
    cutoff = (now or utcnow()) - dt.timedelta(days=max_age_days)
    old = sa.select(WebhookDelivery.id).where(
        WebhookDelivery.state.in_(FINISHED_STATES), WebhookDelivery.created_at < cutoff
    )
    # Attempts first: SQLite enforces the foreign key but does not cascade without the ORM.
    session.execute(
        sa.delete(WebhookDeliveryAttempt).where(WebhookDeliveryAttempt.delivery_id.in_(old))
    )
    result = session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.id.in_(old)))
    return result.rowcount or 0
