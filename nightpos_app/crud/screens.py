"""Generic CRUD screens for registered models.

Screens (``/<model>view/list/`` …)
    A many-to-one is edited through its relationship as a dropdown of the
    related records; a selection is a dropdown showing the field's labels
    (``Quotation``), stored as its value (``draft``); list and show pages show
    those labels too, and nothing (not ``None``) for an empty value. A boolean
    is a checkbox that may be left unticked, shown as Yes or No. Computed attributes
    (``sale.order``'s ``name``, the ``S00007`` number) are shown but neither
    sortable nor editable. A refused save or delete is flashed as a sentence.

Labels, titles and selection labels are lazy translations (see :mod:`nightpos_app.crud`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import flash, g, redirect
from flask_appbuilder import ModelView, expose
from flask_appbuilder.exceptions import FABException
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import has_access
from werkzeug.wrappers import Response
from wtforms import BooleanField, Field, SelectField
from wtforms.validators import InputRequired, NumberRange

from nightpos_app.crud.columns import base_order, columns_for, number_range
from nightpos_app.crud.errors import RecordInterface
from nightpos_app.i18n import N_, lazy, translate
from nightpos_app.orm.fields import FieldInfo
from nightpos_app.orm.registry import ModelEntry

try:  # WTForms >= 3.3
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None  # type: ignore[assignment,misc]

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

    @expose("/list/")
    @has_access
    def list(self) -> str | Response:
        """FAB's list page, with a title of the view's choosing (:meth:`list_page_title`) and
        extra template values (:meth:`list_page_context`). A bad filter or order argument is
        flashed, as FAB's own list does, rather than answered with an error page."""
        self.update_redirect()
        try:
            widgets = self._list()
        except FABException as exc:
            flash(translate("An error occurred: %(error)s", error=exc), "warning")
            return redirect(self.get_redirect())
        return self.render_template(
            self.list_template,
            title=self.list_page_title(),
            widgets=widgets,
            **self.list_page_context(),
        )

    def list_page_title(self) -> str:
        """The list page's title for this request (default: ``list_title``)."""
        return str(self.list_title)

    def list_page_context(self) -> dict[str, Any]:
        """More values for the list template (default: none)."""
        return {}

    # What FAB flashes after a save: "Added Row" says nothing a person can check. These name
    # the kind of record and the record ("Sales Order “S00012” was created."); FAB calls
    # post_add/post_update/post_delete with the record just before it flashes the message.

    def post_add(self, item: Any) -> None:
        g.nightpos_saved_record = item

    def post_update(self, item: Any) -> None:
        g.nightpos_saved_record = item

    def post_delete(self, item: Any) -> None:
        g.nightpos_saved_record = item

    def _saved_message(self, message: str) -> str:
        item = g.get("nightpos_saved_record")
        kind = getattr(self.datamodel.obj, "__model_description__", None)
        what = translate(kind) if kind else translate("The record")
        name = str(item) if item is not None else ""
        return translate(message, what=what, name=name)

    @property
    def add_row_message(self) -> str:  # type: ignore[override]
        return self._saved_message(N_("%(what)s “%(name)s” was created."))

    @property
    def edit_row_message(self) -> str:  # type: ignore[override]
        return self._saved_message(N_("%(what)s “%(name)s” was saved."))

    @property
    def delete_row_message(self) -> str:  # type: ignore[override]
        return self._saved_message(N_("%(what)s “%(name)s” was deleted."))

    @property
    def database_error_message(self) -> str:  # type: ignore[override]
        """What FAB's edit screen flashes when a save fails: the refusal in words (set by
        :class:`~nightpos_app.crud.errors.RecordInterface`), not a fixed "Database error"."""
        return g.get("nightpos_record_error") or str(ModelView.database_error_message)

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
