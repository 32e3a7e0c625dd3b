"""What a rule's page shows besides its fields: URL, actions, Logs count, the dry run.

Kept apart from the view class so the page's content can be read (and tested) as data. Words
are in the user's language; what the sender would get (the response body, the error, the
log) is shown as the URL would answer it: in English.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask_babel import pgettext

from addons.webhooks.incoming.payloads import PayloadError, parse_json_text
from addons.webhooks.models import AutomationRule, WebhookCall
from addons.webhooks.rules.changes import Change
from addons.webhooks.rules.engine import Outcome
from addons.webhooks.rules.state import get_webhooks
from addons.webhooks.rules.steps import TARGET_STEP
from addons.webhooks.views.naming import field_label, model_label
from addons.webhooks.views.settings_form import SettingsForm
from nightpos_app.extensions import db
from nightpos_app.i18n import translate
from nightpos_app.state import get_env, get_state


def operation_label(operation: str) -> str:
    """What an action did to a record, as the dry run says it. The context sets the verb
    ("Created") apart from the rule's column "Created" (a date) in other languages."""
    labels = {
        "create": pgettext("record operation", "Created"),
        "update": pgettext("record operation", "Updated"),
        "delete": pgettext("record operation", "Deleted"),
    }
    return str(labels.get(operation, operation))


def rule_endpoint(rule: AutomationRule) -> str:
    """The screens a rule belongs to: Webhooks for webhook rules, else Automation Rules."""
    return "WebhookView" if rule.trigger == "on_webhook" else "AutomationRuleView"


def rule_url(rule: AutomationRule, **kwargs: Any) -> str:
    return url_for(f"{rule_endpoint(rule)}.show", pk=rule.id, **kwargs)


def call_count(rule_id: int) -> int:
    query = (
        sa.select(sa.func.count()).select_from(WebhookCall).where(WebhookCall.rule_id == rule_id)
    )
    return int(db.session.scalar(query) or 0)


@dataclass
class ActionRow:
    """One action under Actions To Do."""

    id: int
    sequence: int
    name: str
    type_label: str
    details: list[tuple[str, str, bool]]


def action_rows(rule: AutomationRule) -> list[ActionRow]:
    registry = get_state().registry
    if rule.model not in registry:
        return []
    types = get_webhooks().action_types
    summary = SettingsForm(list(types), registry[rule.model], get_env(), registry)
    rows = []
    for action in rule.actions:
        known = action.action_type in types
        rows.append(
            ActionRow(
                id=action.id,
                sequence=action.sequence,
                name=action.name,
                type_label=translate(types[action.action_type].label)
                if known
                else action.action_type,
                details=summary.describe(action.action_type, action.settings or {}),
            )
        )
    return rows


@dataclass
class ChangeRow:
    """One record a dry run would create, update or delete, in words."""

    action: str
    operation: str
    model: str
    record: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class DryRunReport:
    """What the sender would get, and what the rule would have done, with nothing kept."""

    http_status: int
    body: str
    error: str | None = None
    traceback: str | None = None
    targets: list[str] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    #: The step that failed (engine's ``Outcome.step``): the Target Record, or an action.
    step: str | None = None

    @property
    def ok(self) -> bool:
        return self.http_status == 200

    @property
    def target_failed(self) -> bool:
        """The Target Record itself failed: no record to list (an action's failure is not)."""
        return self.step == TARGET_STEP


def _change_row(change: Change) -> ChangeRow:
    registry = get_state().registry
    entry = registry[change.model] if change.model in registry else None  # noqa: SIM401 (no .get)
    rows = []
    for name, (old, new) in change.fields.items():
        fld = entry.fields.get(name) if entry else None
        label = field_label(fld) if fld else name
        rows.append((label, "" if old is None else str(old), "" if new is None else str(new)))
    record = change.display_name if change.operation != "create" else translate("New record")
    if change.record_id is not None:
        record = f"{record} (id {change.record_id})"
    return ChangeRow(
        action=change.action,
        operation=operation_label(change.operation),
        model=model_label(change.model),
        record=record,
        fields=rows,
    )


def dry_run_report(outcome: Outcome) -> DryRunReport:
    return DryRunReport(
        http_status=outcome.http_status,
        body=json.dumps(outcome.body, ensure_ascii=False),
        error=outcome.error,
        traceback=outcome.traceback,
        targets=[
            f"{name} (id {record_id})" if name else f"id {record_id}"
            for record_id, name in outcome.targets
        ],
        changes=[_change_row(change) for change in outcome.changes],
        logs=list(outcome.logs),
        step=outcome.step,
    )


def read_payload(text: str, max_bytes: int) -> tuple[Any, str | None]:
    """The pasted payload as data, or why it cannot be (where the URL would answer 400/413)."""
    if len(text.encode("utf-8")) > max_bytes:
        return None, translate("The payload is larger than %(size)s bytes.", size=max_bytes)
    if not text.strip():
        return {}, None
    # The same reading as the URL's, so the dry run refuses exactly what a call would.
    try:
        return parse_json_text(text), None
    except PayloadError as exc:
        return None, exc.message
