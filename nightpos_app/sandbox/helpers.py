"""The helpers admin code gets besides its records: datetime, time, json, log, UserError.

Modules are never handed to sandboxed code: each helper is a small proxy
whose public names are the whole of what it offers (no ``time.sleep``, no
``json.codecs``, no ``datetime.sys``). The attribute guard reads only the
names listed in :data:`PROXY_TYPES`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from nightpos_app.exceptions import UserError
from nightpos_app.sandbox.budget import active, check_size
from nightpos_app.sandbox.limits import check_text, guarded_str, text_size

logger = logging.getLogger("nightpos.sandbox")

#: A logged message longer than this is cut.
MAX_LOG_CHARS = 10_000
#: Messages beyond this many (per set of helpers, i.e. per run) are dropped.
MAX_LOG_MESSAGES = 1000
_MAX_INDENT = 16


def _tick() -> None:
    budget = active()
    if budget is not None:
        budget.tick()


class DatetimeModule:
    """``datetime`` in admin code: the module's five classes and nothing else."""

    __slots__ = ()
    datetime = dt.datetime
    date = dt.date
    time = dt.time
    timedelta = dt.timedelta
    timezone = dt.timezone

    def __repr__(self) -> str:
        return "<module 'datetime' (sandboxed)>"


class TimeModule:
    """``time`` in admin code: clocks and conversions, without ``sleep``."""

    __slots__ = ()

    def time(self) -> float:
        return time.time()

    def time_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()

    def perf_counter(self) -> float:
        return time.perf_counter()

    def strftime(self, fmt: str, t: Any = None) -> str:
        _tick()
        if isinstance(fmt, str):
            check_size(len(fmt) * 32 * 4, "The formatted time")
        return time.strftime(fmt) if t is None else time.strftime(fmt, t)

    def gmtime(self, secs: float | None = None) -> time.struct_time:
        return time.gmtime(secs)

    def localtime(self, secs: float | None = None) -> time.struct_time:
        return time.localtime(secs)

    def mktime(self, t: Any) -> float:
        return time.mktime(t)

    def asctime(self, t: Any = None) -> str:
        return time.asctime() if t is None else time.asctime(t)

    def ctime(self, secs: float | None = None) -> str:
        return time.ctime(secs)

    def __repr__(self) -> str:
        return "<module 'time' (sandboxed)>"


class JsonModule:
    """``json`` in admin code: ``dumps`` and ``loads``, size-checked."""

    __slots__ = ()

    def dumps(
        self,
        obj: Any,
        *,
        indent: int | str | None = None,
        sort_keys: bool = False,
        ensure_ascii: bool = True,
        separators: tuple[str, str] | None = None,
        default: Callable[[Any], Any] | None = None,
    ) -> str:
        _tick()
        width = indent if isinstance(indent, int) else len(indent) if indent is not None else 0
        if (indent is not None and not isinstance(indent, (int, str))) or width > _MAX_INDENT:
            raise ValueError(f"json.dumps: indent must be at most {_MAX_INDENT}")
        if separators is not None and (
            len(separators) != 2
            or not all(isinstance(s, str) and len(s) <= _MAX_INDENT for s in separators)
        ):
            raise ValueError("json.dumps: separators must be two short strings")
        check_size(text_size(obj, indent=max(width, 0) + 2, json=ensure_ascii) * 2, "The JSON text")
        if default is not None:
            default = _checked_default(default)
        return json.dumps(
            obj,
            indent=indent,
            sort_keys=sort_keys,
            ensure_ascii=ensure_ascii,
            separators=separators,
            default=default,
        )

    def loads(self, s: str | bytes) -> Any:
        _tick()
        if isinstance(s, (str, bytes)):
            # '[],' is 3 characters and a 64-byte list: parsed JSON can be 30x its text.
            check_size(len(s) * 32, "The parsed JSON")
        return json.loads(s)

    def __repr__(self) -> str:
        return "<module 'json' (sandboxed)>"


def _checked_default(default: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # The encoder calls ``default`` in C for each object it cannot encode: tick
    # for each call and size-check what comes back.
    def call(obj: Any) -> Any:
        _tick()
        value = default(obj)
        check_text(value, "The JSON text")
        return value

    return call


DATETIME = DatetimeModule()
TIME = TimeModule()
JSON = JsonModule()

#: The public names of each helper proxy; nothing else on them is readable.
PROXY_TYPES: dict[type, frozenset[str]] = {
    DatetimeModule: frozenset({"datetime", "date", "time", "timedelta", "timezone"}),
    TimeModule: frozenset(
        {"time", "time_ns", "monotonic", "perf_counter", "strftime", "gmtime", "localtime"}
        | {"mktime", "asctime", "ctime"}
    ),
    JsonModule: frozenset({"dumps", "loads"}),
}


def standard_helpers(log: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """The standard names for admin code: ``datetime``, ``time``, ``json``, ``log``, ``UserError``.

    ``log`` receives each message admin code logs, as text (``print`` goes
    there too; at most :data:`MAX_LOG_MESSAGES` messages of
    :data:`MAX_LOG_CHARS` characters); without it messages go to the
    ``nightpos.sandbox`` logger. Make one set of helpers per run.
    """
    sink: Callable[[str], Any] = log if log is not None else logger.info
    logged = 0

    def log_(message: Any) -> None:
        """Log ``message`` (any value; it is turned into text)."""
        nonlocal logged
        _tick()
        logged += 1
        if logged > MAX_LOG_MESSAGES:
            if logged == MAX_LOG_MESSAGES + 1:
                sink(f"(more than {MAX_LOG_MESSAGES} messages: the rest are not logged)")
            return
        text = guarded_str(message)
        if len(text) > MAX_LOG_CHARS:
            text = text[: MAX_LOG_CHARS - 1] + "…"
        sink(text)

    log_.__name__ = "log"
    log_.__qualname__ = "log"
    return {"datetime": DATETIME, "time": TIME, "json": JSON, "log": log_, "UserError": UserError}
