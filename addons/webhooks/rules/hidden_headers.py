"""Header values in an action's settings, hidden from those who may not read secrets.

An action's extra headers (Send Webhook Notification's, or any type's setting whose widget is
``headers``) often carry a receiver's credentials (``Authorization: Bearer …``). Whoever may
read actions but not secrets (``can_read_secret``, addons/webhooks/security.py) sees each
header's name with :data:`HIDDEN` as its value: in the REST API, on the action's page and in
its form. Saving settings whose header still reads :data:`HIDDEN` keeps the stored value, so
such a user can edit the rest of an action without knowing its credentials.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema

from addons.webhooks.rules.state import get_webhooks

#: What a hidden header value reads as.
HIDDEN = "(hidden)"


def header_settings(type_key: str) -> tuple[str, ...]:
    """The settings of action type ``type_key`` that hold headers (``widget: headers``)."""
    types = get_webhooks().action_types
    return _header_fields(types[type_key].schema) if type_key in types else ()


@functools.cache
def _header_fields(schema: type[Schema]) -> tuple[str, ...]:
    # Per schema class, once: an action list would otherwise build a schema per row.
    fields = schema().fields
    return tuple(name for name, f in fields.items() if f.metadata.get("widget") == "headers")


def hide(type_key: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``settings`` with every header value replaced by :data:`HIDDEN`."""
    shown = dict(settings)
    for key in header_settings(type_key):
        headers = shown.get(key)
        if isinstance(headers, Mapping):
            shown[key] = {name: HIDDEN for name in headers}
    return shown


def hide_any(settings: Any) -> Any:
    """:func:`hide` for settings whose type is not at hand: every registered type's header
    settings are hidden (the action's page formats its settings on their own)."""
    if not isinstance(settings, Mapping):
        return settings
    shown = dict(settings)
    for action_type in get_webhooks().action_types:
        shown = hide(action_type.key, shown)
    return shown


def restore(type_key: str, settings: Any, stored: Mapping[str, Any] | None) -> Any:
    """``settings`` with each header still reading :data:`HIDDEN` given its stored value (the
    same header name, in any case). A hidden value with no stored one stays :data:`HIDDEN`,
    which :func:`still_hidden` reports."""
    if not isinstance(settings, Mapping):
        return settings
    restored = dict(settings)
    for key in header_settings(type_key):
        headers = restored.get(key)
        if not isinstance(headers, Mapping):
            continue
        old = stored.get(key) if stored else None
        known = {str(n).lower(): v for n, v in old.items()} if isinstance(old, Mapping) else {}
        restored[key] = {
            name: known.get(str(name).lower(), value) if value == HIDDEN else value
            for name, value in headers.items()
        }
    return restored


def still_hidden(type_key: str, settings: Any) -> list[str]:
    """The headers of ``settings`` whose value is :data:`HIDDEN` (none to restore it from)."""
    if not isinstance(settings, Mapping):
        return []
    return [
        str(name)
        for key in header_settings(type_key)
        if isinstance(settings.get(key), Mapping)
        for name, value in settings[key].items()
        if value == HIDDEN
    ]
