"""CPU time and memory budgets: runaways stop within their budget and leave nothing behind."""

from __future__ import annotations

import gc
import sys
import threading
import time

import pytest

from nightpos_app.sandbox import Sandbox, SandboxError, standard_helpers
from nightpos_app.sandbox import budget as budget_module
from tests.core.sandbox.escape_corpus import RUNAWAYS

NAMES = {**standard_helpers(), "payload": {"a": 1}}


def _run(sandbox: Sandbox, mode: str, source: str, **kwargs: object) -> object:
    run = sandbox.evaluate if mode == "eval" else sandbox.execute
    return run(source, NAMES, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "mode", "source"), RUNAWAYS, ids=[r[0] for r in RUNAWAYS])
def test_runaway_stops_within_its_budget(name: str, mode: str, source: str) -> None:
    sandbox = Sandbox(cpu_seconds=0.5, memory_mb=128)
    started, cpu_started = time.perf_counter(), time.thread_time()
    with pytest.raises(SandboxError) as caught:
        _run(sandbox, mode, source)
    cpu = time.thread_time() - cpu_started
    wall = time.perf_counter() - started
    assert caught.value.kind in ("timeout", "memory"), (name, caught.value.message)
    assert caught.value.message and "Traceback" not in caught.value.message
    # The budget plus freeing what the code built; wall time also waits for other tests.
    assert cpu < 1.5, (name, cpu)
    assert wall < 10, (name, wall)
    assert budget_module.active() is None


def test_while_true_stops_at_the_default_budget() -> None:
    sandbox = Sandbox()
    assert sandbox.cpu_seconds == 2.0
    cpu_started = time.thread_time()
    with pytest.raises(SandboxError) as caught:
        sandbox.execute("while True:\n    pass", {})
    cpu = time.thread_time() - cpu_started
    assert caught.value.kind == "timeout"
    assert caught.value.message == "The code ran longer than its CPU time budget of 2 s (line 1)"
    assert caught.value.lineno == 1
    assert 2.0 <= cpu < 2.2


def test_per_call_budget_overrides_the_default() -> None:
    sandbox = Sandbox(cpu_seconds=5)
    cpu_started = time.thread_time()
    with pytest.raises(SandboxError, match="budget of 0.2 s"):
        sandbox.execute("while True:\n    pass", {}, cpu_seconds=0.2)
    assert time.thread_time() - cpu_started < 0.4


def test_memory_budget_is_configurable() -> None:
    small = Sandbox(memory_mb=1)
    with pytest.raises(SandboxError) as caught:
        small.evaluate("'x' * (2 * 2**20)", {})
    assert caught.value.kind == "memory"
    assert "memory budget of 1.0 MB" in caught.value.message
    assert Sandbox(memory_mb=8).evaluate("len('x' * (2 * 2**20))", {}) == 2 * 2**20


def test_sizes_under_the_budget_are_fine() -> None:
    sandbox = Sandbox()
    assert sandbox.evaluate("len('x' * 10**6)", {}) == 10**6
    assert sandbox.evaluate("len([0] * 10**6)", {}) == 10**6
    assert sandbox.evaluate("2**1000 > 10**300", {}) is True
    assert sandbox.evaluate("len(list(range(10**5)))", {}) == 10**5
    assert sandbox.evaluate("'%05d|%-4s|%.2f' % (7, 'ab', 2.5)", {}) == "00007|ab  |2.50"
    assert sandbox.evaluate("f'{7:>5}|{2.5:.1f}'", {}) == "    7|2.5"


def test_twenty_runaways_then_a_normal_call_runs_at_normal_speed() -> None:
    sandbox = Sandbox(cpu_seconds=0.2)
    code = "total = 0\nfor i in range(20000):\n    total += i\n"

    def normal_call() -> float:
        started = time.perf_counter()
        assert sandbox.execute(code, {})["total"] == sum(range(20000))
        return time.perf_counter() - started

    baseline = min(normal_call() for _ in range(5))
    gc.collect()
    rss_before = budget_module.rss.read()
    runaways = [r for r in RUNAWAYS if r[0] in _VARIED][:20]
    runaways += RUNAWAYS[: 20 - len(runaways)]
    for _name, mode, source in runaways:
        with pytest.raises(SandboxError):
            _run(sandbox, mode, source)
    assert budget_module.active() is None
    assert sys.gettrace() is None and sys.getprofile() is None
    after = min(normal_call() for _ in range(5))
    assert after < baseline * 3 + 0.005, (baseline, after)
    gc.collect()
    rss_after = budget_module.rss.read()
    if rss_before is not None and rss_after is not None:
        assert rss_after - rss_before < 64 * 2**20


_VARIED = {
    "while_true",
    "comprehension",
    "catch_everything",
    "str_repeat",
    "big_power",
    "append_forever",
    "deep_recursion",
    "string_doubling",
    "list_of_range",
    "in_range_non_int",
}


def test_budget_exceeded_cannot_be_caught_to_keep_going() -> None:
    code = (
        "n = 0\n"
        "while True:\n"
        "    try:\n"
        "        while True:\n"
        "            pass\n"
        "    except Exception:\n"
        "        n += 1\n"
        "    except:\n"
        "        n += 1\n"
    )
    with pytest.raises(SandboxError) as caught:
        Sandbox(cpu_seconds=0.2).execute(code, {})
    assert caught.value.kind == "timeout"


def test_timeouts_are_per_thread() -> None:
    """A runaway in one thread does not stop a normal call in another."""
    results: dict[str, object] = {}

    def runaway() -> None:
        try:
            Sandbox(cpu_seconds=1.0).execute("while True:\n    pass", {})
        except SandboxError as exc:
            results["runaway"] = exc.kind

    thread = threading.Thread(target=runaway)
    thread.start()
    try:
        for _ in range(20):
            assert Sandbox(cpu_seconds=0.5).evaluate("sum(range(1000))", {}) == 499500
    finally:
        thread.join()
    assert results["runaway"] == "timeout"


def test_nested_call_gets_at_most_what_the_outer_call_has_left() -> None:
    inner = Sandbox(cpu_seconds=10)

    def nested(code: str) -> object:
        return inner.execute(code, {})

    outer_names = {"nested": nested}
    cpu_started = time.thread_time()
    with pytest.raises(SandboxError) as caught:
        Sandbox(cpu_seconds=0.3).execute("nested('while True:\\n    pass')", outer_names)
    assert caught.value.kind == "timeout"
    assert time.thread_time() - cpu_started < 0.6
    assert budget_module.active() is None


def test_leaked_function_cannot_run_after_its_call() -> None:
    namespace = Sandbox().execute("def spin():\n    while True:\n        pass\n", {})
    with pytest.raises(SandboxError) as caught:
        namespace["spin"]()
    assert caught.value.kind == "forbidden"
    assert "after its call has ended" in caught.value.message


def test_recursion_error_is_clean() -> None:
    with pytest.raises(SandboxError) as caught:
        Sandbox().execute("def f(n):\n    return f(n + 1)\nf(0)", {})
    assert caught.value.kind == "memory"
    assert "recursion" in caught.value.message
    # The interpreter is fine afterwards.
    assert Sandbox().evaluate("sum([1, 2, 3])", {}) == 6


def test_strptime_refuses_huge_formats() -> None:
    names = standard_helpers()
    with pytest.raises(SandboxError, match="limited to 1000 characters"):
        Sandbox().evaluate("datetime.datetime.strptime('%' * 10**6, '%%' * 10**6)", names)
    assert Sandbox().evaluate("datetime.datetime.strptime('2024', '%Y').year", names) == 2024
