"""When code runs is code's business: a timing rule's settings take ``can_write_code``.

Attack (a rule editor without ``can_write_code``, docs/security.md): an admin's scheduled rule
cancels unpaid orders once a month; the editor may not touch its code, Model or Trigger, but the
period, the date field, the delay and the selection value decide when, how often and on which
records that code runs. Changing "every 1 month" to "every 1 minute", or "30 days after
creation" to "1 day", is running code the editor was not given to run. Each of those settings is
now refused without the permission, over the REST API and the form, and kept as it was; the rest
of the rule stays the editor's.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from addons.webhooks.rules.code_rights import CHANGE_REFUSED
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.test_access import logged_in
from tests.addons.webhooks.test_access import users as users  # noqa: F401 (the manager)
from tests.addons.webhooks.test_write_code import EDITOR, MakeRule, snapshot
from tests.addons.webhooks.test_write_code import editor as editor  # noqa: F401
from tests.support.web import api_client, edit_through_form, one_context_per_request, page_text

_ = one_context_per_request

RULES = "/api/v1/base_automation/"
CODE = {"name": "Cancel", "action_type": "execute_code", "settings": {"code": "log('x')"}}

#: Each timing setting an editor without the permission tries to change, per trigger.
ATTEMPTS: dict[str, list[dict[str, Any]]] = {
    "on_schedule": [{"interval_number": 1, "interval_type": "minutes"}, {"interval_number": 6}],
    "on_time_created": [{"trg_date_range": 1}, {"trg_date_range_type": "minutes"}],
    "on_time": [{"trg_date_field": "validity_date"}, {"trg_date_range": -3}],
    "on_value_set": [{"trg_selection_value": "draft"}],
}

SETTINGS: dict[str, dict[str, Any]] = {
    "on_schedule": {"interval_number": 1, "interval_type": "months"},
    "on_time_created": {"trg_date_range": 30, "trg_date_range_type": "days"},
    "on_time": {
        "trg_date_field": "date_order",
        "trg_date_range": 3,
        "trg_date_range_type": "days",
    },
    "on_value_set": {"trg_selection_field": "state", "trg_selection_value": "cancel"},
}


@pytest.fixture
def timed_rules(make_rule: MakeRule, editor: None) -> dict[str, dict[str, Any]]:  # noqa: F811
    return {
        trigger: make_rule(
            "sale.order",
            name=f"Timed {trigger}",
            trigger=trigger,
            target_record="model.browse([])" if trigger == "on_schedule" else "record",
            actions=[CODE],
            **settings,
        )
        for trigger, settings in SETTINGS.items()
    }


def test_the_api_refuses_changing_when_code_runs_without_the_permission(
    app: Flask, client: FlaskClient, timed_rules: dict[str, dict[str, Any]]
) -> None:
    api = api_client(client, EDITOR)
    before = snapshot(app)
    for trigger, attempts in ATTEMPTS.items():
        rule_id = timed_rules[trigger]["id"]
        for change in attempts:
            response = api.put(f"{RULES}{rule_id}", change)
            assert response.status_code == 422, (trigger, change, response.get_json())
            message = response.get_json()["message"]
            changed = {name for name in change if change[name] != SETTINGS[trigger].get(name)}
            assert message == {name: [CHANGE_REFUSED] for name in changed}, (trigger, change)
    assert snapshot(app) == before
    # The same values again are no change: the rest of the rule is still the editor's.
    for trigger, settings in SETTINGS.items():
        rule_id = timed_rules[trigger]["id"]
        response = api.put(f"{RULES}{rule_id}", {**settings, "description": "mine"})
        assert response.status_code == 200, (trigger, response.get_json())


def test_the_form_refuses_changing_when_code_runs_without_the_permission(
    app: Flask, timed_rules: dict[str, dict[str, Any]]
) -> None:
    web, _token = logged_in(app, EDITOR)
    before = snapshot(app)
    for trigger, attempts in ATTEMPTS.items():
        url = f"/automationruleview/edit/{timed_rules[trigger]['id']}"
        for change in attempts:
            response = edit_through_form(web, url, change)
            assert response.status_code == 200, (trigger, change)  # the form, with the refusal
            assert CHANGE_REFUSED in page_text(response)
            assert snapshot(app) == before, (trigger, change)
    # Saving the form as shown (the timing fields as they are) still works.
    rule_id = timed_rules["on_schedule"]["id"]
    url = f"/automationruleview/edit/{rule_id}"
    response = edit_through_form(web, url, {"description": "Mine"})
    assert response.status_code == 302, page_text(response)
    (rule,) = read(app, "base.automation", [("id", "=", rule_id)], None)
    assert (rule["description"], rule["interval_number"], rule["interval_type"]) == (
        "Mine",
        1,
        "months",
    )
