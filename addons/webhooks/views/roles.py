"""The Automation Manager role: every permission on the addon's screens, REST resources and
menus (declared through the ``nightpos_roles`` hook; see :mod:`addons.webhooks.security`)."""

from __future__ import annotations

from typing import Any

from addons.webhooks.security import ADDON_MODELS
from addons.webhooks.views import STUDIO
from addons.webhooks.views.naming import APP_MODELS
from addons.webhooks.views.rules import AutomationRuleView
from nightpos_app.state import get_state


def addon_view_names(appbuilder: Any) -> list[str]:
    """The FAB view names (permission holders) of the addon's screens and REST resources."""
    views = get_state().views
    if views is None:  # pragma: no cover - start-up order
        raise RuntimeError("the webhooks views are not registered")
    # The instance's name: FAB fills ``class_permission_name`` in when it builds the view.
    names = [v.class_permission_name for v in appbuilder.baseviews if type(v) is AutomationRuleView]
    for model in ADDON_MODELS:
        names += [views.views[model].class_permission_name, views.apis[model].class_permission_name]
    return names


def addon_menu_names() -> list[str]:
    """The menu entries the addon adds: the Studio category, its items, each app's link."""
    return [
        STUDIO,
        "Webhooks",
        "Automation Rules",
        "Deliveries",
        *(f"{cat} Webhooks" for cat, _ in APP_MODELS),
    ]


def automation_manager_permissions(appbuilder: Any) -> list[tuple[str, str]]:
    """Every permission that exists on the addon's views, APIs and menus, as (name, view).

    Read from the database after FAB's sync, so a permission a view gains later (a new
    ``@permission_name``) is granted without listing it here. A menu entry whose app is not
    installed (no ``Contacts Webhooks`` without contacts) has no permission and is skipped.
    """
    sm = appbuilder.sm
    pairs: list[tuple[str, str]] = []
    for name in addon_view_names(appbuilder):
        view_menu = sm.find_view_menu(name)
        for pv in sm.find_permissions_view_menu(view_menu) if view_menu else []:
            pairs.append((pv.permission.name, name))
    for name in addon_menu_names():
        if sm.find_permission_view_menu("menu_access", name) is not None:
            pairs.append(("menu_access", name))
    return pairs
