"""Who may see a webhook's secret and URL.

The secret is the credential of the webhook URL: whoever reads it can act on the database.
Reading rules is not enough to see it; a separate permission, ``can_read_secret`` on the rule
REST resource, is needed, on the screens as in the API. The Admin role gets every permission
when permissions are synced, so today admins see secrets and nobody else does; a role made
later (an "Automation Manager") can be given it explicitly.
"""

from __future__ import annotations

from flask import current_app

from nightpos_app.state import get_state

SECRET_PERMISSION = "can_read_secret"  # noqa: S105 (a permission's name, not a secret)
RULE_MODEL = "base.automation"


def secret_view_name() -> str:
    """The FAB view name the secret permission belongs to (the rule API's)."""
    views = get_state().views
    if views is None or RULE_MODEL not in views.apis:  # pragma: no cover - start-up order
        raise RuntimeError("the automation rule API is not registered")
    return str(views.apis[RULE_MODEL].class_permission_name)


def can_read_secrets() -> bool:
    """Whether the current user (session or JWT) may see webhook secrets and URLs."""
    return bool(current_app.appbuilder.sm.has_access(SECRET_PERMISSION, secret_view_name()))
