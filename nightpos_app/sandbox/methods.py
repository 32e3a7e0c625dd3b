"""Size-checked versions of the builtin methods that can grow a value or loop in C.

Each function takes the object first, like the method it stands for, so the
same function serves ``'x'.ljust(n)`` (bound with :func:`functools.partial`
by the attribute guard) and ``str.ljust('x', n)``. Methods that consume an
iterable get a ticking or size-checked one; methods that take a callback get
one that ticks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from nightpos_app.sandbox.budget import before_large, check_size
from nightpos_app.sandbox.limits import (
    MAX_INT_BITS,
    hashed_source,
    materialize,
    refuse_int,
    ticking_callable,
)

_SMALL = 4096
_WHITESPACE = " \t\n\r\x0b\x0c"


def _width(text: str | bytes) -> int:
    """Bytes per character of a str that would contain ``text``'s characters."""
    return 1 if isinstance(text, bytes) or text.isascii() else 4


def _pad(method: Callable[..., Any]) -> Callable[..., Any]:
    def padded(self: Any, width: Any, *args: Any) -> Any:
        if isinstance(width, int) and width > len(self):
            fill = args[0] if args and isinstance(args[0], (str, bytes)) else self
            check_size(width * max(_width(self), _width(fill)), "The padded text")
        return method(self, width, *args)

    padded.__name__ = method.__name__
    return padded


def _expandtabs(self: Any, tabsize: Any = 8) -> Any:
    before_large(len(self))
    if isinstance(tabsize, int) and tabsize > 1:
        tab = "\t" if isinstance(self, str) else b"\t"
        check_size((len(self) + self.count(tab) * tabsize) * _width(self), "The expanded text")
    return self.expandtabs(tabsize)


def _replace(self: Any, old: Any, new: Any, count: Any = -1) -> Any:
    before_large(len(self))
    if isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)) and len(new) > len(old):
        found = self.count(old) if old else len(self) + 1
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        size = len(self) + found * (len(new) - len(old))
        check_size(size * max(_width(self), _width(new)), "The replaced text")
    return self.replace(old, new, count)


def _join(self: Any, iterable: Any) -> Any:
    items = materialize(iterable)
    size = len(self) * max(len(items) - 1, 0)
    wide = _width(self)
    for item in items:
        if isinstance(item, (str, bytes)):
            size += len(item)
            if wide == 1 and _width(item) == 4:
                wide = 4
    check_size(size * wide, "The joined text")
    return self.join(items)


def _pieces(self: Any, sep: Any) -> int:
    if len(self) <= _SMALL:
        return 0
    if sep is None:
        if isinstance(self, str) and not self.isascii():
            return len(self) // 2 + 1
        space = _WHITESPACE if isinstance(self, str) else _WHITESPACE.encode()
        return sum(self.count(space[i : i + 1]) for i in range(len(space))) + 1
    return self.count(sep) + 1 if sep else 0


def _split(name: str) -> Callable[..., Any]:
    def split(self: Any, sep: Any = None, maxsplit: Any = -1) -> Any:
        before_large(len(self))
        pieces = _pieces(self, sep)
        if isinstance(maxsplit, int) and maxsplit >= 0:
            pieces = min(pieces, maxsplit + 1)
        # A piece is a pointer and a new string object (about 50 bytes) plus its text.
        check_size(pieces * 64 + len(self) * _width(self), "The split result")
        return getattr(self, name)(sep, maxsplit)

    split.__name__ = name
    return split


def _splitlines(self: Any, keepends: Any = False) -> Any:
    before_large(len(self))
    if len(self) > _SMALL:
        if isinstance(self, str) and not self.isascii():
            lines = len(self)
        else:
            nl, cr = ("\n", "\r") if isinstance(self, str) else (b"\n", b"\r")
            lines = self.count(nl) + self.count(cr) + 1
            if isinstance(self, str):
                lines += sum(self.count(c) for c in "\x0b\x0c\x1c\x1d\x1e")
        check_size(lines * 64 + len(self) * _width(self), "The split result")
    return self.splitlines(keepends)


def _translate(self: Any, table: Any, *args: Any) -> Any:
    before_large(len(self))
    if isinstance(self, str) and isinstance(table, (dict, list, tuple)):
        values = table.values() if isinstance(table, dict) else table
        longest = max((len(v) for v in values if isinstance(v, str)), default=1)
        if longest > 1:
            check_size(len(self) * longest * 4, "The translated text")
    return self.translate(table, *args)


def _encode(self: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    check_size(len(self) * (4 if self.isascii() else 10), "The encoded text")
    return self.encode(encoding, errors)


def _decode(self: bytes, encoding: str = "utf-8", errors: str = "strict") -> str:
    check_size(len(self) * 4, "The decoded text")
    return self.decode(encoding, errors)


def _hex(self: bytes, *args: Any) -> str:
    check_size(len(self) * 3, "The hex text")
    return self.hex(*args)


def _to_bytes(self: int, length: Any = 1, *args: Any, **kwargs: Any) -> bytes:
    if isinstance(length, int):
        check_size(length, "The bytes")
    return self.to_bytes(length, *args, **kwargs)


def _from_bytes(data: Any, *args: Any, **kwargs: Any) -> int:
    data = bytes(materialize(data)) if not isinstance(data, bytes) else data
    if len(data) * 8 > MAX_INT_BITS:
        refuse_int(len(data) * 8)
    return int.from_bytes(data, *args, **kwargs)


def _strftime(self: Any, fmt: Any) -> str:
    if isinstance(fmt, str):
        check_size(len(fmt) * 32 * 4, "The formatted date")
    return self.strftime(fmt)


def _strptime(date_string: Any, fmt: Any) -> dt.datetime:
    # _strptime compiles a regular expression from the format, in C: keep it short.
    if any(isinstance(text, str) and len(text) > 1000 for text in (date_string, fmt)):
        raise ValueError("strptime: the text and the format are limited to 1000 characters")
    return dt.datetime.strptime(date_string, fmt)


# ------------------------------------------------------------ containers
def _list_extend(self: list[Any], iterable: Any) -> None:
    items = materialize(iterable)
    check_size(8 * (len(self) + len(items)), "The list")
    self.extend(items)


def _list_sort(self: list[Any], *, key: Any = None, reverse: Any = False) -> None:
    before_large(len(self))
    self.sort(key=ticking_callable(key), reverse=reverse)


def _dict_update(self: dict[Any, Any], *args: Any, **kwargs: Any) -> None:
    if args and not isinstance(args[0], dict):
        args = (hashed_source(materialize(args[0])),)
    self.update(*args, **kwargs)


def _dict_fromkeys(iterable: Any, value: Any = None) -> dict[Any, Any]:
    return dict.fromkeys(hashed_source(materialize(iterable, list, 100)), value)


def _set_method(name: str) -> Callable[..., Any]:
    def call(self: Any, *others: Any) -> Any:
        return getattr(self, name)(*(hashed_source(other) for other in others))

    call.__name__ = name
    return call


_SET_METHODS = (
    "difference",
    "difference_update",
    "intersection",
    "intersection_update",
    "isdisjoint",
    "issubset",
    "issuperset",
    "symmetric_difference",
    "symmetric_difference_update",
    "union",
    "update",
)
_TEXT_COMMON: dict[str, Callable[..., Any]] = {
    "center": _pad(str.center),
    "ljust": _pad(str.ljust),
    "rjust": _pad(str.rjust),
    "zfill": _pad(str.zfill),
    "expandtabs": _expandtabs,
    "replace": _replace,
    "join": _join,
    "split": _split("split"),
    "rsplit": _split("rsplit"),
    "splitlines": _splitlines,
}

#: type -> method name -> size-checked function taking the object first.
WRAPPED: dict[type, dict[str, Callable[..., Any]]] = {
    str: {
        **_TEXT_COMMON,
        "translate": _translate,
        "encode": _encode,
    },
    bytes: {
        **_TEXT_COMMON,
        "center": _pad(bytes.center),
        "ljust": _pad(bytes.ljust),
        "rjust": _pad(bytes.rjust),
        "zfill": _pad(bytes.zfill),
        "decode": _decode,
        "hex": _hex,
    },
    int: {"to_bytes": _to_bytes},
    bool: {"to_bytes": _to_bytes},
    list: {"extend": _list_extend, "sort": _list_sort},
    dict: {"update": _dict_update},
    set: {name: _set_method(name) for name in _SET_METHODS},
    frozenset: {name: _set_method(name) for name in _SET_METHODS if not name.endswith("update")},
    dt.date: {"strftime": _strftime},
    dt.datetime: {"strftime": _strftime},
    dt.time: {"strftime": _strftime},
}

#: Class-level functions (alternative constructors) that need a size check.
WRAPPED_CLASS: dict[type, dict[str, Callable[..., Any]]] = {
    int: {"from_bytes": _from_bytes},
    dict: {"fromkeys": _dict_fromkeys},
    dt.datetime: {"strptime": _strptime},
}
