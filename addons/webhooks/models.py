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


def new_webhook_secret() -> str:
    """256 bits from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def new_signing_secret() -> str:
    """A Standard Webhooks style secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def grace_deadline(grace: dt.timedelta | None) -> dt.datetime | None:
    """When a rotation's grace period ends (UTC), or None for no grace period."""
    return utcnow() + grace if grace is not None and grace > dt.timedelta(0) else None


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


#: When a rule's webhook answers its caller (addons/webhooks/incoming/inbox.py): after running
#: the rule (200 or 500, the specification's answers), or at once (202, the call kept in the
#: call log and run by a worker). ``after_run`` is the default.
RESPOND_MODES: dict[str, str] = {
    "after_run": N_("After running the rule"),
    "at_once": N_("At once (202), then run in the background"),
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


#: Where a due run is: waiting for its time, being run by a scheduler, run, or failed.
DUE_STATES: dict[str, str] = {
    "pending": N_("Pending"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
}
#: The record id of a scheduled rule's one due row (it runs on no record).
SCHEDULE_RECORD = 0


class AutomationDue(Model):
    """Work a timing rule has to do at a time: one row per rule and record (a scheduled rule
    has one row, record 0, holding its next run).

    The record-trigger hooks keep it current (a record whose date changes gets the new time and
    is pending again; ``basis`` is the value the time was computed from, so each value runs
    once). The scheduler finds due rows through ``ix_base_automation_due_state_due_at`` and
    claims them (``claimed_by``/``claimed_until``: a lease that a dead scheduler's claim runs out
    of). Times are UTC.
    """

    __tablename__ = "base_automation_due"
    __table_args__ = (
        sa.UniqueConstraint("rule_id", "record_id", name="uq_base_automation_due_rule_record"),
        sa.Index("ix_base_automation_due_state_due_at", "state", "due_at"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    rule_id = sa.Column(
        sa.Integer, sa.ForeignKey("base_automation.id", ondelete="CASCADE"), nullable=False
    )
    record_id = sa.Column(sa.Integer, nullable=False)
    due_at = sa.Column(sa.DateTime, nullable=False)
    # The date value (or creation / update time) due_at was computed from, as ISO text.
    basis = sa.Column(sa.String(32))
    state = sa.Column(sa.String(16), nullable=False, default="pending")
    claimed_by = sa.Column(sa.String(64))
    claimed_until = sa.Column(sa.DateTime)
    last_run_at = sa.Column(sa.DateTime)
    last_error = sa.Column(sa.Text)


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
        info={"label": N_("Replayed"), "readonly": True},
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
