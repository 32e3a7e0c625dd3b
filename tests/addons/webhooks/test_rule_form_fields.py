"""The rule form's field pickers over HTTP: Date Field, Trigger Fields and Values set's Field
and Value offer the chosen model's real fields (views/rule_fields.py), a valid choice saves, a
hand-made POST with a field of another model or of the wrong type is refused (in the user's
language), and rules saved when these were text inputs still load with their fields selected."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import BUMP_REVISION, read
from tests.addons.webhooks.test_devmode_and_rule_form import rule_form_error
from tests.addons.webhooks.test_thai_ui import choose
from tests.addons.webhooks.timing_support import ADD, post_rule
from tests.support.web import WebClient, edit_through_form, page_text

#: The Studio's form, where the Model is a drop-down.
STUDIO_ADD = "/automationruleview/add"


def options(page: str, name: str) -> dict[str, bool]:
    """The options of the drop-down ``name``: value -> selected."""
    found = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no drop-down {name}"
    return {
        html.unescape(value): "selected" in attrs
        for attrs, value in (
            (m.group(0), m.group(1))
            for m in re.finditer(r'<option[^>]*value="([^"]*)"[^>]*>', found.group(1))
        )
    }


def chosen(page: str, name: str) -> set[str]:
    return {value for value, selected in options(page, name).items() if selected}


def test_the_pickers_offer_the_models_fields_of_the_right_kind(
    admin_web: WebClient, clean_rules: None
) -> None:
    page = admin_web.get(ADD).get_data(as_text=True)
    assert set(options(page, "trg_date_field")) == {"", "date_order"}  # not note, not state
    fields = set(options(page, "trigger_fields"))
    assert {"state", "currency_id", "date_order", "note"} <= fields and "id" not in fields
    assert re.search(r'<select[^>]*multiple[^>]*name="trigger_fields"', page)
    assert set(options(page, "trg_selection_field")) == {"", "state"}
    # The page carries each offered model's choices for webhooks.js (here the app's model).
    carried = re.search(r'data-model-fields="([^"]*)"', page)
    assert carried
    by_model = json.loads(html.unescape(carried.group(1)))
    assert list(by_model) == ["sale.order"]
    assert [key for key, _ in by_model["sale.order"]["values"]["state"]] == [
        "draft",
        "sent",
        "sale",
        "cancel",
    ]


def test_the_studio_form_carries_the_choices_of_every_model_it_offers(
    admin_web: WebClient, clean_rules: None
) -> None:
    page = admin_web.get(STUDIO_ADD).get_data(as_text=True)
    carried = re.search(r'data-model-fields="([^"]*)"', page)
    assert carried
    by_model = json.loads(html.unescape(carried.group(1)))
    assert {"sale.order", "res.partner", "res.currency"} <= set(by_model)
    assert "base.automation" not in by_model  # not offered without developer mode
    assert by_model["res.partner"]["date"] == []
    assert [name for name, _ in by_model["sale.order"]["date"]] == ["date_order"]


def test_valid_choices_save(app: Flask, admin_web: WebClient, clean_rules: None) -> None:
    response = post_rule(
        admin_web,
        name="Remind",
        trigger="on_time",
        trg_date_field="date_order",
        trg_date_range="-1",
        trg_date_range_type="days",
    )
    assert response.status_code == 302, page_text(response)
    response = post_rule(
        admin_web,
        name="Currency changes",
        trigger="on_write",
        trigger_fields=["currency_id", "state"],
    )
    assert response.status_code == 302, page_text(response)
    rules = read(app, "base.automation", [], ["name", "trg_date_field", "trigger_fields"])
    assert [(r["trg_date_field"], r["trigger_fields"]) for r in rules] == [
        ("date_order", None),
        (None, "currency_id, state"),
    ]
    # Shown selected when the rule is opened again.
    edit = admin_web.get(f"/automationruleview/edit/{rules[1]['id']}").get_data(as_text=True)
    assert chosen(edit, "trigger_fields") == {"currency_id", "state"}


def test_a_crafted_post_with_a_field_of_another_model_or_not_a_date_is_refused(
    app: Flask, admin_web: WebClient, clean_rules: None
) -> None:
    timing = {"name": "Crafted", "trigger": "on_time", "trg_date_range": "0"}
    for posted, message in (
        ("email", "Sales Order has no field email."),  # a Contact's field
        ("note", "is not a date or datetime field"),
        ("", "Choose a date or datetime field of Sales Order."),
    ):
        response = post_rule(admin_web, trg_date_field=posted, **timing)
        assert response.status_code == 200
        assert message in rule_form_error(response.get_data(as_text=True), "trg_date_field")
    response = post_rule(
        admin_web, name="Crafted", trigger="on_write", trigger_fields=["state", "email"]
    )
    assert "Sales Order has no field email." in rule_form_error(
        response.get_data(as_text=True), "trigger_fields"
    )
    response = post_rule(
        admin_web, name="Crafted", trigger="on_value_set", trg_selection_field="date_order"
    )
    assert "is not a selection field" in rule_form_error(
        response.get_data(as_text=True), "trg_selection_field"
    )
    assert read(app, "base.automation", [], ["id"]) == []


def test_the_refusal_is_in_thai_in_a_thai_session(admin_web: WebClient, clean_rules: None) -> None:
    choose(admin_web, "th")
    response = post_rule(
        admin_web, name="x", trigger="on_time", trg_date_field="email", trg_date_range="0"
    )
    error = rule_form_error(response.get_data(as_text=True), "trg_date_field")
    assert "ไม่มีฟิลด์ email" in error and "has no field" not in error


def test_rules_saved_as_text_still_load_selected_and_save(
    app: Flask,
    admin_web: WebClient,
    make_rule: Callable[..., dict[str, Any]],
) -> None:
    # Trigger Fields typed before they were a drop-down: spaces, commas, any order.
    old = make_rule(trigger="on_write", trigger_fields="state  currency_id,note")
    url = f"/automationruleview/edit/{old['id']}"
    page = admin_web.get(url).get_data(as_text=True)
    assert chosen(page, "trigger_fields") == {"state", "currency_id", "note"}
    assert edit_through_form(admin_web, url, {"name": "Kept"}).status_code == 302
    [saved] = read(app, "base.automation", [("id", "=", old["id"])], ["trigger_fields"])
    assert set(saved["trigger_fields"].split(", ")) == {"state", "currency_id", "note"}

    # A date rule whose field the model no longer has shows it selected, and says why it
    # cannot be saved as it is.
    dated = make_rule(
        trigger="on_time", trg_date_field="date_order", trg_date_range=0, trg_date_range_type="days"
    )
    with app.app_context():
        db.session.execute(
            sa.text("UPDATE base_automation SET trg_date_field = 'gone' WHERE id = :id"),
            {"id": dated["id"]},
        )
        db.session.execute(sa.text(BUMP_REVISION))
        db.session.commit()
    url = f"/automationruleview/edit/{dated['id']}"
    page = admin_web.get(url).get_data(as_text=True)
    assert chosen(page, "trg_date_field") == {"gone"}
    response = edit_through_form(admin_web, url, {})
    assert response.status_code == 200
    assert "Sales Order has no field gone." in rule_form_error(
        response.get_data(as_text=True), "trg_date_field"
    )
    assert edit_through_form(admin_web, url, {"trg_date_field": "date_order"}).status_code == 302


def test_values_set_offers_the_values_of_the_chosen_field(
    admin_web: WebClient, make_rule: Callable[..., dict[str, Any]]
) -> None:
    rule = make_rule(
        trigger="on_value_set", trg_selection_field="state", trg_selection_value="sale"
    )
    page = admin_web.get(f"/automationruleview/edit/{rule['id']}").get_data(as_text=True)
    assert chosen(page, "trg_selection_field") == {"state"}
    assert options(page, "trg_selection_value") == {
        "": False,
        "draft": False,
        "sent": False,
        "sale": True,
        "cancel": False,
    }
