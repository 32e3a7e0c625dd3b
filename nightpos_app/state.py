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


def get_env() -> Environment:
    """An environment over the current app's registry and the request's session."""
    return Environment(db.session, get_state().registry)
