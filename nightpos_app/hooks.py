"""Hook specifications: the extension points addons implement.

Addons implement these with ``@hookimpl`` (a pluggy marker) in their package
``__init__``. pluggy checks each implementation against its specification when
the addon is registered, and start-up fails on an implementation of a hook
that does not exist.

The *phase* hooks (``nightpos_models``, ``nightpos_views``, ``nightpos_ready``,
``nightpos_demo_data``) are called addon by addon in dependency order, so an
addon always runs after the addons it depends on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from flask import Flask
    from flask_appbuilder import AppBuilder

    from nightpos_app.crud import ModelViews
    from nightpos_app.orm import Environment

PROJECT = "nightpos"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Mark an addon's hook implementations: ``@hookimpl def nightpos_models(): ...``
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def nightpos_models() -> list[type[Any]]:
    """Return the addon's mapped model classes (models phase).

    Each class subclasses FAB's ``Model`` and declares ``__model_name__`` (the
    technical name, e.g. ``"sale.order"``) and ``__model_description__`` (the
    human label). Optional: ``__model_order__`` (default search order) and
    ``__model_computed__`` (read-only attributes exposed to the record API).
    Import the models module inside the hook, so importing the addon package
    stays cheap and models load in this phase.
    """


@hookspec
def nightpos_views(appbuilder: AppBuilder, views: ModelViews) -> None:
    """Register views, menus, APIs and blueprints (views phase).

    Runs after every addon's models are registered. ``views.add(model_name,
    menu=..., category=...)`` gives a model its CRUD screens and REST resource;
    models that get none here get the generic ones (without a menu entry).
    """


@hookspec
def nightpos_ready(app: Flask) -> None:
    """Finish start-up once every addon's views are registered (ready phase)."""


@hookspec
def nightpos_demo_data(env: Environment) -> None:
    """Create the addon's demo records (``flask nightpos init --demo``, once per database)."""
