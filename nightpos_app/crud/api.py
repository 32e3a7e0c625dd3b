"""Generic REST resources for registered models.

REST resources (``/api/v1/<technical name with dots as underscores>/``)
    * Fields go by technical name, as in the record API. A many-to-one is
      written and read as the related id: ``{"currency_id": 3}``.
    * List and show also give the related record's name, read-only, under the
      relationship's name: ``"currency": {"name": "THB"}`` (FAB's dotted
      column ``currency.name``), so a client needs no second call to show an
      order. Computed attributes are read-only fields (``"name": "S00007"``).
    * PUT changes only the fields sent (FAB merges them into the record).
    * Invalid input is a 422 whose ``message`` maps each field to its errors:
      a wrong type, an unknown selection value, a missing required field, a
      many-to-one id with no record (``"No Currency with id 999."``), a value
      a unique column already holds, an unknown field. A body that is not JSON
      is a 400.
    * A change the database refuses anyway (deleting a currency that orders
      still use, a concurrent duplicate) is a 422 with a plain sentence; the
      SQL statement is logged, never returned.
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
from typing import Any

import prison
import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request
from flask_appbuilder import AppBuilder, ModelRestApi
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.const import API_FILTERS_RIS_KEY
from flask_appbuilder.exceptions import ApplyFilterException
from marshmallow import ValidationError, validates_schema
from marshmallow import fields as ma_fields
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema
from sqlalchemy.orm import ColumnProperty, RelationshipDirection

from nightpos_app.crud.columns import _description, _out_of_range, base_order, columns_for
from nightpos_app.crud.errors import RecordInterface
from nightpos_app.extensions import db
from nightpos_app.orm.registry import ModelEntry

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


def _unparseable_rison() -> tuple[Response, int] | None:
    """A 400 for a ``q`` that sends prison's parser into endless recursion.

    FAB's ``@rison`` catches prison's ``ParserException`` only; an unclosed
    ``(((`` ends in ``RecursionError``, which FAB's ``@safe`` turns into a 500.
    """
    q = request.args.get("q")
    if not q:
        return None
    try:
        prison.loads(q)
    except RecursionError:
        return jsonify(message="Not a valid rison argument"), 400
    except Exception:  # noqa: S110  (FAB's @rison answers the other parse errors itself)
        pass
    return None


class RecordRestApi(ModelRestApi):
    """FAB's ``ModelRestApi``, answering bad list arguments with a 400 rather than a 500.

    FAB hands rison filter values to the query as they come: ``amount_total gt
    "abc"`` is a database error on PostgreSQL (a 500), while SQLite quietly
    matches nothing. Values are checked against the column's type first.
    """

    def create_blueprint(self, appbuilder: AppBuilder, *args: Any, **kwargs: Any) -> Blueprint:
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        blueprint.before_request(_unparseable_rison)
        return blueprint

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
