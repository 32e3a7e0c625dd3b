"""The webhooks addon's per-app state (``app.extensions['nightpos.webhooks']``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from addons.webhooks.action_types import ActionTypeRegistry
from nightpos_app.sandbox import Sandbox, standard_helpers

EXTENSION_KEY = "nightpos.webhooks"


@dataclass
class Webhooks:
    """The action types and the sandbox of one app."""

    action_types: ActionTypeRegistry
    sandbox: Sandbox

    def helpers(self, log: Callable[[str], None]) -> dict[str, Any]:
        """The standard names for admin code, with ``log`` writing to ``log``."""
        return standard_helpers(log=log)


def get_webhooks(app: Flask | None = None) -> Webhooks:
    return (app or current_app).extensions[EXTENSION_KEY]
