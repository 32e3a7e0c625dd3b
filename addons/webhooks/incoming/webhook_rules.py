"""Finding a webhook call's rule by its secret, cached per process.

A rule is read by the SHA-256 digest of its secret (an indexed column), with its actions and
the revision in the same statement, and kept per process (addons/webhooks/rules/revision.py). A call
whose secret the process knows starts from its copy without a query; the call's write
transaction reads the revision (:func:`is_current`) before it commits and, if a rule changed
meanwhile, the call is rolled back and starts again from a fresh read (:class:`StaleRule`).
An unknown secret is always looked up, in a read-only transaction, so a flood of wrong URLs
never takes SQLite's write lock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
from typing import Any

import sqlalchemy as sa

from addons.webhooks.incoming.guards import RuleGuards
from addons.webhooks.models import AutomationRule, ServerAction, secret_digest
from addons.webhooks.rules import revision
from addons.webhooks.rules.engine import ActionSpec, RuleSpec
from addons.webhooks.rules.revision import REVISION_COLUMN
from addons.webhooks.rules.state import get_webhooks
from nightpos_app.extensions import db
from nightpos_app.models import utcnow

#: Secrets are token_urlsafe(32): 43 characters. Longer input is not looked up at all.
MAX_SECRET_LENGTH = 128

_RULES = AutomationRule.__table__
_ACTIONS = ServerAction.__table__
#: The rule, its actions and the revision in one query, read with Core: a call needs their
#: values, not ORM objects, and building those cost more than the rest of the look-up.
_FIND_RULE = (
    sa.select(
        _RULES,
        _ACTIONS.c.id.label("action_id"),
        _ACTIONS.c.name.label("action_name"),
        _ACTIONS.c.action_type.label("action_type"),
        _ACTIONS.c.settings.label("action_settings"),
        REVISION_COLUMN,
    )
    # Only active actions (a webhook receiver answering 410 Gone deactivates a Send Webhook).
    .outerjoin(_ACTIONS, sa.and_(_ACTIONS.c.rule_id == _RULES.c.id, _ACTIONS.c.active.is_(True)))
    # The current secret, or the previous one during a rotation's grace period: both columns
    # are indexed, so this stays two index look-ups.
    .where(
        sa.or_(
            _RULES.c.webhook_secret_digest == sa.bindparam("digest"),
            _RULES.c.previous_secret_digest == sa.bindparam("digest"),
        )
    )
    .order_by(_ACTIONS.c.sequence, _ACTIONS.c.id)
)


@dataclasses.dataclass(frozen=True)
class WebhookRule:
    """What a call needs of its rule: what runs, its guards, and whether calls are logged."""

    spec: RuleSpec
    guards: RuleGuards
    log_calls: bool
    #: The revision it was read at.
    revision: int | None
    #: The secret it answers to; None when it was found by its previous secret's digest.
    secret: str | None
    #: Until when the previous secret is accepted (found by the previous secret only).
    previous_expires_at: dt.datetime | None
    #: Read by this call (True) or the process's copy, to be confirmed by :func:`is_current`.
    fresh: bool = True
    #: Respond at once (202; a worker runs the call) rather than after running.
    at_once: bool = False
    #: Keep each call's payload whole for replay.
    keep_payloads: bool = False

    @property
    def id(self) -> int:
        return self.spec.id

    def answers_to(self, secret: str, now: dt.datetime) -> bool:
        """Whether ``secret`` (whose digest found this rule) still opens it."""
        if self.secret is not None:
            return hmac.compare_digest(self.secret.encode(), secret.encode())
        return self.previous_expires_at is not None and self.previous_expires_at > now


class StaleRule(Exception):
    """A rule changed since the process read it: the call starts again from a fresh read."""


def find_rule(secret: str, *, use_cache: bool = True) -> WebhookRule | None:
    """The active webhook rule whose secret is ``secret``, or None.

    With ``use_cache``, the process's copy when it has one (not yet confirmed: see
    :func:`is_current`); otherwise the rule is read, on a connection of its own (a read-only
    transaction, without the ORM session's machinery: most unknown secrets end here, as 404s).
    """
    if len(secret) > MAX_SECRET_LENGTH:
        return None
    digest = secret_digest(secret)
    cache = get_webhooks().webhook_rules
    if use_cache:
        held = cache.get(digest)
        if held is not None and held[1].answers_to(secret, utcnow()):
            return dataclasses.replace(held[1], fresh=False)
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # One statement needs no transaction of its own: in autocommit psycopg sends no
            # BEGIN before it and the pool no ROLLBACK after it (two of a 404's four round
            # trips; the others are the pool's ping and the SELECT).
            connection.execution_options(isolation_level="AUTOCOMMIT")
        rows = connection.execute(_FIND_RULE, {"digest": digest}).all()
    rule = _rule_of(rows, digest)
    if rule is None:
        cache.discard(digest)
        return None
    cache.put(digest, rule.revision, rule)
    return rule if rule.answers_to(secret, utcnow()) else None


def is_current(rule: WebhookRule) -> bool:
    """Whether ``rule`` is what the database holds now, read in the call's transaction (one
    primary-key read, which the record triggers then reuse)."""
    return rule.fresh or revision.current(db.session()) == rule.revision


def _rule_of(rows: list[sa.Row[Any]], digest: str) -> WebhookRule | None:
    if not rows:
        return None
    # A secret is some rule's current one or (in a grace period) another's previous one;
    # prefer the current match, and keep only that rule's rows.
    row = next((r for r in rows if r.webhook_secret_digest == digest), rows[0])
    if not row.active or row.trigger != "on_webhook":
        return None
    current = hmac.compare_digest(row.webhook_secret_digest.encode(), digest.encode())
    spec = RuleSpec.with_actions(
        row,
        (
            ActionSpec(r.action_id, r.action_name, r.action_type, dict(r.action_settings or {}))
            for r in rows
            if r.id == row.id and r.action_id is not None
        ),
    )
    return WebhookRule(
        spec=spec,
        guards=RuleGuards.of(row),
        log_calls=bool(row.log_calls),
        revision=row.revision,
        secret=row.webhook_secret if current else None,
        previous_expires_at=None if current else row.previous_secret_expires_at,
        at_once=row.respond == "at_once",
        keep_payloads=bool(row.keep_payloads),
    )
