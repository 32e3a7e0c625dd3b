"""Automation rules (``base.automation``), their actions (``ir.actions.server``), and the
revision counter every change to either bumps."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import relationship

from addons.webhooks.models.common import (
    grace_deadline,
    new_signing_secret,
    new_webhook_secret,
    secret_digest,
)
from nightpos_app.i18n import N_
from nightpos_app.models import utcnow

#: The default Target Record: what another NightPOS sends (`_model`, `_id`) finds the record.
DEFAULT_TARGET_RECORD = "model.env[payload.get('_model')].browse(int(payload.get('_id')))"

#: Triggers, in the order the screens list them: a call to the rule's URL, or a change of a
#: record of the rule's model (addons/webhooks/rules/triggers.py). The column has no CHECK
#: constraint so that adding one needs no migration. Labels (here and in every ``info``) are
#: English, marked with ``N_``: the screens translate them when they show them, the record API
#: and the REST API keep them as they are.
TRIGGERS: dict[str, str] = {
    "on_webhook": N_("On webhook"),
    "on_create": N_("On create"),
    "on_write": N_("On update"),
    "on_create_or_write": N_("On create or update"),
    "on_unlink": N_("On delete"),
    "on_value_set": N_("Values set"),
    "on_time": N_("Based on date field"),
    "on_time_created": N_("After creation"),
    "on_time_updated": N_("After last update"),
    "on_schedule": N_("Scheduled"),
}
#: The record triggers, and which kinds of change each reacts to. "Values set" is On create or
#: update narrowed to the moment a selection field takes a value (addons/webhooks/triggers.py).
RECORD_TRIGGERS: dict[str, frozenset[str]] = {
    "on_create": frozenset({"create"}),
    "on_write": frozenset({"write"}),
    "on_create_or_write": frozenset({"create", "write"}),
    "on_unlink": frozenset({"unlink"}),
    "on_value_set": frozenset({"create", "write"}),
}
#: The timing triggers, and which changes make a record due (or due again): they run later,
#: from the due-work table (:class:`AutomationDue`), when the scheduler finds them due.
TIMING_TRIGGERS: dict[str, frozenset[str]] = {
    "on_time": frozenset({"create", "write"}),
    "on_time_created": frozenset({"create"}),
    "on_time_updated": frozenset({"create", "write"}),
}
#: Rules that run on a period, with no record change at all (Odoo's scheduled actions).
SCHEDULE_TRIGGER = "on_schedule"
#: Units of a timing rule's delay (a negative delay is before the date).
DELAY_UNITS: dict[str, str] = {
    "minutes": N_("Minutes"),
    "hours": N_("Hours"),
    "days": N_("Days"),
    "months": N_("Months"),
}
#: Units of a scheduled rule's period.
INTERVAL_UNITS: dict[str, str] = {
    "minutes": N_("Minutes"),
    "hours": N_("Hours"),
    "days": N_("Days"),
    "weeks": N_("Weeks"),
    "months": N_("Months"),
}
#: A delay or period is bounded (about ten years in minutes): a date beyond year 9999 cannot be
#: stored.
MAX_DELAY = 5_256_000


#: How a rule's webhook authenticates its callers (besides knowing the URL). Off by default.
AUTH_SCHEMES: dict[str, str] = {
    "none": N_("None (the URL is the credential)"),
    "standard": N_("Standard Webhooks signature"),
    "github": N_("GitHub signature (X-Hub-Signature-256)"),
    "header": N_("Shared secret header"),
}


#: When a rule's webhook answers its caller (addons/webhooks/incoming/inbox.py): after running
#: the rule (200 or 500, the specification's answers), or at once (202, the call kept in the
#: call log and run by a worker). ``after_run`` is the default.
RESPOND_MODES: dict[str, str] = {
    "after_run": N_("After running the rule"),
    "at_once": N_("At once (202), then run in the background"),
}


class AutomationRule(Model):
    """An automation rule (``base.automation``): a trigger, a Target Record, actions."""

    __tablename__ = "base_automation"
    __model_name__ = "base.automation"
    __model_description__ = N_("Automation Rule")
    __model_order__ = "name, id"
    #: Automation code reads rules (minus their secrets) but never changes them: changing a
    #: rule's Target Record or Model is writing code, which takes a permission of its own
    #: (addons/webhooks/security.py).
    __model_code_access__ = "read"
    #: Managed by migrations with the rule (migrations/env.py) but not a model of its own:
    #: idempotency keys get no screens and no record API.
    __owned_tables__ = (
        "base_automation_request",
        "base_automation_revision",
        "base_automation_due",
    )
    # Partial indexes: the columns are nearly always NULL and "on_webhook". A full index on
    # such a column makes SQLite's planner, once ANALYZE has counted the rows, expect every
    # look-up to return most of the table and scan it instead (a call's rule look-up and every
    # write transaction's record-rule look-up, with 10,000 rules: `make bench`, growth).
    __table_args__ = (
        sa.Index(
            "ix_base_automation_previous_secret_digest",
            "previous_secret_digest",
            sqlite_where=sa.text("previous_secret_digest IS NOT NULL"),
            postgresql_where=sa.text("previous_secret_digest IS NOT NULL"),
        ),
        sa.Index(
            "ix_base_automation_record_trigger",
            "trigger",
            sqlite_where=sa.text("\"trigger\" <> 'on_webhook'"),
            postgresql_where=sa.text("\"trigger\" <> 'on_webhook'"),
        ),
    )

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
        info={"label": N_("Webhook Secret"), "readonly": True, "secret": True},
    )
    webhook_secret_digest = sa.Column(
        sa.String(64),
        nullable=False,
        unique=True,
        info={"label": N_("Secret Digest"), "readonly": True, "secret": True},
    )
    # After a rotation with a grace period: the previous secret's digest (never the secret
    # itself) and when it stops working. Both empty otherwise.
    previous_secret_digest = sa.Column(
        sa.String(64),
        info={"label": N_("Previous Secret Digest"), "readonly": True, "secret": True},
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
    # Request guards (addons/webhooks/incoming/guards.py): each is off until set.
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
        info={"label": N_("Signing Secret"), "readonly": True, "secret": True},
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
    # Respond at once (addons/webhooks/incoming/inbox.py): the call is stored and answered 202,
    # a worker runs it. Ordered: a worker runs the rule's calls one at a time, oldest first.
    respond = sa.Column(
        sa.String(16),
        nullable=False,
        default="after_run",
        server_default="after_run",
        info={"label": N_("Respond"), "selection_labels": RESPOND_MODES},
    )
    ordered = sa.Column(
        sa.Boolean,
        nullable=False,
        default=False,
        server_default=sa.false(),
        info={"label": N_("One Call at a Time, in Order")},
    )
    # The call log keeps each call's payload whole (masked keys still masked, up to
    # WEBHOOK_REPLAY_PAYLOAD_BYTES), so that a logged call can be replayed.
    keep_payloads = sa.Column(
        sa.Boolean,
        nullable=False,
        default=False,
        server_default=sa.false(),
        info={"label": N_("Keep Payloads for Replay")},
    )
    # Empty: the WEBHOOK_CPU_SECONDS default. Capped by WEBHOOK_CPU_SECONDS_MAX on save and
    # at run time (addons/webhooks/settings.py).
    cpu_seconds = sa.Column(sa.Float, info={"label": N_("CPU Time Limit (s)")})
    # Record triggers (addons/webhooks/rules/triggers.py). Domains are written as in Odoo, a Python
    # list literal: [("state", "=", "sale")]. Empty: every record.
    filter_domain = sa.Column(
        sa.Text,
        info={
            "label": N_("Apply On"),
            "help": N_("Only records matching this domain, e.g. [('state', '=', 'sale')]"),
        },
    )
    filter_pre_domain = sa.Column(
        sa.Text,
        info={
            "label": N_("Before Update Domain"),
            "help": N_("On update: only records that matched this domain before the change"),
        },
    )
    # On update: a comma-separated list of field names; empty means any field.
    trigger_fields = sa.Column(
        sa.Text,
        info={
            "label": N_("Trigger Fields"),
            "help": N_("On update: only when one of these fields changes (comma-separated)"),
        },
    )
    # Values set: the selection field and the value that makes the rule run.
    trg_selection_field = sa.Column(sa.String(64), info={"label": N_("Field")})
    trg_selection_value = sa.Column(sa.String(64), info={"label": N_("Value")})
    # Timing triggers (addons/webhooks/rules/due.py): Based on date field reads this field;
    # every timing trigger waits the delay (negative: before the date).
    trg_date_field = sa.Column(sa.String(64), info={"label": N_("Date Field")})
    trg_date_range = sa.Column(sa.Integer, info={"label": N_("Delay")})
    trg_date_range_type = sa.Column(
        sa.String(16), info={"label": N_("Delay Unit"), "selection_labels": DELAY_UNITS}
    )
    # Scheduled: every interval_number interval_type (the next run is in base_automation_due).
    interval_number = sa.Column(sa.Integer, info={"label": N_("Run Every")})
    interval_type = sa.Column(
        sa.String(16), info={"label": N_("Period Unit"), "selection_labels": INTERVAL_UNITS}
    )
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
        self.previous_secret_expires_at = grace_deadline(grace)
        self.previous_secret_digest = (
            (self.webhook_secret_digest or secret_digest(self.webhook_secret))
            if self.previous_secret_expires_at
            else None
        )
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
    #: Read-only to automation code, as rules are; its settings (code, URLs, header values
    #: that are often a receiver's credentials) and signing secrets are not readable at all.
    __model_code_access__ = "read"

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
        sa.JSON, nullable=False, default=dict, info={"label": N_("Action Details"), "secret": True}
    )
    # Off when the action must not run any more (a webhook receiver answered 410 Gone).
    active = sa.Column(
        sa.Boolean,
        nullable=False,
        default=True,
        server_default=sa.true(),
        info={"label": N_("Active")},
    )
    # Send Webhook Notification signs its messages with this (Standard Webhooks); after a
    # rotation the previous secret signs too until it expires, so receivers can switch over.
    signing_secret = sa.Column(
        sa.String(128),
        nullable=False,
        default=new_signing_secret,
        info={"label": N_("Signing Secret"), "readonly": True, "secret": True},
    )
    previous_signing_secret = sa.Column(
        sa.String(128),
        info={"label": N_("Previous Signing Secret"), "readonly": True, "secret": True},
    )
    previous_signing_secret_expires_at = sa.Column(
        sa.DateTime, info={"label": N_("Previous Secret Signs Until"), "readonly": True}
    )

    def rotate_signing_secret(self, grace: dt.timedelta | None = None) -> None:
        """Replace the signing secret; the old one keeps signing too for ``grace``."""
        self.previous_signing_secret_expires_at = grace_deadline(grace)
        self.previous_signing_secret = (
            self.signing_secret if self.previous_signing_secret_expires_at else None
        )
        self.signing_secret = new_signing_secret()

    def signing_secrets(self) -> list[str]:
        """The secrets messages are signed with now: the current one, and the previous one
        while its grace period runs."""
        secrets_now = [self.signing_secret]
        expires = self.previous_signing_secret_expires_at
        if self.previous_signing_secret and expires is not None and expires > utcnow():
            secrets_now.append(self.previous_signing_secret)
        return secrets_now

    def __str__(self) -> str:
        return self.name or f"Action #{self.id}"


#: The automation configuration's revision: one row, its counter bumped in every transaction
#: that changes a rule or an action (addons/webhooks/rules/revision.py). Processes cache what they
#: read from rules per revision, so a change is seen everywhere at its commit.
AUTOMATION_REVISION = sa.Table(
    "base_automation_revision",
    Model.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.BigInteger, nullable=False, default=0),
)
