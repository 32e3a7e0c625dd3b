"""marshmallow fields of the REST resources: what the spec says a field takes, it takes.

marshmallow is lenient where the spec is not: its ``Boolean`` takes ``0``, ``"yes"`` and
``"on"``, its ``Integer`` takes ``"5"`` and truncates ``2.5``, its ``Decimal`` takes ``"1.5"``
and is written as a string, and marshmallow-sqlalchemy makes a selection without an enum class
a ``Raw`` field that takes any JSON value (and fails on a number in its length check: a 500).
Here each takes exactly the JSON type its schema declares.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import sqlalchemy as sa
from marshmallow import fields as ma_fields
from marshmallow import validate as ma_validate
from marshmallow_sqlalchemy import ModelConverter


class StrictBoolean(ma_fields.Boolean):
    """``true`` or ``false``, nothing else."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictInteger(ma_fields.Integer):
    """A JSON integer (``2.0`` too, as JSON Schema counts it), never a string, a boolean or a
    fraction."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class Number(ma_fields.Decimal):
    """A decimal column (an amount) as a JSON number: read exactly, written as a float.

    marshmallow's ``Decimal`` writes a ``Decimal`` that Flask's JSON turns into a string
    (``"480000.00"``), while the spec says ``number``; and it reads strings.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        number = super()._serialize(value, attr, obj, **kwargs)
        return None if number is None else float(number)


def _selection_field(converter: ModelConverter, data_type: sa.Enum) -> type[ma_fields.Field]:
    """A selection of strings: a string field (marshmallow-sqlalchemy's ``Raw`` would take
    any JSON value and fail inside its length check on a number)."""
    if data_type.enum_class is not None:
        return functools.partial(ma_fields.Enum, enum=data_type.enum_class)  # type: ignore[return-value]
    return ma_fields.String


class RecordModelConverter(ModelConverter):
    """marshmallow-sqlalchemy's converter, with selections as strings checked against their
    values (``info["selection_labels"]`` on a plain string column too, so the spec lists them
    as an ``enum``) and decimal amounts as numbers."""

    SQLA_TYPE_MAPPING = {
        **ModelConverter.SQLA_TYPE_MAPPING,
        sa.Enum: _selection_field,
        sa.Float: ma_fields.Float,
        sa.Numeric: Number,
        sa.Boolean: StrictBoolean,
        sa.Integer: StrictInteger,
    }

    def _add_column_kwargs(self, kwargs: dict[str, Any], column: Any) -> None:
        super()._add_column_kwargs(kwargs, column)
        labels = getattr(column, "info", {}).get("selection_labels")
        if labels and not hasattr(column.type, "enums") and not kwargs.get("dump_only"):
            kwargs["validate"].append(ma_validate.OneOf(choices=list(labels)))
