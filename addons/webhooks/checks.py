"""Checks shared by the screens and the REST API, and their messages in plain sentences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from addons.webhooks.action_types import SettingsError
from addons.webhooks.models import ServerAction
from addons.webhooks.rules.state import get_webhooks
from nightpos_app.orm.registry import ModelEntry
from nightpos_app.state import get_env


def flatten_messages(messages: Any, prefix: str = "") -> list[str]:
    """marshmallow's nested messages (``{0: {"field": [...]}}``) as plain sentences."""
    if isinstance(messages, str):
        return [f"{prefix}{messages}"]
    if isinstance(messages, Mapping):
        out: list[str] = []
        for key, value in messages.items():
            where = f"Line {key + 1}: " if isinstance(key, int) else f"{key}: "
            out.extend(flatten_messages(value, prefix + where))
        return out
    if isinstance(messages, (list, tuple)):
        return [text for item in messages for text in flatten_messages(item, prefix)]
    return [f"{prefix}{messages}"]


def actions_not_suiting(actions: Iterable[ServerAction], entry: ModelEntry) -> list[str]:
    """Why some of a rule's actions would not work on ``entry`` (its Model is being changed:
    their settings name fields of the old one). Empty when they all suit it."""
    webhooks = get_webhooks()
    env = get_env()
    problems: list[str] = []
    for action in actions:
        if action.action_type not in webhooks.action_types:
            continue  # a type whose addon is gone: nothing to check it with
        try:
            webhooks.action_types[action.action_type].validate(
                action.settings or {}, entry, env, webhooks.sandbox
            )
        except SettingsError as exc:
            reasons = "; ".join(flatten_messages(exc.messages))
            problems.append(f"The action {action.name!r} does not suit this model: {reasons}")
    return problems
