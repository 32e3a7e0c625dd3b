"""Developer mode on the webhook screens, and the rule form's validation.

Developer mode shows the Model choice and technical names ("Sales Order (sale.order)",
"Currency (currency_id)"); without it the model comes from the app and labels are human.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask

from addons.webhooks.models import DEFAULT_TARGET_RECORD
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import create_rule, location, options
from tests.support.web import (
    WebClient,
    csrf_token_from,
    edit_through_form,
    form_values,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request


def toggle_developer_mode(web: WebClient, back_to: str = "/") -> None:
    """Click the user menu's switch (a POST form with the page's CSRF token)."""
    page = web.get(back_to).get_data(as_text=True)
    form = re.search(r'<form id="developer-mode-form"[^>]*action="([^"]+)".*?</form>', page, re.S)
    assert form, "no developer mode switch in the user menu"
    data = form_values(page, "developer-mode-form")
    response = web.client.post(form.group(1), data=data)
    assert location(response).startswith(back_to)


@pytest.fixture
def developer(admin_web: WebClient) -> Iterator[WebClient]:
    """The admin with developer mode on (and off again afterwards: it is kept per user)."""
    toggle_developer_mode(admin_web)
    assert "Deactivate Developer Mode" in page_text(admin_web.get("/"))
    yield admin_web
    toggle_developer_mode(admin_web)
    assert "Activate Developer Mode" in page_text(admin_web.get("/"))


def test_developer_mode_shows_the_model_choice_with_technical_names(
    developer: WebClient, make_rule
) -> None:
    page = developer.get("/webhookview/add?model=sale.order").get_data(as_text=True)
    choices = dict(options(page, "model"))
    assert choices["sale.order"] == "Sales Order (sale.order)"
    assert choices["res.partner"] == "Contact (res.partner)"
    assert form_values(page)["model"] == "sale.order", "the app's model is chosen"

    make_rule("sale.order", name="Orders hook")
    listing = page_text(developer.get("/webhookview/list/?model=sale.order"))
    assert "Webhooks — Sales Order (sale.order)" in listing
    assert re.search(r"<td>\s*Sales Order \(sale\.order\)\s*</td>", listing)


def test_developer_mode_names_fields_technically(
    app: Flask, developer: WebClient, make_rule
) -> None:
    rule = make_rule(
        "sale.order",
        actions=[
            {
                "name": "Set note",
                "action_type": "update_record",
                "settings": {"field": "note", "value": "dev"},
            }
        ],
    )
    form = developer.get(f"/serveractionview/add?rule_id={rule['id']}").get_data(as_text=True)
    assert ("currency_id", "Currency (currency_id)") in options(form, "update_record-field")
    assert "Terms and Conditions (note)" in page_text(
        developer.get(f"/webhookview/show/{rule['id']}")
    )
    page = developer.get(f"/webhookview/show/{rule['id']}").get_data(as_text=True)
    dry = developer.client.post(
        f"/webhookview/dry_run/{rule['id']}",
        data={
            "payload": '{"_model": "sale.order", "_id": 7}',
            "csrf_token": csrf_token_from(page),
        },
    )
    assert "Terms and Conditions (note)" in page_text(dry)
    assert "Sales Order (sale.order): S00007" in page_text(dry)


def test_without_developer_mode_labels_are_human(admin_web: WebClient, make_rule) -> None:
    rule = make_rule(
        "sale.order",
        actions=[
            {
                "name": "Set note",
                "action_type": "update_record",
                "settings": {"field": "note", "value": "x"},
            }
        ],
    )
    form = admin_web.get(f"/serveractionview/add?rule_id={rule['id']}").get_data(as_text=True)
    assert ("currency_id", "Currency") in options(form, "update_record-field")
    page = page_text(admin_web.get(f"/webhookview/show/{rule['id']}"))
    assert "(sale.order)" not in page and "(note)" not in page
    assert "Terms and Conditions" in page


def test_developer_mode_lets_a_rule_target_any_model(
    app: Flask, developer: WebClient, clean_rules
) -> None:
    rule_id = create_rule(
        developer,
        "/webhookview/add?model=sale.order",
        name="Currencies",
        model="res.currency",
        target_record="model.browse([1])",
    )
    (rule,) = read(app, "base.automation", [("id", "=", rule_id)], ["model"])
    assert rule["model"] == "res.currency"


# ------------------------------------------------------------- rule form checks


def rule_form_error(page: str, field: str) -> str:
    row = re.search(rf'<label for="{field}".*?</tr>', page, re.S)
    assert row, f"no row for {field}"
    found = re.search(r'<div class="alert alert-danger">(.*?)</div>', row.group(0), re.S)
    assert found, f"no error on {field}"
    return found.group(1).strip()


def test_the_target_record_must_compile(app: Flask, admin_web: WebClient, clean_rules) -> None:
    url = "/webhookview/add?model=sale.order"
    data = {
        **form_values(admin_web.get(url).get_data(as_text=True)),
        "name": "Broken",
        "target_record": "model.browse(",
    }
    response = admin_web.client.post(url, data=data)
    assert response.status_code == 200
    assert "Line 1" in rule_form_error(response.get_data(as_text=True), "target_record")
    data["target_record"] = "__import__('os')"
    response = admin_web.client.post(url, data=data)
    assert rule_form_error(response.get_data(as_text=True), "target_record")
    assert read(app, "base.automation", [], ["name"]) == []


@pytest.mark.parametrize("model", ["no.such.model", "<b>sale.order</b>", ""])
def test_the_model_must_be_a_registered_technical_name(
    app: Flask, admin_web: WebClient, clean_rules, model: str
) -> None:
    # The hidden field of a form opened from an app can be tampered with.
    url = "/webhookview/add?model=sale.order"
    data = {**form_values(admin_web.get(url).get_data(as_text=True)), "name": "X", "model": model}
    response = admin_web.client.post(url, data=data)
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    assert "<b>sale.order</b>" not in raw, "what was typed is escaped"
    if model:
        assert "Unknown model" in page_text(response)
    else:
        assert "Choose a model." in page_text(response)
    assert read(app, "base.automation", [], ["name"]) == []


def test_edit_keeps_the_model_and_changes_the_rest(app: Flask, admin_web: WebClient, make_rule):
    rule = make_rule("sale.order", name="Before")
    page = admin_web.get(f"/webhookview/edit/{rule['id']}").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="model"[^>]*type="hidden"[^>]*value="sale.order"', page)
    response = edit_through_form(
        admin_web,
        f"/webhookview/edit/{rule['id']}",
        {"name": "After", "log_calls": "y", "active": None},
    )
    assert location(response) == f"/webhookview/show/{rule['id']}"
    (after,) = read(
        app,
        "base.automation",
        [("id", "=", rule["id"])],
        ["name", "model", "log_calls", "active", "target_record", "webhook_secret"],
    )
    assert (after["name"], after["model"], after["log_calls"], after["active"]) == (
        "After",
        "sale.order",
        True,
        False,
    )
    assert after["target_record"] == DEFAULT_TARGET_RECORD
    assert after["webhook_secret"] == rule["path"].rsplit("/", 1)[1], "editing keeps the URL"


def test_a_new_model_must_suit_the_rules_actions(
    app: Flask, developer: WebClient, make_rule
) -> None:
    rule = make_rule(
        "sale.order",
        actions=[
            {
                "name": "Set USD",
                "action_type": "update_record",
                "settings": {"field": "currency_id", "value": 1},
            }
        ],
    )
    response = edit_through_form(
        developer, f"/webhookview/edit/{rule['id']}", {"model": "res.partner"}
    )
    assert response.status_code == 200
    error = rule_form_error(response.get_data(as_text=True), "model")
    assert "The action &#39;Set USD&#39; does not suit this model" in error
    assert "res.partner has no writable field" in error
    assert (
        read(app, "base.automation", [("id", "=", rule["id"])], ["model"])[0]["model"]
        == "sale.order"
    )


def test_text_with_nul_characters_is_refused_on_the_form(
    app: Flask, admin_web: WebClient, clean_rules
) -> None:
    # PostgreSQL cannot store them: the form says so instead of failing the save.
    url = "/webhookview/add?model=sale.order"
    data = {**form_values(admin_web.get(url).get_data(as_text=True)), "name": "a\x00b"}
    response = admin_web.client.post(url, data=data)
    assert response.status_code == 200
    assert rule_form_error(response.get_data(as_text=True), "name") == (
        "Text cannot contain NUL characters."
    )
    assert read(app, "base.automation", [], ["name"]) == []
