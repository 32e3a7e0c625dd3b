"""The builtins of sandboxed code: an explicit list, size-checked where it matters.

Not available: ``getattr``, ``setattr``, ``vars``, ``type``, ``globals``,
``locals``, ``dir``, ``open``, ``__import__``, ``compile``, ``eval``, ``exec``,
``breakpoint``, ``input``, ``help``, ``memoryview``, ``bytearray``, ``super``,
``object``, ``id``, ``classmethod``/``staticmethod``/``property``.

Builtins that build a value (``list``, ``str``, ``sorted``...) check its size
first or tick for each item they take from an iterator; builtins that loop in C
over an unbounded iterable or call back a function do so through ticking
wrappers. The RestrictedPython hooks (``_getattr_``...) live here too: names
starting with ``_`` cannot be used by sandboxed code, and builtins are shared
by all calls, so the per-call globals stay small.
"""

from __future__ import annotations

import builtins
from decimal import Decimal
from typing import Any

from nightpos_app.sandbox.access import (
    ATTRIBUTE_RULES,
    GuardedType,
    guarded_apply,
    guarded_augattr,
    guarded_augitem,
    guarded_getattr,
    guarded_getitem,
    guarded_write,
)
from nightpos_app.sandbox.budget import active, before_large, check_size, forbid, tick, ticking
from nightpos_app.sandbox.limits import (
    BOUNDED,
    MAX_INT_BITS,
    bounded,
    check_decimal,
    guarded_ascii,
    guarded_repr,
    guarded_str,
    guarded_unpack,
    iter_starred,
    materialize,
    refuse_int,
    ticking_callable,
)
from nightpos_app.sandbox.native import fastguards
from nightpos_app.sandbox.operators import (
    guarded_add,
    guarded_and,
    guarded_contains,
    guarded_format,
    guarded_iadd,
    guarded_inplace,
    guarded_lshift,
    guarded_mod,
    guarded_mul,
    guarded_or,
    guarded_pow,
    guarded_sub,
    guarded_xor,
)

_MISSING: Any = object()


def _make_str(*args: Any, **kwargs: Any) -> str:
    tick()
    if len(args) == 1 and not kwargs:
        return guarded_str(args[0])
    if not args and set(kwargs) <= {"object"}:
        return guarded_str(kwargs.get("object", ""))
    # str(data, encoding[, errors]): decoding bytes.
    data = args[0] if args else kwargs.get("object", b"")
    if isinstance(data, bytes):
        check_size(4 * len(data), "The decoded text")
    return str(*args, **kwargs)


def _make_int(*args: Any, **kwargs: Any) -> int:
    tick()
    value = args[0] if args else None
    if isinstance(value, Decimal):
        check_decimal(value)
    elif isinstance(value, (str, bytes)) and len(value) > MAX_INT_BITS + 100:
        refuse_int(len(value))
    result = int(*args, **kwargs)
    if result.bit_length() > MAX_INT_BITS:
        refuse_int(result.bit_length())
    return result


def _maker(ctor: type, per_item: int) -> Any:
    def make(iterable: Any = (), /) -> Any:
        tick()
        return materialize(iterable, ctor, per_item)

    make.__name__ = ctor.__name__
    return make


def _make_dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    tick()
    if args:
        args = (materialize(args[0], dict, 100), *args[1:])
    return dict(*args, **kwargs)


def _make_bytes(*args: Any, **kwargs: Any) -> bytes:
    tick()
    source = args[0] if args else kwargs.get("source", b"")
    if isinstance(source, int):
        check_size(source, "The bytes")
    elif isinstance(source, str):
        check_size(4 * len(source), "The bytes")
    elif not isinstance(source, bytes):
        source = materialize(source)
        args = (source, *args[1:])
    return bytes(*args, **kwargs)


def _sorted(iterable: Any, /, *, key: Any = None, reverse: Any = False) -> list[Any]:
    tick()
    items = materialize(iterable)
    before_large(len(items))
    items.sort(key=ticking_callable(key), reverse=reverse)
    return items


def _extreme(function: Any) -> Any:
    def pick(*args: Any, key: Any = None, default: Any = _MISSING) -> Any:
        tick()
        values = bounded(args[0]) if len(args) == 1 else args
        kwargs: dict[str, Any] = {"key": ticking_callable(key)}
        if default is not _MISSING:
            kwargs["default"] = default
        return function(values, **kwargs)

    pick.__name__ = function.__name__
    return pick


def _sum(iterable: Any, /, start: Any = 0) -> Any:
    tick()
    if isinstance(start, (int, float, complex, Decimal)):
        # Numbers grow by a bit per addition at most: C may add them freely.
        return builtins.sum(bounded(iterable), start)
    total = start
    for item in ticking(iterable):
        total = guarded_add(total, item)
    return total


def _consumer(function: Any) -> Any:
    def consume(iterable: Any, /) -> Any:
        tick()
        return function(bounded(iterable))

    consume.__name__ = function.__name__
    return consume


def _lazy(function: Any, *, calls_back: bool = False) -> Any:
    # A lazy iterator over bounded containers is bounded; anything else (a
    # range, a generator, a callback) ticks for each item it gives.
    def make(*args: Any, **kwargs: Any) -> Any:
        tick()
        result = function(*args, **kwargs)
        sources = args[:1] if function is enumerate else args
        if calls_back or "iterable" in kwargs or not all(type(a) in BOUNDED for a in sources):
            return ticking(result)
        return result

    make.__name__ = function.__name__
    return make


def _iter(obj: Any, *sentinel: Any) -> Any:
    tick()
    if sentinel or type(obj) not in BOUNDED:
        return ticking(iter(obj, *sentinel))
    return iter(obj)


def _pow(base: Any, exp: Any, mod: Any = None) -> Any:
    tick()
    return guarded_pow(base, exp, mod)


def _round(number: Any, ndigits: Any = None) -> Any:
    tick()
    if ndigits is None:
        if isinstance(number, Decimal):
            check_decimal(number)
        return round(number)
    if isinstance(ndigits, int) and abs(ndigits) > 4 * MAX_INT_BITS // 13:
        refuse_int(abs(ndigits) * 3.33)
    return round(number, ndigits)


def _format(value: Any, spec: str = "") -> str:
    tick()
    return guarded_format(value, -1, spec)


class Printer:
    """``print`` in sandboxed code: the text goes to ``log`` (RestrictedPython's ``_print_``).

    Code that prints gets one per module or function (``_print = _print_(...)``),
    which also collects the text for RestrictedPython's ``printed``; an
    expression gets the shared one in the builtins, which only logs.
    """

    def __init__(self, _getattr_: Any = None, *, collect: bool = True) -> None:
        self.parts: list[str] | None = [] if collect else None

    def _call_print(self, *objects: Any, sep: Any = " ", end: Any = "\n", **kwargs: Any) -> None:
        kwargs.pop("flush", None)
        if kwargs:
            forbid("print() cannot write to a file in sandboxed code")
        text = guarded_str(sep if sep is not None else " ").join(guarded_str(o) for o in objects)
        if self.parts is not None:
            self.parts.append(text + (end if isinstance(end, str) else "\n"))
        budget = active()
        if budget is not None and budget.log is not None:
            budget.log(text)

    def __call__(self) -> str:
        return "".join(self.parts or ())


#: Modules that C code of the allowed types imports on its own (datetime.today
#: imports time, datetime.strptime imports _strptime), through the builtins of
#: the running frame. Sandboxed code itself cannot import: the policy refuses
#: import statements and it cannot name ``__import__``.
_C_IMPORTS = frozenset({"time", "_strptime"})


def _import(
    name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0
) -> Any:
    if level == 0 and name in _C_IMPORTS:
        return builtins.__import__(name, globals_, locals_, fromlist, level)
    raise ImportError(f"import of {name!r} is not allowed in sandboxed code")


_EXCEPTIONS = """ArithmeticError AssertionError AttributeError Exception IndexError KeyError
    LookupError NameError NotImplementedError OverflowError RuntimeError StopIteration
    TypeError UnicodeDecodeError UnicodeEncodeError UnicodeError ValueError
    ZeroDivisionError"""
_PLAIN = """abs bin bool callable chr complex divmod float hash hex isinstance issubclass len
    next oct ord range slice"""

SAFE_BUILTINS: dict[str, Any] = {
    "None": None,
    "True": True,
    "False": False,
    **{name: getattr(builtins, name) for name in _PLAIN.split()},
    **{name: getattr(builtins, name) for name in _EXCEPTIONS.split()},
    "str": GuardedType(str, _make_str),
    "int": GuardedType(int, _make_int),
    "list": GuardedType(list, _maker(list, 8)),
    "tuple": GuardedType(tuple, _maker(tuple, 8)),
    "set": GuardedType(set, _maker(set, 32)),
    "frozenset": GuardedType(frozenset, _maker(frozenset, 32)),
    "dict": GuardedType(dict, _make_dict),
    "bytes": GuardedType(bytes, _make_bytes),
    "sorted": _sorted,
    "min": _extreme(min),
    "max": _extreme(max),
    "sum": _sum,
    "any": _consumer(any),
    "all": _consumer(all),
    "enumerate": _lazy(enumerate),
    "zip": _lazy(zip),
    "reversed": _lazy(reversed),
    "map": _lazy(map, calls_back=True),
    "filter": _lazy(filter, calls_back=True),
    "iter": _iter,
    "pow": _pow,
    "round": _round,
    "repr": guarded_repr,
    "ascii": guarded_ascii,
    "format": _format,
    "__import__": _import,
    # RestrictedPython's hooks, and ours (see policy.py).
    "_getattr_": guarded_getattr,
    "_getitem_": guarded_getitem,
    "_write_": guarded_write,
    # Each call's scope has its budget's own (runner.py); this one ticks per item.
    "_getiter_": ticking,
    "_iter_starred_": iter_starred,
    "_unpackiter_": guarded_unpack,
    "_inplacevar_": guarded_inplace,
    "_iadd_": guarded_iadd,
    "_apply_": guarded_apply,
    "_print_": Printer,
    "_print": Printer(collect=False),
    "_add_": guarded_add,
    "_sub_": guarded_sub,
    "_or_": guarded_or,
    "_and_": guarded_and,
    "_xor_": guarded_xor,
    "_mul_": guarded_mul,
    "_pow_": guarded_pow,
    "_lshift_": guarded_lshift,
    "_mod_": guarded_mod,
    "_contains_": guarded_contains,
    "_format_": guarded_format,
    "_augitem_": guarded_augitem,
    "_augattr_": guarded_augattr,
}

if fastguards is not None:
    # The C fast paths (native.py), each handing what it does not handle to the guard above.
    fastguards.bind(
        getitem=guarded_getitem,
        getattr=guarded_getattr,
        add=guarded_add,
        iadd=guarded_iadd,
        mul=guarded_mul,
        rules=ATTRIBUTE_RULES,
    )
    SAFE_BUILTINS.update(
        _getitem_=fastguards.getitem,
        _getattr_=fastguards.getattr,
        _add_=fastguards.add,
        _iadd_=fastguards.iadd,
        _mul_=fastguards.mul,
    )

#: The names compiled code may use that the sandbox relies on (RestrictedPython's hooks and
#: ours): each call writes those its code uses into its scope after the names it is given
#: (runner.py), so that none can be replaced, and so that the code finds them at the first
#: dict look-up (module-level code looks a name up in its scope before the builtins).
HOOKS: dict[str, Any] = {
    name: value
    for name, value in SAFE_BUILTINS.items()
    if name.startswith("_") and name != "__import__"
}
