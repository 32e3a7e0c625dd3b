"""Attacks on the C fast paths (``_fastguards.c``) as a rule author would write them.

Each attack runs through the real Sandbox (and some through a runner process) and must end as
the Python guards make it end: the expected outcome is written here, and this file runs again
without the extension (``NIGHTPOS_SANDBOX_NATIVE=0``, test_native.py), so both ways are held
to it. The C paths must also not leak: a million guard calls, error paths included, leave the
references and the memory of the process as they were.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nightpos_app.sandbox import Sandbox, SandboxError, native
from nightpos_app.sandbox.budget import Budget, BudgetExceeded
from nightpos_app.sandbox.errors import Violation
from nightpos_app.sandbox.process import IsolatedSandbox
from nightpos_app.sandbox.process import runner as runner_module
from tests.core.sandbox.test_native import needs_native

fast = native.fastguards

#: (name, code, expected): ``("ok", value of result)`` or ``(kind, words of the message)``.
ATTACKS: list[tuple[str, str, tuple[str, Any]]] = [
    # --- repeats: sizes past 63 bits, negative, bool and float counts
    ("repeat_63_bits", "result = 'x' * (2**63 - 1)", ("memory", "memory budget")),
    ("repeat_64_bits", "result = b'x' * 2**64", ("memory", "memory budget")),
    ("repeat_left_count", "result = (2**62) * [0, 1]", ("memory", "memory budget")),
    ("repeat_negative", "result = 'ab' * -(2**63)", ("ok", "")),
    ("repeat_bool", "result = (True * 'ab', [1] * False)", ("ok", ("ab", []))),
    ("repeat_float", "result = 1.5 * 'ab'", ("error", "non-int of type 'float'")),
    ("repeat_float_right", "result = [1] * 2.0", ("error", "non-int of type 'float'")),
    # --- int products at the edge of the C path (two 64-bit ints) and past it
    ("product_64_bits", "result = (-(2**63)) * (-(2**63))", ("ok", 2**126)),
    ("product_max_64", "result = (2**63 - 1) * (2**63 - 1)", ("ok", (2**63 - 1) ** 2)),
    ("product_past_64", "result = 2**64 * 3", ("ok", 3 * 2**64)),
    ("product_bool", "result = True * (2**63)", ("ok", 2**63)),
    ("product_too_big", "x = 2**40000\nresult = x * x", ("memory", "65,536-bit integers")),
    # --- + and += on numbers (C) and on sequences (Python)
    ("add_int_str", "result = 1 + 'a'", ("error", "unsupported operand")),
    ("add_float_list", "result = 1.5 + []", ("error", "unsupported operand")),
    ("iadd_int_str", "x = 1\nx += 'a'", ("error", "unsupported operand")),
    ("add_huge_lists", "x = [0] * 2**20\nwhile True:\n    x = x + x", ("memory", "memory")),
    ("iadd_huge_str", "x = 'x' * 2**20\nwhile True:\n    x += x", ("memory", "memory")),
    # --- items of the exact types the C path serves
    ("item_bool_index", "result = [1, 2][True]", ("ok", 2)),
    ("item_huge_index", "result = [1][2**64]", ("error", "index-sized integer")),
    ("item_huge_range", "result = range(10**30)[10**29]", ("ok", 10**29)),
    ("item_unhashable_key", "result = {}[[1]]", ("error", "unhashable type")),
    ("item_of_dict_view", "result = {'a': 1}.keys()[0]", ("forbidden", "items of dict_keys")),
    ("item_of_set", "result = {1}[0]", ("forbidden", "items of set")),
    # --- attributes: only the allowlist, whatever the exact type
    ("attr_format", "result = 'x'.format", ("forbidden", "'format' of str")),
    ("attr_int_mro", "result = int.mro", ("forbidden", "'mro' of the class int")),
    ("attr_dict_view_mapping", "result = {}.keys().mapping", ("forbidden", "'mapping'")),
    ("attr_bool_to_bytes", "result = True.to_bytes(1, 'big')", ("ok", b"\x01")),
    ("attr_list_iterator", "result = iter([]).x", ("forbidden", "may not use the attribute")),
    # --- a list's loop, the list changed meanwhile (ListTail in C)
    (
        "loop_list_sorted_in_loop",
        "x = [3, 1, 2]\nseen = []\nfor i in x:\n    x.sort(key=lambda v: [w for w in x])\n"
        "    seen.append(i)\nresult = seen",
        ("ok", [3, 1, 2]),  # during the sort the list is empty: every key is []
    ),
    (
        "loop_list_replaced_in_loop",
        "x = [1, 2, 3]\nseen = []\nfor i in x:\n    x[:] = [7, 8, 9, 10]\n    seen.append(i)\n"
        "result = seen",
        ("ok", [1, 8, 9, 10]),
    ),
    (
        "loop_list_name_deleted",
        "x = [1, 2, 3]\nseen = []\nfor i in x:\n    del x\n    seen.append(i)\n    break\n"
        "result = seen",
        ("ok", [1]),
    ),
    (
        "loop_list_cleared_by_alias",
        "x = [1, 2, 3]\ny = x\nseen = []\nfor i in x:\n    y.clear()\n    seen.append(i)\n"
        "result = seen",
        ("ok", [1]),
    ),
    (
        "loop_dict_keys_swapped",
        "d = {1: 1}\nfor k in d:\n    del d[1]\n    d[2] = 2",
        ("error", "changed"),
    ),
    ("loop_set_grown", "s = {1}\nfor k in s:\n    s.add(k + 1)", ("error", "changed size")),
    # --- a caught budget error stays raised (the Ticker keeps checking)
    (
        "ticker_caught_timeout",
        "n = 0\nfor attempt in range(3):\n    try:\n        while True:\n            n += 1\n"
        "    except BaseException:\n        pass",
        ("timeout", "CPU time budget"),
    ),
]


def _outcome(run: Callable[[], Any]) -> tuple[str, Any]:
    try:
        value = run()
    except SandboxError as error:
        return error.kind, error.message
    return "ok", value


def _matches(got: tuple[str, Any], expected: tuple[str, Any]) -> bool:
    if expected[0] == "ok":
        return got == expected
    return got[0] == expected[0] and expected[1] in got[1]


@pytest.mark.parametrize(("name", "code", "expected"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_ends_as_the_python_guards_end_it(
    name: str, code: str, expected: tuple[str, Any]
) -> None:
    sandbox = Sandbox(cpu_seconds=0.5, memory_mb=64)
    got = _outcome(lambda: sandbox.execute(code, {}).get("result"))
    assert _matches(got, expected), (name, got)


#: Attacks replayed in a runner process, where rule code runs in production.
IN_A_RUNNER = ["repeat_63_bits", "product_64_bits", "product_too_big", "attr_format"]


def test_attacks_end_the_same_in_a_runner_process() -> None:
    sandbox = IsolatedSandbox(cpu_seconds=1.0, memory_mb=96, runners=1)
    try:
        for name, code, expected in ATTACKS:
            if name in IN_A_RUNNER:
                # A runner keeps the namespace: the result comes back through an expression.
                *steps, last = code.split("\n")
                expression = (
                    "["
                    + ", ".join(
                        [
                            *(f"({step.replace(' = ', ' := ', 1)})" for step in steps),
                            last.removeprefix("result = "),
                        ]
                    )
                    + "][-1]"
                )
                if expected[0] == "ok":  # as text: a big int does not cross the wire
                    expression, expected = f"str({expression})", ("ok", str(expected[1]))
                got = _outcome(lambda e=expression: sandbox.evaluate(e, {}))
                assert _matches(got, expected), (name, got)
        replaced = "x = [1, 2]\nfor i in x:\n    x[:] = [7, 8, 9]\n    log(str(i))"
        logs: list[str] = []
        sandbox.execute(replaced, {"log": logs.append})
        assert logs == ["1", "8", "9"]
        grown = _outcome(lambda: sandbox.execute("a = [0]\nfor i in a:\n    a.append(i)", {}))
        assert grown[0] in ("timeout", "memory"), grown
    finally:
        runner_module.close_pools()


def test_the_native_switch_reaches_the_runner_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """NIGHTPOS_SANDBOX_NATIVE=0 turns the C paths off where rule code runs, too (a runner
    gets only the environment runner.py gives it)."""
    monkeypatch.setenv(native.ENV_SWITCH, "0")
    assert runner_module.runner_env()[native.ENV_SWITCH] == "0"
    monkeypatch.delenv(native.ENV_SWITCH)
    assert native.ENV_SWITCH not in runner_module.runner_env()
    assert runner_module.runner_env()["PATH"] == runner_module.RUNNER_ENV["PATH"]


@needs_native
def test_a_list_tail_keeps_its_list_alive() -> None:
    tail = fast.ListTail([object(), object()], 1, lambda: None)
    gc.collect()
    assert type(next(tail)) is object and type(next(tail)) is object
    with pytest.raises(StopIteration):
        next(tail)
    with pytest.raises(StopIteration):  # exhausted for good, like a list iterator
        next(tail)


def _rss() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@needs_native
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="no /proc/self/statm here")
def test_a_million_guard_calls_leak_nothing() -> None:
    """References and memory stay put over a million calls of the C paths, errors included
    (tracemalloc cannot see a C reference leak: count the references of the operands)."""
    key, name, bad = "k" + str(os.getpid()), "upp" + "er", "_x" + str(os.getpid())
    big, small, real = 2**70 + os.getpid(), 10**6 + os.getpid(), 1.5 + os.getpid()
    text, data, items = "ab" * 3, {key: key}, [key, key]
    operands = [key, name, bad, big, small, real, text, data, items]
    budget = Budget(120.0, 1 << 30)

    def calls(rounds: int) -> int:
        done = 0
        for _ in range(rounds):
            fast.getitem(data, key)
            fast.getitem(items, 1)
            fast.getattr(text, name)
            fast.add(small, real)
            fast.iadd(real, small)
            fast.mul(small, small)
            fast.mul(big, small)  # past 64 bits: the Python guard
            fast.mul(real, small)
            for error, call in (
                (KeyError, lambda: fast.getitem(data, bad)),
                (IndexError, lambda: fast.getitem(items, small)),
                (Violation, lambda: fast.getattr(text, bad)),
                (TypeError, lambda: fast.add(small, text)),
                (TypeError, lambda: fast.mul(real, text)),
            ):
                try:
                    call()
                except error:
                    continue
                raise AssertionError(f"no {error.__name__}")
            for _item in budget.getiter(items):
                pass
            budget.tick()
            done += 15  # guard calls (the loop: getiter and a tick)
        return done

    with budget:
        calls(2000)
        gc.collect()
        references = [sys.getrefcount(operand) for operand in operands]
        total = sys.gettotalrefcount() if hasattr(sys, "gettotalrefcount") else None
        rss = _rss()
        assert calls(67_000) >= 1_000_000
        gc.collect()
        assert [sys.getrefcount(operand) for operand in operands] == references
        if total is not None:
            assert sys.gettotalrefcount() - total < 1000
        assert _rss() - rss < 16 * 2**20


def test_a_ticker_keeps_raising_once_its_check_raised() -> None:
    """A Ticker whose check raised (an exceeded budget) checks again at every later tick and
    every later loop, and does not count down meanwhile."""
    budget = Budget(60.0, 1 << 30)
    with budget:
        with pytest.raises(BudgetExceeded):
            budget.trip("timeout", "over")
        for _ in range(3):
            with pytest.raises(BudgetExceeded):
                budget.tick()
            with pytest.raises(BudgetExceeded):
                budget.getiter([1, 2, 3])
    with pytest.raises(SandboxError):  # and a call that ended cannot run on
        budget.tick()
