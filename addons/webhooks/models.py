"""Automation rules, their actions, and the webhook call log."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import relationship

from nightpos_app.i18n import N_
from nightpos_app.models import utcnow

#: The default Target Record: what another NightPOS sends (`_model`, `_id`) finds the record.
DEFAULT_TARGET_RECORD = "model.env[payload.get('_model')].browse(int(payload.get('_id')))"

#: Triggers, in the order the screens list them. Record triggers join this list later; the
#: column has no CHECK constraint so that adding one needs no migration. Labels (here and in
#: every ``info``) are English, marked with ``N_``: the screens translate them when they show
#: them, the record API and the REST API keep them as they are.
TRIGGERS: dict[str, str] = {"on_webhook": N_("On webhook")}


def new_webhook_secret() -> str:
    """256 bits from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def new_signing_secret() -> str:
    """A Standard Webhooks style secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


#: How long Rotate Secret may keep the previous URL working, in the order the form lists them.
ROTATION_GRACE: dict[str, tuple[str, dt.timedelta | None]] = {
    "none": (N_("None: the old URL stops at once"), None),
    "1h": (N_("1 hour"), dt.timedelta(hours=1)),
    "24h": (N_("24 hours"), dt.timedelta(hours=24)),
    "7d": (N_("7 days"), dt.timedelta(days=7)),
}


#: How a rule's webhook authenticates its callers (besides knowing the URL). Off by default.
AUTH_SCHEMES: dict[str, str] = {
    "none": N_("None (the URL is the credential)"),
    "standard": N_("Standard Webhooks signature"),
    "github": N_("GitHub signature (X-Hub-Signature-256)"),
    "header": N_("Shared secret header"),
}


def secret_digest(secret: str) -> str:
    """The indexed lookup key of a secret: the database never compares the secret itself."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class AutomationRule(Model):
    """An automation rule (``base.automation``): a trigger, a Target Record, actions."""

    __tablename__ = "base_automation"
    __model_name__ = "base.automation"
    __model_description__ = N_("Automation Rule")
    __model_order__ = "name, id"
    #: Managed by migrations with the rule (migrations/env.py) but not a model of its own:
    #: idempotency keys get no screens and no record API.
    __owned_tables__ = ("base_automation_request",)

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(256), nullable=False, info={"label": N_("Name")})
    model = sa.Column(
        sa.String(128),
        nullable=False,
        info={"label": N_("Model"), "help": N_("Technical name, e.g. sale.order")},
    )
    trigger = sa.Column(
        sa.Enum(
            *TRIGGERS,
            name="base_automation_trigger",
            native_enum=False,
            length=32,
            create_constraint=False,
        ),
        nullable=False,
        default="on_webhook",
        info={"label": N_("Trigger"), "selection_labels": TRIGGERS},
    )
    active = sa.Column(sa.Boolean, nullable=False, default=True, info={"label": N_("Active")})
    webhook_secret = sa.Column(
        sa.String(64),
        nullable=False,
        default=new_webhook_secret,
        info={"label": N_("Webhook Secret"), "readonly": True},
    )
    webhook_secret_digest = sa.Column(
        sa.String(64),
        nullable=False,
        unique=True,
        info={"label": N_("Secret Digest"), "readonly": True},
    )
    # After a rotation with a grace period: the previous secret's digest (never the secret
    # itself) and when it stops working. Both empty otherwise.
    previous_secret_digest = sa.Column(
        sa.String(64), index=True, info={"label": N_("Previous Secret Digest"), "readonly": True}
    )
    previous_secret_expires_at = sa.Column(
        sa.DateTime, info={"label": N_("Previous URL Works Until"), "readonly": True}
    )
    target_record = sa.Column(
        sa.Text,
        nullable=False,
        default=DEFAULT_TARGET_RECORD,
        info={"label": N_("Target Record")},
    )
    log_calls = sa.Column(
        sa.Boolean, nullable=False, default=False, info={"label": N_("Log Calls")}
    )
    description = sa.Column(sa.Text, info={"label": N_("Description")})
    # Request guards (addons/webhooks/guards.py): each is off until set.
    auth_scheme = sa.Column(
        sa.String(16),
        nullable=False,
        default="none",
        server_default="none",
        info={"label": N_("Request Authentication"), "selection_labels": AUTH_SCHEMES},
    )
    signing_secret = sa.Column(
        sa.String(128),
        nullable=False,
        default=new_signing_secret,
        info={"label": N_("Signing Secret"), "readonly": True},
    )
    auth_header = sa.Column(
        sa.String(64),
        nullable=False,
        default="X-Webhook-Token",
        server_default="X-Webhook-Token",
        info={"label": N_("Secret Header Name")},
    )
    ip_allowlist = sa.Column(
        sa.Text, info={"label": N_("Allowed IP Addresses"), "help": N_("One CIDR a line")}
    )
    rate_limit = sa.Column(
        sa.String(64), info={"label": N_("Rate Limit"), "help": N_("e.g. 60/minute")}
    )
    idempotency = sa.Column(
        sa.Boolean,
        nullable=False,
        default=False,
        server_default=sa.false(),
        info={"label": N_("Idempotency Keys")},
    )
    # Empty: the WEBHOOK_CPU_SECONDS default. Capped by WEBHOOK_CPU_SECONDS_MAX on save and
    # at run time (addons/webhooks/settings.py).
    cpu_seconds = sa.Column(sa.Float, info={"label": N_("CPU Time Limit (s)")})
    created_at = sa.Column(
        sa.DateTime, nullable=False, default=utcnow, info={"label": N_("Created"), "readonly": True}
    )
    updated_at = sa.Column(
        sa.DateTime,
        nullable=False,
        default=utcnow,
        onupdate=utcnow,
        info={"label": N_("Last Updated"), "readonly": True},
    )

    actions = relationship(
        "ServerAction",
        back_populates="rule",
        order_by="(ServerAction.sequence, ServerAction.id)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def rotate_secret(self, grace: dt.timedelta | None = None) -> None:
        """Replace the secret; the old URL keeps working for ``grace`` (None: stops at once).

        Only the old secret's digest is kept: the webhook looks secrets up by digest anyway,
        and a leaked database row then cannot be turned back into the old URL.
        """
        if grace is not None and grace > dt.timedelta(0):
            self.previous_secret_digest = self.webhook_secret_digest or secret_digest(
                self.webhook_secret
            )
            self.previous_secret_expires_at = utcnow() + grace
        else:
            self.previous_secret_digest = None
            self.previous_secret_expires_at = None
        self.webhook_secret = new_webhook_secret()
        self.webhook_secret_digest = secret_digest(self.webhook_secret)

    def previous_url_works(self) -> bool:
        """Whether a rotation's grace period is still running."""
        expires = self.previous_secret_expires_at
        return bool(self.previous_secret_digest) and expires is not None and expires > utcnow()

    def rotate_signing_secret(self) -> None:
        """Replace the signing secret: senders must sign with the new one from now on."""
        self.signing_secret = new_signing_secret()

    def __str__(self) -> str:
        return self.name or f"Rule #{self.id}"


@sa.event.listens_for(AutomationRule, "before_insert")
def _fill_secret_digest(_mapper: object, _connection: object, rule: AutomationRule) -> None:
    if not rule.webhook_secret:
        rule.webhook_secret = new_webhook_secret()
    rule.webhook_secret_digest = secret_digest(rule.webhook_secret)
    if not rule.signing_secret:
        rule.signing_secret = new_signing_secret()


class ServerAction(Model):
    """One action of a rule (``ir.actions.server``): a registered type and its settings."""

    __tablename__ = "ir_actions_server"
    __model_name__ = "ir.actions.server"
    __model_description__ = N_("Action")
    __model_order__ = "sequence, id"

    id = sa.Column(sa.Integer, primary_key=True)
    rule_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("base_automation.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        info={"label": N_("Automation Rule")},
    )
    rule = relationship("AutomationRule", back_populates="actions")
    sequence = sa.Column(sa.Integer, nullable=False, default=10, info={"label": N_("Sequence")})
    name = sa.Column(sa.String(256), nullable=False, info={"label": N_("Action Name")})
    action_type = sa.Column(sa.String(64), nullable=False, info={"label": N_("Type")})
    settings = sa.Column(
        sa.JSON, nullable=False, default=dict, info={"label": N_("Action Details")}
    )

    def __str__(self) -> str:
        return self.name or f"Action #{self.id}"


CALL_STATUSES = {"ok": N_("OK"), "error": N_("Error")}


class WebhookCall(Model):
    """One call to a rule's webhook URL, kept when the rule has Log Calls on."""

    __tablename__ = "base_automation_call"
    __model_name__ = "base.automation.call"
    __model_description__ = N_("Webhook Call")
    __model_order__ = "id desc"
    __table_args__ = (sa.Index("ix_base_automation_call_rule_id_id", "rule_id", "id"),)

    id = sa.Column(sa.Integer, primary_key=True)
    rule_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("base_automation.id", ondelete="CASCADE"),
        nullable=False,
        info={"label": N_("Automation Rule"), "readonly": True},
    )
    rule = relationship("AutomationRule")
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
