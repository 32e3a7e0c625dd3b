"""The optional C fast paths (``_fastguards.c``, native.py) against their Python twins.

Each C guard must give what its Python twin gives (the same value, or the same error) for
every kind of operand; ListTail must give what ``chain(islice(it, n), _ticking(it, tick))``
gives, with the same ticks, however the list changes while it is iterated. The sandbox's
security suites run again without the extension (``NIGHTPOS_SANDBOX_NATIVE=0``), so that both
ways are proven wherever the extension is built.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pytest

from nightpos_app.sandbox import access, native, operators, safe_builtins
from nightpos_app.sandbox import budget as budget_module
from nightpos_app.sandbox.budget import Budget, BudgetExceeded, _ticking
from nightpos_app.sandbox.errors import Violation

fast = native.fastguards
needs_native = pytest.mark.skipif(fast is None, reason="the C extension is not built here")
ROOT = Path(__file__).resolve().parents[3]


def test_the_extension_is_used_where_it_is_built() -> None:
    built = list((ROOT / "nightpos_app" / "sandbox").glob("_fastguards*.so"))
    if not built or os.environ.get(native.ENV_SWITCH) == "0":
        pytest.skip("the C extension is not built here, or turned off")
    assert fast is not None
    for name in ("getitem", "getattr", "add", "iadd", "mul"):
        assert safe_builtins.SAFE_BUILTINS[f"_{name}_"] is getattr(fast, name)
        assert safe_builtins.HOOKS[f"_{name}_"] is getattr(fast, name)


class _Box(dict):
    """A dict subclass: the C path hands it to the Python guard."""


VALUES: list[Any] = [
    0,
    -1,
    7,
    2**62,
    -(2**63),
    2**64 + 1,
    2**40000,
    1.5,
    float("inf"),
    True,
    None,
    "ab",
    b"ab",
    [1, 2],
    (1, 2),
    {"a": 1},
    _Box(a=1),
    range(3),
    Decimal("1.5"),
    dt.date(2024, 1, 1),
    {1, 2},
    frozenset({1}),
    {"a": 1}.keys(),
]


def _outcome(function: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        value = function(*args)
    except BaseException as exc:  # noqa: BLE001 - the error itself is compared
        return type(exc).__name__, str(exc)
    return "value", "nan" if isinstance(value, float) and math.isnan(value) else value


def _same(c_guard: Callable[..., Any], python_guard: Callable[..., Any], *args: Any) -> None:
    expected = _outcome(python_guard, *args)
    got = _outcome(c_guard, *args)
    assert got == expected, (args, got, expected)


@needs_native
@pytest.mark.parametrize("name", ["add", "iadd", "mul"])
def test_operators_give_what_the_python_guards_give(name: str) -> None:
    python_guard = {
        "add": operators.guarded_add,
        "iadd": operators.guarded_iadd,
        "mul": operators.guarded_mul,
    }[name]
    c_guard = getattr(fast, name)
    budget = Budget(5.0, 64 * 2**20)
    with budget:
        for a in VALUES:
            for b in VALUES:
                if name == "iadd" and type(a) is list:
                    # Lists grow in place: each side gets its own copy.
                    _same(
                        lambda x, y: c_guard(list(x), y),
                        lambda x, y: python_guard(list(x), y),
                        a,
                        b,
                    )
                else:
                    _same(c_guard, python_guard, a, b)


@needs_native
def test_int_products_past_64_bits_are_checked_by_the_python_guard() -> None:
    with Budget(5.0, 64 * 2**20):
        assert fast.mul(2**63, 2**63) == 2**126  # checked by guarded_mul, and allowed
        with pytest.raises(BudgetExceeded, match="bits"):
            fast.mul(2**40000, 2**40000)


@needs_native
def test_items_give_what_the_python_guard_gives() -> None:
    keys: list[Any] = [0, 1, -1, 5, "a", "_a", b"a", slice(0, 1), None, (1,)]
    with Budget(5.0, 64 * 2**20):
        for obj in VALUES:
            for key in keys:
                _same(fast.getitem, access.guarded_getitem, obj, key)


@needs_native
def test_attributes_give_what_the_python_guard_gives() -> None:
    names = ["get", "keys", "upper", "append", "real", "year", "_x", "__class__", "mro", "nope"]
    with Budget(5.0, 64 * 2**20):
        for obj in [*VALUES, str, dict, safe_builtins.SAFE_BUILTINS["str"]]:
            for name in names:
                expected = _outcome(access.guarded_getattr, obj, name)
                got = _outcome(fast.getattr, obj, name)
                # Bound methods and partials compare by what they wrap.
                assert got[0] == expected[0], (obj, name, got, expected)
                if got[0] != "value":
                    assert got == expected
                else:
                    assert type(got[1]) is type(expected[1]), (obj, name)
        with pytest.raises(Violation):
            fast.getattr({}, 3)


def _paid_list_iterator(kind: str, items: list[Any], n: int, tick: Callable[[], Any]) -> Any:
    if kind == "c":
        return fast.ListTail(items, n, tick)
    iterator = iter(items)
    return chain(islice(iterator, n), _ticking(iterator, tick))


#: A list changed while it is iterated: (the list, what the loop does with each item).
CHANGES: list[tuple[str, Callable[[list[Any], Any], None]]] = [
    ("untouched", lambda items, item: None),
    ("grows", lambda items, item: items.append(item) if len(items) < 30 else None),
    ("shrinks", lambda items, item: items.pop() if items else None),
    ("cleared", lambda items, item: items.clear()),
    ("cleared then refilled", lambda items, item: items.extend([1]) if item == 9 else None),
    ("front removed", lambda items, item: items.pop(0) if items else None),
    # Added by the attack review of the C guards:
    ("sorted", lambda items, item: items.sort(reverse=True)),
    ("reversed", lambda items, item: items.reverse()),
    (
        "slice grown",
        lambda items, item: items.__setitem__(slice(0, 1), [0, 0]) if len(items) < 20 else None,
    ),
    ("repeated", lambda items, item: items.__imul__(2) if len(items) < 40 else None),
    ("inserted at front", lambda items, item: items.insert(0, -1) if len(items) < 25 else None),
    ("emptied and refilled", lambda items, item: items.__setitem__(slice(None), [9] * item)),
]


@needs_native
@pytest.mark.parametrize(("label", "change"), CHANGES, ids=[c[0] for c in CHANGES])
@pytest.mark.parametrize("n", [0, 3, 4, 10])
def test_list_tail_gives_the_same_items_and_ticks(
    label: str, change: Callable[[list[Any], Any], None], n: int
) -> None:
    results = {}
    for kind in ("c", "python"):
        items = list(range(10))
        ticks: list[int] = []
        seen = []
        for item in _paid_list_iterator(kind, items, n, lambda: ticks.append(1)):
            seen.append(item)
            change(items, item)
        results[kind] = (seen, len(ticks), items)
    assert results["c"] == results["python"]


@needs_native
def test_a_tick_that_raises_stops_the_list_tail_and_raises_again() -> None:
    def tick() -> None:
        raise RuntimeError("budget")

    items = [1]
    tail = fast.ListTail(items, 1, tick)
    assert next(tail) == 1
    items.append(2)
    with pytest.raises(RuntimeError):
        next(tail)
    items.append(3)
    with pytest.raises(RuntimeError):  # an exceeded budget stays exceeded
        next(tail)


@needs_native
def test_the_c_guards_refuse_wrong_calls() -> None:
    with pytest.raises(TypeError):
        fast.getitem({})
    with pytest.raises(TypeError):
        fast.ListTail((1,), 0, lambda: None)
    with pytest.raises(TypeError):
        fast.ListTail([1], 0, None)


@pytest.mark.skipif(
    os.environ.get(native.ENV_SWITCH) == "0", reason="already the Python guards alone"
)
def test_the_security_suites_pass_with_the_python_guards_alone() -> None:
    """The escape corpus, the guards, the loop ticks and the attacks on the C paths, without
    the C extension."""
    env = {**os.environ, native.ENV_SWITCH: "0"}
    suites = [f"tests/core/sandbox/{name}" for name in ("test_escapes.py", "test_guards.py")]
    suites.append("tests/core/sandbox/test_loop_ticks.py")
    suites.append("tests/core/sandbox/test_native_attacks.py")
    done = subprocess.run(  # noqa: S603 - this interpreter, our own tests
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *suites],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


class _Checks:
    """A budget's check that records its calls and returns the countdowns it is given."""

    def __init__(self, countdowns: list[int]) -> None:
        self.countdowns = countdowns
        self.calls: list[int] = []

    def __call__(self, unspent: int = 0) -> int:
        self.calls.append(unspent)
        return self.countdowns[min(len(self.calls) - 1, len(self.countdowns) - 1)]


def _loops(getiter: Callable[[Any], Any], tick: Callable[[], Any]) -> list[Any]:
    out: list[Any] = []
    grown = [1, 2, 3]
    for item in getiter(grown):
        if len(grown) < 12:
            grown.append(item)
        out.append(item)
    for iterable in [(1, 2), "abcdefgh", range(40), {"a": 1}.items(), {3, 4}, iter([5, 6])]:
        out.append(list(getiter(iterable)))
    out.append(list(getiter(list(range(100)))))
    out.append(list(islice(getiter(range(10**30)), 5)))
    for _ in range(7):
        tick()
    return out


@needs_native
@pytest.mark.parametrize("countdowns", [[1], [3, 64], [64], [5, 1, 2, 64]])
def test_the_c_countdown_checks_where_the_python_one_does(countdowns: list[int]) -> None:
    results = []
    for make in (budget_module._make_tick, budget_module._python_countdown):
        checks = _Checks(countdowns)
        tick, _expire, getiter = make(checks)
        results.append((_loops(getiter, tick), checks.calls))
    assert budget_module.Ticker is not None
    assert results[0] == results[1]


@needs_native
def test_an_expired_c_countdown_checks_at_the_next_tick() -> None:
    calls = []
    for make in (budget_module._make_tick, budget_module._python_countdown):
        checks = _Checks([64])
        tick, expire, _getiter = make(checks)
        tick()
        expire()
        tick()
        calls.append(len(checks.calls))
    assert calls == [2, 2]


@needs_native
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="no /proc/self/statm here")
def test_the_resident_memory_read_in_c_is_the_python_one() -> None:
    fd = os.open("/proc/self/statm", os.O_RDONLY)
    try:
        python_pages = int(os.pread(fd, 128, 0).split()[1])
        c_pages = fast.statm_pages(fd)
        assert c_pages is not None
        assert abs(c_pages - python_pages) < 256  # the same field (it may move a little)
    finally:
        os.close(fd)
    empty = os.open(os.devnull, os.O_RDONLY)
    try:
        assert fast.statm_pages(empty) is None  # nothing to read: no figure, as in Python
    finally:
        os.close(empty)
    with pytest.raises(ValueError):
        fast.statm_pages(-1)


@pytest.mark.parametrize(
    ("built", "switch", "warns"),
    [(False, None, True), (False, "1", True), (False, "0", False), (True, None, False)],
)
def test_start_up_says_when_the_c_guards_are_not_built(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    built: bool,
    switch: str | None,
    warns: bool,
) -> None:
    """Missing by accident (no compiler at install) is logged once; turned off on purpose or
    built, nothing is."""
    monkeypatch.setattr(native, "fastguards", object() if built else None)
    monkeypatch.setattr(native, "_warned", False)
    if switch is None:
        monkeypatch.delenv(native.ENV_SWITCH, raising=False)
    else:
        monkeypatch.setenv(native.ENV_SWITCH, switch)
    logger = logging.getLogger("test.native")
    with caplog.at_level(logging.WARNING, logger="test.native"):
        assert native.warn_if_not_built(logger) is warns
        assert native.warn_if_not_built(logger) is False  # once per process
    assert ("C guards" in caplog.text) is warns
