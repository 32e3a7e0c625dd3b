"""``/api/v1/base_automation/``: automation rules.

The secret and the URL are returned only to callers with the ``can_read_secret`` permission
(admins; see :mod:`addons.webhooks.security`); nobody can filter or sort on the secret. The
Model must be a registered technical name and the Target Record must compile.
``POST /api/v1/base_automation/<id>/rotate_secret`` replaces the secret. Timing rules:
``GET /api/v1/base_automation/<id>/due`` tells a scheduled rule's next run and the records due
in the next 24 hours; ``POST /api/v1/base_automation/<id>/run_now`` runs a scheduled rule at the
worker's next tick.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from marshmallow import ValidationError, validates_schema
from werkzeug.wrappers import Response

from addons.webhooks.api.base import WebhooksApi, until
from addons.webhooks.api.openapi_components import grace_body
from addons.webhooks.checks import actions_not_suiting
from addons.webhooks.incoming.guards import parse_allowlist, parse_rate_limit
from addons.webhooks.incoming.urls import secret_url, webhook_url
from addons.webhooks.models import (
    AUTH_SCHEMES,
    RESPOND_MODES,
    SCHEDULE_RECORD,
    SCHEDULE_TRIGGER,
    TRIGGERS,
    AutomationRule,
)
from addons.webhooks.rules import due
from addons.webhooks.rules.code_rights import CHANGE_REFUSED, CREATE_RULE_REFUSED, rule_changes
from addons.webhooks.rules.record_filters import filter_problems
from addons.webhooks.rules.state import get_webhooks
from addons.webhooks.rules.timing_settings import TIMING_COLUMNS, timing_problems
from addons.webhooks.security import CODE_PERMISSION, SECRET_PERMISSION, can_write_code
from addons.webhooks.settings import cpu_limit_problem
from addons.webhooks.timing.scheduler import run_now
from nightpos_app.extensions import db
from nightpos_app.state import get_env, get_state


def guard_problems(data: dict[str, Any]) -> dict[str, list[str]]:
    """What is wrong with a rule's request-guard settings (addons/webhooks/incoming/guards.py)."""
    errors: dict[str, list[str]] = {}
    if "auth_scheme" in data and data["auth_scheme"] not in AUTH_SCHEMES:
        errors["auth_scheme"] = [f"Choose one of {', '.join(AUTH_SCHEMES)}."]
    if "respond" in data and data["respond"] not in RESPOND_MODES:
        errors["respond"] = [f"Choose one of {', '.join(RESPOND_MODES)}."]
    if data.get("ip_allowlist"):
        try:
            parse_allowlist(data["ip_allowlist"])
        except ValueError as exc:
            errors["ip_allowlist"] = [str(exc)]
    if (data.get("rate_limit") or "").strip():
        try:
            parse_rate_limit(data["rate_limit"])
        except ValueError as exc:
            errors["rate_limit"] = [str(exc)]
    # The per-rule CPU budget, capped by the server's ceiling (settings.py).
    problem = cpu_limit_problem(data.get("cpu_seconds"))
    if problem:
        errors["cpu_seconds"] = [problem]
    return errors


def record_trigger_problems(
    data: dict[str, Any], current: AutomationRule | None
) -> dict[str, list[str]]:
    """What is wrong with a rule's record filters (its domains, its Trigger Fields), given
    what the request changes and, on an update, what the rule already has."""
    registry = get_state().registry

    def value(name: str, default: Any = None) -> Any:
        return data[name] if name in data else getattr(current, name, default)

    model = value("model")
    if model not in registry:
        return {}  # reported with the model
    trigger = value("trigger", "on_webhook")
    if trigger not in TRIGGERS:
        return {"trigger": [f"Choose one of {', '.join(TRIGGERS)}."]}
    problems = filter_problems(
        registry[model],
        get_env(),
        trigger,
        value("filter_domain"),
        value("filter_pre_domain"),
        value("trigger_fields"),
    )
    problems.update(
        timing_problems(
            registry[model], trigger, {column: value(column) for column in TIMING_COLUMNS}
        )
    )
    return {name: [problem] for name, problem in problems.items()}


def code_right_problems(
    data: dict[str, Any], current: AutomationRule | None
) -> dict[str, list[str]]:
    """Without ``can_write_code``: a new rule (it chooses a Model and a Trigger), or a change of
    a rule's code fields (addons/webhooks/rules/code_rights.py), by field."""
    if can_write_code():
        return {}
    if current is None:
        return {"model": [CREATE_RULE_REFUSED]}
    return {name: [CHANGE_REFUSED] for name in rule_changes(current, data)}


class RuleChecks:
    """Writing code takes ``can_write_code``; a rule's Model is a registered technical name;
    its Target Record compiles."""

    @validates_schema(skip_on_field_errors=True)
    def _check_rule(self, data: dict[str, Any], **_kwargs: Any) -> None:
        refused = code_right_problems(data, getattr(self, "instance", None))
        if refused:
            raise ValidationError(refused)
        registry = get_state().registry
        errors: dict[str, list[str]] = {}
        if "model" in data and data["model"] not in registry:
            errors["model"] = [f"Unknown model {data['model']!r}: give a technical name."]
        if "target_record" in data:
            problem = get_webhooks().sandbox.check(data["target_record"] or "", "eval")
            if problem:
                errors["target_record"] = [problem]
        errors.update(guard_problems(data))
        current = getattr(self, "instance", None)
        errors.update(record_trigger_problems(data, current))
        if (
            not errors
            and current is not None
            and "model" in data
            and data["model"] != current.model
        ):
            problems = actions_not_suiting(current.actions, registry[data["model"]])
            if problems:
                errors["model"] = problems
        if errors:
            raise ValidationError(errors)


class RuleApi(WebhooksApi):
    """Automation rules over REST; secrets and URLs only for ``can_read_secret``."""

    secret_columns = ("webhook_secret", "signing_secret")
    hidden_columns = ("webhook_secret_digest", "previous_secret_digest")
    checks = RuleChecks
    openapi_spec_methods = {
        "rotate_secret": {
            "post": {"requestBody": grace_body("How long the old URL keeps working (default none)")}
        },
    }

    def __init__(self) -> None:
        super().__init__()
        # Permissions of their own, so that reading rules never implies reading their secret,
        # and editing them never implies writing code (addons/webhooks/rules/code_rights.py).
        for permission in (SECRET_PERMISSION, CODE_PERMISSION):
            if permission not in self.base_permissions:
                self.base_permissions.append(permission)

    def redact(self, row: dict[str, Any], secrets: bool) -> None:
        super().redact(row, secrets)
        if row.get("webhook_secret"):
            row["url"] = secret_url(row["webhook_secret"])

    @expose("/<pk:pk>/rotate_secret", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    def rotate_secret(self, pk: int) -> Response:
        """Replace a rule's secret: its old URL answers 404 from now on, or after a grace period.
        ---
        post:
          # requestBody: {"grace": …}, from openapi_spec_methods
          parameters:
          - pk
          responses:
            200:
              $ref: '#/components/responses/SecretRotated'
        """
        return self.rotation(
            pk,
            lambda rule, grace: rule.rotate_secret(grace),
            "The secret was rotated.",
            lambda rule: _present(previous_url_works_until=until(rule.previous_secret_expires_at)),
            lambda rule: {"webhook_secret": rule.webhook_secret, "url": webhook_url(rule)},
        )

    @expose("/<pk:pk>/rotate_signing_secret", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    def rotate_signing_secret(self, pk: int) -> Response:
        """Replace a rule's signing secret: requests signed with the old one get 401.
        ---
        post:
          parameters:
          - pk
          responses:
            200:
              $ref: '#/components/responses/SigningSecretRotated'
        """
        return self.rotation(
            pk,
            lambda rule, _grace: rule.rotate_signing_secret(),
            "The signing secret was rotated.",
            lambda _rule: {},
            lambda rule: {"signing_secret": rule.signing_secret},
            graced=False,
        )

    @expose("/<pk:pk>/due", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def due(self, pk: int) -> Response:
        """A timing rule's due work: a scheduled rule's next run, or the records due within the
        next 24 hours (UTC times).
        ---
        get:
          parameters:
          - pk
          responses:
            200:
              $ref: '#/components/responses/DueWork'
        """
        rule = self.datamodel.get(pk, self._base_filters)
        if rule is None:
            return self.response_404()
        result: dict[str, Any] = {}
        if rule.trigger == SCHEDULE_TRIGGER:
            result["next_run_at"] = until(due.next_scheduled_run(db.session, rule.id))
        else:
            rows = due.due_rows(db.session, rule.id, due.now() + dt.timedelta(hours=24))
            result["records"] = [
                {"record_id": row.record_id, "due_at": until(row.due_at)}
                for row in rows
                if row.record_id != SCHEDULE_RECORD
            ]
        return self.response(200, id=rule.id, result=result)

    @expose("/<pk:pk>/run_now", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    def run_now(self, pk: int) -> Response:
        """Run a scheduled rule at the worker's next tick (its next run is one period later).
        ---
        post:
          parameters:
          - pk
          responses:
            200:
              $ref: '#/components/responses/DueNow'
            400:
              $ref: '#/components/responses/400'
        """
        rule = self.datamodel.get(pk, self._base_filters)
        if rule is None:
            return self.response_404()
        if rule.trigger != SCHEDULE_TRIGGER or not rule.active:
            return self.response_400("Only an active scheduled rule can be run now.")
        run_now(rule.id)
        return self.response(
            200,
            id=rule.id,
            result={"next_run_at": until(due.next_scheduled_run(db.session, rule.id))},
        )


def _present(**values: Any) -> dict[str, Any]:
    """The values that are set."""
    return {key: value for key, value in values.items() if value is not None}
