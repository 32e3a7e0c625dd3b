"""``/api/v1/ir_actions_server/``: the actions of automation rules.

Their ``settings`` are validated by their type (``ActionType.validate``); errors come back as a
422 keyed by setting: ``{"message": {"settings": {"field": ["sale.order has no writable field
'x'."]}}}``. Their signing secrets (Send Webhook Notification signs with them) are returned
only to callers with ``can_read_secret``, never filtered or sorted on;
``POST /api/v1/ir_actions_server/<id>/rotate_signing_secret`` (``{"grace": "24h"}``) replaces
the signing secret, the previous one signing too for the grace period.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from marshmallow import ValidationError, validates_schema
from werkzeug.wrappers import Response

from addons.webhooks.action_types import ActionType, SettingsError
from addons.webhooks.api.base import WebhooksApi, until
from addons.webhooks.api.openapi_components import grace_body
from addons.webhooks.models import AutomationRule, ServerAction
from addons.webhooks.rules import hidden_headers
from addons.webhooks.rules.code_rights import (
    ACTION_REFUSED,
    CHANGE_REFUSED,
    DELETE_ACTION_REFUSED,
    ActionState,
    action_needs_code_right,
)
from addons.webhooks.rules.state import get_webhooks
from addons.webhooks.security import can_read_secrets, can_write_code
from nightpos_app.digits import ascii_int
from nightpos_app.extensions import db
from nightpos_app.state import get_env, get_state


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
    renamed (addons/webhooks/rules/code_rights.py); ``settings`` are the new ones, loaded."""
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


class ActionApi(WebhooksApi):
    """Actions over REST; their signing secrets only for ``can_read_secret``; an action that
    holds code is created, changed and deleted only with ``can_write_code``."""

    secret_columns = ("signing_secret", "previous_signing_secret")
    checks = ActionChecks
    openapi_spec_methods = {
        "rotate_signing_secret": {
            "post": {
                "requestBody": grace_body(
                    "How long the old secret keeps signing too (default none)"
                )
            }
        },
    }

    def redact(self, row: dict[str, Any], secrets: bool) -> None:
        super().redact(row, secrets)
        if not secrets and isinstance(row.get("settings"), dict):
            row["settings"] = hidden_headers.hide(str(row.get("action_type")), row["settings"])

    def delete_headless(self, pk: Any) -> Response:
        action = self.datamodel.get(pk, self._base_filters)
        if (
            action is not None
            and not can_write_code()
            and action_needs_code_right(ActionState.of(action), None)
        ):
            return self.response(403, message=DELETE_ACTION_REFUSED)
        return super().delete_headless(pk)

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
              $ref: '#/components/responses/ActionTypes'
        """
        return self.response(
            200, result=[describe_action_type(t) for t in get_webhooks().action_types]
        )

    @expose("/<pk:pk>/rotate_signing_secret", methods=["POST"])
    @protect()
    @safe
    @permission_name("put")
    def rotate_signing_secret(self, pk: int) -> Response:
        """Replace an action's signing secret; the old one keeps signing for a grace period.
        ---
        post:
          # requestBody: {"grace": …}, from openapi_spec_methods
          parameters:
          - pk
          responses:
            200:
              $ref: '#/components/responses/SigningSecretRotated'
        """

        def public(action: ServerAction) -> dict[str, Any]:
            expires = until(action.previous_signing_secret_expires_at)
            return {"previous_secret_signs_until": expires} if expires else {}

        return self.rotation(
            pk,
            lambda action, grace: action.rotate_signing_secret(grace),
            "The signing secret was rotated.",
            public,
            lambda action: {"signing_secret": action.signing_secret},
        )
