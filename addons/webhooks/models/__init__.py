"""The webhooks addon's tables, one module per place in a call's flow.

- ``common``: secrets, their digests and rotation grace periods (what the others share);
- ``rules``: automation rules, their actions, the revision counter;
- ``due``: the due work of timing and scheduled rules;
- ``calls``: the call log (also the inbox and what replays read) and the idempotency keys;
- ``outbox``: outgoing messages and their attempts.

Import from here (``from addons.webhooks.models import AutomationRule``): every public name is
re-exported, and importing any one module imports them all, so every table is in the shared
metadata (foreign keys between the modules name tables) and every class in the declarative
registry (relationships name classes by string, resolved when the mappers are configured).
"""

from __future__ import annotations

from addons.webhooks.models.calls import (
    CALL_STATUSES,
    UNFINISHED_CALL_STATUSES,
    WebhookCall,
    WebhookRequest,
)
from addons.webhooks.models.common import (
    ROTATION_GRACE,
    grace_deadline,
    new_signing_secret,
    new_webhook_secret,
    secret_digest,
)
from addons.webhooks.models.due import DUE_STATES, SCHEDULE_RECORD, AutomationDue
from addons.webhooks.models.outbox import (
    DELIVERY_STATES,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from addons.webhooks.models.rules import (
    AUTH_SCHEMES,
    AUTOMATION_REVISION,
    DEFAULT_TARGET_RECORD,
    DELAY_UNITS,
    INTERVAL_UNITS,
    MAX_DELAY,
    RECORD_TRIGGERS,
    RESPOND_MODES,
    SCHEDULE_TRIGGER,
    TIMING_TRIGGERS,
    TRIGGERS,
    AutomationRule,
    ServerAction,
)

__all__ = [
    "AUTH_SCHEMES",
    "AUTOMATION_REVISION",
    "CALL_STATUSES",
    "DEFAULT_TARGET_RECORD",
    "DELAY_UNITS",
    "DELIVERY_STATES",
    "DUE_STATES",
    "INTERVAL_UNITS",
    "MAX_DELAY",
    "RECORD_TRIGGERS",
    "RESPOND_MODES",
    "ROTATION_GRACE",
    "SCHEDULE_RECORD",
    "SCHEDULE_TRIGGER",
    "TIMING_TRIGGERS",
    "TRIGGERS",
    "UNFINISHED_CALL_STATUSES",
    "AutomationDue",
    "AutomationRule",
    "ServerAction",
    "WebhookCall",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookRequest",
    "grace_deadline",
    "new_signing_secret",
    "new_webhook_secret",
    "secret_digest",
]
