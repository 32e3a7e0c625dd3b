"""What sandboxed code may read and change: an allowlist, by exact type.

RestrictedPython turns ``a.b`` into ``_getattr_(a, 'b')``, ``a[k]`` into
``_getitem_(a, k)`` and the targets of assignments into ``_write_(a)``; this
module provides those hooks. Attributes are readable only on the types listed
here, only by their public names, and only the names listed for each type:
anything else (functions, methods, generators, frames, modules, SQLAlchemy
objects, types not listed) has no readable attribute at all. Methods that can
grow a value come back size-checked (:mod:`nightpos_app.sandbox.methods`).

Records are the exception that proves the rule: the public surface of the
record classes (:mod:`nightpos_app.sandbox.records`) is the record API, so any
public name may be read, but what it gives must be plain data, a recordset, the
environment, or a method of the same recordset.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from types import MethodType
from typing import Any, NoReturn

from nightpos_app.exceptions import UserError
from nightpos_app.sandbox.budget import check_size, forbid
from nightpos_app.sandbox.helpers import PROXY_TYPES
from nightpos_app.sandbox.limits import materialize, ticking_callable
from nightpos_app.sandbox.methods import WRAPPED, WRAPPED_CLASS
from nightpos_app.sandbox.operators import guarded_inplace
from nightpos_app.sandbox.records import ENVIRONMENTS, RECORD_TYPES, RECORDSETS


class GuardedType:
    """A builtin type as sandboxed code sees it (``str``, ``list``, ``int``...).

    Calling it builds a value with the size checks of the sandbox;
    ``isinstance(x, str)`` and ``issubclass`` work as with the real type.
    """

    __slots__ = ("cls", "make")

    def __init__(self, cls: type, make: Callable[..., Any]) -> None:
        self.cls = cls
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.make(*args, **kwargs)

    def __instancecheck__(self, obj: Any) -> bool:
        return isinstance(obj, self.cls)

    def __subclasscheck__(self, cls: Any) -> bool:
        return issubclass(cls.cls if isinstance(cls, GuardedType) else cls, self.cls)

    def __repr__(self) -> str:
        return f"<class '{self.cls.__name__}'>"


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TEXT = """capitalize center count endswith expandtabs find index isalnum isalpha isascii
    isdigit islower isspace istitle isupper join ljust lower lstrip partition removeprefix
    removesuffix replace rfind rindex rjust rpartition rsplit rstrip split splitlines
    startswith strip swapcase title translate upper zfill"""
_INT = "as_integer_ratio bit_count bit_length conjugate denominator imag numerator real to_bytes"
_SET = """copy difference intersection isdisjoint issubset issuperset symmetric_difference
    union"""
_DATE = """ctime day isocalendar isoformat isoweekday month replace strftime timetuple
    toordinal weekday year"""
_TIME = "fold hour isoformat microsecond minute replace second strftime tzinfo tzname utcoffset"
_STRUCT_TIME = """tm_year tm_mon tm_mday tm_hour tm_min tm_sec tm_wday tm_yday tm_isdst tm_zone
    tm_gmtoff count index"""

#: Public attributes allowed on instances of each type (format/format_map are
#: not: str.format reads attributes of its arguments).
INSTANCE_NAMES: dict[type, frozenset[str]] = {
    str: _names(_TEXT + " casefold encode isdecimal isidentifier isnumeric isprintable"),
    bytes: _names(_TEXT + " decode hex"),
    int: _names(_INT),
    bool: _names(_INT),
    float: _names("as_integer_ratio conjugate hex imag is_integer real"),
    complex: _names("conjugate imag real"),
    list: _names("append clear copy count extend index insert pop remove reverse sort"),
    tuple: _names("count index"),
    dict: _names("clear copy get items keys pop popitem setdefault update values"),
    set: _names(_SET + " add clear discard pop remove update difference_update")
    | _names("intersection_update symmetric_difference_update"),
    frozenset: _names(_SET),
    range: _names("start stop step"),
    Decimal: _names(
        """adjusted compare copy_abs copy_negate copy_sign is_finite is_infinite is_nan
        is_signed is_zero max min normalize quantize sqrt to_eng_string to_integral
        to_integral_value real imag"""
    ),
    dt.date: _names(_DATE),
    dt.datetime: _names(_DATE + " " + _TIME + " astimezone date dst time timestamp timetz")
    | _names("utctimetuple"),
    dt.time: _names(_TIME + " dst"),
    dt.timedelta: _names("days microseconds seconds total_seconds"),
    dt.timezone: _names("dst fromutc tzname utcoffset"),
    time.struct_time: _names(_STRUCT_TIME),
    type(dt.date(2000, 1, 1).isocalendar()): _names("year week weekday"),
}

_DATE_CLASS = "today fromisoformat fromordinal fromtimestamp fromisocalendar min max resolution"
#: Class attributes (alternative constructors, constants) beyond the instance methods.
CLASS_EXTRAS: dict[type, frozenset[str]] = {
    str: _names("maketrans"),
    bytes: _names("maketrans fromhex"),
    float: _names("fromhex"),
    dt.date: _names(_DATE_CLASS),
    dt.datetime: _names(_DATE_CLASS + " now utcnow strptime combine utcfromtimestamp"),
    dt.time: _names("fromisoformat min max resolution"),
    dt.timedelta: _names("min max resolution"),
    dt.timezone: _names("utc min max"),
}

#: type -> (names read as they are, names that give a size-checked method). Shared with the
#: C fast path of guarded_getattr (native.py), which reads the first set.
ATTRIBUTE_RULES: dict[type, tuple[frozenset[str], dict[str, Callable[..., Any]]]] = {}
for _type, _allowed in INSTANCE_NAMES.items():
    _wrapped = {k: v for k, v in WRAPPED.get(_type, {}).items() if k in _allowed}
    ATTRIBUTE_RULES[_type] = (_allowed - set(_wrapped), _wrapped)
for _type, _allowed in PROXY_TYPES.items():
    ATTRIBUTE_RULES[_type] = (_allowed, {})


def _class_names(cls: type) -> frozenset[str]:
    # The instance methods, unbound (str.lower as a sort key), and the extras.
    methods = {
        name
        for name in INSTANCE_NAMES.get(cls, ())
        if callable(getattr(cls, name, None)) and name not in WRAPPED.get(cls, {})
    }
    return frozenset(methods) | CLASS_EXTRAS.get(cls, frozenset())


_CLASS_RULES: dict[type, frozenset[str]] = {cls: _class_names(cls) for cls in INSTANCE_NAMES}

#: What reading a record attribute may give back as it is.
SAFE_VALUES = frozenset(
    {str, int, float, bool, bytes, type(None), Decimal}
    | {dt.date, dt.datetime, dt.time, dt.timedelta}
)
#: Record methods whose callback argument is called by host code (made to tick).
_CALLBACK_METHODS = frozenset({"mapped", "filtered"})


def _describe(obj: Any) -> str:
    if isinstance(obj, GuardedType):
        return f"the class {obj.cls.__name__}"
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    return f"{type(obj).__name__} objects"


def _refuse(obj: Any, name: Any) -> NoReturn:
    forbid(f"Sandboxed code may not use the attribute {name!r} of {_describe(obj)}")


def _plain_data(value: Any) -> bool:
    t = type(value)
    if t in SAFE_VALUES or t in RECORD_TYPES:
        return True
    if t is list or t is tuple:
        return all(_plain_data(v) for v in value)
    if t is dict:
        return all(_plain_data(k) and _plain_data(v) for k, v in value.items())
    return False


def _call_with_ticking_callback(method: Callable[..., Any], func: Any, *args: Any) -> Any:
    return method(ticking_callable(func), *args)


def _checked(obj: Any, name: str, value: Any) -> Any:
    """A record attribute's value, if it is one sandboxed code may have."""
    t = type(value)
    if t in SAFE_VALUES or t in RECORD_TYPES:
        return value
    if t is MethodType and value.__self__ is obj:
        if name in _CALLBACK_METHODS:
            return partial(_call_with_ticking_callback, value)
        return value
    if (t is list or t is tuple or t is dict) and _plain_data(value):
        return value
    label = obj.model_name if type(obj) in RECORDSETS else "env"
    forbid(f"{label}.{name} gives a {t.__name__} object, which sandboxed code may not use")


def _class_attribute(cls: type, name: str, shown: Any) -> Any:
    function = WRAPPED_CLASS.get(cls, {}).get(name) or (
        WRAPPED.get(cls, {}).get(name) if name in INSTANCE_NAMES.get(cls, ()) else None
    )
    if function is not None:
        return function
    if name not in _CLASS_RULES.get(cls, ()):
        _refuse(shown, name)
    return getattr(cls, name)


def _getattr_slow(obj: Any, name: Any) -> Any:
    if type(name) is not str or name.startswith("_"):
        _refuse(obj, name)
    t = type(obj)
    if t in RECORD_TYPES:
        return _checked(obj, name, getattr(obj, name))
    if t is GuardedType:
        return _class_attribute(obj.cls, name, obj)
    if t is type:
        return _class_attribute(obj, name, obj)
    if isinstance(obj, BaseException) and (
        name == "args" or (name == "message" and isinstance(obj, UserError))
    ):
        return getattr(obj, name)
    _refuse(obj, name)


def guarded_getattr(obj: Any, name: str) -> Any:
    """``obj.name`` for sandboxed code (``_getattr_``)."""
    rule = ATTRIBUTE_RULES.get(type(obj))
    if rule is not None:
        if name in rule[0]:
            return getattr(obj, name)
        function = rule[1].get(name)
        if function is not None:
            return partial(function, obj)
        _refuse(obj, name)
    return _getattr_slow(obj, name)


_ITEM_TYPES = frozenset({dict, list, tuple, str, bytes, range})


def guarded_getitem(obj: Any, key: Any) -> Any:
    """``obj[key]`` for sandboxed code (``_getitem_``)."""
    t = type(obj)
    if t in _ITEM_TYPES:
        return obj[key]
    if t in RECORD_TYPES:
        if type(key) is str:
            if key.startswith("_"):
                forbid(f"Sandboxed code may not use the item {key!r} of {_describe(obj)}")
            return obj[key] if t in ENVIRONMENTS else _checked(obj, key, obj[key])
        return obj[key]
    if isinstance(obj, (dict, list, tuple, str, bytes)):
        return obj[key]
    forbid(f"Sandboxed code may not use items of {_describe(obj)}")


class _ListWriter:
    """Item assignment into a list, with slice assignment size-checked."""

    __slots__ = ("_target",)

    def __init__(self, target: list[Any]) -> None:
        object.__setattr__(self, "_target", target)

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            value = value if type(value) is list else materialize(value)
            check_size(8 * (len(self._target) + len(value)), "The list")
        self._target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._target[key]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"'list' object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"'list' object has no attribute {name!r}")


def guarded_write(obj: Any) -> Any:
    """What an assignment to ``obj[...]`` or ``obj.attr`` writes into (``_write_``)."""
    t = type(obj)
    if t is dict or t in RECORDSETS:
        return obj
    if t is list:
        return _ListWriter(obj)
    forbid(f"Sandboxed code may not change {_describe(obj)}")


def guarded_augitem(obj: Any, key: Any, op: str, value: Any) -> None:
    """``obj[key] op= value``."""
    guarded_write(obj)[key] = guarded_inplace(op, guarded_getitem(obj, key), value)


def guarded_augattr(obj: Any, name: str, op: str, value: Any) -> None:
    """``obj.name op= value``."""
    result = guarded_inplace(op, guarded_getattr(obj, name), value)
    setattr(guarded_write(obj), name, result)


def guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A call with ``*args``/``**kwargs`` (RestrictedPython's ``_apply_``)."""
    return func(*args, **kwargs)
