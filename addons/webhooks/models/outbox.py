"""Outgoing webhook messages (``webhook.delivery``, the outbox) and their attempts."""

from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import relationship

from nightpos_app.i18n import N_
from nightpos_app.models import utcnow

#: Where an outgoing message is: waiting (maybe for its next retry), being sent by a worker,
#: received, refused for good (a 4xx, a refused address), or out of retries.
DELIVERY_STATES: dict[str, str] = {
    "pending": N_("Pending"),
    "sending": N_("Sending"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
    "dead": N_("Dead"),
}


class WebhookDelivery(Model):
    """One outgoing webhook message (the outbox): written in the transaction of the change
    it reports, sent by a worker after the commit, retried until delivered or dead.

    ``message_id`` is the Standard Webhooks ``webhook-id``: the same on every attempt, so a
    receiver can drop a message it has already handled.
    """

    __tablename__ = "webhook_delivery"
    __model_name__ = "webhook.delivery"
    __model_description__ = N_("Webhook Delivery")
    __model_order__ = "id desc"
    #: Written by Send Webhook Notification and the worker alone; the extra headers (often a
    #: receiver's credentials) are not readable by automation code.
    __model_code_access__ = "read"
    __table_args__ = (
        # What a worker's claim query walks: due messages, oldest first.
        sa.Index("ix_webhook_delivery_state_next_attempt_at", "state", "next_attempt_at"),
        sa.Index("ix_webhook_delivery_rule_id_id", "rule_id", "id"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    message_id = sa.Column(
        sa.String(64),
        nullable=False,
        unique=True,
        info={"label": N_("Message ID"), "readonly": True},
    )
    rule_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("base_automation.id", ondelete="CASCADE"),
        nullable=False,
        info={"label": N_("Automation Rule"), "readonly": True},
    )
    # "selectin": a page of messages loads their rules and actions in one query each.
    rule = relationship("AutomationRule", lazy="selectin")
    action_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("ir_actions_server.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        info={"label": N_("Action"), "readonly": True},
    )
    action = relationship("ServerAction", lazy="selectin")
    model = sa.Column(sa.String(128), nullable=False, info={"label": N_("Model"), "readonly": True})
    record_id = sa.Column(sa.Integer, info={"label": N_("Record ID"), "readonly": True})
    url = sa.Column(sa.Text, nullable=False, info={"label": N_("URL"), "readonly": True})
    # The exact bytes sent (and signed), as text.
    body = sa.Column(sa.Text, nullable=False, info={"label": N_("Body"), "readonly": True})
    headers = sa.Column(
        sa.JSON,
        nullable=False,
        default=dict,
        info={"label": N_("Extra Headers"), "readonly": True, "secret": True},
    )
    timeout_seconds = sa.Column(
        sa.Float, nullable=False, default=10.0, info={"label": N_("Timeout (s)"), "readonly": True}
    )
    state = sa.Column(
        sa.Enum(
            *DELIVERY_STATES,
            name="webhook_delivery_state",
            native_enum=False,
            length=16,
            create_constraint=True,
        ),
        nullable=False,
        default="pending",
        info={"label": N_("State"), "selection_labels": DELIVERY_STATES, "readonly": True},
    )
    #: Every attempt the message had, over all its rounds (one row each in the attempts).
    attempt_count = sa.Column(
        sa.Integer, nullable=False, default=0, info={"label": N_("Attempts"), "readonly": True}
    )
    #: The attempts of the current round of the retry schedule: a manual retry or a replay
    #: starts a new round (the schedule again from its first delay).
    round_attempt_count = sa.Column(
        sa.Integer,
        nullable=False,
        default=0,
        server_default="0",
        info={"label": N_("Attempts This Round"), "readonly": True},
    )
    next_attempt_at = sa.Column(
        sa.DateTime, default=utcnow, info={"label": N_("Next Attempt"), "readonly": True}
    )
    # A worker's claim: which worker is sending it, and until when; a claim that runs out (the
    # worker died) makes the message due again.
    claimed_by = sa.Column(sa.String(64), info={"label": N_("Worker"), "readonly": True})
    claimed_until = sa.Column(sa.DateTime, info={"label": N_("Claimed Until"), "readonly": True})
    last_status_code = sa.Column(
        sa.Integer, info={"label": N_("Last HTTP Status"), "readonly": True}
    )
    last_error = sa.Column(sa.Text, info={"label": N_("Last Error"), "readonly": True})
    created_at = sa.Column(
        sa.DateTime,
        nullable=False,
        default=utcnow,
        index=True,
        info={"label": N_("Created"), "readonly": True},
    )
    delivered_at = sa.Column(sa.DateTime, info={"label": N_("Delivered"), "readonly": True})

    attempts = relationship(
        "WebhookDeliveryAttempt",
        back_populates="delivery",
        order_by="WebhookDeliveryAttempt.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __str__(self) -> str:
        return self.message_id or f"Delivery #{self.id}"


class WebhookDeliveryAttempt(Model):
    """One try at sending a message: when, what came back, how long it took."""

    __tablename__ = "webhook_delivery_attempt"
    __model_name__ = "webhook.delivery.attempt"
    __model_description__ = N_("Delivery Attempt")
    __model_order__ = "id"
    __model_code_access__ = "read"  # written by the worker alone

    id = sa.Column(sa.Integer, primary_key=True)
    delivery_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("webhook_delivery.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        info={"label": N_("Delivery"), "readonly": True},
    )
    delivery = relationship("WebhookDelivery", back_populates="attempts", lazy="selectin")
    attempted_at = sa.Column(
        sa.DateTime, nullable=False, default=utcnow, info={"label": N_("Time"), "readonly": True}
    )
    status_code = sa.Column(sa.Integer, info={"label": N_("HTTP Status"), "readonly": True})
    duration_ms = sa.Column(
        sa.Float, nullable=False, default=0.0, info={"label": N_("Duration (ms)"), "readonly": True}
    )
    error = sa.Column(sa.Text, info={"label": N_("Error"), "readonly": True})
    response_excerpt = sa.Column(sa.Text, info={"label": N_("Response Excerpt"), "readonly": True})
    worker = sa.Column(sa.String(64), info={"label": N_("Worker"), "readonly": True})

    def __str__(self) -> str:
        return f"Attempt #{self.id}"
