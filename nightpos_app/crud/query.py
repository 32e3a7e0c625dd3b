"""The ``q`` argument of a REST resource (list, show, ``_info``): one schema per resource,
declared in the spec and enforced before FAB reads the argument.

FAB declares one ``q`` schema for every resource and checks little more: a column, an order
column, a filter's column or operator the resource does not have, a negative page, a filter
value of the wrong type or an ``in`` filter without a list are refused late (a 400 the spec
does not foresee) or not at all (a 500 on PostgreSQL); ``columns`` and ``select_columns``
together are a 400; a lone surrogate reaches the database. And FAB decodes a JSON ``q`` twice,
so a ``+`` or ``&`` in it (``1e+16``, ``"a&b"``) makes it unreadable. Here the resource's own
schema lists its columns, order columns, filters (each column's operators and value type) and
page bounds; a ``q`` that breaks it is a 400 naming the problem; a valid one is handed to FAB
as rison that FAB reads back exactly.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import json
import math
from typing import Any

import jsonschema
import prison
import sqlalchemy as sa
from flask import jsonify, request
from flask_appbuilder.api.schemas import get_info_schema, get_item_schema, get_list_schema
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.wrappers import Response

from nightpos_app.crud.columns import number_range

#: FAB's ``q`` schemas, by route handler.
FAB_SCHEMAS = {"get_list": get_list_schema, "get": get_item_schema, "info": get_info_schema}
#: Filter operators that take a list of values.
LIST_OPERATORS = frozenset({"in", "not_in"})
#: A page number: none below zero, and none whose offset a database cannot hold (a 500).
_PAGE = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def value_schema(column: sa.Column[Any]) -> dict[str, Any]:
    """What a filter value on ``column`` is, as JSON Schema."""
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return {}
    bounds = number_range(column)
    schema: dict[str, Any]
    if python_type is bool:
        schema = {"type": "boolean"}
    elif python_type is int:
        schema = {"type": "integer"}
    elif python_type in (decimal.Decimal, float):
        schema = {"type": "number"}
    elif python_type is dt.datetime:
        schema = {"type": "string", "format": "date-time"}
    elif python_type is dt.date:
        schema = {"type": "string", "format": "date"}
    else:
        schema = {"type": "string"}
    if bounds is not None:
        number = int if python_type is int else float
        schema.update(minimum=number(bounds[0]), maximum=number(bounds[1]))
    return schema


def _filter_schemas(api: Any) -> list[dict[str, Any]]:
    """One schema per searchable column: its operators, its value (a list for ``in``)."""
    columns = api.datamodel.obj.__mapper__.columns
    schemas = []
    for name, filters in api._filters.get_search_filters().items():
        if name not in columns:
            continue
        value = value_schema(columns[name])
        operators = [f.arg_name for f in filters]
        for ops, value_of in (
            ([op for op in operators if op not in LIST_OPERATORS], value),
            ([op for op in operators if op in LIST_OPERATORS], {"type": "array", "items": value}),
        ):
            if ops:
                schemas.append(
                    {
                        "type": "object",
                        "properties": {
                            "col": {"type": "string", "enum": [name]},
                            "opr": {"type": "string", "enum": ops},
                            "value": value_of,
                        },
                        "required": ["col", "opr", "value"],
                    }
                )
    return schemas


def query_schema(api: Any, handler: str) -> dict[str, Any] | None:
    """The ``q`` of ``handler`` (``get_list``, ``get``, ``info``) on the resource ``api``."""
    base = FAB_SCHEMAS.get(handler)
    if base is None:
        return None
    schema = copy.deepcopy(base)
    props = schema["properties"]
    if handler == "get_list":
        columns = {"type": "string", "enum": list(api.list_columns)}
        props["columns"]["items"] = columns
        props["select_columns"]["items"] = columns
        props["order_column"] = {"type": "string", "enum": list(api.order_columns)}
        props["page"] = _PAGE
        filters = _filter_schemas(api)
        props["filters"]["items"] = {"anyOf": filters} if filters else {"not": {}}
        # FAB refuses both at once.
        schema["not"] = {"required": ["columns", "select_columns"]}
    elif handler == "get":
        props["columns"]["items"] = {"type": "string", "enum": list(api.show_columns)}
    else:
        for key in ("add_columns", "edit_columns"):
            props[key]["additionalProperties"]["properties"]["page"] = _PAGE
    return schema


def parse_query(text: str) -> Any:
    """``q`` as rison, else as JSON; ``ValueError`` when it is neither."""
    try:
        return prison.loads(text)
    except RecursionError:
        raise ValueError("Not a valid rison argument") from None
    except Exception:  # noqa: S110 (prison raises more than its ParserException)
        pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("Not a valid rison/json argument") from None


def _lone_surrogate(value: Any) -> bool:
    """Whether ``value`` holds text that is not Unicode (no database stores it)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(item) for item in value)
    return False


def _finite(value: Any) -> bool:
    """Whether every number in ``value`` is finite (JSON's reader takes ``Infinity``)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return True


def to_rison(value: Any) -> str:
    """``value`` as rison that prison reads back exactly: every string quoted (prison's own
    ``dumps`` leaves some unquoted that it cannot read, a key with a line break say)."""
    if value is True:
        return "!t"
    if value is False:
        return "!f"
    if value is None:
        return "!n"
    if isinstance(value, int | float):
        return prison.dumps(value)
    if isinstance(value, str):
        return "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    if isinstance(value, list):
        return "!(" + ",".join(to_rison(item) for item in value) + ")"
    return "(" + ",".join(f"{to_rison(str(k))}:{to_rison(v)}" for k, v in value.items()) + ")"


def _filter_problem(schema: dict[str, Any], flt: Any) -> str | None:
    """What is wrong with one filter, in words: its column, its operator or its value."""
    if not isinstance(flt, dict) or not isinstance(flt.get("col"), str):
        return None
    col, opr = flt["col"], flt.get("opr")
    options = schema["properties"]["filters"]["items"].get("anyOf", [])
    for_col = [o for o in options if o["properties"]["col"]["enum"] == [col]]
    if not for_col:
        return f"Filter column {col!r} is not searchable."
    if not any(opr in o["properties"]["opr"]["enum"] for o in for_col):
        return f"Filter operator {opr!r} does not suit column {col}."
    if "value" not in flt:
        return None
    return f"Filter value {flt['value']!r} does not suit column {col}."


def check_query(api: Any) -> tuple[Response, int] | None:
    """Before a resource's route: a 400 for a ``q`` its schema refuses; a valid ``q`` as rison."""
    text = request.args.get("q")
    handler = (request.endpoint or "").rpartition(".")[2]
    schema = api.query_schemas.get(handler)
    if not text or schema is None:
        return None
    try:
        value = parse_query(text)
        if _lone_surrogate(value):
            raise ValueError("Not a valid argument: its text is not Unicode")
        if not _finite(value):
            raise ValueError("Not a valid argument: a number is not finite")
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    except ValueError as exc:
        return jsonify(message=str(exc)), 400
    except jsonschema.ValidationError as exc:
        path = list(exc.absolute_path)
        where = "/".join(str(part) for part in path) or "q"
        message = f"Not a valid rison schema at {where}: {exc.message}"
        if len(path) >= 2 and path[0] == "filters" and isinstance(path[1], int):
            message = _filter_problem(schema, value["filters"][path[1]]) or message
        return jsonify(message=message[:500]), 400
    args = request.args.to_dict(flat=False)
    args["q"] = [to_rison(value)]
    request.args = ImmutableMultiDict(args)  # type: ignore[misc]
    return None
