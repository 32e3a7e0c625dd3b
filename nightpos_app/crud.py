"""Generic CRUD screens and REST resources for registered models.

Built from the registry's field metadata, so screens, API and record API
agree on fields and labels. Columns are always listed explicitly: a model
gains a column in its screens and API only when the field metadata says so.

Screens (``/<model>view/list/`` …)
    A many-to-one is edited through its relationship as a dropdown of the
    related records; a selection is a dropdown showing the field's labels
    (``Quotation``), stored as its value (``draft``); list and show pages show
    those labels too, and nothing (not ``None``) for an empty value. A boolean
    is a checkbox that may be left unticked, shown as Yes or No. Computed attributes
    (``sale.order``'s ``name``, the ``S00007`` number) are shown but neither
    sortable nor editable. A refused save or delete is flashed as a sentence.

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

Languages
    The screens show labels, titles and selection labels in the user's language
    (:mod:`nightpos_app.i18n`): the view classes hold lazy translations of the
    registry's English texts. The REST resources keep the English texts: clients
    read ``label_columns`` and error messages as they are documented.

The REST resources authenticate with JWT only (``allow_browser_login`` stays
off): FAB exempts API blueprints from CSRF, which is safe only when the
browser's session cookie cannot authorise a call.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import prison
import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, request
from flask_appbuilder import AppBuilder, ModelRestApi, ModelView
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.const import API_FILTERS_RIS_KEY
from flask_appbuilder.exceptions import ApplyFilterException, DatabaseException
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.interface import SQLAInterface
from marshmallow import ValidationError, validates_schema
from marshmallow import fields as ma_fields
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import ColumnProperty, RelationshipDirection
from wtforms import BooleanField, Field, SelectField
from wtforms.validators import InputRequired, NumberRange

from nightpos_app.extensions import db
from nightpos_app.i18n import lazy, translate
from nightpos_app.orm.fields import FieldInfo
from nightpos_app.orm.registry import ModelEntry, ModelRegistry

try:  # WTForms >= 3.3
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None  # type: ignore[assignment,misc]


def _description(model_class: type[Any]) -> str:
    return getattr(model_class, "__model_description__", model_class.__name__)


#: Integer widths as PostgreSQL stores them (SQLite would take any 64-bit
#: value, but both databases must accept and refuse the same input).
_INT_BITS: tuple[tuple[type[sa.types.TypeEngine[Any]], int], ...] = (
    (sa.SmallInteger, 16),
    (sa.BigInteger, 64),
    (sa.Integer, 32),
)


def number_range(column: sa.Column[Any]) -> tuple[Any, Any] | None:
    """The smallest and largest number ``column`` stores, or None when unbounded.

    Out of range, PostgreSQL raises an error that FAB's ``@safe`` turns into a
    500 (on a lookup by id or a filter) or FAB's screens into a vague flash.
    """
    col_type: Any = column.type
    for sa_type, bits in _INT_BITS:
        if isinstance(col_type, sa_type):
            return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if isinstance(col_type, sa.Numeric) and not isinstance(col_type, sa.Float):
        if col_type.precision is None:
            return None
        scale = col_type.scale or 0
        largest = decimal.Decimal(10) ** (col_type.precision - scale) - (
            decimal.Decimal(1).scaleb(-scale)
        )
        return -largest, largest
    return None


def _out_of_range(column: sa.Column[Any], value: Any) -> str | None:
    """The error message when ``value`` is a number ``column`` cannot store."""
    bounds = number_range(column)
    if (
        bounds is None
        or isinstance(value, bool)
        or not isinstance(value, int | float | decimal.Decimal)
    ):
        return None
    low, high = bounds
    if low <= value <= high:
        return None
    return f"Must be greater than or equal to {low} and less than or equal to {high}."


# --------------------------------------------------------------------------
# Column lists
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelColumns:
    """Column lists for one model, in the vocabularies FAB expects."""

    #: Screens: a many-to-one shows and edits through its relationship (a dropdown).
    form: list[str]
    listing: list[str]
    show: list[str]
    search: list[str]
    #: Screens: sortable list columns (stored columns only, not computed attributes).
    order: list[str]
    labels: dict[str, str]
    descriptions: dict[str, str]
    #: API: fields by technical name (a many-to-one as the related id), plus
    #: computed attributes and ``<relationship>.name`` read-only.
    api_read: list[str]
    api_write: list[str]
    api_search: list[str]
    api_order: list[str]


def _related_class(entry: ModelEntry, fld: FieldInfo) -> type[Any]:
    relationship = getattr(entry.model_class, str(fld.relationship)).property
    return relationship.mapper.class_


def columns_for(entry: ModelEntry) -> ModelColumns:
    """Derive every column list of ``entry`` from its field metadata."""
    form: list[str] = []
    listing: list[str] = []
    show: list[str] = []
    search: list[str] = []
    api_write: list[str] = []
    api_stored = ["id"]
    api_related: list[str] = []
    labels: dict[str, str] = {"id": "Id"}
    descriptions: dict[str, str] = {}
    for fld in entry.fields.values():
        if fld.name == "id":
            continue
        screen_name = fld.relationship if fld.type == "many2one" else fld.name
        labels[screen_name] = fld.label
        labels[fld.name] = fld.label
        if fld.help:
            descriptions[screen_name] = fld.help
            descriptions[fld.name] = fld.help
        # Long text belongs on the show page, not in a list row.
        if fld.type != "text":
            listing.append(screen_name)
        show.append(screen_name)
        search.append(screen_name)
        api_stored.append(fld.name)
        if fld.type == "many2one" and hasattr(_related_class(entry, fld), "name"):
            dotted = f"{fld.relationship}.name"
            api_related.append(dotted)
            labels[dotted] = fld.label
        if not fld.readonly:
            form.append(screen_name)
            api_write.append(fld.name)
    labels.update(entry.computed)
    computed = list(entry.computed)
    order = [c for c in listing if c in entry.fields]
    return ModelColumns(
        form=form,
        listing=computed + listing,
        show=computed + show,
        search=search,
        order=order,
        labels=labels,
        descriptions=descriptions,
        api_read=api_stored + computed + api_related,
        api_write=api_write,
        api_search=api_stored[1:],
        api_order=api_stored,
    )


def base_order(entry: ModelEntry) -> tuple[str, str] | None:
    """FAB's ``base_order`` from the model's default order (its first stored term)."""
    first = entry.order.split(",")[0].split()
    if not first or first[0] not in entry.fields:
        return None
    direction = first[1].lower() if len(first) > 1 else "asc"
    return first[0], "desc" if direction == "desc" else "asc"


# --------------------------------------------------------------------------
# Database errors users can read
# --------------------------------------------------------------------------


class RecordError(Exception):
    """A database refusal, said in words for the user (no SQL in it)."""


def _integrity_kind(exc: IntegrityError) -> str:
    """``foreign_key``/``unique``/``not_null``/``check``/``other``, on PostgreSQL and SQLite."""
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg 3
    by_state = {"23503": "foreign_key", "23505": "unique", "23502": "not_null", "23514": "check"}
    if sqlstate in by_state:
        return by_state[sqlstate]
    text = str(exc.orig).upper()  # sqlite3: "FOREIGN KEY constraint failed", …
    for marker, kind in (
        ("FOREIGN KEY", "foreign_key"),
        ("UNIQUE", "unique"),
        ("NOT NULL", "not_null"),
        ("CHECK", "check"),
    ):
        if marker in text:
            return kind
    return "other"


def describe_database_error(exc: BaseException, item: Any, action: str) -> str:
    """One sentence on why the database refused to ``action`` (save/delete) ``item``."""
    what = _description(type(item))
    if isinstance(exc, IntegrityError):
        kind = _integrity_kind(exc)
        if kind == "foreign_key" and action == "delete":
            return f"{what} {item} cannot be deleted: other records still refer to it."
        messages = {
            "foreign_key": f"The {what} refers to a record that does not exist.",
            "unique": f"Another {what} already has one of these values (it must be unique).",
            "not_null": f"A required field of the {what} is empty.",
            "check": f"A field of the {what} has a value that is not allowed.",
        }
        if kind in messages:
            return messages[kind]
    return f"The database refused to {action} the {what}."


class RecordInterface(SQLAInterface):
    """FAB's SQLAlchemy interface, raising database errors users can read.

    FAB 5.3 shows a database error as it is: the screens flash the exception
    text (the SQL statement included) and the API answers ``Database exception
    occurred: <SQL>``; and ``add`` re-raises the raw SQLAlchemy error, which
    the API's ``except DatabaseException`` misses, so a refused POST is a 500.
    Here every refusal is a :class:`~flask_appbuilder.exceptions.DatabaseException`
    whose text and cause are one plain sentence (FAB has already logged the
    original with its statement and rolled back).
    """

    def get(self, id: Any, *args: Any, **kwargs: Any) -> Model | None:
        # An id the key column cannot hold is no record (PostgreSQL would
        # refuse the query: a 500 on /show/99999999999 or /api/v1/…/99999999999).
        keys = self.obj.__mapper__.primary_key
        if len(keys) == 1 and number_range(keys[0]) is not None:
            try:
                if _out_of_range(keys[0], int(id)):
                    return None
            except (TypeError, ValueError):
                return None
        return super().get(id, *args, **kwargs)

    def add(self, item: Model, commit: bool = True) -> None:
        try:
            super().add(item, commit)
        except (SQLAlchemyError, DatabaseException) as exc:
            _refuse(exc, item, "save")

    def edit(self, item: Model, commit: bool = True) -> None:
        try:
            super().edit(item, commit)
        except (SQLAlchemyError, DatabaseException) as exc:
            _refuse(exc, item, "save")

    def delete(self, item: Model, commit: bool = True) -> None:
        try:
            super().delete(item, commit)
        except (SQLAlchemyError, DatabaseException) as exc:
            _refuse(exc, item, "delete")


def _refuse(exc: BaseException, item: Any, action: str) -> NoReturn:
    original = exc.__cause__ if isinstance(exc, DatabaseException) else exc
    message = describe_database_error(original or exc, item, action)
    # FAB's API formats its 422 from ``__cause__``; the screens flash ``str()``.
    raise DatabaseException(message) from RecordError(message)


# --------------------------------------------------------------------------
# Screens
# --------------------------------------------------------------------------


def _choices(pairs: list[tuple[str, str]]) -> list[Any]:
    # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice,
    # which older WTForms (allowed by pyproject) does not have.
    if SelectChoice is None:
        return pairs
    return [SelectChoice(value, label) for value, label in pairs]


def _scalar_default(column: sa.Column[Any]) -> Any:
    default = column.default
    return default.arg if default is not None and default.is_scalar else None


def _selection_form_field(column: sa.Column[Any], fld: FieldInfo) -> SelectField:
    """A dropdown of the selection's labels that stores its values.

    FAB's own ``EnumField`` shows the raw values (``draft``); users should see
    ``Quotation``.
    """
    return SelectField(
        lazy(fld.label),
        description=lazy(fld.help),
        choices=_choices([(value, lazy(label)) for value, label in fld.selection]),
        default=_scalar_default(column),
        validators=[InputRequired()],
        widget=Select2Widget(),
    )


def _boolean_form_field(column: sa.Column[Any], fld: FieldInfo) -> BooleanField:
    """A checkbox that may be left unticked.

    FAB puts ``InputRequired`` on every NOT NULL column, and an unticked box
    sends nothing: an ``active`` flag could never be switched off.
    """
    return BooleanField(
        lazy(fld.label), description=lazy(fld.help), default=bool(_scalar_default(column))
    )


def form_fields(entry: ModelEntry) -> dict[str, Field]:
    """The form fields NightPOS builds itself rather than let FAB convert the column."""
    columns = entry.model_class.__mapper__.columns
    fields: dict[str, Field] = {}
    for fld in entry.fields.values():
        if fld.readonly or fld.name not in columns:
            continue
        column = columns[fld.name]
        # A nullable selection keeps FAB's EnumField: it offers "no value".
        if fld.type == "selection" and not column.nullable:
            fields[fld.name] = _selection_form_field(column, fld)
        elif fld.type == "boolean":
            fields[fld.name] = _boolean_form_field(column, fld)
    return fields


def _display_formatter(fld: FieldInfo) -> Callable[[Any], Any]:
    """How list and show pages print a value: a selection's label, Yes or No, nothing for no
    value.

    FAB prints ``None`` for an empty field, a selection's raw value and ``True``/``False``.
    Labels are translated for the request (the registry keeps them in English).
    """
    labels = dict(fld.selection)
    boolean = fld.type == "boolean"

    def format_value(value: Any) -> Any:
        if value is None:
            return ""
        if boolean:
            return translate("Yes") if value else translate("No")
        return translate(labels[value]) if labels and value in labels else value

    return format_value


class RecordModelView(ModelView):
    """FAB's ``ModelView``, ignoring a sort request on a column that is not sortable.

    FAB 5.3 passes ``?_oc_<View>=<column>`` to the query unchecked: sorting by
    a computed attribute or an unknown name is a 500. A browser only offers
    the sortable columns, so anything else is dropped and the default order
    applies.
    """

    def _get_list_widget(
        self,
        filters: Any,
        actions: Any = None,
        order_column: str = "",
        order_direction: str = "",
        page: int | None = None,
        page_size: int | None = None,
        widgets: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        if order_column and order_column not in self.order_columns:
            order_column, order_direction = "", ""
        return super()._get_list_widget(
            filters,
            actions=actions,
            order_column=order_column,
            order_direction=order_direction,
            page=page,
            page_size=page_size,
            widgets=widgets,
            **kwargs,
        )


def _range_validators(entry: ModelEntry) -> dict[str, list[NumberRange]]:
    """A range check on each number field, so the form says what the database would refuse."""
    columns = entry.model_class.__mapper__.columns
    validators: dict[str, list[NumberRange]] = {}
    for fld in entry.fields.values():
        if fld.is_relational or fld.readonly or fld.name not in columns:
            continue
        bounds = number_range(columns[fld.name])
        if bounds:
            validators[fld.name] = [NumberRange(min=bounds[0], max=bounds[1])]
    return validators


def build_model_view(
    entry: ModelEntry, base: type[ModelView] = RecordModelView, **attrs: Any
) -> type[ModelView]:
    """A FAB ``ModelView`` class for ``entry``; ``attrs`` override the defaults.

    Titles, labels and descriptions are lazy translations: the class is built once, at
    start-up, and each request renders it in its own language.
    """
    cols = columns_for(entry)
    own_fields = form_fields(entry)
    defaults: dict[str, Any] = {
        "datamodel": RecordInterface(entry.model_class),
        "list_title": lazy(entry.description),
        "show_title": lazy(entry.description),
        "add_title": lazy("New %(model)s", model=lazy(entry.description)),
        "edit_title": lazy("Edit %(model)s", model=lazy(entry.description)),
        "list_columns": cols.listing,
        "show_columns": cols.show,
        "add_columns": cols.form,
        "edit_columns": cols.form,
        "search_columns": cols.search,
        # FAB treats a Python property as sortable, and sorting by one fails.
        "order_columns": cols.order,
        "label_columns": {name: lazy(label) for name, label in cols.labels.items()},
        "description_columns": {name: lazy(text) for name, text in cols.descriptions.items()},
        "formatters_columns": {
            f.name: _display_formatter(f) for f in entry.fields.values() if not f.is_relational
        },
        "validators_columns": _range_validators(entry),
        "add_form_extra_fields": own_fields,
        "edit_form_extra_fields": own_fields,
        "page_size": 50,
    }
    order = base_order(entry)
    if order:
        defaults["base_order"] = order
    defaults.update(attrs)
    class_name = "".join(part.title() for part in entry.name.split(".")) + "View"
    return type(class_name, (base,), defaults)


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


class ModelViews:
    """Which registered models have their screens and API; fills in the rest."""

    def __init__(self, appbuilder: AppBuilder, registry: ModelRegistry) -> None:
        self.appbuilder = appbuilder
        self.registry = registry
        self.views: dict[str, ModelView] = {}
        self.apis: dict[str, ModelRestApi] = {}

    def add(
        self,
        model_name: str,
        *,
        menu: str | None = None,
        category: str = "",
        icon: str = "",
        category_icon: str = "",
        view_class: type[ModelView] | None = None,
        api_class: type[ModelRestApi] | None = None,
    ) -> ModelView:
        """Register the screens (with a menu entry when ``menu`` is given) and API of a model.

        ``menu`` and ``category`` are English: FAB names the menu permissions after them. The
        menu shows them translated (mark them with :func:`~nightpos_app.i18n.N_`).
        """
        entry = self.registry[model_name]
        view_cls = view_class or build_model_view(entry)
        if menu:
            view = self.appbuilder.add_view(
                view_cls,
                menu,
                icon=icon,
                label=lazy(menu),
                category=category,
                category_icon=category_icon,
                category_label=lazy(category),
            )
        else:
            view = self.appbuilder.add_view_no_menu(view_cls)
        self.views[model_name] = view
        self.apis[model_name] = self.appbuilder.add_api(api_class or build_model_api(entry))
        return view

    def add_missing(self) -> None:
        """Give every registered model without screens the generic ones (no menu)."""
        for entry in self.registry:
            if entry.name not in self.views:
                self.add(entry.name)
