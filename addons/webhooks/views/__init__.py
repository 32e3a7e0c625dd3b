"""The webhooks addon's screens (the "Studio") and REST resources.

=====================================  =========================================================
Studio → Webhooks                      ``/webhookview/list/`` — rules triggered On webhook
Studio → Automations                   ``/automationruleview/list/`` — every rule
Sales → Webhooks, Contacts → Webhooks  ``/webhookview/list/?model=sale.order`` (res.partner)
a rule's page                          ``/webhookview/show/<id>`` — URL, Rotate Secret, Logs,
                                       Actions To Do, dry run, curl
Add an action                          ``/serveractionview/add?rule_id=<id>``
Logs                                   ``/webhookcallview/list/?rule_id=<id>``
an action's page                       ``/serveractionview/show/<id>`` — signing secret, Rotate
Studio → Deliveries                    ``/webhookdeliveryview/list/`` (``?rule_id=``,
                                       ``?action_id=``, ``?state=``); a message's page
                                       ``/webhookdeliveryview/show/<id>`` — attempts, body,
                                       Retry now, Replay
=====================================  =========================================================
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app

from addons.webhooks.api import action_api, attempt_api, call_api, delivery_api, rule_api
from addons.webhooks.views.actions import ServerActionView
from addons.webhooks.views.calls import WebhookCallView
from addons.webhooks.views.deliveries import WebhookDeliveryAttemptView, WebhookDeliveryView
from addons.webhooks.views.naming import APP_MODELS, CONTEXT_ARG
from addons.webhooks.views.rules import AutomationRuleView, WebhookView
from nightpos_app.crud import ModelViews
from nightpos_app.i18n import N_, lazy
from nightpos_app.state import get_state

#: Templates (``webhooks/…``) and static files (``/static/webhooks/…``) of the screens.
ui_blueprint = Blueprint(
    "webhooks_ui",
    "addons.webhooks",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/webhooks",
)

#: Menu names are English (FAB names the menu permissions after them); the menu shows them
#: translated.
STUDIO = N_("Studio")


def register_views(appbuilder: Any, views: ModelViews) -> None:
    """Views phase: the Studio menu, the rule, action, call and delivery screens, the REST
    resources."""
    registry = views.registry
    current_app.register_blueprint(ui_blueprint)
    views.add(
        "base.automation",
        menu=N_("Webhooks"),
        category=STUDIO,
        icon="fa-plug",
        category_icon="fa-magic",
        view_class=WebhookView,
        api_class=rule_api(registry["base.automation"]),
    )
    appbuilder.add_view(
        AutomationRuleView,
        # The menu's name stays (FAB names its permission after it); the specification calls
        # the entry "Automations".
        N_("Automation Rules"),
        icon="fa-bolt",
        label=lazy("Automations"),
        category=STUDIO,
    )
    views.add(
        "ir.actions.server",
        view_class=ServerActionView,
        api_class=action_api(registry["ir.actions.server"]),
    )
    views.add(
        "base.automation.call",
        view_class=WebhookCallView,
        api_class=call_api(registry["base.automation.call"]),
    )
    views.add(
        "webhook.delivery",
        menu=N_("Deliveries"),
        category=STUDIO,
        icon="fa-paper-plane",
        view_class=WebhookDeliveryView,
        api_class=delivery_api(registry["webhook.delivery"]),
    )
    views.add(
        "webhook.delivery.attempt",
        view_class=WebhookDeliveryAttemptView,
        api_class=attempt_api(registry["webhook.delivery.attempt"]),
    )


def register_app_links(app: Flask) -> None:
    """Ready phase: a ``Webhooks`` entry in each business app's menu, once every app's menu
    exists (the apps may load before or after this addon)."""
    appbuilder = app.appbuilder
    state = get_state(app)
    registry = state.registry
    if state.views is None or "base.automation" not in state.views.views:  # pragma: no cover
        return
    route = state.views.views["base.automation"].route_base
    for category, model in APP_MODELS:
        if model not in registry or appbuilder.menu.find(category) is None:
            continue
        # Each entry its own menu name (its own menu permission), labelled "Webhooks".
        appbuilder.add_link(
            f"{category} Webhooks",
            href=f"{route}/list/?{CONTEXT_ARG}={model}",
            icon="fa-plug",
            label=lazy("Webhooks"),
            category=category,
        )
