"""Compiled code is cached per source: the hot path never compiles."""

from __future__ import annotations

import statistics
import time

from nightpos_app.orm import Environment
from nightpos_app.sandbox import Sandbox
from nightpos_app.sandbox.compiler import cache_info, compile_source
from tests.core.sandbox.conftest import webhook_names
from tests.core.sandbox.test_use_cases import TARGET_RECORD


def test_each_source_is_compiled_once() -> None:
    sandbox = Sandbox()
    source = "payload['n'] * 2  # cache test"
    hits, misses = cache_info()
    for n in range(50):
        assert sandbox.evaluate(source, {"payload": {"n": n}}) == 2 * n
    assert cache_info() == (hits + 49, misses + 1)
    assert compile_source("eval", source, "<expression>").code is not None


def test_check_warms_the_cache_for_the_default_filename() -> None:
    sandbox = Sandbox()
    source = "y = 1  # warmed by check"
    assert sandbox.check(source, "exec") is None
    misses = cache_info()[1]
    sandbox.execute(source, {})
    assert cache_info()[1] == misses


def test_compile_errors_are_cached_too() -> None:
    sandbox = Sandbox()
    source = "import os  # cached refusal"
    sandbox.check(source, "exec")
    misses = cache_info()[1]
    assert sandbox.check(source, "exec") is not None
    assert cache_info()[1] == misses


def test_long_sources_have_their_own_small_cache() -> None:
    sandbox = Sandbox()
    long_source = "x = 1\n" * 1000  # over 4096 characters
    sandbox.execute(long_source, {})
    misses = cache_info()[1]
    assert sandbox.execute(long_source, {})["x"] == 1
    assert cache_info()[1] == misses


def test_cached_target_record_is_fast(env: Environment) -> None:
    sandbox = Sandbox()
    order = env["sale.order"].search([], limit=1)
    names = webhook_names(env, "sale.order", {"_model": "sale.order", "_id": str(order.id)})
    assert sandbox.evaluate(TARGET_RECORD, names) == order
    timings = []
    for _ in range(2000):
        started = time.perf_counter()
        sandbox.evaluate(TARGET_RECORD, names)
        timings.append(time.perf_counter() - started)
    median_us = statistics.median(timings) * 1e6
    print(f"cached Target Record evaluation: {median_us:.1f} µs (median of 2000)")
    # Well under 50 µs on a quiet machine; generous here, as other tests run alongside.
    assert median_us < 150
