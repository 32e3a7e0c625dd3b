"""Validation and conversion of values given to the record API.

:func:`coerce_value` checks a value's type for a field and converts it to what
the column stores (ISO text to dates, numbers to exact decimals). Writes use
it through :func:`convert_values`, which adds the rules of a stored value
(required, length, the related record exists); domains use it so a search
never sends the database a value of the wrong type, which PostgreSQL would
refuse by aborting the whole transaction.

Every write error is a :class:`ValidationError` that names the model and
field, so an admin reading a webhook's response or a log knows what to fix.
Types are strict: ``True`` is not an integer, ``"7"`` is not an id, and
neither NaN nor infinity is a number.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nightpos_app.exceptions import ValidationError
from nightpos_app.orm.fields import FieldInfo

if TYPE_CHECKING:
    from nightpos_app.orm.environment import Environment
    from nightpos_app.orm.registry import ModelEntry


class BadValue(ValueError):
    """A value does not fit a field; the message says why, without naming the field."""


def _check_text(value: Any) -> str:
    if not isinstance(value, str):
        raise BadValue(f"expected text, got {type(value).__name__}")
    # PostgreSQL cannot store NUL characters, and neither database can store
    # unpaired surrogates: refuse them here, on both, with a clear message.
    if "\x00" in value:
        raise BadValue("text cannot contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadValue("text is not valid Unicode") from None
    return value


def _check_integer(fld: FieldInfo, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadValue(f"expected an integer, got {value!r}")
    low, high = fld.bounds or (-(2**63), 2**63 - 1)
    if not low <= value <= high:
        raise BadValue(f"integer out of range ({low} to {high})")
    return value


def _check_number(fld: FieldInfo, value: Any, exact_limits: bool) -> float | decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        raise BadValue(f"expected a number, got {value!r}")
    # float → str → Decimal keeps what was written (0.1, not 0.1000000000000000055...).
    number = decimal.Decimal(str(value) if isinstance(value, float) else value)
    if not number.is_finite():
        raise BadValue("expected a finite number")
    if not fld.decimal:
        as_float = float(number)  # a huge integer becomes infinity here
        if math.isinf(as_float):
            raise BadValue("expected a finite number")
        return as_float
    if fld.digits is None or not exact_limits:
        return number
    precision, scale = fld.digits
    limit = decimal.Decimal(10) ** (precision - scale)
    too_large = BadValue(f"number too large (less than {limit} is allowed)")
    if abs(number) >= limit:
        raise too_large
    # Round as PostgreSQL does (half away from zero), so SQLite stores the same.
    step = decimal.Decimal(1).scaleb(-scale)
    rounded = number.quantize(step, decimal.ROUND_HALF_UP, decimal.Context(prec=precision + 2))
    if abs(rounded) >= limit:  # 999.995 rounds up to 1000.00
        raise too_large
    return rounded


def _check_temporal(fld: FieldInfo, value: Any) -> dt.date:
    """A date or datetime, or ISO 8601 text (payloads are JSON, which has no dates)."""
    if isinstance(value, str):
        parse = dt.datetime.fromisoformat if fld.type == "datetime" else dt.date.fromisoformat
        try:
            value = parse(value)
        except ValueError:
            raise BadValue(f"{value!r} is not an ISO 8601 {fld.type}") from None
    if not isinstance(value, dt.date):
        raise BadValue(f"expected an ISO 8601 {fld.type}, got {value!r}")
    if fld.type == "date":
        return value.date() if isinstance(value, dt.datetime) else value
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    if value.tzinfo is not None and not fld.timezone:
        # A naive column holds UTC; PostgreSQL would shift by the session's zone
        # and SQLite would drop the offset, so convert explicitly.
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _check_many2one(fld: FieldInfo, value: Any) -> int:
    from nightpos_app.orm.recordset import RecordSet

    if isinstance(value, RecordSet):
        if value.model_name != fld.comodel:
            raise BadValue(f"expected a {fld.comodel} record, got {value.model_name}")
        if len(value) != 1:
            raise BadValue(f"expected one {fld.comodel} record, got {len(value)}")
        value = value.id
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadValue(f"expected the id of a {fld.comodel} record, got {value!r}")
    try:
        return _check_integer(fld, value)
    except BadValue:
        raise BadValue(f"{fld.comodel} record {value} does not exist") from None


def coerce_value(fld: FieldInfo, value: Any, *, storing: bool = True) -> Any:
    """Return ``value`` (not empty) converted for ``fld``; :class:`BadValue` if it cannot be.

    ``storing=False`` is for searches: a number is then compared as given,
    neither rounded to the column's scale nor limited to its precision.
    """
    kind = fld.type
    if kind == "many2one":
        return _check_many2one(fld, value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise BadValue(f"expected true or false, got {value!r}")
        return value
    if kind == "integer":
        return _check_integer(fld, value)
    if kind == "float":
        return _check_number(fld, value, storing)
    if kind in ("date", "datetime"):
        return _check_temporal(fld, value)
    if kind == "json":
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise BadValue("expected JSON data (dict, list, text, number, bool)") from None
        return value
    text = _check_text(value)
    if kind == "selection":
        allowed = [option for option, _label in fld.selection]
        if text not in allowed:
            raise BadValue(f"{text!r} is not one of {', '.join(map(repr, allowed))}")
    return text


def means_empty(fld: FieldInfo, value: Any) -> bool:
    """``None``, ``False`` (except for a boolean) and an empty recordset mean "no value"."""
    from nightpos_app.orm.recordset import RecordSet

    if value is None or (isinstance(value, RecordSet) and not value):
        return True
    return value is False and fld.type != "boolean"


def _fail(entry: ModelEntry, fld: FieldInfo, problem: str) -> ValidationError:
    return ValidationError(f"{entry.name}.{fld.name} ({fld.label}): {problem}")


def _convert(
    env: Environment, entry: ModelEntry, fld: FieldInfo, value: Any, *, related: bool = True
) -> Any:
    """Return ``value`` as the Python value the column stores, or raise. ``related``: check
    that a many-to-one's record exists (see :func:`check_related`)."""
    # ``False`` clears a field, as in Odoo, except where it is a value.
    if means_empty(fld, value):
        if fld.required:
            raise _fail(entry, fld, "a value is required")
        return None
    try:
        value = coerce_value(fld, value)
    except BadValue as exc:
        raise _fail(entry, fld, str(exc)) from None
    if fld.type in ("char", "text"):
        if fld.size is not None and len(value) > fld.size:
            raise _fail(entry, fld, f"text longer than {fld.size} characters")
        if fld.required and not value.strip():
            raise _fail(entry, fld, "a value is required")
    if related:
        check_related(env, entry, {fld.name: value})
    return value


def check_related(env: Environment, entry: ModelEntry, values: Mapping[str, Any]) -> None:
    """Raise unless each many-to-one value of ``values`` (converted) names a record that
    exists."""
    for name, value in values.items():
        fld = entry.fields[name]
        exists = fld.type != "many2one" or value is None or env[fld.comodel].browse(value).exists()
        if not exists:
            raise _fail(entry, fld, f"{fld.comodel} record {value} does not exist")


def check_code_may_write(env: Environment, entry: ModelEntry) -> None:
    """Raise unless ``env`` may create, write and delete records of ``entry``: automation
    code may not change a model declared read-only to it (``__model_code_access__``)."""
    if not (env._trusted or entry.code_may_write):
        raise ValidationError(f"{entry.name} records are read-only to automation code")


def convert_values(
    env: Environment,
    entry: ModelEntry,
    vals: Mapping[str, Any],
    *,
    creating: bool,
    related: bool = True,
) -> dict[str, Any]:
    """Validate ``vals`` for ``entry`` and return them as column values.

    On create, every required field without a default must be given; on write,
    only the given fields are checked. Unknown, computed and read-only fields
    are refused by name, and for automation code (an environment that is not trusted) a
    model read-only to it and secret fields too. With ``related`` off, many-to-one records are not
    checked to exist: the caller does it (:func:`check_related`) for the values
    that change.
    """
    check_code_may_write(env, entry)
    if not isinstance(vals, Mapping):
        raise ValidationError(
            f"{entry.name}: values must be a dictionary, got {type(vals).__name__}"
        )
    converted: dict[str, Any] = {}
    for name, value in vals.items():
        fld = entry.fields.get(name) if isinstance(name, str) else None
        if fld is None:
            if isinstance(name, str) and name in entry.computed:
                raise ValidationError(f"{entry.name}.{name}: the field is computed, read-only")
            raise ValidationError(f"{entry.name}: unknown field {name!r}")
        if fld.secret and not env._trusted:
            raise ValidationError(f"{entry.name}.{name} cannot be written by automation code")
        if fld.readonly:
            raise ValidationError(f"{entry.name}.{name} ({fld.label}): the field is read-only")
        converted[name] = _convert(env, entry, fld, value, related=related)
    if creating:
        # Read-only fields are the model's to fill (ids, secrets, timestamps).
        missing = [
            f
            for f in entry.fields.values()
            if f.required and not f.has_default and not f.readonly and f.name not in converted
        ]
        if missing:
            names = ", ".join(f"{f.name} ({f.label})" for f in missing)
            raise ValidationError(f"{entry.name}: missing required field(s): {names}")
    return converted
