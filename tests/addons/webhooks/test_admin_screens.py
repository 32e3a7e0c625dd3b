"""Issue 13 over HTTP: what the screens and the URL do besides what the browser shows.

Errors name the step that failed and what was expected; DNS failures are retried like
connection errors and a refused address names the setting that allows it; an action saved
without a name is named; a record-trigger rule's test rolls back; the home page, the favicon
and the flashes; the models offered without developer mode.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
from typing import Any

import pytest
from flask import Flask

from addons.webhooks.outgoing import retry, ssrf
from addons.webhooks.outgoing.sender import Message, send
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import add_action, create_rule, link, location, options
from tests.support.web import WebClient, csrf_token_from, one_context_per_request, page_text

_ = one_context_per_request

SET_NOTE = {
    "name": "Note",
    "action_type": "update_record",
    "settings": {"field": "note", "value": "x"},
}


def fail(name: str, message: str) -> dict[str, Any]:
    code = f"raise UserError({message!r})"
    return {"name": name, "action_type": "execute_code", "settings": {"code": code}}


# ------------------------------------------------------------ errors name their step


def test_a_target_record_error_names_the_step_and_what_was_expected(client, make_rule) -> None:
    rule = make_rule("sale.order", actions=[SET_NOTE])
    answer = client.post(rule["path"], json={"_model": "sale.order", "_id": "S00007"})
    assert answer.status_code == 500
    message = answer.get_json()["message"]
    assert message.startswith("Target Record: invalid literal for int() with base 10: 'S00007'.")
    assert 'e.g. {"_model": "sale.order", "_id": 7}' in message
    assert "an order numbered S00007 is sent as 7" in message


def test_an_action_error_names_the_action_by_number_and_name(app, client, make_rule) -> None:
    rule = make_rule(
        "res.partner",
        actions=[SET_NOTE | {"settings": {"field": "phone", "value": "x"}}, fail("Check", "no")],
        target_record="model.browse([2])",
        log_calls=True,
    )
    answer = client.post(rule["path"], json={})
    assert answer.get_json() == {"status": "error", "message": "Action 2 'Check': no"}
    [call] = read(app, "base.automation.call", [("rule_id", "=", rule["id"])], ["error_message"])
    assert call["error_message"] == "Action 2 'Check': no"  # the log says it too


def test_an_unexpected_error_names_its_step(client, make_rule) -> None:
    broken = {"name": "Divide", "action_type": "execute_code", "settings": {"code": "1/0"}}
    rule = make_rule("res.partner", actions=[broken], target_record="model.browse([2])")
    message = client.post(rule["path"], json={}).get_json()["message"]
    assert message.startswith("Action 1 'Divide': "), message


def test_the_dry_run_lists_the_found_record_when_an_action_fails(
    admin_web: WebClient, make_rule
) -> None:
    rule = make_rule(
        "res.partner", actions=[fail("Check", "no")], target_record="model.browse([2])"
    )
    page = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    report = admin_web.client.post(
        f"/webhookview/dry_run/{rule['id']}",
        data={"payload": "{}", "csrf_token": csrf_token_from(page)},
    )
    text = page_text(report)
    assert 'id="webhook-dry-run-targets"' in text and "No record found." not in text
    assert "id=\"webhook-dry-run-step\">Action 1 'Check'<" in text


# ------------------------------------------------------------------ outgoing URLs


def test_a_dns_failure_is_retried_like_a_connection_error() -> None:
    def no_dns(*_args: Any, **_kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    message = Message(1, "msg_1", "https://hooks.example.com/in", "{}", {}, 5.0, ["whsec_x"])
    result = send(message, resolver=no_dns)
    assert result.kind == "connection"
    assert "hooks.example.com cannot be resolved" in (result.error or "")
    policy = retry.Policy(schedule=(5.0, 300.0), jitter=0.0)
    decision = retry.decide(result, 1, policy, dt.datetime(2025, 1, 1))
    assert decision.state == "pending" and decision.next_attempt_at is not None


def test_a_refused_address_names_the_setting_that_allows_it() -> None:
    with pytest.raises(ssrf.Refused) as refused:
        ssrf.resolve_target("http://127.0.0.1:9/hook")
    assert str(refused.value).startswith("refused: 127.0.0.1 is a loopback address")
    assert "WEBHOOK_OUTGOING_ALLOWED_CIDRS" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:9/hook", "WEBHOOK_OUTGOING_ALLOWED_CIDRS"),
        ("https://no-such-host.invalid/hook", "cannot be resolved now"),
    ],
)
def test_saving_a_url_the_sender_will_refuse_warns(
    admin_web: WebClient, make_rule, url: str, words: str
) -> None:
    rule = make_rule("sale.order")
    rule_page = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    saved = add_action(
        admin_web, rule_page, action_type="send_webhook", **{"send_webhook-url": url}
    )
    assert location(saved) == f"/webhookview/show/{rule['id']}"
    shown = page_text(admin_web.get(location(saved)))
    warning = re.search(r"alert-warning.*?</div>", shown, re.S)
    assert warning and words in warning.group(0)


# --------------------------------------------------------------------- action names


@pytest.mark.parametrize(
    ("values", "name"),
    [
        (
            {
                "action_type": "update_record",
                "update_record-field": "currency_id",
                "update_record-value": "2",
            },
            "Update Sales Order: Currency = USD",
        ),
        (
            {
                "action_type": "execute_code",
                "execute_code-code": "# a comment\nlog(payload.get('x'))\n",
            },
            "Execute Code: log(payload.get('x'))",
        ),
        (
            {
                "action_type": "create_record",
                "create_record-model": "res.partner",
                "create_record-values-0-field": "name",
                "create_record-values-0-value": "Ada",
            },
            "Create Contact: Name = Ada",
        ),
    ],
)
def test_an_action_saved_without_a_name_is_named(
    app: Flask, admin_web: WebClient, make_rule, values: dict[str, str], name: str
) -> None:
    rule = make_rule("sale.order")
    with app.app_context():
        from nightpos_app.state import get_env

        usd = get_env(trusted=True)["res.currency"].search([("name", "=", "USD")]).id
    values = {
        k: (str(usd) if v == "2" and k == "update_record-value" else v) for k, v in values.items()
    }
    rule_page = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    saved = add_action(admin_web, rule_page, name="", **values)
    assert saved.status_code == 302, page_text(saved)[:2000]
    [action] = read(app, "ir.actions.server", [("rule_id", "=", rule["id"])], ["name"])
    assert action["name"] == name


# ------------------------------------------------------------ record-trigger test


def test_a_record_rule_is_tried_on_a_record_and_nothing_is_kept(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    rule = make_rule("sale.order", actions=[SET_NOTE], trigger="on_write")
    page = admin_web.get(f"/automationruleview/show/{rule['id']}").get_data(as_text=True)
    assert "/web/hook/" not in page and 'id="webhook-curl"' not in page
    assert ("7", "S00007 (id 7)") in options(page, "record_id")
    before = read(app, "sale.order", [("id", "=", 7)], ["note"])
    tried = admin_web.client.post(
        f"/automationruleview/record_test/{rule['id']}",
        data={"record_id": "7", "csrf_token": csrf_token_from(page)},
    )
    text = page_text(tried)
    assert "The actions ran; nothing was saved." in text
    changes = re.search(r'id="webhook-dry-run-changes".*?</table>', text, re.S)
    assert changes and "<td>x</td>" in changes.group(0) and "S00007" in changes.group(0)
    assert read(app, "sale.order", [("id", "=", 7)], ["note"]) == before
    # A webhook rule has the dry run instead.
    webhook = make_rule("sale.order", actions=[SET_NOTE])
    assert (
        admin_web.client.post(
            f"/webhookview/record_test/{webhook['id']}",
            data={"record_id": "7", "csrf_token": csrf_token_from(page)},
        ).status_code
        == 404
    )


def test_a_record_rules_test_names_the_failing_action(admin_web: WebClient, make_rule) -> None:
    rule = make_rule("sale.order", actions=[fail("Refuse", "not today")], trigger="on_create")
    page = admin_web.get(f"/automationruleview/show/{rule['id']}").get_data(as_text=True)
    tried = admin_web.client.post(
        f"/automationruleview/record_test/{rule['id']}",
        data={"record_id": "7", "csrf_token": csrf_token_from(page)},
    )
    assert "Action 1 &#39;Refuse&#39;: not today" in tried.get_data(as_text=True)


# ------------------------------------------------------- home, favicon, flashes, models


def test_the_home_page_shows_failures_deliveries_and_todays_calls(
    admin_web: WebClient, client, make_rule
) -> None:
    rule = make_rule("sale.order", actions=[fail("Refuse", "not today")], log_calls=True)
    client.post(rule["path"], json={"_model": "sale.order", "_id": 7})
    home = page_text(admin_web.get("/"))
    assert "Rules with errors (last 24 hours)" in home and "Test rule" in home
    assert "Action 1 'Refuse': not today" in home
    assert re.search(r'id="home-calls-today".*?>1</span>', home, re.S)
    assert "Outgoing deliveries" in home


def test_the_favicon_is_served(client) -> None:
    icon = client.get("/favicon.ico")
    assert (icon.status_code, icon.mimetype) == (200, "image/png")
    assert icon.data.startswith(b"\x89PNG")


def test_saving_a_rule_flashes_what_was_saved(admin_web: WebClient, clean_rules) -> None:
    rule_id = create_rule(admin_web, "/webhookview/add?model=sale.order", name="Flash me")
    page = page_text(admin_web.get(f"/webhookview/show/{rule_id}"))
    assert "Automation Rule “Flash me” was created." in page and "Added Row" not in page
    edit = link(
        admin_web.get(f"/webhookview/show/{rule_id}").get_data(as_text=True), "webhook-edit"
    )
    saved = admin_web.submit(
        edit,
        {
            "name": "Flash me",
            "model": "sale.order",
            "trigger": "on_webhook",
            "target_record": "model.browse([1])",
            "auth_scheme": "none",
            "active": "y",
        },
        follow_redirects=True,
    )
    assert "Automation Rule “Flash me” was saved." in page_text(saved)


def test_new_offers_business_models_only_without_developer_mode(admin_web: WebClient) -> None:
    offered = dict(options(admin_web.get("/webhookview/add").get_data(as_text=True), "model"))
    assert {"sale.order", "res.partner", "res.currency"} <= set(offered)
    assert not {"base.automation", "ir.actions.server", "webhook.delivery"} & set(offered)
