"""The webhooks addon's Prometheus metrics (the host's own are in nightpos_app/metrics.py).

Counted where they happen, in memory (no database work on a call): webhook calls by rule and
answer status, their duration, record-rule runs, delivery attempts by outcome, messages that
went dead. Measured at scrape time, with indexed queries: the outbox's depth by state and how
long the oldest due message has waited, the timing scheduler's lag, and the inbox's backlog
(calls answered at once, still to run).

Labels are bounded: rule ids (as many as rules), HTTP statuses, fixed outcome words; never a
URL, a key or a payload value. The module sits beside ``models`` and ``settings`` so that the
incoming, rules and outgoing packages can all count here (imports run one way).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from addons.webhooks.models import (
    UNFINISHED_CALL_STATUSES,
    AutomationDue,
    WebhookCall,
    WebhookDelivery,
)
from nightpos_app.extensions import db
from nightpos_app.jsonlog import FIELDS
from nightpos_app.metrics import register_scrape_collector
from nightpos_app.models import utcnow

#: One INFO event per webhook call (written when INFO is on: NIGHTPOS_LOG_FORMAT=json does).
call_log = logging.getLogger("nightpos.webhooks.calls")

#: A call whose secret matched no rule (or a refused method): one label for all of them.
NO_RULE = "none"

CALLS = Counter(
    "nightpos_webhook_calls",
    "Calls of webhook URLs, by rule and answer status",
    ["rule_id", "status"],
)
CALL_SECONDS = Histogram(
    "nightpos_webhook_call_duration_seconds",
    "Time from a webhook call's arrival to its answer, by rule",
    ["rule_id"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RECORD_RULE_RUNS = Counter(
    "nightpos_record_rule_runs",
    "Runs of record-triggered rules (on create, update, delete), by rule and outcome",
    ["rule_id", "outcome"],
)
#: Outcomes of a delivery attempt: the message's state afterwards (``retry``: it will be sent
#: again), or ``lost_claim`` when another worker had taken the message over meanwhile.
DELIVERY_OUTCOMES = ("delivered", "retry", "failed", "dead", "lost_claim")
DELIVERY_ATTEMPTS = Counter(
    "nightpos_webhook_delivery_attempts",
    "Attempts to send an outgoing webhook, by outcome",
    ["outcome"],
)
DEAD_MESSAGES = Counter(
    "nightpos_webhook_messages_dead",
    "Outgoing messages that ran out of attempts (dead)",
)
for _outcome in DELIVERY_OUTCOMES:
    DELIVERY_ATTEMPTS.labels(_outcome)


def observe_call(rule_id: int | None, status: int, seconds: float) -> str:
    """Count one webhook call and write its log event; the call's id (in the event)."""
    label = str(rule_id) if rule_id is not None else NO_RULE
    CALLS.labels(label, str(status)).inc()
    CALL_SECONDS.labels(label).observe(seconds)
    call_id = uuid.uuid4().hex
    if call_log.isEnabledFor(logging.INFO):
        fields = {
            "event": "webhook_call",
            "rule_id": rule_id,
            "call_id": call_id,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        call_log.info(
            "webhook call %s rule %s: %s in %.1f ms",
            call_id,
            label,
            status,
            seconds * 1000,
            extra={FIELDS: fields},
        )
    return call_id


def observe_record_rule(rule_id: int, ok: bool) -> None:
    RECORD_RULE_RUNS.labels(str(rule_id), "ok" if ok else "error").inc()


def observe_delivery(outcome: str) -> None:
    """Count one delivery attempt; ``outcome`` is one of :data:`DELIVERY_OUTCOMES`."""
    DELIVERY_ATTEMPTS.labels(outcome).inc()
    if outcome == "dead":
        DEAD_MESSAGES.inc()


#: The outbox states the scrape counts (finished ``delivered`` rows are many and not counted).
COUNTED_STATES = ("pending", "sending", "failed", "dead")


def outbox_collector() -> Iterator[Metric]:
    """The outbox's depth by state and the age of its oldest due message, at scrape time.

    Each count is a range of ``ix_webhook_delivery_state_next_attempt_at`` (an index-only scan
    on PostgreSQL); the oldest due message is that index's first entry for ``pending``.
    """
    depth = GaugeMetricFamily(
        "nightpos_webhook_outbox_messages",
        "Outgoing messages in the outbox, by state (delivered ones not counted)",
        labels=["state"],
    )
    age = GaugeMetricFamily(
        "nightpos_webhook_outbox_oldest_due_seconds",
        "How long the oldest message that is due (pending, its time come) has waited",
    )
    now = utcnow()
    session = db.session
    try:
        for state in COUNTED_STATES:
            count = session.scalar(
                sa.select(sa.func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.state == state)
            )
            depth.add_metric([state], float(count or 0))
        oldest = session.scalar(
            sa.select(sa.func.min(WebhookDelivery.next_attempt_at)).where(
                WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now
            )
        )
    finally:
        session.rollback()  # a read: end it, so the scrape holds no snapshot or lock
    age.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0)
    yield depth
    yield age


def timing_collector() -> Iterator[Metric]:
    """The timing scheduler's lag: due runs of timing and scheduled rules not started yet, and
    how long the oldest has waited (two ranges of ``ix_base_automation_due_state_due_at``)."""
    waiting = GaugeMetricFamily(
        "nightpos_timing_due_runs",
        "Runs of timing and scheduled rules whose time has come, not started yet",
    )
    lag = GaugeMetricFamily(
        "nightpos_timing_scheduler_lag_seconds",
        "How long the oldest due run of a timing or scheduled rule has waited to start",
    )
    now = utcnow()
    session = db.session
    due_now = (AutomationDue.state == "pending", AutomationDue.due_at <= now)
    try:
        count = session.scalar(
            sa.select(sa.func.count()).select_from(AutomationDue).where(*due_now)
        )
        oldest = session.scalar(sa.select(sa.func.min(AutomationDue.due_at)).where(*due_now))
    finally:
        session.rollback()
    waiting.add_metric([], float(count or 0))
    lag.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0)
    yield waiting
    yield lag


def inbox_collector() -> Iterator[Metric]:
    """The inbox's backlog: calls answered at once (202) not run yet, by state, and how long
    the oldest accepted one has waited (the partial index ``ix_base_automation_call_unfinished``
    holds only these rows, however long the call log)."""
    backlog = GaugeMetricFamily(
        "nightpos_webhook_inbox_calls",
        "Calls answered at once and not finished yet, by state (accepted: waiting for a worker)",
        labels=["state"],
    )
    age = GaugeMetricFamily(
        "nightpos_webhook_inbox_oldest_accepted_seconds",
        "How long the oldest accepted call (answered 202, not started) has waited",
    )
    now = utcnow()
    session = db.session
    unfinished = WebhookCall.status.in_(UNFINISHED_CALL_STATUSES)
    try:
        counts = dict(
            session.execute(
                sa.select(WebhookCall.status, sa.func.count())
                .where(unfinished)
                .group_by(WebhookCall.status)
            ).all()
        )
        oldest = session.scalar(
            sa.select(sa.func.min(WebhookCall.called_at)).where(
                unfinished, WebhookCall.status == "accepted"
            )
        )
    finally:
        session.rollback()
    for state in UNFINISHED_CALL_STATUSES:
        backlog.add_metric([state], float(counts.get(state, 0)))
    age.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0)
    yield backlog
    yield age


def install() -> None:
    """Measure the outbox, the timing scheduler and the inbox on every scrape of ``/metrics``."""
    register_scrape_collector("webhooks.outbox", outbox_collector)
    register_scrape_collector("webhooks.timing", timing_collector)
    register_scrape_collector("webhooks.inbox", inbox_collector)
