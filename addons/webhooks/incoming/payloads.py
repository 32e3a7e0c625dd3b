"""Read a webhook request into ``payload``: JSON body, form fields, or query parameters.

The JSON accepted is strict where laxness would bite later (docs/security.md, "Endpoint: bad
inputs", lists every case):

* no ``NaN``/``Infinity`` (Python's ``json`` accepts them; JSON does not, nor does PostgreSQL's
  ``jsonb``), and no number the database could not hold: integers fit in 64 bits, other
  numbers are finite (``1e400`` would be ``inf``). Python refuses to convert integers of more
  than 4,300 digits with a ``ValueError``; here they are refused before any conversion.
* no key twice in one object: parsers disagree on which one wins, so a proxy that checked one
  value could let the rule act on the other.
* no nesting deeper than :data:`MAX_DEPTH`: deeper data would overflow the stack of whatever
  walks it next (the call log, admin code).
* text that is text: valid UTF-8 (a leading byte-order mark is ignored), no lone surrogate
  (``"\\ud800"`` decodes to something that is not a character and cannot be stored), no NUL
  (PostgreSQL cannot store it, and C code would cut the text there). Other control characters
  and any emoji are data like the rest and are kept exactly.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

from flask import Request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

#: Levels of arrays and objects a JSON body may nest (real payloads use a handful).
MAX_DEPTH = 100
#: The integers a JSON body may hold: what a 64-bit database column holds.
INT_RANGE = (-(2**63), 2**63 - 1)
#: Digits beyond which an integer is out of range without converting it.
_MAX_INT_DIGITS = len(str(2**63))
#: What is shown of an offending value or key in a message.
_SHOWN_CHARS = 40

_SURROGATE = re.compile("[\ud800-\udfff]")
#: Escapes that can put a NUL or a lone surrogate into a decoded string (raw ones are not JSON).
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")

_JSON_TYPES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


class PayloadError(Exception):
    """The request cannot be read; ``status`` is the HTTP answer (400 or 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad(message: str) -> NoReturn:
    raise PayloadError(400, message)


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _flatten(multidict: Any) -> dict[str, Any]:
    """One value per key as a string; a repeated key as a list of strings."""
    return {key: values[0] if len(values) == 1 else values for key, values in multidict.lists()}


def _check_text(value: str) -> None:
    if "\x00" in value:
        _bad("The payload contains a NUL character (U+0000), which cannot be stored.")
    if _SURROGATE.search(value):
        _bad(
            "The JSON body contains a lone surrogate (a \\ud800-\\udfff escape that is not "
            "half of a pair), which is not a character."
        )


def _check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Form fields and query parameters: the same text rules as JSON strings."""
    for key, value in fields.items():
        _check_text(key)
        for item in value if isinstance(value, list) else [value]:
            _check_text(item)
    return fields


# --- JSON, strictly -----------------------------------------------------------------------


def _refuse_constant(name: str) -> NoReturn:
    _bad(f"The request body is not valid JSON: {name} is not a JSON value.")


def _out_of_range(text: str) -> NoReturn:
    _bad(
        f"The JSON body has a number out of range ({_shown(text)}): integers must fit in "
        "64 bits and other numbers must be finite."
    )


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:  # also spares int() its 4,300-digit limit
        _out_of_range(text)
    value = int(text)
    if not INT_RANGE[0] <= value <= INT_RANGE[1]:
        _out_of_range(text)
    return value


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _out_of_range(text)
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                _bad(f"The JSON body has the key {_shown(key)!r} twice in one object.")
            seen.add(key)
    return result


def _check_structure(data: Any, *, depth: bool, text: bool) -> None:
    """Walk ``data`` without recursion: its depth, and its strings' characters."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            if depth and level > MAX_DEPTH:
                _bad(f"The JSON body is nested too deeply (more than {MAX_DEPTH} levels).")
            for key, item in value.items():
                if text:
                    _check_text(key)
                stack.append((item, level + 1))
        elif isinstance(value, list):
            if depth and level > MAX_DEPTH:
                _bad(f"The JSON body is nested too deeply (more than {MAX_DEPTH} levels).")
            stack.extend((item, level + 1) for item in value)
        elif text and isinstance(value, str):
            _check_text(value)


def parse_json_text(text: str) -> dict[str, Any]:
    """A JSON object from ``text``, or a :class:`PayloadError` (400) saying what is wrong."""
    try:
        data = json.loads(
            text,
            object_pairs_hook=_object,
            parse_constant=_refuse_constant,
            parse_int=_integer,
            parse_float=_number,
        )
    except RecursionError:
        _bad(f"The JSON body is nested too deeply (more than {MAX_DEPTH} levels).")
    except ValueError as exc:
        _bad(f"The request body is not valid JSON: {exc}")
    if not isinstance(data, dict):
        kind = _JSON_TYPES.get(type(data), type(data).__name__)
        _bad(f"The JSON body must be an object ({{...}}), got {kind}.")
    # Both checks walk the data; each runs only when the text could fail it.
    _check_structure(
        data,
        depth=text.count("[") + text.count("{") > MAX_DEPTH,
        text=_SUSPECT_ESCAPE.search(text) is not None,
    )
    return data


def parse_json_body(body: bytes) -> dict[str, Any]:
    """A JSON object from a request body's bytes (UTF-8, a leading BOM ignored)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        _bad("The request body is not valid UTF-8.")
    return parse_json_text(text)


# --- The request ---------------------------------------------------------------------------


def _too_large(max_bytes: int) -> PayloadError:
    return PayloadError(413, f"The request body is larger than {max_bytes} bytes.")


def parse_payload(request: Request, max_bytes: int) -> Any:
    """``payload`` for a webhook request.

    A JSON body is read whatever the Content-Type (senders often get it wrong); a form body
    gives its fields; query parameters fill in what the body does not set. A body larger than
    ``max_bytes`` is refused (413) without being read: at once when its Content-Length says
    so, as soon as the limit is passed when it is streamed without one.
    """
    if (request.content_length or 0) > max_bytes:
        raise _too_large(max_bytes)
    # Werkzeug enforces this on every way of reading the body (stream, form, chunked): a
    # streamed body is read one byte past the limit at most, which tells it is too large.
    request.max_content_length = max_bytes + 1
    request.max_form_memory_size = max_bytes  # a urlencoded body is one "field" to werkzeug
    try:
        query = _check_fields(_flatten(request.args))
        if (request.mimetype or "") in FORM_TYPES:
            return {**query, **_check_fields(_flatten(request.form))}
        body = request.stream.read()
    except RequestEntityTooLarge:
        raise _too_large(max_bytes) from None
    except ClientDisconnected:
        raise PayloadError(400, "The request body ended before its Content-Length.") from None
    if len(body) > max_bytes:
        raise _too_large(max_bytes)
    if not body.strip():
        return query
    return {**query, **parse_json_body(body)}
