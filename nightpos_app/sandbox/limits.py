"""Size checks: values too large for the memory budget are refused before they exist.

A single C-level operation (``'x' * 10**10``, ``2**10**9``, ``str(big_list)``)
allocates everything at once, long before any tick could notice. The
operators that can grow a value (:mod:`nightpos_app.sandbox.operators`), the
builtins that build one and the methods that grow one estimate the size of the
result with the functions here and refuse it with a ``memory``
:class:`~nightpos_app.sandbox.budget.BudgetExceeded` when it would not fit.
Estimates err on the large side. Integers are also capped at
:data:`MAX_INT_BITS`: arithmetic on larger ones is quadratic and runs in C.

Building a collection from an iterable the size of which is unknown ticks
for each item instead (:func:`materialize`), so that the CPU budget applies.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from nightpos_app.sandbox.budget import (
    LARGE,
    active,
    before_large,
    check_size,
    current,
    memory_limit,
    ticking,
)
from nightpos_app.sandbox.budget import BudgetExceeded as _Exceeded
from nightpos_app.sandbox.records import RECORDSETS

#: The largest integer sandboxed code may build (about 19,700 decimal digits).
MAX_INT_BITS = 1 << 16
#: Decimals whose integer part has more digits than this are not turned into ints.
MAX_DECIMAL_DIGITS = 4300
#: Below this many bytes an operand is too small to be worth estimating.
SMALL_BYTES = 1 << 16
#: Dict views that take any iterable on the other side of - | & ^.
DICT_VIEWS = frozenset({type({}.keys()), type({}.items())})
#: Containers whose size is known and whose iteration in C is bounded by it.
BOUNDED = frozenset({list, tuple, str, bytes, dict, set, frozenset, type({}.values())} | DICT_VIEWS)


def refuse_int(bits: int | float) -> None:
    raise _Exceeded(
        "memory",
        f"The integer would have about {int(bits):,} bits; sandboxed code is limited "
        f"to {MAX_INT_BITS:,}-bit integers",
    )


def check_decimal(value: Decimal) -> None:
    """Refuse turning a decimal with a huge exponent into an int (slow, in C)."""
    if value.is_finite() and value.adjusted() > MAX_DECIMAL_DIGITS:
        refuse_int(value.adjusted() * 3.33)


def seq_bytes(obj: Any) -> int:
    """Bytes taken by a str, bytes, list or tuple (0 for anything else)."""
    if isinstance(obj, str):
        return len(obj) if obj.isascii() else 4 * len(obj)
    if isinstance(obj, bytes):
        return len(obj)
    if isinstance(obj, (list, tuple)):
        return 8 * len(obj)
    return 0


# ------------------------------------------------------------ text sizes
class _TooBig(Exception):
    pass


class _TextSize:
    """Upper estimate, in bytes, of ``str()``/``repr()``/JSON of an object.

    Shared sub-objects are counted every time they appear (that is what their
    text does), but each is walked only once, so ``[[x, x]] * 40`` nesting
    costs 40 steps, not 2**40.
    """

    def __init__(self, limit: int, indent: int = 0, json: bool = False) -> None:
        self.limit = limit
        self.indent = indent
        self.json = json
        self.memo: dict[int, int] = {}
        self.steps = 0
        budget = active()
        self.check: Callable[[], Any] = budget.check if budget is not None else (lambda: None)

    def size(self, obj: Any, depth: int = 0) -> int:
        t = type(obj)
        if t is str or isinstance(obj, str):
            n = len(obj)
            if obj.isascii():
                return 4 * n + 2 if n < 1024 or not obj.isprintable() else 2 * n + 2
            if self.json:
                return 12 * n + 2
            return 4 * n + 8 if obj.isprintable() else 40 * n + 8
        if t is int or t is bool:
            return obj.bit_length() * 3 // 10 + 2
        if t in (float, complex, Decimal, type(None)) or isinstance(obj, (dt.date, dt.time)):
            return 64
        if isinstance(obj, bytes):
            return 4 * len(obj) + 3
        if t in RECORDSETS:
            return 48 + 12 * len(obj)
        if isinstance(obj, (list, tuple, set, frozenset, dict)):
            return self._container(obj, depth)
        if isinstance(obj, BaseException):
            return 64 + self.size(obj.args, depth)
        return 256

    def _container(self, obj: Any, depth: int) -> int:
        key = id(obj)
        known = self.memo.get(key)
        if known is not None:
            return known
        self.memo[key] = 8  # a cycle prints as [...]
        self.steps += len(obj)
        if self.steps > 4096:
            self.steps = 0
            self.check()
        per_item = 2 + (1 + self.indent * (depth + 1) if self.indent else 0)
        total = 2 + len(obj) * per_item
        if isinstance(obj, dict):
            for k, v in obj.items():
                total += self.size(k, depth + 1) + self.size(v, depth + 1) + 2
                if total > self.limit:
                    raise _TooBig
        else:
            for item in obj:
                total += self.size(item, depth + 1)
                if total > self.limit:
                    raise _TooBig
        self.memo[key] = total
        return total


def text_size(obj: Any, *, limit: int | None = None, indent: int = 0, json: bool = False) -> int:
    """Estimated bytes of the text of ``obj``; above ``limit`` returns ``limit + 1``."""
    cap = memory_limit() if limit is None else limit
    try:
        return _TextSize(cap, indent, json).size(obj)
    except _TooBig:
        return cap + 1


def check_text(obj: Any, what: str = "The text") -> None:
    t = type(obj)
    if t is str or t is int or t is float or t is bool or obj is None:
        return
    check_size(text_size(obj), what)


def guarded_str(obj: Any) -> str:
    """``str(obj)``, refused when the text would not fit the memory budget."""
    if type(obj) is str:
        return obj
    check_text(obj)
    return str(obj)


def guarded_repr(obj: Any) -> str:
    check_text(obj)
    return repr(obj)


def guarded_ascii(obj: Any) -> str:
    if type(obj) is str:
        check_size(10 * len(obj) + 2, "The text")
    else:
        check_text(obj)
    return ascii(obj)


# --------------------------------------------------------- materialising
def _range_len(r: range) -> int:
    try:
        return len(r)
    except OverflowError:
        return 1 << 63


#: Building a set or dict from these needs no hashing of new keys' collisions.
_SAME_KIND = {set: (set, frozenset), frozenset: (set, frozenset), dict: (dict,)}


def materialize(
    iterable: Iterable[Any], ctor: Callable[[Any], Any] = list, per_item: int = 8
) -> Any:
    """``ctor(iterable)`` with the size checked first, or a tick per item if unknown.

    Sets and dicts built from many items tick per item too: keys whose hashes
    collide (``i * (2**61 - 1)``) make building them quadratic, in C.
    """
    t = type(iterable)
    if t in BOUNDED:
        size = len(iterable)
        check_size(per_item * size, "The collection")
        before_large(size)
        if size > LARGE and ctor in _SAME_KIND and t not in _SAME_KIND[ctor]:
            return ctor(ticking(iterable))
        return ctor(iterable)
    if t is range:
        # New int objects too (28 bytes each, beyond the small-int cache).
        check_size((per_item + 32) * _range_len(iterable), "The collection")
        return ctor(iterable)
    hint = operator.length_hint(iterable, 0)
    if hint:
        check_size(per_item * hint, "The collection")
    return ctor(ticking(iterable))


def hashed_source(iterable: Any) -> Any:
    """What C code may hash into a set or dict: small or already-hashed, else ticking."""
    t = type(iterable)
    if t is set or t is frozenset or t is dict or t in DICT_VIEWS:
        return iterable
    if t in BOUNDED and len(iterable) <= LARGE:
        return iterable
    return ticking(iterable)


def bounded(iterable: Any) -> Any:
    """``iterable`` itself when C code may consume it freely, else a ticking iterator."""
    if type(iterable) in BOUNDED:
        return iterable
    return ticking(iterable)


def guarded_unpack(iterable: Any) -> Any:
    """For ``*x`` in calls and displays and ``a, *b = x``: bounded, or ticking."""
    t = type(iterable)
    if t is list or t is tuple or t is str:
        size = len(iterable)
        if t is str:
            check_size(8 * size, "The unpacked sequence")
        # Large ones tick: {*items} hashes them all in C.
        return iterable if size <= LARGE else ticking(iterable)
    return materialize(iterable)


def iter_starred(iterable: Any) -> Any:
    """For ``for a, *b in x``: each item unpacked as :func:`guarded_unpack` does."""
    for item in iterable:
        yield guarded_unpack(item)


def ticking_callable(func: Any) -> Any:
    """``func`` with a tick per call (for keys and callbacks that C code calls)."""
    if func is None or not callable(func):
        return func
    tick = current().tick

    def call(*args: Any, **kwargs: Any) -> Any:
        tick()
        return func(*args, **kwargs)

    return call
