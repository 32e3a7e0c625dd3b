"""Generic CRUD screens and REST resources for registered models.

Built from the registry's field metadata, so screens, API and record API
agree on fields and labels. Columns are always listed explicitly: a model
gains a column in its screens and API only when the field metadata says so.

The REST resources authenticate with JWT only (``allow_browser_login`` stays
off): FAB exempts API blueprints from CSRF, which is safe only when the
browser's session cookie cannot authorise a call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_appbuilder import AppBuilder, ModelRestApi, ModelView
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from marshmallow import fields as ma_fields
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema

from nightpos_app.extensions import db
from nightpos_app.orm.registry import ModelEntry, ModelRegistry


@dataclass(frozen=True)
class ModelColumns:
    """Column lists for one model, in the vocabularies FAB expects."""

    #: Screens: a many-to-one shows and edits through its relationship (a dropdown).
    form: list[str]
    listing: list[str]
    show: list[str]
    search: list[str]
    labels: dict[str, str]
    #: API: fields by technical name (a many-to-one as the related id).
    api_read: list[str]
    api_write: list[str]


def columns_for(entry: ModelEntry) -> ModelColumns:
    """Derive every column list of ``entry`` from its field metadata."""
    form, listing, search, api_write = [], [], [], []
    api_read = ["id"]
    labels: dict[str, str] = {}
    for fld in entry.fields.values():
        if fld.name == "id":
            continue
        screen_name = fld.relationship if fld.type == "many2one" else fld.name
        labels[screen_name] = fld.label
        labels[fld.name] = fld.label
        listing.append(screen_name)
        search.append(screen_name)
        api_read.append(fld.name)
        if not fld.readonly:
            form.append(screen_name)
            api_write.append(fld.name)
    for name, label in entry.computed.items():
        labels[name] = label
    computed = list(entry.computed)
    return ModelColumns(
        form=form,
        listing=computed + listing,
        show=computed + listing,
        search=search,
        labels=labels,
        api_read=api_read,
        api_write=api_write,
    )


def build_model_view(
    entry: ModelEntry, base: type[ModelView] = ModelView, **attrs: Any
) -> type[ModelView]:
    """A FAB ``ModelView`` class for ``entry``; ``attrs`` override the defaults."""
    cols = columns_for(entry)
    defaults: dict[str, Any] = {
        "datamodel": SQLAInterface(entry.model_class),
        "list_title": entry.description,
        "show_title": entry.description,
        "add_title": f"New {entry.description}",
        "edit_title": f"Edit {entry.description}",
        "list_columns": cols.listing,
        "show_columns": cols.show,
        "add_columns": cols.form,
        "edit_columns": cols.form,
        "search_columns": cols.search,
        "label_columns": cols.labels,
        "page_size": 50,
    }
    defaults.update(attrs)
    class_name = "".join(part.title() for part in entry.name.split(".")) + "View"
    return type(class_name, (base,), defaults)


class ForeignKeySchemaConverter(Model2SchemaConverter):
    """FAB's schema converter, with foreign keys as plain id fields.

    FAB hands its per-column fields to marshmallow-sqlalchemy as a plain mixin
    class, which marshmallow 4 does not collect, and leaves foreign keys out.
    Here the fields become the schema's own and ``include_fk`` is on, so the
    API speaks the record API's names: ``{"currency_id": 3}``.
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
            (SQLAlchemyAutoSchema,),
            {**declared, "Meta": type("Meta", (), meta_attrs)},
        )


def build_model_api(
    entry: ModelEntry, base: type[ModelRestApi] = ModelRestApi, **attrs: Any
) -> type[ModelRestApi]:
    """A FAB ``ModelRestApi`` at ``/api/v1/<resource name>/`` with explicit columns."""
    cols = columns_for(entry)
    defaults: dict[str, Any] = {
        "datamodel": SQLAInterface(entry.model_class),
        "resource_name": entry.resource_name,
        "openapi_spec_tag": entry.description,
        "allow_browser_login": False,
        "model2schemaconverter": ForeignKeySchemaConverter,
        "list_columns": cols.api_read,
        "show_columns": cols.api_read,
        "add_columns": cols.api_write,
        "edit_columns": cols.api_write,
        "search_columns": [c for c in cols.api_read if c != "id"],
        "order_columns": cols.api_read,
        "label_columns": cols.labels,
    }
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
        """Register the screens (with a menu entry when ``menu`` is given) and API of a model."""
        entry = self.registry[model_name]
        view_cls = view_class or build_model_view(entry)
        if menu:
            view = self.appbuilder.add_view(
                view_cls, menu, icon=icon, category=category, category_icon=category_icon
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
