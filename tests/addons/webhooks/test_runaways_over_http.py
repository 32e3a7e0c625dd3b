"""Twenty runaway calls in a row leave the server process as fast and the database as it was."""

from __future__ import annotations

import statistics

from flask import Flask

from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.live_server import serving
from tests.addons.webhooks.test_rule_budget import post

#: Each runaway first creates a contact, so that a kept write would show in the database.
WRITE = "env['res.partner'].create({'name': 'runaway'})\n"
RUNAWAYS = {
    "loop": "while True: pass",
    "string": "x = 'x' * 10**10",
    "list": "x = [0] * 10**9",
    "recursion": "def f(n):\n    return f(n + 1)\nf(0)",
}


def _code_rule(make_rule, code: str, **values: object) -> dict[str, object]:
    action = {"name": "code", "action_type": "execute_code", "settings": {"code": code}}
    return make_rule("sale.order", actions=[action], **values)


def _normal_seconds(host: str, port: int, path: str) -> float:
    """The median time of a few normal calls (one call alone is too noisy to compare)."""
    times = []
    for _ in range(5):
        status, answer, seconds = post(host, port, path)
        assert status == 200, answer
        times.append(seconds)
    return statistics.median(times)


def test_twenty_runaways_then_a_normal_call(app: Flask, make_rule) -> None:
    normal = _code_rule(make_rule, "record.name")
    runaways = {
        name: _code_rule(make_rule, WRITE + code, cpu_seconds=0.2)
        for name, code in RUNAWAYS.items()
    }
    before = read(app, "res.partner", [], ["name"]), read(app, "sale.order", [], ["name"])
    with serving(app) as (host, port):
        baseline = _normal_seconds(host, port, normal["path"])
        order = list(RUNAWAYS) * 5
        for name in order:
            status, answer, seconds = post(host, port, runaways[name]["path"])
            assert status == 500, (name, answer)
            assert answer["message"], name
            assert seconds < 2.0, f"{name} took {seconds:.2f} s"
        assert (read(app, "res.partner", [], ["name"]), read(app, "sale.order", [], ["name"])) == (
            before
        ), "a runaway's write was kept"
        after = _normal_seconds(host, port, normal["path"])
    assert after <= 3 * baseline + 0.1, f"normal call {baseline:.4f} s before, {after:.4f} s after"
