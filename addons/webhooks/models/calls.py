"""What arrives at a rule's webhook URL: the call log (``base.automation.call``), which is also
the inbox of calls answered at once and the record replays come from, and the idempotency keys
(``base_automation_request``)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import relationship

from nightpos_app.i18n import N_
from nightpos_app.models import utcnow

#: A call's state: accepted (answered 202, waiting for a worker; also after a transient failure,
#: until its next attempt), running (claimed by a worker), ok, error. Calls answered after
#: running are ok or error from the start.
CALL_STATUSES = {
    "accepted": N_("Accepted"),
    "running": N_("Running"),
    "ok": N_("OK"),
    "error": N_("Error"),
}
#: The states of a call still to run: the inbox.
UNFINISHED_CALL_STATUSES = ("accepted", "running")


class WebhookCall(Model):
    """One call to a rule's webhook URL, kept when the rule has Log Calls on."""

    __tablename__ = "base_automation_call"
    __model_name__ = "base.automation.call"
    __model_description__ = N_("Webhook Call")
    __model_order__ = "id desc"
    #: Written by the webhook endpoint alone, so that it tells what really happened.
    __model_code_access__ = "read"
    __table_args__ = (
        sa.Index("ix_base_automation_call_rule_id_id", "rule_id", "id"),
        # The inbox: calls still to run (a partial index, small whatever the log's size). The
        # workers' claim walks it, and an ordered rule's call looks for older ones here.
        sa.Index(
            "ix_base_automation_call_unfinished",
            "rule_id",
            "id",
            sqlite_where=sa.text("status IN ('accepted', 'running')"),
            postgresql_where=sa.text("status IN ('accepted', 'running')"),
        ),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    rule_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("base_automation.id", ondelete="CASCADE"),
        nullable=False,
        info={"label": N_("Automation Rule"), "readonly": True},
    )
    # "selectin": a page of calls loads their rules in one query, not one per row.
    rule = relationship("AutomationRule", lazy="selectin")
    called_at = sa.Column(
        sa.DateTime,
        nullable=False,
        default=utcnow,
        index=True,
        info={"label": N_("Time"), "readonly": True},
    )
    method = sa.Column(sa.String(8), nullable=False, info={"label": N_("Method"), "readonly": True})
    status = sa.Column(
        sa.Enum(
            *CALL_STATUSES,
            name="base_automation_call_status",
            native_enum=False,
            length=8,
            create_constraint=True,
        ),
        nullable=False,
        info={"label": N_("Status"), "selection_labels": CALL_STATUSES, "readonly": True},
    )
    http_status = sa.Column(
        sa.Integer, nullable=False, info={"label": N_("HTTP Status"), "readonly": True}
    )
    payload = sa.Column(sa.Text, info={"label": N_("Payload"), "readonly": True})
    payload_truncated = sa.Column(
        sa.Boolean,
        nullable=False,
        default=False,
        info={"label": N_("Payload Truncated"), "readonly": True},
    )
    error_message = sa.Column(sa.Text, info={"label": N_("Error"), "readonly": True})
    traceback = sa.Column(sa.Text, info={"label": N_("Traceback"), "readonly": True})
    duration_ms = sa.Column(
        sa.Float, nullable=False, default=0.0, info={"label": N_("Duration (ms)"), "readonly": True}
    )
    remote_addr = sa.Column(sa.String(64), info={"label": N_("Remote Address"), "readonly": True})
    #: Answered from the idempotency store (a key seen before): the rule did not run, the
    #: caller got the first call's answer (or 409 while that call still ran).
    replayed = sa.Column(
        sa.Boolean,
        nullable=False,
        default=False,
        server_default=sa.false(),
        info={"label": N_("Answered Again (Same Key)"), "readonly": True},
    )
    # Background runs (Respond at once, replays): how many attempts, each one's outcome
    # ([{"at", "worker", "result", "error", "duration_ms"}]), and the worker's claim.
    attempts = sa.Column(
        sa.Integer,
        nullable=False,
        default=1,
        server_default="1",
        info={"label": N_("Attempts"), "readonly": True},
    )
    attempt_log = sa.Column(sa.JSON, info={"label": N_("Attempt Log"), "readonly": True})
    next_attempt_at = sa.Column(sa.DateTime, info={"label": N_("Next Attempt"), "readonly": True})
    claimed_by = sa.Column(sa.String(64), info={"label": N_("Worker"), "readonly": True})
    claimed_until = sa.Column(sa.DateTime, info={"label": N_("Claimed Until"), "readonly": True})
    # The payload as the rule gets it, as compact JSON: as sent while the call waits to run;
    # afterwards masked (the rule keeps payloads for replay) or nothing. Never shown as such.
    run_payload = sa.Column(
        sa.Text, info={"label": N_("Payload to Run"), "readonly": True, "secret": True}
    )
    # The call this one replays (a plain number: the original may have been pruned).
    replay_of = sa.Column(sa.Integer, info={"label": N_("Replay Of"), "readonly": True})

    def __str__(self) -> str:
        return f"Call #{self.id}"


class WebhookRequest(Model):
    """A request key (``Idempotency-Key`` or ``webhook-id``) seen by a rule, and its answer.

    The row is inserted before the rule runs (``http_status`` empty while it runs), so that a
    concurrent duplicate hits the unique constraint instead of running too; the answer is
    filled in afterwards and replayed to later duplicates. Rows older than a day are pruned.
    """

    __tablename__ = "base_automation_request"
    __table_args__ = (sa.UniqueConstraint("rule_id", "key", name="uq_base_automation_request_key"),)

    id = sa.Column(sa.Integer, primary_key=True)
    rule_id = sa.Column(
        sa.Integer, sa.ForeignKey("base_automation.id", ondelete="CASCADE"), nullable=False
    )
    key = sa.Column(sa.String(255), nullable=False)
    http_status = sa.Column(sa.Integer)
    body = sa.Column(sa.JSON)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)
