"""A second attack review of the runner boundary, over HTTP against the real app.

After the first review's fixes (request caps of 10,000 ids, 1,000 domain terms and 1,000
creates; a 4 MiB frame and 50,000 containers from a runner; read answers within 4 MiB;
runners as nobody under seccomp; 32 busy runners per pool), two attackers again: an admin who
writes rule code, and a sender who knows only a webhook URL.

What the caps did not bound was the *cost* of one request: they counted ids, terms and
creates, not bytes times rows, and not record handles. The review's findings (a write of a
large value to many records, a search of costly terms, a recordset as a domain value, admin
code compiled in the web process, the Target Record shortcut's cache, a long pattern from a
payload) are refused now: the database stops a request's statements at the call's deadline,
a request stores at most 16 MiB, handles count their ids, and the web process neither
compiles admin code per call nor keeps long sources.

The machine these run on is small and shared: where a test measures, it measures the web
process's own CPU time or answers that do not depend on speed, and allows wide margins.
"""

from __future__ import annotations

import gc
import os
import sys
import time

import pytest
from flask import Flask

from addons.webhooks.models import DEFAULT_TARGET_RECORD
from addons.webhooks.rules.known_targets import _shortcut, shortcut
from addons.webhooks.rules.state import get_webhooks
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.live_server import serving
from tests.addons.webhooks.test_rule_budget import post
from tests.addons.webhooks.test_runner_isolation import _code_rule, _get, other_requests

#: A write first: were anything of the call kept, this contact would show.
WRITE = "env['res.partner'].create({'name': 'kept by mistake'})\n"


def _partners(app: Flask) -> list[dict[str, object]]:
    return read(app, "res.partner", [], ["name"])


def _cpu() -> float:
    """This process's CPU time (all its threads: the server's included)."""
    times = os.times()
    return times.user + times.system


#: 20 orders with a 1 MB note that a ``like 'y'`` term matches only at its end.
_BIG_NOTES = (
    "start = time.time()\n"
    + WRITE
    + "o = env['sale.order'].create([{'partner_id': 1, 'currency_id': 1}] * 20)\n"
    # In two writes: one request stores at most 16 MiB.
    "o[:10].write({'note': 'x' * 1000000 + 'y'})\n"
    "o[10:].write({'note': 'x' * 1000000 + 'y'})\n"
    "def scan(terms):\n"
    "    t = time.time()\n"
    "    env['sale.order'].search_count([('note', 'like', 'y')] * terms)\n"
    "    return time.time() - t\n"
)


def _slow_search(wall: float, overshoot: float) -> str:
    """Code whose LAST search request alone lasts until ``overshoot`` seconds past a
    ``wall``-second deadline: it doubles the matching ``like`` terms (well under the
    1,000-term cap) until one request takes a measurable time, then asks for enough terms."""
    return _BIG_NOTES + (
        "terms, took = 2, 0.0\n"
        "while took < 0.25 and terms < 1000:\n"
        "    terms = terms * 2\n"
        "    took = scan(terms)\n"
        f"left = {wall} - (time.time() - start)\n"
        f"terms = min(1000, int(1.5 * terms * (left + {overshoot}) / took) + 1)\n"
        "log('terms: ' + str(terms))\n"
        "scan(terms)\n"
    )


# ------------------------------------------------------ one request is not bounded by the caps
def test_one_write_of_a_large_value_to_many_records_stays_within_the_deadline(
    app: Flask, make_rule, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_webhooks(app).sandbox, "wall_seconds", 2.0)
    code = (
        "start = time.time()\n"
        + WRITE
        + "o = env['sale.order'].create([{'partner_id': 1, 'currency_id': 1}] * 1000)\n"
        "big = 'x' * 3900000\n"
        "t = time.time()\n"
        "o[:20].write({'note': big})\n"
        "per_record = max((time.time() - t) / 20, 0.002)\n"
        "left = 2.0 - (time.time() - start)\n"
        "n = min(1000, int((left + 4.0) / per_record) + 1)\n"
        "o[:n].write({'note': big})\n"
    )
    rule = _code_rule(make_rule, code, cpu_seconds=1)
    before = _partners(app)
    with serving(app) as (host, port):
        _get(host, port, "/login/")
        cpu = _cpu()
        status, answer, seconds = post(host, port, rule["path"])
        cpu = _cpu() - cpu
    assert _partners(app) == before
    # Bounds leave room for a loaded machine (CI shares its cores): what matters is that the
    # call ends near its limit, not unbounded.
    assert seconds < 2.0 + 2, f"the call took {seconds:.1f} s ({cpu:.1f} s CPU here): {answer}"


def test_one_search_of_costly_terms_stays_within_the_deadline(
    app: Flask, make_rule, monkeypatch: pytest.MonkeyPatch
) -> None:
    wall = 4.0
    monkeypatch.setattr(get_webhooks(app).sandbox, "wall_seconds", wall)
    rule = _code_rule(make_rule, _slow_search(wall, 2.0), cpu_seconds=1)
    with serving(app) as (host, port):
        _get(host, port, "/login/")
        cpu = _cpu()
        with other_requests(host, port) as times:
            status, answer, seconds = post(host, port, rule["path"])
        cpu = _cpu() - cpu
    assert seconds < wall + 2, (
        f"the call took {seconds:.1f} s ({cpu:.1f} s of this process's CPU) for a "
        f"{wall:g} s limit; /login/ up to {max(times, default=0):.2f} s; {status} {answer}"
    )


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(
            "r",
            id="a-recordset-handle",
        ),
        pytest.param("r.ids", id="the-same-ids-as-a-list"),
    ],
)
def test_a_domain_value_of_20000_ids_is_refused(app: Flask, make_rule, value: str) -> None:
    code = (
        "r = env['res.partner'].browse(range(100000, 120001))[:]\n"
        f"n = env['res.partner'].search_count([('id', 'in', {value})])\n"
    )
    rule = _code_rule(make_rule, WRITE + code)
    before = _partners(app)
    with serving(app) as (host, port):
        status, answer, _ = post(host, port, rule["path"])
    assert status == 500, answer
    assert "at most" in answer["message"], answer
    assert _partners(app) == before


# ------------------------------------------------- work the web process does outside the budget
def _costly_to_compile(size: int) -> str:
    """Code that never runs, but takes the compiler seconds: one f-string of many fields."""
    return "if False:\n    x = f'" + "{a}" * (size // 3) + "'\n"


def test_compiling_admin_code_costs_the_web_process_little(app: Flask, make_rule) -> None:
    costly = _code_rule(make_rule, _costly_to_compile(75_000), cpu_seconds=0.5)
    # 33 large, cheap sources push the costly one out of the web process's compile cache,
    # as 33 other rules (or actions) with long code would.
    evict = make_rule(
        "sale.order",
        actions=[
            {
                "name": f"pad {i}",
                "action_type": "execute_code",
                "settings": {"code": f"pass  # {i} " + "x" * 4200},
            }
            for i in range(33)
        ],
    )
    with serving(app) as (host, port):
        assert post(host, port, evict["path"])[0] == 200
        _get(host, port, "/login/")
        cpu = _cpu()
        with other_requests(host, port) as times:
            status, answer, seconds = post(host, port, costly["path"])
        cpu = _cpu() - cpu
    assert status == 500, answer  # the runner's own compile is over the 0.5 s budget
    assert cpu < 1.0, (
        f"the web process spent {cpu:.2f} s of CPU on a call with a 0.5 s budget "
        f"({seconds:.1f} s; /login/ up to {max(times, default=0):.2f} s)"
    )


def _shortcut_cache_bytes() -> int:
    """The bytes of the sources ``shortcut``'s cache keeps as its keys."""
    caches = [
        o for o in gc.get_referents(_shortcut) if type(o) is dict and o is not _shortcut.__dict__
    ]
    return sum(sys.getsizeof(key) for cache in caches for key in cache if type(key) is str)


def test_the_target_record_shortcut_keeps_little_per_rule(app: Flask, make_rule) -> None:
    rules = [
        make_rule("sale.order", target_record=f"'{i}" + "\U0001f600" * 99_990 + "'")
        for i in range(8)
    ]
    before = _shortcut_cache_bytes()
    with serving(app) as (host, port):
        for rule in rules:
            status, answer, _ = post(host, port, rule["path"])
            assert status == 500 and "got str" in answer["message"], answer
    per_rule = (_shortcut_cache_bytes() - before) / len(rules)
    maxsize = _shortcut.cache_info().maxsize or 0
    assert per_rule * maxsize < 16 * 2**20, (
        f"{per_rule / 1024:.0f} KiB kept per Target Record "
        f"({_shortcut.cache_info().currsize} entries): "
        f"{per_rule * maxsize / 2**20:.0f} MiB for a full cache"
    )


# ------------------------------------------------------------------- what the sender can do
def test_a_long_search_text_from_the_payload_is_a_clean_error(app: Flask, make_rule) -> None:
    code = (
        "for p in env['res.partner'].search([('name', 'ilike', payload.get('q', ''))]):\n"
        "    log(p.name)\n"
    )
    rule = _code_rule(make_rule, code)
    body = {"_model": "sale.order", "_id": 1, "q": "a" * 50_001}
    with serving(app) as (host, port):
        status, answer, _ = post(host, port, rule["path"], body)
        assert (
            post(host, port, rule["path"], {"_model": "sale.order", "_id": 1, "q": "a"})[0] == 200
        )
    assert status == 500, answer
    assert "unexpected error" not in answer["message"], answer


#: The default Target Record, but a different syntax tree: it always goes to a runner.
RUNNER_TARGET = "model.env[payload.get('_model')].browse(int(payload.get('_id', None)))"


@pytest.mark.parametrize(
    "body",
    [
        {"_model": "sale.order", "_id": 1},
        {"_model": "sale.order", "_id": "1"},
        {"_model": "sale.order", "_id": "0001"},
        {"_model": "sale.order", "_id": " 1"},
        {"_model": "sale.order", "_id": "1_0"},
        {"_model": "sale.order", "_id": "\u0661"},  # ARABIC-INDIC DIGIT ONE: int() reads it
        {"_model": "sale.order", "_id": "\uff11"},  # FULLWIDTH DIGIT ONE
        {"_model": "sale.order", "_id": 1.9},
        {"_model": "sale.order", "_id": True},
        {"_model": "sale.order", "_id": 0},
        {"_model": "sale.order", "_id": -1},
        {"_model": "sale.order", "_id": 9223372036854775807},
        {"_model": "sale.order", "_id": "999999999999999999"},
        {"_model": "sale.order", "_id": "99999999999999999999"},
        {"_model": "sale.order", "_id": ["1"]},
        {"_model": "sale.order", "_id": {"a": 1}},
        {"_model": "sale.order"},
        {"_model": "res.partner", "_id": 1},
        {"_model": "base.automation", "_id": 1},
        {"_model": "webhook.delivery", "_id": 1},
        {"_model": "ab_user", "_id": 1},
        {"_model": "", "_id": 1},
        {"_model": ["sale.order"], "_id": 1},
        {"_id": 1},
    ],
    ids=lambda body: repr(body)[:60],
)
def test_the_default_target_record_answers_as_a_runner_would(
    app: Flask, make_rule, body: dict[str, object]
) -> None:
    """The default Target Record is evaluated without a runner (known_targets.py): for each
    payload, its answer is the same as the same expression evaluated in a runner."""
    action = {
        "name": "read",
        "action_type": "execute_code",
        "settings": {"code": "log(str(record.name))"},
    }
    fast = make_rule("sale.order", actions=[action], target_record=DEFAULT_TARGET_RECORD)
    slow = make_rule("sale.order", actions=[action], target_record=RUNNER_TARGET)
    assert shortcut(DEFAULT_TARGET_RECORD) is not None and shortcut(RUNNER_TARGET) is None
    with serving(app) as (host, port):
        quick = post(host, port, fast["path"], body)[:2]
        sandboxed = post(host, port, slow["path"], body)[:2]
    assert quick == sandboxed


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("model.browse(" + "-" * 60_000 + "1)", id="60k-unary-minus"),
        pytest.param("model.browse(" + "(" * 30_000 + "1" + ")" * 30_000 + ")", id="60k-parens"),
        pytest.param("not " * 20_000 + "model", id="20k-not"),
        pytest.param("model" + ".x" * 40_000, id="40k-attributes"),
        pytest.param("model.browse([" + "[" * 180 + "]" * 180 + "])", id="180-nested-lists"),
    ],
)
def test_a_pathological_target_record_is_refused_without_harm(
    app: Flask, make_rule, target: str
) -> None:
    """The web process parses every Target Record (known_targets.shortcut): deep or huge
    ones end as a 500 with a message, quickly, and the server goes on."""
    rule = make_rule("sale.order", target_record=target)
    normal = _code_rule(make_rule, "record.name")
    with serving(app) as (host, port):
        started = time.process_time()
        status, answer, _ = post(host, port, rule["path"])
        cpu = time.process_time() - started
        assert status == 500, answer
        assert "unexpected" not in answer["message"], answer
        assert _get(host, port, "/login/") < 1.0
        assert post(host, port, normal["path"])[0] == 200
    assert cpu < 5, f"the web process spent {cpu:.1f} s on one Target Record"
