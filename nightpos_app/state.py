"""Per-app NightPOS state, kept in ``app.extensions['nightpos']``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app

from nightpos_app.extensions import db
from nightpos_app.orm import Environment, ModelRegistry

if TYPE_CHECKING:
    import pluggy

    from nightpos_app.addons import Addon
    from nightpos_app.crud import ModelViews

EXTENSION_KEY = "nightpos"


@dataclass
class NightPOS:
    """What the host built at start-up: addons in load order, models, hooks, views."""

    addons: list[Addon]
    registry: ModelRegistry
    plugins: pluggy.PluginManager
    views: ModelViews | None = None


def get_state(app: Flask | None = None) -> NightPOS:
    return (app or current_app).extensions[EXTENSION_KEY]


def get_env(*, trusted: bool = False) -> Environment:
    """An environment over the current app's registry and the request's session.

    By default one for automation code: admin-written code is handed this, and everything the
    models declare holds (secret fields out of reach, models read-only to code refuse writes;
    :mod:`nightpos_app.orm.registry`). ``trusted=True`` is for host code that must see and
    change everything (demo data, tests, tools); never hand one to admin code.
    """
    return Environment(db.session, get_state().registry, trusted=trusted)
