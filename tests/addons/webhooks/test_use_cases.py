"""The specification's two use cases, end to end over HTTP (rules made through the record API)."""

from __future__ import annotations

from addons.webhooks.models import DEFAULT_TARGET_RECORD
from tests.addons.webhooks.conftest import read
from tests.support.spec import USE_CASE_2_CODE


def usd_id(app):
    return read(app, "res.currency", [("name", "=", "USD")], ["name"])[0]["id"]


def test_use_case_1_sets_the_order_currency_to_usd(app, client, make_rule):
    rule = make_rule(
        "sale.order",
        target_record=DEFAULT_TARGET_RECORD,
        actions=[
            {
                "name": "Set USD",
                "action_type": "update_record",
                "settings": {"field": "currency_id", "value": usd_id(app)},
            }
        ],
    )
    response = client.post(rule["path"], json={"_model": "sale.order", "_id": "7"})
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    order = read(app, "sale.order", [("id", "=", 7)], ["currency_id"])[0]
    assert order["currency_id"][1] == "USD"


def test_use_case_2_creates_a_contact(app, client, make_rule):
    rule = make_rule(
        "res.partner",
        target_record="model.browse([2])",
        actions=[
            {
                "name": "Create contact",
                "action_type": "execute_code",
                "settings": {"code": USE_CASE_2_CODE},
            }
        ],
    )
    payload = {
        "name": "CONTACT NAME",
        "email": "CONTACTEMAIL@EMAIL.COM",
        "phone": "CONTACT PHONE NUMBER",
    }
    response = client.post(rule["path"], json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"status": "ok"}
    created = read(
        app,
        "res.partner",
        [("email", "=", "CONTACTEMAIL@EMAIL.COM")],
        ["name", "phone", "company_type", "customer_rank"],
    )
    assert len(created) == 1
    assert created[0]["name"] == "CONTACT NAME"
    assert created[0]["phone"] == "CONTACT PHONE NUMBER"
    assert created[0]["company_type"] == "person"
    assert created[0]["customer_rank"] == 1

    response = client.post(rule["path"], json={"name": "No Email"})
    assert response.status_code == 500
    assert response.get_json() == {
        "status": "error",
        # The specification's own message, after the step that raised it.
        "message": "Action 1 'Create contact': Missing required fields: 'name' and 'email'",
    }
    assert read(app, "res.partner", [("name", "=", "No Email")], ["name"]) == []


def test_the_default_target_record_is_the_specifications() -> None:
    from tests.support.spec import TARGET_RECORD

    assert DEFAULT_TARGET_RECORD == TARGET_RECORD
