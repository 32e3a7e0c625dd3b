"""Action types: what an automation rule's actions can do.

An action type is one class (:class:`ActionType`): a key, a label, a description, a
marshmallow schema for its settings, and ``run``. Addons contribute types through the
``nightpos_action_types`` hook — the built-in ones too — so no core file lists them.
"""

from addons.webhooks.action_types.base import (
    ActionContext,
    ActionType,
    ActionTypeRegistry,
    SettingsError,
)

__all__ = ["ActionContext", "ActionType", "ActionTypeRegistry", "SettingsError"]
