"""Field metadata read from the SQLAlchemy mapping.

One source of truth for the record API, the CRUD screens and the webhook
screens: every mapped column becomes a :class:`FieldInfo` with a technical
name (the attribute name) and a human label (``Column(info=...)``). A
foreign-key column that a many-to-one relationship to a registered model uses
is a ``many2one`` field: reading it through the record API gives a recordset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, RelationshipDirection

#: Field types the record API knows, from the most to the least specific
#: SQLAlchemy type (``Enum`` is a ``String``, ``DateTime`` is not a ``Date``).
_TYPE_NAMES: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Enum, "selection"),
    (sa.JSON, "json"),
    (sa.Boolean, "boolean"),
    (sa.Integer, "integer"),
    (sa.Float, "float"),  # not a Numeric since SQLAlchemy 2.1
    (sa.Numeric, "float"),
    (sa.DateTime, "datetime"),
    (sa.Date, "date"),
    (sa.Text, "text"),
    (sa.String, "char"),
)

#: Integer widths as PostgreSQL stores them. SQLite would take 64 bits in any
#: INTEGER column, but a value must be accepted or refused the same way on
#: both databases, so the narrower PostgreSQL range is the rule.
_INT_BITS: tuple[tuple[type[sa.types.TypeEngine[Any]], int], ...] = (
    (sa.SmallInteger, 16),
    (sa.BigInteger, 64),
    (sa.Integer, 32),
)


@dataclass(frozen=True)
class FieldInfo:
    """What the record API and the screens know about one field of a model."""

    name: str
    label: str
    type: str
    #: The field can never be empty (NOT NULL). On create it must be given
    #: unless it has a default.
    required: bool = False
    has_default: bool = False
    readonly: bool = False
    #: A credential (a webhook secret, a signing secret, a receiver's header values): the
    #: record API never lets automation code read it, search or sort by it, or write it
    #: (``Column(info={"secret": True})``; see :class:`~nightpos_app.orm.Environment`). The
    #: screens and the REST API decide for themselves who sees it.
    secret: bool = False
    #: For char and selection fields: the most characters the column holds.
    size: int | None = None
    #: For integer and many2one fields: the smallest and largest value stored.
    bounds: tuple[int, int] | None = None
    #: For float fields: stored as an exact decimal (``Numeric``), and its
    #: (precision, scale) when the column has them (``Numeric(14, 2)``).
    decimal: bool = False
    digits: tuple[int, int] | None = None
    #: For datetime fields: the column keeps a time zone.
    timezone: bool = False
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


def _int_bounds(column: sa.Column[Any]) -> tuple[int, int] | None:
    for sa_type, bits in _INT_BITS:
        if isinstance(column.type, sa_type):
            return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return None


def _type_details(column: sa.Column[Any], type_name: str) -> dict[str, Any]:
    """The type-specific attributes of :class:`FieldInfo` for ``column``."""
    col_type: Any = column.type
    if type_name in ("char", "selection"):
        return {"size": getattr(col_type, "length", None)}
    if type_name == "integer":
        return {"bounds": _int_bounds(column)}
    if type_name == "float":
        digits = None
        if isinstance(col_type, sa.Numeric) and col_type.precision is not None:
            digits = (col_type.precision, col_type.scale or 0)
        return {"decimal": bool(col_type.asdecimal), "digits": digits}
    if type_name == "datetime":
        return {"timezone": bool(col_type.timezone)}
    return {}


def read_fields(mapper: Mapper[Any], technical_name_of: dict[type, str]) -> dict[str, FieldInfo]:
    """Build the fields of a mapped class, keyed by technical name, in column order.

    ``technical_name_of`` maps mapped classes to their technical names, so a
    many-to-one names its comodel the way rules and payloads do. A foreign key
    to a class that is not a registered model (FAB's users, say) stays a plain
    integer: the record API could not browse its target.
    """
    many2one_by_attr: dict[str, tuple[str, str]] = {}
    for rel in mapper.relationships:
        comodel = technical_name_of.get(rel.mapper.class_)
        if (
            rel.direction is RelationshipDirection.MANYTOONE
            and comodel
            and len(rel.local_columns) == 1
        ):
            (local,) = rel.local_columns
            # The attribute that maps the column may be named unlike the column.
            many2one_by_attr[mapper.get_property_by_column(local).key] = (rel.key, comodel)

    fields: dict[str, FieldInfo] = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        info = column.info
        name = attr.key
        common = {
            "name": name,
            "label": info.get("label") or _label_from_name(name),
            "required": not (column.nullable or column.primary_key),
            "has_default": column.default is not None or column.server_default is not None,
            "readonly": bool(column.primary_key or info.get("readonly")),
            "secret": bool(info.get("secret")),
            "help": info.get("help", ""),
        }
        if name in many2one_by_attr:
            rel_key, comodel = many2one_by_attr[name]
            fields[name] = FieldInfo(
                type="many2one",
                comodel=comodel,
                relationship=rel_key,
                bounds=_int_bounds(column),
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
            type=type_name, selection=selection, **_type_details(column, type_name), **common
        )
    return fields
