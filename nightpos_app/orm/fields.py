"""Field metadata read from the SQLAlchemy mapping.

One source of truth for the record API, the CRUD screens and (later) the
webhook screens: every mapped column becomes a :class:`FieldInfo` with a
technical name (the attribute name) and a human label (``Column(info=...)``).
A foreign-key column that a many-to-one relationship uses is a ``many2one``
field: reading it through the record API gives a recordset.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, RelationshipDirection

#: Field types the record API knows, from the most to the least specific
#: SQLAlchemy type (``Enum`` is a ``String``, ``DateTime`` is not a ``Date``).
_TYPE_NAMES: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Enum, "selection"),
    (sa.Boolean, "boolean"),
    (sa.Integer, "integer"),
    (sa.Numeric, "float"),  # Float is a Numeric too
    (sa.DateTime, "datetime"),
    (sa.Date, "date"),
    (sa.Text, "text"),
    (sa.String, "char"),
)

PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "float": (float, int, decimal.Decimal),
    "datetime": (dt.datetime,),
    "date": (dt.date,),
    "text": (str,),
    "char": (str,),
    "selection": (str,),
}


@dataclass(frozen=True)
class FieldInfo:
    """What the record API and the screens know about one field of a model."""

    name: str
    label: str
    type: str
    required: bool = False
    readonly: bool = False
    size: int | None = None
    #: For selection fields: (value, label) pairs in display order.
    selection: tuple[tuple[str, str], ...] = ()
    #: For many2one fields: the related model's technical name and the
    #: SQLAlchemy relationship attribute that holds the related object.
    comodel: str | None = None
    relationship: str | None = None
    help: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_relational(self) -> bool:
        return self.type == "many2one"


def _label_from_name(name: str) -> str:
    base = name[:-3] if name.endswith("_id") else name
    return base.replace("_", " ").strip().title()


def _type_name(column: sa.Column[Any]) -> str:
    for sa_type, name in _TYPE_NAMES:
        if isinstance(column.type, sa_type):
            return name
    raise TypeError(
        f"column {column.key!r} has a type the record API does not support: {column.type!r}"
    )


def read_fields(mapper: Mapper[Any], technical_name_of: dict[type, str]) -> dict[str, FieldInfo]:
    """Build the fields of a mapped class, keyed by technical name, in column order.

    ``technical_name_of`` maps mapped classes to their technical names, so a
    many-to-one names its comodel the way rules and payloads do.
    """
    many2one_by_column: dict[str, tuple[str, type]] = {}
    for rel in mapper.relationships:
        if rel.direction is RelationshipDirection.MANYTOONE and len(rel.local_columns) == 1:
            (local,) = rel.local_columns
            many2one_by_column[local.key] = (rel.key, rel.mapper.class_)

    fields: dict[str, FieldInfo] = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        info = column.info
        name = attr.key
        required = not (
            column.nullable
            or column.primary_key
            or column.default is not None
            or column.server_default is not None
        )
        common = {
            "name": name,
            "label": info.get("label") or _label_from_name(name),
            "required": required,
            "readonly": bool(column.primary_key or info.get("readonly")),
            "help": info.get("help", ""),
        }
        if name in many2one_by_column:
            rel_key, target = many2one_by_column[name]
            fields[name] = FieldInfo(
                type="many2one",
                comodel=technical_name_of.get(target),
                relationship=rel_key,
                **common,
            )
            continue
        type_name = _type_name(column)
        selection: tuple[tuple[str, str], ...] = ()
        if type_name == "selection":
            labels = info.get("selection_labels", {})
            selection = tuple(
                (value, labels.get(value, value.title())) for value in column.type.enums
            )
        fields[name] = FieldInfo(
            type=type_name,
            size=getattr(column.type, "length", None)
            if type_name in ("char", "selection")
            else None,
            selection=selection,
            **common,
        )
    return fields
