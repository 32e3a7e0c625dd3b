"""Read a webhook request into ``payload``: JSON body, form fields, or query parameters."""

from __future__ import annotations

import json
from typing import Any

from flask import Request

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class PayloadError(Exception):
    """The request cannot be read; ``status`` is the HTTP answer (400 or 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _flatten(multidict: Any) -> dict[str, Any]:
    """One value per key as a string; a repeated key as a list of strings."""
    return {key: values[0] if len(values) == 1 else values for key, values in multidict.lists()}


def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, refusing more than ``max_bytes`` without reading it all."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise PayloadError(413, f"The request body is larger than {max_bytes} bytes.")
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise PayloadError(413, f"The request body is larger than {max_bytes} bytes.")
    return body


def parse_payload(request: Request, max_bytes: int) -> Any:
    """``payload`` for a webhook request.

    A JSON body is read whatever the Content-Type (senders often get it wrong); a form body
    gives its fields; query parameters fill in what the body does not set.
    """
    query = _flatten(request.args)
    mimetype = request.mimetype or ""
    if mimetype in FORM_TYPES:
        if request.content_length is not None and request.content_length > max_bytes:
            raise PayloadError(413, f"The request body is larger than {max_bytes} bytes.")
        return {**query, **_flatten(request.form)}
    body = read_body(request, max_bytes)
    if not body.strip():
        return query
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError(400, "The request body is not valid UTF-8.") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise PayloadError(400, "The JSON body is nested too deeply.") from None
    except ValueError as exc:
        raise PayloadError(400, f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(400, f"The JSON body must be an object, got {type(data).__name__}.")
    return {**query, **data}
