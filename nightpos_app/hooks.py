"""Hook specifications: the extension points addons implement.

Addons implement these with ``@hookimpl`` (a pluggy marker) in their package
``__init__``. pluggy checks each implementation against its specification when
the addon is registered: an implementation may take fewer arguments than the
spec, never others. Start-up fails, naming the addon, on an argument the spec
does not have and on an implementation of a hook that does not exist (a
misspelt name would otherwise never be called).

The *phase* hooks (``nightpos_models``, ``nightpos_views``, ``nightpos_ready``,
``nightpos_demo_data``, ``nightpos_roles``) are called addon by addon in dependency order, so an
addon always runs after the addons it depends on; ``tryfirst``/``trylast`` do
not apply to them, and they cannot be wrappers. An exception raised by a phase
hook stops start-up with the addon's name.
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

    Each class subclasses FAB's ``Model`` (so its table is in the metadata the
    migrations manage) and declares ``__model_name__`` (the technical name,
    e.g. ``"sale.order"``, unique across all addons) and
    ``__model_description__`` (the human label). Optional: ``__model_order__``
    (default search order), ``__model_computed__`` (read-only attributes
    exposed to the record API) and ``__model_code_access__`` (what automation code
    may do with the records: ``"write"``, the default, ``"read"`` or ``"none"``);
    a column holding a credential says so with ``info={"secret": True}``, and
    automation code never reads, searches, sorts or writes it. Import the models
    module inside the hook, so importing the addon package stays cheap and models
    load in this phase.
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
def nightpos_home_panels() -> list[Any]:
    """Return the addon's panels for the home page (called per visit of a logged-in user).

    Each is a :class:`nightpos_app.views.HomePanel`: a title, a template to render and its
    values. Show what needs attention (failures, backlogs) rather than what is fine.
    """


@hookspec
def nightpos_demo_data(env: Environment) -> None:
    """Create the addon's demo records (``flask nightpos init --demo``, once per database).

    ``env`` is trusted (host code): it may write every model, not only what automation code
    may."""


@hookspec
def nightpos_roles(appbuilder: AppBuilder) -> dict[str, list[tuple[str, str]]]:
    """Declare roles the addon needs, with their permissions (permission sync).

    Return ``{role name: [(permission, view or menu name), ...]}``, e.g.
    ``{"Automation Manager": [("can_list", "WebhookView"), ("menu_access", "Studio")]}``.
    Called by ``sync_permissions`` (``flask nightpos init``, ``make run``) after FAB has
    created every view's permissions: each role is created if missing and given each listed
    permission. Permissions an admin added to the role by hand are kept; a pair naming a
    permission that does not exist stops the sync (a typo would otherwise grant nothing).
    """


@hookspec
def nightpos_action_types() -> list[type[Any]]:
    """Return action types for automation rules (webhooks addon).

    Each is a subclass of ``addons.webhooks.action_types.ActionType``: a ``key`` (stored in
    actions; never change it), a ``label``, a ``description``, a marshmallow ``schema`` for its
    settings, and ``run(context, record, settings)``. Types are registered in addon
    dependency order; a duplicate key stops start-up. See docs/action-types.md.
    """
