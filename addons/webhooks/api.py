"""REST resources of the webhooks addon.

* ``/api/v1/base_automation/`` — rules. The secret and the URL are returned only to callers with
  the ``can_read_secret`` permission (admins; see :mod:`addons.webhooks.security`); nobody can
  filter or sort on the secret (that would reveal it a character at a time). The Model must be
  a registered technical name and the Target Record must compile.
  ``POST /api/v1/base_automation/<id>/rotate_secret`` replaces the secret.
* ``/api/v1/ir_actions_server/`` — actions. Their ``settings`` are validated by their type
  (``ActionType.validate``); errors come back as a 422 keyed by setting:
  ``{"message": {"settings": {"field": ["sale.order has no writable field 'x'."]}}}``.
  Their signing secrets (Send Webhook Notification signs with them) are returned only to
  callers with ``can_read_secret``, never filtered or sorted on;
  ``POST /api/v1/ir_actions_server/<id>/rotate_signing_secret`` (``{"grace": "24h"}``) replaces
  the signing secret, the previous one signing too for the grace period.
* ``/api/v1/base_automation_call/`` — the call log, read-only.
* ``/api/v1/webhook_delivery/`` and ``/api/v1/webhook_delivery_attempt/`` — the outbox and its
  attempts, read-only (a message's extra headers only for ``can_read_secret``: they often carry
  a receiver's credentials). ``POST /api/v1/webhook_delivery/<id>/retry`` makes a failed or dead
  message due again, ``POST …/<id>/replay`` sends a delivered one again (same message id).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from marshmallow import ValidationError, validates_schema
from werkzeug.wrappers import Response

from addons.webhooks import hidden_headers
from addons.webhooks.action_types import ActionType, SettingsError
from addons.webhooks.checks import actions_not_suiting
from addons.webhooks.code_rights import (
    ACTION_REFUSED,
    CHANGE_REFUSED,
    CREATE_RULE_REFUSED,
    DELETE_ACTION_REFUSED,
    ActionState,
    action_needs_code_right,
    rule_changes,
)
from addons.webhooks.guards import parse_allowlist, parse_rate_limit
from addons.webhooks.models import (
    AUTH_SCHEMES,
    ROTATION_GRACE,
    TRIGGERS,
    AutomationRule,
    ServerAction,
)
from addons.webhooks.outgoing import outbox
from addons.webhooks.security import (
    CODE_PERMISSION,
    SECRET_PERMISSION,
    can_read_secrets,
    can_write_code,
)
from addons.webhooks.settings import cpu_limit_problem
from addons.webhooks.state import get_webhooks
from addons.webhooks.triggers import filter_problems
from addons.webhooks.urls import secret_url, webhook_url
from nightpos_app.crud import (
    ForeignKeySchemaConverter,
    RecordRestApi,
    build_model_api,
    columns_for,
)
from nightpos_app.digits import ascii_int
from nightpos_app.extensions import db
from nightpos_app.orm.registry import ModelEntry
from nightpos_app.state import get_env, get_state

#: Columns no API caller gets, filters or sorts on (``webhook_secret`` and ``signing_secret``
#: are added back for those who may read secrets).
HIDDEN = ("webhook_secret", "webhook_secret_digest", "previous_secret_digest", "signing_secret")
#: An action's secrets: read only with ``can_read_secret``, never filtered or sorted on.
ACTION_SECRETS = ("signing_secret", "previous_signing_secret")


class _ValidatingConverter(ForeignKeySchemaConverter):
    """The host's schema converter, adding ``checks`` (a class of schema validators)."""

    checks: type = object

    def _meta_schema_factory(self, *args: Any, **kwargs: Any) -> Any:
        schema = super()._meta_schema_factory(*args, **kwargs)
        return type(schema.__name__, (self.checks, schema), {})


def guard_problems(data: dict[str, Any]) -> dict[str, list[str]]:
    """What is wrong with a rule's request-guard settings (addons/webhooks/guards.py)."""
    errors: dict[str, list[str]] = {}
    if "auth_scheme" in data and data["auth_scheme"] not in AUTH_SCHEMES:
        errors["auth_scheme"] = [f"Choose one of {', '.join(AUTH_SCHEMES)}."]
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
    return {name: [problem] for name, problem in problems.items()}


def code_right_problems(
    data: dict[str, Any], current: AutomationRule | None
) -> dict[str, list[str]]:
    """Without ``can_write_code``: a new rule (it chooses a Model and a Trigger), or a change of
    a rule's code fields (addons/webhooks/code_rights.py), by field."""
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


class ActionChecks:
    """An action's type is registered and its settings suit its rule's model."""

    @validates_schema(skip_on_field_errors=True)
    def _check_settings(self, data: dict[str, Any], **_kwargs: Any) -> None:
        webhooks = get_webhooks()
        key = data.get("action_type")
        if key not in webhooks.action_types:
            known = ", ".join(t.key for t in webhooks.action_types)
            raise ValidationError(
                {"action_type": [f"Unknown action type {key!r} (known: {known})."]}
            )
        rule_id = data.get("rule_id")
        # An id the column cannot hold is reported by the host's checks; looking it up would be
        # a database error on PostgreSQL.
        valid_id = isinstance(rule_id, int) and not isinstance(rule_id, bool)
        rule = db.session.get(AutomationRule, rule_id) if valid_id and 0 < rule_id < 2**31 else None
        registry = get_state().registry
        if rule is None or rule.model not in registry:
            return  # the rule_id is reported by the host's checks
        settings = data.get("settings", {})
        if "settings" in data and not can_read_secrets():
            # Header values this user was shown as hidden keep what is stored.
            settings = hidden_headers.restore(key, settings, _stored_settings())
            hidden = hidden_headers.still_hidden(key, settings)
            if hidden:
                raise ValidationError(
                    {"settings": [f"Give the value of the header(s) {', '.join(hidden)}."]}
                )
        try:
            loaded = webhooks.action_types[key].validate(
                settings, registry[rule.model], get_env(), webhooks.sandbox
            )
        except SettingsError as exc:
            raise ValidationError({"settings": exc.messages}) from None
        _check_code_right(data, loaded)
        # Stored as the type's schema loads them (defaults filled in, values converted). The
        # validator runs before marshmallow builds the record from this same dict.
        data["settings"] = loaded


def _check_code_right(data: dict[str, Any], settings: dict[str, Any]) -> None:
    """Without ``can_write_code``, an action holding code (before or after) may only be
    renamed (addons/webhooks/code_rights.py); ``settings`` are the new ones, loaded."""
    if can_write_code():
        return
    current = _current_action()
    before = ActionState.of(current) if current is not None else None
    after = ActionState(
        data.get("rule_id"),
        data.get("action_type"),
        settings,
        data.get("sequence", before.sequence if before else None),
        data.get("active", before.active if before else True),
    )
    if action_needs_code_right(before, after):
        changed_code = before is None or not before.holds_code()
        raise ValidationError({"settings": [CHANGE_REFUSED if changed_code else ACTION_REFUSED]})


def _current_action() -> ServerAction | None:
    """The action a PUT updates (None when adding one)."""
    pk = str((request.view_args or {}).get("pk", ""))
    action_id = ascii_int(pk, max_digits=9)
    return db.session.get(ServerAction, action_id) if action_id is not None else None


def _stored_settings() -> dict[str, Any] | None:
    """The settings stored for the action a PUT updates (None when adding one)."""
    action = _current_action()
    return dict(action.settings or {}) if action is not None else None


class RuleConverter(_ValidatingConverter):
    checks = RuleChecks


class ActionConverter(_ValidatingConverter):
    checks = ActionChecks


def requested_grace() -> Any:
    """The ``grace`` a rotation request asks for (a ROTATION_GRACE key; ``none`` when the body
    says nothing). Anything else is returned as it is, for the caller to refuse."""
    body = request.get_json(silent=True) if request.content_length else None
    return body.get("grace", "none") if isinstance(body, dict) else "none"


class RuleApi(RecordRestApi):
    """Automation rules over REST; secrets and URLs only for ``can_read_secret``."""

    def __init__(self) -> None:
        super().__init__()
        # Permissions of their own, so that reading rules never implies reading their secret,
        # and editing them never implies writing code (addons/webhooks/code_rights.py).
        for permission in (SECRET_PERMISSION, CODE_PERMISSION):
            if permission not in self.base_permissions:
                self.base_permissions.append(permission)

    @staticmethod
    def _redact(row: dict[str, Any], secrets: bool) -> None:
        secret = row.pop("webhook_secret", None)
        signing_secret = row.pop("signing_secret", None)
        row.pop("webhook_secret_digest", None)
        row.pop("previous_secret_digest", None)
        if secrets and secret:
            row["webhook_secret"] = secret
            row["url"] = secret_url(secret)
        if secrets and signing_secret:
            row["signing_secret"] = signing_secret

    def pre_get(self, data: dict[str, Any]) -> None:
        if isinstance(data.get("result"), dict):
            self._redact(data["result"], can_read_secrets())

    def pre_get_list(self, data: dict[str, Any]) -> None:
        secrets = can_read_secrets()
        for row in data.get("result", []):
            self._redact(row, secrets)

    @expose("/<int:pk>/rotate_secret", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    def rotate_secret(self, pk: int) -> Response:
        """Replace a rule's secret: its old URL answers 404 from now on, or after a grace period.
        ---
        post:
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    grace:
                      type: string
                      enum: [none, 1h, 24h, 7d]
                      description: How long the old URL keeps working (default none)
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: >-
                Rotated; the new secret and URL for callers who may read secrets
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      result:
                        type: object
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        rule = self.datamodel.get(pk, self._base_filters)
        if rule is None:
            return self.response_404()
        grace_key = requested_grace()
        if grace_key not in ROTATION_GRACE:
            return self.response_400(f"grace must be one of {', '.join(ROTATION_GRACE)}.")
        rule.rotate_secret(ROTATION_GRACE[grace_key][1])
        db.session.commit()
        result: dict[str, Any] = {"message": "The secret was rotated."}
        if rule.previous_secret_expires_at is not None:
            result["previous_url_works_until"] = rule.previous_secret_expires_at.isoformat() + "Z"
        if can_read_secrets():
            result.update(webhook_secret=rule.webhook_secret, url=webhook_url(rule))
        return self.response(200, id=rule.id, result=result)

    @expose("/<int:pk>/rotate_signing_secret", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    def rotate_signing_secret(self, pk: int) -> Response:
        """Replace a rule's signing secret: requests signed with the old one get 401.
        ---
        post:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: >-
                Rotated; the new signing secret for callers who may read secrets
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      result:
                        type: object
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        rule = self.datamodel.get(pk, self._base_filters)
        if rule is None:
            return self.response_404()
        rule.rotate_signing_secret()
        db.session.commit()
        result: dict[str, Any] = {"message": "The signing secret was rotated."}
        if can_read_secrets():
            result["signing_secret"] = rule.signing_secret
        return self.response(200, id=rule.id, result=result)


def describe_action_type(action_type: ActionType) -> dict[str, Any]:
    """An action type as the API lists it: what a client needs to fill in its settings."""
    settings = [
        {
            "name": name,
            "kind": type(field).__name__,
            "required": field.required,
            "label": str(field.metadata.get("label", name)),
            "description": str(field.metadata.get("description", "")),
        }
        for name, field in action_type.schema().fields.items()
    ]
    return {
        "key": action_type.key,
        "label": str(action_type.label),
        "description": str(action_type.description),
        "settings": settings,
    }


class ActionApi(RecordRestApi):
    """Actions over REST; their signing secrets only for ``can_read_secret``; an action that
    holds code is created, changed and deleted only with ``can_write_code``."""

    def delete_headless(self, pk: Any) -> Response:
        action = self.datamodel.get(pk, self._base_filters)
        if (
            action is not None
            and not can_write_code()
            and action_needs_code_right(ActionState.of(action), None)
        ):
            return self.response(403, message=DELETE_ACTION_REFUSED)
        return super().delete_headless(pk)

    @staticmethod
    def _redact(row: dict[str, Any], secrets: bool) -> None:
        for name in ACTION_SECRETS:
            value = row.pop(name, None)
            if secrets:
                row[name] = value
        if not secrets and isinstance(row.get("settings"), dict):
            row["settings"] = hidden_headers.hide(str(row.get("action_type")), row["settings"])

    def pre_get(self, data: dict[str, Any]) -> None:
        if isinstance(data.get("result"), dict):
            self._redact(data["result"], can_read_secrets())

    def pre_get_list(self, data: dict[str, Any]) -> None:
        secrets = can_read_secrets()
        for row in data.get("result", []):
            self._redact(row, secrets)

    @expose("/action_types", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def action_types(self) -> Response:
        """The action types the enabled addons provide, with their settings.
        ---
        get:
          responses:
            200:
              description: >-
                Each type's key (the action_type of an action), label, description, and
                settings (name, kind, whether required, label, description)
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        type: array
                        items:
                          type: object
            401:
              $ref: '#/components/responses/401'
        """
        return self.response(
            200, result=[describe_action_type(t) for t in get_webhooks().action_types]
        )

    @expose("/<int:pk>/rotate_signing_secret", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    def rotate_signing_secret(self, pk: int) -> Response:
        """Replace an action's signing secret; the old one keeps signing for a grace period.
        ---
        post:
          requestBody:
            required: false
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    grace:
                      type: string
                      enum: [none, 1h, 24h, 7d]
                      description: How long the old secret keeps signing too (default none)
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: >-
                Rotated; the new signing secret for callers who may read secrets
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      result:
                        type: object
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        action = self.datamodel.get(pk, self._base_filters)
        if action is None:
            return self.response_404()
        grace_key = requested_grace()
        if grace_key not in ROTATION_GRACE:
            return self.response_400(f"grace must be one of {', '.join(ROTATION_GRACE)}.")
        action.rotate_signing_secret(ROTATION_GRACE[grace_key][1])
        db.session.commit()
        result: dict[str, Any] = {"message": "The signing secret was rotated."}
        expires = action.previous_signing_secret_expires_at
        if expires is not None:
            result["previous_secret_signs_until"] = expires.isoformat() + "Z"
        if can_read_secrets():
            result["signing_secret"] = action.signing_secret
        return self.response(200, id=action.id, result=result)


class ReadOnlyApi(RecordRestApi):
    """A resource that only reads: POST, PUT and DELETE answer 405.

    The write routes stay (authenticated like every route: 401 without a JWT) so that the
    resource has the same shape as the others; they only refuse.
    """

    read_only_message = "This resource is read-only."

    def _read_only(self) -> Response:
        return self.response(405, message=self.read_only_message)

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def post(self) -> Response:
        """The resource is read-only.
        ---
        post:
          responses:
            405:
              description: The resource is read-only
            401:
              $ref: '#/components/responses/401'
        """
        return self._read_only()

    @expose("/<pk>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put")
    def put(self, pk: Any) -> Response:
        """The resource is read-only.
        ---
        put:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            405:
              description: The resource is read-only
            401:
              $ref: '#/components/responses/401'
        """
        return self._read_only()

    @expose("/<pk>", methods=["DELETE"])
    @protect()
    @safe
    @permission_name("delete")
    def delete(self, pk: Any) -> Response:
        """The resource is read-only.
        ---
        delete:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            405:
              description: The resource is read-only
            401:
              $ref: '#/components/responses/401'
        """
        return self._read_only()


class CallApi(ReadOnlyApi):
    """The call log over REST, read-only. The log is written by the webhook endpoint alone, so
    that it tells what really happened (old calls are pruned by ``flask webhooks
    prune-calls``)."""

    read_only_message = "The webhook call log is read-only."


class DeliveryApi(ReadOnlyApi):
    """The outbox over REST: read-only, but a message can be sent again.

    Messages are written by Send Webhook Notification in the transaction of the change they
    report, and their state by the worker; ``retry`` and ``replay`` only make one due again.
    A message's extra headers are returned to callers with ``can_read_secret`` alone.
    """

    read_only_message = "Webhook deliveries are read-only."

    @staticmethod
    def _redact(row: dict[str, Any], secrets: bool) -> None:
        headers = row.pop("headers", None)
        if secrets:
            row["headers"] = headers

    def pre_get(self, data: dict[str, Any]) -> None:
        if isinstance(data.get("result"), dict):
            self._redact(data["result"], can_read_secrets())

    def pre_get_list(self, data: dict[str, Any]) -> None:
        secrets = can_read_secrets()
        for row in data.get("result", []):
            self._redact(row, secrets)

    def _send_again(self, pk: int, how: Any, done: str) -> Response:
        delivery = self.datamodel.get(pk, self._base_filters)
        if delivery is None:
            return self.response_404()
        try:
            how(db.session, delivery)
        except ValueError as exc:
            return self.response(409, message=str(exc))
        db.session.commit()
        return self.response(200, id=delivery.id, result={"message": done, "state": "pending"})

    @expose("/<int:pk>/retry", methods=["POST"])
    @protect()
    @safe
    @permission_name("resend")
    def retry(self, pk: int) -> Response:
        """Make a failed or dead message due again at once.
        ---
        post:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: The message is pending again
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
            409:
              description: The message is not failed or dead
        """
        return self._send_again(pk, outbox.retry_now, "The message will be sent again.")

    @expose("/<int:pk>/replay", methods=["POST"])
    @protect()
    @safe
    @permission_name("resend")
    def replay(self, pk: int) -> Response:
        """Send a delivered message again, with the same message id.
        ---
        post:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: The message is pending again
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
            409:
              description: The message was not delivered
        """
        return self._send_again(pk, outbox.replay, "The message will be sent again.")


class AttemptApi(ReadOnlyApi):
    """Delivery attempts over REST, read-only: written by the worker alone."""

    read_only_message = "Delivery attempts are read-only."


def _columns(entry: ModelEntry) -> dict[str, Any]:
    cols = columns_for(entry)
    keep = [c for c in cols.api_read if c not in HIDDEN]
    return {
        # The secret is read (and redacted per caller in ``pre_get``), never searched or sorted.
        "list_columns": [*keep, "webhook_secret", "signing_secret"],
        "show_columns": [*keep, "webhook_secret", "signing_secret"],
        "search_columns": [c for c in cols.api_search if c not in HIDDEN],
        "order_columns": [c for c in cols.api_order if c not in HIDDEN],
    }


def rule_api(entry: ModelEntry) -> type[RecordRestApi]:
    return build_model_api(
        entry, base=RuleApi, model2schemaconverter=RuleConverter, **_columns(entry)
    )


def action_api(entry: ModelEntry) -> type[RecordRestApi]:
    cols = columns_for(entry)
    keep = [c for c in cols.api_read if c not in ACTION_SECRETS]
    return build_model_api(
        entry,
        base=ActionApi,
        model2schemaconverter=ActionConverter,
        # The secrets are read (and redacted per caller in ``pre_get``), never searched or
        # sorted: a filter would tell them a character at a time.
        list_columns=[*keep, *ACTION_SECRETS],
        show_columns=[*keep, *ACTION_SECRETS],
        search_columns=[c for c in cols.api_search if c not in ACTION_SECRETS],
        order_columns=[c for c in cols.api_order if c not in ACTION_SECRETS],
    )


def call_api(entry: ModelEntry) -> type[RecordRestApi]:
    return build_model_api(entry, base=CallApi)


def delivery_api(entry: ModelEntry) -> type[RecordRestApi]:
    cols = columns_for(entry)
    return build_model_api(
        entry,
        base=DeliveryApi,
        # Headers may hold credentials: shown per caller, never searched or sorted on.
        search_columns=[c for c in cols.api_search if c != "headers"],
        order_columns=[c for c in cols.api_order if c != "headers"],
    )


def attempt_api(entry: ModelEntry) -> type[RecordRestApi]:
    return build_model_api(entry, base=AttemptApi)
