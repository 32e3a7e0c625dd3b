"""Size-checked operators: ``+ * ** << % - | & ^``, ``in``, augmented assignment, f-strings.

The policy rewrites these operators into the functions here (``_add_``,
``_mul_``...). Each lets numbers through at once and estimates, for the types
that can grow, the size of the result before building it (see
:mod:`nightpos_app.sandbox.limits`).
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from nightpos_app.sandbox.budget import before_large, check_size, ticking
from nightpos_app.sandbox.limits import (
    DICT_VIEWS,
    MAX_INT_BITS,
    SMALL_BYTES,
    check_decimal,
    guarded_ascii,
    guarded_repr,
    guarded_str,
    materialize,
    refuse_int,
    seq_bytes,
    text_size,
)
from nightpos_app.sandbox.records import RECORD_TYPES


def guarded_add(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is int or ta is float:
        return a + b
    n = seq_bytes(a)
    if n:
        n += seq_bytes(b)
        if n > SMALL_BYTES:
            check_size(n, "The result")
    return a + b


def guarded_mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            refuse_int(a.bit_length() + b.bit_length())
        return a * b
    if ta is float or tb is float:
        return a * b
    if isinstance(b, int):
        n = seq_bytes(a)
        if n:
            check_size(n * max(b, 0), "The result")
        elif isinstance(a, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
            refuse_int(a.bit_length() + b.bit_length())
    elif isinstance(a, int):
        n = seq_bytes(b)
        if n:
            check_size(n * max(a, 0), "The result")
    return a * b


def guarded_pow(a: Any, b: Any, mod: Any = None) -> Any:
    if mod is not None:
        if not all(isinstance(x, int) for x in (a, b, mod)):
            raise TypeError("pow() with a modulus needs integers")
        # Modular exponentiation costs bits(mod)**2 * bits(exp), all in C.
        if mod.bit_length() > 4096 or b.bit_length() > 4096:
            refuse_int(max(mod.bit_length(), b.bit_length()))
        return pow(a, b, mod)
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        bits = b * math.log2(abs(a))
        if bits > MAX_INT_BITS:
            refuse_int(bits)
    return a**b


def guarded_lshift(a: Any, b: Any) -> Any:
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and a
        and b > 0
        and a.bit_length() + b > MAX_INT_BITS
    ):
        refuse_int(a.bit_length() + b)
    return a << b


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


_SIZED_SPEC = re.compile(r"%(?:\([^)]*\))?[^a-zA-Z%]*[1-9*]")


def _scalar_size(value: Any) -> int:
    t = type(value)
    if t is str:
        return 4 * len(value) + 2
    if t is int and -(1 << 60) < value < 1 << 60:
        return 24
    if t is float or t is bool or value is None:
        return 32
    if isinstance(value, Decimal):
        check_decimal(value)
    return text_size(value)


def percent_size(fmt: str | bytes, args: Any) -> int:
    """Estimated bytes of ``fmt % args`` (widths, precisions and the values' text)."""
    text = fmt if isinstance(fmt, str) else fmt.decode("latin-1")
    specs = text.count("%")
    # Room for numbers too: '%f' % 1e308 has 316 characters.
    total = 4 * len(text) + 320 * specs
    values = args if type(args) is tuple else (args,)
    if isinstance(args, Mapping):
        total += specs * text_size(args)
    else:
        for value in values:
            total += _scalar_size(value)
    if _SIZED_SPEC.search(text) is None:
        return total  # no width or precision anywhere
    stars = False
    for match in _PERCENT.finditer(text):
        for number in match.group(1, 2):
            if number == "*":
                stars = True
            elif number:
                total += int(number) if len(number) < 19 else 1 << 62
    if stars:
        total += sum(abs(v) for v in values if isinstance(v, int))
    return total


def _small(value: Any) -> bool:
    t = type(value)
    if t is str:
        return len(value) <= 4096
    if t is int:
        return -(1 << 64) < value < 1 << 64
    return t is float or t is bool or value is None


def guarded_mod(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is int or ta is float:
        return a % b
    if ta is str and len(a) <= 256 and _SIZED_SPEC.search(a) is None:
        # The common 'n%d' % i: a short format, no widths, small values.
        tb = type(b)
        if (tb is tuple and len(b) <= 16 and all(map(_small, b))) or _small(b):
            return a % b
    if isinstance(a, (str, bytes)):
        if type(b) in RECORD_TYPES:
            # '%(_env)s' % record would look the key up with the record's own
            # __getitem__, around the item guard: only plain data may be a mapping.
            b = (b,)
        check_size(percent_size(a, b), "The formatted text")
    return a % b


def _spec_size(value: Any, spec: str) -> int:
    if isinstance(value, (dt.date, dt.time)):
        return 32 * len(spec)  # strftime directives expand (%c: 2 -> 24 characters)
    size = 0
    for digits in re.findall(r"\d+", spec):
        size += int(digits) if len(digits) < 19 else 1 << 62
    if isinstance(value, Decimal) and value.is_finite():
        size += abs(value.adjusted())
    return size


def guarded_format(value: Any, conversion: int = -1, spec: str = "") -> str:
    """An f-string field ``{value!conversion:spec}``, size-checked."""
    if conversion == 115:  # !s
        value = guarded_str(value)
    elif conversion == 114:  # !r
        value = guarded_repr(value)
    elif conversion == 97:  # !a
        value = guarded_ascii(value)
    if not spec:
        return guarded_str(value)
    if type(spec) is not str:
        raise TypeError("format spec must be text")
    check_size(text_size(value) + _spec_size(value, spec), "The formatted text")
    return format(value, spec)


def guarded_iadd(x: Any, y: Any) -> Any:
    """``x += y``: lists grow in place (other names for the list see it)."""
    tx = type(x)
    if tx is int or tx is float:
        return x + y
    if tx is list:
        items = y if type(y) is list else materialize(y)
        check_size(8 * (len(x) + len(items)), "The list")
        x += items
        return x
    return guarded_add(x, y)


def guarded_imul(x: Any, y: Any) -> Any:
    if type(x) is list and isinstance(y, int):
        check_size(8 * len(x) * max(y, 0), "The list")
        x *= y
        return x
    return guarded_mul(x, y)


def _as_set(value: Any) -> Any:
    t = type(value)
    if t is set or t is frozenset or t in DICT_VIEWS:
        return value
    return materialize(value, set, 32)


def _set_like(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    # Dict views (d.keys(), d.items()) take any iterable on the other side of
    # - | & ^ and hash it in C: give them a set built with ticks instead.
    def run(a: Any, b: Any) -> Any:
        ta = type(a)
        if ta is int or ta is float:
            return function(a, b)
        if ta in DICT_VIEWS or type(b) in DICT_VIEWS:
            a, b = _as_set(a), _as_set(b)
        return function(a, b)

    run.__name__ = function.__name__
    return run


guarded_sub = _set_like(operator.sub)
guarded_and = _set_like(operator.and_)
guarded_xor = _set_like(operator.xor)
guarded_or = _set_like(operator.or_)
_guarded_isub = _set_like(operator.isub)
_guarded_iand = _set_like(operator.iand)
_guarded_ixor = _set_like(operator.ixor)
_guarded_ior = _set_like(operator.ior)


def guarded_ior(x: Any, y: Any) -> Any:
    if type(x) is dict and type(y) is not dict:
        y = materialize(y, dict, 100)
    return _guarded_ior(x, y)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": guarded_iadd,
    "-=": _guarded_isub,
    "*=": guarded_imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": guarded_mod,
    "**=": guarded_pow,
    "<<=": guarded_lshift,
    ">>=": operator.irshift,
    "|=": guarded_ior,
    "&=": _guarded_iand,
    "^=": _guarded_ixor,
    "@=": operator.imatmul,
}


def guarded_inplace(op: str, x: Any, y: Any) -> Any:
    """``x op= y`` (RestrictedPython's ``_inplacevar_``), size-checked."""
    return _INPLACE[op](x, y)


def guarded_contains(item: Any, container: Any) -> bool:
    """``item in container``; a range searched for a non-int is walked with ticks."""
    t = type(container)
    if t is range:
        if type(item) is not int and type(item) is not bool:
            return any(value == item for value in ticking(container))
    elif t is list or t is tuple or t is str or t is bytes:
        before_large(len(container))
    return item in container
