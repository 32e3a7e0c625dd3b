"""The OpenAPI components the webhooks addon's resources share, declared once.

A route's docstring refers to them instead of spelling them out again:

* ``- pk`` under ``parameters`` — the record's id in the path (apispec takes a parameter
  component by its name and writes the ``$ref`` itself; it refuses a ``$ref`` written there);
* ``$ref: '#/components/responses/<name>'`` — an answer of :data:`RESPONSES`;
* the error statuses (``#/components/responses/400`` … ``500``) are the host's, and most are
  added to every operation by ``nightpos_app.rest.describe_contract`` (401/403 behind a token,
  404 with a ``{pk}``, 400 with a body): a docstring names only the others it answers (a 409, a
  replay's 422).

FAB registers a resource's ``responses`` (a class attribute) as response components itself, but
has nothing for parameters (its ``apispec_parameter_schemas`` become *schemas*):
:func:`register` adds both, once per spec. A request body cannot be a ``$ref`` (apispec reads a
request body's ``content`` directly), so a shared one is a function that FAB merges in through
``openapi_spec_methods``: :func:`grace_body`.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from addons.webhooks.models import ROTATION_GRACE

_INTEGER = {"type": "integer"}
_OBJECT = {"type": "object"}


def _json_answer(description: str, **properties: dict[str, Any]) -> dict[str, Any]:
    """A response whose body is a JSON object with ``properties``."""
    schema = {"type": "object", "properties": properties}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _record_answer(description: str) -> dict[str, Any]:
    """A response ``{"id": <the record's id>, "result": {...}}`` (a route on one record)."""
    return _json_answer(description, id=_INTEGER, result=_OBJECT)


#: ``#/components/parameters/<name>``: (location, parameter).
PARAMETERS: dict[str, tuple[str, dict[str, Any]]] = {
    # apispec adds ``name`` and ``in``, and ``required`` for a path parameter.
    "pk": ("path", {"schema": _INTEGER}),
}

#: ``#/components/responses/<name>``: the successful answers of the addon's own routes.
RESPONSES: dict[str, dict[str, Any]] = {
    # base_automation
    "SecretRotated": _record_answer(
        "Rotated; the new secret and URL for callers who may read secrets"
    ),
    "DueWork": _record_answer("The next run, or the records due soonest first (at most 100)"),
    "DueNow": _record_answer("The rule is due now"),
    # base_automation and ir_actions_server
    "SigningSecretRotated": _record_answer(
        "Rotated; the new signing secret for callers who may read secrets"
    ),
    # ir_actions_server
    "ActionTypes": _json_answer(
        "Each type's key (the action_type of an action), label, description, and settings "
        "(name, kind, whether required, label, description)",
        result={"type": "array", "items": _OBJECT},
    ),
    # base_automation_call
    "DryRun": _json_answer("What each call would do now; nothing was kept", result=_OBJECT),
    "Replayed": _json_answer(
        "Each call is in the inbox again, as a new call replaying it", result=_OBJECT
    ),
    # webhook_delivery
    "SentAgain": _json_answer(
        "The message is pending again",
        id=_INTEGER,
        result={
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "state": {"type": "string", "enum": ["pending"]},
            },
        },
    ),
}


def register(api_spec: APISpec) -> None:
    """Add :data:`PARAMETERS` to the spec (each resource of the addon calls this; the first
    registers them). The responses are registered by FAB, from ``WebhooksApi.responses``."""
    for name, (location, parameter) in PARAMETERS.items():
        if name not in api_spec.components.parameters:  # else another resource's doing
            api_spec.components.parameter(name, location, parameter)


def grace_body(description: str) -> dict[str, Any]:
    """The optional body of a rotation that may keep the old secret working for a while:
    ``{"grace": "24h"}``, a key of ``ROTATION_GRACE``; ``description`` says what keeps
    working. For ``openapi_spec_methods`` (a request body cannot be a ``$ref``)."""
    grace = {"type": "string", "enum": list(ROTATION_GRACE), "description": description}
    schema = {"type": "object", "properties": {"grace": grace}}
    return {"required": False, "content": {"application/json": {"schema": schema}}}
