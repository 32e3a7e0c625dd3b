"""Generic REST resources for registered models.

REST resources (``/api/v1/<technical name with dots as underscores>/``)
    * Fields go by technical name, as in the record API. A many-to-one is
      written and read as the related id: ``{"currency_id": 3}``.
    * List and show also give the related record's name, read-only, under the
      relationship's name: ``"currency": {"name": "THB"}`` (FAB's dotted
      column ``currency.name``), so a client needs no second call to show an
      order. Computed attributes are read-only fields (``"name": "S00007"``).
    * PUT changes only the fields sent (FAB merges them into the record); a
      body that is not a JSON object is a 422, as on POST.
    * A selection field takes one of its values, as a string (the spec lists
      them as an ``enum``); an amount is a JSON number both ways.
    * Primary keys in URLs are integers: ``/api/v1/sale_order/abc`` is a JSON
      404, ``PUT /api/v1/sale_order/_info`` a 405 (nightpos_app/rest.py).
    * A read-only resource (``read_only = True``) has no POST, PUT or DELETE
      route at all: neither the router nor the spec lists them.
    * Invalid input is a 422 whose ``message`` maps each field to its errors:
      a wrong type, an unknown selection value, a missing required field, a
      many-to-one id with no record (``"No Currency with id 999."``), a value
      a unique column already holds, an unknown field. A body that is not JSON
      is a 400.
    * A change the database refuses anyway (a concurrent duplicate) is a 422
      with a plain sentence; deleting a record others still refer to (a
      currency that orders use) is a 409 with a plain sentence. The SQL
      statement is logged, never returned.
    * List filters use FAB's rison ``q``:
      ``?q=(filters:!((col:state,opr:eq,value:sale)),order_column:id)``; a
      filter value that does not suit its column's type, or a ``q`` that does
      not parse, is a 400.

The REST resources keep the registry's English texts: clients read
``label_columns`` and error messages as they are documented.

The REST resources authenticate with JWT only (``allow_browser_login`` stays
off): FAB exempts API blueprints from CSRF, which is safe only when the
browser's session cookie cannot authorise a call.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Blueprint
from flask_appbuilder import AppBuilder, ModelRestApi
from flask_appbuilder.api import BaseApi
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.const import API_FILTERS_RIS_KEY
from flask_appbuilder.exceptions import ApplyFilterException, DatabaseException
from marshmallow import ValidationError, validates_schema
from marshmallow import fields as ma_fields
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema
from sqlalchemy.orm import ColumnProperty, RelationshipDirection
from werkzeug.wrappers import Response

from nightpos_app.crud.columns import _description, _out_of_range, base_order, columns_for
from nightpos_app.crud.errors import RecordInterface, RecordInUse
from nightpos_app.crud.fields import RecordModelConverter
from nightpos_app.crud.query import check_query, query_schema
from nightpos_app.extensions import db
from nightpos_app.orm.registry import ModelEntry
from nightpos_app.rest import deep_merge

# --------------------------------------------------------------------------
# REST resources
# --------------------------------------------------------------------------


def _unique_columns(model: type[Any]) -> set[str]:
    """Columns that hold a unique value on their own (not part of a composite key)."""
    table = model.__table__
    names = {c.name for c in table.columns if c.unique and not c.primary_key}
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and len(constraint.columns) == 1:
            names.update(c.name for c in constraint.columns)
    for index in table.indexes:
        if index.unique and len(index.columns) == 1:
            names.update(c.name for c in index.columns)
    return names


def _many2one_targets(model: type[Any]) -> dict[str, type[Any]]:
    """Foreign-key attribute -> the mapped class its many-to-one points at."""
    targets: dict[str, type[Any]] = {}
    for rel in sa.inspect(model).relationships:
        if rel.direction is RelationshipDirection.MANYTOONE and len(rel.local_columns) == 1:
            (local,) = rel.local_columns
            targets[local.key] = rel.mapper.class_
    return targets


class RecordSchema(SQLAlchemyAutoSchema):
    """Checks the database would accept the data, so the caller gets a field error.

    Without these checks an unknown many-to-one id or a duplicate value of a
    unique column reaches the database, and the caller gets a sentence about
    the whole record instead of the field at fault.
    """

    @validates_schema(skip_on_field_errors=True)
    def _check_against_database(self, data: dict[str, Any], **_kwargs: Any) -> None:
        model = self.opts.model
        if model is None or not isinstance(data, dict):
            return
        mapper = sa.inspect(model)
        targets = _many2one_targets(model)
        uniques = _unique_columns(model)
        session = self.session
        # On PUT the record being edited keeps its own values.
        current = getattr(self, "instance", None)
        current_id = getattr(current, "id", None)
        errors: dict[str, list[str]] = {}
        for key, value in data.items():
            prop = mapper.attrs.get(key)
            if value is None or not isinstance(prop, ColumnProperty):
                continue
            column = prop.columns[0]
            problem = _out_of_range(column, value)
            if problem:
                errors[key] = [problem]
                continue
            target = targets.get(key)
            if target is not None and session.get(target, value) is None:
                errors[key] = [f"No {_description(target)} with id {value}."]
            if column.name in uniques:
                query = sa.select(sa.func.count()).select_from(model).where(column == value)
                if current_id is not None:
                    query = query.where(mapper.primary_key[0] != current_id)
                if session.scalar(query):
                    errors[key] = [f"Another {_description(model)} already has {value!r}."]
        if errors:
            raise ValidationError(errors)


class ForeignKeySchemaConverter(Model2SchemaConverter):
    """FAB's schema converter, with foreign keys as plain id fields.

    FAB hands its per-column fields to marshmallow-sqlalchemy as a plain mixin
    class, which marshmallow 4 does not collect, and leaves foreign keys out.
    Here the fields become the schema's own and ``include_fk`` is on, so the
    API speaks the record API's names: ``{"currency_id": 3}``. Schemas check
    many-to-one ids and unique values (:class:`RecordSchema`).
    """

    def _column2field(
        self,
        datamodel: Any,
        column: Any,
        nested: bool = True,
        parent_schema_name: str | None = None,
    ) -> ma_fields.Field:
        # A stored column through NightPOS's converter (FAB's uses marshmallow-sqlalchemy's).
        prop = sa.inspect(datamodel.obj).attrs.get(column.name)
        if isinstance(prop, ColumnProperty) and not datamodel.is_relation(column.name):
            field = RecordModelConverter().field_for(datamodel.obj, column.name)
            field.unique = datamodel.is_unique(column.name)  # type: ignore[attr-defined]
            validator = self.validators_columns.get(column.name)
            if validator is not None:
                field.validators.append(validator)
            return field
        return super()._column2field(datamodel, column, nested, parent_schema_name)

    def _meta_schema_factory(
        self,
        columns: list[str],
        model: type[Any] | None,
        class_mixin: type[Any],
        parent_schema_name: str | None = None,
    ) -> type[SQLAlchemyAutoSchema]:
        meta_attrs: dict[str, Any] = {
            "model": model,
            "include_fk": True,
            "load_instance": True,
            "sqla_session": db.session,
            "parent_schema_name": parent_schema_name,
            "model_converter": RecordModelConverter,
        }
        if columns:
            meta_attrs["fields"] = columns
        declared = {k: v for k, v in vars(class_mixin).items() if isinstance(v, ma_fields.Field)}
        return type(
            "MetaSchema",
            (RecordSchema,),
            {**declared, "Meta": type("Meta", (), meta_attrs)},
        )


def _coerce_filter_value(column: sa.Column[Any], value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` (or each item of a list) suits ``column``."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return
    for item in value if isinstance(value, list) else [value]:
        if item is None:
            continue
        if python_type is bool:
            if not isinstance(item, bool):
                raise ValueError(item)
        elif python_type is int:
            if isinstance(item, bool) or _out_of_range(column, int(item)):
                raise ValueError(item)
        elif python_type is decimal.Decimal:
            if _out_of_range(column, decimal.Decimal(str(item))):
                raise ValueError(item)
        elif python_type in (dt.date, dt.datetime):
            python_type.fromisoformat(str(item))


def _routed(method: Callable[..., Any], url: str) -> Callable[..., Any]:
    """FAB's route handler ``method`` (its permission, spec and response merging) on ``url``."""

    @functools.wraps(method)
    def handler(self: Any, *args: Any, **kwargs: Any) -> Any:
        return method(self, *args, **kwargs)

    handler._urls = [(url, methods) for _url, methods in method._urls]  # type: ignore[attr-defined]
    return handler


_JSON = ("content", "application/json", "schema", "properties")


def _response_properties(status: int, properties: dict[str, Any]) -> dict[str, Any]:
    """``{"responses": {status: {"content": … "properties": properties}}}``."""
    nested: dict[str, Any] = properties
    for key in reversed(_JSON):
        nested = {key: nested}
    return {"responses": {str(status): nested}}


#: One column as ``_info`` describes it in ``add_columns`` and ``edit_columns``.
_COLUMN_INFO = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "label": {"type": "string"},
        "description": {"type": "string"},
        "type": {"type": "string", "description": "The marshmallow field: String, Integer, …"},
        "required": {"type": "boolean"},
        "unique": {"type": "boolean"},
        "validate": {"type": "array", "items": {"type": "string"}},
        "count": {"type": "integer"},
        "values": {"type": "array", "items": {"type": "object"}},
    },
}
_COLUMNS_INFO = {"type": "array", "items": _COLUMN_INFO}

#: What FAB's docstrings say wrong about a resource's operations, by handler: ids are
#: integers, and ``_info`` lists its columns.
SPEC_CORRECTIONS: dict[str, dict[str, Any]] = {
    "get_list": _response_properties(
        200, {"ids": {"type": "array", "items": {"type": "integer"}}, "count": {"type": "integer"}}
    ),
    "get": _response_properties(200, {"id": {"type": "integer"}}),
    "post": _response_properties(201, {"id": {"type": "integer"}}),
    "info": _response_properties(
        200, {"add_columns": _COLUMNS_INFO, "edit_columns": _COLUMNS_INFO}
    ),
}


class RecordRestApi(ModelRestApi):
    """FAB's ``ModelRestApi``, keeping the API's contract (nightpos_app/rest.py).

    * Bad list arguments are a 400, not a 500: FAB hands rison filter values to the query as
      they come (``amount_total gt "abc"`` is a database error on PostgreSQL, while SQLite
      quietly matches nothing), so values are checked against the column's type first.
    * A record's routes take ``<pk:pk>``, an integer: FAB's GET takes unsigned ones only (a
      negative id was a 405) and its PUT and DELETE any text (``PUT …/_info`` was a 400).
    * A PUT body that is not an object is a 422 (FAB merged it as a dict: a 500).
    * ``read_only = True``: no POST, PUT or DELETE route, in the router or the spec.
    * The spec is corrected where FAB's docstrings are wrong (:data:`SPEC_CORRECTIONS`).
    """

    #: A resource that only reads: its write routes do not exist (a 405 with ``Allow``).
    read_only = False

    get = _routed(ModelRestApi.get, "/<pk:pk>")
    put = _routed(ModelRestApi.put, "/<pk:pk>")
    delete = _routed(ModelRestApi.delete, "/<pk:pk>")

    def __init__(self) -> None:
        if self.read_only:
            self.exclude_route_methods = {*self.exclude_route_methods, "post", "put", "delete"}
        super().__init__()

    def delete_headless(self, pk: Any) -> Response:
        """FAB's delete, answering a refusal in plain words: 409 when other records still refer
        to the record (the database's state forbids it), 422 for any other refusal. FAB
        answered both 422 ``Database exception occurred: …``."""
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            return self.response_404()
        self.pre_delete(item)
        try:
            self.datamodel.delete(item)
        except DatabaseException as exc:
            status = 409 if isinstance(exc.__cause__, RecordInUse) else 422
            return self.response(status, message=str(exc))
        self.post_delete(item)
        return self.response(200, message="OK")

    def create_blueprint(self, appbuilder: AppBuilder, *args: Any, **kwargs: Any) -> Blueprint:
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        #: The ``q`` argument's schema of each route that takes one (nightpos_app/crud/query.py).
        self.query_schemas = {
            handler: schema
            for handler in ("get_list", "get", "info")
            if (schema := query_schema(self, handler)) is not None
        }
        blueprint.before_request(functools.partial(check_query, self))
        return blueprint

    def add_apispec_components(self, api_spec: Any) -> None:
        # FAB's, with only the POST's required fields required: a PUT changes the fields it
        # sends, and a list or show answer holds the columns ``q`` asks for.
        BaseApi.add_apispec_components(self, api_spec)
        for name, schema in (
            (self.list_model_schema_name, self.list_model_schema),
            (self.add_model_schema_name, self.add_model_schema),
            (self.edit_model_schema_name, self.edit_model_schema),
            (self.show_model_schema_name, self.show_model_schema),
        ):
            writes = (self.add_model_schema, self.edit_model_schema)
            if self.read_only and schema in writes:
                continue  # no route takes them
            if schema is not self.add_model_schema:
                schema = type(schema)(partial=True)
            api_spec.components.schema(name, schema=schema)

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        methods: list[str] | None = None,
        func: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().operation_helper(path, operations, methods, func, **kwargs)
        handler = getattr(func, "__name__", "")
        correction = SPEC_CORRECTIONS.get(handler)
        query = getattr(self, "query_schemas", {}).get(handler)
        for method in methods or []:
            operation = (operations or {}).get(method.lower())
            if operation is None:
                continue
            if correction:
                deep_merge(operation, correction)
            for parameter in operation.get("parameters", []):
                if query is not None and parameter.get("name") == "q":
                    parameter["content"] = {"application/json": {"schema": query}}

    def _merge_update_item(self, model_item: Any, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            # The same answer as a POST of this body.
            raise ValidationError({"_schema": ["Invalid input type."]})
        return super()._merge_update_item(model_item, data)

    def _handle_filters_args(self, rison_args: dict[str, Any]) -> Any:
        columns = self.datamodel.obj.__mapper__.columns
        for flt in rison_args.get(API_FILTERS_RIS_KEY, []):
            name = flt.get("col")
            if name in self.search_columns and name in columns:
                try:
                    _coerce_filter_value(columns[name], flt.get("value"))
                except (ValueError, TypeError, decimal.InvalidOperation):
                    raise ApplyFilterException(
                        f"Filter value {flt.get('value')!r} does not suit column {name}."
                    ) from None
        return super()._handle_filters_args(rison_args)


def build_model_api(
    entry: ModelEntry, base: type[ModelRestApi] = RecordRestApi, **attrs: Any
) -> type[ModelRestApi]:
    """A FAB ``ModelRestApi`` at ``/api/v1/<resource name>/`` with explicit columns."""
    cols = columns_for(entry)
    defaults: dict[str, Any] = {
        "datamodel": RecordInterface(entry.model_class),
        "resource_name": entry.resource_name,
        "openapi_spec_tag": entry.description,
        "allow_browser_login": False,
        "model2schemaconverter": ForeignKeySchemaConverter,
        "list_title": entry.description,
        "show_title": entry.description,
        "add_title": f"New {entry.description}",
        "edit_title": f"Edit {entry.description}",
        "list_columns": cols.api_read,
        "show_columns": cols.api_read,
        "add_columns": cols.api_write,
        "edit_columns": cols.api_write,
        "search_columns": cols.api_search,
        "order_columns": cols.api_order,
        "label_columns": cols.labels,
        "description_columns": cols.descriptions,
    }
    order = base_order(entry)
    if order:
        defaults["base_order"] = order
    defaults.update(attrs)
    class_name = "".join(part.title() for part in entry.name.split(".")) + "Api"
    return type(class_name, (base,), defaults)
