"""Helpers for the request-guard tests: a rule whose every run leaves a countable trace."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.addons.webhooks.conftest import read

#: Each run creates one contact named after the payload's ``name``.
CREATE_CONTACT = {
    "name": "Create contact",
    "action_type": "execute_code",
    "settings": {"code": "env['res.partner'].create({'name': payload.get('name')})"},
}


def counting_rule(make_rule: Any, **values: Any) -> dict[str, Any]:
    """A rule on contacts that creates a contact per run (see :func:`runs`)."""
    return make_rule(
        "res.partner", target_record="model.browse([2])", actions=[CREATE_CONTACT], **values
    )


def runs(app: Flask, name: str) -> int:
    """How many times a counting rule ran for payloads named ``name``."""
    return len(read(app, "res.partner", [("name", "=", name)], ["name"]))
