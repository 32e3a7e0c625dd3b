"""Column lists for the generic CRUD screens and REST resources.

Built from the registry's field metadata, so screens, API and record API
agree on fields and labels. Columns are always listed explicitly: a model
gains a column in its screens and API only when the field metadata says so.
Number fields are bounded by what the database stores (:func:`number_range`).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from nightpos_app.orm.fields import FieldInfo
from nightpos_app.orm.registry import ModelEntry


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
