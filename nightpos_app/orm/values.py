"""Validation and conversion of values written through the record API.

Every error is a :class:`ValidationError` that names the model and field, so
an admin reading a webhook's response or a log knows what to fix.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nightpos_app.exceptions import ValidationError
from nightpos_app.orm.fields import FieldInfo

if TYPE_CHECKING:
    from nightpos_app.orm.environment import Environment
    from nightpos_app.orm.registry import ModelEntry

#: Integers beyond 64 bits do not fit any supported database column.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _fail(entry: ModelEntry, fld: FieldInfo, problem: str) -> ValidationError:
    return ValidationError(f"{entry.name}.{fld.name} ({fld.label}): {problem}")


def _convert(env: Environment, entry: ModelEntry, fld: FieldInfo, value: Any) -> Any:
    """Return ``value`` as the Python value the column stores, or raise."""
    if value is None or (value is False and fld.type != "boolean"):
        if fld.required:
            raise _fail(entry, fld, "a value is required")
        return None
    kind = fld.type
    if kind == "many2one":
        return _convert_many2one(env, entry, fld, value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(entry, fld, f"expected true or false, got {value!r}")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(entry, fld, f"expected an integer, got {value!r}")
        if not _INT_MIN <= value <= _INT_MAX:
            raise _fail(entry, fld, "integer out of range")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
            raise _fail(entry, fld, f"expected a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(entry, fld, "expected a finite number")
        return value
    if kind in ("date", "datetime"):
        return _convert_temporal(entry, fld, value)
    if not isinstance(value, str):
        raise _fail(entry, fld, f"expected text, got {type(value).__name__}")
    if kind == "selection":
        allowed = [option for option, _label in fld.selection]
        if value not in allowed:
            raise _fail(entry, fld, f"{value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if fld.size is not None and len(value) > fld.size:
        raise _fail(entry, fld, f"text longer than {fld.size} characters")
    if fld.required and not value.strip():
        raise _fail(entry, fld, "a value is required")
    return value


def _convert_temporal(entry: ModelEntry, fld: FieldInfo, value: Any) -> dt.date | dt.datetime:
    if fld.type == "datetime":
        if isinstance(value, dt.datetime):
            return value
        parse = dt.datetime.fromisoformat
    else:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        parse = dt.date.fromisoformat
    if not isinstance(value, str):
        raise _fail(entry, fld, f"expected an ISO 8601 {fld.type}, got {value!r}")
    try:
        return parse(value)
    except ValueError:
        raise _fail(entry, fld, f"{value!r} is not an ISO 8601 {fld.type}") from None


def _convert_many2one(env: Environment, entry: ModelEntry, fld: FieldInfo, value: Any) -> int:
    from nightpos_app.orm.recordset import RecordSet

    assert fld.comodel is not None
    if isinstance(value, RecordSet):
        if value.model_name != fld.comodel:
            raise _fail(entry, fld, f"expected a {fld.comodel} record, got {value.model_name}")
        if len(value) != 1:
            raise _fail(entry, fld, f"expected one {fld.comodel} record, got {len(value)}")
        value = value.id
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(entry, fld, f"expected the id of a {fld.comodel} record, got {value!r}")
    if not env[fld.comodel].browse(value).exists():
        raise _fail(entry, fld, f"{fld.comodel} record {value} does not exist")
    return value


def convert_values(
    env: Environment, entry: ModelEntry, vals: Mapping[str, Any], *, creating: bool
) -> dict[str, Any]:
    """Validate ``vals`` for ``entry`` and return them as column values.

    On create, every required field must be present; on write, only the given
    fields are checked. Unknown and read-only fields are refused by name.
    """
    if not isinstance(vals, Mapping):
        raise ValidationError(
            f"{entry.name}: values must be a dictionary, got {type(vals).__name__}"
        )
    converted: dict[str, Any] = {}
    for name, value in vals.items():
        fld = entry.fields.get(name) if isinstance(name, str) else None
        if fld is None:
            raise ValidationError(f"{entry.name}: unknown field {name!r}")
        if fld.readonly:
            raise ValidationError(f"{entry.name}.{name} ({fld.label}): the field is read-only")
        converted[name] = _convert(env, entry, fld, value)
    if creating:
        missing = [f for f in entry.fields.values() if f.required and f.name not in converted]
        if missing:
            names = ", ".join(f"{f.name} ({f.label})" for f in missing)
            raise ValidationError(f"{entry.name}: missing required field(s): {names}")
    return converted
