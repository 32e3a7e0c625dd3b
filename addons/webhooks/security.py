"""Who may see a webhook's secret and URL, and who may write code.

The secret is the credential of the webhook URL: whoever reads it can act on the database.
Reading rules is not enough to see it; a separate permission, ``can_read_secret`` on the rule
REST resource, is needed, on the screens as in the API. The Admin role gets every permission
when permissions are synced; the ``Automation Manager`` role (declared by this addon through
the ``nightpos_roles`` hook, created at permission sync) gets every permission on the addon's
screens, REST resources and menus, ``can_read_secret`` included, and nothing else. Every other
role sees no rule, action, secret, URL, call log or delivery: 403 in the screens and the API.

The same permission guards the other secrets of the addon: an action's signing secret (Send
Webhook Notification) and the values of extra headers, an action's
(:mod:`addons.webhooks.rules.hidden_headers`) and an outgoing message's (often a receiver's
credentials).

Writing code is the power to run code, so it takes a permission of its own too,
``can_write_code`` on the same resource: creating or changing a rule's Model, Trigger, Target
Record or record filters, and creating, changing or deleting an action that holds code
(:mod:`addons.webhooks.rules.code_rights` says exactly what). Admins and Automation Managers
have it.
"""

from __future__ import annotations

from flask import current_app

from nightpos_app.state import get_state

SECRET_PERMISSION = "can_read_secret"  # noqa: S105 (a permission's name, not a secret)
CODE_PERMISSION = "can_write_code"
RULE_MODEL = "base.automation"
#: The role that manages automation rules without being an admin.
AUTOMATION_MANAGER = "Automation Manager"
#: The models whose screens and REST resources belong to this addon.
ADDON_MODELS = (
    "base.automation",
    "ir.actions.server",
    "base.automation.call",
    "webhook.delivery",
    "webhook.delivery.attempt",
)


def secret_view_name() -> str:
    """The FAB view name the secret permission belongs to (the rule API's)."""
    views = get_state().views
    if views is None or RULE_MODEL not in views.apis:  # pragma: no cover - start-up order
        raise RuntimeError("the automation rule API is not registered")
    return str(views.apis[RULE_MODEL].class_permission_name)


def can_read_secrets() -> bool:
    """Whether the current user (session or JWT) may see webhook secrets and URLs."""
    return bool(current_app.appbuilder.sm.has_access(SECRET_PERMISSION, secret_view_name()))


def can_write_code() -> bool:
    """Whether the current user (session or JWT) may write code: see
    :mod:`addons.webhooks.rules.code_rights`."""
    return bool(current_app.appbuilder.sm.has_access(CODE_PERMISSION, secret_view_name()))
