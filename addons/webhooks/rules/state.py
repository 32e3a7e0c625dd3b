"""The webhooks addon's per-app state (``app.extensions['nightpos.webhooks']``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from addons.webhooks.action_types import ActionTypeRegistry
from addons.webhooks.rules.revision import RevisionCache
from nightpos_app.sandbox import standard_helpers
from nightpos_app.sandbox.process import IsolatedSandbox

if TYPE_CHECKING:
    from addons.webhooks.incoming.webhook_rules import WebhookRule
    from addons.webhooks.rules.triggers import RecordRule

EXTENSION_KEY = "nightpos.webhooks"
#: App extension key: factories of periodic jobs the outbox worker's loop runs besides sending
#: (each gets the app and returns a callable that does its work if due and returns how much it
#: did). The timing scheduler registers itself here, so the outbox knows no job by name.
WORKER_JOBS_KEY = "nightpos.worker.jobs"


@dataclass
class Webhooks:
    """The action types, the sandbox and the rule caches of one app."""

    action_types: ActionTypeRegistry
    sandbox: IsolatedSandbox
    #: Webhook rules by their secrets' digests, as this process last read them: only secrets
    #: that found a rule are kept, so unknown secrets tried by someone cannot fill it.
    webhook_rules: RevisionCache[str, WebhookRule] = field(
        default_factory=lambda: RevisionCache(max_entries=10_000)
    )
    #: The active record rules, as this process last read them.
    record_rules: RevisionCache[str, tuple[RecordRule, ...]] = field(
        default_factory=lambda: RevisionCache(max_entries=1)
    )

    def helpers(self, log: Callable[[str], None]) -> dict[str, Any]:
        """The standard names for admin code, with ``log`` writing to ``log``."""
        return standard_helpers(log=log)


def get_webhooks(app: Flask | None = None) -> Webhooks:
    return (app or current_app).extensions[EXTENSION_KEY]
