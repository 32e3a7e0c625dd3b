"""What the webhooks addon's REST resources share: secret columns, validating converters,
rotations, and the factory that builds a resource for a model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from apispec import APISpec
from flask import request
from werkzeug.wrappers import Response

from addons.webhooks.api import openapi_components
from addons.webhooks.models import ROTATION_GRACE
from addons.webhooks.security import can_read_secrets
from nightpos_app.crud import ForeignKeySchemaConverter, RecordRestApi, build_model_api, columns_for
from nightpos_app.extensions import db
from nightpos_app.orm.registry import ModelEntry


class ValidatingConverter(ForeignKeySchemaConverter):
    """The host's schema converter, adding ``checks`` (a class of schema validators)."""

    checks: type = object

    def _meta_schema_factory(self, *args: Any, **kwargs: Any) -> Any:
        schema = super()._meta_schema_factory(*args, **kwargs)
        return type(schema.__name__, (self.checks, schema), {})


def converter_for(checks: type) -> type[ValidatingConverter]:
    """A schema converter that runs the validators of ``checks`` on every load."""
    return type(f"{checks.__name__}Converter", (ValidatingConverter,), {"checks": checks})


def requested_grace() -> Any:
    """The ``grace`` a rotation request asks for (a ROTATION_GRACE key; ``none`` when the body
    says nothing). Anything else is returned as it is, for the caller to refuse."""
    body = request.get_json(silent=True) if request.content_length else None
    return body.get("grace", "none") if isinstance(body, dict) else "none"


#: A rotation: changes the record (given the grace period, None for none); after the commit,
#: what the answer's ``result`` says to everyone and what it adds for ``can_read_secret``.
Rotate = Callable[[Any, dt.timedelta | None], None]
Describe = Callable[[Any], dict[str, Any]]


class WebhooksApi(RecordRestApi):
    """A resource of the addon. Declared per resource:

    * ``secret_columns``: returned only to callers with ``can_read_secret`` (removed for the
      others), never filtered or sorted on (a filter would tell a secret a character at a
      time);
    * ``hidden_columns``: never returned, filtered or sorted on;
    * ``checks``: a class of schema validators run on every POST and PUT;
    * ``read_only`` (the host's): no POST, PUT or DELETE route.

    The routes' docstrings refer to the addon's shared OpenAPI components
    (:mod:`~addons.webhooks.api.openapi_components`), registered by every resource.
    """

    secret_columns: tuple[str, ...] = ()
    hidden_columns: tuple[str, ...] = ()
    checks: type | None = None
    responses = {**RecordRestApi.responses, **openapi_components.RESPONSES}

    @classmethod
    def for_model(cls, entry: ModelEntry) -> type[RecordRestApi]:
        """This resource for the model ``entry``: its columns less the hidden and secret
        ones, the secret ones read back (and redacted per caller)."""
        cols = columns_for(entry)
        unlisted = {*cls.hidden_columns, *cls.secret_columns}
        read = [c for c in cols.api_read if c not in unlisted] + list(cls.secret_columns)
        attrs: dict[str, Any] = {
            "list_columns": read,
            "show_columns": read,
            "search_columns": [c for c in cols.api_search if c not in unlisted],
            "order_columns": [c for c in cols.api_order if c not in unlisted],
        }
        if cls.checks is not None:
            attrs["model2schemaconverter"] = converter_for(cls.checks)
        return build_model_api(entry, base=cls, **attrs)

    def add_apispec_components(self, api_spec: APISpec) -> None:
        super().add_apispec_components(api_spec)
        openapi_components.register(api_spec)

    # ------------------------------------------------------------ secrets in answers

    def redact(self, row: dict[str, Any], secrets: bool) -> None:
        """Remove what this caller may not read from one record of an answer."""
        for name in self.secret_columns:
            value = row.pop(name, None)
            if secrets:
                row[name] = value

    def pre_get(self, data: dict[str, Any]) -> None:
        if isinstance(data.get("result"), dict):
            self.redact(data["result"], can_read_secrets())

    def pre_get_list(self, data: dict[str, Any]) -> None:
        secrets = can_read_secrets()
        for row in data.get("result", []):
            self.redact(row, secrets)

    # ------------------------------------------------------------ rotations

    def rotation(
        self,
        pk: int,
        rotate: Rotate,
        message: str,
        public: Describe,
        secret: Describe,
        graced: bool = True,
    ) -> Response:
        """Rotate a secret of record ``pk`` and answer what changed (the new secret only to
        ``can_read_secret``). ``graced``: the body may ask for a grace period
        (``{"grace": "24h"}``), during which the old secret keeps working."""
        record = self.datamodel.get(pk, self._base_filters)
        if record is None:
            return self.response_404()
        grace = None
        if graced:
            key = requested_grace()
            if key not in ROTATION_GRACE:
                return self.response_400(f"grace must be one of {', '.join(ROTATION_GRACE)}.")
            grace = ROTATION_GRACE[key][1]
        rotate(record, grace)
        db.session.commit()
        result: dict[str, Any] = {"message": message, **public(record)}
        if can_read_secrets():
            result.update(secret(record))
        return self.response(200, id=record.id, result=result)


def until(moment: dt.datetime | None) -> str | None:
    """A naive UTC time as the API writes it."""
    return None if moment is None else moment.isoformat() + "Z"
