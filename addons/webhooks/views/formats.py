"""How the webhook screens show times and long texts.

FAB shows a ``datetime`` as Python prints it (``2025-01-02 03:04:05.123456``: microseconds, no
time zone) and a long text in a table cell, where HTML folds its spaces and line breaks: a
payload's indentation and a traceback's carets were lost. The times here are stored in UTC and
shown to the second with their zone; payloads, bodies and tracebacks keep their layout.
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import suppress
from typing import Any

from markupsafe import Markup


def utc_time(value: Any) -> str:
    """A stored (naive UTC) time to the second, with its zone: ``2025-01-02 03:04:05 UTC``."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return f"{value:%Y-%m-%d %H:%M:%S} UTC"
    return str(value)


def preformatted(value: Any) -> Markup | str:
    """Text whose spaces and line breaks matter (a traceback), escaped, in a ``<pre>``."""
    if value is None or value == "":
        return ""
    return Markup('<pre class="nightpos-pre">{}</pre>').format(str(value))


def json_text(value: Any) -> Markup | str:
    """A JSON text (a payload, a body) indented for reading; other text as it is."""
    if value is None or value == "":
        return ""
    text = str(value)
    # Not JSON (a form's fields, a cut payload): shown exactly as it was received.
    with suppress(ValueError, RecursionError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return preformatted(text)
