"""Generic CRUD screens and REST resources for registered models.

Built from the registry's field metadata, so screens, API and record API
agree on fields and labels. Columns are always listed explicitly: a model
gains a column in its screens and API only when the field metadata says so.

Screens
    :mod:`nightpos_app.crud.screens` (FAB ``ModelView`` classes, ``/<model>view/list/`` …).

REST resources
    :mod:`nightpos_app.crud.api` (FAB ``ModelRestApi`` classes,
    ``/api/v1/<technical name with dots as underscores>/``), JWT only.

Column lists, database errors
    :mod:`nightpos_app.crud.columns` (column lists, number ranges) and
    :mod:`nightpos_app.crud.errors` (database errors users can read), shared by both.

Languages
    The screens show labels, titles and selection labels in the user's language
    (:mod:`nightpos_app.i18n`): the view classes hold lazy translations of the
    registry's English texts. The REST resources keep the English texts: clients
    read ``label_columns`` and error messages as they are documented.

:class:`ModelViews` registers the screens and API of each model.
"""

from __future__ import annotations

from flask_appbuilder import AppBuilder, ModelRestApi, ModelView

from nightpos_app.crud.api import (
    ForeignKeySchemaConverter,
    RecordRestApi,
    RecordSchema,
    build_model_api,
)
from nightpos_app.crud.columns import ModelColumns, base_order, columns_for, number_range
from nightpos_app.crud.errors import RecordError, RecordInterface, describe_database_error
from nightpos_app.crud.logs import LogInterface
from nightpos_app.crud.screens import RecordModelView, build_model_view, form_fields
from nightpos_app.i18n import lazy
from nightpos_app.orm.registry import ModelRegistry

__all__ = [
    "ForeignKeySchemaConverter",
    "ModelColumns",
    "ModelViews",
    "RecordError",
    "LogInterface",
    "RecordInterface",
    "RecordModelView",
    "RecordRestApi",
    "RecordSchema",
    "base_order",
    "build_model_api",
    "build_model_view",
    "columns_for",
    "describe_database_error",
    "form_fields",
    "number_range",
]


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
