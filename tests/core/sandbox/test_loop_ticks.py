"""``for`` loops pay their ticks through ``_getiter_`` (Budget.getiter): same results as Python,
the budget still checked as often, and nothing that runs after its call or its budget.

The runaways that attack this fast path (lists grown while iterated, nested loops over short
tuples, a slow body over a short list...) are in ``escape_corpus.RUNAWAYS``.
"""

from __future__ import annotations

import builtins
import time

import pytest

from nightpos_app.sandbox import Sandbox, SandboxError
from nightpos_app.sandbox import budget as budget_module
from nightpos_app.sandbox.budget import MAX_TICKS_PER_CHECK, Budget

#: Loops whose result must be what plain Python gives (items added, removed, broken out of).
SAME_AS_PYTHON = [
    "out = []\nfor i in [1, 2, 3]:\n    out.append(i * 2)",
    "x = [1]\nfor i in x:\n    if len(x) < 200:\n        x.append(i + 1)\nout = x",
    "x = list(range(150))\nfor i in x:\n    if len(x) < 300:\n        x.append(-i)\nout = x",
    "x = list(range(10))\nout = []\nfor i in x:\n    out.append(i)\n    if x:\n        x.pop()",
    "x = list(range(300))\nout = []\nfor i in x:\n    out.append(i)\n    del x[-3:]",
    "x = []\nout = [i for i in x]\nx.append(1)\nout.append([i for i in x])",
    "out = []\nfor i in range(200):\n    if i == 150:\n        break\n    out.append(i)\n"
    "else:\n    out = None",
    "out = [(a, b) for a in 'abc' for b in (1, 2) if b > 1]",
    "out = {k: v for k, v in {'a': 1, 'b': 2}.items()}",
    "out = sorted(k for k in dict.fromkeys(range(100)))",
    "out = []\nfor i in range(10**30):\n    if i > 5:\n        break\n    out.append(i)",
    "out = [c for c in b'bytes']",
    "out = sum(x for x in frozenset({1, 2, 3}))",
    "out = [s for s in {3, 1, 2}]\nout.sort()",
    "def g():\n    yield 1\n    yield 2\nout = [v for v in g()]",
    "out = [i for i, v in enumerate(['a', 'b'])]",
    "x = [[1, 2], [3]]\nout = [v for row in x for v in row]",
    "x = [1, 2, 3]\nit = iter(x)\nout = [v for v in it]",
]


@pytest.mark.parametrize("code", SAME_AS_PYTHON)
def test_loops_give_what_python_gives(code: str) -> None:
    expected: dict[str, object] = {"__builtins__": builtins}
    exec(code, expected)  # noqa: S102 - the test's own code, as the reference
    assert Sandbox().execute(code, {})["out"] == expected["out"]


def test_dict_changed_while_iterated_fails_as_in_python() -> None:
    code = "d = {i: i for i in range(8)}\nfor k in d:\n    del d[k]\n    d[k + 100] = 1"
    with pytest.raises(SandboxError) as caught:
        Sandbox().execute(code, {})
    assert caught.value.kind == "error"
    assert "dictionary" in caught.value.message
    assert "changed during iteration" in caught.value.message


def test_loops_check_the_budget_as_often_as_a_tick_per_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Items paid when a loop starts: a check per countdown's worth of them, not fewer."""
    calls = 0
    original = Budget.check

    def spy(self: Budget, unspent: int = 0) -> int:
        nonlocal calls
        calls += 1
        return original(self, unspent)

    monkeypatch.setattr(Budget, "check", spy)
    items = 0
    with Budget(10.0, 2**30) as budget:
        for _ in range(100):
            for _ in budget.getiter(tuple(range(30))):
                items += 1
        for _ in budget.getiter([0] * 3000):  # a long list: in chunks
            items += 1
    assert items == 6000
    # 6,000 ticks, countdowns of at most 64: at least 94 checks (fewer than 200: the
    # countdown reaches its maximum at once when ticks are cheap).
    assert 6000 // MAX_TICKS_PER_CHECK <= calls < 200


def test_a_long_loop_stops_within_its_budget() -> None:
    started = time.thread_time()
    with pytest.raises(SandboxError) as caught:
        Sandbox(cpu_seconds=0.2).execute(
            "x = list(range(10**6))\nwhile True:\n    for i in x:\n        pass", {}
        )
    assert caught.value.kind == "timeout"
    assert time.thread_time() - started < 0.5


def test_caught_timeout_then_a_short_loop_still_fails() -> None:
    code = (
        "try:\n    while True:\n        pass\nexcept:\n    pass\n"
        "for i in (1, 2):\n    pass\nfor i in [1]:\n    pass"
    )
    with pytest.raises(SandboxError) as caught:
        Sandbox(cpu_seconds=0.1).execute(code, {})
    assert caught.value.kind == "timeout"
    assert caught.value.lineno == 6  # the first loop after the caught timeout


def test_generator_leaked_from_its_call_cannot_go_on() -> None:
    """A generator expression made in a call and consumed after it: a long one stops."""
    namespace = Sandbox().execute("g = (i for i in range(10**9))", {})
    with pytest.raises(SandboxError) as caught:
        sum(namespace["g"])
    assert caught.value.kind == "forbidden"
    assert "after its call has ended" in caught.value.message
    assert budget_module.active() is None


def test_items_of_a_plain_dict_are_read_directly_others_through_the_guard() -> None:
    """policy.visit_Subscript: ``name[key]`` skips the guard only for an exact dict."""
    names = {"d": {"a": 1, "_private": 2}, "f": len}
    sandbox = Sandbox()
    assert sandbox.evaluate("d['a'] + d['_private']", names) == 3  # a dict's keys are data
    with pytest.raises(SandboxError):
        sandbox.evaluate("d[[1]]", names)  # unhashable: the same error either way
    with pytest.raises(SandboxError) as caught:
        sandbox.evaluate("f['x']", names)
    assert caught.value.kind == "forbidden"
    with pytest.raises(SandboxError) as caught:
        sandbox.evaluate("d['missing']", names)
    assert caught.value.kind == "error" and "missing" in caught.value.message


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("x = 1\nx += 2.5", 3.5),
        ("x = 0\nfor i in range(5):\n    x += i", 10),
        ("x = True\nx += 1", 2),  # a bool takes the guard: the same sum
        ("x = 'a'\nx += 'b'", "ab"),
        ("x = [1]\ny = x\nx += [2]\nx = y", [1, 2]),  # a list still grows in place
        ("def f():\n    n = 0\n    n += 1\n    return n\nx = f()", 1),
    ],
)
def test_adding_to_a_name_gives_what_python_gives(code: str, expected: object) -> None:
    """policy.visit_AugAssign: ``name += v`` adds directly only when ``name`` holds a number."""
    assert Sandbox().execute(code, {})["x"] == expected


def test_adding_to_a_string_name_is_still_size_checked() -> None:
    with pytest.raises(SandboxError) as caught:
        Sandbox(memory_mb=16).execute("s = 'x' * (10 * 2**20)\ns += s", {})
    assert caught.value.kind == "memory"
