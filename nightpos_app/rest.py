"""The REST API's contract, for everything under ``/api/``: errors, authentication, the spec.

Every error is JSON in one shape, ``{"message": ...}``: a sentence, or for a body that does not
validate (400 from the login, 422 from a resource) an object mapping each field to its errors.

* A URL no route has (an unknown resource, a primary key that is not an integer) answers
  ``404 {"message": "Not Found"}``; a method the URL does not have answers ``405`` with an
  ``Allow`` header listing those it has. Werkzeug would answer both in HTML.
* A missing, malformed, forged, expired or wrong-kind bearer token answers ``401`` with a
  ``WWW-Authenticate: Bearer`` header. Flask-JWT-Extended would answer a malformed one ``422
  {"msg": ...}``.
* Primary keys in URLs are ``<pk:...>``: ASCII digits with an optional sign (never the other
  scripts' digits ``int()`` accepts), so ``/<resource>/_info`` and ``/<resource>/abc`` never
  reach a handler that expects a record.
* ``/api/v1/_openapi`` says what the API does: :class:`OpenApi` fills in the shared error
  responses and, on every operation, the statuses every operation of its kind can answer
  (401/403 behind a token, 404 with a primary key, 409 for a DELETE, 400 with a body or a
  ``q``, 422 with a record's body).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app, jsonify, request
from flask_appbuilder import AppBuilder
from flask_appbuilder.api import expose, protect
from flask_appbuilder.api.manager import OpenApi as FabOpenApi
from flask_appbuilder.api.manager import SwaggerView, resolver
from flask_appbuilder.menu import MenuApi as FabMenuApi
from flask_appbuilder.security.decorators import permission_name
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

from nightpos_app import sqlite
from nightpos_app.extensions import db

API_PREFIX = "/api/"

# --------------------------------------------------------------------------
# The error shape
# --------------------------------------------------------------------------

_SENTENCE = {"type": "string", "description": "What went wrong, in one sentence"}
_FIELD_ERRORS = {
    "type": "object",
    "description": (
        "Each field at fault (``_schema`` for the body as a whole) and its errors: a list of "
        "sentences, or for a field holding an object, the same mapping one level down"
    ),
    "additionalProperties": {},
}


def _error(description: str, message: Mapping[str, Any] = _SENTENCE) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {"message": dict(message)},
        "required": ["message"],
    }
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SENTENCE_OR_FIELDS = {"oneOf": [_SENTENCE, _FIELD_ERRORS]}

#: ``#/components/responses/<status>``: one shape for every error of the API.
RESPONSES: dict[str, dict[str, Any]] = {
    "400": _error(
        "Bad request: the body is not JSON, a ``q`` argument does not parse or suit its "
        "columns, or (the login) the body does not validate",
        _SENTENCE_OR_FIELDS,
    ),
    "401": {
        **_error("No valid bearer token: missing, malformed, forged, expired or of the wrong kind"),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "403": _error("The token's user may not do this"),
    "404": _error("No such record, or no such URL"),
    "405": {
        **_error("The URL does not take this method"),
        "headers": {"Allow": {"schema": {"type": "string"}, "required": True}},
    },
    "409": _error(
        "The record's state does not allow this: (a DELETE) other records still refer to it, "
        "or (an action) the record is not in a state that allows it"
    ),
    "422": _error(
        "The body does not validate (field errors), or the database refused the change "
        "(a sentence)",
        _SENTENCE_OR_FIELDS,
    ),
    "500": _error("An unexpected error; it is logged"),
}


def _json_error(status: int, message: Any, headers: Mapping[str, str] | None = None) -> Response:
    response = jsonify(message=message)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_error(error: HTTPException) -> Any:
    """An HTTP error under /api/ as JSON (the ``Allow`` of a 405 kept); elsewhere as it was."""
    if not request.path.startswith(API_PREFIX) or error.code is None:
        return error
    allow = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    if isinstance(error, MethodNotAllowed):
        methods = sorted(set(error.valid_methods or ()) - {"HEAD", "OPTIONS"})
        message = f"{request.method} is not allowed here: this URL takes {', '.join(methods)}."
    elif error.description and error.description != type(error).description:
        message = error.description  # said by the code that raised it
    else:
        message = error.name[:1] + error.name[1:].lower()  # "Not found", as FAB says it
    return _json_error(error.code, message, allow)


def _unauthorized(reason: str) -> Response:
    return _json_error(401, reason or "Not authorized", {"WWW-Authenticate": "Bearer"})


def install_jwt_errors(jwt_manager: Any) -> None:
    """Every refused bearer token is a 401 in the API's error shape."""
    jwt_manager.unauthorized_loader(_unauthorized)
    jwt_manager.invalid_token_loader(_unauthorized)
    jwt_manager.expired_token_loader(lambda _header, _payload: _unauthorized("Token has expired"))
    jwt_manager.revoked_token_loader(lambda _header, _payload: _unauthorized("Token was revoked"))
    jwt_manager.needs_fresh_token_loader(
        lambda _header, _payload: _unauthorized("A fresh token is required")
    )
    jwt_manager.user_lookup_error_loader(
        lambda _header, _payload: _unauthorized("The token's user does not exist")
    )
    jwt_manager.token_verification_failed_loader(
        lambda _header, _payload: _unauthorized("The token was refused")
    )


class PrimaryKeyConverter(BaseConverter):
    """``<pk:pk>``: an integer written in ASCII digits, optionally signed; anything else is no
    route (a JSON 404, or a 405 where the URL has other methods, such as ``/_info``)."""

    regex = r"-?[0-9]+"
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


#: Methods that may write.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _write_lock_for_writes() -> None:
    """On SQLite, a call that may write takes the write lock before anything runs, so that
    concurrent writes queue (up to the busy timeout) as webhook calls do: a transaction that
    reads first and writes then cannot wait for another writer, and was refused at once with
    "database is locked" (nightpos_app/sqlite.py; tests/core/test_rest_write_lock.py)."""
    if request.method not in WRITES or not request.path.startswith(API_PREFIX):
        return
    session = db.session()
    if session.get_bind().dialect.name != "sqlite":
        return
    # Nothing written yet: whatever read before starts again, in a transaction that can wait.
    sqlite.begin_write_transaction(session)


LOGIN = "/api/v1/security/login"


def _login_needs_provider() -> Response | None:
    """FAB's login takes ``provider`` as optional and then fails without it (a 500)."""
    if request.method != "POST" or request.path != LOGIN:
        return None
    body = request.get_json(silent=True)
    if isinstance(body, dict) and "provider" not in body:
        return _json_error(400, {"provider": ["Missing data for required field."]})
    return None


def install_routing(app: Flask) -> None:
    """Before any blueprint is registered: the ``pk`` converter and FAB's views off (ours)."""
    app.url_map.converters["pk"] = PrimaryKeyConverter
    app.register_error_handler(HTTPException, _http_error)
    app.before_request(_login_needs_provider)
    app.before_request(_write_lock_for_writes)
    # NightPOS registers its own OpenApi and MenuApi (below) under FAB's names.
    app.config["FAB_ADD_OPENAPI_VIEWS"] = False
    app.config["FAB_ADD_MENU_API"] = False


def install_api(app: Flask, appbuilder: AppBuilder) -> None:
    """After FAB is initialised: the JWT errors, the spec and the menu API."""
    install_jwt_errors(appbuilder.sm.jwt_manager)
    appbuilder.add_api(MenuApi)
    appbuilder.add_api(OpenApi)
    if app.config.get("FAB_API_SWAGGER_UI", False):
        appbuilder.add_view_no_menu(SwaggerView)


# --------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------


def deep_merge(target: dict[Any, Any], changes: Mapping[Any, Any]) -> dict[Any, Any]:
    """Merge ``changes`` into ``target`` in place, mappings key by key (keys as strings: YAML
    reads ``200:`` as a number); returns ``target``."""
    for key in list(target):
        if not isinstance(key, str):
            target[str(key)] = target.pop(key)
    for key, value in changes.items():
        key = str(key)
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _ref(status: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{status}"}


def _statuses_of(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses every operation of this kind can answer."""
    statuses = []
    if operation.get("security"):
        statuses += ["401", "403"]
    if "{pk}" in path:
        statuses.append("404")
        if method == "delete":
            statuses.append("409")  # other records still refer to it
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    if body:
        statuses.append("400")
        if "$ref" in body.get("schema", {}):  # a record: its fields are validated
            statuses.append("422")
    if any(p.get("name") == "q" for p in operation.get("parameters", [])):
        statuses.append("400")
    return statuses


#: What FAB's own operations say wrong about themselves.
FAB_CORRECTIONS: dict[tuple[str, str], dict[str, Any]] = {
    # FAB's login schema requires both (LoginPost), its docstring says neither.
    ("/api/v1/security/login", "post"): {
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        # FAB's login refuses other fields, and fails without a provider.
                        "required": ["username", "password", "provider"],
                        "additionalProperties": False,
                        "properties": {
                            "username": {"minLength": 1},
                            "password": {"minLength": 1},
                            # NightPOS authenticates against its database only.
                            "provider": {"enum": ["db"]},
                        },
                    }
                }
            }
        }
    },
    # The refresh route takes a refresh token alone: an access token is a 401.
    ("/api/v1/security/refresh", "post"): {"security": [{"jwt_refresh": []}]},
}


def describe_contract(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as FAB built it, with the API's error shape and statuses."""
    components = spec.setdefault("components", {})
    components["responses"] = {**components.get("responses", {}), **copy.deepcopy(RESPONSES)}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            deep_merge(operation, FAB_CORRECTIONS.get((path, method), {}))
            responses = deep_merge(operation.setdefault("responses", {}), {})
            for status in _statuses_of(path, method, operation):
                responses.setdefault(status, _ref(status))
    return spec


class ContractSpec(APISpec):
    """FAB's spec, with the contract described by :func:`describe_contract`."""

    def to_dict(self) -> dict[str, Any]:
        return describe_contract(super().to_dict())


class OpenApi(FabOpenApi):
    """``/api/<version>/_openapi`` (FAB's view, under FAB's name and permissions)."""

    @staticmethod
    def _create_api_spec(version: str) -> APISpec:
        servers = current_app.config.get("FAB_OPENAPI_SERVERS", [{"url": request.host_url}])
        return ContractSpec(
            title=current_app.appbuilder.app_name,
            version=version,
            openapi_version="3.0.2",
            info={"description": current_app.appbuilder.app_name},
            plugins=[MarshmallowPlugin(schema_name_resolver=resolver)],
            servers=servers,
        )


class MenuApi(FabMenuApi):
    """FAB's menu API, with its separators declared: a ``"-"`` between groups of entries."""

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @permission_name("get")
    def get_menu_data(self) -> Response:
        """The menu the user may see.
        ---
        get:
          description: >-
            The menu entries the user has access to, as a forest; a child is an entry or the
            separator "-"
          responses:
            200:
              description: The menu
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      result:
                        type: array
                        items:
                          $ref: '#/components/schemas/MenuEntry'
            401:
              $ref: '#/components/responses/401'
        """
        return self.response(200, result=current_app.appbuilder.menu.get_data())

    def add_apispec_components(self, api_spec: APISpec) -> None:
        super().add_apispec_components(api_spec)
        entry = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "The permission name of the entry"},
                "label": {"type": "string"},
                "icon": {"type": "string"},
                "url": {"type": "string"},
                "childs": {
                    "type": "array",
                    "items": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/MenuEntry"},
                            {"type": "string", "enum": ["-"], "description": "A separator"},
                        ]
                    },
                },
            },
        }
        if "MenuEntry" not in api_spec.components.schemas:
            api_spec.components.schema("MenuEntry", entry)
