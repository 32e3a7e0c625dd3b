"""The webhook screens over HTTP, logged in, with CSRF: the specification's use cases as a
person would click through them (Sales → Webhooks → New, Add an action, read the URL, call it).
"""

from __future__ import annotations

import re

from flask import Flask

from addons.webhooks.models import DEFAULT_TARGET_RECORD
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import (
    add_action,
    create_rule,
    input_value,
    link,
    location,
    options,
)
from tests.support.spec import USE_CASE_2_CODE
from tests.support.web import (
    WebClient,
    form_values,
    navbar_menu,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

SALES_WEBHOOKS = "/webhookview/list/?model=sale.order"
CONTACTS_WEBHOOKS = "/webhookview/list/?model=res.partner"


def usd(app: Flask) -> int:
    return read(app, "res.currency", [("name", "=", "USD")], ["name"])[0]["id"]


def currency_of_order(app: Flask, order_id: int) -> str:
    return read(app, "sale.order", [("id", "=", order_id)], ["currency_id"])[0]["currency_id"][1]


def hook_path(url: str) -> str:
    path = re.sub(r"^https?://[^/]+", "", url)
    assert re.fullmatch(r"/web/hook/[A-Za-z0-9_-]{43}", path), url
    return path


# --------------------------------------------------------------------------- menus


def test_studio_and_app_menus(admin_web: WebClient) -> None:
    page = page_text(admin_web.get("/"))
    assert navbar_menu(page, "Studio") == [
        ("/webhookview/list/", "Webhooks"),
        ("/automationruleview/list/", "Automations"),  # the specification's word
        ("/webhookdeliveryview/list/", "Deliveries"),
    ]
    assert ("/webhookview/list/?model=sale.order", "Webhooks") in navbar_menu(page, "Sales")
    assert ("/webhookview/list/?model=res.partner", "Webhooks") in navbar_menu(page, "Contacts")


def test_the_app_list_holds_that_apps_rules_and_new_keeps_its_model(
    app: Flask, admin_web: WebClient, make_rule
) -> None:
    make_rule("sale.order", name="Orders hook")
    make_rule("res.partner", name="Contacts hook")
    sales = page_text(admin_web.get(SALES_WEBHOOKS))
    assert "Webhooks — Sales Order" in sales
    assert "Orders hook" in sales and "Contacts hook" not in sales
    assert link(sales, "webhook-new") == "/webhookview/add?model=sale.order"
    contacts = page_text(admin_web.get(CONTACTS_WEBHOOKS))
    assert "Contacts hook" in contacts and "Orders hook" not in contacts
    assert link(contacts, "webhook-new") == "/webhookview/add?model=res.partner"
    studio = page_text(admin_web.get("/webhookview/list/"))
    assert "Orders hook" in studio and "Contacts hook" in studio
    assert link(studio, "webhook-new") == "/webhookview/add"


def test_new_from_an_app_targets_its_model_with_trigger_on_webhook(
    admin_web: WebClient, clean_rules
) -> None:
    page = admin_web.get("/webhookview/add?model=sale.order").get_data(as_text=True)
    values = form_values(page)
    # Without developer mode the Model is not a choice: the app decides it.
    assert re.search(r'<input[^>]*name="model"[^>]*type="hidden"[^>]*value="sale.order"', page)
    assert not re.search(r'<select[^>]*name="model"', page)
    assert '<label for="model"' not in page
    assert values["model"] == "sale.order"
    assert options(page, "trigger") == [("on_webhook", "On webhook")]
    assert values["trigger"] == "on_webhook"
    assert values["target_record"] == DEFAULT_TARGET_RECORD


def test_new_from_studio_offers_the_models_by_label(admin_web: WebClient, clean_rules) -> None:
    page = admin_web.get("/webhookview/add").get_data(as_text=True)
    choices = dict(options(page, "model"))
    assert choices["sale.order"] == "Sales Order"
    assert choices["res.partner"] == "Contact"
    assert "(sale.order)" not in page_text(admin_web.get("/webhookview/add"))


def test_automation_rules_list_every_rule_and_offer_the_webhook_trigger(
    admin_web: WebClient, make_rule
) -> None:
    make_rule("sale.order", name="Orders hook")
    page = page_text(admin_web.get("/automationruleview/list/"))
    assert "Orders hook" in page and "On webhook" in page
    new = admin_web.get(link(page, "webhook-new")).get_data(as_text=True)
    assert ("on_webhook", "On webhook") in options(new, "trigger")


# ------------------------------------------------------------------- use case 1


def test_use_case_1_through_the_screens(app: Flask, admin_web: WebClient, clean_rules) -> None:
    # Sales → Webhooks → New.
    listing = page_text(admin_web.get(navbar_menu(page_text(admin_web.get("/")), "Sales")[-1][0]))
    rule_id = create_rule(
        admin_web,
        link(listing, "webhook-new"),
        name="Orders to USD",
        target_record="model.env[payload.get('_model')].browse(int(payload.get('_id')))",
        log_calls="y",
    )
    (rule,) = read(
        app, "base.automation", [("id", "=", rule_id)], ["model", "trigger", "log_calls"]
    )
    assert (rule["model"], rule["trigger"], rule["log_calls"]) == ("sale.order", "on_webhook", True)

    # Add an action: Update Record, Currency → USD (chosen from the currencies).
    rule_page = admin_web.get(f"/webhookview/show/{rule_id}").get_data(as_text=True)
    form_page = admin_web.get(link(rule_page, "webhook-add-action")).get_data(as_text=True)
    assert ("update_record", "Update Record") in options(form_page, "action_type")
    assert ("execute_code", "Execute Code") in options(form_page, "action_type")
    assert ("currency_id", "Currency") in options(form_page, "update_record-field")
    choices = admin_web.get(
        f"/serveractionview/value_choices?rule_id={rule_id}&field=currency_id"
    ).get_json()
    assert choices["kind"] == "select"
    assert [str(usd(app)), "USD"] in choices["choices"]
    saved = add_action(
        admin_web,
        rule_page,
        name="Set USD",
        action_type="update_record",
        **{
            "update_record-field": "currency_id",
            "update_record-value-source": "value",
            "update_record-value": str(usd(app)),
        },
    )
    assert location(saved) == f"/webhookview/show/{rule_id}"
    (action,) = read(
        app, "ir.actions.server", [("rule_id", "=", rule_id)], ["action_type", "settings"]
    )
    assert action["action_type"] == "update_record"
    assert action["settings"] == {"field": "currency_id", "value": usd(app)}

    # The rule page lists the action in words, and gives the URL.
    rule_page = page_text(admin_web.get(f"/webhookview/show/{rule_id}"))
    actions = re.search(r'id="webhook-actions".*?</table>', rule_page, re.S).group(0)
    assert "Set USD" in actions and "Update Record" in actions
    assert re.search(r"Field:</strong>\s*Currency", actions)
    assert re.search(r"Value:</strong>\s*USD", actions)
    assert re.search(r'id="webhook-logs-count">0<', rule_page)
    path = hook_path(input_value(rule_page, "webhook-url"))

    # The external system calls it: order S00007 is sent as "7".
    assert currency_of_order(app, 7) != "USD"
    response = admin_web.client.post(path, json={"_model": "sale.order", "_id": "7"})
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert currency_of_order(app, 7) == "USD"

    # Log Calls is on: the Logs button counts the call and opens the rule's calls.
    rule_page = page_text(admin_web.get(f"/webhookview/show/{rule_id}"))
    assert re.search(r'id="webhook-logs-count">1<', rule_page)
    logs = page_text(admin_web.get(link(rule_page, "webhook-logs")))
    assert "Logs: Orders to USD" in logs
    assert "Record Count:</strong> 1" in logs
    assert "OK" in logs and "200" in logs


def test_the_app_url_follows_nightpos_base_url(app: Flask, admin_web: WebClient, make_rule) -> None:
    rule = make_rule("sale.order")
    page = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    assert input_value(page, "webhook-url") == f"http://localhost{rule['path']}"
    app.config["NIGHTPOS_BASE_URL"] = "https://erp.example.com/"
    try:
        page = admin_web.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    finally:
        del app.config["NIGHTPOS_BASE_URL"]
    assert input_value(page, "webhook-url") == f"https://erp.example.com{rule['path']}"
    curl = input_value(page, "webhook-curl")
    assert curl == (
        f"curl -X POST https://erp.example.com{rule['path']} -H 'Content-Type: application/json' "
        """-d '{"_model": "sale.order", "_id": 1}'"""
    )


# ------------------------------------------------------------------- use case 2


def test_use_case_2_through_the_screens(app: Flask, admin_web: WebClient, clean_rules) -> None:
    listing = page_text(admin_web.get(CONTACTS_WEBHOOKS))
    rule_id = create_rule(
        admin_web,
        link(listing, "webhook-new"),
        name="New contact",
        target_record="model.browse([2])",
    )
    rule_page = admin_web.get(f"/webhookview/show/{rule_id}").get_data(as_text=True)
    saved = add_action(
        admin_web,
        rule_page,
        name="Create contact",
        action_type="execute_code",
        **{"execute_code-code": USE_CASE_2_CODE},
    )
    assert location(saved) == f"/webhookview/show/{rule_id}"
    (action,) = read(app, "ir.actions.server", [("rule_id", "=", rule_id)], ["settings"])
    assert action["settings"] == {"code": USE_CASE_2_CODE}

    rule_page = page_text(admin_web.get(f"/webhookview/show/{rule_id}"))
    assert "Execute Code" in rule_page
    path = hook_path(input_value(rule_page, "webhook-url"))
    payload = {
        "name": "CONTACT NAME",
        "email": "CONTACTEMAIL@EMAIL.COM",
        "phone": "CONTACT PHONE NUMBER",
    }
    response = admin_web.client.post(path, json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"status": "ok"}
    created = read(
        app,
        "res.partner",
        [("email", "=", "CONTACTEMAIL@EMAIL.COM")],
        ["name", "phone", "company_type", "customer_rank"],
    )
    assert [(c["name"], c["phone"], c["company_type"], c["customer_rank"]) for c in created] == [
        ("CONTACT NAME", "CONTACT PHONE NUMBER", "person", 1)
    ]
    response = admin_web.client.post(path, json={"name": "No Email"})
    assert response.status_code == 500
    assert response.get_json() == {
        "status": "error",
        "message": "Action 1 'Create contact': Missing required fields: 'name' and 'email'",
    }
