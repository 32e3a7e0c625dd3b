"""Webhooks and automation rules.

An automation rule (``base.automation``) runs its actions (``ir.actions.server``) on the
records its Target Record finds, when an external system calls its secret URL. Every call can
be logged (``base.automation.call``). Action types come from addons through the
``nightpos_action_types`` hook; the built-in ones too.
"""

from __future__ import annotations

from typing import Any

from nightpos_app.addons import Manifest
from nightpos_app.hooks import hookimpl

#: The secret part of a webhook URL, as it appears in a request line (up to a ``/``, ``?``, ``#``,
#: space or quote): redacted from the access logs.
SECRET_IN_URL = r"/web/hook/[^/?#\s\"']+"  # noqa: S105 (a pattern)

manifest = Manifest(
    name="webhooks",
    version="1.0.0",
    summary="Automation rules triggered by webhooks",
)


@hookimpl
def nightpos_models() -> list[type[Any]]:
    from addons.webhooks.models import (
        AutomationRule,
        ServerAction,
        WebhookCall,
        WebhookDelivery,
        WebhookDeliveryAttempt,
    )

    return [AutomationRule, ServerAction, WebhookCall, WebhookDelivery, WebhookDeliveryAttempt]


@hookimpl
def nightpos_action_types() -> list[type[Any]]:
    from addons.webhooks.action_types.builtin import BUILTIN_ACTION_TYPES

    return BUILTIN_ACTION_TYPES


@hookimpl
def nightpos_views(appbuilder: Any, views: Any) -> None:
    from flask import current_app

    from addons.webhooks.action_types import ActionTypeRegistry
    from addons.webhooks.cli import webhooks_cli
    from addons.webhooks.incoming.endpoint import blueprint
    from addons.webhooks.incoming.worker import InboxWorker
    from addons.webhooks.metrics import install as install_metrics
    from addons.webhooks.outgoing.command import worker_command, worker_health_command
    from addons.webhooks.rules.due import install as install_due
    from addons.webhooks.rules.revision import install as install_revision
    from addons.webhooks.rules.state import EXTENSION_KEY, WORKER_JOBS_KEY, Webhooks
    from addons.webhooks.rules.triggers import install as install_triggers
    from addons.webhooks.settings import setting
    from addons.webhooks.views import register_views
    from nightpos_app.addons import call_phase
    from nightpos_app.cli import nightpos_cli
    from nightpos_app.extensions import csrf, db
    from nightpos_app.redaction import redact_in_logs
    from nightpos_app.sandbox.process import IsolatedSandbox
    from nightpos_app.sessions import without_session
    from nightpos_app.state import get_state

    state = get_state()
    action_types = ActionTypeRegistry()
    action_types.register_all(
        (addon.name, types)
        for addon, types in call_phase(state.plugins, state.addons, "nightpos_action_types")
    )
    # Admin code runs in runner processes; the first ones start now, in the background.
    sandbox = IsolatedSandbox(
        cpu_seconds=setting("WEBHOOK_CPU_SECONDS"),
        memory_mb=setting("WEBHOOK_MEMORY_MB"),
        wall_seconds=setting("WEBHOOK_WALL_SECONDS"),
        runners=setting("WEBHOOK_RUNNERS"),
    )
    sandbox.warm()
    current_app.extensions[EXTENSION_KEY] = Webhooks(action_types=action_types, sandbox=sandbox)
    # Record triggers watch every session of the app, whatever writes through it; so does the
    # revision that rule caches are keyed by.
    install_revision(db.session)
    install_triggers(db.session)
    install_due(db.session)
    # The secret URL is called by other systems: no session, so no CSRF token. The secret
    # in the URL is the credential.
    csrf.exempt(blueprint)
    # Nor a cookie: its requests skip opening and saving one (a tenth of a 404's time).
    without_session(current_app, "/web/hook/")
    # ...and the servers log every request line: keep the credential out of their logs.
    redact_in_logs(SECRET_IN_URL, "/web/hook/[redacted]")
    current_app.register_blueprint(blueprint)
    # /metrics: the outbox's depth and oldest due message, measured on each scrape.
    install_metrics()
    current_app.cli.add_command(webhooks_cli)
    # `flask nightpos worker`: the process that sends outgoing webhooks; it runs timing rules
    # too (the dev server's worker thread as well).
    nightpos_cli.add_command(worker_command)
    nightpos_cli.add_command(worker_health_command)
    if str(setting("WEBHOOK_TIMING_SCHEDULER")).strip().lower() == "on":
        from addons.webhooks.timing.job import register_scheduler

        register_scheduler(current_app)
    # ...which also run the calls of rules that respond at once (incoming/worker.py).
    current_app.extensions.setdefault(WORKER_JOBS_KEY, []).append(
        lambda app: InboxWorker(app).run_once
    )
    register_views(appbuilder, views)


@hookimpl
def nightpos_roles(appbuilder: Any) -> dict[str, list[tuple[str, str]]]:
    from addons.webhooks.security import AUTOMATION_MANAGER
    from addons.webhooks.views.roles import automation_manager_permissions

    return {AUTOMATION_MANAGER: automation_manager_permissions(appbuilder)}


@hookimpl
def nightpos_ready(app: Any) -> None:
    from addons.webhooks.outgoing.worker import start_thread_worker
    from addons.webhooks.settings import setting
    from addons.webhooks.views import register_app_links

    register_app_links(app)
    # The dev server (run.py) sends the outbox from a thread; production runs
    # `flask nightpos worker` processes instead, and tests start their workers themselves.
    if str(setting("NIGHTPOS_OUTBOX_WORKER")).strip().lower() == "thread":
        start_thread_worker(app)


@hookimpl
def nightpos_home_panels() -> list[Any]:
    from addons.webhooks.views.home import home_panels

    return home_panels()
