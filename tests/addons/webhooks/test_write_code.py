"""Who may write code: ``can_write_code``, over the REST API (JWT) and the screens.

Issue 11's attack: a role that may list, show and edit rules and actions but not read secrets
(docs/security.md's own example) changed its rule to trigger on writes of actions, put another
rule's secret into its description with Execute Code, read it back and called that rule's URL.
Now changing a rule's Model, Trigger, Target Record or record filters, and creating, changing
or deleting an action that holds code, take ``can_write_code``; without it such a role still
edits everything else. And even the code the attacker wanted, once an admin puts it in place,
reads no secret and writes no rule.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema, fields

from addons.webhooks.rules.code_rights import (
    ACTION_REFUSED,
    CHANGE_REFUSED,
    CREATE_RULE_REFUSED,
    DELETE_ACTION_REFUSED,
    WRITE_CODE_REFUSED,
    _code_in,
    _code_settings,
)
from addons.webhooks.security import CODE_PERMISSION, SECRET_PERMISSION
from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import location
from tests.addons.webhooks.test_access import MANAGER, _user, logged_in
from tests.addons.webhooks.test_access import users as users  # noqa: F401 (the manager)
from tests.support.web import (
    ADMIN,
    Credentials,
    api_client,
    edit_through_form,
    form_values,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

MakeRule = Callable[..., dict[str, Any]]

RULES = "/api/v1/base_automation/"
ACTIONS = "/api/v1/ir_actions_server/"
EDITOR = Credentials("test-rule-editor-no-code", "N0-code-test-password")
#: The views an editor of rules and actions has every permission on, but two.
EDITOR_VIEWS = (
    "WebhookView",
    "AutomationRuleView",
    "BaseAutomationApi",
    "ServerActionView",
    "IrActionsServerApi",
)
STAMP = "record.write({'note': 'stamped'})"


def steal(victim_id: int, own_id: int) -> str:
    """What the attacker wanted to run: the victim's URL secret into its own description."""
    return (
        f"env['base.automation'].browse({own_id}).write("
        f"{{'description': env['base.automation'].browse({victim_id}).webhook_secret}})"
    )


@pytest.fixture(scope="module")
def editor(app: Flask) -> None:
    """A role with every permission on rules and actions except reading secrets and writing
    code."""
    with app.app_context():
        sm = app.appbuilder.sm
        pairs = [
            (pv.permission.name, name)
            for name in EDITOR_VIEWS
            for pv in sm.find_permissions_view_menu(sm.find_view_menu(name))
            if pv.permission.name not in (SECRET_PERMISSION, CODE_PERMISSION)
        ]
    assert ("can_put", "BaseAutomationApi") in pairs and ("can_delete", "ServerActionView") in pairs
    _user(app, EDITOR, "Rule Editor Without Code", pairs)


@pytest.fixture
def rules(app: Flask, make_rule: MakeRule, editor: None) -> dict[str, Any]:
    """The victim's webhook rule, and the editor's own rule (made by an admin) with an Execute
    Code action and an Update Record action of fixed value."""
    victim = make_rule("sale.order", name="Victim")
    own = make_rule(
        "sale.order",
        name="Own",
        target_record="model.browse([7])",
        actions=[
            {"name": "Stamp", "action_type": "execute_code", "settings": {"code": STAMP}},
            {
                "name": "Note",
                "action_type": "update_record",
                "settings": {"field": "note", "value": "fixed"},
            },
        ],
    )
    code_action, value_action = (
        a["id"] for a in read(app, "ir.actions.server", [("rule_id", "=", own["id"])], [])
    )
    return {"victim": victim, "own": own, "code": code_action, "value": value_action}


def opening_tag(page: str, tag: str, name: str) -> str:
    """The opening tag of the ``tag`` element called ``name`` in ``page``."""
    found = re.search(rf'<{tag}\b[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    assert found, f"no <{tag} name={name!r}>"
    return found.group(0)


def snapshot(app: Flask) -> list[list[dict[str, Any]]]:
    """Every rule and action as the database holds them (every field, secrets included)."""
    return [read(app, "base.automation", [], None), read(app, "ir.actions.server", [], None)]


# ------------------------------------------------------------------------ the REST API


def test_the_attack_is_refused_by_the_api(
    app: Flask, client: FlaskClient, rules: dict[str, Any]
) -> None:
    victim, own = rules["victim"], rules["own"]
    code, value = rules["code"], rules["value"]
    api = api_client(client, EDITOR)
    before = snapshot(app)
    refusals = [
        # The rule: its trigger and model (a record trigger on another model's records)...
        (
            api.put(f"{RULES}{own['id']}", {"model": "ir.actions.server", "trigger": "on_write"}),
            {"model": [CHANGE_REFUSED], "trigger": [CHANGE_REFUSED]},
        ),
        (api.put(f"{RULES}{own['id']}", {"trigger": "on_write"}), {"trigger": [CHANGE_REFUSED]}),
        (
            api.put(f"{RULES}{own['id']}", {"target_record": "model.browse([1])"}),
            {"target_record": [CHANGE_REFUSED]},
        ),
        (
            api.put(f"{RULES}{own['id']}", {"filter_domain": "[('state', '=', 'sale')]"}),
            {"filter_domain": [CHANGE_REFUSED]},
        ),
        # ...a new rule (it chooses a Model and a Trigger)...
        (
            api.post(RULES, {"name": "Mine", "model": "ir.actions.server", "trigger": "on_write"}),
            {"model": [CREATE_RULE_REFUSED]},
        ),
        # ...the code of an action, or anything but its name...
        (
            api.put(f"{ACTIONS}{code}", {"settings": {"code": steal(victim["id"], own["id"])}}),
            {"settings": [ACTION_REFUSED]},
        ),
        (api.put(f"{ACTIONS}{code}", {"sequence": 99}), {"settings": [ACTION_REFUSED]}),
        (api.put(f"{ACTIONS}{code}", {"active": False}), {"settings": [ACTION_REFUSED]}),
        (api.put(f"{ACTIONS}{code}", {"rule_id": victim["id"]}), {"settings": [ACTION_REFUSED]}),
        (
            api.put(f"{ACTIONS}{code}", {"action_type": "update_record", "settings": {}}),
            None,  # the settings do not suit the new type: refused either way
        ),
        # ...a new action holding code, or an action turned into one...
        (
            api.post(
                ACTIONS,
                {
                    "rule_id": own["id"],
                    "name": "Steal",
                    "action_type": "execute_code",
                    "settings": {"code": steal(victim["id"], own["id"])},
                },
            ),
            {"settings": [CHANGE_REFUSED]},
        ),
        (
            api.put(
                f"{ACTIONS}{value}",
                {"settings": {"field": "note", "expression": "str(env['base.automation'])"}},
            ),
            {"settings": [CHANGE_REFUSED]},
        ),
        (
            api.put(
                f"{ACTIONS}{value}",
                {"action_type": "execute_code", "settings": {"code": STAMP}},
            ),
            {"settings": [CHANGE_REFUSED]},
        ),
        (
            api.post(
                ACTIONS,
                {
                    "rule_id": own["id"],
                    "name": "Create",
                    "action_type": "create_record",
                    "settings": {
                        "model": "res.partner",
                        "values": [{"field": "name", "expression": "payload['name']"}],
                    },
                },
            ),
            {"settings": [CHANGE_REFUSED]},
        ),
    ]
    for response, message in refusals:
        assert response.status_code == 422, response.get_json()
        if message is not None:
            assert response.get_json()["message"] == message
    deleted = api.delete(f"{ACTIONS}{code}")
    assert deleted.status_code == 403
    assert deleted.get_json() == {"message": DELETE_ACTION_REFUSED}
    assert snapshot(app) == before

    # Everything else stays the editor's: the rule's other fields, renaming the code action,
    # actions without code (fixed values), deleting one.
    assert api.put(f"{RULES}{own['id']}", {"name": "Own 2", "description": "d"}).status_code == 200
    guarded = api.put(f"{RULES}{own['id']}", {"log_calls": True, "rate_limit": "60/minute"})
    assert guarded.status_code == 200
    assert api.put(f"{ACTIONS}{code}", {"name": "Stamp 2"}).status_code == 200
    changed = api.put(f"{ACTIONS}{value}", {"settings": {"field": "note", "value": "other"}})
    assert changed.status_code == 200, changed.get_json()
    added = api.post(
        ACTIONS,
        {
            "rule_id": own["id"],
            "name": "Create",
            "action_type": "create_record",
            "settings": {"model": "res.partner", "values": [{"field": "name", "value": "Fixed"}]},
        },
    )
    assert added.status_code == 201, added.get_json()
    assert api.delete(f"{ACTIONS}{added.get_json()['id']}").status_code == 200
    (rule,) = read(app, "base.automation", [("id", "=", own["id"])], None)
    assert (rule["name"], rule["description"], rule["model"], rule["trigger"]) == (
        "Own 2",
        "d",
        "sale.order",
        "on_webhook",
    )
    assert rule["target_record"] == "model.browse([7])"
    (action,) = read(app, "ir.actions.server", [("id", "=", code)], None)
    assert (action["name"], action["settings"]) == ("Stamp 2", {"code": STAMP})
    # No answer ever held the victim's secret.
    for response in [*(r for r, _ in refusals), deleted]:
        assert victim["secret"] not in response.get_data(as_text=True)


def test_the_attackers_code_put_in_place_by_an_admin_reads_no_secret(
    app: Flask, client: FlaskClient, make_rule: MakeRule, rules: dict[str, Any]
) -> None:
    """Were the rule the attacker wanted in place (an admin made it), the editor triggering it
    by editing an action gets the refusal, the description stays empty, and the victim's URL
    is still known only to those who may read secrets."""
    victim = rules["victim"]
    spy = make_rule("ir.actions.server", trigger="on_write", name="Spy")
    spy_code = make_rule(
        "ir.actions.server",
        trigger="on_write",
        name="Spy's code",
        actions=[
            {
                "name": "Steal",
                "action_type": "execute_code",
                "settings": {"code": steal(victim["id"], spy["id"])},
            }
        ],
    )
    api = api_client(client, EDITOR)
    response = api.put(f"{ACTIONS}{rules['value']}", {"name": "Touched"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "base.automation.webhook_secret cannot be read by automation code" in text
    assert victim["secret"] not in text
    shown = api.get(f"{RULES}{spy['id']}").get_json()["result"]
    assert shown["description"] is None
    assert "webhook_secret" not in shown and "url" not in shown
    assert read(app, "ir.actions.server", [("id", "=", rules["value"])], ["name"])[0]["name"] == (
        "Note"
    )
    # Writing the rule instead of reading the secret is refused the same way.
    with app.app_context():
        get_env(trusted=True)["base.automation"].browse(spy_code["id"]).write({"active": False})
        db.session.commit()
    make_rule(
        "ir.actions.server",
        trigger="on_write",
        name="Rewriter",
        actions=[
            {
                "name": "Rewrite",
                "action_type": "execute_code",
                "settings": {
                    "code": f"env['base.automation'].browse({victim['id']}).write("
                    "{'target_record': 'model.browse([1])'})"
                },
            }
        ],
    )
    response = api_client(client, ADMIN).put(f"{ACTIONS}{rules['value']}", {"name": "Again"})
    assert response.status_code == 422
    assert (
        "base.automation records are read-only to automation code" in response.get_json()["message"]
    )


def test_admins_and_automation_managers_write_code(
    app: Flask, client: FlaskClient, rules: dict[str, Any], users: None
) -> None:
    own, code = rules["own"], rules["code"]
    for who in (ADMIN, MANAGER):
        api = api_client(client, who)
        created = api.post(
            RULES,
            {
                "name": f"Rule of {who.username}",
                "model": "res.partner",
                "trigger": "on_create",
                "target_record": "model.browse([1])",
            },
        )
        assert created.status_code == 201, created.get_json()
        rule_id = created.get_json()["id"]
        changed = api.put(
            f"{RULES}{rule_id}",
            {"model": "sale.order", "filter_domain": "[('state', '=', 'sale')]"},
        )
        assert changed.status_code == 200, changed.get_json()
        action = api.post(
            ACTIONS,
            {
                "rule_id": rule_id,
                "name": "Code",
                "action_type": "execute_code",
                "settings": {"code": STAMP},
            },
        )
        assert action.status_code == 201, action.get_json()
        action_id = action.get_json()["id"]
        for change in ({"settings": {"code": "pass"}}, {"sequence": 5}, {"active": False}):
            assert api.put(f"{ACTIONS}{action_id}", change).status_code == 200, change
        assert api.delete(f"{ACTIONS}{action_id}").status_code == 200
        assert api.delete(f"{RULES}{rule_id}").status_code == 200
    response = api_client(client, MANAGER).put(
        f"{ACTIONS}{code}", {"settings": {"code": "record.write({'note': 'manager'})"}}
    )
    assert response.status_code == 200, response.get_json()
    assert read(app, "ir.actions.server", [("id", "=", code)], ["settings"])[0]["settings"] == {
        "code": "record.write({'note': 'manager'})"
    }
    assert client.post(own["path"], json={}).status_code == 200


# ------------------------------------------------------------------------------- screens


def test_the_rule_form_shows_code_read_only_and_refuses_changing_it(
    app: Flask, rules: dict[str, Any]
) -> None:
    own = rules["own"]
    web, _token = logged_in(app, EDITOR)
    url = f"/automationruleview/edit/{own['id']}"
    page = web.get(url).get_data(as_text=True)
    # Outside developer mode the Model is a hidden field (a post may still change it).
    assert '<input id="model" name="model" type="hidden" value="sale.order">' in page
    assert " disabled" in opening_tag(page, "select", "trigger")
    assert " readonly" in opening_tag(page, "textarea", "target_record")
    notes = html.unescape(page).count(CHANGE_REFUSED)
    assert notes == 12  # Trigger, Target Record, the three record filters, seven timing settings
    before = snapshot(app)
    for changes in (
        {"model": "ir.actions.server", "trigger": "on_write"},
        {"target_record": "model.browse([1])"},
        # A record filter is a trigger's: posted with one (a webhook rule's form drops it).
        {"trigger": "on_write", "filter_domain": "[('state', '=', 'sale')]"},
    ):
        response = edit_through_form(web, url, changes)
        assert response.status_code == 200, changes  # the form again, with the refusal
        assert page_text(response).count(CHANGE_REFUSED) >= notes + len(changes), changes
        assert snapshot(app) == before, changes
    # The rest of the rule is the editor's to change; the code stays as it was.
    response = edit_through_form(web, url, {"name": "Renamed", "description": "Mine"})
    assert location(response) == f"/automationruleview/show/{own['id']}"
    (rule,) = read(app, "base.automation", [("id", "=", own["id"])], None)
    assert (rule["name"], rule["description"]) == ("Renamed", "Mine")
    assert (rule["model"], rule["trigger"], rule["target_record"]) == (
        "sale.order",
        "on_webhook",
        "model.browse([7])",
    )
    # A new rule chooses a Model and a Trigger: refused.
    response = edit_through_form(
        web, "/automationruleview/add", {"name": "Mine", "model": "sale.order"}
    )
    assert response.status_code == 200
    assert CREATE_RULE_REFUSED in page_text(response)
    assert read(app, "base.automation", [("name", "=", "Mine")], []) == []


def test_the_action_form_shows_code_read_only_and_refuses_changing_it(
    app: Flask, rules: dict[str, Any]
) -> None:
    own, code, value = rules["own"], rules["code"], rules["value"]
    web, token = logged_in(app, EDITOR)
    url = f"/serveractionview/edit/{code}"
    page = web.get(url).get_data(as_text=True)
    shown = html.unescape(page)
    assert ACTION_REFUSED in shown
    assert " disabled" in opening_tag(page, "textarea", "execute_code-code")
    assert " disabled" in opening_tag(page, "select", "action_type")
    assert "execute_code-code" not in form_values(page)  # a browser posts nothing of it
    before = snapshot(app)
    for changes in (
        {"execute_code-code": steal(rules["victim"]["id"], own["id"])},
        {"action_type": "update_record", "update_record-field": "note"},
        {"sequence": "99"},
    ):
        response = edit_through_form(web, url, changes)
        assert response.status_code == 200, changes
        assert CHANGE_REFUSED in page_text(response) or ACTION_REFUSED in page_text(response)
        assert snapshot(app) == before, changes
    # Renaming it is allowed, and keeps its code exactly.
    response = edit_through_form(web, url, {"name": "Stamp renamed"})
    assert location(response) == f"/webhookview/show/{own['id']}"
    (action,) = read(app, "ir.actions.server", [("id", "=", code)], None)
    assert (action["name"], action["settings"], action["sequence"]) == (
        "Stamp renamed",
        {"code": STAMP},
        1,
    )

    # Another action: the computed value is shown disabled, a fixed value can be changed.
    value_page = web.get(f"/serveractionview/edit/{value}").get_data(as_text=True)
    assert " disabled" in opening_tag(value_page, "textarea", "update_record-expression")
    assert " disabled" not in opening_tag(value_page, "select", "action_type")
    assert WRITE_CODE_REFUSED in html.unescape(value_page)
    response = edit_through_form(
        web,
        f"/serveractionview/edit/{value}",
        {"update_record-value-source": "expression", "update_record-expression": "'x'"},
    )
    assert response.status_code == 200
    assert CHANGE_REFUSED in page_text(response)
    response = edit_through_form(
        web, f"/serveractionview/edit/{value}", {"update_record-value": "new"}
    )
    assert location(response) == f"/webhookview/show/{own['id']}"
    assert read(app, "ir.actions.server", [("id", "=", value)], ["settings"])[0]["settings"] == {
        "field": "note",
        "value": "new",
    }

    # Adding an action that holds code is refused; one with fixed values is not.
    add = f"/serveractionview/add?rule_id={own['id']}"
    response = edit_through_form(
        web, add, {"name": "Steal", "action_type": "execute_code", "execute_code-code": STAMP}
    )
    assert response.status_code == 200
    assert CHANGE_REFUSED in page_text(response)
    assert read(app, "ir.actions.server", [("name", "=", "Steal")], []) == []
    response = edit_through_form(
        web,
        add,
        {
            "name": "Fixed",
            "action_type": "update_record",
            "update_record-field": "note",
            "update_record-value": "v",
        },
    )
    assert location(response) == f"/webhookview/show/{own['id']}"

    # Deleting the action that holds code is refused (the message is flashed); another is not.
    response = web.client.post(
        f"/serveractionview/delete/{code}", data={"csrf_token": token}, follow_redirects=True
    )
    assert DELETE_ACTION_REFUSED in page_text(response)
    assert read(app, "ir.actions.server", [("id", "=", code)], [])
    (fixed,) = read(app, "ir.actions.server", [("name", "=", "Fixed")], [])
    web.client.post(f"/serveractionview/delete/{fixed['id']}", data={"csrf_token": token})
    assert read(app, "ir.actions.server", [("name", "=", "Fixed")], []) == []


# --------------------------------------------------------------- what counts as code


class _Line(Schema):
    field = fields.String(metadata={"widget": "field"})
    value = fields.Raw(metadata={"widget": "value"})
    expression = fields.String(metadata={"widget": "expression"})


class _Deep(Schema):
    script = fields.String(metadata={"widget": "code"})


class _ThirdParty(Schema):
    url = fields.String(metadata={"widget": "url"})
    lines = fields.List(fields.Nested(_Line))
    hook = fields.Nested(_Deep)
    notes = fields.String()


def test_code_is_found_from_the_schema_at_any_depth() -> None:
    """Any action type's settings marked ``code`` or ``expression`` count, wherever they are:
    a third-party type needs nothing more than the widgets the form already reads."""
    assert _code_settings(_ThirdParty) == ("lines", "hook")
    schema = _ThirdParty()
    assert not _code_in(schema, {"url": "https://x.example", "notes": "print(1)"})
    assert not _code_in(schema, {"lines": [{"field": "name", "value": "x"}], "hook": {}})
    assert _code_in(schema, {"lines": [{"field": "name", "value": 1}, {"expression": "1"}]})
    assert _code_in(schema, {"hook": {"script": "pass"}})
