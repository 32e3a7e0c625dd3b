"""A rule's own CPU Time Limit: used by every sandbox call of the rule, capped by a ceiling."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import pytest
from flask import Flask

from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.live_server import serving
from tests.addons.webhooks.test_api import RULES
from tests.addons.webhooks.test_devmode_and_rule_form import rule_form_error
from tests.support.web import ADMIN, WebClient, api_client, form_values

ADD = "/webhookview/add?model=sale.order"
LOOP = [{"name": "spin", "action_type": "execute_code", "settings": {"code": "while True: pass"}}]


def post(host: str, port: int, path: str, body: Any = None) -> tuple[int, dict[str, Any], float]:
    """POST ``body`` as JSON over a real connection: (status, JSON answer, seconds taken)."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    started = time.perf_counter()
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body or {"_model": "sale.order", "_id": 1}),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        answer = json.loads(response.read())
        return response.status, answer, time.perf_counter() - started
    finally:
        connection.close()


def test_a_rule_with_half_a_second_of_cpu_stops_within_seconds(app: Flask, make_rule) -> None:
    rule = make_rule("sale.order", actions=LOOP, cpu_seconds=0.5)
    with serving(app) as (host, port):
        status, answer, seconds = post(host, port, rule["path"])
    assert status == 500
    assert "time" in answer["message"].lower(), answer
    # The budget is CPU time; a loaded machine (CI shares its cores) gives it out slower than
    # the clock, so the bound is loose: far under the 10 s wall-clock limit all the same.
    assert seconds < 3, f"took {seconds:.2f} s"


def test_the_target_record_runs_under_the_rule_budget_too(app: Flask, make_rule) -> None:
    looping = "[i for i in iter(int, 1)]"  # an endless iterator: only the budget stops it
    rule = make_rule("sale.order", target_record=looping, cpu_seconds=0.3)
    with serving(app) as (host, port):
        status, answer, seconds = post(host, port, rule["path"])
    assert status == 500 and seconds < 3, (answer, seconds)


def test_a_lowered_ceiling_clamps_rules_saved_before(
    app: Flask, make_rule, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = make_rule("sale.order", actions=LOOP, cpu_seconds=8.0)
    monkeypatch.setitem(app.config, "WEBHOOK_CPU_SECONDS_MAX", 0.3)
    with serving(app) as (host, port):
        status, _answer, seconds = post(host, port, rule["path"])
    assert status == 500
    assert seconds < 3, f"the 8 s rule ran {seconds:.2f} s under a 0.3 s ceiling"


@pytest.mark.parametrize(
    ("value", "message"), [("50", "cannot be more than 10"), ("0", "more than 0")]
)
def test_the_form_refuses_a_limit_outside_the_ceiling(
    app: Flask, admin_web: WebClient, clean_rules, value: str, message: str
) -> None:
    page = admin_web.get(ADD).get_data(as_text=True)
    data = {**form_values(page), "name": "Greedy", "cpu_seconds": value}
    response = admin_web.client.post(ADD, data=data)
    assert response.status_code == 200
    assert message in rule_form_error(response.get_data(as_text=True), "cpu_seconds")
    assert read(app, "base.automation", [], ["name"]) == []


def test_the_form_saves_a_limit_and_empty_means_the_default(
    app: Flask, admin_web: WebClient, clean_rules
) -> None:
    for name, value in (("Quick", "0.5"), ("Default", "")):
        page = admin_web.get(ADD).get_data(as_text=True)
        data = {**form_values(page), "name": name, "cpu_seconds": value}
        response = admin_web.client.post(ADD, data=data)
        assert response.status_code == 302, response.get_data(as_text=True)
    rows = read(app, "base.automation", [], ["name", "cpu_seconds"])
    assert [(r["name"], r["cpu_seconds"]) for r in rows] == [("Quick", 0.5), ("Default", None)]


@pytest.mark.parametrize("value", [50, 0, -1])
def test_the_api_refuses_a_limit_outside_the_ceiling(app: Flask, clean_rules, value: float) -> None:
    api = api_client(app.test_client(), ADMIN)
    response = api.post(RULES, {"name": "R", "model": "sale.order", "cpu_seconds": value})
    assert response.status_code == 422
    assert "cpu_seconds" in response.get_json()["message"]
    ok = api.post(RULES, {"name": "R", "model": "sale.order", "cpu_seconds": 10})
    assert ok.status_code == 201, ok.get_json()


def test_the_rule_page_shows_the_limit_or_the_default(admin_web: WebClient, make_rule) -> None:
    own = make_rule("sale.order", cpu_seconds=0.5)
    default = make_rule("sale.order")
    page = admin_web.get(f"/webhookview/show/{own['id']}").get_data(as_text=True)
    assert "CPU Time Limit (s)" in page and "0.5" in page
    page = admin_web.get(f"/webhookview/show/{default['id']}").get_data(as_text=True)
    assert "Default (2 s)" in page
